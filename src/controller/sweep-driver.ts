// The sweep driver: drives every job of a recorded sweep from ONE controller. At most
// maxParallel jobs in flight, each driven by the same driveJob as a single launch (failover,
// recovery), backend polls batched per provider per tick by one shared BatchPoller, and no
// job started whose expected cost would push the sweep's spent + committed cost past its
// budget. The sweep service (src/services/sweep.ts) plans and records the sweep; this file
// only runs it, so it sees the planner and the state (through its journal), never a command or a terminal.
import type {FxRates} from '../model/currency.js'
import {BugError, LeaseHeldError} from '../errors.js'
import {offerIdentity} from '../planner/offer-index.js'
import {shapeKey} from '../planner/plan-sweep.js'
import type {Provider} from '../providers/provider.js'
import type {JobSpec, Money, Objective} from '../model/job-spec.js'
import {type EventRecord, type JobRecord, type JobState, type SweepRecord, type SweepState, TERMINAL_JOB_STATES} from '../model/records.js'
import {BatchPoller} from './batch-poller.js'
import {LEASE_TTL_MS, driveJob} from './controller.js'
import {type ControllerDeps, type ControllerEvent} from './deps.js'
import type {SweepJournal} from './journal.js'
import {attemptCost, totals} from './cost.js'
import {releaseIdle} from './idle.js'

type Replanner = ControllerDeps['replan']

/** What the sweep row keeps so that any controller (detached, recovered) runs it the same way. */
export interface StoredSweepOptions {
  maxParallel: number
  budget: Money | null
  objective?: Objective
  catalogFile?: string
}

/** Kept in each job's options: its place in the sweep and what the plan expects of it. */
export interface SweepJobOptions {
  index: number
  /** Null when the assigned candidate's price is unknown (never counted as 0). */
  expectedCostUsd: number | null
  /** The assigned candidate's hourly price in USD (all nodes); null when unknown. Owners' budgets read it. */
  hourlyUsd?: number | null
  /** The candidate the sweep plan assigned (offerKey#market), tried first. */
  candidateKey: string | null
  offerKey: string | null
  /**
   * The assigned offer's accelerator: with the offerKey, the offer's identity (offerIdentity;
   * offers of one instance type with different accelerators share an offerKey and a
   * candidateKey). Absent in sweeps recorded before it was kept.
   */
  accelerator?: {name: string; count: number} | null
  /** Instances the job takes on its offer: one per node. Absent in sweeps recorded before it was kept. */
  nodes?: number
  waitForSlotHours: number
}

export interface SweepCounts {
  pending: number
  running: number
  succeeded: number
  failed: number
  cancelled: number
}

/** Jobs by state, grouped as a sweep reports them. */
export function sweepCounts(states: Partial<Record<JobState, number>>): SweepCounts {
  const n = (s: JobState) => states[s] ?? 0
  return {
    pending: n('PENDING'),
    running: n('PROVISIONING') + n('RUNNING') + n('RECOVERING'),
    succeeded: n('SUCCEEDED'),
    failed: n('FAILED'),
    cancelled: n('CANCELLED'),
  }
}

/** RUNNING while any job is unfinished; then SUCCEEDED, FAILED (any failed) or CANCELLED. */
function finalState(jobs: readonly JobRecord[]): {state: SweepState; reason: string | null} {
  const c = sweepCounts(jobs.reduce<Partial<Record<JobState, number>>>((acc, j) => ({...acc, [j.state]: (acc[j.state] ?? 0) + 1}), {}))
  if (c.pending + c.running > 0) return {state: 'RUNNING', reason: null}
  const budget = jobs.filter((j) => j.state === 'CANCELLED' && j.reason?.startsWith('budget')).length
  const parts = [
    `${c.succeeded} succeeded`,
    ...(c.failed ? [`${c.failed} failed`] : []),
    ...(c.cancelled ? [`${c.cancelled} cancelled${budget ? ` (${budget} by the budget)` : ''}`] : []),
  ]
  const reason = parts.join(', ')
  if (c.failed > 0) return {state: 'FAILED', reason}
  if (c.cancelled > 0) return {state: 'CANCELLED', reason}
  return {state: 'SUCCEEDED', reason}
}

/** One line of progress: rendered live on a terminal, or printed as JSON Lines. */
export interface SweepEvent {
  event: string
  ts: string
  sweepId: string
  jobId?: string
  name?: string
  message: string
  data?: Record<string, unknown>
}

export interface SweepDriverDeps {
  journal: SweepJournal
  providers: ReadonlyMap<string, Provider>
  /** Plans one job of the sweep (the sweep's planning inputs, gathered once); cached per shape here. */
  replan: Replanner
  /** The exchange rate the budget is counted in. */
  fx: FxRates
  /**
   * The exit code a job's end maps to (src/services/launch.ts: exitCodeForJob), reported in
   * job-ended events; passed in because it is the CLI's contract, not the controller's.
   */
  exitCodeOf: (job: JobRecord, events: EventRecord[]) => number | null
  home: string
  owner: string
  clock?: () => Date
  /** Cadence of the shared batch poller (one backend call per provider per tick); default per provider, see SWEEP_POLL_MS. */
  pollIntervalMs?: number
  /** How often the budget, idle guard and lease are looked at while nothing ends. */
  tickMs?: number
  signal?: AbortSignal
  onEvent?: (event: SweepEvent) => void
  env?: NodeJS.ProcessEnv
  checkpointSync?: ControllerDeps['checkpointSync']
  attemptHolds?: ControllerDeps['attemptHolds']
  /**
   * What the sweep's owner may still add to their running spend, USD per hour, under the
   * config's per-user and per-team budgets (docs/configuration.md#owners-roles-and-budgets);
   * null: no limit. A job that does not fit waits (event budget-wait) until spend ends.
   */
  spendLeftUsdPerHour?: () => number | null
}

export interface SweepRun {
  /** False when the run stopped early (aborted, lease lost): the sweep still runs elsewhere or later. */
  finished: boolean
  /** Backend poll calls made per provider, and the wall time of the run. */
  stats: {pollCalls: Record<string, number>; wallSeconds: number; pollCallsPerMinute: number}
}

const HEARTBEAT_MS = Math.max(200, Math.floor(LEASE_TTL_MS / 3))

/**
 * How often a sweep polls each backend, whatever the number of jobs: this machine's attempt
 * files are cheap to read, so often (it is most of a short job's turnaround); one squeue a
 * second is light for slurmctld; a cloud's describe calls count against its API rate limits.
 */
export const SWEEP_POLL_MS: Readonly<Record<string, number>> = {local: 100, slurm: 1000}
/**
 * Where a poll is cheap (this machine's files), the tick starts here after a launch or an end
 * and grows by a quarter per poll up to SWEEP_POLL_MS (batch-poller.ts).
 */
export const SWEEP_MIN_POLL_MS: Readonly<Record<string, number>> = {local: 5}
const CLOUD_POLL_MS = 5000
/** How long a plan is reused by jobs of the same shape and the same blocked scopes. */
const PLAN_CACHE_MS = 5_000
const IDLE_GUARD_EVERY_MS = 5_000

export class SweepLeaseHeldError extends LeaseHeldError {}

/** Drives every unfinished job of the sweep to its end; see the file header. */
export async function driveSweep(sweepId: string, deps: SweepDriverDeps): Promise<SweepRun> {
  return new SweepController(sweepId, deps).run()
}

interface QueuedJob {
  id: string
  name: string
  /** Null: unknown price. */
  expectedCostUsd: number | null
  hourlyUsd: number | null
  /** The assigned offer as the plan's usage counts it (see slotOf); null when unassigned. */
  slot: string | null
  /** Instances it takes there. */
  nodes: number
}

/**
 * The key a sweep counts an offer's use under: the offer's identity, or only its offerKey
 * for a sweep recorded before jobs and usage rows kept the accelerator (both sides alike).
 */
function slotOf(offerKey: string | null, accelerator: {name: string; count: number} | null | undefined): string | null {
  if (offerKey === null) return null
  return accelerator === undefined ? offerKey : offerIdentity({offerKey, accelerator})
}

class SweepController {
  private readonly journal: SweepJournal
  private readonly clock: () => Date
  private readonly abort = new AbortController()
  private readonly poller: BatchPoller
  private readonly replan: Replanner
  private readonly running = new Map<string, {job: QueuedJob; done: Promise<void>}>()
  private readonly startedAt = Date.now()
  private sweep!: SweepRecord
  private options!: StoredSweepOptions
  /** Instances each offer may run at once, by slotOf; offers without a limit are absent. */
  private capacity = new Map<string, number>()
  /** The capacity pool of each offer in one (by slotOf), and what each pool may run at once. */
  private poolOf = new Map<string, string>()
  private poolCapacity = new Map<string, number>()
  private lastIdleGuard = 0

  constructor(
    private readonly sweepId: string,
    private readonly deps: SweepDriverDeps,
  ) {
    this.journal = deps.journal
    this.clock = deps.clock ?? (() => new Date())
    this.poller = new BatchPoller(deps.pollIntervalMs ?? ((provider) => SWEEP_POLL_MS[provider] ?? CLOUD_POLL_MS), (provider) =>
      deps.pollIntervalMs === undefined ? SWEEP_MIN_POLL_MS[provider] : undefined,
    )
    this.replan = cachedReplanner(deps.replan, () => Date.now())
    deps.signal?.addEventListener('abort', () => this.abort.abort(), {once: true})
  }

  private emit(event: string, message: string, extra: {jobId?: string; name?: string; data?: Record<string, unknown>} = {}): void {
    this.deps.onEvent?.({event, ts: this.clock().toISOString(), sweepId: this.sweepId, ...extra, message})
  }

  async run(): Promise<SweepRun> {
    const sweep = this.journal.sweep(this.sweepId)
    if (!sweep) throw new BugError(`sweep ${this.sweepId} vanished from the state store`)
    this.sweep = sweep
    this.options = sweep.options as unknown as StoredSweepOptions
    // Keyed by the offer's identity, not its offerKey: two offers sharing an offerKey each
    // keep their own capacity (a map by offerKey kept whichever came last for both).
    const usage = (sweep.plan?.usage ?? []) as Array<{
      offerKey: string
      accelerator?: {name: string; count: number} | null
      capacity: number | null
      pool?: string | null
    }>
    this.capacity = new Map()
    for (const u of usage) {
      const slot = slotOf(u.offerKey, u.accelerator)!
      if (u.pool) this.poolOf.set(slot, u.pool)
      if (u.capacity === null) continue
      this.capacity.set(slot, Math.min(u.capacity, this.capacity.get(slot) ?? Number.POSITIVE_INFINITY))
    }
    // Offers sharing a pool (the local machine's accelerators under one max_concurrent) are
    // held to it together, as the plan was: a job the pool has no room for waits here rather
    // than queue in the runner holding a place under max-parallel, or fail (when_full: fail).
    for (const p of (sweep.plan?.pools ?? []) as Array<{pool: string; capacity: number}>) this.poolCapacity.set(p.pool, p.capacity)
    if (sweep.state !== 'RUNNING') return {finished: true, stats: this.stats()}
    if (!this.journal.takeSweepLease(this.sweepId, this.deps.owner, LEASE_TTL_MS)) {
      throw new SweepLeaseHeldError(`sweep ${this.sweepId} is driven by another controller`)
    }
    this.journal.renewSweepLease(this.sweepId, this.deps.owner, LEASE_TTL_MS)
    const heartbeat = setInterval(() => {
      if (!this.journal.renewSweepLease(this.sweepId, this.deps.owner, LEASE_TTL_MS)) {
        this.emit('lease-lost', 'another controller took over this sweep; stopping here')
        this.abort.abort()
      }
    }, HEARTBEAT_MS)
    heartbeat.unref()
    try {
      return await this.loop()
    } finally {
      clearInterval(heartbeat)
      this.journal.releaseSweepLease(this.sweepId, this.deps.owner)
    }
  }

  private stats(): SweepRun['stats'] {
    const wallSeconds = (Date.now() - this.startedAt) / 1000
    const pollCalls = Object.fromEntries(this.poller.calls)
    const total = Object.values(pollCalls).reduce((a, b) => a + b, 0)
    return {pollCalls, wallSeconds: round(wallSeconds, 3), pollCallsPerMinute: wallSeconds > 0 ? round((total / wallSeconds) * 60, 1) : 0}
  }

  private async loop(): Promise<SweepRun> {
    const jobs = this.journal.sweepJobs(this.sweepId)
    const queue: QueuedJob[] = []
    const inFlight: QueuedJob[] = []
    for (const job of jobs) {
      if (TERMINAL_JOB_STATES.has(job.state)) continue
      const o = (job.options.sweep ?? {}) as Partial<SweepJobOptions>
      const q = {
        id: job.id,
        name: job.name,
        // Absent in sweeps recorded before it could be null, when it was always a number.
        expectedCostUsd: o.expectedCostUsd === undefined ? 0 : o.expectedCostUsd,
        hourlyUsd: o.hourlyUsd ?? null,
        slot: slotOf(o.offerKey ?? null, o.accelerator),
        nodes: Math.max(1, o.nodes ?? job.spec.nodes),
      }
      // Jobs already launched (a controller before us was stopped) are driven first, whatever the limit.
      if (job.state === 'PENDING') queue.push(q)
      else inFlight.push(q)
    }
    const ended = {succeeded: 0, failed: 0, cancelled: 0}
    for (const job of jobs) {
      if (job.state === 'SUCCEEDED') ended.succeeded++
      if (job.state === 'FAILED') ended.failed++
      if (job.state === 'CANCELLED') ended.cancelled++
    }
    this.emit(
      'sweep-started',
      `sweep ${this.sweep.name}: ${jobs.length} jobs, ${queue.length + inFlight.length} to run, at most ${this.options.maxParallel} at once`,
      {
        data: {
          jobs: jobs.length,
          toRun: queue.length + inFlight.length,
          ended,
          maxParallel: this.options.maxParallel,
          budget: this.options.budget,
        },
      },
    )
    for (const q of inFlight) this.start(q)

    for (;;) {
      if (this.abort.signal.aborted) break
      this.schedule(queue)
      if (this.running.size === 0 && queue.length === 0) break
      await this.waitForProgress()
      await this.idleGuard(false)
    }
    if (this.abort.signal.aborted) {
      // The jobs keep running; whoever drives the sweep next picks them up from the store.
      await Promise.all([...this.running.values()].map((r) => r.done))
      return {finished: false, stats: this.stats()}
    }
    await this.settleReleases()
    const final = finalState(this.journal.sweepJobs(this.sweepId))
    this.journal.recordSweepState(this.sweepId, final.state, final.reason)
    this.emit('sweep-ended', `sweep ${this.sweep.name} ${final.state.toLowerCase()}: ${final.reason ?? ''}`, {data: {state: final.state}})
    return {finished: true, stats: this.stats()}
  }

  /** Jobs that said they wait for their owner's budget (budget-wait is said once per job). */
  private readonly budgetWaiting = new Set<string>()

  /** Starts queued jobs while there is room under max-parallel, the offers' capacity and the budget. */
  private schedule(queue: QueuedJob[]): void {
    const budgetUsd = this.sweep.budgetUsd
    let money = budgetUsd === null ? null : this.spentAndCommitted()
    let spendLeft = queue.length > 0 ? (this.deps.spendLeftUsdPerHour?.() ?? null) : null
    // Instances in use per offer, as the planner counts capacity: a job takes one per node.
    const perOffer = new Map<string, number>()
    const perPool = new Map<string, number>()
    const occupy = (q: QueuedJob) => {
      if (!q.slot) return
      perOffer.set(q.slot, (perOffer.get(q.slot) ?? 0) + q.nodes)
      const pool = this.poolOf.get(q.slot)
      if (pool !== undefined) perPool.set(pool, (perPool.get(pool) ?? 0) + q.nodes)
    }
    for (const r of this.running.values()) occupy(r.job)
    for (let i = 0; i < queue.length && this.running.size < this.options.maxParallel;) {
      const q = queue[i]
      const job = this.journal.job(q.id)
      if (!job || TERMINAL_JOB_STATES.has(job.state)) {
        queue.splice(i, 1)
        continue
      }
      const cap = q.slot ? this.capacity.get(q.slot) : undefined
      const inUse = q.slot ? (perOffer.get(q.slot) ?? 0) : 0
      const pool = q.slot ? this.poolOf.get(q.slot) : undefined
      const poolCap = pool === undefined ? undefined : this.poolCapacity.get(pool)
      const poolInUse = pool === undefined ? 0 : (perPool.get(pool) ?? 0)
      // A job larger than the whole offer or pool (never planned so) still starts once it is empty, rather than never.
      const full = (limit: number | undefined, used: number) => limit !== undefined && used > 0 && used + q.nodes > limit
      if (full(cap, inUse) || full(poolCap, poolInUse)) {
        // Its assigned offer (or its pool) has not enough instances free: a job assigned elsewhere may go first.
        i++
        continue
      }
      if (budgetUsd !== null && money !== null) {
        const unknown = this.unknownSpend(q, money)
        if (unknown !== null) {
          // A budget cannot be kept on an unknown: no more spending until it is known, and why.
          queue.splice(i, 1)
          this.stopForBudget(q, unknown, {
            expectedCostUsd: q.expectedCostUsd,
            spentUsd: round(money.spent),
            unknownPriceAttempts: money.unknownAttempts,
            budgetUsd,
          })
          continue
        }
        const expected = q.expectedCostUsd!
        const after = money.spent + money.committed + expected
        if (after > budgetUsd + 1e-9) {
          if (this.running.size > 0) {
            // Running jobs may come in under their estimate: decide when they have settled.
            i++
            continue
          }
          queue.splice(i, 1)
          const message = `not starting ${q.name}: its expected ${usd(expected)} would bring the sweep to ${usd(after)} of its ${usd(budgetUsd)} budget (${usd(money.spent)} spent)`
          this.stopForBudget(q, message, {expectedCostUsd: expected, spentUsd: round(money.spent), unknownPriceAttempts: 0, budgetUsd})
          continue
        }
        money = {...money, committed: money.committed + expected}
      }
      if (spendLeft !== null) {
        // The owner's budgets on running spend: wait (said once per job) until what runs ends.
        const adds = q.hourlyUsd ?? Infinity
        if (adds > spendLeft + 1e-9) {
          if (!this.budgetWaiting.has(q.id)) {
            this.budgetWaiting.add(q.id)
            const what = q.hourlyUsd === null ? 'an unknown hourly price' : `${usd(q.hourlyUsd)}/h`
            this.emit('budget-wait', `${q.name} waits: at ${what} it does not fit in the ${usd(spendLeft)}/h its owner's budget has left`, {
              jobId: q.id,
              name: q.name,
              data: {hourlyUsd: q.hourlyUsd, leftUsdPerHour: spendLeft},
            })
          }
          i++
          continue
        }
        spendLeft -= adds
      }
      queue.splice(i, 1)
      occupy(q)
      this.start(q)
    }
  }

  /**
   * Why the budget cannot be checked before starting q, or null when it can: q's price is
   * unknown, or attempts of the sweep ran at an unknown price (launched by a controller from
   * before the planner kept a budgeted sweep off unknown prices), so what the sweep spent is
   * only known to be at least `spent`.
   */
  private unknownSpend(q: QueuedJob, money: SweepSpend): string | null {
    if (money.unknownAttempts > 0) {
      const n = money.unknownAttempts
      return `not starting ${q.name}: the sweep has spent at least ${usd(money.spent)}, but ${n} attempt${n === 1 ? '' : 's'} ran at an unknown price, so its budget cannot be checked (record the price: skyhop catalog refresh, or a price sheet)`
    }
    if (q.expectedCostUsd === null || money.unknownCommitted > 0)
      return `not starting ${q.name}: ${q.expectedCostUsd === null ? 'its' : "a running job's"} price is unknown, which the sweep's budget cannot be checked against`
    return null
  }

  /** Ends q CANCELLED with reason `budget: …` (exit 6) and says so in a budget-stop event. */
  private stopForBudget(q: QueuedJob, message: string, data: Record<string, unknown>): void {
    this.journal.recordJobState(
      q.id,
      'CANCELLED',
      {kind: 'job-cancelled', data: {reason: 'budget', message}},
      {reason: `budget: ${message}`},
    )
    this.emit('budget-stop', message, {jobId: q.id, name: q.name, data})
  }

  /**
   * Spent: what finished jobs cost. Committed: for running jobs, the larger of the plan's
   * expectation and what they cost so far. Both over known prices only: an attempt at an
   * unknown price is counted in unknownAttempts, never as 0, and a running job whose
   * expectation is unknown in unknownCommitted.
   */
  private spentAndCommitted(): SweepSpend {
    const byJob = new Map<string, number>()
    const now = this.clock()
    let unknownAttempts = 0
    for (const row of this.journal.costRows({sweepId: this.sweepId})) {
      const c = attemptCost(row, now, this.deps.fx)
      // As the cost report counts them: an attempt that held nothing yet cost nothing yet.
      if (c.costUsd === null) {
        if (c.billedSeconds > 0 || c.live) unknownAttempts++
        continue
      }
      byJob.set(row.jobId, (byJob.get(row.jobId) ?? 0) + c.costUsd)
    }
    let spent = 0
    let committed = 0
    let unknownCommitted = 0
    for (const [jobId, cost] of byJob) if (!this.running.has(jobId)) spent += cost
    for (const [jobId, r] of this.running) {
      if (r.job.expectedCostUsd === null) unknownCommitted++
      committed += Math.max(r.job.expectedCostUsd ?? 0, byJob.get(jobId) ?? 0)
    }
    return {spent, committed, unknownAttempts, unknownCommitted}
  }

  private start(q: QueuedJob): void {
    const job = this.journal.job(q.id)!
    const o = job.options as {retryUntilUpMs?: number; sweep?: SweepJobOptions}
    this.emit('job-started', `starting ${q.name} (${this.running.size + 1} running)`, {
      jobId: q.id,
      name: q.name,
      data: {values: job.matrix ?? {}, index: o.sweep?.index ?? null},
    })
    const preferred = o.sweep?.candidateKey ? {key: o.sweep.candidateKey, accelerator: o.sweep.accelerator} : null
    const done = driveJob(q.id, {
      journal: this.journal,
      providers: this.deps.providers,
      replan: (spec, blocked) => this.replanPreferring(spec, blocked, preferred),
      home: this.deps.home,
      owner: this.deps.owner,
      clock: this.deps.clock,
      poller: this.poller,
      pollIntervalMs: this.deps.pollIntervalMs ?? 250,
      retryUntilUpMs: o.retryUntilUpMs,
      signal: this.abort.signal,
      env: this.deps.env,
      checkpointSync: this.deps.checkpointSync,
      attemptHolds: this.deps.attemptHolds,
      onEvent: (e: ControllerEvent) =>
        this.emit(`job-${e.kind}`, `${q.name}: ${e.message}`, {
          jobId: q.id,
          name: q.name,
          ...(e.attemptId ? {data: {attemptId: e.attemptId}} : {}),
        }),
    })
      .then((final) => this.ended(q, final))
      .catch((error: unknown) => {
        if (error instanceof LeaseHeldError) {
          this.emit('job-skipped', `${q.name}: ${error.message}`, {jobId: q.id, name: q.name})
          return
        }
        // driveJob records the job's own failures; anything else is ours: end the job so the sweep can finish.
        const message = `internal error driving ${q.name}: ${error instanceof Error ? error.message : String(error)}`
        const now = this.journal.job(q.id)
        if (now && !TERMINAL_JOB_STATES.has(now.state))
          this.journal.recordJobState(
            q.id,
            'FAILED',
            {kind: 'job-failed', data: {code: 'INTERNAL', message}},
            {exitCode: null, reason: message},
          )
        this.emit('job-error', message, {jobId: q.id, name: q.name})
      })
      .finally(() => this.running.delete(q.id))
    this.running.set(q.id, {job: q, done})
  }

  private ended(q: QueuedJob, final: JobRecord): void {
    if (!TERMINAL_JOB_STATES.has(final.state)) return
    const attempts = this.journal.attempts(final.id)
    const last = [...attempts].reverse().find((a) => a.handle)
    // Null when an attempt ran at an unknown price: never counted as 0 (issue 23).
    const cost = totals(this.journal.costRows({jobId: final.id}).map((r) => attemptCost(r, this.clock(), this.deps.fx))).cost.usd
    const exitCode = this.deps.exitCodeOf(final, this.journal.events(final.id))
    this.emit(
      'job-ended',
      `${q.name} ${final.state.toLowerCase()}${final.exitCode !== null ? ` (exit ${final.exitCode})` : ''}${final.reason && final.state !== 'SUCCEEDED' && !/^exit \d+$/.test(final.reason) ? `: ${final.reason}` : ''}`,
      {
        jobId: final.id,
        name: q.name,
        data: {
          state: final.state,
          exitCode,
          attempts: attempts.length,
          where: last ? `${last.provider}/${last.region}` : null,
          costUsd: cost === null ? null : round(cost),
        },
      },
    )
  }

  /** Resolves when a running job ends, the tick passes, or the run is aborted. */
  private async waitForProgress(): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    let onAbort: (() => void) | undefined
    const wake = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.deps.tickMs ?? 1000)
      onAbort = resolve
      this.abort.signal.addEventListener('abort', onAbort, {once: true})
    })
    try {
      await Promise.race([wake, ...[...this.running.values()].map((r) => r.done)])
    } finally {
      clearTimeout(timer)
      this.abort.signal.removeEventListener('abort', onAbort!)
    }
  }

  private async idleGuard(force: boolean): Promise<void> {
    if (!force && Date.now() - this.lastIdleGuard < IDLE_GUARD_EVERY_MS) return
    this.lastIdleGuard = Date.now()
    const released = await releaseIdle({
      store: this.journal,
      providers: this.deps.providers,
      now: this.clock(),
      sweepId: this.sweepId,
      attemptHolds: this.deps.attemptHolds,
      onGangObjectsError: (a, error) =>
        this.emit(
          'gang-objects-delete-failed',
          `could not delete attempt ${a.id}'s gang objects: ${error instanceof Error ? error.message : String(error)}`,
          {
            jobId: a.jobId,
          },
        ),
      onError: (a, error) =>
        this.emit('idle-release-failed', `could not release attempt ${a.id}: ${error instanceof Error ? error.message : String(error)}`, {
          jobId: a.jobId,
        }),
    })
    for (const r of released) {
      this.emit(
        'idle-released',
        `released attempt ${r.attemptId} on ${r.provider}: held ${Math.round(r.idleSeconds)} s after its job ended (idle timeout ${r.timeoutSeconds} s)`,
        {jobId: r.jobId, data: {...r}},
      )
    }
  }

  /**
   * Attempts whose cleanup failed are still held: give the idle guard until their idle
   * timeout (plus a margin) to release them before the controller goes away.
   */
  private async settleReleases(): Promise<void> {
    const pending = this.journal.unreleasedAttempts({sweepId: this.sweepId})
    if (pending.length === 0) return
    const longest = Math.max(...pending.map((a) => this.journal.job(a.jobId)?.spec.idleTimeoutSeconds ?? 60))
    const until = Date.now() + (longest + 10) * 1000
    while (Date.now() < until && !this.abort.signal.aborted) {
      await this.idleGuard(true)
      if (this.journal.unreleasedAttempts({sweepId: this.sweepId}).length === 0) return
      await new Promise((r) => setTimeout(r, Math.min(5_000, this.deps.tickMs ?? 1000)))
    }
  }

  /**
   * The cached plan with the candidate the sweep plan assigned moved to the front. Matched by
   * accelerator too when the job kept it: offers sharing an offerKey share a candidate key.
   */
  private async replanPreferring(
    spec: JobSpec,
    blocked: Parameters<Replanner>[1],
    preferred: {key: string; accelerator?: {name: string; count: number} | null} | null,
  ) {
    const r = await this.replan(spec, blocked)
    const same = (a: {name: string; count: number} | null, b: {name: string; count: number} | null) =>
      a === null ? b === null : b !== null && a.name === b.name && a.count === b.count
    const i =
      preferred === null
        ? -1
        : r.plan.candidates.findIndex(
            (c) => c.key === preferred.key && (preferred.accelerator === undefined || same(c.accelerator, preferred.accelerator)),
          )
    if (i <= 0) return r
    const candidates = [r.plan.candidates[i], ...r.plan.candidates.slice(0, i), ...r.plan.candidates.slice(i + 1)].map((c, rank) => ({
      ...c,
      rank: rank + 1,
    }))
    return {...r, plan: {...r.plan, candidates, chosen: candidates[0]}}
  }
}

/**
 * Jobs of one sweep share a planning shape: one plan serves every job of that shape with
 * the same blocked scopes for a few seconds, instead of a full plan per job.
 */
export function cachedReplanner(replan: Replanner, nowMs: () => number, ttlMs = PLAN_CACHE_MS): Replanner {
  const cache = new Map<string, {at: number; value: ReturnType<Replanner>}>()
  return async (spec, blocked) => {
    const key = `${shapeKey(spec)}|${JSON.stringify(blocked)}`
    const hit = cache.get(key)
    if (hit && nowMs() - hit.at < ttlMs) {
      const r = await hit.value
      return {...r, plan: {...r.plan, job: spec.name}}
    }
    const value = replan(spec, blocked)
    cache.set(key, {at: nowMs(), value})
    value.catch(() => cache.delete(key))
    return value
  }
}

/** The sweep's money against its budget, USD; see spentAndCommitted. */
interface SweepSpend {
  spent: number
  committed: number
  unknownAttempts: number
  unknownCommitted: number
}

function usd(n: number): string {
  return `$${n.toFixed(2)}`
}

function round(n: number, digits = 6): number {
  return Math.round(n * 10 ** digits) / 10 ** digits
}
