// AWS Signature Version 4 (header form), as specified in the AWS General Reference and
// checked against AWS's published aws-sig-v4-test-suite (test/unit/signing/sigv4.test.ts).
// Pure functions over a plain request description so the same code signs our requests
// and verifies them in the EC2 test fake. node:crypto only.
import {
  canonicalQueryString,
  hmacSha256,
  hmacSha256Hex,
  isoBasic,
  percentDecode,
  rfc3986Encode,
  sha256Hex,
  trimHeaderValue,
  type Bytes,
  type Signed,
} from '../common/signing-util.js'
import {BugError} from '../../errors.js'

export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256'

export interface AwsCredentials {
  accessKeyId: string
  secretAccessKey: string
  sessionToken?: string
  /** When temporary credentials stop working (ISO-8601), if known. */
  expiration?: string
}

export interface SigV4Request {
  method: string
  /** The path as it appears in the request target, e.g. `/` or `/a%20b/`. */
  path: string
  /** Decoded query pairs, in any order; repeated keys allowed. */
  query?: ReadonlyArray<readonly [string, string]>
  /** Header pairs in any case; a name may repeat (values join with `,`). Must include host. */
  headers: ReadonlyArray<readonly [string, string]>
  body?: Bytes
}

export interface SigV4Options {
  region: string
  service: string
  /** Signing time; ignored when the request already carries an X-Amz-Date header. */
  date?: Date
  /**
   * Where the session token goes: `signed` adds X-Amz-Security-Token before signing (EC2 and
   * most services), `unsigned` appends it after (the suite's post-sts-header-after case).
   */
  sessionToken?: 'signed' | 'unsigned'
  /**
   * Non-S3 services normalize the path (drop `.`, resolve `..`, merge `//`) and encode each
   * segment again; S3 signs the path as sent. Default true.
   */
  normalizePath?: boolean
  /** Precomputed payload hash, or `UNSIGNED-PAYLOAD`; default sha256 of the body. */
  payloadHash?: string
}

/** `headers` are the request's plus X-Amz-Date, the token if any, and Authorization. */
export interface SignedRequest extends Signed {
  credentialScope: string
  amzDate: string
}

/** The canonical URI: per-segment RFC 3986 encoding, after normalization unless disabled. */
export function canonicalUri(path: string, normalize = true): string {
  const raw = path === '' ? '/' : path
  if (!normalize)
    return raw
      .split('/')
      .map((seg) => rfc3986Encode(percentDecode(seg)))
      .join('/')
  const out: string[] = []
  const segments = raw.split('/')
  for (const seg of segments) {
    if (seg === '' || seg === '.') continue
    if (seg === '..') out.pop()
    else out.push(rfc3986Encode(seg))
  }
  const last = segments[segments.length - 1]
  // RFC 3986 dot-segment removal keeps the trailing slash a directory path had.
  const trailing = out.length > 0 && (last === '' || last === '.' || last === '..')
  return `/${out.join('/')}${trailing ? '/' : ''}`
}

/** Lower-cased names, trimmed values, repeated names joined with `,` in request order, sorted by name. */
export function canonicalHeaders(headers: ReadonlyArray<readonly [string, string]>): {canonical: string; signedHeaders: string} {
  const byName = new Map<string, string[]>()
  for (const [name, value] of headers) {
    const key = name.trim().toLowerCase()
    const list = byName.get(key) ?? []
    list.push(trimHeaderValue(value))
    byName.set(key, list)
  }
  const names = [...byName.keys()].sort()
  return {
    canonical: names.map((n) => `${n}:${byName.get(n)!.join(',')}\n`).join(''),
    signedHeaders: names.join(';'),
  }
}

export function canonicalRequest(
  request: SigV4Request,
  options: Pick<SigV4Options, 'normalizePath' | 'payloadHash'> = {},
): {
  text: string
  signedHeaders: string
} {
  const {canonical, signedHeaders} = canonicalHeaders(request.headers)
  const payloadHash = options.payloadHash ?? sha256Hex(request.body ?? '')
  const text = [
    request.method.toUpperCase(),
    canonicalUri(request.path, options.normalizePath ?? true),
    canonicalQueryString(request.query ?? []),
    canonical,
    signedHeaders,
    payloadHash,
  ].join('\n')
  return {text, signedHeaders}
}

export function credentialScope(amzDate: string, region: string, service: string): string {
  return `${amzDate.slice(0, 8)}/${region}/${service}/aws4_request`
}

export function stringToSign(amzDate: string, scope: string, canonicalRequestText: string): string {
  return [SIGV4_ALGORITHM, amzDate, scope, sha256Hex(canonicalRequestText)].join('\n')
}

/** kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request"). */
export function deriveSigningKey(secretAccessKey: string, dateStamp: string, region: string, service: string): Buffer {
  const kDate = hmacSha256(`AWS4${secretAccessKey}`, dateStamp)
  const kRegion = hmacSha256(kDate, region)
  const kService = hmacSha256(kRegion, service)
  return hmacSha256(kService, 'aws4_request')
}

function headerValue(headers: ReadonlyArray<readonly [string, string]>, name: string): string | undefined {
  const lower = name.toLowerCase()
  return headers.find(([n]) => n.toLowerCase() === lower)?.[1]
}

const AMZ_DATE = /^\d{8}T\d{6}Z$/

/** Signs a request with SigV4; returns the headers to send and every intermediate for tests. */
export function signRequest(request: SigV4Request, credentials: AwsCredentials, options: SigV4Options): SignedRequest {
  if (!headerValue(request.headers, 'host')) throw new BugError('SigV4: the request must carry a Host header')
  let headers: Array<[string, string]> = request.headers.map(([n, v]) => [n, v])
  let amzDate = headerValue(headers, 'x-amz-date')?.trim()
  if (amzDate === undefined) {
    amzDate = isoBasic(options.date ?? new Date())
    headers.push(['X-Amz-Date', amzDate])
  }
  if (!AMZ_DATE.test(amzDate)) throw new BugError(`SigV4: X-Amz-Date must look like 20150830T123600Z, got ${amzDate}`)
  const tokenMode = options.sessionToken ?? 'signed'
  const token = credentials.sessionToken
  if (token && tokenMode === 'signed' && headerValue(headers, 'x-amz-security-token') === undefined) {
    headers.push(['X-Amz-Security-Token', token])
  }
  // Authorization is never part of what is signed.
  headers = headers.filter(([n]) => n.toLowerCase() !== 'authorization')
  const creq = canonicalRequest({...request, headers}, options)
  const scope = credentialScope(amzDate, options.region, options.service)
  const sts = stringToSign(amzDate, scope, creq.text)
  const key = deriveSigningKey(credentials.secretAccessKey, amzDate.slice(0, 8), options.region, options.service)
  const signature = hmacSha256Hex(key, sts)
  const authorization = `${SIGV4_ALGORITHM} Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${creq.signedHeaders}, Signature=${signature}`
  if (token && tokenMode === 'unsigned' && headerValue(headers, 'x-amz-security-token') === undefined) {
    headers.push(['X-Amz-Security-Token', token])
  }
  headers.push(['Authorization', authorization])
  return {
    headers,
    authorization,
    canonicalRequest: creq.text,
    stringToSign: sts,
    signature,
    signedHeaders: creq.signedHeaders,
    credentialScope: scope,
    amzDate,
  }
}

export interface ParsedSigV4Authorization {
  accessKeyId: string
  date: string
  region: string
  service: string
  signedHeaders: string[]
  signature: string
}

/** Parses an `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` header; null if malformed. */
export function parseAuthorization(value: string): ParsedSigV4Authorization | null {
  const m = /^AWS4-HMAC-SHA256\s+Credential=([^,\s]+)\s*,\s*SignedHeaders=([^,\s]+)\s*,\s*Signature=([0-9a-f]{64})$/.exec(value.trim())
  if (!m) return null
  const parts = m[1].split('/')
  if (parts.length !== 5 || parts[4] !== 'aws4_request') return null
  return {
    accessKeyId: parts[0],
    date: parts[1],
    region: parts[2],
    service: parts[3],
    signedHeaders: m[2].split(';'),
    signature: m[3],
  }
}
