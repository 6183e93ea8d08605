// Presigned Google Cloud Storage URLs: the V4 signing process with a service account's RSA key
// (GOOG4-RSA-SHA256) in the query string, as in Cloud Storage's "V4 signing process with your
// own program", checked against Google's conformance vectors (googleapis/conformance-tests
// storage/v1/v4_signatures.json, test/unit/checkpoint/presign-gcs.test.ts). The canonical
// request is SigV4's with `goog4_request` scopes and UNSIGNED-PAYLOAD; the signature is the
// hex RSA-SHA256 of the string to sign. Pure; node:crypto only.
import {createSign} from 'node:crypto'

import {BugError} from '../../errors.js'
import {canonicalRequest} from '../aws/sigv4.js'
import type {PresignRequest} from '../common/presign.js'
import {canonicalQueryString, isoBasic, rfc3986Encode, sha256Hex} from '../common/signing-util.js'

export const GCS_RSA_ALGORITHM = 'GOOG4-RSA-SHA256'
/** Cloud Storage refuses a V4 URL that claims to live longer than seven days. */
const GCS_MAX_EXPIRES_SECONDS = 604800
/** The region in the credential scope: Cloud Storage takes `auto` for any bucket location. */
export const GCS_SCOPE_REGION = 'auto'

/** The part of a service-account key that signs: its e-mail (the credential) and PEM private key. */
export interface GcsSigningKey {
  clientEmail: string
  privateKey: string
}

export function gcsCredentialScope(googDate: string): string {
  return `${googDate.slice(0, 8)}/${GCS_SCOPE_REGION}/storage/goog4_request`
}

export function gcsStringToSign(googDate: string, canonicalRequestText: string): string {
  return [GCS_RSA_ALGORITHM, googDate, gcsCredentialScope(googDate), sha256Hex(canonicalRequestText)].join('\n')
}

/**
 * A URL for one object (or, with key '', the bucket itself: a LIST with `request.query`),
 * path-style on storage.googleapis.com or the given endpoint. Only Host is signed, so the
 * runner's curl may send any header (If-Match, Content-Type).
 */
export function presignGcs(request: PresignRequest, key: GcsSigningKey): string {
  const expires = request.expiresSeconds
  if (!Number.isInteger(expires) || expires < 1 || expires > GCS_MAX_EXPIRES_SECONDS)
    throw new BugError(`Cloud Storage signed URLs must expire in 1 to ${GCS_MAX_EXPIRES_SECONDS} seconds (7 days), got ${expires}`)
  const base = new URL(request.endpoint ?? 'https://storage.googleapis.com')
  const prefix = base.pathname.replace(/\/+$/, '')
  // The bucket itself has no trailing slash (the conformance "List Objects" case).
  const path = `${prefix}/${rfc3986Encode(request.bucket)}${request.key === '' ? '' : `/${request.key.split('/').map(rfc3986Encode).join('/')}`}`
  const googDate = isoBasic(request.now)
  const query: Array<readonly [string, string]> = [
    ['X-Goog-Algorithm', GCS_RSA_ALGORITHM],
    ['X-Goog-Credential', `${key.clientEmail}/${gcsCredentialScope(googDate)}`],
    ['X-Goog-Date', googDate],
    ['X-Goog-Expires', String(expires)],
    ['X-Goog-SignedHeaders', 'host'],
    ...(request.query ?? []),
  ]
  const creq = canonicalRequest(
    {method: request.method, path, query, headers: [['host', base.host]]},
    {normalizePath: false, payloadHash: 'UNSIGNED-PAYLOAD'},
  )
  const signature = createSign('RSA-SHA256').update(gcsStringToSign(googDate, creq.text)).sign(key.privateKey, 'hex')
  return `${base.origin}${path}?${canonicalQueryString(query)}&X-Goog-Signature=${signature}`
}
