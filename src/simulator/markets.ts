// Turns a job and a folder of traces into the markets one simulation replays: which
// traces the job can use (its accelerator alternatives and counts, as the planner judges
// them), how fast each is (the planner's work scaling: the job's throughput table, else
// registry TFLOPS), and what each costs per hour (flags, else the catalog). Pure: the
// caller loads the job, the traces and, when needed, the catalog.
import type {AcceleratorRegistry} from '../catalog/accelerators.js'
import type {Offer} from '../model/catalog.js'
import {UsageError} from '../errors.js'
import {JobContext} from '../planner/plan-context.js'
import type {JobSpec} from '../model/job-spec.js'
import {didYouMean} from '../util/did-you-mean.js'
import type {OnDemandOption, SpotMarket, Trace} from './types.js'

/** Hourly prices per node given on the command line: by trace label or accelerator name, or `*` for all. */
export interface PriceOverrides {
  spot: ReadonlyMap<string, number>
  onDemand: ReadonlyMap<string, number>
}

export interface MarketInput {
  job: JobSpec
  traces: readonly Trace[]
  registry: AcceleratorRegistry
  now: Date
  prices: PriceOverrides
  /** Offers and fx of the catalog, for prices the flags do not give; loaded only when needed. */
  catalog?: () => {offers: readonly Offer[]; cnyPerUsd: number}
  /** Only these zones. */
  zones?: readonly string[]
}

export interface SkippedTrace {
  file: string
  zone: string
  label: string
  reason: string
}

export interface Markets {
  spot: SpotMarket[]
  onDemand: OnDemandOption[]
  skipped: SkippedTrace[]
  gapSeconds: number
  /** Work in hours on the job's reference configuration. */
  workHours: number
  /** Where each market's prices came from, one line each. */
  priceSources: string[]
}

export function priceKey(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9*]/g, '')
}

export function buildMarkets(input: MarketInput): Markets {
  const {job, registry} = input
  if (job.work === null) {
    throw new UsageError(`job ${job.name} has no work estimate; simulate needs work.hours (and work.reference to compare accelerators)`, {
      code: 'SIMULATE_NEEDS_WORK',
      hint: 'Add e.g. `work: {reference: V100:1, hours: 48}` to the job file.',
    })
  }
  const ctx = new JobContext({
    job,
    offers: [],
    accelerators: (n) => registry.resolve(n),
    now: input.now,
    enabledProviders: null,
    fx: {cnyPerUsd: 1},
  })
  const nodes = Math.max(1, job.nodes)
  const skipped: SkippedTrace[] = []
  let traces = input.traces
  if (input.zones && input.zones.length > 0) {
    const known = [...new Set(traces.map((t) => t.zone))]
    for (const z of input.zones) {
      if (!known.includes(z)) {
        const dym = didYouMean(z, known)
        throw new UsageError(`no trace for zone ${z}${dym ? ` (did you mean ${dym}?)` : ''}; zones in the traces: ${known.join(', ')}`, {
          code: 'UNKNOWN_ZONE',
        })
      }
    }
    const want = new Set(input.zones)
    traces = traces.filter((t) => want.has(t.zone))
  }

  const usable: Array<{trace: Trace; speed: number}> = []
  for (const trace of traces) {
    const why = unusable(ctx, trace)
    if (why !== null) {
      skipped.push({file: trace.file, zone: trace.zone, label: trace.label, reason: why})
      continue
    }
    const g = ctx.group(trace.accelerator ?? '')
    const speed = ctx.workHours / ctx.runHours(g, trace.accelerator === null ? 1 : trace.count)
    usable.push({trace, speed})
  }
  if (usable.length === 0) {
    const reasons = [...new Set(skipped.map((s) => `${s.label}_${traces.find((t) => t.file === s.file)?.count ?? ''}: ${s.reason}`))]
    throw new UsageError(
      `none of the ${traces.length} traces fits job ${job.name}${reasons.length > 0 ? ` (${reasons.join('; ')})` : ''}`,
      {
        code: 'NO_USABLE_TRACES',
        hint: "The job's resources.accelerators must match the traces' kind and count (e.g. V100:1 for us-west-2a_v100_1.json).",
      },
    )
  }
  const gaps = [...new Set(usable.map((u) => u.trace.gapSeconds))]
  if (gaps.length > 1) {
    throw new UsageError(`the traces have different ticks (${gaps.map((g) => `${g} s`).join(', ')}); simulate one trace set at a time`, {
      code: 'TRACES_MIXED',
      hint: 'Point --traces at one folder, e.g. availability/1-node/aws-02-15-2023, or pick zones with --zone.',
    })
  }

  let catalog: {offers: readonly Offer[]; cnyPerUsd: number} | undefined
  const priceSources: string[] = []
  const spot: SpotMarket[] = usable.map(({trace, speed}) => {
    const names = [trace.label, ...(trace.accelerator ? [trace.accelerator] : []), '*'].map(priceKey)
    const flagSpot = first(names, input.prices.spot)
    const flagOd = first(names, input.prices.onDemand)
    let spotPrice = flagSpot
    let odPrice = flagOd
    let source = 'flags'
    if (spotPrice === undefined || odPrice === undefined) {
      catalog ??= input.catalog?.()
      const found = catalog ? catalogPrice(catalog, trace) : null
      if (found === null) {
        const missing = [spotPrice === undefined ? '--spot-price' : '', odPrice === undefined ? '--on-demand-price' : '']
          .filter(Boolean)
          .join(' and ')
        throw new UsageError(`no catalog price for ${describe(trace)} in ${trace.provider}/${trace.region}; give ${missing}`, {
          code: 'SIMULATE_NO_PRICE',
          hint: `e.g. ${missing
            .split(' and ')
            .map((f) => `${f} ${trace.label}=1.0`)
            .join(' ')} (USD per node-hour), or one price for every market: ${missing
            .split(' and ')
            .map((f) => `${f} 1.0`)
            .join(' ')}`,
        })
      }
      spotPrice ??= found.spot
      odPrice ??= found.onDemand
      source = flagSpot === undefined && flagOd === undefined ? found.source : `${found.source}; flags for the rest`
    }
    priceSources.push(`${trace.zone} ${describe(trace)}: spot ${round(spotPrice)} / on-demand ${round(odPrice)} USD/h per node (${source})`)
    return {
      zone: trace.zone,
      region: trace.region,
      provider: trace.provider,
      label: trace.label,
      accelerator: trace.accelerator,
      count: trace.count,
      speed,
      spotUsdPerHour: spotPrice * nodes,
      onDemandUsdPerHour: odPrice * nodes,
      data: trace.data,
    }
  })

  // On-demand is always available: one option per kind of instance, at its cheapest region.
  const byKind = new Map<string, OnDemandOption>()
  for (const m of spot) {
    const key = `${m.label}_${m.count}`
    const prior = byKind.get(key)
    if (prior === undefined || m.onDemandUsdPerHour < prior.usdPerHour) {
      byKind.set(key, {label: key, accelerator: m.accelerator, count: m.count, speed: m.speed, usdPerHour: m.onDemandUsdPerHour})
    }
  }
  return {spot, onDemand: [...byKind.values()], skipped, gapSeconds: gaps[0], workHours: ctx.workHours, priceSources}
}

/** Why the job cannot use this trace's instances, or null. */
function unusable(ctx: JobContext, trace: Trace): string | null {
  const requests = ctx.job.resources.accelerators
  if (trace.accelerator === null) {
    return requests.length === 0 ? null : `"${trace.label}" is not an accelerator the job asks for`
  }
  if (requests.length === 0) return 'the job asks for no accelerator'
  const g = ctx.group(trace.accelerator)
  if (g.reason !== null) return `${trace.accelerator} is not requested (${g.reason})`
  if (g.throughputUnknown) return `no throughput for ${trace.accelerator}: give it in the job's throughput table`
  const fits = g.alternatives.some((i) => trace.count >= requests[i].count.min && trace.count <= requests[i].count.max)
  return fits ? null : `${trace.count} × ${trace.accelerator} per node is not a count the job asks for`
}

function first(keys: string[], map: ReadonlyMap<string, number>): number | undefined {
  for (const k of keys) {
    const v = map.get(k)
    if (v !== undefined) return v
  }
  return undefined
}

/**
 * The catalog's price for a trace's instance in its region: the instance type with the
 * cheapest on-demand price for that accelerator × count, and the median spot price of that
 * type across the region's zones (the catalog names zones by ID, which cannot be matched to
 * a zone name). Null when the catalog has no such offer with both prices.
 */
export function catalogPrice(
  catalog: {offers: readonly Offer[]; cnyPerUsd: number},
  trace: Trace,
): {spot: number; onDemand: number; source: string} | null {
  if (trace.accelerator === null) return null
  const rows = catalog.offers.filter(
    (o) =>
      o.provider === trace.provider &&
      o.region === trace.region &&
      o.accelerator?.name === trace.accelerator &&
      o.accelerator.count === trace.count &&
      o.price.onDemand !== null,
  )
  if (rows.length === 0) return null
  const usd = (o: Offer, x: number) => (o.price.currency === 'CNY' ? x / catalog.cnyPerUsd : x)
  rows.sort((a, b) => usd(a, a.price.onDemand!) - usd(b, b.price.onDemand!))
  const type = rows[0].instanceType
  const spots = rows
    .filter((o) => o.instanceType === type && o.price.spot !== null)
    .map((o) => usd(o, o.price.spot!))
    .sort((a, b) => a - b)
  if (spots.length === 0) return null
  const mid = spots.length >> 1
  const spot = spots.length % 2 === 1 ? spots[mid] : (spots[mid - 1] + spots[mid]) / 2
  return {
    spot,
    onDemand: usd(rows[0], rows[0].price.onDemand!),
    source: `catalog ${type}, ${rows[0].source} ${rows[0].asOf}; spot = median of ${spots.length} zone(s)`,
  }
}

function describe(trace: Trace): string {
  return trace.accelerator === null ? `${trace.label} (${trace.count})` : `${trace.accelerator}×${trace.count}`
}

function round(x: number): string {
  return x >= 10 ? x.toFixed(2) : x.toFixed(4).replace(/0+$/, '').replace(/\.$/, '')
}
