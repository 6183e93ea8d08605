// Presigned S3 object URLs: SigV4 with the authentication in the query string, as in the S3
// API reference "Authenticating Requests: Using Query Parameters (AWS Signature Version 4)"
// and checked against its GET example (test/unit/checkpoint/presign-s3-oss.test.ts).
import {BugError} from '../../errors.js'
import type {PresignRequest} from '../common/presign.js'
import {canonicalQueryString, hmacSha256Hex, isoBasic, rfc3986Encode} from '../common/signing-util.js'
import {dnsSuffix} from './endpoints.js'
import {SIGV4_ALGORITHM, canonicalRequest, credentialScope, deriveSigningKey, stringToSign, type AwsCredentials} from './sigv4.js'

/** S3 refuses a presigned URL that claims to live longer than seven days. */
const S3_MAX_EXPIRES_SECONDS = 604800

/** `/a/b c` → `/a/b%20c`: each segment RFC 3986 encoded, the slashes kept, as S3 signs the path unnormalized. */
function s3ObjectPath(bucket: string | undefined, key: string): string {
  const segments = bucket === undefined ? [] : [rfc3986Encode(bucket)]
  return `/${[...segments, ...key.split('/').map(rfc3986Encode)].join('/')}`
}

/** The URL's origin and path prefix up to the key: virtual-hosted on AWS, path-style on an endpoint. */
function location(request: PresignRequest): {origin: string; host: string; path: string} {
  if (request.endpoint !== undefined) {
    const base = new URL(request.endpoint)
    const prefix = base.pathname.replace(/\/+$/, '')
    return {origin: base.origin, host: base.host, path: `${prefix}${s3ObjectPath(request.bucket, request.key)}`}
  }
  // us-east-1's global name is what AWS's own example signs; other regions need the regional one.
  const service = request.region === 'us-east-1' ? 's3' : `s3.${request.region}`
  const domain = `${service}.${dnsSuffix(request.region)}`
  // A dotted bucket name does not match the *.s3 wildcard certificate, so it goes in the path.
  if (request.bucket.includes('.')) return {origin: `https://${domain}`, host: domain, path: s3ObjectPath(request.bucket, request.key)}
  const host = `${request.bucket}.${domain}`
  return {origin: `https://${host}`, host, path: s3ObjectPath(undefined, request.key)}
}

/** A GET or PUT URL for one object; the caller sends no headers the signature would need (only host is signed). */
export function presignS3(request: PresignRequest, credentials: AwsCredentials): string {
  const expires = request.expiresSeconds
  if (!Number.isInteger(expires) || expires < 1 || expires > S3_MAX_EXPIRES_SECONDS) {
    throw new BugError(`S3 presigned URLs must expire in 1 to ${S3_MAX_EXPIRES_SECONDS} seconds (7 days), got ${expires}`)
  }
  const {origin, host, path} = location(request)
  const amzDate = isoBasic(request.now)
  const scope = credentialScope(amzDate, request.region, 's3')
  const query: Array<[string, string]> = [
    ['X-Amz-Algorithm', SIGV4_ALGORITHM],
    ['X-Amz-Credential', `${credentials.accessKeyId}/${scope}`],
    ['X-Amz-Date', amzDate],
    ['X-Amz-Expires', String(expires)],
    ['X-Amz-SignedHeaders', 'host'],
  ]
  // S3 wants the token inside the signed query, unlike services that accept it appended after.
  if (credentials.sessionToken) query.push(['X-Amz-Security-Token', credentials.sessionToken])
  // SigV4 signs every query parameter, a LIST's included.
  for (const [k, v] of request.query ?? []) query.push([k, v])
  // The body is not known when signing, and curl streams it: S3 accepts UNSIGNED-PAYLOAD here.
  const creq = canonicalRequest(
    {method: request.method, path, query, headers: [['host', host]]},
    {normalizePath: false, payloadHash: 'UNSIGNED-PAYLOAD'},
  )
  const key = deriveSigningKey(credentials.secretAccessKey, amzDate.slice(0, 8), request.region, 's3')
  const signature = hmacSha256Hex(key, stringToSign(amzDate, scope, creq.text))
  // The URL's query is the canonical one, so what is sent is byte for byte what was signed.
  return `${origin}${path}?${canonicalQueryString(query)}&X-Amz-Signature=${signature}`
}
