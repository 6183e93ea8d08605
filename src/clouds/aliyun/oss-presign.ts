// Presigned OSS object URLs with the V1 signature in the query string (OSSAccessKeyId,
// Expires, Signature), as in the OSS API reference "Include a V1 signature in a URL" and
// checked against the V1 vectors of Alibaba's OSS Go SDK v2, oss/signer/signer_test.go
// (test/unit/checkpoint/presign-s3-oss.test.ts).
import {createHmac} from 'node:crypto'

import {BugError} from '../../errors.js'
import {CHECKPOINT_CONTENT_TYPE, type PresignRequest} from '../common/presign.js'
import {rfc3986Encode} from '../common/signing-util.js'
import type {AliyunCredentials} from './acs3.js'

/** The LIST parameters that are OSS sub-resources, so signed (V1). */
export const OSS_SIGNED_LIST_PARAMS: ReadonlySet<string> = new Set(['continuation-token'])

/**
 * `/BUCKET/KEY`, then the signed sub-resources sorted by name (`?a=1&b`; a name without a
 * value stands alone). Nothing is percent-encoded: OSS signs the raw key and values.
 */
export function ossCanonicalizedResource(path: string, subResources: ReadonlyArray<readonly [string, string]> = []): string {
  const params = [...subResources].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => (v === '' ? k : `${k}=${v}`))
  return params.length === 0 ? path : `${path}?${params.join('&')}`
}

export interface OssV1StringToSign {
  method: string
  contentMd5?: string
  contentType?: string
  /** Unix seconds; in a URL this line takes the place of the Date header. */
  expires: number | string
  /** The `x-oss-name:value\n` lines, already canonicalized; none in our URLs. */
  canonicalizedOssHeaders?: string
  canonicalizedResource: string
}

export function ossV1StringToSign(p: OssV1StringToSign): string {
  return `${p.method.toUpperCase()}\n${p.contentMd5 ?? ''}\n${p.contentType ?? ''}\n${p.expires}\n${p.canonicalizedOssHeaders ?? ''}${p.canonicalizedResource}`
}

/** base64(HMAC-SHA1(AccessKeySecret, StringToSign)). */
export function ossV1Signature(accessKeySecret: string, stringToSign: string): string {
  return createHmac('sha1', accessKeySecret).update(stringToSign).digest('base64')
}

/**
 * A GET or PUT URL for one object. A PUT must be sent with exactly
 * `Content-Type: CHECKPOINT_CONTENT_TYPE` and no Content-MD5, since V1 signs both headers.
 */
export function presignOss(request: PresignRequest, credentials: AliyunCredentials): string {
  if (!Number.isInteger(request.expiresSeconds) || request.expiresSeconds < 1) {
    throw new BugError(`OSS presigned URLs must expire in a whole, positive number of seconds, got ${request.expiresSeconds}`)
  }
  const expires = Math.floor(request.now.getTime() / 1000) + request.expiresSeconds
  const token = credentials.securityToken
  // security-token is one of OSS's sub-resources, so STS credentials sign it into the resource.
  // Of a LIST's parameters only continuation-token is a sub-resource OSS signs (list-type and
  // prefix are not), as in the sub-resource list of Alibaba's oss2 Python SDK (auth.py).
  const extra = request.query ?? []
  const resource = ossCanonicalizedResource(`/${request.bucket}/${request.key}`, [
    ...(token ? [['security-token', token] as const] : []),
    ...extra.filter(([k]) => OSS_SIGNED_LIST_PARAMS.has(k)),
  ])
  const signature = ossV1Signature(
    credentials.accessKeySecret,
    ossV1StringToSign({
      method: request.method,
      contentType: request.method === 'PUT' ? CHECKPOINT_CONTENT_TYPE : '',
      expires,
      canonicalizedResource: resource,
    }),
  )
  const keyPath = request.key.split('/').map(rfc3986Encode).join('/')
  const base =
    request.endpoint === undefined
      ? `https://${request.bucket}.oss-${request.region}.aliyuncs.com/${keyPath}`
      : `${request.endpoint.replace(/\/+$/, '')}/${rfc3986Encode(request.bucket)}/${keyPath}`
  // Sorted by name, as the SDKs emit them.
  const query: Array<[string, string]> = [
    ['Expires', String(expires)],
    ['OSSAccessKeyId', credentials.accessKeyId],
    ['Signature', signature],
  ]
  if (token) query.push(['security-token', token])
  for (const [k, v] of extra) query.push([k, v])
  return `${base}?${query.map(([k, v]) => `${k}=${rfc3986Encode(v)}`).join('&')}`
}
