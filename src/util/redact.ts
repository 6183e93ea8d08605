// Secrets must never reach a log, an error message, the state store or --json output.
// Every credential value skyhop loads is registered here; anything that leaves the
// process as text passes through redact() first.

const secrets = new Set<string>()

/** Registers a secret value; later calls to redact() replace it with `***`. */
export function registerSecret(value: string | undefined | null): void {
  // Very short values would blank out ordinary words; no real key is this short.
  if (value && value.length >= 6) secrets.add(value)
}

const credentialPatterns: RegExp[] = [
  // Authorization headers and signed query strings of the clouds we speak to.
  /((?:authorization|x-amz-security-token|x-acs-security-token|x-tc-token|x-auth-token)\s*[:=]\s*)[^\s,;"']+/gi,
  /((?:Signature|X-Amz-Signature|X-Amz-Credential|AccessKeySecret|SecretKey|secret_access_key|password)=)[^&\s"']+/gi,
]

export function redact(text: string): string {
  let out = text
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join('***')
  for (const re of credentialPatterns) out = out.replace(re, '$1***')
  return out
}

/** Deep-redacts strings inside a JSON-safe value. */
export function redactDeep<T>(value: T): T {
  if (typeof value === 'string') return redact(value) as T
  if (Array.isArray(value)) return value.map((v) => redactDeep(v)) as T
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = redactDeep(v)
    return out as T
  }
  return value
}
