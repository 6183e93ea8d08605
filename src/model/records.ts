// What the state store keeps, as every room reads it: jobs, attempts, sweeps, events and
// observations. Types only (and the set of final job states), so the store, the
// controller, the checkpoint store and the services share them without importing each other.
import type {AttemptState, LaunchHandle} from './attempt.js'
import type {JobSpec} from './job-spec.js'
import type {UsageSummary} from './usage.js'

export type JobState = 'PENDING' | 'PROVISIONING' | 'RUNNING' | 'RECOVERING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED'
export const TERMINAL_JOB_STATES: ReadonlySet<JobState> = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED'])

/** Attempt states: the provider's, plus REQUESTED (intent recorded, launch not yet confirmed). */
export type AttemptRecordState = AttemptState | 'REQUESTED'

export interface JobRecord {
  id: string
  name: string
  file: string | null
  spec: JobSpec
  state: JobState
  createdAt: string
  updatedAt: string
  sweepId: string | null
  matrix: Record<string, unknown> | null
  exitCode: number | null
  reason: string | null
  restarts: number
  errorRestarts: number
  leaseOwner: string | null
  leaseExpiresAt: number | null
  options: Record<string, unknown>
  /** Who launched it (config `identity`, SKYHOP_IDENTITY or the OS user); null for jobs from before owners. */
  owner: string | null
  /** The chosen candidate's hourly price in USD when it was recorded; null when unknown. Budgets count it. */
  plannedUsdPerHour: number | null
}

export interface AttemptRecord {
  id: string
  jobId: string
  n: number
  provider: string
  region: string
  zone: string | null
  instanceType: string
  accelerator: string | null
  acceleratorCount: number | null
  spot: boolean
  pricePerHour: number | null
  currency: string | null
  onDemandPricePerHour: number | null
  billingGranularitySeconds: number
  state: AttemptRecordState
  intentAt: string
  launchedAt: string | null
  startedAt: string | null
  endedAt: string | null
  /** When the instance/allocation was confirmed released (cleanup done); null while held or unknown. */
  releasedAt: string | null
  exitCode: number | null
  reason: string | null
  handle: LaunchHandle | null
  error: Record<string, unknown> | null
}

export type SweepState = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED'

export interface SweepRecord {
  id: string
  name: string
  file: string | null
  state: SweepState
  createdAt: string
  updatedAt: string
  /** The base job (before expansion), with the merged matrix. */
  spec: JobSpec
  budgetUsd: number | null
  options: Record<string, unknown>
  plan: Record<string, unknown> | null
  reason: string | null
  leaseOwner: string | null
  leaseExpiresAt: number | null
  /** Who launched it; null for sweeps from before owners. */
  owner: string | null
}

export interface NewSweep {
  name: string
  file: string | null
  spec: JobSpec
  budgetUsd: number | null
  options: Record<string, unknown>
  plan: Record<string, unknown> | null
  owner?: string | null
  /** Recorded with its lease held (`sweep --wait`), as NewJob.lease. */
  lease?: {owner: string; ttlMs: number}
}

/** An attempt with what cost accounting needs of its job. */
export interface CostRow {
  attempt: AttemptRecord
  jobId: string
  jobName: string
  sweepId: string | null
  checkpointIntervalSeconds: number | null
  /** True when the attempt's preemption was asked for with `skyhop preempt` (a rehearsal, not the backend). */
  preemptRequested: boolean
  /** What the attempt used, from its runner's samples; null when nothing was sampled (docs/utilisation.md). */
  usage?: UsageSummary | null
  /** The job's idle policy stopped this attempt (event `usage-idle-stop`). */
  idleStopped?: boolean
  /**
   * Set for a service's replica (skyhop serve; jobId and jobName are the service's): what it
   * did was answer requests, so a preemption loses none of its time. Absent for jobs.
   */
  service?: true
}

/**
 * The event that settles a create whose outcome stayed unknown (controller/unknown-creates.ts):
 * its data says whether an instance was found after all, and stopped.
 */
export const UNKNOWN_CREATE_SETTLED = 'attempt-unknown-create-settled'

export interface EventRecord {
  id: number
  jobId: string
  attemptId: string | null
  ts: string
  kind: string
  data: Record<string, unknown>
}

/** What the controller saw; mirrors the planner's Observation kinds (src/planner/types.ts). */
export type ObservationKind = 'provisioning-wait' | 'capacity-failure' | 'quota-failure' | 'preemption' | 'spot-uptime'

export interface ObservationRecord {
  ts: string
  provider: string
  region: string | null
  zone: string | null
  accelerator: string | null
  spot: boolean
  kind: ObservationKind
  valueSeconds: number | null
}

export interface NewJob {
  name: string
  file: string | null
  spec: JobSpec
  sweepId?: string | null
  matrix?: Record<string, unknown> | null
  options?: Record<string, unknown>
  owner?: string | null
  plannedUsdPerHour?: number | null
  /**
   * Recorded with its lease already held by this controller: a job driven by the process that
   * records it (`launch --wait`) is never claimed by an agent in between.
   */
  lease?: {owner: string; ttlMs: number}
}

export interface NewAttempt {
  jobId: string
  provider: string
  region: string
  zone: string | null
  instanceType: string
  accelerator: string | null
  acceleratorCount: number | null
  spot: boolean
  pricePerHour: number | null
  currency: string | null
  onDemandPricePerHour: number | null
  billingGranularitySeconds?: number
  /**
   * Reference work-hours the attempt does per hour of running, from the plan it was launched
   * from (kept in its `attempt-requested` event; the controller's estimate of work done).
   */
  workPerHour?: number | null
}
