// The controller drives one job to an end: plan → launch the best candidate → on a
// classified failure block its scope and try the next → poll → on preemption re-plan and
// relaunch so the job resumes from its checkpoint. It records every intent before acting
// and every outcome after, holds a lease so only one controller drives a job, and is safe
// to kill at any point: a new controller picks up from the store (see reconcile()).
import {mkdirSync, rmSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'

import type {Offer} from '../model/catalog.js'
import type {AttemptHoldStore, SignCheckpointUrls} from '../checkpoint/checkpoint-store.js'
import type {CheckpointSync} from '../model/checkpoint.js'
import {JobLostError, ProviderError, isSkyhopError} from '../errors.js'
import {noFeasiblePlanError} from '../planner/explain.js'
import type {BlockList, BlockedScope, Candidate, Plan} from '../planner/types.js'
import {type LaunchRequest, type Provider} from '../providers/provider.js'
import {type LaunchHandle, type PollResult, TERMINAL_ATTEMPT_STATES} from '../model/attempt.js'
import type {AttemptHold} from '../runner/contract.js'
import type {JobSpec} from '../model/job-spec.js'
import {type Store} from '../state/store.js'
import {type AttemptRecord, type JobRecord, TERMINAL_JOB_STATES} from '../model/records.js'
import {contractEnv} from './contract-env.js'
import {billingPolicy} from './cost.js'
import {
  MAX_HELD_PROBE_BACKOFF_DOUBLINGS,
  type AttemptProgress,
  type ProgressLine,
  aheadOfLine,
  assessMigration,
  decideWait,
  fallbackAfterMove,
  fallbackMarginHours,
  fallbackSpot,
  fallbackWait,
  outageEstimate,
  outagePriorHours,
  outageShort,
  outageWait,
  spotUpFraction,
  type OutageEstimate,
  type SpotSighting,
  lostHours,
  migrationMarginHours,
  nextLookMs,
  respotIntervalMs,
  spotTooLate,
  waitApplies,
  workDoneHours,
  workLeftHours,
  workOverrun,
} from './respot.js'

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
  store: Store
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
const TRANSIENT_RETRIES = 4
/** Turns of the loop a held attempt's go is tried before it is left to time out (each an HTTP call with its own retries). */
const MAX_RELEASE_TRIES = 3

export class LeaseHeldError extends Error {}

/** Drives the job until it ends; returns the final job record. */
export async function driveJob(jobId: string, deps: ControllerDeps): Promise<JobRecord> {
  return new JobController(jobId, deps).run()
}

class JobController {
  private readonly store: Store
  private readonly clock: () => Date
  private readonly sleep: (ms: number) => Promise<void>
  private readonly pollIntervalMs: number
  /** Scopes blocked after launch failures, for this controller's life. */
  private readonly blocked: BlockedScope[] = []
  /** Scopes blocked because an attempt was preempted there (dropped if nothing else is left). */
  private readonly preemptionBlocks: BlockedScope[] = []
  /** Attempts this controller stopped because the job ended while they launched: when to stop waiting (ms). */
  private readonly stopping = new Map<string, number>()
  private heartbeat?: NodeJS.Timeout
  private lostLease = false
  private readonly respotMs: number
  /** Reference work-hours per hour of running, per attempt (null: unknown). */
  private readonly workRates = new Map<string, number | null>()
  /** The on-demand attempt the next look for spot is scheduled for, and when (ms). */
  private respotFor: string | null = null
  private nextRespotAt = 0
  /** Migrations in a row whose spot launch found no capacity (back on on-demand). */
  private failedProbes = 0
  /** A migration ended; the next launch tells whether spot was there. */
  private probing = false
  /** Attempts asked to stop for a migration: when to stop waiting for them (ms). */
  private readonly migrating = new Map<string, number>()
  /** What the store says of attempts this controller did not migrate itself (see migrationRequested). */
  private readonly migrationAsked = new Map<string, boolean>()
  /** Attempts of this job that ended in a migration (counted from the store once, then kept). */
  private migrations: number | null = null
  /** Zones (provider|region|zone|accelerator|market) out of capacity since the last launch: observed once. */
  private readonly outagesSeen = new Set<string>()
  /** The last respot decision recorded in the store, so a repeated one is not stored again. */
  private lastRespot: string | null = null
  /** Held attempts (see moveToSpot), read from the store once each: how they are held. */
  private readonly holds = new Map<string, 'file' | 'store' | null>()
  /** Held attempts this controller let go, and when (ms): their run starts no earlier. */
  private readonly holdsReleased = new Map<string, number>()
  /** Gos that could not be given, per attempt (see MAX_RELEASE_TRIES). */
  private readonly releaseFailures = new Map<string, number>()

  constructor(
    private readonly jobId: string,
    private readonly deps: ControllerDeps,
  ) {
    this.store = deps.store
    this.clock = deps.clock ?? (() => new Date())
    this.sleep = deps.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)))
    this.pollIntervalMs = deps.pollIntervalMs ?? 1000
    this.respotMs = deps.respotIntervalMs ?? respotIntervalMs(deps.env ?? process.env)
  }

  private emit(kind: string, message: string, extra: {attemptId?: string; data?: Record<string, unknown>} = {}): void {
    this.deps.onEvent?.({kind, jobId: this.jobId, message, ...extra})
  }

  async run(): Promise<JobRecord> {
    if (!this.store.acquireLease(this.jobId, this.deps.owner, LEASE_TTL_MS)) {
      throw new LeaseHeldError(`job ${this.jobId} is driven by another controller`)
    }
    this.heartbeat = setInterval(() => {
      if (!this.store.renewLease(this.jobId, this.deps.owner, LEASE_TTL_MS)) this.lostLease = true
    }, HEARTBEAT_MS)
    this.heartbeat.unref()
    try {
      return await this.loop()
    } finally {
      clearInterval(this.heartbeat)
      this.store.releaseLease(this.jobId, this.deps.owner)
    }
  }

  private job(): JobRecord {
    return this.store.getJob(this.jobId)!
  }

  private async loop(): Promise<JobRecord> {
    for (;;) {
      if (this.deps.signal?.aborted || this.lostLease) return this.job()
      const job = this.job()
      const live = this.liveAttempt()
      if (TERMINAL_JOB_STATES.has(job.state)) {
        // A cancel may have landed while an attempt still runs: make sure it stops. One this
        // controller stopped itself (the cancel never saw it) is waited for until it is gone.
        if (live?.handle) {
          // A held attempt whose job ended before it was let go (the attempt it was to
          // replace finished the job): it never starts; stop it.
          if (this.heldUnreleased(live)) {
            await this.stopHeld(job, live)
            continue
          }
          await this.settleAfterEnd(live)
          if (this.stopping.has(live.id)) continue
        }
        return this.job()
      }
      if (!live) {
        try {
          const started = await this.launchRound(job)
          if (!started) continue
        } catch (error) {
          this.failJob(error)
          return this.job()
        }
        continue
      }
      if (live.state === 'REQUESTED' || !live.handle) {
        // We (or a crashed controller) recorded the intent but not the outcome: launching
        // again with the same idempotency key returns the existing run or creates it once.
        await this.reconcileRequested(job, live)
        continue
      }
      // The first open attempt is a held one: the attempt it replaces has ended, its last
      // checkpoint saved. Let it go.
      if (this.heldUnreleased(live)) await this.releaseHold(job, live)
      const result = await this.pollOne(live)
      if (result && TERMINAL_ATTEMPT_STATES.has(result.state)) {
        await this.onAttemptEnded(this.job(), this.store.getAttempt(live.id)!, result)
        continue
      }
      if (await this.migrationOverdue(live)) continue
      // Asked to stop for a migration: look again at once (it may be gone already).
      if (result?.state === 'RUNNING' && (await this.considerRespot(this.job(), this.store.getAttempt(live.id)!))) continue
      // The batch poller's cadence is the wait; a direct poll waits here.
      if (!this.deps.poller) await this.sleep(this.pollIntervalMs)
    }
  }

  private liveAttempt(): AttemptRecord | undefined {
    return this.store.openAttempt(this.jobId)
  }

  // ---- launching ----------------------------------------------------------------------

  /** One round of the failover loop. True when an attempt was launched. */
  private async launchRound(job: JobRecord): Promise<boolean> {
    const deadline = this.clock().getTime() + (this.deps.retryUntilUpMs ?? 0)
    const failures: Array<{candidate: string; error: ProviderError}> = []
    for (let round = 0; ; round++) {
      let planned = await this.plan(job, [...this.blocked, ...this.preemptionBlocks])
      if (planned.replanned.plan.candidates.length === 0 && this.preemptionBlocks.length > 0) {
        // Nothing left but where we were preempted: going back there beats giving up.
        this.emit('replan', 'no other candidate than where the job was preempted; going back there')
        this.preemptionBlocks.length = 0
        planned = await this.plan(job, this.blocked)
      }
      if (this.preemptionBlocks.length > 0 && job.spec.spot !== 'on-demand' && !planned.replanned.plan.candidates.some((c) => c.spot)) {
        // Eager-next-region passes over the region that preempted the job while another
        // region has spot; where none has, the region's other zones come before on-demand or
        // a wait (a zone's spot outage is often not its neighbour's, and a launch that finds
        // no capacity costs nothing). The zone that just took spot back stays out for now.
        const last = this.store.listAttempts(job.id).at(-1)
        const gone: BlockedScope[] = last?.spot && last.zone ? [{provider: last.provider, region: last.region, zone: last.zone, market: 'spot', reason: 'preempted'}] : []
        const open = await this.plan(job, [...this.blocked, ...gone])
        if (open.replanned.plan.candidates.some((c) => c.spot)) {
          this.emit('replan', 'no spot outside the region where the job was preempted; trying its zones before on-demand')
          this.preemptionBlocks.length = 0
          planned = open
        }
      }
      const {replanned, spec} = planned
      const candidates: Array<{candidate: Candidate; replanned: Replanned; spec: JobSpec}> = replanned.plan.candidates
        .slice(0, this.deps.maxCandidatesPerRound ?? 25)
        .map((candidate) => ({candidate, replanned, spec}))
      if (candidates.length === 0 && failures.length === 0) throw noFeasiblePlanError(replanned.plan)
      // Spot the plan leaves out for the deadline, tried first while on-demand stays a fallback in time.
      const net = await this.fallbackSpot(job, replanned.plan, [...this.blocked, ...this.preemptionBlocks], 0)
      if (net !== null) {
        this.emit('respot-fallback', `trying spot before on-demand: ${net.ahead ? 'the job is ahead of schedule and ' : ''}on-demand would still finish by the deadline after a preemption at once`)
        candidates.unshift(...net.spot.slice(0, this.deps.maxCandidatesPerRound ?? 25).map((candidate) => ({candidate, replanned: net.free.replanned, spec: net.free.spec})))
      }
      // Signed once a round: a store the job cannot reach is the job's problem, not a candidate's.
      const sync = (await this.deps.checkpointSync?.(job)) ?? null
      let waitMs: number | null = null
      let waitConsidered = false
      for (const {candidate, replanned, spec} of candidates) {
        // A failure earlier in this round may have blocked this candidate's zone, region or provider.
        if (this.blocked.some((b) => covers(b, candidate))) continue
        if (!candidate.spot && !waitConsidered) {
          // About to go on-demand: with a deadline far enough, waiting for spot is cheaper.
          waitConsidered = true
          waitMs = await this.waitForSpot(job)
          if (waitMs !== null) break
        }
        const outcome = await this.tryCandidate(job, candidate, replanned, spec, sync)
        if (outcome === 'launched') {
          this.outagesSeen.clear()
          this.afterProbe(candidate)
          return true
        }
        if (outcome === 'job-ended') return false
        failures.push({candidate: candidate.key, error: outcome})
      }
      if (waitMs !== null) {
        if (!(await this.sleepWhileLive(waitMs))) return false
        // Capacity comes back, and the region that preempted the job may have spot again.
        this.dropTransientBlocks()
        this.preemptionBlocks.length = 0
        job = this.job()
        if (TERMINAL_JOB_STATES.has(job.state)) return false
        continue
      }
      if (this.clock().getTime() >= deadline) break
      // Retry until up: capacity comes back; wait with a capped backoff, forget zone blocks.
      const waitRetryMs = Math.min(60_000, 5_000 * 2 ** round, Math.max(0, deadline - this.clock().getTime()))
      this.emit('waiting', `no capacity anywhere; retrying in ${Math.round(waitRetryMs / 1000)} s`)
      await this.sleep(waitRetryMs)
      this.blocked.splice(0, this.blocked.length, ...this.blocked.filter((b) => b.reason === 'auth' || b.reason === 'quota'))
      job = this.job()
      if (TERMINAL_JOB_STATES.has(job.state)) return false
    }
    const last = failures.at(-1)?.error
    throw new ProviderError(last?.provider ?? 'skyhop', last?.category ?? 'capacity', `every candidate failed (${failures.length} tried); last: ${last?.message ?? 'none'}`, {
      code: 'ALL_CANDIDATES_FAILED',
      hint: 'See `skyhop status JOB` for the reason per candidate; `--retry-until-up` keeps trying.',
      details: {failures: failures.map((f) => ({candidate: f.candidate, code: f.error.code, category: f.error.category, message: f.error.message}))},
    })
  }

  private async tryCandidate(
    job: JobRecord,
    candidate: Candidate,
    replanned: Replanned,
    planned: JobSpec,
    sync: CheckpointSync | null,
    options: {held?: boolean} = {},
  ): Promise<'launched' | 'job-ended' | ProviderError> {
    const provider = this.deps.providers.get(candidate.provider)
    const offer = replanned.offerOf(candidate)
    if (!provider || !offer) {
      const error = new ProviderError(candidate.provider, 'unavailable', 'provider is not configured here', {scope: 'provider'})
      this.blocked.push({provider: candidate.provider, reason: 'unavailable'})
      return error
    }
    const workPerHour = planned.work !== null && candidate.estimatedRunHours > 0 ? planned.work.hours / candidate.estimatedRunHours : null
    const attempt = this.store.recordAttemptIntent({
      jobId: job.id,
      provider: candidate.provider,
      region: candidate.region,
      zone: candidate.zone,
      instanceType: candidate.instanceType,
      accelerator: candidate.accelerator?.name ?? null,
      acceleratorCount: candidate.accelerator?.count ?? null,
      spot: candidate.spot,
      pricePerHour: candidate.hourlyPrice?.amount ?? null,
      currency: candidate.hourlyPrice?.currency ?? null,
      onDemandPricePerHour: offer.price.onDemand === null ? null : offer.price.onDemand * candidate.nodes,
      billingGranularitySeconds: billingPolicy(candidate.provider).granularitySeconds,
      workPerHour,
    })
    if (!attempt) return 'job-ended'
    this.workRates.set(attempt.id, workPerHour)
    this.emit('launching', `launching on ${describe(candidate)}${options.held ? ', held until the on-demand attempt has stopped' : ''}`, {attemptId: attempt.id})
    try {
      const hold = options.held ? await this.holdFor(job, attempt.id, provider) : null
      if (hold !== null) this.store.addEvent(job.id, attempt.id, 'attempt-held', {via: 'file' in hold ? 'file' : 'store', timeoutSeconds: hold.timeoutSeconds})
      this.holds.set(attempt.id, hold === null ? null : 'file' in hold ? 'file' : 'store')
      const request = this.launchRequest(job, attempt, offer, candidate.spot, provider, sync, hold)
      const handle = await this.withTransientRetry(provider, () => provider.launch(request))
      this.store.updateAttempt(
        attempt.id,
        {state: 'PENDING', handle, launchedAt: this.clock().toISOString()},
        {kind: 'attempt-launched', data: {externalId: handle.externalId, checkpointDir: request.checkpointDir, checkpointStore: sync?.location ?? null}},
      )
      // A held attempt waits beside the running one, which still is the job's state.
      if (hold === null) await this.afterLaunched(attempt.id, provider, handle)
      return 'launched'
    } catch (error) {
      const perr = asProviderError(candidate.provider, error)
      // A launch that kept failing in transit may still have reached the backend.
      if (perr.category === 'transient' && (await this.adoptByTag(provider, attempt, 'attempt-launched'))) return 'launched'
      this.store.updateAttempt(
        attempt.id,
        {state: 'FAILED', endedAt: this.clock().toISOString(), reason: perr.message, error: perr.toJSON() as unknown as Record<string, unknown>},
        {kind: 'attempt-launch-failed', data: {code: perr.code, category: perr.category, scope: perr.scope, backendCode: perr.backendCode ?? null}},
      )
      // A zone found out of capacity again while the job waits is the same outage, not fresh
      // evidence: one observation per zone until the job launches somewhere, so a long wait
      // does not pile up failures the planner would read as a zone that never has capacity.
      const scope = `${candidate.provider}|${candidate.region}|${candidate.zone ?? ''}|${candidate.accelerator?.name ?? ''}|${candidate.spot ? 'spot' : 'od'}`
      if (perr.category === 'quota' || (perr.category === 'capacity' && !this.outagesSeen.has(scope))) {
        if (perr.category === 'capacity') this.outagesSeen.add(scope)
        this.store.addObservation({
          provider: candidate.provider,
          region: candidate.region,
          zone: candidate.zone,
          accelerator: candidate.accelerator?.name ?? null,
          spot: candidate.spot,
          kind: perr.category === 'capacity' ? 'capacity-failure' : 'quota-failure',
          valueSeconds: null,
        })
      }
      if (perr.category === 'user') throw perr
      this.blocked.push(blockFor(perr, candidate))
      this.emit('failover', `${describe(candidate)} failed (${perr.category}): ${perr.message}; trying the next candidate`, {attemptId: attempt.id})
      return perr
    }
  }

  private launchRequest(job: JobRecord, attempt: AttemptRecord, offer: Offer, spot: boolean, provider: Provider, sync: CheckpointSync | null, hold: AttemptHold | null = null): LaunchRequest {
    const storage = provider.attemptStorage ?? 'shared'
    if (storage === 'per-instance' && !sync && job.spec.spot !== 'on-demand' && job.spec.checkpoint.dir === null) {
      this.emit('warning', `checkpoints on ${provider.name} live on the instance and go with it; set checkpoint.store to resume from them elsewhere`, {attemptId: attempt.id})
    }
    // A migration restarts the job from its checkpoint too, though it is no preemption.
    this.migrations ??= this.store.events(job.id).filter((e) => e.kind === 'attempt-migrated').length
    // A held attempt is the move it belongs to: it starts from the checkpoint the attempt it replaces leaves.
    const restartCount = job.restarts + job.errorRestarts + this.migrations + (hold === null ? 0 : 1)
    const {env, checkpointDir} = contractEnv({job, attempt, home: this.deps.home, processEnv: this.deps.env ?? process.env, storage, restartCount})
    return {
      jobId: job.id,
      jobName: job.name,
      attemptId: attempt.id,
      attempt: attempt.n,
      restartCount,
      idempotencyKey: attempt.id,
      spec: job.spec,
      offer,
      spot,
      env,
      checkpointDir,
      checkpointSync: sync,
      hold,
      graceSeconds: job.spec.recovery.graceSeconds,
    }
  }

  private async withTransientRetry<T>(provider: Provider, fn: () => Promise<T>): Promise<T> {
    for (let i = 0; ; i++) {
      try {
        return await fn()
      } catch (error) {
        const perr = asProviderError(provider.name, error)
        if (perr.category !== 'transient' || i >= TRANSIENT_RETRIES) throw perr
        await this.sleep(Math.min(10_000, 250 * 2 ** i))
      }
    }
  }

  /**
   * The job's last state change after a launch. A cancel that landed while the launch call
   * was in flight did not see this attempt (it had no handle yet): stop it here.
   */
  private async afterLaunched(attemptId: string, provider: Provider, handle: LaunchHandle): Promise<void> {
    const job = this.job()
    if (TERMINAL_JOB_STATES.has(job.state)) {
      const asked = [...this.store.events(job.id)].reverse().find((e) => e.kind === 'cancel-requested')?.data.graceSeconds
      const grace = typeof asked === 'number' ? asked : job.spec.recovery.graceSeconds
      this.emit('stopping', `the job ended (${job.state}) while attempt ${attemptId} was being launched; stopping it`, {attemptId})
      this.stopping.set(attemptId, this.clock().getTime() + (grace + 60) * 1000)
      await provider.signal(handle, 'cancel', grace).catch((error: unknown) => {
        this.store.addEvent(this.jobId, attemptId, 'cancel-failed', {message: asProviderError(provider.name, error).message})
      })
      return
    }
    this.store.setJobState(job.id, 'PROVISIONING', {kind: 'job-provisioning', attemptId})
  }

  /**
   * Finds the run an attempt started by the tags every launch puts on it (the attempt id),
   * and records its handle. The way back when the launch's answer was lost: a controller
   * killed between "requested" and "recorded", or a call that timed out after it landed.
   */
  private async adoptByTag(provider: Provider, attempt: AttemptRecord, kind: string): Promise<boolean> {
    if (!provider.listOwned) return false
    let found: LaunchHandle | undefined
    try {
      const owned = await this.withTransientRetry(provider, () => provider.listOwned!({regions: [attempt.region], attemptId: attempt.id}))
      found = owned.find((h) => h.data.attemptId === attempt.id)
    } catch {
      return false
    }
    if (!found) return false
    this.store.updateAttempt(attempt.id, {state: 'PENDING', handle: found, launchedAt: this.clock().toISOString()}, {kind, data: {externalId: found.externalId, foundBy: 'tag'}})
    await this.afterLaunched(attempt.id, provider, found)
    return true
  }

  /**
   * An attempt recorded as REQUESTED without a handle: its controller died around the
   * launch call. A run that call started carries the attempt id in its tags, so look for
   * it first; if there is none, launch again on exactly the recorded offer with the same
   * idempotency key, so a request the backend did receive is answered with the same run.
   */
  private async reconcileRequested(job: JobRecord, attempt: AttemptRecord): Promise<void> {
    const provider = this.deps.providers.get(attempt.provider)
    if (!provider) {
      this.store.updateAttempt(attempt.id, {state: 'LOST', endedAt: this.clock().toISOString(), reason: `provider ${attempt.provider} is not configured here`}, {kind: 'attempt-lost'})
      return
    }
    if (await this.adoptByTag(provider, attempt, 'attempt-reconciled')) return
    const replanned = await this.deps.replan(job.spec, [])
    const key = attemptOfferKey(attempt)
    // Exactly the recorded offer (zone included), even if the plan no longer ranks it.
    const offer = replanned.offerOf({offerKey: key, accelerator: attempt.accelerator === null ? null : {name: attempt.accelerator, count: attempt.acceleratorCount ?? 1}})
    if (!offer) {
      // The offer left the catalog; if the backend has the run by tag it will still be found.
      this.store.updateAttempt(attempt.id, {state: 'LOST', endedAt: this.clock().toISOString(), reason: 'offer no longer in the catalog'}, {kind: 'attempt-lost'})
      return
    }
    try {
      const sync = (await this.deps.checkpointSync?.(job)) ?? null
      const handle = await this.withTransientRetry(provider, () => provider.launch(this.launchRequest(job, attempt, offer, attempt.spot, provider, sync)))
      this.store.updateAttempt(attempt.id, {state: 'PENDING', handle, launchedAt: this.clock().toISOString()}, {kind: 'attempt-reconciled', data: {externalId: handle.externalId, foundBy: 'idempotency-key'}})
      await this.afterLaunched(attempt.id, provider, handle)
    } catch (error) {
      const perr = asProviderError(attempt.provider, error)
      this.store.updateAttempt(attempt.id, {state: 'FAILED', endedAt: this.clock().toISOString(), reason: perr.message, error: perr.toJSON() as unknown as Record<string, unknown>}, {kind: 'attempt-launch-failed'})
    }
  }

  // ---- the job as it stands, waiting for spot and going back to it (respot.ts) ----------

  /**
   * Plans the job as it stands: the work left (estimated from its attempts), with the
   * deadline moved `shiftMs` earlier (how things will look after losing that much time),
   * on-demand only when asked.
   */
  private async plan(job: JobRecord, blocked: BlockList, shiftMs = 0, onDemandOnly = false, dropDeadline = false): Promise<{replanned: Replanned; spec: JobSpec}> {
    let spec = job.spec
    if (spec.work !== null) spec = {...spec, work: {...spec.work, hours: this.workLeft(job)}}
    if (shiftMs > 0 && spec.deadline !== null) spec = {...spec, deadline: new Date(Date.parse(spec.deadline) - shiftMs).toISOString()}
    if (dropDeadline) spec = {...spec, deadline: null}
    if (onDemandOnly) spec = {...spec, spot: 'on-demand'}
    return {replanned: await this.deps.replan(spec, blocked), spec}
  }

  /** Reference work-hours left: the job's work less what its attempts did (respot.ts). */
  private workLeft(job: JobRecord): number {
    return workLeftHours(job.spec.work?.hours ?? 0, this.workDone(job))
  }

  private workDone(job: JobRecord): number {
    const attempts: AttemptProgress[] = this.store.startedAttempts(job.id).map((a) => ({
      state: a.state,
      startedAtMs: Date.parse(a.startedAt!),
      endedAtMs: a.endedAt === null ? null : Date.parse(a.endedAt),
      workPerHour: this.workRate(a.id),
    }))
    return workDoneHours(attempts, this.clock().getTime(), job.spec.checkpoint.intervalSeconds)
  }

  /**
   * Whether the job's work left can be measured, which waiting for spot and migrating need:
   * it gives work.hours and has not run past them (respot.ts).
   */
  private workMeasurable(job: JobRecord): boolean {
    return job.spec.work !== null && !workOverrun(job.spec.work.hours, this.workDone(job))
  }

  /** An attempt's speed as recorded when it was launched (by this controller or an earlier one). */
  private workRate(attemptId: string): number | null {
    if (!this.workRates.has(attemptId)) {
      const e = this.store.events(this.jobId).find((x) => x.kind === 'attempt-requested' && x.attemptId === attemptId)
      const v = e?.data.workPerHour
      this.workRates.set(attemptId, typeof v === 'number' && v > 0 ? v : null)
    }
    return this.workRates.get(attemptId) ?? null
  }

  /** Blocks that still hold when capacity may have come back: all but capacity and transient failures. */
  private hardBlocks(): BlockedScope[] {
    return this.blocked.filter((b) => b.reason !== 'capacity' && b.reason !== 'transient')
  }

  private dropTransientBlocks(): void {
    this.blocked.splice(0, this.blocked.length, ...this.hardBlocks())
  }

  /** Records a respot decision in the store unless it repeats the last one; always tells onEvent. */
  private respotEvent(kind: string, key: string, message: string, extra: {attemptId?: string; data?: Record<string, unknown>} = {}): void {
    if (this.lastRespot !== `${kind}:${key}`) {
      this.lastRespot = `${kind}:${key}`
      this.store.addEvent(this.jobId, extra.attemptId ?? null, kind, {message, ...extra.data})
    }
    this.emit(kind, message, extra)
  }

  /**
   * The launch round is about to go on-demand: for a `spot: auto` job with a deadline,
   * wait for spot instead while slack allows. Returns how long to wait, or null to launch.
   */
  private async waitForSpot(job: JobRecord): Promise<number | null> {
    if (!waitApplies(job.spec.spot, job.spec.deadline, this.respotMs) || !this.workMeasurable(job)) return null
    const hard = this.hardBlocks()
    const spotLater = await this.plan(job, hard, this.respotMs)
    const onDemandLater = await this.plan(job, hard, this.respotMs, true)
    let d = decideWait({stepMs: this.respotMs, spotLater: spotLater.replanned.plan, onDemandLater: onDemandLater.replanned.plan})
    if (!d.wait && d.code === 'spot-does-not-fit') {
      // The p95 rule gives up on spot; the on-demand safety net may still wait a step for
      // it: ahead of the line, or behind it through an outage too short for on-demand to pay.
      const net = await this.fallbackSpot(job, spotLater.replanned.plan, hard, this.respotMs)
      if (net?.ahead) d = fallbackWait(this.respotMs, net.spot[0])
      else if (net !== null) {
        const outage = this.spotOutage(job)
        if (outageShort({...outage, spot: net.spot[0], onDemand: net.onDemand, stepMs: this.respotMs})) d = outageWait(this.respotMs, net.spot[0], outage.outage)
      }
    }
    if (d.wait) this.respotEvent('respot-wait', String(d.data.rule ?? 'p95'), d.message, {data: d.data})
    // A job with no spot to wait for (none offered, or dearer) goes on-demand as it always did, without a word.
    else if (d.code !== 'no-spot' && d.code !== 'on-demand-preferred') this.respotEvent('respot-on-demand', d.code, d.message, {data: d.data})
    return d.wait ? d.ms : null
  }

  /**
   * Spot the plan left out for the deadline that the on-demand safety net admits now, or
   * after waiting `waitMs` (respot.ts: fallbackSpot): on-demand would still make the
   * deadline after spot's changeover and a preemption. `ahead`: whether the job is ahead
   * of Uniform Progress's line by then.
   */
  private async fallbackSpot(
    job: JobRecord,
    plan: Plan,
    blocked: BlockList,
    waitMs: number,
  ): Promise<{spot: Candidate[]; onDemand: Candidate; free: {replanned: Replanned; spec: JobSpec}; ahead: boolean} | null> {
    if (!waitApplies(job.spec.spot, job.spec.deadline, this.respotMs) || job.spec.work === null) return null
    if (plan.candidates.some((c) => c.spot) || !spotTooLate(plan)) return null
    const done = this.workDone(job)
    if (workOverrun(job.spec.work.hours, done)) return null
    const ahead = aheadOfLine(this.progressLine(job, done), this.clock().getTime() + waitMs)
    const free = await this.plan(job, blocked, 0, false, true)
    const chosen = free.replanned.plan.chosen
    if (chosen === null || !chosen.spot) return null
    const margin = fallbackMarginHours(chosen.estimatedQueueHours, job.spec.checkpoint.intervalSeconds, waitMs)
    const onDemandLater = await this.plan(job, blocked, Math.ceil(margin * 3_600_000), true)
    const v = fallbackSpot({plan, free: free.replanned.plan, onDemandLater: onDemandLater.replanned.plan})
    return v.ok ? {spot: v.spot, onDemand: v.onDemand, free, ahead} : null
  }

  /**
   * Spot's outages as this job has seen them (respot.ts: outageEstimate), from its attempts:
   * a spot launch that took (up), one that found no capacity or a preemption (down), and an
   * on-demand start (spot no longer watched).
   */
  private spotOutage(job: JobRecord): {outage: OutageEstimate; upFraction: number} {
    const sightings: SpotSighting[] = []
    for (const a of this.store.listAttempts(job.id)) {
      if (!a.spot) {
        if (a.launchedAt !== null) sightings.push({atMs: Date.parse(a.launchedAt), up: null})
        continue
      }
      if (a.launchedAt !== null) sightings.push({atMs: Date.parse(a.launchedAt), up: true})
      else if (a.state === 'FAILED' && (a.error?.details as {category?: unknown} | undefined)?.category === 'capacity') sightings.push({atMs: Date.parse(a.intentAt), up: false})
      if (a.state === 'PREEMPTED' && a.endedAt !== null) sightings.push({atMs: Date.parse(a.endedAt), up: false})
    }
    const now = this.clock().getTime()
    const spanHours = (Date.parse(job.spec.deadline ?? job.createdAt) - Date.parse(job.createdAt)) / 3_600_000
    const workHours = job.spec.work?.hours ?? 0
    return {
      outage: outageEstimate(sightings, now, outagePriorHours(workHours, spanHours)),
      upFraction: spotUpFraction(sightings, now, spanHours > 0 ? workHours / spanHours : 1),
    }
  }

  /** Uniform Progress's line for the job: from its creation (no work) to its deadline (all of it). */
  private progressLine(job: JobRecord, done = this.workDone(job)): ProgressLine {
    return {totalHours: job.spec.work?.hours ?? 0, doneHours: done, startMs: Date.parse(job.createdAt), deadlineMs: job.spec.deadline === null ? Number.NaN : Date.parse(job.spec.deadline)}
  }

  /** Sleeps `ms` in poll-sized steps; false as soon as the job ends or driving stops. */
  private async sleepWhileLive(ms: number): Promise<boolean> {
    const until = this.clock().getTime() + ms
    for (;;) {
      if (this.deps.signal?.aborted || this.lostLease || TERMINAL_JOB_STATES.has(this.job().state)) return false
      const left = until - this.clock().getTime()
      if (left <= 0) return true
      await this.sleep(Math.min(left, Math.max(this.pollIntervalMs, 1000)))
    }
  }

  /** After a launch: a migration whose spot launch found nothing makes the next look wait longer. */
  private afterProbe(launched: Candidate): void {
    if (!this.probing) return
    this.probing = false
    if (launched.spot) {
      this.failedProbes = 0
      return
    }
    this.failedProbes++
    const next = nextLookMs(this.respotMs, this.failedProbes)
    this.respotEvent('respot-probe-failed', String(this.failedProbes), `no spot capacity after all; back on on-demand, next look in ${Math.round(next / 60_000)} min`, {
      data: {failedProbes: this.failedProbes, nextLookSeconds: Math.round(next / 1000)},
    })
  }

  /**
   * A `spot: auto` job running on on-demand: every interval, re-plan the job as it stands and
   * leave for spot when it pays and the deadline stays safe (respot.ts).
   */
  private async considerRespot(job: JobRecord, attempt: AttemptRecord): Promise<boolean> {
    if (this.respotMs <= 0 || job.spec.spot !== 'auto' || job.spec.work === null || attempt.spot || attempt.state !== 'RUNNING' || !attempt.handle) return false
    if (TERMINAL_JOB_STATES.has(job.state) || this.migrating.has(attempt.id)) return false
    const now = this.clock().getTime()
    if (this.migrationRequested(attempt.id)) {
      // An earlier controller asked it to stop and died: give it its grace from now, then take it away.
      this.migrating.set(attempt.id, now + (job.spec.recovery.graceSeconds + 60) * 1000)
      return false
    }
    if (this.respotFor !== attempt.id) {
      this.respotFor = attempt.id
      this.nextRespotAt = now + nextLookMs(this.respotMs, this.failedProbes)
    }
    if (now < this.nextRespotAt) return false
    this.nextRespotAt = now + this.respotMs
    if (!this.workMeasurable(job)) return false

    const hard = this.hardBlocks()
    const {replanned, spec} = await this.plan(job, hard)
    const plan = replanned.plan
    const key = attemptOfferKey(attempt)
    const own = plan.candidates.find((c) => !c.spot && c.offerKey === key)
    const rate = this.workRate(attempt.id)
    const ranHours = attempt.startedAt === null ? 0 : Math.max(0, now - Date.parse(attempt.startedAt)) / 3_600_000
    const relaunchHours = own?.estimatedQueueHours ?? plan.candidates.find((c) => !c.spot)?.estimatedQueueHours ?? 0
    const current = {
      hourlyUsd: own?.hourlyPriceUsd ?? (attempt.currency === 'USD' ? attempt.pricePerHour : null),
      runHoursLeft: spec.work !== null && rate !== null ? spec.work.hours / rate : (own?.estimatedRunHours ?? null),
      lostHours: lostHours(ranHours, job.spec.checkpoint.intervalSeconds),
      relaunchHours,
    }
    let planned = {replanned, spec}
    let econ = assessMigration(plan, current)
    let rule: 'p95' | 'uniform-progress' = 'p95'
    if (!econ.go && econ.code === 'spot-does-not-fit' && job.spec.deadline !== null) {
      // The p95 rule leaves spot out for the deadline. Uniform Progress's hysteresis may
      // still move the job: ahead of its line by two of spot's changeovers, while on-demand,
      // the safety net, stays in time after the move (checked below for every move). Only
      // to spot no slower than the on-demand it leaves: running on slower spot would eat
      // the slack that safety net needs.
      const free = await this.plan(job, hard, 0, false, true)
      const fast = (c: Candidate) => own !== undefined && c.estimatedRunHours <= own.estimatedRunHours + 1e-9
      const candidates = free.replanned.plan.candidates.filter((c) => !c.spot || fast(c))
      const fastPlan = {...free.replanned.plan, candidates, chosen: candidates[0] ?? null}
      const viaLine = assessMigration(fastPlan, current)
      if (viaLine.go && aheadOfLine(this.progressLine(job), now + 2 * viaLine.to.estimatedQueueHours * 3_600_000)) {
        econ = viaLine
        planned = {replanned: {...free.replanned, plan: fastPlan}, spec: free.spec}
        rule = 'uniform-progress'
      }
    }
    if (!econ.go) {
      // Nothing to say when there is no spot to go to at all.
      if (econ.code !== 'no-spot') this.respotEvent('respot-stay', econ.code, `staying on on-demand: ${econ.message}`, {attemptId: attempt.id, data: {code: econ.code, ...econ.data}})
      return false
    }
    const data: Record<string, unknown> = {to: econ.to.key, savingUsd: Math.round(econ.savingUsd * 100) / 100, rule}
    if (job.spec.deadline !== null) {
      const marginHours = migrationMarginHours(econ.switchHours, this.respotMs, relaunchHours, econ.to.estimatedQueueHours)
      const v = fallbackAfterMove((await this.plan(job, hard, Math.ceil(marginHours * 3_600_000), true)).replanned.plan, marginHours)
      if (!v.ok) {
        this.respotEvent('respot-stay', v.code, `staying on on-demand: ${econ.message}, but ${v.message}`, {attemptId: attempt.id, data: {code: v.code, ...data}})
        return false
      }
      data.marginHours = Math.round(marginHours * 1000) / 1000
    }
    const target = this.deps.providers.get(econ.to.provider)
    if (target !== undefined && this.canHold(job, target)) {
      // The plan's other spot candidates are tried after it, each only if moving there pays too.
      const pays = (c: Candidate) => assessMigration({...planned.replanned.plan, chosen: c}, current).go
      return this.moveToSpot(job, attempt, planned, econ.to, pays, `migrating to spot: ${econ.message}`, data)
    }
    return this.migrate(job, attempt, `migrating to spot: ${econ.message}`, data)
  }

  /**
   * Moves an on-demand attempt to spot by launching spot first, held (its runner waits for
   * the go before it restores the checkpoint or starts the job), and only then asking the
   * on-demand attempt to stop; the go comes once that attempt has ended, its last
   * checkpoint saved (the loop: releaseHold). A spot launch that finds no capacity costs
   * nothing: the job stays on on-demand, untouched. Tries the spot candidates of the plan
   * in order, as a launch round would, starting with `first`; the others only where the
   * move `pays` too.
   */
  private async moveToSpot(
    job: JobRecord,
    attempt: AttemptRecord,
    planned: {replanned: Replanned; spec: JobSpec},
    first: Candidate,
    pays: (c: Candidate) => boolean,
    message: string,
    data: Record<string, unknown>,
  ): Promise<boolean> {
    const sync = (await this.deps.checkpointSync?.(job)) ?? null
    const others = planned.replanned.plan.candidates.filter((c) => c.spot && c.key !== first.key && pays(c))
    const tries = [first, ...others].slice(0, this.deps.maxCandidatesPerRound ?? 25)
    for (const candidate of tries) {
      const provider = this.deps.providers.get(candidate.provider)
      // Capacity found missing earlier may be back: only the blocks that still hold count.
      if (!provider || !this.canHold(job, provider) || this.hardBlocks().some((b) => covers(b, candidate))) continue
      const outcome = await this.tryCandidate(job, candidate, planned.replanned, planned.spec, sync, {held: true})
      if (outcome === 'job-ended') return false
      if (outcome !== 'launched') continue
      this.outagesSeen.clear()
      this.failedProbes = 0
      const held = this.store.listAttempts(job.id).at(-1)!
      if (await this.migrate(job, attempt, `${message}; spot launched first (attempt ${held.n}), held until this one has stopped`, {...data, to: candidate.key, heldAttemptId: held.id})) return true
      // The on-demand attempt could not be asked to stop: it goes on, and the spot one never starts.
      await this.stopHeld(job, held)
      return false
    }
    // No spot after all: the job stays on on-demand; the next look comes later.
    this.failedProbes++
    const next = nextLookMs(this.respotMs, this.failedProbes, MAX_HELD_PROBE_BACKOFF_DOUBLINGS)
    this.nextRespotAt = this.clock().getTime() + next
    this.dropTransientBlocks()
    this.respotEvent('respot-probe-failed', String(this.failedProbes), `no spot capacity after all; staying on on-demand, next look in ${Math.round(next / 60_000)} min`, {
      attemptId: attempt.id,
      data: {failedProbes: this.failedProbes, nextLookSeconds: Math.round(next / 1000)},
    })
    return false
  }

  /** Whether a new attempt on `provider` can be held: by a file it sees, or by the job's checkpoint store. */
  private canHold(job: JobRecord, provider: Provider): boolean {
    return seesSkyhopFiles(provider) || (this.deps.attemptHolds?.covers(job) ?? false)
  }

  /** The hold a new attempt on `provider` gets, or null when it cannot be held. */
  private async holdFor(job: JobRecord, attemptId: string, provider: Provider): Promise<AttemptHold | null> {
    // The old attempt's grace, the controller's minute past it, and a boot's worth of slack.
    const timeoutSeconds = job.spec.recovery.graceSeconds + 900
    if (seesSkyhopFiles(provider)) return {file: this.holdFile(job.id, attemptId), timeoutSeconds}
    const urls = await this.deps.attemptHolds?.sign(job, attemptId)
    return urls ? {url: urls.getUrl, timeoutSeconds} : null
  }

  private holdFile(jobId: string, attemptId: string): string {
    return join(this.deps.home, 'holds', jobId, `${attemptId}.go`)
  }

  /**
   * How an attempt is held (from the store, once): 'file', 'store', or null when it is not.
   * A go an earlier controller gave is read back too, so it is neither given again nor
   * taken for a hold that never ended.
   */
  private holdOf(attemptId: string): 'file' | 'store' | null {
    if (!this.holds.has(attemptId)) {
      const events = this.store.events(this.jobId).filter((x) => x.attemptId === attemptId)
      const held = events.find((x) => x.kind === 'attempt-held')
      this.holds.set(attemptId, held === undefined ? null : held.data.via === 'store' ? 'store' : 'file')
      const released = events.find((x) => x.kind === 'attempt-hold-released')
      if (released !== undefined && !this.holdsReleased.has(attemptId)) this.holdsReleased.set(attemptId, Date.parse(released.ts))
    }
    return this.holds.get(attemptId) ?? null
  }

  private heldUnreleased(attempt: AttemptRecord): boolean {
    return this.holdOf(attempt.id) !== null && !this.holdsReleased.has(attempt.id)
  }

  /** Lets a held attempt go. A go that cannot be given leaves the attempt to time out and fail. */
  private async releaseHold(job: JobRecord, attempt: AttemptRecord): Promise<void> {
    const via = this.holdOf(attempt.id)
    this.holdsReleased.set(attempt.id, this.clock().getTime())
    try {
      if (via === 'file') {
        const file = this.holdFile(job.id, attempt.id)
        mkdirSync(dirname(file), {recursive: true})
        writeFileSync(file, `go ${this.clock().toISOString()}\n`)
      } else if (via === 'store') {
        const urls = await this.deps.attemptHolds?.sign(job, attempt.id)
        if (!urls) throw new ProviderError('skyhop', 'auth', 'the job no longer has a checkpoint store to write the go to')
        await this.deps.attemptHolds!.release(urls)
      }
      this.store.addEvent(job.id, attempt.id, 'attempt-hold-released', {via})
      this.emit('released', `attempt ${attempt.n} let go: the attempt it replaces has stopped`, {attemptId: attempt.id})
    } catch (error) {
      const perr = asProviderError(attempt.provider, error)
      const failures = (this.releaseFailures.get(attempt.id) ?? 0) + 1
      this.releaseFailures.set(attempt.id, failures)
      // A store briefly out of reach: try again on the next turns of the loop, then leave it.
      const again = failures < MAX_RELEASE_TRIES
      if (again) this.holdsReleased.delete(attempt.id)
      this.store.addEvent(job.id, attempt.id, 'attempt-hold-release-failed', {message: perr.message, tries: failures})
      this.emit('warning', `could not let attempt ${attempt.n} go (${perr.message}); ${again ? 'trying again' : 'it will give up waiting and be relaunched'}`, {attemptId: attempt.id})
    }
  }

  /**
   * Ends a held attempt that must never start (its job ended, or the attempt it was to
   * replace could not be asked to stop): it has run nothing, so it is released at once
   * and recorded as cancelled, never polled into the job's own story.
   */
  private async stopHeld(job: JobRecord, attempt: AttemptRecord): Promise<void> {
    this.holdsReleased.set(attempt.id, this.clock().getTime())
    const provider = this.deps.providers.get(attempt.provider)
    this.emit('stopping', `stopping held attempt ${attempt.n}: it is no longer needed`, {attemptId: attempt.id})
    if (provider && attempt.handle) {
      await provider.signal(attempt.handle, 'cancel', 0).catch((error: unknown) => {
        this.store.addEvent(this.jobId, attempt.id, 'cancel-failed', {message: asProviderError(provider.name, error).message})
      })
      await this.release(attempt)
    }
    this.store.updateAttempt(attempt.id, {state: 'CANCELLED', endedAt: this.clock().toISOString(), reason: `held and never started: ${TERMINAL_JOB_STATES.has(job.state) ? `the job ended (${job.state})` : 'the move to spot was called off'}`}, {kind: 'attempt-cancelled'})
  }

  /** Asks the on-demand attempt to stop as a preemption would (it checkpoints in its grace). */
  private async migrate(job: JobRecord, attempt: AttemptRecord, message: string, data: Record<string, unknown>): Promise<boolean> {
    const provider = this.deps.providers.get(attempt.provider)
    if (!provider || !attempt.handle) return false
    const grace = job.spec.recovery.graceSeconds
    // Intent first: whoever sees this attempt end (this controller or the next) knows why.
    this.lastRespot = null
    this.store.addEvent(job.id, attempt.id, 'respot-migrate', {message, graceSeconds: grace, ...data})
    this.emit('migrating', message, {attemptId: attempt.id, data})
    try {
      await provider.signal(attempt.handle, 'preempt', grace)
    } catch (error) {
      const perr = asProviderError(attempt.provider, error)
      this.store.addEvent(job.id, attempt.id, 'respot-migrate-failed', {message: `could not ask the attempt to stop: ${perr.message}; staying`})
      this.migrationAsked.set(attempt.id, false)
      return false
    }
    this.migrating.set(attempt.id, this.clock().getTime() + (grace + 60) * 1000)
    return true
  }

  /**
   * Whether this attempt was asked to stop for a migration: by this controller, or by an
   * earlier one (the last word in the store, read once per attempt).
   */
  private migrationRequested(attemptId: string): boolean {
    if (this.migrating.has(attemptId)) return true
    let asked = this.migrationAsked.get(attemptId)
    if (asked === undefined) {
      const last = [...this.store.events(this.jobId)].reverse().find((e) => e.attemptId === attemptId && (e.kind === 'respot-migrate' || e.kind === 'respot-migrate-failed'))
      asked = last?.kind === 'respot-migrate'
      this.migrationAsked.set(attemptId, asked)
    }
    return asked
  }

  /** An attempt asked to stop for a migration that outlived its grace and a minute: take it away. */
  private async migrationOverdue(attempt: AttemptRecord): Promise<boolean> {
    const until = this.migrating.get(attempt.id)
    if (until === undefined || this.clock().getTime() <= until) return false
    await this.release(attempt)
    const reason = 'still running a minute after its grace; released'
    this.store.updateAttempt(attempt.id, {state: 'PREEMPTED', endedAt: this.clock().toISOString(), reason}, {kind: 'attempt-preempted'})
    await this.onAttemptEnded(this.job(), this.store.getAttempt(attempt.id)!, {state: 'PREEMPTED', exitCode: null, reason, startedAt: null, endedAt: null})
    return true
  }

  /** The end of an attempt that was migrated: not a preemption, not a restart. */
  private onMigrated(job: JobRecord, attempt: AttemptRecord, result: PollResult): void {
    this.migrating.delete(attempt.id)
    const reason = `migrated to spot${result.reason ? ` (${result.reason})` : ''}`
    this.store.updateAttempt(attempt.id, {reason}, {kind: 'attempt-migrated', data: {message: `attempt ${attempt.n} stopped on on-demand to move to spot`}})
    if (this.migrations !== null) this.migrations++
    this.store.setJobState(job.id, 'RECOVERING', {kind: 'job-migrating', attemptId: attempt.id})
    // Spot launched first (moveToSpot) waits, held, as the next open attempt.
    const held = this.liveAttempt()
    this.emit(
      'recovering',
      `attempt ${attempt.n} left on-demand to move to spot; ${held ? `resuming on attempt ${held.n}` : 'relaunching'} (not counted toward recovery.max_restarts)`,
      {attemptId: attempt.id},
    )
    this.probing = held === undefined
    // The respot look saw past stale capacity blocks and the region that once preempted the job.
    this.dropTransientBlocks()
    this.preemptionBlocks.length = 0
  }

  // ---- polling ------------------------------------------------------------------------

  private async pollOne(attempt: AttemptRecord): Promise<PollResult | undefined> {
    const provider = this.deps.providers.get(attempt.provider)!
    let result: PollResult | undefined
    try {
      result = this.deps.poller
        ? await this.deps.poller.poll(provider, attempt.handle!)
        : (await provider.poll([attempt.handle!])).get(attempt.handle!.externalId)
    } catch (error) {
      const perr = asProviderError(attempt.provider, error)
      this.emit('poll-error', `could not poll ${attempt.provider}: ${perr.message}`, {attemptId: attempt.id})
      return undefined
    }
    if (!result) return undefined
    this.applyPoll(attempt, result)
    return result
  }

  private applyPoll(attempt: AttemptRecord, result: PollResult): void {
    if (result.state === attempt.state) return
    const now = this.clock().toISOString()
    const patch: Parameters<Store['updateAttempt']>[1] = {state: result.state}
    if (result.state === 'RUNNING' && !attempt.startedAt) {
      patch.startedAt = result.startedAt ?? now
      // A held attempt's instance was up before it was let go: its run starts no earlier.
      const released = this.holdsReleased.get(attempt.id)
      if (released !== undefined && Date.parse(patch.startedAt) < released) patch.startedAt = new Date(released).toISOString()
      const launched = Date.parse(attempt.launchedAt ?? attempt.intentAt)
      this.store.addObservation({
        provider: attempt.provider,
        region: attempt.region,
        zone: attempt.zone,
        accelerator: attempt.accelerator,
        spot: attempt.spot,
        kind: 'provisioning-wait',
        valueSeconds: Math.max(0, (Date.parse(patch.startedAt) - launched) / 1000),
      })
    }
    if (TERMINAL_ATTEMPT_STATES.has(result.state)) {
      patch.endedAt = result.endedAt ?? now
      patch.exitCode = result.exitCode
      patch.reason = result.reason
      if (!attempt.startedAt && result.startedAt) patch.startedAt = result.startedAt
    }
    this.store.updateAttempt(attempt.id, patch, {kind: `attempt-${result.state.toLowerCase()}`, data: {exitCode: result.exitCode, reason: result.reason}})
    // An ended job (cancelled while this attempt started) stays ended.
    if (result.state === 'RUNNING' && !TERMINAL_JOB_STATES.has(this.job().state)) {
      this.store.setJobState(this.jobId, 'RUNNING', {kind: 'job-running', attemptId: attempt.id})
      this.emit('running', `running on ${attempt.provider}/${attempt.region} (${attempt.instanceType})`, {attemptId: attempt.id})
    }
  }

  private async onAttemptEnded(job: JobRecord, attempt: AttemptRecord, result: PollResult): Promise<void> {
    await this.release(attempt)
    // A held attempt's go file has served once the attempt is over (a store's go object stays: one small object a move).
    if (this.holdOf(attempt.id) === 'file') rmSync(this.holdFile(job.id, attempt.id), {force: true})
    if (attempt.spot && attempt.startedAt) {
      this.store.addObservation({
        provider: attempt.provider,
        region: attempt.region,
        zone: attempt.zone,
        accelerator: attempt.accelerator,
        spot: true,
        kind: 'spot-uptime',
        valueSeconds: (Date.parse(attempt.endedAt ?? this.clock().toISOString()) - Date.parse(attempt.startedAt)) / 1000,
      })
    }
    if (TERMINAL_JOB_STATES.has(job.state)) return
    if ((result.state === 'PREEMPTED' || result.state === 'LOST' || result.state === 'CANCELLED') && this.migrationRequested(attempt.id)) {
      this.onMigrated(job, attempt, result)
      return
    }
    const spec = job.spec
    switch (result.state) {
      case 'SUCCEEDED': {
        this.store.setJobState(job.id, 'SUCCEEDED', {kind: 'job-succeeded', attemptId: attempt.id}, {exitCode: 0, reason: null})
        this.emit('succeeded', 'job succeeded', {attemptId: attempt.id})
        return
      }
      case 'FAILED': {
        const code = result.exitCode
        if (code !== null && spec.recovery.restartOnExitCodes.includes(code) && job.errorRestarts < spec.recovery.maxRestartsOnErrors) {
          this.store.setJobState(job.id, 'RECOVERING', {kind: 'job-restarting-on-error', attemptId: attempt.id, data: {exitCode: code}}, {errorRestarts: job.errorRestarts + 1})
          this.emit('restarting', `exit code ${code} is in restart_on_exit_codes; restarting (${job.errorRestarts + 1}/${spec.recovery.maxRestartsOnErrors})`, {attemptId: attempt.id})
          await this.sleep(Math.min(30_000, 1000 * 2 ** job.errorRestarts))
          return
        }
        this.store.setJobState(job.id, 'FAILED', {kind: 'job-failed', attemptId: attempt.id, data: {exitCode: code}}, {exitCode: code, reason: result.reason ?? `exited with code ${code}`})
        this.emit('failed', `job failed with exit code ${code}`, {attemptId: attempt.id})
        return
      }
      case 'PREEMPTED':
      case 'LOST': {
        if (result.state === 'PREEMPTED') {
          this.store.addObservation({
            provider: attempt.provider,
            region: attempt.region,
            zone: attempt.zone,
            accelerator: attempt.accelerator,
            spot: attempt.spot,
            kind: 'preemption',
            valueSeconds: null,
          })
        }
        if (job.restarts >= spec.recovery.maxRestarts) {
          this.store.setJobState(job.id, 'FAILED', {kind: 'job-failed', attemptId: attempt.id}, {
            exitCode: null,
            reason: `${result.state === 'PREEMPTED' ? 'preempted' : 'lost'} and recovery.max_restarts (${spec.recovery.maxRestarts}) reached`,
          })
          this.emit('failed', `attempt ${result.state.toLowerCase()}; no restarts left`, {attemptId: attempt.id})
          return
        }
        if (spec.recovery.strategy === 'eager-next-region') {
          this.preemptionBlocks.push({provider: attempt.provider, region: attempt.region, market: attempt.spot ? 'spot' : null, reason: 'preempted'})
        }
        this.store.setJobState(job.id, 'RECOVERING', {kind: 'job-recovering', attemptId: attempt.id, data: {after: result.state}}, {restarts: job.restarts + 1})
        this.emit('recovering', `attempt ${attempt.n} ${result.state.toLowerCase()} (${result.reason ?? 'no reason given'}); relaunching (${job.restarts + 1}/${spec.recovery.maxRestarts})`, {attemptId: attempt.id})
        return
      }
      case 'CANCELLED': {
        this.store.setJobState(job.id, 'CANCELLED', {kind: 'job-cancelled', attemptId: attempt.id}, {reason: result.reason ?? 'cancelled on the backend'})
        this.emit('cancelled', 'job cancelled', {attemptId: attempt.id})
        return
      }
      default:
        return
    }
  }

  /** The job ended (e.g. cancelled) while an attempt was live: wait for it to go, then clean up. */
  private async settleAfterEnd(attempt: AttemptRecord): Promise<void> {
    const result = await this.pollOne(attempt)
    if (result && TERMINAL_ATTEMPT_STATES.has(result.state)) {
      await this.release(attempt)
      this.stopping.delete(attempt.id)
      return
    }
    const deadline = this.stopping.get(attempt.id)
    if (deadline !== undefined && this.clock().getTime() > deadline) {
      // It did not stop within its grace and a minute: take it away.
      await this.release(attempt)
      this.store.updateAttempt(attempt.id, {state: 'CANCELLED', endedAt: this.clock().toISOString(), reason: 'still running after the job was cancelled; released'}, {kind: 'attempt-cancelled'})
      this.stopping.delete(attempt.id)
      return
    }
    await this.sleep(this.pollIntervalMs)
  }

  /** Releases what the attempt holds and records when; a failure is left to the idle guard (idle.ts). */
  private async release(attempt: AttemptRecord): Promise<void> {
    const provider = this.deps.providers.get(attempt.provider)
    if (!provider || !attempt.handle) return
    try {
      await provider.cleanup(attempt.handle)
      this.store.markReleased(attempt.id)
    } catch (error) {
      this.store.addEvent(this.jobId, attempt.id, 'cleanup-failed', {message: asProviderError(attempt.provider, error).message})
    }
  }

  private failJob(error: unknown): void {
    const message = isSkyhopError(error) ? error.message : String(error)
    const code = isSkyhopError(error) ? error.code : 'INTERNAL'
    this.store.setJobState(this.jobId, 'FAILED', {kind: 'job-failed', data: {code, message, ...(isSkyhopError(error) ? {error: error.toJSON()} : {})}}, {
      exitCode: null,
      reason: message,
    })
    this.emit('failed', message)
  }
}

/**
 * Coalesces status polls of many attempts into one backend call per provider per tick
 * (one `squeue` for every Slurm job of a sweep), so polling cost does not grow with the
 * number of jobs.
 */
export class BatchPoller {
  private readonly queue = new Map<Provider, Array<{handle: LaunchHandle; resolve: (r: PollResult | undefined) => void; reject: (e: unknown) => void}>>()
  private readonly timers = new Map<Provider, NodeJS.Timeout>()
  /** Backend poll calls made, per provider (for benchmarks and tests). */
  readonly calls = new Map<string, number>()

  /**
   * `intervalMs` may differ per provider (a sweep polls this machine's files more often than
   * a cloud's API); each provider's batch goes out on its own cadence.
   */
  constructor(private readonly intervalMs: number | ((provider: string) => number)) {}

  poll(provider: Provider, handle: LaunchHandle): Promise<PollResult | undefined> {
    return new Promise((resolve, reject) => {
      const list = this.queue.get(provider) ?? []
      list.push({handle, resolve, reject})
      this.queue.set(provider, list)
      if (!this.timers.has(provider)) {
        const ms = typeof this.intervalMs === 'number' ? this.intervalMs : this.intervalMs(provider.name)
        this.timers.set(provider, setTimeout(() => void this.flush(provider), ms))
      }
    })
  }

  private async flush(provider: Provider): Promise<void> {
    this.timers.delete(provider)
    const waiters = this.queue.get(provider) ?? []
    this.queue.delete(provider)
    if (waiters.length === 0) return
    this.calls.set(provider.name, (this.calls.get(provider.name) ?? 0) + 1)
    try {
      const results = await provider.poll(waiters.map((w) => w.handle))
      for (const w of waiters) w.resolve(results.get(w.handle.externalId))
    } catch (error) {
      for (const w of waiters) w.reject(error)
    }
  }
}

/** The offer key of the offer an attempt runs on (planner/offer-index.ts offerKey). */
function attemptOfferKey(a: AttemptRecord): string {
  return `${a.provider}/${a.region}/${a.zone ?? '-'}/${a.instanceType}`
}

function describe(c: Candidate): string {
  const acc = c.accelerator ? ` ${c.accelerator.name}:${c.accelerator.count}` : ''
  return `${c.provider}/${c.region}${c.zone ? '/' + c.zone : ''} ${c.instanceType}${acc}${c.spot ? ' (spot)' : ''}`
}

export function asProviderError(provider: string, error: unknown): ProviderError {
  if (error instanceof ProviderError) return error
  if (isSkyhopError(error)) return new ProviderError(provider, 'user', error.message, {code: error.code, cause: error})
  return new ProviderError(provider, 'transient', error instanceof Error ? error.message : String(error), {code: 'PROVIDER_UNEXPECTED', cause: error})
}

/** Whether a block applies to a candidate: fields a block leaves out match anything. */
export function covers(b: BlockedScope, c: Candidate): boolean {
  return (
    b.provider === c.provider &&
    (b.region == null || b.region === c.region) &&
    (b.zone == null || b.zone === c.zone) &&
    (b.instanceType == null || b.instanceType === c.instanceType) &&
    (b.market == null || b.market === (c.spot ? 'spot' : 'on-demand'))
  )
}

/** What to stop trying after a failure, from the error's scope. */
export function blockFor(error: ProviderError, c: Candidate): BlockedScope {
  const reason = error.category
  // Spot and on-demand are different markets: no spot capacity in a zone says nothing
  // about on-demand there, which is often the safety net that still meets the deadline.
  const market = error.category === 'capacity' && c.spot ? ({market: 'spot'} as const) : {}
  switch (error.scope) {
    case 'provider':
      return {provider: c.provider, reason}
    case 'region':
      return {provider: c.provider, region: c.region, ...market, reason}
    case 'zone':
      return {provider: c.provider, region: c.region, zone: c.zone, ...market, reason}
    default:
      return {provider: c.provider, region: c.region, zone: c.zone, instanceType: c.instanceType, market: c.spot ? 'spot' : 'on-demand', reason}
  }
}

export {JobLostError}
export type {LaunchHandle}

/** Whether the provider's attempts see skyhop's filesystem (local, Slurm) rather than an instance's own disk. */
function seesSkyhopFiles(provider: Provider): boolean {
  return (provider.attemptStorage ?? 'shared') === 'shared'
}
