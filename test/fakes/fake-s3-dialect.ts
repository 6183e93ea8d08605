// How a FAKE S3 checks a SigV4 presigned URL and words its errors, after the S3 API reference
// ("Authenticating Requests: Using Query Parameters", "Error responses"). It recomputes the
// signature from what arrived (method, raw path, query, Host), never from what was meant.
import {escapeXml} from '../../src/clouds/aws/xml.js'
import {SIGV4_ALGORITHM, canonicalRequest, credentialScope, deriveSigningKey, stringToSign} from '../../src/clouds/aws/sigv4.js'
import {hmacSha256Hex, signaturesEqual} from '../../src/clouds/common/signing-util.js'
import {
  type DialectError,
  type ObjectStoreDialect,
  type PresignedRequestView,
  S3_SIGNATURE_MISMATCH,
  denied,
} from './fake-object-store-dialect.js'

const AUTH_PARAMS = ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders', 'X-Amz-Signature']

function queryError(message: string): DialectError {
  return {status: 400, code: 'AuthorizationQueryParametersError', message}
}

/** `20130524T000000Z` → epoch milliseconds. */
function amzDateMs(amzDate: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate)!
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6])
}

/** `secrets` maps access key id → secret access key. */
export function s3Dialect(secrets: Record<string, string>): ObjectStoreDialect {
  return {
    name: 's3',
    verify(request: PresignedRequestView, now: Date): DialectError | null {
      // S3 reads the first of a repeated parameter.
      const param = (name: string) => request.query.find(([k]) => k === name)?.[1]
      const given = AUTH_PARAMS.map(param)
      if (given.every((v) => v === undefined)) return denied('AccessDenied', 'Access Denied')
      if (!given.every((v): v is string => v !== undefined)) {
        return queryError(`Query-string authentication version 4 requires the ${AUTH_PARAMS.join(', ')} parameters.`)
      }
      const [algorithm, credential, amzDate, expiresText, signedHeaders, signature] = given
      if (algorithm !== SIGV4_ALGORITHM) return queryError(`X-Amz-Algorithm only supports "${SIGV4_ALGORITHM}"`)
      if (!/^\d{8}T\d{6}Z$/.test(amzDate)) return queryError(`X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd'T'HHmmss'Z'"`)
      if (!/^\d+$/.test(expiresText)) return queryError('X-Amz-Expires should be a number')
      const expires = Number(expiresText)
      if (expires > 604800) return queryError('X-Amz-Expires must be less than a week (in seconds) that is 604800')
      const scope = credential.split('/')
      if (scope.length !== 5 || scope[3] !== 's3' || scope[4] !== 'aws4_request') {
        return queryError(
          'Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".',
        )
      }
      const [accessKeyId, date, region] = scope
      if (date !== amzDate.slice(0, 8)) return queryError('Invalid credential date. Date is not the same as X-Amz-Date.')
      // S3 answers an expired URL before it looks at the key or the signature.
      if (now.getTime() > amzDateMs(amzDate) + expires * 1000) return denied('AccessDenied', 'Request has expired')
      const secret = Object.hasOwn(secrets, accessKeyId) ? secrets[accessKeyId] : undefined
      if (secret === undefined) {
        return denied('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.')
      }
      const names = signedHeaders.split(';')
      const creq = canonicalRequest(
        {
          method: request.method,
          path: request.rawPath,
          query: request.query.filter(([k]) => k !== 'X-Amz-Signature'),
          headers: names.map((name) => [name, request.headers[name.toLowerCase()] ?? '']),
        },
        {normalizePath: false, payloadHash: 'UNSIGNED-PAYLOAD'},
      )
      const key = deriveSigningKey(secret, date, region, 's3')
      const expected = hmacSha256Hex(key, stringToSign(amzDate, credentialScope(amzDate, region, 's3'), creq.text))
      // SigV4 requires Host among the signed headers.
      if (!names.includes('host') || !signaturesEqual(expected, signature)) {
        return S3_SIGNATURE_MISMATCH
      }
      return null
    },
    errorBody(error, requestId) {
      return {
        contentType: 'application/xml',
        body: `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${escapeXml(error.code)}</Code><Message>${escapeXml(error.message)}</Message><RequestId>${escapeXml(requestId)}</RequestId></Error>`,
      }
    },
  }
}
