// Attempts held until the one they replace has stopped (a move from on-demand to spot
// launches spot first): the runner waits for a go before it restores the checkpoint or
// starts the job. The go is a file for attempts that see skyhop's filesystem (local,
// Slurm), or an object in the job's checkpoint store for a cloud's.
import {mkdirSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'

import {ProviderError, asProviderError} from '../errors.js'
import type {Provider} from '../providers/provider.js'
import type {AttemptHold} from '../runner/contract.js'
import {type AttemptRecord, type JobRecord, TERMINAL_JOB_STATES} from '../model/records.js'
import type {JobDrive} from './drive.js'

/** Turns of the loop a held attempt's go is tried before it is left to time out (each an HTTP call with its own retries). */
const MAX_RELEASE_TRIES = 3

export class Holds {
  /** Held attempts (see SpotMoves.moveToSpot), read from the store once each: how they are held. */
  private readonly heldBy = new Map<string, 'file' | 'store' | null>()
  /** Held attempts this controller let go, and when (ms): their run starts no earlier. */
  private readonly holdsReleased = new Map<string, number>()
  /** Gos that could not be given, per attempt (see MAX_RELEASE_TRIES). */
  private readonly releaseFailures = new Map<string, number>()

  constructor(private readonly d: JobDrive) {}

  /** Whether a new attempt on `provider` can be held: by a file it sees, or by the job's checkpoint store. */
  canHold(job: JobRecord, provider: Provider): boolean {
    return seesSkyhopFiles(provider) || (this.d.deps.attemptHolds?.covers(job) ?? false)
  }

  /** The hold a new attempt on `provider` gets, or null when it cannot be held. */
  async holdFor(job: JobRecord, attemptId: string, provider: Provider): Promise<AttemptHold | null> {
    // The old attempt's grace, the controller's minute past it, and a boot's worth of slack.
    const timeoutSeconds = job.spec.recovery.graceSeconds + 900
    if (seesSkyhopFiles(provider)) return {file: this.holdFile(job.id, attemptId), timeoutSeconds}
    const urls = await this.d.deps.attemptHolds?.sign(job, attemptId)
    return urls ? {url: urls.getUrl, timeoutSeconds} : null
  }

  holdFile(jobId: string, attemptId: string): string {
    return join(this.d.deps.home, 'holds', jobId, `${attemptId}.go`)
  }

  /**
   * How an attempt is held (from the store, once): 'file', 'store', or null when it is not.
   * A go an earlier controller gave is read back too, so it is neither given again nor
   * taken for a hold that never ended.
   */
  holdOf(attemptId: string): 'file' | 'store' | null {
    if (!this.heldBy.has(attemptId)) {
      const events = this.d.journal.events(this.d.jobId).filter((x) => x.attemptId === attemptId)
      const held = events.find((x) => x.kind === 'attempt-held')
      this.heldBy.set(attemptId, held === undefined ? null : held.data.via === 'store' ? 'store' : 'file')
      const released = events.find((x) => x.kind === 'attempt-hold-released')
      if (released !== undefined && !this.holdsReleased.has(attemptId)) this.holdsReleased.set(attemptId, Date.parse(released.ts))
    }
    return this.heldBy.get(attemptId) ?? null
  }

  heldUnreleased(attempt: AttemptRecord): boolean {
    return this.holdOf(attempt.id) !== null && !this.holdsReleased.has(attempt.id)
  }

  /** Lets a held attempt go. A go that cannot be given leaves the attempt to time out and fail. */
  async releaseHold(job: JobRecord, attempt: AttemptRecord): Promise<void> {
    const via = this.holdOf(attempt.id)
    this.holdsReleased.set(attempt.id, this.d.clock().getTime())
    try {
      if (via === 'file') {
        const file = this.holdFile(job.id, attempt.id)
        mkdirSync(dirname(file), {recursive: true})
        writeFileSync(file, `go ${this.d.clock().toISOString()}\n`)
      } else if (via === 'store') {
        const urls = await this.d.deps.attemptHolds?.sign(job, attempt.id)
        if (!urls) throw new ProviderError('skyhop', 'auth', 'the job no longer has a checkpoint store to write the go to')
        await this.d.deps.attemptHolds!.release(urls)
      }
      this.d.journal.recordEvent(job.id, attempt.id, 'attempt-hold-released', {via})
      this.d.emit('released', `attempt ${attempt.n} let go: the attempt it replaces has stopped`, {attemptId: attempt.id})
    } catch (error) {
      const perr = asProviderError(attempt.provider, error)
      const failures = (this.releaseFailures.get(attempt.id) ?? 0) + 1
      this.releaseFailures.set(attempt.id, failures)
      // A store briefly out of reach: try again on the next turns of the loop, then leave it.
      const again = failures < MAX_RELEASE_TRIES
      if (again) this.holdsReleased.delete(attempt.id)
      this.d.journal.recordEvent(job.id, attempt.id, 'attempt-hold-release-failed', {message: perr.message, tries: failures})
      this.d.emit(
        'warning',
        `could not let attempt ${attempt.n} go (${perr.message}); ${again ? 'trying again' : 'it will give up waiting and be relaunched'}`,
        {attemptId: attempt.id},
      )
    }
  }

  /**
   * Ends a held attempt that must never start (its job ended, or the attempt it was to
   * replace could not be asked to stop): it has run nothing, so it is released at once
   * and recorded as cancelled, never polled into the job's own story.
   */
  async stopHeld(job: JobRecord, attempt: AttemptRecord): Promise<void> {
    this.holdsReleased.set(attempt.id, this.d.clock().getTime())
    const provider = this.d.deps.providers.get(attempt.provider)
    this.d.emit('stopping', `stopping held attempt ${attempt.n}: it is no longer needed`, {attemptId: attempt.id})
    if (provider && attempt.handle) {
      await provider.signal(attempt.handle, 'cancel', 0).catch((error: unknown) => {
        this.d.journal.recordEvent(this.d.jobId, attempt.id, 'cancel-failed', {message: asProviderError(provider.name, error).message})
      })
      await this.d.ends.release(attempt)
    }
    this.d.journal.recordOutcome(
      attempt.id,
      {
        state: 'CANCELLED',
        endedAt: this.d.clock().toISOString(),
        reason: `held and never started: ${TERMINAL_JOB_STATES.has(job.state) ? `the job ended (${job.state})` : 'the move to spot was called off'}`,
      },
      {kind: 'attempt-cancelled'},
    )
  }

  /** How the attempt just launched is held (null: it is not). */
  noteHold(attemptId: string, hold: AttemptHold | null): void {
    this.heldBy.set(attemptId, hold === null ? null : 'file' in hold ? 'file' : 'store')
  }

  /** When this controller let a held attempt go (ms), if it did: its run starts no earlier. */
  releasedAt(attemptId: string): number | undefined {
    return this.holdsReleased.get(attemptId)
  }
}

/** Whether the provider's attempts see skyhop's filesystem (local, Slurm) rather than an instance's own disk. */
function seesSkyhopFiles(provider: Provider): boolean {
  return (provider.attemptStorage ?? 'shared') === 'shared'
}
