// The `status` service: every job (or a sweep's), or one job with its attempts and events.
import type {EventRecord} from '../model/records.js'
import type {Store} from '../state/store.js'
import type {ServiceContext} from './context.js'
import {actorOf} from './owners.js'
import {type AutoSummary, storedAutoSummary} from './right-sizing.js'
import {type AttemptSummary, type JobSummary, attemptSummary, nodeSummaries, summarize} from './jobs.js'

export interface JobDetail extends JobSummary {
  file: string | null
  attemptsDetail: AttemptSummary[]
  events: Array<{ts: string; kind: string; attemptId: string | null; data: Record<string, unknown>}>
  /** `accelerators: auto`: how they were chosen (docs/planner.md#accelerators-auto); absent for other jobs. */
  autoAccelerators?: AutoSummary
}

export function jobDetail(store: Store, ref: string): JobDetail {
  const job = store.findJob(ref)
  const events = store.events(job.id)
  // What each attempt used (the runner's samples, summarised by the controller as it polls).
  const usage = store.usage({jobId: job.id})
  const auto = storedAutoSummary(job.spec)
  return {
    ...summarize(store, job),
    file: job.file,
    attemptsDetail: store.listAttempts(job.id).map((a) => {
      const nodes = nodeSummaries(a, events)
      const u = usage.get(a.id)
      return {...attemptSummary(a), ...(nodes ? {nodes} : {}), ...(u ? {usage: u} : {})}
    }),
    events: events.map((e: EventRecord) => ({ts: e.ts, kind: e.kind, attemptId: e.attemptId, data: e.data})),
    ...(auto ? {autoAccelerators: auto} : {}),
  }
}

export function listJobs(store: Store, filter: {sweepId?: string; limit?: number; owner?: string} = {}): JobSummary[] {
  const jobs = store.listJobs(filter)
  const attempts = store.attemptsOfJobs(jobs.map((j) => j.id))
  return jobs.map((j) => summarize(store, j, attempts.get(j.id)))
}

export interface StatusOptions {
  /** A job id or name: that job in detail. */
  job?: string
  /** A sweep id or name: only its jobs. An unknown one is an error, not an empty list. */
  sweep?: string
  limit?: number
  /** Every user's jobs; default: only this user's (and those from before owners). */
  allUsers?: boolean
}

export type StatusResult = {jobs: JobSummary[]} | {job: JobDetail}

export async function jobStatus(ctx: ServiceContext, options: StatusOptions): Promise<StatusResult> {
  const store = await ctx.store()
  const sweepId = options.sweep === undefined ? undefined : store.findSweep(options.sweep).id
  if (options.job) return {job: jobDetail(store, options.job)}
  const owner = options.allUsers ? undefined : actorOf(ctx.config()).user
  return {jobs: listJobs(store, {sweepId, limit: options.limit, owner})}
}
