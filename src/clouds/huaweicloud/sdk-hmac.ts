// Huawei Cloud AK/SK request signing (SDK-HMAC-SHA256), as documented in the "API Request
// Signing Guide" and checked against its worked example (test/unit/signing/sdk-hmac.test.ts).
// Pure functions; node:crypto only.
import {
  canonicalQueryString,
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

export const SDK_HMAC_ALGORITHM = 'SDK-HMAC-SHA256'

export interface HuaweiCredentials {
  ak: string
  sk: string
  securityToken?: string
}

export interface SdkHmacRequest {
  method: string
  /** The request path as sent (escapes allowed); the signer appends the `/` the spec wants. */
  path: string
  query?: ReadonlyArray<readonly [string, string]>
  /** Must include host. Every header given is signed (lower-cased, sorted). */
  headers: ReadonlyArray<readonly [string, string]>
  body?: Bytes
}

export interface SdkHmacOptions {
  /** Signing time; ignored when X-Sdk-Date is already present. */
  date?: Date
}

export type SdkHmacSigned = Signed

function get(headers: ReadonlyArray<readonly [string, string]>, name: string): string | undefined {
  return headers.find(([n]) => n.toLowerCase() === name)?.[1]
}

/** Each segment decoded then RFC 3986 encoded, and always a trailing slash. */
export function sdkHmacCanonicalUri(path: string): string {
  const encoded = path
    .split('/')
    .map((s) => rfc3986Encode(percentDecode(s)))
    .join('/')
  const withLead = encoded.startsWith('/') ? encoded : `/${encoded}`
  return withLead.endsWith('/') ? withLead : `${withLead}/`
}

export function sdkHmacCanonicalRequest(request: SdkHmacRequest, onlyHeaders?: string[]): {text: string; signedHeaders: string} {
  const byName = new Map<string, string[]>()
  for (const [name, value] of request.headers) {
    const key = name.toLowerCase()
    if (key === 'authorization') continue
    if (onlyHeaders && !onlyHeaders.includes(key)) continue
    byName.set(key, [...(byName.get(key) ?? []), trimHeaderValue(value)])
  }
  const names = [...byName.keys()].sort()
  const text = [
    request.method.toUpperCase(),
    sdkHmacCanonicalUri(request.path),
    canonicalQueryString(request.query ?? []),
    names.map((n) => `${n}:${byName.get(n)!.join(',')}\n`).join(''),
    names.join(';'),
    get(request.headers, 'x-sdk-content-sha256') ?? sha256Hex(request.body ?? ''),
  ].join('\n')
  return {text, signedHeaders: names.join(';')}
}

export function signSdkHmac(request: SdkHmacRequest, credentials: HuaweiCredentials, options: SdkHmacOptions = {}): SdkHmacSigned {
  if (!get(request.headers, 'host')) throw new BugError('SDK-HMAC: the request must carry a Host header')
  const headers: Array<[string, string]> = request.headers.filter(([n]) => n.toLowerCase() !== 'authorization').map(([n, v]) => [n, v])
  let sdkDate = get(headers, 'x-sdk-date')
  if (sdkDate === undefined) {
    sdkDate = isoBasic(options.date ?? new Date())
    headers.push(['X-Sdk-Date', sdkDate])
  }
  if (credentials.securityToken && get(headers, 'x-security-token') === undefined)
    headers.push(['X-Security-Token', credentials.securityToken])
  const creq = sdkHmacCanonicalRequest({...request, headers})
  const stringToSign = [SDK_HMAC_ALGORITHM, sdkDate, sha256Hex(creq.text)].join('\n')
  const signature = hmacSha256Hex(credentials.sk, stringToSign)
  const authorization = `${SDK_HMAC_ALGORITHM} Access=${credentials.ak}, SignedHeaders=${creq.signedHeaders}, Signature=${signature}`
  headers.push(['Authorization', authorization])
  return {headers, authorization, canonicalRequest: creq.text, stringToSign, signature, signedHeaders: creq.signedHeaders}
}

export interface ParsedSdkHmacAuthorization {
  ak: string
  signedHeaders: string[]
  signature: string
}

export function parseSdkHmacAuthorization(value: string): ParsedSdkHmacAuthorization | null {
  const m = /^SDK-HMAC-SHA256\s+Access=([^,\s]+)\s*,\s*SignedHeaders=([^,\s]+)\s*,\s*Signature=([0-9a-f]{64})$/.exec(value.trim())
  return m ? {ak: m[1], signedHeaders: m[2].split(';'), signature: m[3]} : null
}
