// What the job services (status, logs, cancel, preempt, launch) share: a job and its
// attempts as JSON-safe summaries, and the provider that holds a job's live attempt.
import type {UsageSummary} from '../model/usage.js'
import {ProviderError} from '../errors.js'
import type {Provider} from '../providers/provider.js'
import {TERMINAL_ATTEMPT_STATES, type AttemptState, type GangNode, type NodePoll} from '../model/attempt.js'
import type {Store} from '../state/store.js'
import type {AttemptRecord, EventRecord, JobRecord, JobState} from '../model/records.js'

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
  /** Who launched it; null for jobs from before owners. */
  owner: string | null
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
  /** A gang's nodes, rank order (see nodeSummaries). */
  nodes?: NodeSummary[]
  /** What it used, from the runner's samples (docs/utilisation.md); absent when never sampled. */
  usage?: UsageSummary
}

export interface NodeSummary {
  rank: number
  externalId: string | null
  ip: string | null
  state: AttemptState | null
  exitCode: number | null
  reason: string | null
}

/**
 * A gang's nodes: who they are from the launch handle, how they were from the last recorded
 * change of the attempt's state (the controller records each node's poll with it).
 */
export function nodeSummaries(a: AttemptRecord, events: readonly EventRecord[]): NodeSummary[] | undefined {
  const launched = Array.isArray(a.handle?.data.nodes) ? (a.handle.data.nodes as GangNode[]) : []
  const polled = [...events].reverse().find((e) => e.attemptId === a.id && Array.isArray(e.data.nodes))?.data.nodes as
    NodePoll[] | undefined
  const ranks = new Set([...launched.map((n) => n.rank), ...(polled ?? []).map((n) => n.rank)])
  if (ranks.size === 0) return undefined
  return [...ranks]
    .sort((x, y) => x - y)
    .map((rank) => {
      const node = launched.find((n) => n.rank === rank)
      const poll = polled?.find((n) => n.rank === rank)
      return {
        rank,
        externalId: node?.externalId ?? null,
        ip: node?.ip ?? null,
        state: poll?.state ?? null,
        exitCode: poll?.exitCode ?? null,
        reason: poll?.reason ?? null,
      }
    })
}

/** `attempts`: the job's, when the caller read them with others' (Store.attemptsOfJobs). */
export function summarize(store: Store, job: JobRecord, attempts: readonly AttemptRecord[] = store.listAttempts(job.id)): JobSummary {
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
    owner: job.owner,
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

export function providerFor(providers: ReadonlyMap<string, Provider>, attempt: AttemptRecord): Provider {
  const p = providers.get(attempt.provider)
  if (!p) {
    throw new ProviderError(
      attempt.provider,
      'unavailable',
      `attempt ${attempt.id} ran on ${attempt.provider}, which is not configured here`,
      {
        hint: 'Configure that provider (see `skyhop check`) and try again.',
      },
    )
  }
  return p
}

export function liveAttempts(store: Store, jobId: string): AttemptRecord[] {
  return store.listAttempts(jobId).filter((a) => a.handle && (a.state === 'REQUESTED' || !TERMINAL_ATTEMPT_STATES.has(a.state as never)))
}
