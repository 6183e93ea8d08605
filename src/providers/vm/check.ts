// A VM adapter's check(): the credentials load, and the first region lists its zones, one
// cheap read-only call that proves both the keys and the endpoint. It never throws, and
// what it says about a failure is redacted; the failure's hint goes with it (what to fix:
// a missing scope, a role, a quota), as a launch's error would show it.
import {SkyhopError} from '../../errors.js'
import {redact} from '../../util/redact.js'
import type {CheckResult} from '../provider.js'
import type {CredentialCache} from '../../clouds/common/credentials.js'

/** `region` is asked after the credentials load, because a credentials profile may name it. */
export async function checkByListingZones(
  provider: string,
  credentials: CredentialCache<unknown>,
  region: () => string,
  listZones: (region: string) => Promise<unknown[]>,
  zonesAre = 'zones',
): Promise<CheckResult> {
  let source: string | null = null
  try {
    source = (await credentials.get()).source
    const first = region()
    const zones = await listZones(first)
    return {provider, ok: true, source, message: `credentials work: ${zones.length} ${zonesAre} in ${first}`}
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    const hint = error instanceof SkyhopError ? error.hint : undefined
    return {provider, ok: false, source, message: redact(hint ? `${message} (${hint})` : message)}
  }
}
