// One job being driven: what the controller's parts share (the journal, the clock, the
// scopes blocked so far, the attempts being stopped) and the job as it stands (its work
// left, planned again with the scopes blocked). The parts (launch-round.ts, spot-moves.ts,
// holds.ts, attempt-end.ts) each hold their own state and reach one another through here.
import {asProviderError} from '../errors.js'
import {callScope, remainingMs} from '../util/deadline.js'
import {redact} from '../util/redact.js'
import type {BlockList, BlockedScope} from '../planner/types.js'
import type {Provider} from '../providers/provider.js'
import type {JobSpec} from '../model/job-spec.js'
import {type AttemptRecord, type JobRecord, TERMINAL_JOB_STATES} from '../model/records.js'
import type {AttemptEnds} from './attempt-end.js'
import type {ControllerDeps} from './deps.js'
import type {Replanned} from '../planner/replanner.js'
import type {Holds} from './holds.js'
import type {Journal} from './journal.js'
import type {LaunchRounds} from './launch-round.js'
import {type AttemptProgress, respotIntervalMs, workDoneHours, workLeftHours, workOverrun} from './respot.js'
import type {SpotMoves} from './spot-moves.js'
import type {ShipRenewal} from './ship-renewal.js'
import type {UsageWatch} from './usage-watch.js'

const TRANSIENT_RETRIES = 4

export class JobDrive {
  readonly journal: Journal
  readonly clock: () => Date
  readonly sleep: (ms: number) => Promise<void>
  readonly pollIntervalMs: number
  readonly respotMs: number
  /** Scopes blocked after launch failures, for this controller's life. */
  readonly blocked: BlockedScope[] = []
  /** Scopes blocked because an attempt was preempted there (dropped if nothing else is left). */
  readonly preemptionBlocks: BlockedScope[] = []
  /** Attempts this controller stopped because the job ended while they launched: when to stop waiting (ms). */
  readonly stopping = new Map<string, number>()
  lostLease = false
  /** Reference work-hours per hour of running, per attempt (null: unknown). */
  readonly workRates = new Map<string, number | null>()
  /** Attempts of this job that ended in a migration (counted from the store once, then kept). */
  migrations: number | null = null
  /** Zones (provider|region|zone|accelerator|market) out of capacity since the last launch: observed once. */
  readonly outagesSeen = new Set<string>()

  // The parts, wired once by the controller (controller.ts) before it drives.
  launch!: LaunchRounds
  spot!: SpotMoves
  holds!: Holds
  ends!: AttemptEnds
  usage!: UsageWatch
  shipRenewal!: ShipRenewal

  constructor(
    readonly jobId: string,
    readonly deps: ControllerDeps,
  ) {
    this.journal = deps.journal
    this.clock = deps.clock ?? (() => new Date())
    this.sleep = deps.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)))
    this.pollIntervalMs = deps.pollIntervalMs ?? 1000
    this.respotMs = deps.respotIntervalMs ?? respotIntervalMs(deps.env ?? process.env)
  }

  emit(kind: string, message: string, extra: {attemptId?: string; data?: Record<string, unknown>} = {}): void {
    this.deps.onEvent?.({kind, jobId: this.jobId, message, ...extra})
  }

  job(): JobRecord {
    return this.journal.job(this.jobId)!
  }

  liveAttempt(): AttemptRecord | undefined {
    return this.journal.openAttempt(this.jobId)
  }

  async withTransientRetry<T>(provider: Provider, fn: () => Promise<T>): Promise<T> {
    for (let i = 0; ; i++) {
      try {
        return await fn()
      } catch (error) {
        const perr = asProviderError(provider.name, error)
        if (perr.category !== 'transient' || i >= TRANSIENT_RETRIES) throw perr
        const delayMs = Math.min(10_000, 250 * 2 ** i)
        // No try after the deadline around this (a launch candidate's budget): the failure stands.
        const left = remainingMs()
        if (left !== null && left <= delayMs) throw perr
        const scope = callScope()
        scope?.onRetry?.({what: scope.what, attempt: i + 1, delayMs, reason: redact(`${perr.code}: ${perr.message}`)})
        await this.sleep(delayMs)
      }
    }
  }

  /**
   * Plans the job as it stands: the work left (estimated from its attempts), with the
   * deadline moved `shiftMs` earlier (how things will look after losing that much time),
   * on-demand only when asked.
   */
  async plan(
    job: JobRecord,
    blocked: BlockList,
    shiftMs = 0,
    onDemandOnly = false,
    dropDeadline = false,
  ): Promise<{replanned: Replanned; spec: JobSpec}> {
    let spec = job.spec
    if (spec.work !== null) spec = {...spec, work: {...spec.work, hours: this.workLeft(job)}}
    if (shiftMs > 0 && spec.deadline !== null) spec = {...spec, deadline: new Date(Date.parse(spec.deadline) - shiftMs).toISOString()}
    if (dropDeadline) spec = {...spec, deadline: null}
    if (onDemandOnly) spec = {...spec, spot: 'on-demand'}
    return {replanned: await this.deps.replan(spec, blocked), spec}
  }

  /** Reference work-hours left: the job's work less what its attempts did (respot.ts). */
  workLeft(job: JobRecord): number {
    return workLeftHours(job.spec.work?.hours ?? 0, this.workDone(job))
  }

  workDone(job: JobRecord): number {
    const attempts: AttemptProgress[] = this.journal.startedAttempts(job.id).map((a) => ({
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
  workMeasurable(job: JobRecord): boolean {
    return job.spec.work !== null && !workOverrun(job.spec.work.hours, this.workDone(job))
  }

  /** An attempt's speed as recorded when it was launched (by this controller or an earlier one). */
  workRate(attemptId: string): number | null {
    if (!this.workRates.has(attemptId)) {
      const e = this.journal.events(this.jobId).find((x) => x.kind === 'attempt-requested' && x.attemptId === attemptId)
      const v = e?.data.workPerHour
      this.workRates.set(attemptId, typeof v === 'number' && v > 0 ? v : null)
    }
    return this.workRates.get(attemptId) ?? null
  }

  /** Blocks that still hold when capacity may have come back: all but capacity and transient failures. */
  hardBlocks(): BlockedScope[] {
    return this.blocked.filter((b) => b.reason !== 'capacity' && b.reason !== 'transient')
  }

  dropTransientBlocks(): void {
    this.blocked.splice(0, this.blocked.length, ...this.hardBlocks())
  }

  /** Sleeps `ms` in poll-sized steps; false as soon as the job ends or driving stops. */
  async sleepWhileLive(ms: number): Promise<boolean> {
    const until = this.clock().getTime() + ms
    for (;;) {
      if (this.deps.signal?.aborted || this.lostLease || TERMINAL_JOB_STATES.has(this.job().state)) return false
      const left = until - this.clock().getTime()
      if (left <= 0) return true
      await this.sleep(Math.min(left, Math.max(this.pollIntervalMs, 1000)))
    }
  }
}
