// The controller's one way to the state store: the reads and writes it needs to drive a
// job, named for what they mean. The controller records every intent before acting and
// every outcome after; keeping that to a handful of calls is what makes a crash at any
// point reconcilable, and lets the controller be driven over another store.
import type {UsageRecord} from '../model/usage.js'
import type {
  AttemptRecord,
  CostRow,
  EventRecord,
  JobRecord,
  JobState,
  NewAttempt,
  ObservationRecord,
  SweepRecord,
  SweepState,
} from '../model/records.js'
import type {Store} from '../state/store.js'
import type {IdleLedger} from './idle.js'

/** What an attempt's outcome may change. */
export type AttemptPatch = Partial<
  Pick<AttemptRecord, 'state' | 'launchedAt' | 'startedAt' | 'endedAt' | 'exitCode' | 'reason' | 'handle' | 'error'>
>

/** The event that explains a state change, written in the same transaction. */
export interface JournalEvent {
  kind: string
  data?: Record<string, unknown>
}

export interface JobStateFields {
  exitCode?: number | null
  reason?: string | null
  restarts?: number
  errorRestarts?: number
}

export interface Journal {
  // ---- the lease: exactly one controller drives a job -----------------------------------
  /** Takes the job's lease if it is free, expired, or already ours. */
  takeLease(jobId: string, owner: string, ttlMs: number): boolean
  /** False when the lease is no longer ours. */
  renewLease(jobId: string, owner: string, ttlMs: number): boolean
  releaseLease(jobId: string, owner: string): void

  // ---- reading the job as it stands -----------------------------------------------------
  job(jobId: string): JobRecord | undefined
  attempt(attemptId: string): AttemptRecord | undefined
  /** The job's attempts in order. */
  attempts(jobId: string): readonly AttemptRecord[]
  /** The job's attempts that ever ran (a start time recorded), in order. */
  startedAttempts(jobId: string): readonly AttemptRecord[]
  /** The job's first attempt not known to be over, if any. */
  openAttempt(jobId: string): AttemptRecord | undefined
  events(jobId: string): EventRecord[]

  // ---- writing: intent before acting, outcome after -------------------------------------
  /** The intent to launch an attempt, before any backend call; null (nothing written) when the job has ended. */
  recordIntent(input: NewAttempt): AttemptRecord | null
  /** What became of an attempt (launched, started, ended, failed), with the event saying so. */
  recordOutcome(attemptId: string, patch: AttemptPatch, event?: JournalEvent): void
  /** The attempt's instance or allocation was released. */
  recordReleased(attemptId: string): void
  /** Moves the job to `state`; an ended job stays ended (false then). */
  recordJobState(jobId: string, state: JobState, event: JournalEvent & {attemptId?: string | null}, fields?: JobStateFields): boolean
  recordEvent(jobId: string, attemptId: string | null, kind: string, data?: Record<string, unknown>): void
  /** What the planner learns from: provisioning waits, capacity failures, preemptions, spot uptimes. */
  recordObservation(o: Omit<ObservationRecord, 'ts'>): void
  /** What an attempt used so far, from its runner's samples (docs/utilisation.md). */
  recordUsage(u: UsageRecord): void
}

/** The journal over skyhop's state store. */
export class StoreJournal implements Journal {
  constructor(private readonly store: Store) {}

  takeLease(jobId: string, owner: string, ttlMs: number): boolean {
    return this.store.acquireLease(jobId, owner, ttlMs)
  }

  renewLease(jobId: string, owner: string, ttlMs: number): boolean {
    return this.store.renewLease(jobId, owner, ttlMs)
  }

  releaseLease(jobId: string, owner: string): void {
    this.store.releaseLease(jobId, owner)
  }

  job(jobId: string): JobRecord | undefined {
    return this.store.getJob(jobId)
  }

  attempt(attemptId: string): AttemptRecord | undefined {
    return this.store.getAttempt(attemptId)
  }

  attempts(jobId: string): readonly AttemptRecord[] {
    return this.store.listAttempts(jobId)
  }

  startedAttempts(jobId: string): readonly AttemptRecord[] {
    return this.store.startedAttempts(jobId)
  }

  openAttempt(jobId: string): AttemptRecord | undefined {
    return this.store.openAttempt(jobId)
  }

  events(jobId: string): EventRecord[] {
    return this.store.events(jobId)
  }

  recordIntent(input: NewAttempt): AttemptRecord | null {
    return this.store.recordAttemptIntent(input)
  }

  recordOutcome(attemptId: string, patch: AttemptPatch, event?: JournalEvent): void {
    this.store.updateAttempt(attemptId, patch, event)
  }

  recordReleased(attemptId: string): void {
    this.store.markReleased(attemptId)
  }

  recordJobState(jobId: string, state: JobState, event: JournalEvent & {attemptId?: string | null}, fields: JobStateFields = {}): boolean {
    return this.store.setJobState(jobId, state, event, fields)
  }

  recordEvent(jobId: string, attemptId: string | null, kind: string, data: Record<string, unknown> = {}): void {
    this.store.addEvent(jobId, attemptId, kind, data)
  }

  recordObservation(o: Omit<ObservationRecord, 'ts'>): void {
    this.store.addObservation(o)
  }

  recordUsage(u: UsageRecord): void {
    this.store.recordUsage(u)
  }
}

/**
 * What the sweep driver needs besides each job's journal: the sweep's own lease, its jobs and
 * final state, what its attempts cost (for the budget gate), and what the idle guard releases.
 */
export interface SweepJournal extends Journal, IdleLedger {
  sweep(sweepId: string): SweepRecord | undefined
  sweepJobs(sweepId: string): JobRecord[]
  recordSweepState(sweepId: string, state: SweepState, reason: string | null): void
  takeSweepLease(sweepId: string, owner: string, ttlMs: number): boolean
  renewSweepLease(sweepId: string, owner: string, ttlMs: number): boolean
  releaseSweepLease(sweepId: string, owner: string): void
  costRows(filter: {sweepId?: string; jobId?: string}): CostRow[]
}

/** The sweep journal over skyhop's state store. */
export class StoreSweepJournal extends StoreJournal implements SweepJournal {
  constructor(private readonly sweepStore: Store) {
    super(sweepStore)
  }

  sweep(sweepId: string): SweepRecord | undefined {
    return this.sweepStore.getSweep(sweepId)
  }

  sweepJobs(sweepId: string): JobRecord[] {
    return this.sweepStore.sweepJobs(sweepId)
  }

  recordSweepState(sweepId: string, state: SweepState, reason: string | null): void {
    this.sweepStore.setSweepState(sweepId, state, reason)
  }

  takeSweepLease(sweepId: string, owner: string, ttlMs: number): boolean {
    return this.sweepStore.acquireSweepLease(sweepId, owner, ttlMs)
  }

  renewSweepLease(sweepId: string, owner: string, ttlMs: number): boolean {
    return this.sweepStore.renewSweepLease(sweepId, owner, ttlMs)
  }

  releaseSweepLease(sweepId: string, owner: string): void {
    this.sweepStore.releaseSweepLease(sweepId, owner)
  }

  costRows(filter: {sweepId?: string; jobId?: string}): CostRow[] {
    return this.sweepStore.costRows(filter)
  }

  unreleasedAttempts(filter: {sweepId?: string; jobId?: string}): AttemptRecord[] {
    return this.sweepStore.unreleasedAttempts(filter)
  }

  getJob(id: string): JobRecord | undefined {
    return this.sweepStore.getJob(id)
  }

  markReleased(id: string, event: {kind: string; data?: Record<string, unknown>}, at: string): void {
    this.sweepStore.markReleased(id, event, at)
  }

  addEvent(jobId: string, attemptId: string | null, kind: string, data: Record<string, unknown> = {}): void {
    this.sweepStore.addEvent(jobId, attemptId, kind, data)
  }
}
