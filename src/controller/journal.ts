// The controller's one way to the state store: the reads and writes it needs to drive a
// job, named for what they mean. The controller records every intent before acting and
// every outcome after; keeping that to a handful of calls is what makes a crash at any
// point reconcilable, and lets the controller be driven over another store.
import type {AttemptRecord, EventRecord, JobRecord, JobState, NewAttempt, ObservationRecord} from '../model/records.js'
import type {Store} from '../state/store.js'

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
}
