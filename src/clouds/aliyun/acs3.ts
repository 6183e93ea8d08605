// Alibaba Cloud request signing, signature method V3 (ACS3-HMAC-SHA256), as documented in
// "Request syntax and signature method V3" and checked against its fixed-parameter example
// (test/unit/signing/acs3.test.ts). Pure functions; node:crypto only.
import {randomBytes} from 'node:crypto'

import {canonicalQueryString, hmacSha256Hex, rfc3986Encode, sha256Hex, type Bytes, type Signed} from '../common/signing-util.js'
import {BugError} from '../../errors.js'

export const ACS3_ALGORITHM = 'ACS3-HMAC-SHA256'

export interface AliyunCredentials {
  accessKeyId: string
  accessKeySecret: string
  securityToken?: string
}

export interface Acs3Request {
  method: string
  /** `/` for RPC-style APIs; the resource path for ROA-style ones (unencoded). */
  path: string
  query?: ReadonlyArray<readonly [string, string]>
  /** Must include host, x-acs-action and x-acs-version. */
  headers: ReadonlyArray<readonly [string, string]>
  body?: Bytes
}

export interface Acs3Options {
  /** Signing time; default now. Ignored when x-acs-date is already present. */
  date?: Date
  /** Default: 16 random bytes in hex. Ignored when x-acs-signature-nonce is present. */
  nonce?: string
}

export type Acs3Signed = Signed

/** Headers that take part in the signature: host, content-type and every x-acs-*. */
export function isAcs3SignedHeader(name: string): boolean {
  const n = name.toLowerCase()
  return n === 'host' || n === 'content-type' || n.startsWith('x-acs-')
}

/** `2023-10-26T10:22:32Z` (ISO 8601 UTC without milliseconds). */
export function acsDate(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

function get(headers: ReadonlyArray<readonly [string, string]>, name: string): string | undefined {
  return headers.find(([n]) => n.toLowerCase() === name)?.[1]
}

export function acs3CanonicalRequest(request: Acs3Request, signedHeaderFilter = isAcs3SignedHeader): {text: string; signedHeaders: string} {
  const signed = new Map<string, string>()
  for (const [name, value] of request.headers) {
    if (signedHeaderFilter(name)) signed.set(name.toLowerCase(), value.trim())
  }
  const names = [...signed.keys()].sort()
  const canonicalHeaders = names.map((n) => `${n}:${signed.get(n)}\n`).join('')
  const payloadHash = get(request.headers, 'x-acs-content-sha256') ?? sha256Hex(request.body ?? '')
  const uri = request.path === '' ? '/' : request.path.split('/').map(rfc3986Encode).join('/')
  const text = [
    request.method.toUpperCase(),
    uri,
    canonicalQueryString(request.query ?? []),
    canonicalHeaders,
    names.join(';'),
    payloadHash,
  ].join('\n')
  return {text, signedHeaders: names.join(';')}
}

export function signAcs3(request: Acs3Request, credentials: AliyunCredentials, options: Acs3Options = {}): Acs3Signed {
  if (!get(request.headers, 'host')) throw new BugError('ACS3: the request must carry a Host header')
  const headers: Array<[string, string]> = request.headers.filter(([n]) => n.toLowerCase() !== 'authorization').map(([n, v]) => [n, v])
  if (get(headers, 'x-acs-date') === undefined) headers.push(['x-acs-date', acsDate(options.date ?? new Date())])
  if (get(headers, 'x-acs-signature-nonce') === undefined)
    headers.push(['x-acs-signature-nonce', options.nonce ?? randomBytes(16).toString('hex')])
  if (get(headers, 'x-acs-content-sha256') === undefined) headers.push(['x-acs-content-sha256', sha256Hex(request.body ?? '')])
  if (credentials.securityToken && get(headers, 'x-acs-security-token') === undefined) {
    headers.push(['x-acs-security-token', credentials.securityToken])
  }
  const creq = acs3CanonicalRequest({...request, headers})
  const stringToSign = `${ACS3_ALGORITHM}\n${sha256Hex(creq.text)}`
  const signature = hmacSha256Hex(credentials.accessKeySecret, stringToSign)
  const authorization = `${ACS3_ALGORITHM} Credential=${credentials.accessKeyId},SignedHeaders=${creq.signedHeaders},Signature=${signature}`
  headers.push(['Authorization', authorization])
  return {headers, authorization, canonicalRequest: creq.text, stringToSign, signature, signedHeaders: creq.signedHeaders}
}

export interface ParsedAcs3Authorization {
  accessKeyId: string
  signedHeaders: string[]
  signature: string
}

export function parseAcs3Authorization(value: string): ParsedAcs3Authorization | null {
  const m = /^ACS3-HMAC-SHA256\s+Credential=([^,\s]+),SignedHeaders=([^,\s]+),Signature=([0-9a-f]{64})$/.exec(value.trim())
  return m ? {accessKeyId: m[1], signedHeaders: m[2].split(';'), signature: m[3]} : null
}
