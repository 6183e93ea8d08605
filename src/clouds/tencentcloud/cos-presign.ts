// Presigned object URLs for Tencent Cloud COS: the XML API "Request Signature"
// (q-sign-algorithm=sha1) carried in the query string, checked against both worked examples
// of that page in test/unit/checkpoint/presign-cos-obs.test.ts. Pure; node:crypto only.
import {createHash, createHmac} from 'node:crypto'

import type {PresignRequest} from '../common/presign.js'
import {percentDecode, rfc3986Encode} from '../common/signing-util.js'
import type {TencentCredentials} from './tc3.js'

/**
 * The URL starts to work this long before `now`, as Tencent's Python SDK does, so a COS clock
 * a little behind the controller's does not reject a URL that is used at once.
 */
const CLOCK_SLACK_SECONDS = 60

export interface CosSignInput {
  method: string
  /** UriPathname: the request path DEcoded, e.g. `/exampleobject(腾讯云)`; COS signs it so. */
  pathname: string
  /** Decoded query pairs to sign; they make up q-url-param-list. */
  params: ReadonlyArray<readonly [string, string]>
  /** Headers to sign; they make up q-header-list. */
  headers: ReadonlyArray<readonly [string, string]>
  /** q-key-time, `start;end` in unix seconds: the SignKey is derived from it. */
  keyTime: string
  /** q-sign-time, the one in StringToSign; the SDKs set it equal to q-key-time. */
  signTime: string
}

export interface CosSigned {
  signKey: string
  httpString: string
  stringToSign: string
  signature: string
  urlParamList: string
  headerList: string
}

/** `k=v&k=v` with keys UrlEncoded and lower-cased, values UrlEncoded, sorted by key; and `k;k`. */
function cosPairs(pairs: ReadonlyArray<readonly [string, string]>): {joined: string; list: string} {
  const encoded = pairs
    .map(([k, v]) => [rfc3986Encode(k).toLowerCase(), rfc3986Encode(v)] as const)
    .sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
  return {joined: encoded.map(([k, v]) => `${k}=${v}`).join('&'), list: encoded.map(([k]) => k).join(';')}
}

function hmacSha1Hex(key: string, data: string): string {
  return createHmac('sha1', key).update(data).digest('hex')
}

export function cosSignature(input: CosSignInput, secretKey: string): CosSigned {
  const params = cosPairs(input.params)
  const headers = cosPairs(input.headers)
  const httpString = `${input.method.toLowerCase()}\n${input.pathname}\n${params.joined}\n${headers.joined}\n`
  const stringToSign = `sha1\n${input.signTime}\n${createHash('sha1').update(httpString).digest('hex')}\n`
  const signKey = hmacSha1Hex(secretKey, input.keyTime)
  return {
    signKey,
    httpString,
    stringToSign,
    signature: hmacSha1Hex(signKey, stringToSign),
    urlParamList: params.list,
    headerList: headers.list,
  }
}

/**
 * Signs only the Host header, so the runner's curl may send any other headers. The security
 * token travels as x-cos-security-token and is signed as a URL parameter, as the Go and
 * Python SDKs' temporary-key examples do, so it cannot be swapped.
 */
export function presignCos(request: PresignRequest, credentials: TencentCredentials): string {
  const base = new URL(request.endpoint ?? `https://${request.bucket}.cos.${request.region}.myqcloud.com`)
  const prefix = base.pathname.replace(/\/+$/, '')
  const objectPath = request.endpoint ? `/${request.bucket}/${request.key}` : `/${request.key}`
  const now = Math.floor(request.now.getTime() / 1000)
  const keyTime = `${now - CLOCK_SLACK_SECONDS};${now + request.expiresSeconds}`
  // A LIST's prefix, marker and max-keys are signed too (q-url-param-list), so none can be swapped.
  const params: Array<[string, string]> = [
    ...(credentials.token ? [['x-cos-security-token', credentials.token] as [string, string]] : []),
    ...(request.query ?? []).map(([k, v]) => [k, v] as [string, string]),
  ]
  const signed = cosSignature(
    {
      method: request.method,
      pathname: percentDecode(prefix) + objectPath,
      params,
      headers: [['host', base.host]],
      keyTime,
      signTime: keyTime,
    },
    credentials.secretKey,
  )
  const query: Array<[string, string]> = [
    ['q-sign-algorithm', 'sha1'],
    ['q-ak', credentials.secretId],
    ['q-sign-time', keyTime],
    ['q-key-time', keyTime],
    ['q-header-list', signed.headerList],
    ['q-url-param-list', signed.urlParamList],
    ['q-signature', signed.signature],
    ...params,
  ]
  const path = prefix + objectPath.split('/').map(rfc3986Encode).join('/')
  return `${base.origin}${path}?${query.map(([k, v]) => `${k}=${rfc3986Encode(v)}`).join('&')}`
}
