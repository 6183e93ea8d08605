// The sweep service: expand a job over its matrix, plan every job together (planSweep, so
// capacity and quotas hold for the sweep as a whole), record the sweep and its jobs, and
// report on them. Running the jobs is the sweep driver's (src/controller/sweep-driver.ts):
// runSweep hands it the sweep with the planning inputs gathered here.
import {amountInUsd} from '../model/currency.js'
import {BugError} from '../errors.js'
import {noFeasiblePlanError, noFeasibleSweepError} from '../planner/explain.js'
import {planSweep} from '../planner/plan-sweep.js'
import {planInputFrom} from '../planner/replanner.js'
import type {SweepPlan} from '../planner/types.js'
import {type Combination, type Matrix, type MatrixValue, expandMatrix, mergeMatrix} from '../job/matrix.js'
import type {JobSpec, Money, Objective} from '../model/job-spec.js'
import {type Store} from '../state/store.js'
import {type JobRecord, type JobState, type SweepRecord, type SweepState, TERMINAL_JOB_STATES} from '../model/records.js'
import {StoreSweepJournal} from '../controller/journal.js'
import {LEASE_TTL_MS} from '../controller/controller.js'
import {type AttemptCost, type CostTotals, attemptCost, totals} from '../controller/cost.js'
import {
  type StoredSweepOptions,
  type SweepCounts,
  type SweepDriverDeps,
  type SweepEvent,
  type SweepJobOptions,
  type SweepRun,
  SweepLeaseHeldError,
  driveSweep,
  sweepCounts,
} from '../controller/sweep-driver.js'
import {loadJobFile} from '../job/load.js'
import type {ServiceContext} from './context.js'
import {claimTtlMs, controllerOwner, type SpawnController, spawnDetachedController} from './controller-process.js'
import {catchInterrupt, handOff} from './foreground.js'
import {checkSecrets, checkSecretsReachClouds, exitCodeForJob, withFileObjects, withWorkdirArchive, workdirStoreFor} from './launch.js'
import {type PlanningInputs, replannerFrom} from '../planner/replanner.js'
import {actorOf, headroomFor} from './owners.js'
import {type AutoResolution, autoEvent, resolveAuto} from './right-sizing.js'
import type {SkyhopConfig} from '../config.js'

export {SweepLeaseHeldError}
export type {StoredSweepOptions, SweepEvent, SweepJobOptions, SweepRun} from '../controller/sweep-driver.js'

// ---- planning and recording ---------------------------------------------------------

export interface SweepRequest {
  /** The job file's spec (its matrix included). */
  spec: JobSpec
  file: string | null
  /** `--set` flags: replace or extend the file's matrix. */
  sets: Matrix
  budget: Money | null
  objective?: Objective
  env: NodeJS.ProcessEnv
}

export interface PlannedSweep {
  /** How `accelerators: auto` was resolved for every job of the sweep; null for other sweeps. */
  auto?: AutoResolution | null
  name: string
  file: string | null
  /** The base spec with the merged matrix. */
  base: JobSpec
  matrix: Matrix | null
  combinations: Combination[]
  plan: SweepPlan
  budget: Money | null
  budgetUsd: number | null
}

/** Expands and plans; throws (exit 5) when no job of the sweep can be placed. Records nothing. */
export async function planSweepJobs(request: SweepRequest, inputs: PlanningInputs): Promise<PlannedSweep> {
  const matrix = mergeMatrix(request.spec.matrix, request.sets)
  const base: JobSpec = {...request.spec, matrix}
  const combinations = expandMatrix(request.spec, matrix)
  checkSecrets(base, request.env)
  const budgetUsd = request.budget === null ? null : amountInUsd(request.budget.amount, request.budget.currency, inputs.fx)
  const specs = combinations.map((c) => c.spec)
  const plan = planSweep({
    jobs: specs,
    // Matrix values change envs and names only, never the planning shape: one estimate serves all.
    ...(await planInputFrom(inputs, specs[0])),
    options: {...inputs.options, ...(request.objective ? {objective: request.objective} : {})},
    limits: inputs.quotas,
    ...(request.budget ? {sweep: {budget: request.budget}} : {}),
  })
  if (plan.assignments.every((a) => a.candidate === null)) {
    const single = await replannerFrom({
      ...inputs,
      options: {...inputs.options, ...(request.objective ? {objective: request.objective} : {})},
    })(specs[0], [])
    if (single.plan.candidates.length === 0) throw noFeasiblePlanError(single.plan)
    throw noFeasibleSweepError(plan)
  }
  return {name: request.spec.name, file: request.file, base, matrix, combinations, plan, budget: request.budget, budgetUsd}
}

export function recordSweep(
  store: Store,
  planned: PlannedSweep,
  options: StoredSweepOptions,
  owner: string | null = null,
  lease?: {owner: string; ttlMs: number},
): {sweep: SweepRecord; jobs: JobRecord[]} {
  const {plan} = planned
  const jobs = planned.combinations.map((c, i) => {
    const a = plan.assignments[i]
    const sweep: SweepJobOptions = {
      index: i,
      // Null when the price is unknown, which a budget cannot be checked against (never a 0).
      expectedCostUsd: a.candidate ? a.candidate.estimatedCostUsd : null,
      hourlyUsd: a.candidate?.hourlyPriceUsd ?? null,
      candidateKey: a.candidate?.key ?? null,
      offerKey: a.candidate?.offerKey ?? null,
      accelerator: a.candidate?.accelerator ?? null,
      nodes: a.candidate?.nodes ?? c.spec.nodes,
      waitForSlotHours: a.waitForSlotHours,
    }
    return {
      name: c.name,
      file: planned.file,
      spec: c.spec,
      matrix: c.values,
      options: {catalogFile: options.catalogFile, objective: options.objective, sweep},
    }
  })
  const planSummary = {
    objective: plan.objective,
    estimatedCostUsd: plan.estimatedCostUsd,
    unknownPriceJobs: plan.unknownPriceJobs,
    makespanHours: plan.makespanHours,
    unassigned: plan.unassigned,
    shapes: plan.shapes,
    usage: plan.usage,
    pools: plan.pools,
    assumptions: planned.auto ? [...plan.assumptions, `accelerators: auto — ${planned.auto.text}`] : plan.assumptions,
  }
  const recorded = store.createSweep(
    {
      name: planned.name,
      file: planned.file,
      spec: planned.base,
      budgetUsd: planned.budgetUsd,
      options: {...options},
      plan: planSummary,
      owner,
      ...(lease ? {lease} : {}),
    },
    jobs,
  )
  if (planned.auto) {
    const e = autoEvent(planned.auto)
    for (const job of recorded.jobs) store.addEvent(job.id, null, e.kind, e.data)
  }
  // Jobs the plan could not place end now, with the plan's reason.
  recorded.jobs.forEach((job, i) => {
    const a = plan.assignments[i]
    if (a.candidate !== null || a.reason === null) return
    if (a.reason.reason === 'budget') {
      store.setJobState(
        job.id,
        'CANCELLED',
        {kind: 'job-cancelled', data: {reason: 'budget', message: a.reason.message}},
        {reason: `budget: ${a.reason.message}`},
      )
    } else {
      store.setJobState(
        job.id,
        'FAILED',
        {kind: 'job-failed', data: {code: 'NO_FEASIBLE_PLAN', message: a.reason.message}},
        {exitCode: null, reason: a.reason.message},
      )
    }
  })
  return {sweep: store.getSweep(recorded.sweep.id)!, jobs: store.sweepJobs(recorded.sweep.id)}
}

// ---- results --------------------------------------------------------------------------

export interface SweepJobRow {
  id: string
  name: string
  values: Record<string, MatrixValue>
  state: JobState
  /** provider/region of the last attempt that launched. */
  where: string | null
  instanceType: string | null
  attempts: number
  /** First launch to the end (or now); null before the first launch. */
  durationSeconds: number | null
  /** usd is null when an attempt's price is unknown; knownUsd is what the others cost. */
  cost: {usd: number | null; knownUsd: number; byCurrency: Record<string, number>; unknownPrice: boolean}
  exitCode: number | null
  reason: string | null
}

export interface SweepSummary {
  id: string
  name: string
  file: string | null
  state: SweepState
  reason: string | null
  createdAt: string
  updatedAt: string
  maxParallel: number
  budget: Money | null
  matrix: Matrix | null
  jobs: number
  counts: SweepCounts
  /** What its attempts cost so far; null when one ran at an unknown price. */
  costUsd: number | null
  /** What its attempts at a known price cost: the sweep cost at least this (all of costUsd when known). */
  knownCostUsd: number
  /** Attempts paid for at an unknown price: they make costUsd null. */
  unknownPriceAttempts: number
  /** estimatedCostUsd is null when a job's price is unknown (unknownPriceJobs of them). */
  plan: {estimatedCostUsd: number | null; unknownPriceJobs: number; makespanHours: number; unassigned: number} | null
  /** Who started it; null for sweeps from before owners. */
  owner: string | null
}

export interface SweepResult {
  sweep: SweepSummary
  jobs: SweepJobRow[]
  totals: {costUsd: number | null; summary: string}
  /** The exit code `sweep --wait` ends with (see sweepExitCode); null while the sweep runs. */
  exitCode: number | null
}

export function sweepSummary(
  store: Store,
  sweep: SweepRecord,
  cost: Pick<CostTotals, 'cost' | 'unknownPriceAttempts'>,
  stateCounts?: Partial<Record<JobState, number>>,
): SweepSummary {
  const options = sweep.options as unknown as StoredSweepOptions
  const c = sweepCounts(stateCounts ?? store.sweepCounts([sweep.id]).get(sweep.id) ?? {})
  const plan = sweep.plan as {
    estimatedCostUsd?: number | null
    unknownPriceJobs?: number
    makespanHours?: number
    unassigned?: number
  } | null
  return {
    id: sweep.id,
    name: sweep.name,
    file: sweep.file,
    state: sweep.state,
    reason: sweep.reason,
    createdAt: sweep.createdAt,
    updatedAt: sweep.updatedAt,
    owner: sweep.owner,
    maxParallel: options.maxParallel,
    budget: options.budget ?? null,
    matrix: sweep.spec.matrix,
    jobs: c.pending + c.running + c.succeeded + c.failed + c.cancelled,
    counts: c,
    costUsd: cost.cost.usd === null ? null : round(cost.cost.usd),
    knownCostUsd: round(cost.cost.knownUsd),
    unknownPriceAttempts: cost.unknownPriceAttempts,
    plan: plan
      ? {
          // Recorded by this version: null means unknown. Older records always had a number.
          estimatedCostUsd: plan.estimatedCostUsd === undefined ? 0 : plan.estimatedCostUsd,
          unknownPriceJobs: plan.unknownPriceJobs ?? 0,
          makespanHours: plan.makespanHours ?? 0,
          unassigned: plan.unassigned ?? 0,
        }
      : null,
  }
}

/** The sweep with one row per job (the final results table) and its exit code. */
export function sweepResult(store: Store, sweepId: string, options: {now: Date; fx: PlanningInputs['fx']}): SweepResult {
  const sweep = store.getSweep(sweepId)
  if (!sweep) throw new BugError(`sweep ${sweepId} vanished from the state store`)
  const jobs = store.sweepJobs(sweepId)
  const costsByJob = new Map<string, AttemptCost[]>()
  const attemptsByJob = new Map<string, ReturnType<Store['costRows']>>()
  for (const row of store.costRows({sweepId})) {
    const list = attemptsByJob.get(row.jobId) ?? []
    list.push(row)
    attemptsByJob.set(row.jobId, list)
    const costs = costsByJob.get(row.jobId) ?? []
    costs.push(attemptCost(row, options.now, options.fx))
    costsByJob.set(row.jobId, costs)
  }
  const all: AttemptCost[] = []
  const stateCounts: Partial<Record<JobState, number>> = {}
  const rows = jobs.map((job): SweepJobRow => {
    stateCounts[job.state] = (stateCounts[job.state] ?? 0) + 1
    const attempts = (attemptsByJob.get(job.id) ?? []).map((r) => r.attempt)
    const costs = costsByJob.get(job.id) ?? []
    all.push(...costs)
    const t = totals(costs)
    const last = [...attempts].reverse().find((a) => a.handle) ?? attempts.at(-1)
    const first = attempts.find((a) => a.launchedAt)
    const endMs = TERMINAL_JOB_STATES.has(job.state) ? Date.parse(job.updatedAt) : options.now.getTime()
    return {
      id: job.id,
      name: job.name,
      values: (job.matrix ?? {}) as Record<string, MatrixValue>,
      state: job.state,
      where: last?.handle ? `${last.provider}/${last.region}` : null,
      instanceType: last?.handle ? last.instanceType : null,
      attempts: attempts.length,
      durationSeconds: first?.launchedAt ? round(Math.max(0, endMs - Date.parse(first.launchedAt)) / 1000, 3) : null,
      cost: {
        usd: t.cost.usd,
        knownUsd: t.cost.knownUsd,
        byCurrency: t.cost.byCurrency as Record<string, number>,
        unknownPrice: t.unknownPriceAttempts > 0,
      },
      exitCode: job.exitCode,
      reason: job.reason,
    }
  })
  const total = totals(all)
  const exitCode = sweep.state === 'RUNNING' ? null : sweepExitCode(store, jobs)
  return {
    sweep: sweepSummary(store, sweep, total, stateCounts),
    jobs: rows,
    totals: {costUsd: total.cost.usd, summary: total.summary},
    exitCode,
  }
}

/** Sweeps newest first with their job counts and what they cost so far. */
export function listSweeps(store: Store, options: {limit?: number; now: Date; fx: PlanningInputs['fx']}): SweepSummary[] {
  const sweeps = store.listSweeps({limit: options.limit})
  const counts = store.sweepCounts(sweeps.map((s) => s.id))
  return sweeps.map((s) => {
    const cost = totals(store.costRows({sweepId: s.id}).map((r) => attemptCost(r, options.now, options.fx)))
    return sweepSummary(store, s, cost, counts.get(s.id) ?? {})
  })
}

/**
 * The sweep's exit code: 0 when every job succeeded; otherwise that of the first job (in
 * sweep order) that did not: its own exit code if it has one, else skyhop's code for why
 * it ended (4 every candidate failed, 5 no feasible plan, 6 lost or stopped by the budget,
 * 130 cancelled by the user) — the same codes as `launch --wait`.
 */
export function sweepExitCode(store: Store, jobs: readonly JobRecord[]): number {
  for (const job of jobs) {
    if (job.state === 'SUCCEEDED') continue
    if (job.state === 'CANCELLED' && job.reason?.startsWith('budget')) return 6
    return exitCodeForJob(job, store.events(job.id)) ?? 6
  }
  return 0
}

// ---- running ----------------------------------------------------------------------------

/** The sweep driver's deps, with the store and the gathered planner inputs in place of what the service makes of them. */
export type RunSweepDeps = Omit<SweepDriverDeps, 'journal' | 'replan' | 'fx' | 'exitCodeOf'> & {
  store: Store
  /** The planner's inputs, gathered once for the whole sweep. */
  inputs: PlanningInputs
  /** The config whose budgets limit the sweep owner's running spend; none: no limit. */
  config?: SkyhopConfig
}

/** Drives every unfinished job of a recorded sweep to its end, through the sweep driver. */
export async function runSweep(sweepId: string, deps: RunSweepDeps): Promise<SweepRun> {
  const {inputs, store, config, ...rest} = deps
  const owner = store.getSweep(sweepId)?.owner ?? null
  const spendLeftUsdPerHour =
    config && owner !== null
      ? () => {
          const heads = headroomFor(config, store, owner, inputs.fx)
          return heads.length === 0 ? null : Math.min(...heads.map((h) => h.leftUsdPerHour))
        }
      : undefined
  return driveSweep(sweepId, {
    ...rest,
    ...(spendLeftUsdPerHour ? {spendLeftUsdPerHour} : {}),
    journal: new StoreSweepJournal(store),
    // A job that fails over must stay where the sweep's budget can count it: at a known price.
    replan: replannerFrom(inputs, store.getSweep(sweepId)?.budgetUsd == null ? {} : {outsidePriceLimit: "the sweep's budget"}),
    fx: inputs.fx,
    exitCodeOf: exitCodeForJob,
  })
}

function round(n: number, digits = 6): number {
  return Math.round(n * 10 ** digits) / 10 ** digits
}

// ---- the use cases of sweep, sweeps and sweep-controller --------------------------------

export interface SweepOptions {
  file: string
  /** `--set` dimensions: replace or extend the file's matrix. */
  sets: Matrix
  budget: Money | null
  objective?: Objective
  catalogFile?: string
  /** Where the jobs' secrets come from (default: this process's environment). */
  env?: NodeJS.ProcessEnv
}

/** A sweep expanded and planned, nothing recorded yet. */
export interface PreparedSweep {
  planned: PlannedSweep
  inputs: PlanningInputs
  objective?: Objective
  catalogFile?: string
}

export async function prepareSweep(ctx: ServiceContext, options: SweepOptions): Promise<PreparedSweep> {
  const loaded = loadJobFile(options.file)
  await ctx.checkCheckpointStore(loaded.spec)
  // What the files: copies weigh feeds every job's egress, as for a launch (file-data.ts); looked up once for all.
  const {learnFileData} = await import('./file-data.js')
  const {spec} = await learnFileData(ctx, loaded.spec, 'launch')
  const {catalogFile, objective} = options
  const inputs = await ctx.planningInputs({catalogFile, objective})
  const {sets, budget} = options
  const auto = await sweepAuto(ctx, spec, sets, inputs)
  const planned = {
    ...(await planSweepJobs(
      {spec: auto?.spec ?? spec, file: loaded.file, sets, budget, objective, env: options.env ?? process.env},
      inputs,
    )),
    auto,
  }
  await workdirStoreFor(ctx, planned.base, sweepCandidates(planned))
  await checkSecretsReachClouds(ctx, planned.base, sweepCandidates(planned))
  return {planned, inputs, objective, catalogFile}
}

/**
 * `accelerators: auto` for a sweep: chosen once, for every job, from the earlier runs of all
 * its jobs (their names differ by combination; the matrix sets only environment variables, so
 * they share one usage fingerprint), since one planning shape serves the whole sweep.
 */
async function sweepAuto(
  ctx: ServiceContext,
  spec: JobSpec,
  sets: SweepOptions['sets'],
  inputs: PlanningInputs,
): Promise<AutoResolution | null> {
  if (spec.resources.auto === undefined) return null
  const store = await ctx.store()
  const names = new Set([spec.name, ...expandMatrix(spec, mergeMatrix(spec.matrix, sets)).map((c) => c.name)])
  const usageHistory = (_name: string, fingerprint: string) =>
    [...names]
      .flatMap((name) => store.usageObservations(name, fingerprint))
      // Newest first across the jobs, as for one job: the latest run's configuration is the base.
      .sort((a, b) => (b.summary.lastAt ?? '').localeCompare(a.summary.lastAt ?? ''))
  return resolveAuto(spec, {replan: replannerFrom(inputs), usageHistory})
}

function sweepCandidates(planned: PlannedSweep): Array<{provider: string}> {
  return planned.plan.assignments.flatMap((a) => (a.candidate ? [a.candidate] : []))
}

/** The sweep's jobs share one workdir: packed and uploaded once when any of them is placed on a cloud. */
async function sweepWithWorkdir(ctx: ServiceContext, planned: PlannedSweep): Promise<PlannedSweep> {
  // The bucket objects its files: copy are looked up once too (their size and ETag), for every job.
  const base = await withFileObjects(ctx, await withWorkdirArchive(ctx, planned.base, sweepCandidates(planned)), sweepCandidates(planned))
  if (!base.workdirArchive && !base.fileObjects) return planned
  const shared = {
    ...(base.workdirArchive ? {workdirArchive: base.workdirArchive} : {}),
    ...(base.fileObjects ? {fileObjects: base.fileObjects} : {}),
  }
  return {...planned, base, combinations: planned.combinations.map((c) => ({...c, spec: {...c.spec, ...shared}}))}
}

export type SweepOutput = SweepResult & {detached: boolean; stats: SweepRun['stats'] | null}

/**
 * Records a prepared sweep, then hands it to a background controller, or drives it here
 * until every job ended (Ctrl-C hands it to a background controller: exit 130).
 */
export async function startSweep(
  ctx: ServiceContext,
  prepared: PreparedSweep,
  options: {
    maxParallel: number
    wait: boolean
    onEvent?: (event: SweepEvent) => void
    /** Starts the detached controller (tests record the call instead of starting a process). */
    spawn?: SpawnController
  },
): Promise<SweepOutput> {
  const {inputs} = prepared
  const planned = await sweepWithWorkdir(ctx, prepared.planned)
  const store = await ctx.store()
  const {objective, catalogFile} = prepared
  const owner = actorOf(ctx.config()).user
  // Driven here (--wait): recorded with this process's lease, so no agent claims it in between.
  // Detached: recorded already claimed for the controller about to be started (one
  // transaction with the sweep and its jobs), so no `recover` sees it unleased and starts a
  // second one. With agents configured it is left unleased for one of them (docs/agent.md).
  const controller = controllerOwner()
  const claim = !options.wait && ctx.config().agent !== true ? controllerOwner() : null
  const lease = options.wait
    ? {owner: controller, ttlMs: LEASE_TTL_MS}
    : claim === null
      ? undefined
      : {owner: claim, ttlMs: claimTtlMs(LEASE_TTL_MS)}
  const stored = {maxParallel: options.maxParallel, budget: planned.budget, objective, catalogFile}
  const {sweep} = recordSweep(store, planned, stored, owner, lease)
  const result = () => sweepResult(store, sweep.id, {now: new Date(), fx: inputs.fx})
  if (!options.wait) {
    if (claim !== null) {
      try {
        ;(options.spawn ?? spawnDetachedController)(ctx.home, sweep.id, 'sweep-controller', claim)
      } catch (error) {
        // No controller will take the claim over: let the next `recover` start one at once.
        store.releaseSweepClaim(sweep.id, claim)
        throw error
      }
    }
    return {...result(), detached: true, stats: null}
  }
  const fg = catchInterrupt()
  let run: SweepRun
  try {
    run = await runSweep(sweep.id, {...(await sweepDeps(ctx, inputs, controller)), signal: fg.signal, onEvent: options.onEvent})
  } finally {
    fg.release()
  }
  if (fg.interrupted || !run.finished) {
    // The jobs keep running: a background controller takes the sweep over.
    const hint = `Follow it with \`skyhop sweeps ${sweep.id}\`.`
    handOff(store, ctx.home, {id: sweep.id, command: 'sweep-controller'}, `sweep ${sweep.name} (${sweep.id})`, {hint})
  }
  return {...result(), detached: false, stats: run.stats}
}

/**
 * What running a sweep takes from the context, with the planning inputs gathered once; owner:
 * the lease owner (default a fresh controller name).
 */
export async function sweepDeps(ctx: ServiceContext, inputs: PlanningInputs, owner: string = controllerOwner()) {
  return {
    store: await ctx.store(),
    providers: await ctx.providers(),
    inputs,
    config: ctx.config(),
    home: ctx.home,
    owner,
    env: process.env,
    checkpointSync: await ctx.checkpointSync(),
    attemptHolds: await ctx.attemptHolds(),
  }
}
