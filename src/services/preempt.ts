// The `preempt` service: a rehearsal of a spot interruption on a running job.
import {UsageError} from '../errors.js'
import type {Provider} from '../providers/provider.js'
import type {Store} from '../state/store.js'
import {TERMINAL_JOB_STATES} from '../model/records.js'
import type {ServiceContext} from './context.js'
import {type JobSummary, liveAttempts, providerFor, summarize} from './jobs.js'
import {type Actor, actorOf, requireMayAct} from './owners.js'

export interface PreemptResult {
  job: JobSummary
  attempt: string
}

/** Delivers an interruption notice to the job's live attempt through the provider's real path. */
export async function preemptJob(
  store: Store,
  providers: ReadonlyMap<string, Provider>,
  ref: string,
  options: {graceSeconds: number; actor?: Actor},
): Promise<PreemptResult> {
  const job = store.findJob(ref)
  if (options.actor) requireMayAct(options.actor, {kind: 'job', ...job}, 'preempt')
  const live = liveAttempts(store, job.id).find((a) => a.handle)
  if (!live || TERMINAL_JOB_STATES.has(job.state)) {
    throw new UsageError(`job ${job.name} (${job.id}) has no running attempt to preempt (state ${job.state})`, {code: 'JOB_NOT_RUNNING'})
  }
  await providerFor(providers, live).signal(live.handle!, 'preempt', options.graceSeconds)
  store.addEvent(job.id, live.id, 'preempt-requested', {graceSeconds: options.graceSeconds})
  return {job: summarize(store, job), attempt: live.id}
}

export async function preempt(ctx: ServiceContext, options: {job: string; graceSeconds: number}): Promise<PreemptResult> {
  return preemptJob(await ctx.store(), await ctx.providers(), options.job, {
    graceSeconds: options.graceSeconds,
    actor: actorOf(ctx.config()),
  })
}
