// Services behind status, logs, cancel and preempt. They act on the store and the
// provider of a job's live attempt; none of them knows about flags or terminals.
import {ProviderError, UsageError} from '../errors.js'
import {type Provider} from '../providers/provider.js'
import {type LaunchHandle, TERMINAL_ATTEMPT_STATES} from '../model/attempt.js'
import {type Store} from '../state/store.js'
import {type AttemptRecord, type EventRecord, type JobRecord, type JobState, TERMINAL_JOB_STATES} from '../model/records.js'

export interface JobSummary {
  id: string
  name: string
  state: JobState
  provider: string | null
  region: string | null
  instanceType: string | null
  accelerator: string | null
  spot: boolean | null
  attempts: number
  restarts: number
  exitCode: number | null
  reason: string | null
  createdAt: string
  updatedAt: string
  sweepId: string | null
}

export interface AttemptSummary {
  id: string
  n: number
  provider: string
  region: string
  zone: string | null
  instanceType: string
  accelerator: string | null
  spot: boolean
  state: string
  pricePerHour: number | null
  currency: string | null
  launchedAt: string | null
  startedAt: string | null
  endedAt: string | null
  exitCode: number | null
  reason: string | null
  externalId: string | null
}

export interface JobDetail extends JobSummary {
  file: string | null
  attemptsDetail: AttemptSummary[]
  events: Array<{ts: string; kind: string; attemptId: string | null; data: Record<string, unknown>}>
}

export function summarize(store: Store, job: JobRecord): JobSummary {
  const attempts = store.listAttempts(job.id)
  const last = [...attempts].reverse().find((a) => a.handle) ?? attempts.at(-1)
  return {
    id: job.id,
    name: job.name,
    state: job.state,
    provider: last?.provider ?? null,
    region: last?.region ?? null,
    instanceType: last?.instanceType ?? null,
    accelerator: last?.accelerator ? `${last.accelerator}:${last.acceleratorCount}` : null,
    spot: last ? last.spot : null,
    attempts: attempts.length,
    restarts: job.restarts + job.errorRestarts,
    exitCode: job.exitCode,
    reason: job.reason,
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
    sweepId: job.sweepId,
  }
}

export function attemptSummary(a: AttemptRecord): AttemptSummary {
  return {
    id: a.id,
    n: a.n,
    provider: a.provider,
    region: a.region,
    zone: a.zone,
    instanceType: a.instanceType,
    accelerator: a.accelerator ? `${a.accelerator}:${a.acceleratorCount}` : null,
    spot: a.spot,
    state: a.state,
    pricePerHour: a.pricePerHour,
    currency: a.currency,
    launchedAt: a.launchedAt,
    startedAt: a.startedAt,
    endedAt: a.endedAt,
    exitCode: a.exitCode,
    reason: a.reason,
    externalId: a.handle?.externalId ?? null,
  }
}

export function jobDetail(store: Store, ref: string): JobDetail {
  const job = store.findJob(ref)
  return {
    ...summarize(store, job),
    file: job.file,
    attemptsDetail: store.listAttempts(job.id).map(attemptSummary),
    events: store.events(job.id).map((e: EventRecord) => ({ts: e.ts, kind: e.kind, attemptId: e.attemptId, data: e.data})),
  }
}

export function listJobs(store: Store, filter: {sweepId?: string; limit?: number} = {}): JobSummary[] {
  return store.listJobs(filter).map((j) => summarize(store, j))
}

function providerFor(providers: ReadonlyMap<string, Provider>, attempt: AttemptRecord): Provider {
  const p = providers.get(attempt.provider)
  if (!p) {
    throw new ProviderError(attempt.provider, 'unavailable', `attempt ${attempt.id} ran on ${attempt.provider}, which is not configured here`, {
      hint: 'Configure that provider (see `skyhop check`) and try again.',
    })
  }
  return p
}

function liveAttempts(store: Store, jobId: string): AttemptRecord[] {
  return store.listAttempts(jobId).filter((a) => a.handle && (a.state === 'REQUESTED' || !TERMINAL_ATTEMPT_STATES.has(a.state as never)))
}

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
  options: {graceSeconds: number; waitMs?: number; sleep?: (ms: number) => Promise<void>},
): Promise<CancelResult> {
  const job = store.findJob(ref)
  if (TERMINAL_JOB_STATES.has(job.state)) return {job: summarize(store, job), alreadyEnded: true, signalled: []}
  store.setJobState(job.id, 'CANCELLED', {kind: 'cancel-requested', data: {graceSeconds: options.graceSeconds}}, {reason: 'cancelled by user'})
  const sleep = options.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)))
  const live = liveAttempts(store, job.id)
  for (const a of live) await providerFor(providers, a).signal(a.handle!, 'cancel', options.graceSeconds)
  const until = Date.now() + (options.waitMs ?? (options.graceSeconds + 15) * 1000)
  for (const a of live) {
    const provider = providerFor(providers, a)
    for (;;) {
      const r = (await provider.poll([a.handle!])).get(a.handle!.externalId)
      if (!r || TERMINAL_ATTEMPT_STATES.has(r.state)) {
        store.updateAttempt(
          a.id,
          {state: r?.state === 'SUCCEEDED' || r?.state === 'FAILED' ? r.state : 'CANCELLED', endedAt: r?.endedAt ?? new Date().toISOString(), exitCode: r?.exitCode ?? null, reason: 'cancelled by user'},
          {kind: 'attempt-cancelled'},
        )
        // A failed cleanup leaves the attempt unreleased for the idle guard (idle.ts) to retry.
        if (await provider.cleanup(a.handle!).then(() => true, () => false)) store.markReleased(a.id)
        break
      }
      if (Date.now() > until) {
        throw new ProviderError(a.provider, 'transient', `attempt ${a.id} did not stop within ${Math.round((options.waitMs ?? 0) / 1000) || options.graceSeconds + 15} s of the cancel`, {
          hint: 'It was sent SIGKILL after the grace; check the backend, then run `skyhop cancel` again.',
        })
      }
      await sleep(250)
    }
  }
  return {job: summarize(store, store.getJob(job.id)!), alreadyEnded: false, signalled: live.map((a) => a.id)}
}

/** Delivers an interruption notice to the job's live attempt through the provider's real path. */
export async function preemptJob(
  store: Store,
  providers: ReadonlyMap<string, Provider>,
  ref: string,
  options: {graceSeconds: number},
): Promise<{job: JobSummary; attempt: string}> {
  const job = store.findJob(ref)
  const live = liveAttempts(store, job.id).find((a) => a.handle)
  if (!live || TERMINAL_JOB_STATES.has(job.state)) {
    throw new UsageError(`job ${job.name} (${job.id}) has no running attempt to preempt (state ${job.state})`, {code: 'JOB_NOT_RUNNING'})
  }
  await providerFor(providers, live).signal(live.handle!, 'preempt', options.graceSeconds)
  store.addEvent(job.id, live.id, 'preempt-requested', {graceSeconds: options.graceSeconds})
  return {job: summarize(store, job), attempt: live.id}
}

/**
 * Log lines of a job: the given attempt, or the latest; with `follow`, keeps going into
 * the next attempt after a recovery until the job ends.
 */
export async function* jobLogs(
  store: Store,
  providers: ReadonlyMap<string, Provider>,
  ref: string,
  options: {follow: boolean; attempt?: number; signal?: AbortSignal; sleep?: (ms: number) => Promise<void>},
): AsyncGenerator<{attempt: number; line: string}> {
  const job = store.findJob(ref)
  const sleep = options.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)))
  const withHandle = () => store.listAttempts(job.id).filter((a) => a.handle)
  let attempts = withHandle()
  if (options.attempt !== undefined) {
    const a = attempts.find((x) => x.n === options.attempt)
    if (!a) throw new UsageError(`job ${job.name} has no attempt ${options.attempt}; it has ${attempts.map((x) => x.n).join(', ') || 'none yet'}`, {code: 'ATTEMPT_NOT_FOUND'})
    for await (const line of providerFor(providers, a).logs(a.handle as LaunchHandle, {follow: options.follow, signal: options.signal})) yield {attempt: a.n, line}
    return
  }
  let shown = 0
  for (;;) {
    if (options.signal?.aborted) return
    attempts = withHandle()
    const next = options.follow ? attempts.find((a) => a.n > shown) : attempts.at(-1)
    if (next) {
      shown = next.n
      for await (const line of providerFor(providers, next).logs(next.handle!, {follow: options.follow, signal: options.signal})) yield {attempt: next.n, line}
      if (!options.follow) return
      continue
    }
    if (!options.follow) {
      if (attempts.length === 0) throw new UsageError(`job ${job.name} (${job.id}) has not started an attempt yet`, {code: 'NO_LOGS_YET'})
      return
    }
    if (TERMINAL_JOB_STATES.has(store.getJob(job.id)!.state) && !store.listAttempts(job.id).some((a) => a.n > shown && a.handle)) return
    // Short: `launch --wait` is waiting here for the first attempt's first line.
    await sleep(20)
  }
}
