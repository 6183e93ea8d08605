// The part of a FAKE object store that differs per cloud: how a presigned URL is checked,
// and what an error looks like on the wire. test/fakes/fake-object-store.ts serves the
// objects (path-style, ENDPOINT/BUCKET/KEY) and asks the dialect about every request.
export interface PresignedRequestView {
  method: string
  /** The Host header as received. */
  host: string
  /** The raw request path, still percent-encoded, without the query. */
  rawPath: string
  /** The query pairs, percent-decoded, in the order received. */
  query: Array<[string, string]>
  /** Lower-case header names. */
  headers: Record<string, string | undefined>
}

export interface DialectError {
  status: number
  /** The store's own error code, e.g. SignatureDoesNotMatch, AccessDenied, RequestTimeTooSkewed. */
  code: string
  message: string
}

export interface ObjectStoreDialect {
  readonly name: 's3' | 'oss' | 'cos' | 'obs' | 'gs'
  /** null when the presigned request is good (right signature, not expired); else the error to answer. */
  verify(request: PresignedRequestView, now: Date): DialectError | null
  /** The store's error document, e.g. S3's `<Error><Code>…</Code><Message>…</Message><RequestId>…</RequestId></Error>`. */
  errorBody(error: {code: string; message: string}, requestId: string): {contentType: string; body: string}
}

/** A refusal with 403, the status every store here answers a bad or expired signature with. */
export function denied(code: string, message: string): DialectError {
  return {status: 403, code, message}
}

/** S3's answer to a signature that does not match, which OSS and OBS copy word for word. */
export const S3_SIGNATURE_MISMATCH: DialectError = denied(
  'SignatureDoesNotMatch',
  'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
)
