// A create whose outcome stayed unknown until the launch round's bound is recorded FAILED
// (launch-round.ts settleUnknown), and the job goes on elsewhere. The backend may still have
// made the instance, which then runs the job a second time and is paid for. It carries the
// attempt's tag, so once the provider answers again it is looked up and stopped: by the
// job's controller (before it ends, and now and then while another attempt runs) and by
// `recover` for jobs that ended while the provider was still silent.
import {type AttemptRecord, type EventRecord, UNKNOWN_CREATE_SETTLED} from '../model/records.js'
import type {Provider} from '../providers/provider.js'
import {asProviderError} from '../errors.js'
import {withDeadline} from '../util/deadline.js'

/** Attempts recorded FAILED while their create's outcome was unknown, not settled since. */
export function unsettledCreates(attempts: readonly AttemptRecord[], events: readonly EventRecord[]): AttemptRecord[] {
  const unknown = new Set(events.filter((e) => e.kind === 'attempt-outcome-unknown').map((e) => e.attemptId))
  const settled = new Set(events.filter((e) => e.kind === UNKNOWN_CREATE_SETTLED).map((e) => e.attemptId))
  return attempts.filter((a) => a.state === 'FAILED' && a.handle === null && unknown.has(a.id) && !settled.has(a.id))
}

export type UnknownCreateOutcome =
  {settled: true; found: false} | {settled: true; found: true; externalId: string} | {settled: false; code: string; message: string}

/**
 * Looks the attempt's instance up by its tag and stops it (cancel without grace, then
 * cleanup: the job runs elsewhere or has ended). Not settled when the provider cannot be asked
 * or will not stop it within `budgetMs`: the caller tries again later.
 */
export async function settleUnknownCreate(provider: Provider, attempt: AttemptRecord, budgetMs: number): Promise<UnknownCreateOutcome> {
  if (!provider.listOwned) return {settled: true, found: false}
  try {
    return await withDeadline(budgetMs, `looking up the unknown create of attempt ${attempt.id} on ${provider.name}`, async () => {
      const owned = await provider.listOwned!({regions: [attempt.region], attemptId: attempt.id})
      const found = owned.find((h) => h.data.attemptId === attempt.id)
      if (!found) return {settled: true, found: false} as const
      await provider.signal(found, 'cancel', 0)
      await provider.cleanup(found)
      return {settled: true, found: true, externalId: found.externalId} as const
    })
  } catch (error) {
    const perr = asProviderError(provider.name, error)
    return {settled: false, code: perr.code, message: perr.message}
  }
}
