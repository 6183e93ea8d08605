// A VM adapter's check(): load the credentials, then make one cheap read-only call, so
// `skyhop check` proves both the keys and the endpoint. It never throws, and what it says
// about a failure is redacted.
import {redact} from '../../util/redact.js'
import type {CheckResult} from '../provider.js'

/** `source` names where the credentials came from; `probe` makes the call and says what it found. */
export async function checkAccess(provider: string, source: () => Promise<string>, probe: () => Promise<string>): Promise<CheckResult> {
  let found: string | null = null
  try {
    found = await source()
    return {provider, ok: true, source: found, message: await probe()}
  } catch (error) {
    return {provider, ok: false, source: found, message: redact(error instanceof Error ? error.message : String(error))}
  }
}
