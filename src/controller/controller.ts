// The controller drives one job to an end: plan → launch the best candidate → on a
// classified failure block its scope and try the next → poll → on preemption re-plan and
// relaunch so the job resumes from its checkpoint. It records every intent before acting
// and every outcome after (through journal.ts), holds a lease so only one controller drives
// a job, and is safe to kill at any point: a new controller picks up from the store (see
// LaunchRounds.reconcileRequested). This file is the loop and the lease; the parts it drives
// are launch-round.ts (candidates, failover), spot-moves.ts (waiting for spot, moving back to
// it), holds.ts (attempts held until the one they replace has stopped) and attempt-end.ts
// (polling, an attempt's end, releasing what it held); unknown-creates.ts stops what a create
// whose outcome stayed unknown made after all.
import {LeaseHeldError, isSkyhopError} from '../errors.js'
import {type PollResult, TERMINAL_ATTEMPT_STATES} from '../model/attempt.js'
import {type AttemptRecord, type JobRecord, TERMINAL_JOB_STATES, UNKNOWN_CREATE_SETTLED} from '../model/records.js'
import {AttemptEnds} from './attempt-end.js'
import {missingSecrets, secretsHeld} from './contract-env.js'
import {ShipRenewal} from './ship-renewal.js'
import {UsageWatch} from './usage-watch.js'
import type {ControllerDeps} from './deps.js'
import {JobDrive} from './drive.js'
import {Holds} from './holds.js'
import {LaunchRounds, TAG_LOOKUP_BUDGET_MS, launchBudgets} from './launch-round.js'
import {settleUnknownCreate, unsettledCreates} from './unknown-creates.js'
import {SpotMoves} from './spot-moves.js'

/** The job events with which AttemptEnds.onAttemptEnded answers an attempt's end. */
const ATTEMPT_END_ANSWERS = new Set([
  'job-succeeded',
  'job-failed',
  'job-restarting-on-error',
  'job-recovering',
  'job-cancelled',
  'job-migrating',
])

/**
 * How long a controller's lease lasts without a heartbeat; `recover` takes over jobs whose
 * lease expired. SKYHOP_LEASE_TTL_SECONDS tunes it (tests shorten it).
 */
export const LEASE_TTL_MS = Math.max(1, Number(process.env.SKYHOP_LEASE_TTL_SECONDS) || 15) * 1000
const HEARTBEAT_MS = Math.max(200, Math.floor(LEASE_TTL_MS / 3))

/** Drives the job until it ends; returns the final job record. */
export async function driveJob(jobId: string, deps: ControllerDeps): Promise<JobRecord> {
  return new JobController(jobId, deps).run()
}

/** How often creates whose outcome stayed unknown are looked up again while the job goes on. */
const UNKNOWN_CREATE_LOOK_MS = 30_000

class JobController {
  private readonly d: JobDrive
  private heartbeat?: NodeJS.Timeout
  private unknownCreatesLookedAt = Number.NEGATIVE_INFINITY

  constructor(jobId: string, deps: ControllerDeps) {
    this.d = new JobDrive(jobId, deps)
    this.d.launch = new LaunchRounds(this.d)
    this.d.spot = new SpotMoves(this.d)
    this.d.holds = new Holds(this.d)
    this.d.ends = new AttemptEnds(this.d)
    this.d.usage = new UsageWatch(this.d)
    this.d.shipRenewal = new ShipRenewal(this.d)
  }

  async run(): Promise<JobRecord> {
    if (!this.d.journal.takeLease(this.d.jobId, this.d.deps.owner, LEASE_TTL_MS)) {
      throw new LeaseHeldError(`job ${this.d.jobId} is driven by another controller`)
    }
    this.heartbeat = setInterval(() => {
      if (!this.d.journal.renewLease(this.d.jobId, this.d.deps.owner, LEASE_TTL_MS)) this.d.lostLease = true
    }, HEARTBEAT_MS)
    this.heartbeat.unref()
    try {
      return await this.loop()
    } finally {
      clearInterval(this.heartbeat)
      this.d.journal.releaseLease(this.d.jobId, this.d.deps.owner)
    }
  }

  private async loop(): Promise<JobRecord> {
    for (;;) {
      if (this.d.deps.signal?.aborted || this.d.lostLease) return this.d.job()
      const job = this.d.job()
      const live = this.d.liveAttempt()
      if (TERMINAL_JOB_STATES.has(job.state)) {
        // A cancel may have landed while an attempt still runs: make sure it stops. One this
        // controller stopped itself (the cancel never saw it) is waited for until it is gone.
        if (live?.handle) {
          // A held attempt whose job ended before it was let go (the attempt it was to
          // replace finished the job): it never starts; stop it.
          if (this.d.holds.heldUnreleased(live)) {
            await this.d.holds.stopHeld(job, live)
            continue
          }
          await this.d.ends.settleAfterEnd(live)
          if (this.d.stopping.has(live.id)) continue
        }
        await this.settleUnknownCreates(true)
        return this.d.job()
      }
      await this.settleUnknownCreates(false)
      // Launching needs the job's secrets; a controller whose environment lacks them holds the
      // job (unfinished, no attempt recorded against it) and leaves it to one that has them. A
      // run a killed controller launched is still found by its tag, which needs none.
      if ((!live || live.state === 'REQUESTED' || !live.handle) && this.lacksSecrets(job)) {
        if (live && (await this.d.launch.adoptRequested(live))) continue
        this.holdForSecrets(job)
        return this.d.job()
      }
      if (!live) {
        // An attempt that ended with the job's verdict (it succeeded, or failed for good) while
        // the controller that saw it end died before recording the job's end: settle that end
        // now. Launching again would run a finished job a second time.
        const unsettled = this.unsettledEnd(job)
        if (unsettled) {
          await this.d.ends.onAttemptEnded(job, unsettled, {
            state: unsettled.state as PollResult['state'],
            exitCode: unsettled.exitCode,
            reason: unsettled.reason,
            startedAt: unsettled.startedAt,
            endedAt: unsettled.endedAt,
          })
          continue
        }
        try {
          const started = await this.d.launch.launchRound(job)
          if (!started) continue
        } catch (error) {
          this.failJob(error)
          return this.d.job()
        }
        continue
      }
      if (live.state === 'REQUESTED' || !live.handle) {
        // We (or a crashed controller) recorded the intent but not the outcome: launching
        // again with the same idempotency key returns the existing run or creates it once.
        await this.d.launch.reconcileRequested(job, live)
        continue
      }
      // The first open attempt is a held one: the attempt it replaces has ended, its last
      // checkpoint saved. Let it go.
      if (this.d.holds.heldUnreleased(live)) await this.d.holds.releaseHold(job, live)
      const result = await this.d.ends.pollOne(live)
      if (result && TERMINAL_ATTEMPT_STATES.has(result.state)) {
        await this.d.ends.onAttemptEnded(this.d.job(), this.d.journal.attempt(live.id)!, result)
        continue
      }
      if (await this.d.spot.migrationOverdue(live)) continue
      // Asked to stop for a migration: look again at once (it may be gone already).
      if (result?.state === 'RUNNING' && (await this.d.spot.considerRespot(this.d.job(), this.d.journal.attempt(live.id)!))) continue
      // The batch poller's cadence is the wait; a direct poll waits here.
      if (!this.d.deps.poller) await this.d.sleep(this.d.pollIntervalMs)
    }
  }

  /**
   * Creates of this job whose outcome stayed unknown (unknown-creates.ts): looked up by their
   * tag every UNKNOWN_CREATE_LOOK_MS while the job goes on, and once more as it ends (`atEnd`),
   * each within a look-up's budget. An instance found is stopped; one still unanswered is left
   * to `recover` (or `down --orphans`).
   */
  private async settleUnknownCreates(atEnd: boolean): Promise<void> {
    const now = this.d.clock().getTime()
    if (!atEnd && now - this.unknownCreatesLookedAt < UNKNOWN_CREATE_LOOK_MS) return
    this.unknownCreatesLookedAt = now
    const pending = unsettledCreates(this.d.journal.attempts(this.d.jobId), this.d.journal.events(this.d.jobId))
    if (pending.length === 0) return
    const budgetMs = Math.min(TAG_LOOKUP_BUDGET_MS, launchBudgets(this.d.deps.env ?? process.env).candidateMs || TAG_LOOKUP_BUDGET_MS)
    for (const attempt of pending) {
      const provider = this.d.deps.providers.get(attempt.provider)
      if (!provider) continue
      const outcome = await settleUnknownCreate(provider, attempt, budgetMs)
      if (!outcome.settled) continue
      this.d.journal.recordEvent(
        this.d.jobId,
        attempt.id,
        UNKNOWN_CREATE_SETTLED,
        outcome.found ? {found: true, externalId: outcome.externalId} : {found: false},
      )
      if (outcome.found) {
        this.d.emit(
          'stopped',
          `attempt ${attempt.id}'s create, whose answer never came, made ${outcome.externalId} after all: stopped it`,
          {
            attemptId: attempt.id,
          },
        )
      }
    }
  }

  /**
   * The job's latest attempt when it ran and ended SUCCEEDED or FAILED but no job event answers
   * that end (ATTEMPT_END_ANSWERS, written with the attempt's id). A launch that failed is not such an end: the
   * launch round answers it by trying the next candidate.
   */
  private unsettledEnd(job: JobRecord): AttemptRecord | null {
    const attempts = this.d.journal.attempts(job.id)
    const latest = attempts.reduce<AttemptRecord | null>((a, b) => (a === null || b.n > a.n ? b : a), null)
    if (!latest || (latest.state !== 'SUCCEEDED' && latest.state !== 'FAILED') || !latest.handle) return null
    const events = this.d.journal.events(job.id).filter((e) => e.attemptId === latest.id)
    if (events.some((e) => e.kind === 'attempt-launch-failed' || ATTEMPT_END_ANSWERS.has(e.kind))) return null
    return latest
  }

  /**
   * Whether this controller cannot see some of the job's secrets. One that can lifts a hold an
   * earlier one left (event `job-hold-lifted`, the reason cleared).
   */
  private lacksSecrets(job: JobRecord): boolean {
    if ((job.spec.secrets ?? []).length === 0) return false
    if (missingSecrets(job.spec, this.d.deps.env ?? process.env).length > 0) return true
    if (secretsHeld(this.d.journal.events(job.id))) {
      this.d.journal.recordJobState(job.id, job.state, {kind: 'job-hold-lifted', data: {hold: 'secrets-missing'}}, {reason: null})
      this.d.emit('resumed', "this controller has the job's secrets: the hold is lifted")
    }
    return false
  }

  /**
   * Holds the job for a controller that can see its secrets (this one cannot): says so once in
   * the job's events and reason, which `status` shows; the caller then ends this controller's
   * drive, so that `recover` from a shell with the secrets can take the job over.
   */
  private holdForSecrets(job: JobRecord): void {
    const missing = missingSecrets(job.spec, this.d.deps.env ?? process.env)
    const names = missing.map((m) => `$${m}`).join(', ')
    const reason = `held: its controller's environment lacks secret ${names}; run \`skyhop recover\` from a shell that exports ${missing.length === 1 ? 'it' : 'them'}`
    if (!secretsHeld(this.d.journal.events(job.id)) || job.reason !== reason) {
      this.d.journal.recordJobState(job.id, job.state, {kind: 'job-held', data: {hold: 'secrets-missing', missing}}, {reason})
    }
    this.d.emit('held', reason)
  }

  private failJob(error: unknown): void {
    const message = isSkyhopError(error) ? error.message : String(error)
    const code = isSkyhopError(error) ? error.code : 'INTERNAL'
    this.d.journal.recordJobState(
      this.d.jobId,
      'FAILED',
      {kind: 'job-failed', data: {code, message, ...(isSkyhopError(error) ? {error: error.toJSON()} : {})}},
      {
        exitCode: null,
        reason: message,
      },
    )
    this.d.emit('failed', message)
  }
}
