// Presigned object URLs for Huawei Cloud OBS: V2-style query-string authentication
// (AccessKeyId, Expires, Signature), the S3 V2 algorithm with OBS's names. Checked against
// OBS's "Authentication of Signature in a URL" strings and the S3 V2 worked examples in
// test/unit/checkpoint/presign-cos-obs.test.ts. Pure; node:crypto only.
import {createHmac} from 'node:crypto'

import {CHECKPOINT_CONTENT_TYPE, type PresignRequest} from '../common/presign.js'
import {rfc3986Encode} from '../common/signing-util.js'
import type {HuaweiCredentials} from './sdk-hmac.js'

export const OBS_SECURITY_TOKEN_PARAM = 'x-obs-security-token'

export interface ObsSignInput {
  method: string
  /** Headers as sent: Content-MD5 and Content-Type are positional, x-obs-* are canonicalized. */
  headers: ReadonlyArray<readonly [string, string]>
  /** The Expires query value as sent (unix seconds); it takes the place of Date. */
  expires: string
  /** `/BUCKET/KEY`, the key percent-encoded exactly as in the request line. */
  resource: string
  /** Decoded query pairs; the x-obs-* ones are signed as sub-resources. */
  query: ReadonlyArray<readonly [string, string]>
}

/**
 * OBS also signs named sub-resources (acl, versionId, response-*); a checkpoint URL carries
 * none, so only the x-obs-* parameters, which is where the security token goes, are handled.
 */
export function obsStringToSign(input: ObsSignInput): string {
  const header = (name: string) => input.headers.find(([n]) => n.toLowerCase() === name)?.[1] ?? ''
  const obsHeaders = input.headers
    .map(([n, v]) => [n.toLowerCase(), v.trim()] as const)
    .filter(([n]) => n.startsWith('x-obs-'))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([n, v]) => `${n}:${v}\n`)
    .join('')
  const subResources = input.query
    .filter(([k]) => k.toLowerCase().startsWith('x-obs-'))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
  const resource = subResources.length ? `${input.resource}?${subResources.join('&')}` : input.resource
  return `${input.method.toUpperCase()}\n${header('content-md5')}\n${header('content-type')}\n${input.expires}\n${obsHeaders}${resource}`
}

/** base64(HMAC-SHA1(SK, StringToSign)), before the URL encoding. */
export function obsSignature(sk: string, stringToSign: string): string {
  return createHmac('sha1', sk).update(stringToSign).digest('base64')
}

/**
 * A PUT URL is signed for Content-Type CHECKPOINT_CONTENT_TYPE, so the upload must send
 * exactly that header; a GET URL is signed for none, so the download must send none.
 */
export function presignObs(request: PresignRequest, credentials: HuaweiCredentials): string {
  const base = request.endpoint ? request.endpoint.replace(/\/+$/, '') : `https://${request.bucket}.obs.${request.region}.myhuaweicloud.com`
  const encodedKey = request.key.split('/').map(rfc3986Encode).join('/')
  const expires = String(Math.floor(request.now.getTime() / 1000) + request.expiresSeconds)
  const token: Array<[string, string]> = credentials.securityToken ? [[OBS_SECURITY_TOKEN_PARAM, credentials.securityToken]] : []
  const stringToSign = obsStringToSign({
    method: request.method,
    headers: request.method === 'PUT' ? [['Content-Type', CHECKPOINT_CONTENT_TYPE]] : [],
    expires,
    resource: `/${request.bucket}/${encodedKey}`,
    query: token,
  })
  const query: Array<readonly [string, string]> = [
    ['AccessKeyId', credentials.ak],
    ['Expires', expires],
    ['Signature', obsSignature(credentials.sk, stringToSign)],
    ...token,
    // A LIST's prefix, marker and max-keys are no sub-resources of OBS's, so not signed.
    ...(request.query ?? []),
  ]
  const path = request.endpoint ? `/${request.bucket}/${encodedKey}` : `/${encodedKey}`
  return `${base}${path}?${query.map(([k, v]) => `${k}=${rfc3986Encode(v)}`).join('&')}`
}
