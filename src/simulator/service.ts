// `skyhop simulate --service`: a service file's replicas replayed against spot traces under
// each service policy (service-replay.ts), from seeded start offsets, with the replica count
// sized from the demand (planner/service-replicas.ts sizeReplicas) and prices from the flags
// or the catalog (markets.ts, as for jobs). Returns plain data for the CLI to render.
import {loadRegistry} from '../catalog/accelerators.js'
import {loadCatalog} from '../catalog/catalog.js'
import {InvalidFileError, UsageError} from '../errors.js'
import {loadJobFile} from '../job/load.js'
import {fxFromEnv} from '../catalog/fx.js'
import {type SizedOption, noticeDrainWindowSeconds, sizeReplicas} from '../planner/service-replicas.js'
import {type SkippedTrace, buildMarkets} from './markets.js'
import {DEFAULT_SEEDS, defaultNoticeSeconds, parsePrices} from './run.js'
import {SERVICE_POLICIES, type ServicePolicyName, type ServiceRunOutcome, replayService, serviceStartTicks} from './service-replay.js'
import {loadTraceDir} from './traces.js'
import type {SpotMarket} from './types.js'

export const DEFAULT_SERVICE_DURATION_HOURS = 7 * 24
export const DEFAULT_STARTUP_SECONDS = 120
export const DEFAULT_RESPOT_SECONDS = 300

export interface ServiceSimulationOptions {
  file: string
  traces: string
  home: string
  policies?: readonly string[]
  seeds?: number
  /** Requests/s the service must carry; sizes the replica count. Default: the file's minimum replicas. */
  demandQps?: number
  durationHours?: number
  startupSeconds?: number
  noticeSeconds?: number
  respotSeconds?: number
  spotPrice?: readonly string[]
  onDemandPrice?: readonly string[]
  zones?: readonly string[]
  catalogFile?: string
  now?: Date
}

/** A policy over many runs: availability as mean and worst run, every other figure a mean over runs. */
export interface ServicePolicyResult extends Omit<ServiceRunOutcome, 'atTarget' | 'atOne'> {
  name: string
  summary: string
  runs: number
  /** Fraction of the time with at least the target replicas ready: mean over runs, and the worst run. */
  availabilityAtTarget: {mean: number; min: number}
  /** Fraction of the time with at least one replica ready. */
  availabilityAtOne: {mean: number; min: number}
  /** Mean over runs of cost / all on-demand on the same run. */
  costRelativeToOnDemand: number
}

export interface SimulateServiceResult {
  service: {
    name: string
    file: string
    target: number
    demandQps: number | null
    qpsPerReplica: number | null
    configuration: string
    baseOnDemand: number
    spread: string
    spot: string
  }
  sizing: SizedOption[]
  traces: {
    path: string
    gapSeconds: number
    zones: Array<{zone: string; spotUsdPerHour: number; onDemandUsdPerHour: number; availability: number}>
    skipped: SkippedTrace[]
  }
  settings: {
    seeds: number
    durationHours: number
    startupSeconds: number
    noticeSeconds: number
    /** How long before its kill a noticed replica stops getting requests. */
    drainWindowSeconds: number
    respotSeconds: number
    startTicks: number[]
    wrapped: boolean
  }
  onDemandBaselineUsd: number
  currency: 'USD'
  priceSources: string[]
  policies: ServicePolicyResult[]
  elapsedMs: number
}

export function selectServicePolicies(names: readonly string[] | undefined): ServicePolicyName[] {
  const known = SERVICE_POLICIES.map((p) => p.name)
  const wanted = (names ?? [])
    .flatMap((n) => n.split(','))
    .map((n) => n.trim())
    .filter((n) => n !== '')
  if (wanted.length === 0) return [...known]
  const out: ServicePolicyName[] = []
  for (const n of wanted) {
    const p = known.find((k) => k === n)
    if (p === undefined) throw new UsageError(`unknown service policy "${n}"; known: ${known.join(', ')}`, {code: 'UNKNOWN_POLICY'})
    if (!out.includes(p)) out.push(p)
  }
  return out
}

export function simulateServiceFile(options: ServiceSimulationOptions): SimulateServiceResult {
  const started = performance.now()
  const now = options.now ?? new Date()
  const registry = loadRegistry()
  const {spec, file} = loadJobFile(options.file, {now})
  const service = spec.service
  if (!service) {
    throw new InvalidFileError([{file, path: '/service', message: 'has no service: block; `simulate --service` replays a service file'}], {
      code: 'SERVICE_BLOCK_MISSING',
      hint: 'Without --service, simulate replays a job (work and deadline).',
    })
  }
  const policies = selectServicePolicies(options.policies)
  const seeds = options.seeds ?? DEFAULT_SEEDS
  if (!Number.isInteger(seeds) || seeds < 1) throw new UsageError(`--seeds must be a whole number ≥ 1, got ${seeds}`)
  const durationHours = options.durationHours ?? DEFAULT_SERVICE_DURATION_HOURS
  if (!(durationHours > 0)) throw new UsageError(`--duration must be > 0`, {code: 'BAD_DURATION'})
  const startupSeconds = options.startupSeconds ?? DEFAULT_STARTUP_SECONDS
  const respotSeconds = options.respotSeconds ?? DEFAULT_RESPOT_SECONDS
  const {min, max, targetQpsPerReplica} = service.replicas
  if (options.demandQps !== undefined) {
    if (!(options.demandQps > 0)) throw new UsageError(`--qps must be > 0, got ${options.demandQps}`, {code: 'BAD_QPS'})
    if (targetQpsPerReplica === null) {
      throw new UsageError(`--qps needs service.replicas.target_qps_per_replica in ${file}: the request rate one replica takes`, {
        code: 'SIMULATE_NEEDS_QPS_PER_REPLICA',
        hint: 'e.g. replicas: {min: 1, max: 8, target_qps_per_replica: 50}',
      })
    }
  }

  // Speeds relative to work.reference when the file names one (the planner's work scaling);
  // the same for every configuration otherwise.
  const traces = loadTraceDir(options.traces, registry)
  const markets = buildMarkets({
    job: {...spec, nodes: 1, work: spec.work ?? {reference: null, hours: 1}},
    traces,
    registry,
    now,
    prices: {spot: parsePrices('--spot-price', options.spotPrice), onDemand: parsePrices('--on-demand-price', options.onDemandPrice)},
    zones: options.zones,
    catalog: () => {
      const c = loadCatalog({home: options.home, catalogFile: options.catalogFile, now, fx: fxFromEnv(), registry})
      return {offers: c.offers, cnyPerUsd: c.fx.cnyPerUsd}
    },
  })

  // One configuration for the replicas: the one that carries the demand at the lowest cost
  // with the service's market mix (the floor on on-demand, the rest on spot at its median).
  const kinds = new Map<string, SpotMarket[]>()
  for (const m of markets.spot) {
    const key = `${m.accelerator ?? m.label}:${m.count}`
    kinds.set(key, [...(kinds.get(key) ?? []), m])
  }
  const floor = service.spot.baseOnDemand
  const spotAllowed = spec.spot !== 'on-demand'
  const kindList = [...kinds]
  const sizing = sizeReplicas({
    demandQps: options.demandQps ?? 0,
    qpsPerReplica: targetQpsPerReplica ?? 1,
    min,
    max: options.demandQps === undefined ? min : max,
    options: kindList.map(([name, ms]) => {
      const od = Math.min(...ms.map((m) => m.onDemandUsdPerHour))
      const spot = median(ms.map((m) => m.spotUsdPerHour))
      return {
        name,
        speed: ms[0].speed,
        usdPerHour: (n: number) => (spotAllowed ? Math.min(n, floor) * od + Math.max(0, n - floor) * spot : n * od),
      }
    }),
  })
  const chosen = sizing.options[sizing.chosen]
  const zones = kindList[sizing.chosen][1]
  const onDemandUsdPerHour = Math.min(...zones.map((m) => m.onDemandUsdPerHour))
  const noticeSeconds = options.noticeSeconds ?? defaultNoticeSeconds(zones)
  // The controller's window without a measured latency (a replay has none): the SLO's, else the least.
  const drainWindowSeconds = noticeDrainWindowSeconds({sloP95Seconds: service.slo?.p95LatencySeconds ?? null, measuredP99Seconds: null})
  const input = {
    markets: zones,
    onDemandUsdPerHour,
    gapSeconds: markets.gapSeconds,
    durationHours,
    startupSeconds,
    noticeSeconds,
    drainWindowSeconds,
    respotSeconds,
    target: chosen.replicas,
    baseOnDemand: floor,
    spread: service.spot.spread,
    spotAllowed,
  }
  const {startTicks, wrapped} = serviceStartTicks(input, seeds)
  const distinct = [...new Set(startTicks)]
  const baselineUsd = chosen.replicas * onDemandUsdPerHour * durationHours
  const results = policies.map((name) => {
    const byStart = new Map(distinct.map((s) => [s, replayService(input, name, s)]))
    const runs = startTicks.map((s) => byStart.get(s)!)
    return summarize(name, runs, baselineUsd)
  })

  return {
    service: {
      name: spec.name,
      file,
      target: chosen.replicas,
      demandQps: options.demandQps ?? null,
      qpsPerReplica: targetQpsPerReplica,
      configuration: chosen.name,
      baseOnDemand: floor,
      spread: service.spot.spread,
      spot: spec.spot,
    },
    sizing: sizing.options,
    traces: {
      path: options.traces,
      gapSeconds: markets.gapSeconds,
      zones: zones.map((m) => ({
        zone: m.zone,
        spotUsdPerHour: m.spotUsdPerHour,
        onDemandUsdPerHour: m.onDemandUsdPerHour,
        availability: m.data.reduce((n, x) => n + (x >= 1 ? 1 : 0), 0) / m.data.length,
      })),
      skipped: markets.skipped,
    },
    settings: {seeds, durationHours, startupSeconds, noticeSeconds, drainWindowSeconds, respotSeconds, startTicks, wrapped},
    onDemandBaselineUsd: baselineUsd,
    currency: 'USD',
    priceSources: markets.priceSources,
    policies: results,
    elapsedMs: performance.now() - started,
  }
}

function summarize(name: ServicePolicyName, runs: readonly ServiceRunOutcome[], baselineUsd: number): ServicePolicyResult {
  const n = runs.length
  const mean = (f: (r: ServiceRunOutcome) => number) => runs.reduce((s, r) => s + f(r), 0) / n
  return {
    name,
    summary: SERVICE_POLICIES.find((p) => p.name === name)!.summary,
    runs: n,
    availabilityAtTarget: {mean: mean((r) => r.atTarget), min: Math.min(...runs.map((r) => r.atTarget))},
    availabilityAtOne: {mean: mean((r) => r.atOne), min: Math.min(...runs.map((r) => r.atOne))},
    costRelativeToOnDemand: mean((r) => r.costUsd / baselineUsd),
    costUsd: mean((r) => r.costUsd),
    spotHours: mean((r) => r.spotHours),
    onDemandHours: mean((r) => r.onDemandHours),
    preemptions: mean((r) => r.preemptions),
    notices: mean((r) => r.notices),
    launches: mean((r) => r.launches),
    fallbacks: mean((r) => r.fallbacks),
    outages: mean((r) => r.outages),
    longestOutageSeconds: Math.max(...runs.map((r) => r.longestOutageSeconds)),
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}
