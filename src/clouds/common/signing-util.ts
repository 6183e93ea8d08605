// Hashing and encoding primitives shared by the clouds' request signers (SigV4, ACS3,
// TC3, SDK-HMAC). node:crypto only; pure functions, no state.
import {createHash, createHmac, timingSafeEqual} from 'node:crypto'

export type Bytes = string | Uint8Array

/** What every signer returns: the headers to send, signature included, and the strings it signed (for fakes that verify, and tests). */
export interface Signed {
  headers: Array<[string, string]>
  authorization: string
  canonicalRequest: string
  stringToSign: string
  signature: string
  signedHeaders: string
}

export function sha256Hex(data: Bytes): string {
  return createHash('sha256').update(data).digest('hex')
}

export function hmacSha256(key: Bytes, data: Bytes): Buffer {
  return createHmac('sha256', key).update(data).digest()
}

export function hmacSha256Hex(key: Bytes, data: Bytes): string {
  return createHmac('sha256', key).update(data).digest('hex')
}

/** Constant-time comparison of two hex signatures (for servers that verify them). */
export function signaturesEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8')
  const y = Buffer.from(b, 'utf8')
  return x.length === y.length && timingSafeEqual(x, y)
}

/**
 * RFC 3986 percent-encoding of UTF-8 bytes: everything but A-Z a-z 0-9 - _ . ~ is escaped,
 * with upper-case hex. This is the encoding SigV4, ACS3, TC3 and SDK-HMAC all specify
 * (space is %20, never +; * is %2A; ~ stays).
 */
export function rfc3986Encode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

/**
 * Decodes %XX escapes leniently: a malformed escape is kept literally instead of throwing,
 * because signers must canonicalize whatever path or query a request carries.
 */
export function percentDecode(value: string): string {
  try {
    return decodeURIComponent(value)
  } catch {
    return value.replace(/(%[0-9A-Fa-f]{2})+/g, (run) => {
      try {
        return decodeURIComponent(run)
      } catch {
        return run
      }
    })
  }
}

/** Sorted `k=v&k=v` with both sides RFC 3986 encoded; pairs sort by encoded key, then value. */
export function canonicalQueryString(pairs: ReadonlyArray<readonly [string, string]>): string {
  return pairs
    .map(([k, v]) => [rfc3986Encode(k), rfc3986Encode(v)] as const)
    .sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&')
}

/** Parses a raw query string (no leading `?`) into decoded pairs; `+` is kept literally. */
export function parseQueryString(query: string): Array<[string, string]> {
  if (query === '') return []
  return query
    .split('&')
    .filter((part) => part !== '')
    .map((part) => {
      const eq = part.indexOf('=')
      return eq < 0 ? [percentDecode(part), ''] : [percentDecode(part.slice(0, eq)), percentDecode(part.slice(eq + 1))]
    })
}

/** Header values are trimmed and inner runs of spaces collapse to one, as SigV4 requires. */
export function trimHeaderValue(value: string): string {
  return value.trim().replace(/\s+/g, ' ')
}

/** `YYYYMMDDTHHMMSSZ` in UTC. */
export function isoBasic(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '')
}
