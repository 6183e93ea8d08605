// The controller drives one job to an end: plan → launch the best candidate → on a
// classified failure block its scope and try the next → poll → on preemption re-plan and
// relaunch so the job resumes from its checkpoint. It records every intent before acting
// and every outcome after (through journal.ts), holds a lease so only one controller drives
// a job, and is safe to kill at any point: a new controller picks up from the store (see
// LaunchRounds.reconcileRequested). This file is the loop and the lease; the parts it drives
// are launch-round.ts (candidates, failover), spot-moves.ts (waiting for spot, moving back to
// it), holds.ts (attempts held until the one they replace has stopped) and attempt-end.ts
// (polling, an attempt's end, releasing what it held).
import type {Offer} from '../model/catalog.js'
import type {AttemptHoldStore, SignCheckpointUrls} from '../checkpoint/checkpoint-store.js'
import {LeaseHeldError, isSkyhopError} from '../errors.js'
import type {BlockList, Candidate, Plan} from '../planner/types.js'
import type {Provider} from '../providers/provider.js'
import {TERMINAL_ATTEMPT_STATES} from '../model/attempt.js'
import type {JobSpec} from '../model/job-spec.js'
import {type JobRecord, TERMINAL_JOB_STATES} from '../model/records.js'
import {AttemptEnds} from './attempt-end.js'
import type {BatchPoller} from './batch-poller.js'
import {JobDrive} from './drive.js'
import {Holds} from './holds.js'
import type {Journal} from './journal.js'
import {LaunchRounds} from './launch-round.js'
import {SpotMoves} from './spot-moves.js'

/**
 * A plan and a way back from a candidate to the offer it came from. Give the accelerator
 * when known: offers sharing an offerKey (one instance type, different accelerators) are
 * told apart by it.
 */
export interface Replanned {
  plan: Plan
  offerOf(candidate: Pick<Candidate, 'offerKey'> & {accelerator?: Candidate['accelerator']}): Offer | undefined
}

export interface ControllerEvent {
  kind: string
  jobId: string
  attemptId?: string
  message: string
  data?: Record<string, unknown>
}

export interface ControllerDeps {
  /** The controller's only way to the state store (journal.ts). */
  journal: Journal
  providers: ReadonlyMap<string, Provider>
  /** Plans the job with the given scopes blocked. Pure planning plus catalog lookup. */
  replan(job: JobSpec, blocked: BlockList): Promise<Replanned>
  /** Where durable per-job state (checkpoints on local/Slurm) lives. */
  home: string
  /**
   * Signs the job's checkpoint store URLs for one attempt (src/checkpoint/checkpoint-store.ts); null
   * when the job has no store. Without it, checkpoints stay where the attempt runs.
   */
  checkpointSync?: SignCheckpointUrls
  /**
   * Holds a new cloud attempt until the one it replaces has stopped, through the job's
   * checkpoint store (a move from on-demand to spot launches spot first). Without it, a
   * cloud job moves by stopping on-demand first. Attempts that see skyhop's filesystem
   * (local, Slurm) are held by a file under `home` and need nothing here.
   */
  attemptHolds?: AttemptHoldStore
  /** Unique id of this controller process, for the lease. */
  owner: string
  clock?: () => Date
  sleep?: (ms: number) => Promise<void>
  pollIntervalMs?: number
  /** How long to keep retrying when every candidate is out of capacity. 0 = fail at once. */
  retryUntilUpMs?: number
  /** Most candidates tried per launch round (dstack tries 25). */
  maxCandidatesPerRound?: number
  /**
   * How often a `spot: auto` job looks for spot (respot.ts): while it runs on on-demand (to
   * migrate back), and between tries while it waits for spot capacity before its deadline
   * forces on-demand. Default SKYHOP_RESPOT_INTERVAL_SECONDS, else 300 s; 0 turns both off.
   */
  respotIntervalMs?: number
  onEvent?: (event: ControllerEvent) => void
  /** Aborting stops driving (the job keeps running; another controller can take over). */
  signal?: AbortSignal
  /** Environment the secrets are read from (the launching process's). */
  env?: NodeJS.ProcessEnv
  /**
   * Shared poller for many jobs in one process (sweeps): backend status calls are batched
   * per provider on one cadence instead of one call per job. Without it, each poll is direct.
   */
  poller?: BatchPoller
}

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

class JobController {
  private readonly d: JobDrive
  private heartbeat?: NodeJS.Timeout

  constructor(jobId: string, deps: ControllerDeps) {
    this.d = new JobDrive(jobId, deps)
    this.d.launch = new LaunchRounds(this.d)
    this.d.spot = new SpotMoves(this.d)
    this.d.holds = new Holds(this.d)
    this.d.ends = new AttemptEnds(this.d)
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
        return this.d.job()
      }
      if (!live) {
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
