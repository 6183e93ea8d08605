// The `simulate` service: load the job, the traces and (for prices the flags do not give)
// the catalog, build the markets, then replay every policy from the same seeded start
// offsets and summarise. simulateMarkets is the pure part the benchmark calls directly.
import {availableParallelism} from 'node:os'
import {Worker} from 'node:worker_threads'

import {type AcceleratorRegistry, loadRegistry} from '../catalog/accelerators.js'
import {loadCatalog} from '../catalog/catalog.js'
import {fxFromEnv} from '../catalog/fx.js'
import {providerInfo} from '../catalog/providers.js'
import {BugError, UsageError} from '../errors.js'
import {loadJobFile} from '../job/load.js'
import type {JobSpec} from '../model/job-spec.js'
import {type ControllerRunOutcome, runController} from './controller-run.js'
import {changeDistances} from './engine.js'
import {type Markets, type PriceOverrides, type SkippedTrace, buildMarkets, priceKey} from './markets.js'
import {POLICIES, findPolicy} from './policies.js'
import {BASELINE_POLICY, type ReplayInput, distinctStarts, replayer, startTicksOf} from './replay.js'
import type {ReplayAnswer, ReplayTask, WorkerData} from './replay-worker.js'
import {LatencyHistogram} from './stats.js'
import {loadTraceDir} from './traces.js'
import type {OnDemandOption, PolicySpec, RunOutcome, SpotMarket} from './types.js'

export const DEFAULT_SEEDS = 20
export const DEFAULT_CHANGEOVER_HOURS = 0.2

export interface SimulateOptions {
  file: string
  traces: string
  home: string
  policies?: readonly string[]
  seeds?: number
  changeoverHours?: number
  /** Seconds of preemption notice; default: the provider's (AWS 120 s, GCP 30 s). */
  noticeSeconds?: number
  /** `1.2` for every market, or `K80=0.27` for one kind; USD per node-hour. */
  spotPrice?: readonly string[]
  onDemandPrice?: readonly string[]
  zones?: readonly string[]
  catalogFile?: string
  now?: Date
  /** Worker threads for the policies' replays; default: the machine's cores for a large replay, else 1. */
  threads?: number
}

export interface MarketSummary {
  zone: string
  region: string
  label: string
  accelerator: string | null
  count: number
  /** Work per hour relative to the job's reference configuration. */
  speed: number
  spotUsdPerHour: number
  onDemandUsdPerHour: number
  /** On-demand / spot price. */
  k: number
  /** Fraction of the trace's ticks with spot for the job's node count. */
  availability: number
  /** Drops from available to not, per hour of availability, over the whole trace. */
  preemptionsPerHour: number
  ticks: number
}

export interface PolicyResult {
  name: string
  safe: boolean
  omniscient: boolean
  summary: string
  runs: number
  deadlineMisses: number
  /** Mean over seeds of cost / cost of on-demand only on the same seed. */
  costRelativeToOnDemand: number
  costUsd: number
  spotHours: number
  onDemandHours: number
  spotWorkHours: number
  onDemandWorkHours: number
  changeovers: number
  preemptions: number
  /** Deadline − finish, hours: the least over seeds, and the mean. */
  slackHours: {min: number; mean: number}
  unfinished: number
  decisionLatencyUs: {p50: number; p99: number; max: number; calls: number}
}

export interface SimulateResult {
  job: {name: string; file: string; workHours: number; deadlineHours: number; jobFraction: number; nodes: number}
  traces: {path: string; gapSeconds: number; markets: MarketSummary[]; skipped: SkippedTrace[]}
  settings: {seeds: number; changeoverHours: number; noticeSeconds: number; startTicks: number[]; wrapped: boolean}
  onDemandBaselineUsd: number
  currency: 'USD'
  priceSources: string[]
  policies: PolicyResult[]
  elapsedMs: number
}

/** Everything simulateMarkets needs; no files. */
export interface MarketsInput {
  markets: readonly SpotMarket[]
  onDemand: readonly OnDemandOption[]
  gapSeconds: number
  workHours: number
  deadlineHours: number
  changeoverHours: number
  noticeSeconds: number
  nodes: number
  policies: readonly PolicySpec[]
  seeds: number
  /** Seeds are seedBase, seedBase + 1, …; each picks a start offset. */
  seedBase?: number
}

export interface MarketsResult {
  policies: PolicyResult[]
  onDemandBaselineUsd: number
  startTicks: number[]
  wrapped: boolean
  /** Per policy, per seed outcomes (for tests and the validation report). */
  outcomes: Map<string, RunOutcome[]>
  /** Cost of on-demand only, per start. */
  baseline: number[]
}

export function simulateFile(options: SimulateOptions): SimulateResult {
  const p = prepareFile(options)
  const out = simulateMarkets(p.input)
  return fileResult(options, p, out.policies, out)
}

/** The policy that runs the real controller and planner (controller-run.ts) rather than mirroring them. */
export const CONTROLLER_POLICY = 'skyhop-controller'
const CONTROLLER_SUMMARY = 'the real controller (driveJob) and planner on a simulated provider and clock'

/**
 * simulateFile over worker threads (options.threads), plus `skyhop-controller` when asked
 * for by name (`--policy skyhop-controller`) or with `controller: true`: each seed replayed
 * through driveJob (async: the controller is).
 */
export async function simulateFileAsync(options: SimulateOptions & {controller?: boolean}): Promise<SimulateResult> {
  const names = options.policies?.flatMap((n) => n.split(',')).map((n) => n.trim()) ?? []
  const wantController = options.controller === true || names.includes(CONTROLLER_POLICY)
  const others = names.filter((n) => n !== CONTROLLER_POLICY && n !== '')
  if (options.threads !== undefined && !(Number.isInteger(options.threads) && options.threads >= 1))
    throw new UsageError(`--threads must be a whole number ≥ 1, got ${options.threads}`, {code: 'BAD_THREADS'})
  if (!wantController) {
    const p = prepareFile(options)
    const out = await simulateMarketsParallel(p.input, options.threads)
    return fileResult(options, p, out.policies, out)
  }
  const onlyController = names.length > 0 && others.length === 0
  const p = prepareFile({...options, policies: others})
  const input = onlyController ? {...p.input, policies: []} : p.input
  const out = await simulateMarketsParallel(input, options.threads)
  const controller = await simulateControllerMarkets({...input, job: p.spec, registry: p.registry}, out.startTicks, out.baseline)
  return fileResult(options, p, [...out.policies, controller.result], out)
}

export interface ControllerMarketsInput extends MarketsInput {
  job: JobSpec
  registry: AcceleratorRegistry
}

/** Replays each start through the real controller; summarised like a policy. */
export async function simulateControllerMarkets(
  input: ControllerMarketsInput,
  startTicks: readonly number[],
  baseline: readonly number[],
): Promise<{result: PolicyResult; outcomes: ControllerRunOutcome[]}> {
  const gapHours = input.gapSeconds / 3600
  const changes = input.markets.map((m) => changeDistances(m.data, input.nodes))
  const latency = new LatencyHistogram()
  const outcomes: ControllerRunOutcome[] = []
  for (const startTick of startTicks) {
    outcomes.push(
      await runController({
        job: input.job,
        registry: input.registry,
        markets: input.markets,
        gapHours,
        startTick,
        nodes: input.nodes,
        workHours: input.workHours,
        deadlineHours: input.deadlineHours,
        changeoverHours: input.changeoverHours,
        noticeHours: input.noticeSeconds / 3600,
        changes,
        latency,
      }),
    )
  }
  const spec = {name: CONTROLLER_POLICY, safe: true, omniscient: false, summary: CONTROLLER_SUMMARY}
  return {result: summarize(spec, outcomes, baseline, input.deadlineHours, latency), outcomes}
}

interface Prepared {
  started: number
  spec: JobSpec
  file: string
  registry: AcceleratorRegistry
  markets: Markets
  deadlineHours: number
  nodes: number
  input: MarketsInput
}

function prepareFile(options: SimulateOptions): Prepared {
  const started = performance.now()
  const now = options.now ?? new Date()
  const registry = loadRegistry()
  const {spec, file} = loadJobFile(options.file, {now})
  if (spec.deadline === null) {
    throw new UsageError(`job ${spec.name} has no deadline; simulate compares policies under one`, {
      code: 'SIMULATE_NEEDS_DEADLINE',
      hint: 'Add e.g. `deadline: 60h` to the job file.',
    })
  }
  const deadlineHours = (Date.parse(spec.deadline) - now.getTime()) / 3_600_000
  const policies = selectPolicies(options.policies)
  const seeds = options.seeds ?? DEFAULT_SEEDS
  if (!Number.isInteger(seeds) || seeds < 1) throw new UsageError(`--seeds must be a whole number ≥ 1, got ${seeds}`)
  const changeoverHours = options.changeoverHours ?? DEFAULT_CHANGEOVER_HOURS
  if (!(changeoverHours >= 0)) throw new UsageError('--changeover must be ≥ 0')
  const prices: PriceOverrides = {
    spot: parsePrices('--spot-price', options.spotPrice),
    onDemand: parsePrices('--on-demand-price', options.onDemandPrice),
  }
  const traces = loadTraceDir(options.traces, registry)
  const markets = buildMarkets({
    job: spec,
    traces,
    registry,
    now,
    prices,
    zones: options.zones,
    catalog: () => {
      const c = loadCatalog({home: options.home, catalogFile: options.catalogFile, now, fx: fxFromEnv(), registry})
      return {offers: c.offers, cnyPerUsd: c.fx.cnyPerUsd}
    },
  })
  const noticeSeconds = options.noticeSeconds ?? defaultNoticeSeconds(markets.spot)
  const nodes = Math.max(1, spec.nodes)
  const input: MarketsInput = {
    markets: markets.spot,
    onDemand: markets.onDemand,
    gapSeconds: markets.gapSeconds,
    workHours: markets.workHours,
    deadlineHours,
    changeoverHours,
    noticeSeconds,
    nodes,
    policies,
    seeds,
  }
  return {started, spec, file, registry, markets, deadlineHours, nodes, input}
}

function fileResult(options: SimulateOptions, p: Prepared, policies: PolicyResult[], out: MarketsResult): SimulateResult {
  const {started, spec, file, markets, deadlineHours, nodes} = p
  const {seeds, changeoverHours, noticeSeconds} = p.input
  return {
    job: {name: spec.name, file, workHours: markets.workHours, deadlineHours, jobFraction: markets.workHours / deadlineHours, nodes},
    traces: {
      path: options.traces,
      gapSeconds: markets.gapSeconds,
      markets: summarizeMarkets(markets.spot, markets.gapSeconds, nodes),
      skipped: markets.skipped,
    },
    settings: {seeds, changeoverHours, noticeSeconds, startTicks: out.startTicks, wrapped: out.wrapped},
    onDemandBaselineUsd: out.onDemandBaselineUsd,
    currency: 'USD',
    priceSources: markets.priceSources,
    policies,
    elapsedMs: performance.now() - started,
  }
}

/** Replays every policy from the same `seeds` start offsets, in this thread. Pure apart from the latency clock. */
export function simulateMarkets(input: MarketsInput): MarketsResult {
  const {startTicks, wrapped} = startTicksOf(input)
  const starts = distinctStarts(startTicks)
  const replay = replayer(input)
  const baseline = starts.map((s) => replay(BASELINE_POLICY, s).costUsd)
  const runs = input.policies.map((spec) => {
    const latency = new LatencyHistogram()
    return {outcomes: starts.map((s) => replay(spec, s, latency)), latency}
  })
  return assemble(input, startTicks, wrapped, starts, baseline, runs)
}

/**
 * Replays below this many trace ticks (distinct starts × ticks to the deadline × markets ×
 * policies) stay in this thread: a worker's start (about 0.1 s) would cost more than it saves.
 */
const PARALLEL_MIN_TICKS = 20_000_000

/** Worker threads for a replay of this size when the caller does not say: the machine's cores, or 1 for a small one. */
export function defaultThreads(input: MarketsInput): number {
  const {startTicks} = startTicksOf(input)
  const window = Math.ceil(input.deadlineHours / (input.gapSeconds / 3600))
  const size = distinctStarts(startTicks).length * window * Math.max(1, input.markets.length) * (input.policies.length + 1)
  return size < PARALLEL_MIN_TICKS ? 1 : Math.min(availableParallelism(), 8)
}

/**
 * simulateMarkets over `threads` worker threads (default: defaultThreads): the (policy,
 * starts) tasks go to whichever worker is free, the omniscient plans first (they cost the
 * most), and the outcomes are put back in seed order, so the result is the one
 * simulateMarkets gives, decision latencies apart. Policies outside the registry (a
 * caller's own) and threads = 1 replay in this thread. test/commands/simulate.test.ts
 * compares the two through the built CLI.
 */
export async function simulateMarketsParallel(input: MarketsInput, threads = defaultThreads(input)): Promise<MarketsResult> {
  const registered = input.policies.every((p) => findPolicy(p.name) === p)
  const {startTicks, wrapped} = startTicksOf(input)
  const starts = distinctStarts(startTicks)
  const workers = Math.min(threads, starts.length * (input.policies.length + 1))
  // The worker is the built replay-worker.js beside this module (dist/, or the CLI's bundle,
  // skyhop.cjs): run from the TypeScript sources (tests under tsx, whose loader Node 20 does
  // not give a worker thread), replay in this thread.
  const built = !import.meta.url.endsWith('.ts')
  if (workers <= 1 || !registered || !built) return simulateMarkets(input)

  // Tasks of about a quarter of a worker's share, so a slow one does not hold up the end.
  const chunk = Math.max(1, Math.ceil(starts.length / (workers * 4)))
  const tasks: ReplayTask[] = []
  const order = [...input.policies.keys()].sort((a, b) => Number(input.policies[b].omniscient) - Number(input.policies[a].omniscient))
  for (const policy of [...order, -1]) {
    for (let i = 0; i < starts.length; i += chunk) tasks.push({id: tasks.length, policy, starts: starts.slice(i, i + chunk)})
  }
  const data: WorkerData = {
    input: {...pickReplayInput(input)},
    policies: input.policies.map((p) => p.name),
  }
  const answers: ReplayAnswer[] = new Array(tasks.length)
  const url = new URL('./replay-worker.js', import.meta.url)
  const pool = Array.from({length: workers}, () => new Worker(url, {workerData: data}))
  try {
    await new Promise<void>((resolve, reject) => {
      let next = 0
      let done = 0
      const feed = (w: Worker): void => {
        if (next < tasks.length) w.postMessage(tasks[next++])
      }
      for (const w of pool) {
        w.on('message', (a: ReplayAnswer) => {
          answers[a.id] = a
          if (++done === tasks.length) resolve()
          else feed(w)
        })
        w.on('error', reject)
        w.on('exit', (code) => {
          if (done < tasks.length)
            reject(new BugError(`simulate: a replay worker exited (code ${code}) with ${tasks.length - done} tasks left`))
        })
        feed(w)
      }
    })
  } finally {
    await Promise.all(pool.map((w) => w.terminate()))
  }

  const byPolicy = new Map<number, {outcomes: RunOutcome[]; latency: LatencyHistogram}>()
  for (const t of tasks) {
    let e = byPolicy.get(t.policy)
    if (e === undefined) byPolicy.set(t.policy, (e = {outcomes: [], latency: new LatencyHistogram()}))
    const a = answers[t.id]
    e.outcomes.push(...a.outcomes)
    e.latency.merge(a.latency)
  }
  const baseline = byPolicy.get(-1)!.outcomes.map((o) => o.costUsd)
  return assemble(
    input,
    startTicks,
    wrapped,
    starts,
    baseline,
    input.policies.map((_, i) => byPolicy.get(i)!),
  )
}

function pickReplayInput(input: MarketsInput): ReplayInput {
  const {markets, onDemand, gapSeconds, workHours, deadlineHours, changeoverHours, noticeSeconds, nodes, seeds, seedBase} = input
  return {markets, onDemand, gapSeconds, workHours, deadlineHours, changeoverHours, noticeSeconds, nodes, seeds, seedBase}
}

/** Outcomes per distinct start back to one per seed, in seed order, and each policy summarised. */
function assemble(
  input: MarketsInput,
  startTicks: number[],
  wrapped: boolean,
  starts: readonly number[],
  baselineByStart: readonly number[],
  runs: ReadonlyArray<{outcomes: RunOutcome[]; latency: LatencyHistogram}>,
): MarketsResult {
  const at = new Map(starts.map((s, i) => [s, i]))
  const index = startTicks.map((s) => at.get(s)!)
  const baseline = index.map((i) => baselineByStart[i])
  const outcomes = new Map<string, RunOutcome[]>()
  const policies = input.policies.map((spec, p) => {
    const perSeed = index.map((i) => runs[p].outcomes[i])
    outcomes.set(spec.name, perSeed)
    return summarize(spec, perSeed, baseline, input.deadlineHours, runs[p].latency)
  })
  return {policies, onDemandBaselineUsd: baseline[0], startTicks, wrapped, outcomes, baseline}
}

function summarize(
  spec: Pick<PolicySpec, 'name' | 'safe' | 'omniscient' | 'summary'>,
  runs: readonly RunOutcome[],
  baseline: readonly number[],
  deadline: number,
  latency: LatencyHistogram,
): PolicyResult {
  const n = runs.length
  const avg = (f: (r: RunOutcome) => number) => runs.reduce((s, r) => s + f(r), 0) / n
  const slack = runs.map((r) => deadline - r.finishHours)
  return {
    name: spec.name,
    safe: spec.safe,
    omniscient: spec.omniscient,
    summary: spec.summary,
    runs: n,
    deadlineMisses: runs.filter((r) => r.missed).length,
    costRelativeToOnDemand: runs.reduce((s, r, i) => s + r.costUsd / baseline[i], 0) / n,
    costUsd: avg((r) => r.costUsd),
    spotHours: avg((r) => r.spotHours),
    onDemandHours: avg((r) => r.onDemandHours),
    spotWorkHours: avg((r) => r.spotWorkHours),
    onDemandWorkHours: avg((r) => r.onDemandWorkHours),
    changeovers: avg((r) => r.changeovers),
    preemptions: avg((r) => r.preemptions),
    slackHours: {min: Math.min(...slack), mean: slack.reduce((a, b) => a + b, 0) / n},
    unfinished: runs.filter((r) => r.unfinished).length,
    decisionLatencyUs: {
      p50: latency.quantile(0.5) * 1000,
      p99: latency.quantile(0.99) * 1000,
      max: latency.max * 1000,
      // Every run's decide calls, repeated seeds included (they are replayed once, timed once).
      calls: runs.reduce((n, r) => n + r.decisions, 0),
    },
  }
}

export function selectPolicies(names: readonly string[] | undefined): PolicySpec[] {
  if (names === undefined || names.length === 0) return [...POLICIES]
  const out: PolicySpec[] = []
  for (const raw of names.flatMap((n) => n.split(','))) {
    if (raw.trim() === '') continue
    const spec = findPolicy(raw)
    if (spec === undefined) {
      throw new UsageError(`unknown policy "${raw}"; known: ${POLICIES.map((p) => p.name).join(', ')}`, {code: 'UNKNOWN_POLICY'})
    }
    if (!out.includes(spec)) out.push(spec)
  }
  return out
}

/** `--spot-price 0.9` or `--spot-price V100=0.9` (repeatable) → price by key (`*` = every market). */
export function parsePrices(flag: string, values: readonly string[] | undefined): Map<string, number> {
  const out = new Map<string, number>()
  for (const raw of values ?? []) {
    for (const part of raw.split(',')) {
      const s = part.trim()
      if (s === '') continue
      const eq = s.indexOf('=')
      const key = eq < 0 ? '*' : priceKey(s.slice(0, eq))
      const text = (eq < 0 ? s : s.slice(eq + 1))
        .trim()
        .replace(/^\$/, '')
        .replace(/\s*(usd)?(\/h)?$/i, '')
      const value = Number(text)
      if (text === '' || !Number.isFinite(value) || value <= 0 || key === '') {
        throw new UsageError(`${flag} "${s}": expected a price in USD per node-hour, e.g. ${flag} 0.9 or ${flag} V100=0.9`, {
          code: 'BAD_PRICE',
        })
      }
      out.set(key, value)
    }
  }
  return out
}

/** The shortest notice among the markets' providers (AWS 120 s, GCP 30 s); 0 when none is known. */
export function defaultNoticeSeconds(markets: readonly SpotMarket[]): number {
  let best = Number.POSITIVE_INFINITY
  for (const m of markets) {
    const v = providerInfo(m.provider)?.noticeSeconds.value
    if (v != null && v < best) best = v
  }
  return Number.isFinite(best) ? best : 0
}

function summarizeMarkets(markets: readonly SpotMarket[], gapSeconds: number, nodes: number): MarketSummary[] {
  const gapHours = gapSeconds / 3600
  return markets.map((m) => {
    let up = 0
    let drops = 0
    for (let i = 0; i < m.data.length; i++) {
      const a = m.data[i] >= nodes
      if (a) up++
      if (i > 0 && m.data[i - 1] >= nodes && !a) drops++
    }
    return {
      zone: m.zone,
      region: m.region,
      label: m.label,
      accelerator: m.accelerator,
      count: m.count,
      speed: m.speed,
      spotUsdPerHour: m.spotUsdPerHour,
      onDemandUsdPerHour: m.onDemandUsdPerHour,
      k: m.onDemandUsdPerHour / m.spotUsdPerHour,
      availability: up / m.data.length,
      preemptionsPerHour: up === 0 ? 0 : drops / (up * gapHours),
      ticks: m.data.length,
    }
  })
}
