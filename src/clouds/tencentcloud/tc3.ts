// Tencent Cloud API 3.0 request signing (TC3-HMAC-SHA256), as documented in "Signature v3"
// and checked against its worked example (test/unit/signing/tc3.test.ts). Pure functions;
// node:crypto only.
import {canonicalQueryString, hmacSha256, hmacSha256Hex, sha256Hex, type Bytes, type Signed} from '../common/signing-util.js'
import {BugError} from '../../errors.js'

export const TC3_ALGORITHM = 'TC3-HMAC-SHA256'

export interface TencentCredentials {
  secretId: string
  secretKey: string
  token?: string
}

export interface Tc3Request {
  method: string
  path?: string
  query?: ReadonlyArray<readonly [string, string]>
  /** Must include content-type and host; x-tc-action too when it is to be signed. */
  headers: ReadonlyArray<readonly [string, string]>
  body?: Bytes
}

export interface Tc3Options {
  /** Product, e.g. `cvm`: the first label of the endpoint host. */
  service: string
  /** Unix seconds; default now. X-TC-Timestamp is set from it unless already present. */
  timestamp?: number
  /**
   * Header names to sign. The current documentation signs content-type, host and
   * x-tc-action; the older text signed only content-type and host. Both verify.
   */
  signedHeaders?: string[]
}

export interface Tc3Signed extends Signed {
  credentialScope: string
}

export const TC3_DEFAULT_SIGNED_HEADERS = ['content-type', 'host', 'x-tc-action']

function get(headers: ReadonlyArray<readonly [string, string]>, name: string): string | undefined {
  return headers.find(([n]) => n.toLowerCase() === name)?.[1]
}

/** TC3 lower-cases both names and values of the signed headers. */
export function tc3CanonicalRequest(request: Tc3Request, signedHeaderNames: string[]): {text: string; signedHeaders: string} {
  const names = [...new Set(signedHeaderNames.map((n) => n.toLowerCase()))].sort()
  const lines = names.map((n) => {
    const v = get(request.headers, n)
    if (v === undefined) throw new BugError(`TC3: header ${n} is to be signed but missing`)
    return `${n}:${v.trim().toLowerCase()}\n`
  })
  const text = [
    request.method.toUpperCase(),
    request.path ?? '/',
    canonicalQueryString(request.query ?? []),
    lines.join(''),
    names.join(';'),
    sha256Hex(request.body ?? ''),
  ].join('\n')
  return {text, signedHeaders: names.join(';')}
}

/** `YYYY-MM-DD` of a Unix timestamp, in UTC. */
export function tc3Date(timestamp: number): string {
  return new Date(timestamp * 1000).toISOString().slice(0, 10)
}

export function tc3SigningKey(secretKey: string, date: string, service: string): Buffer {
  const secretDate = hmacSha256(`TC3${secretKey}`, date)
  const secretService = hmacSha256(secretDate, service)
  return hmacSha256(secretService, 'tc3_request')
}

export function signTc3(request: Tc3Request, credentials: TencentCredentials, options: Tc3Options): Tc3Signed {
  const headers: Array<[string, string]> = request.headers.filter(([n]) => n.toLowerCase() !== 'authorization').map(([n, v]) => [n, v])
  const existing = get(headers, 'x-tc-timestamp')
  const timestamp = existing === undefined ? (options.timestamp ?? Math.floor(Date.now() / 1000)) : Number(existing)
  if (!Number.isInteger(timestamp) || timestamp < 0) throw new BugError(`TC3: bad timestamp ${existing}`)
  if (existing === undefined) headers.push(['X-TC-Timestamp', String(timestamp)])
  if (credentials.token && get(headers, 'x-tc-token') === undefined) headers.push(['X-TC-Token', credentials.token])
  const creq = tc3CanonicalRequest({...request, headers}, options.signedHeaders ?? TC3_DEFAULT_SIGNED_HEADERS)
  const date = tc3Date(timestamp)
  const scope = `${date}/${options.service}/tc3_request`
  const stringToSign = [TC3_ALGORITHM, String(timestamp), scope, sha256Hex(creq.text)].join('\n')
  const signature = hmacSha256Hex(tc3SigningKey(credentials.secretKey, date, options.service), stringToSign)
  const authorization = `${TC3_ALGORITHM} Credential=${credentials.secretId}/${scope}, SignedHeaders=${creq.signedHeaders}, Signature=${signature}`
  headers.push(['Authorization', authorization])
  return {
    headers,
    authorization,
    canonicalRequest: creq.text,
    stringToSign,
    signature,
    signedHeaders: creq.signedHeaders,
    credentialScope: scope,
  }
}

export interface ParsedTc3Authorization {
  secretId: string
  date: string
  service: string
  signedHeaders: string[]
  signature: string
}

export function parseTc3Authorization(value: string): ParsedTc3Authorization | null {
  const m = /^TC3-HMAC-SHA256\s+Credential=([^,\s]+)\s*,\s*SignedHeaders=([^,\s]+)\s*,\s*Signature=([0-9a-f]{64})$/.exec(value.trim())
  if (!m) return null
  const parts = m[1].split('/')
  if (parts.length !== 4 || parts[3] !== 'tc3_request') return null
  return {secretId: parts[0], date: parts[1], service: parts[2], signedHeaders: m[2].split(';'), signature: m[3]}
}
