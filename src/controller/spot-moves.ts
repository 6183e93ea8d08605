// Spot for a `spot: auto` job, driven: waiting for spot instead of going on-demand while
// the deadline allows, trying spot the plan left out while on-demand stays a safe fallback,
// and moving back from on-demand to spot (held spot launched first, then the on-demand
// attempt asked to stop as a preemption would). The decisions are respot.ts's, pure; this
// is the planning they need and the moves they call for, each recorded before it is made.
import {asProviderError} from '../errors.js'
import type {BlockList, Candidate, Plan} from '../planner/types.js'
import type {PollResult} from '../model/attempt.js'
import type {JobSpec} from '../model/job-spec.js'
import {type AttemptRecord, type JobRecord, TERMINAL_JOB_STATES} from '../model/records.js'
import type {Replanned} from '../planner/replanner.js'
import type {JobDrive} from './drive.js'
import {missingSecrets} from './contract-env.js'
import {attemptOfferKey, covers} from './launch-round.js'
import {
  MAX_HELD_PROBE_BACKOFF_DOUBLINGS,
  type OutageEstimate,
  type ProgressLine,
  type SpotSighting,
  aheadOfLine,
  assessMigration,
  decideWait,
  fallbackAfterMove,
  fallbackMarginHours,
  fallbackSpot,
  fallbackWait,
  lostHours,
  migrationMarginHours,
  nextLookMs,
  outageEstimate,
  outagePriorHours,
  outageShort,
  outageWait,
  spotTooLate,
  spotUpFraction,
  waitApplies,
  workOverrun,
} from './respot.js'

export class SpotMoves {
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
  /** The last respot decision recorded in the store, so a repeated one is not stored again. */
  private lastRespot: string | null = null

  constructor(private readonly d: JobDrive) {}

  /** Records a respot decision in the store unless it repeats the last one; always tells onEvent. */
  private respotEvent(kind: string, key: string, message: string, extra: {attemptId?: string; data?: Record<string, unknown>} = {}): void {
    if (this.lastRespot !== `${kind}:${key}`) {
      this.lastRespot = `${kind}:${key}`
      this.d.journal.recordEvent(this.d.jobId, extra.attemptId ?? null, kind, {message, ...extra.data})
    }
    this.d.emit(kind, message, extra)
  }

  /**
   * The launch round is about to go on-demand: for a `spot: auto` job with a deadline,
   * wait for spot instead while slack allows. Returns how long to wait, or null to launch.
   */
  async waitForSpot(job: JobRecord): Promise<number | null> {
    if (!waitApplies(job.spec.spot, job.spec.deadline, this.d.respotMs) || !this.d.workMeasurable(job)) return null
    const hard = this.d.hardBlocks()
    const spotLater = await this.d.plan(job, hard, this.d.respotMs)
    const onDemandLater = await this.d.plan(job, hard, this.d.respotMs, true)
    let d = decideWait({stepMs: this.d.respotMs, spotLater: spotLater.replanned.plan, onDemandLater: onDemandLater.replanned.plan})
    if (!d.wait && d.code === 'spot-does-not-fit') {
      // The p95 rule gives up on spot; the on-demand safety net may still wait a step for
      // it: ahead of the line, or behind it through an outage too short for on-demand to pay.
      const net = await this.fallbackSpot(job, spotLater.replanned.plan, hard, this.d.respotMs)
      if (net?.ahead) d = fallbackWait(this.d.respotMs, net.spot[0])
      else if (net !== null) {
        const outage = this.spotOutage(job)
        if (outageShort({...outage, spot: net.spot[0], onDemand: net.onDemand, stepMs: this.d.respotMs}))
          d = outageWait(this.d.respotMs, net.spot[0], outage.outage)
      }
    }
    if (d.wait) this.respotEvent('respot-wait', String(d.data.rule ?? 'p95'), d.message, {data: d.data})
    // A job with no spot to wait for (none offered, or dearer) goes on-demand as it always did, without a word.
    else if (d.code !== 'no-spot' && d.code !== 'on-demand-preferred')
      this.respotEvent('respot-on-demand', d.code, d.message, {data: d.data})
    return d.wait ? d.ms : null
  }

  /**
   * Spot the plan left out for the deadline that the on-demand safety net admits now, or
   * after waiting `waitMs` (respot.ts: fallbackSpot): on-demand would still make the
   * deadline after spot's changeover and a preemption. `ahead`: whether the job is ahead
   * of Uniform Progress's line by then.
   */
  async fallbackSpot(
    job: JobRecord,
    plan: Plan,
    blocked: BlockList,
    waitMs: number,
  ): Promise<{spot: Candidate[]; onDemand: Candidate; free: {replanned: Replanned; spec: JobSpec}; ahead: boolean} | null> {
    if (!waitApplies(job.spec.spot, job.spec.deadline, this.d.respotMs) || job.spec.work === null) return null
    if (plan.candidates.some((c) => c.spot) || !spotTooLate(plan)) return null
    const done = this.d.workDone(job)
    if (workOverrun(job.spec.work.hours, done)) return null
    const ahead = aheadOfLine(this.progressLine(job, done), this.d.clock().getTime() + waitMs)
    const free = await this.d.plan(job, blocked, 0, false, true)
    const chosen = free.replanned.plan.chosen
    if (chosen === null || !chosen.spot) return null
    const margin = fallbackMarginHours(chosen.estimatedQueueHours, job.spec.checkpoint.intervalSeconds, waitMs)
    const onDemandLater = await this.d.plan(job, blocked, Math.ceil(margin * 3_600_000), true)
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
    for (const a of this.d.journal.attempts(job.id)) {
      if (!a.spot) {
        if (a.launchedAt !== null) sightings.push({atMs: Date.parse(a.launchedAt), up: null})
        continue
      }
      if (a.launchedAt !== null) sightings.push({atMs: Date.parse(a.launchedAt), up: true})
      else if (a.state === 'FAILED' && (a.error?.details as {category?: unknown} | undefined)?.category === 'capacity')
        sightings.push({atMs: Date.parse(a.intentAt), up: false})
      if (a.state === 'PREEMPTED' && a.endedAt !== null) sightings.push({atMs: Date.parse(a.endedAt), up: false})
    }
    const now = this.d.clock().getTime()
    const spanHours = (Date.parse(job.spec.deadline ?? job.createdAt) - Date.parse(job.createdAt)) / 3_600_000
    const workHours = job.spec.work?.hours ?? 0
    return {
      outage: outageEstimate(sightings, now, outagePriorHours(workHours, spanHours)),
      upFraction: spotUpFraction(sightings, now, spanHours > 0 ? workHours / spanHours : 1),
    }
  }

  /** Uniform Progress's line for the job: from its creation (no work) to its deadline (all of it). */
  private progressLine(job: JobRecord, done = this.d.workDone(job)): ProgressLine {
    return {
      totalHours: job.spec.work?.hours ?? 0,
      doneHours: done,
      startMs: Date.parse(job.createdAt),
      deadlineMs: job.spec.deadline === null ? Number.NaN : Date.parse(job.spec.deadline),
    }
  }

  /** After a launch: a migration whose spot launch found nothing makes the next look wait longer. */
  afterProbe(launched: Candidate): void {
    if (!this.probing) return
    this.probing = false
    if (launched.spot) {
      this.failedProbes = 0
      return
    }
    this.failedProbes++
    const next = nextLookMs(this.d.respotMs, this.failedProbes)
    this.respotEvent(
      'respot-probe-failed',
      String(this.failedProbes),
      `no spot capacity after all; back on on-demand, next look in ${Math.round(next / 60_000)} min`,
      {
        data: {failedProbes: this.failedProbes, nextLookSeconds: Math.round(next / 1000)},
      },
    )
  }

  /**
   * A `spot: auto` job running on on-demand: every interval, re-plan the job as it stands and
   * leave for spot when it pays and the deadline stays safe (respot.ts).
   */
  async considerRespot(job: JobRecord, attempt: AttemptRecord): Promise<boolean> {
    if (
      this.d.respotMs <= 0 ||
      job.spec.spot !== 'auto' ||
      job.spec.work === null ||
      attempt.spot ||
      attempt.state !== 'RUNNING' ||
      !attempt.handle
    )
      return false
    if (TERMINAL_JOB_STATES.has(job.state) || this.migrating.has(attempt.id)) return false
    const now = this.d.clock().getTime()
    if (this.migrationRequested(attempt.id)) {
      // An earlier controller asked it to stop and died: give it its grace from now, then take it away.
      this.migrating.set(attempt.id, now + (job.spec.recovery.graceSeconds + 60) * 1000)
      return false
    }
    if (this.respotFor !== attempt.id) {
      this.respotFor = attempt.id
      this.nextRespotAt = now + nextLookMs(this.d.respotMs, this.failedProbes)
    }
    if (now < this.nextRespotAt) return false
    this.nextRespotAt = now + this.d.respotMs
    if (!this.d.workMeasurable(job)) return false

    const hard = this.d.hardBlocks()
    const {replanned, spec} = await this.d.plan(job, hard)
    const plan = replanned.plan
    const key = attemptOfferKey(attempt)
    const own = plan.candidates.find((c) => !c.spot && c.offerKey === key)
    const rate = this.d.workRate(attempt.id)
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
      const free = await this.d.plan(job, hard, 0, false, true)
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
      if (econ.code !== 'no-spot')
        this.respotEvent('respot-stay', econ.code, `staying on on-demand: ${econ.message}`, {
          attemptId: attempt.id,
          data: {code: econ.code, ...econ.data},
        })
      return false
    }
    const data: Record<string, unknown> = {to: econ.to.key, savingUsd: Math.round(econ.savingUsd * 100) / 100, rule}
    if (job.spec.deadline !== null) {
      const marginHours = migrationMarginHours(econ.switchHours, this.d.respotMs, relaunchHours, econ.to.estimatedQueueHours)
      const v = fallbackAfterMove((await this.d.plan(job, hard, Math.ceil(marginHours * 3_600_000), true)).replanned.plan, marginHours)
      if (!v.ok) {
        this.respotEvent('respot-stay', v.code, `staying on on-demand: ${econ.message}, but ${v.message}`, {
          attemptId: attempt.id,
          data: {code: v.code, ...data},
        })
        return false
      }
      data.marginHours = Math.round(marginHours * 1000) / 1000
    }
    const target = this.d.deps.providers.get(econ.to.provider)
    if (target !== undefined && this.d.holds.canHold(job, target)) {
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
   * checkpoint saved (the loop: Holds.releaseHold). A spot launch that finds no capacity costs
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
    // A controller without the job's secrets cannot launch; the attempt it has runs on.
    if (missingSecrets(job.spec, this.d.deps.env ?? process.env).length > 0) return false
    const sync = (await this.d.deps.checkpointSync?.(job)) ?? null
    const others = planned.replanned.plan.candidates.filter((c) => c.spot && c.key !== first.key && pays(c))
    const tries = [first, ...others].slice(0, this.d.deps.maxCandidatesPerRound ?? 25)
    for (const candidate of tries) {
      const provider = this.d.deps.providers.get(candidate.provider)
      // Capacity found missing earlier may be back: only the blocks that still hold count.
      if (!provider || !this.d.holds.canHold(job, provider) || this.d.hardBlocks().some((b) => covers(b, candidate))) continue
      const outcome = await this.d.launch.tryCandidate(job, candidate, planned.replanned, planned.spec, sync, {held: true})
      if (outcome === 'job-ended') return false
      if (outcome !== 'launched') continue
      this.d.outagesSeen.clear()
      this.failedProbes = 0
      const held = this.d.journal.attempts(job.id).at(-1)!
      if (
        await this.migrate(job, attempt, `${message}; spot launched first (attempt ${held.n}), held until this one has stopped`, {
          ...data,
          to: candidate.key,
          heldAttemptId: held.id,
        })
      )
        return true
      // The on-demand attempt could not be asked to stop: it goes on, and the spot one never starts.
      await this.d.holds.stopHeld(job, held)
      return false
    }
    // No spot after all: the job stays on on-demand; the next look comes later.
    this.failedProbes++
    const next = nextLookMs(this.d.respotMs, this.failedProbes, MAX_HELD_PROBE_BACKOFF_DOUBLINGS)
    this.nextRespotAt = this.d.clock().getTime() + next
    this.d.dropTransientBlocks()
    this.respotEvent(
      'respot-probe-failed',
      String(this.failedProbes),
      `no spot capacity after all; staying on on-demand, next look in ${Math.round(next / 60_000)} min`,
      {
        attemptId: attempt.id,
        data: {failedProbes: this.failedProbes, nextLookSeconds: Math.round(next / 1000)},
      },
    )
    return false
  }

  /** Asks the on-demand attempt to stop as a preemption would (it checkpoints in its grace). */
  private async migrate(job: JobRecord, attempt: AttemptRecord, message: string, data: Record<string, unknown>): Promise<boolean> {
    const provider = this.d.deps.providers.get(attempt.provider)
    if (!provider || !attempt.handle) return false
    const grace = job.spec.recovery.graceSeconds
    // Intent first: whoever sees this attempt end (this controller or the next) knows why.
    this.lastRespot = null
    this.d.journal.recordEvent(job.id, attempt.id, 'respot-migrate', {message, graceSeconds: grace, ...data})
    this.d.emit('migrating', message, {attemptId: attempt.id, data})
    try {
      await provider.signal(attempt.handle, 'preempt', grace)
    } catch (error) {
      const perr = asProviderError(attempt.provider, error)
      this.d.journal.recordEvent(job.id, attempt.id, 'respot-migrate-failed', {
        message: `could not ask the attempt to stop: ${perr.message}; staying`,
      })
      this.migrationAsked.set(attempt.id, false)
      return false
    }
    this.migrating.set(attempt.id, this.d.clock().getTime() + (grace + 60) * 1000)
    return true
  }

  /**
   * Whether this attempt was asked to stop for a migration: by this controller, or by an
   * earlier one (the last word in the store, read once per attempt).
   */
  migrationRequested(attemptId: string): boolean {
    if (this.migrating.has(attemptId)) return true
    let asked = this.migrationAsked.get(attemptId)
    if (asked === undefined) {
      const last = [...this.d.journal.events(this.d.jobId)]
        .reverse()
        .find((e) => e.attemptId === attemptId && (e.kind === 'respot-migrate' || e.kind === 'respot-migrate-failed'))
      asked = last?.kind === 'respot-migrate'
      this.migrationAsked.set(attemptId, asked)
    }
    return asked
  }

  /** An attempt asked to stop for a migration that outlived its grace and a minute: take it away. */
  async migrationOverdue(attempt: AttemptRecord): Promise<boolean> {
    const until = this.migrating.get(attempt.id)
    if (until === undefined || this.d.clock().getTime() <= until) return false
    await this.d.ends.release(attempt)
    const reason = 'still running a minute after its grace; released'
    this.d.journal.recordOutcome(
      attempt.id,
      {state: 'PREEMPTED', endedAt: this.d.clock().toISOString(), reason},
      {kind: 'attempt-preempted'},
    )
    await this.d.ends.onAttemptEnded(this.d.job(), this.d.journal.attempt(attempt.id)!, {
      state: 'PREEMPTED',
      exitCode: null,
      reason,
      startedAt: null,
      endedAt: null,
    })
    return true
  }

  /** The end of an attempt that was migrated: not a preemption, not a restart. */
  onMigrated(job: JobRecord, attempt: AttemptRecord, result: PollResult): void {
    this.migrating.delete(attempt.id)
    const reason = `migrated to spot${result.reason ? ` (${result.reason})` : ''}`
    this.d.journal.recordOutcome(
      attempt.id,
      {reason},
      {kind: 'attempt-migrated', data: {message: `attempt ${attempt.n} stopped on on-demand to move to spot`}},
    )
    if (this.d.migrations !== null) this.d.migrations++
    this.d.journal.recordJobState(job.id, 'RECOVERING', {kind: 'job-migrating', attemptId: attempt.id})
    // Spot launched first (moveToSpot) waits, held, as the next open attempt.
    const held = this.d.liveAttempt()
    this.d.emit(
      'recovering',
      `attempt ${attempt.n} left on-demand to move to spot; ${held ? `resuming on attempt ${held.n}` : 'relaunching'} (not counted toward recovery.max_restarts)`,
      {attemptId: attempt.id},
    )
    this.probing = held === undefined
    // The respot look saw past stale capacity blocks and the region that once preempted the job.
    this.d.dropTransientBlocks()
    this.d.preemptionBlocks.length = 0
  }
}
