// The `cancel` service: stop a job so that nothing relaunches it.
import {ProviderError, asProviderError} from '../errors.js'
import type {AttemptHoldStore} from '../checkpoint/checkpoint-store.js'
import {deleteAttemptGang, deleteAttemptSecrets, deleteAttemptTransfers} from '../controller/attempt-end.js'
import type {Provider} from '../providers/provider.js'
import {TERMINAL_ATTEMPT_STATES} from '../model/attempt.js'
import type {Store} from '../state/store.js'
import {TERMINAL_JOB_STATES} from '../model/records.js'
import type {ServiceContext} from './context.js'
import {type JobSummary, liveAttempts, providerFor, summarize} from './jobs.js'
import {type Actor, actorOf, requireMayAct} from './owners.js'

export interface CancelResult {
  job: JobSummary
  alreadyEnded: boolean
  signalled: string[]
}

/**
 * Cancels a job: first marks it CANCELLED (so no controller relaunches it — the store
 * refuses new attempts of an ended job), then asks each live attempt to stop with
 * `graceSeconds` before SIGKILL, and waits until the backend confirms.
 */
export async function cancelJob(
  store: Store,
  providers: ReadonlyMap<string, Provider>,
  ref: string,
  options: {
    graceSeconds: number
    waitMs?: number
    sleep?: (ms: number) => Promise<void>
    actor?: Actor
    /**
     * Deletes a cloud attempt's secrets object (one whose instance never booted never fetched
     * and deleted it) and, once it is released, its gang objects.
     */
    attemptHolds?: AttemptHoldStore
  },
): Promise<CancelResult> {
  const job = store.findJob(ref)
  if (options.actor) requireMayAct(options.actor, {kind: 'job', ...job}, 'cancel')
  if (TERMINAL_JOB_STATES.has(job.state)) return {job: summarize(store, job), alreadyEnded: true, signalled: []}
  store.setJobState(
    job.id,
    'CANCELLED',
    {kind: 'cancel-requested', data: {graceSeconds: options.graceSeconds, ...(options.actor ? {by: options.actor.user} : {})}},
    {reason: options.actor && options.actor.user !== job.owner ? `cancelled by ${options.actor.user}` : 'cancelled by user'},
  )
  const sleep = options.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)))
  const live = liveAttempts(store, job.id)
  for (const a of live) await providerFor(providers, a).signal(a.handle!, 'cancel', options.graceSeconds)
  // A cancelled job's secrets are needed by no boot to come: a cloud attempt's one-time object
  // goes now, fetched or not (an instance that never booted never fetched, so never deleted it;
  // one that boots later fails its boot, as a cancelled attempt should). The cancel ends the
  // attempt, so its controller may never release it.
  for (const a of live) {
    await deleteAttemptSecrets(options.attemptHolds, providerFor(providers, a), job, a.id).catch((error: unknown) => {
      store.addEvent(job.id, a.id, 'secrets-delete-failed', {message: asProviderError(a.provider, error).message})
    })
  }
  const until = Date.now() + (options.waitMs ?? (options.graceSeconds + 15) * 1000)
  // Once an attempt is released its gang objects and its list of transfers go too (its nodes no longer read them).
  const released = async (a: (typeof live)[number]) => {
    store.markReleased(a.id)
    await deleteAttemptGang(options.attemptHolds, providerFor(providers, a), job, a.id).catch((error: unknown) => {
      store.addEvent(job.id, a.id, 'gang-objects-delete-failed', {message: asProviderError(a.provider, error).message})
    })
    await deleteAttemptTransfers(options.attemptHolds, providerFor(providers, a), job, a.id).catch((error: unknown) => {
      store.addEvent(job.id, a.id, 'transfers-delete-failed', {message: asProviderError(a.provider, error).message})
    })
  }
  for (const a of live) {
    const provider = providerFor(providers, a)
    let takenAway = false
    for (;;) {
      const r = (await provider.poll([a.handle!])).get(a.handle!.externalId)
      // Not started yet (an instance still booting, a pod or batch job still waiting): nothing
      // runs that could save a checkpoint, and a booting instance reads no stop request, so the
      // grace would only be waited out. Taken away at once.
      if (r && (r.state === 'PENDING' || r.state === 'PROVISIONING') && !takenAway) {
        takenAway = true
        if (
          await provider.cleanup(a.handle!).then(
            () => true,
            () => false,
          )
        ) {
          store.updateAttempt(
            a.id,
            {state: 'CANCELLED', endedAt: new Date().toISOString(), exitCode: null, reason: 'cancelled by user before it started'},
            {kind: 'attempt-cancelled'},
          )
          await released(a)
          break
        }
      }
      if (!r || TERMINAL_ATTEMPT_STATES.has(r.state)) {
        store.updateAttempt(
          a.id,
          {
            state: r?.state === 'SUCCEEDED' || r?.state === 'FAILED' ? r.state : 'CANCELLED',
            endedAt: r?.endedAt ?? new Date().toISOString(),
            exitCode: r?.exitCode ?? null,
            reason: 'cancelled by user',
          },
          {kind: 'attempt-cancelled'},
        )
        // A failed cleanup leaves the attempt unreleased for the idle guard (idle.ts) to retry.
        if (
          await provider.cleanup(a.handle!).then(
            () => true,
            () => false,
          )
        )
          await released(a)
        break
      }
      if (Date.now() > until) {
        throw new ProviderError(
          a.provider,
          'transient',
          `attempt ${a.id} did not stop within ${Math.round((options.waitMs ?? 0) / 1000) || options.graceSeconds + 15} s of the cancel`,
          {
            hint: 'It was sent SIGKILL after the grace; check the backend, then run `skyhop cancel` again.',
          },
        )
      }
      await sleep(250)
    }
  }
  return {job: summarize(store, store.getJob(job.id)!), alreadyEnded: false, signalled: live.map((a) => a.id)}
}

export async function cancel(ctx: ServiceContext, options: {job: string; graceSeconds: number; actor?: Actor}): Promise<CancelResult> {
  return cancelJob(await ctx.store(), await ctx.providers(), options.job, {
    graceSeconds: options.graceSeconds,
    attemptHolds: await ctx.attemptHolds(),
    // Who cancels: this process's identity, or whom the dashboard's token names.
    actor: options.actor ?? actorOf(ctx.config()),
  })
}
