// The `simulate` service: load the job, the traces and (for prices the flags do not give)
// the catalog, build the markets, then replay every policy from the same seeded start
// offsets and summarise. simulateMarkets is the pure part the benchmark calls directly.
import {type AcceleratorRegistry, loadRegistry} from '../catalog/accelerators.js'
import {loadCatalog} from '../catalog/catalog.js'
import {fxFromEnv} from '../model/currency.js'
import {providerInfo} from '../catalog/providers.js'
import {UsageError} from '../errors.js'
import {loadJobFile} from '../job/load.js'
import type {JobSpec} from '../model/job-spec.js'
import {type ControllerRunOutcome, runController} from './controller-run.js'
import {changeDistances, simulate} from './engine.js'
import {type Markets, type PriceOverrides, type SkippedTrace, buildMarkets, priceKey} from './markets.js'
import {POLICIES, findPolicy} from './policies.js'
import {LatencyHistogram, rng} from './stats.js'
import {loadTraceDir} from './traces.js'
import type {OnDemandOption, PolicySpec, RunOutcome, Scenario, SpotMarket} from './types.js'

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
 * simulateFile, plus `skyhop-controller` when asked for by name (`--policy skyhop-controller`)
 * or with `controller: true`: each seed replayed through driveJob (async: the controller is).
 */
export async function simulateFileAsync(options: SimulateOptions & {controller?: boolean}): Promise<SimulateResult> {
  const names = options.policies?.flatMap((n) => n.split(',')).map((n) => n.trim()) ?? []
  const wantController = options.controller === true || names.includes(CONTROLLER_POLICY)
  const others = names.filter((n) => n !== CONTROLLER_POLICY && n !== '')
  if (!wantController) return simulateFile(options)
  const onlyController = names.length > 0 && others.length === 0
  const p = prepareFile({...options, policies: others})
  const input = onlyController ? {...p.input, policies: []} : p.input
  const out = simulateMarkets(input)
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

/** Replays every policy from the same `seeds` start offsets. Pure apart from the latency clock. */
export function simulateMarkets(input: MarketsInput): MarketsResult {
  const gapHours = input.gapSeconds / 3600
  const minLength = Math.min(...input.markets.map((m) => m.data.length))
  const window = Math.ceil(input.deadlineHours / gapHours)
  const wrapped = minLength < window
  const maxStart = wrapped ? minLength - 1 : minLength - window
  const base = input.seedBase ?? 1
  const startTicks: number[] = []
  for (let i = 0; i < input.seeds; i++) startTicks.push(Math.floor(rng(base + i)() * (maxStart + 1)))

  const changes = input.markets.map((m) => changeDistances(m.data, input.nodes))
  const scenarioAt = (startTick: number): Scenario => ({
    workHours: input.workHours,
    deadlineHours: input.deadlineHours,
    changeoverHours: input.changeoverHours,
    noticeHours: input.noticeSeconds / 3600,
    gapHours,
    nodes: input.nodes,
    spot: input.markets,
    onDemand: input.onDemand,
    startTick,
    changes,
  })
  const setupOf = (sc: Scenario, omniscient: boolean) => ({
    markets: sc.spot,
    onDemand: sc.onDemand,
    workHours: sc.workHours,
    deadlineHours: sc.deadlineHours,
    changeoverHours: sc.changeoverHours,
    noticeHours: sc.noticeHours,
    gapHours: sc.gapHours,
    ...(omniscient ? {future: (z: number, k: number) => sc.spot[z].data[(sc.startTick + k) % sc.spot[z].data.length] >= sc.nodes} : {}),
  })

  const baselineSpec = findPolicy('on-demand')!
  const baseline = startTicks.map((s) => {
    const sc = scenarioAt(s)
    return simulate(sc, baselineSpec.create(setupOf(sc, false))).costUsd
  })

  const outcomes = new Map<string, RunOutcome[]>()
  const policies: PolicyResult[] = input.policies.map((spec) => {
    const latency = new LatencyHistogram()
    const runs: RunOutcome[] = startTicks.map((s) => {
      const sc = scenarioAt(s)
      return simulate(sc, spec.create(setupOf(sc, spec.omniscient)), {latency})
    })
    outcomes.set(spec.name, runs)
    return summarize(spec, runs, baseline, input.deadlineHours, latency)
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
      calls: latency.count,
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
