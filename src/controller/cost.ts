// Cost accounting: what each attempt cost at the price it was launched at (never today's
// catalog), billed by its provider's rules, and where the paid time went — provisioning,
// the job's run, work lost to a preemption since the last checkpoint, idle time after the
// job ended until the instance was released, and billing minimums. Pure over store rows
// and a clock; `skyhop cost`, the sweep budget and the sweep results table all use it.
import {type FxRates, amountInUsd} from '../model/currency.js'
import type {Currency} from '../model/job-spec.js'
import type {CostRow} from '../model/records.js'

/** How a provider bills an instance or allocation. */
export interface BillingPolicy {
  provider: string
  granularitySeconds: number
  /** Shortest charge for any use at all. */
  minimumSeconds: number
  /**
   * When paying starts: `launch` (a cloud instance is paid while it boots) or `start`
   * (a queued Slurm job or a local job waiting for a slot holds nothing).
   */
  startsAt: 'launch' | 'start'
  /** EC2 does not charge a Linux spot instance it interrupts within its first hour. */
  spotInterruptedFirstHourFree: boolean
  source: string
  /** True when the rule is our reading of secondary sources, not checked against the provider's own page. */
  assumption: boolean
}

const POLICIES: Record<string, Omit<BillingPolicy, 'provider'>> = {
  local: {
    granularitySeconds: 1,
    minimumSeconds: 0,
    startsAt: 'start',
    spotInterruptedFirstHourFree: false,
    source: 'this machine: providers.local.price_per_hour in the config, per second while a job holds a slot',
    assumption: false,
  },
  slurm: {
    granularitySeconds: 1,
    minimumSeconds: 0,
    startsAt: 'start',
    spotInterruptedFirstHourFree: false,
    source:
      'Slurm accounts an allocation from its start to its end in seconds (sacct Elapsed); a pending job holds nothing; price from providers.slurm.price_per_hour',
    assumption: false,
  },
  aws: {
    granularitySeconds: 1,
    minimumSeconds: 60,
    startsAt: 'launch',
    spotInterruptedFirstHourFree: true,
    source:
      'EC2 Linux on-demand and spot: per-second billing with a 60 s minimum (https://aws.amazon.com/ec2/pricing/); spot interrupted by EC2 in its first hour: no charge (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/billing-for-interrupted-spot-instances.html). Billing is counted from the launch request, an upper bound: EC2 starts at the running state',
    assumption: false,
  },
  tencentcloud: {
    granularitySeconds: 1,
    minimumSeconds: 0,
    startsAt: 'launch',
    spotInterruptedFirstHourFree: false,
    source:
      'CVM pay-as-you-go (and spot): priced per hour, billed per second, settled hourly (https://www.tencentcloud.com/zh/document/product/213/2176)',
    assumption: false,
  },
  aliyun: {
    granularitySeconds: 1,
    minimumSeconds: 0,
    startsAt: 'launch',
    spotInterruptedFirstHourFree: false,
    source:
      'ECS pay-as-you-go and preemptible instances: billed per second, settled hourly (Alibaba Cloud ECS billing docs as summarized by secondary sources; not checked against the official page)',
    assumption: true,
  },
  gcp: {
    granularitySeconds: 1,
    minimumSeconds: 60,
    startsAt: 'launch',
    spotInterruptedFirstHourFree: false,
    source:
      'Compute Engine VMs (on-demand and Spot): per-second billing with a one-minute minimum (https://cloud.google.com/compute/vms-pricing#billingmodel); a preempted Spot VM is billed for the time it ran',
    assumption: false,
  },
  azure: {
    granularitySeconds: 60,
    minimumSeconds: 60,
    startsAt: 'launch',
    spotInterruptedFirstHourFree: false,
    source:
      'Azure Linux VMs (pay-as-you-go and Spot): billed per minute of running (https://azure.microsoft.com/pricing/details/virtual-machines/linux/); an evicted Spot VM is billed up to its eviction',
    assumption: true,
  },
  huaweicloud: {
    granularitySeconds: 1,
    minimumSeconds: 0,
    startsAt: 'launch',
    spotInterruptedFirstHourFree: false,
    source:
      'ECS pay-per-use and spot: billed per second, settled hourly (Huawei Cloud ECS billing docs as summarized by secondary sources; not checked against the official page)',
    assumption: true,
  },
}

export function billingPolicy(provider: string): BillingPolicy {
  const p = POLICIES[provider]
  if (p) return {provider, ...p}
  return {
    provider,
    granularitySeconds: 1,
    minimumSeconds: 0,
    startsAt: 'launch',
    spotInterruptedFirstHourFree: false,
    source: `no billing rule known for ${provider}: per second from launch (assumption)`,
    assumption: true,
  }
}

/** One attempt's bill and where its time went. Seconds throughout; money in the attempt's currency and in USD. */
export interface AttemptCost {
  attemptId: string
  jobId: string
  jobName: string
  sweepId: string | null
  provider: string
  spot: boolean
  state: string
  /** Still holding its instance/allocation (cost counted up to now). */
  live: boolean
  heldSeconds: number
  billedSeconds: number
  provisioningSeconds: number
  runSeconds: number
  /** Work redone after a preemption or loss: time since the last checkpoint (all of the run without checkpoints). */
  lostSeconds: number
  idleSeconds: number
  /** billed − held: minimums and rounding up (negative when a rule waives the charge). */
  roundingSeconds: number
  currency: Currency | null
  /** Null when the price is unknown. */
  cost: number | null
  costUsd: number | null
  /** The same run at the on-demand price; null when unknown. */
  onDemandCostUsd: number | null
  /** The part of costUsd paid while nothing useful ran. */
  wasteUsd: number
  /**
   * The run split by what the accelerators did, from the runner's samples (docs/utilisation.md):
   * null when the attempt was not sampled or no accelerator tool answered.
   */
  accelerator: {busySeconds: number; idleSeconds: number; idleUsd: number} | null
  /** Mean share of the host's cores the job kept busy; null when not sampled. */
  cpuBusy: number | null
  /** The job's idle policy stopped this attempt. */
  idleStopped: boolean
}

const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'PREEMPTED', 'CANCELLED', 'LOST'])

function billed(policy: BillingPolicy, heldSeconds: number): number {
  if (heldSeconds <= 0) return 0
  return Math.max(policy.minimumSeconds, Math.ceil(heldSeconds / policy.granularitySeconds - 1e-9) * policy.granularitySeconds)
}

function asCurrency(c: string | null): Currency | null {
  return c === 'USD' || c === 'CNY' ? c : null
}

export function attemptCost(row: CostRow, now: Date, fx: FxRates): AttemptCost {
  const a = row.attempt
  const policy = billingPolicy(a.provider)
  const ms = (iso: string | null) => (iso === null ? null : Date.parse(iso))
  const launched = ms(a.launchedAt)
  const started = ms(a.startedAt)
  const ended = ms(a.endedAt)
  const released = ms(a.releasedAt)
  const terminal = TERMINAL.has(a.state)
  const heldStart = policy.startsAt === 'launch' ? launched : started
  let heldEnd: number | null = null
  let live = false
  if (heldStart !== null) {
    if (released !== null) heldEnd = released
    else if (terminal) heldEnd = ended ?? heldStart
    else {
      heldEnd = now.getTime()
      live = true
    }
    heldEnd = Math.max(heldStart, heldEnd)
  }
  const zero: Omit<AttemptCost, 'currency' | 'cost' | 'costUsd' | 'onDemandCostUsd' | 'wasteUsd'> = {
    attemptId: a.id,
    jobId: row.jobId,
    jobName: row.jobName,
    sweepId: row.sweepId,
    provider: a.provider,
    spot: a.spot,
    state: a.state,
    live,
    heldSeconds: 0,
    billedSeconds: 0,
    provisioningSeconds: 0,
    runSeconds: 0,
    lostSeconds: 0,
    idleSeconds: 0,
    roundingSeconds: 0,
    accelerator: null,
    cpuBusy: row.usage?.cpuBusy ?? null,
    idleStopped: row.idleStopped ?? false,
  }
  const currency = asCurrency(a.currency)
  if (heldStart === null || heldEnd === null)
    return {
      ...zero,
      currency,
      cost: a.pricePerHour === null ? null : 0,
      costUsd: a.pricePerHour === null ? null : 0,
      onDemandCostUsd: 0,
      wasteUsd: 0,
    }

  const clamp = (t: number) => Math.min(Math.max(t, heldStart), heldEnd!)
  const runStart = started === null ? heldEnd : clamp(started)
  const runEnd = ended === null ? heldEnd : Math.max(runStart, clamp(ended))
  const heldSeconds = (heldEnd - heldStart) / 1000
  const provisioningSeconds = (runStart - heldStart) / 1000
  const runSeconds = (runEnd - runStart) / 1000
  const idleSeconds = (heldEnd - runEnd) / 1000
  let lostSeconds = 0
  if ((a.state === 'PREEMPTED' || a.state === 'LOST') && !row.service) {
    const interval = row.checkpointIntervalSeconds
    lostSeconds = interval !== null && interval > 0 ? runSeconds % interval : runSeconds
  }
  const onDemandBilled = billed(policy, heldSeconds)
  let billedSeconds = onDemandBilled
  if (policy.spotInterruptedFirstHourFree && a.spot && a.state === 'PREEMPTED' && !row.preemptRequested && heldSeconds < 3600)
    billedSeconds = 0

  const price = currency === null ? null : a.pricePerHour
  const cost = price === null ? null : (billedSeconds / 3600) * price
  const costUsd = cost === null ? null : amountInUsd(cost, currency!, fx)
  const odPrice = a.onDemandPricePerHour ?? (a.spot ? null : price)
  const onDemandCostUsd = odPrice === null || currency === null ? null : amountInUsd((onDemandBilled / 3600) * odPrice, currency, fx)
  const roundingSeconds = billedSeconds - heldSeconds
  const wastedSeconds = provisioningSeconds + idleSeconds + lostSeconds + Math.max(0, roundingSeconds)
  const wasteUsd = costUsd === null || billedSeconds === 0 ? 0 : (costUsd * Math.min(billedSeconds, wastedSeconds)) / billedSeconds
  // The run at the accelerators' mean busy share: the rest of it was paid for idle accelerators.
  const busyShare = row.usage && row.usage.accelerators > 0 ? row.usage.acceleratorBusy : null
  const accelerator =
    busyShare === null || busyShare === undefined
      ? null
      : {
          busySeconds: runSeconds * busyShare,
          idleSeconds: runSeconds * (1 - busyShare),
          idleUsd:
            costUsd === null || billedSeconds === 0 ? 0 : (costUsd * Math.min(billedSeconds, runSeconds * (1 - busyShare))) / billedSeconds,
        }
  return {
    ...zero,
    accelerator,
    heldSeconds,
    billedSeconds,
    provisioningSeconds,
    runSeconds,
    lostSeconds,
    idleSeconds,
    roundingSeconds,
    currency,
    cost,
    costUsd,
    onDemandCostUsd,
    wasteUsd,
  }
}

export type CostGroupBy = 'job' | 'provider' | 'sweep'

export interface CostTotals {
  attempts: number
  paidHours: number
  runHours: number
  /** The run minus work lost to preemption. */
  usefulHours: number
  waste: {
    provisioningHours: number
    idleHours: number
    preemptionLostHours: number
    billingMinimumHours: number
    hours: number
    usd: number
  }
  /**
   * Total converted to USD, and the amounts in the currencies they were billed in. `usd` is
   * null when an attempt's price is unknown (an unknown is never summed as 0); `knownUsd` is
   * what the attempts with a known price cost (all of it when `usd` is not null).
   */
  cost: {usd: number | null; knownUsd: number; byCurrency: Partial<Record<Currency, number>>}
  /** What the same runs would have cost on demand (attempts with an unknown on-demand price count at what they cost). */
  onDemandUsd: number
  /** On-demand minus actual, over spot attempts. */
  spotSavedUsd: number
  /** Attempts paid for at an unknown price: they make cost.usd unknown. */
  unknownPriceAttempts: number
  /** Attempts still holding an instance or allocation (counted up to now). */
  liveAttempts: number
  /**
   * What the job did with what was paid for, over the attempts the runner sampled
   * (docs/utilisation.md): the run split into accelerators busy and idle, what the idle part
   * cost, and the attempts the idle policy stopped.
   */
  utilisation: {
    sampledAttempts: number
    /** Run time of the attempts whose accelerators were sampled. */
    acceleratorRunHours: number
    acceleratorBusyHours: number
    acceleratorIdleHours: number
    acceleratorIdleUsd: number
    /** Mean share of the host's cores busy, weighted by run time; null when nothing was sampled. */
    cpuBusy: number | null
    idlePolicyStops: number
  }
  summary: string
}

export interface CostGroup extends CostTotals {
  key: string
  label: string
}

export interface CostReport {
  since: string | null
  until: string
  by: CostGroupBy
  fx: {cnyPerUsd: number; source: string; asOf: string}
  groups: CostGroup[]
  total: CostTotals
  billing: BillingPolicy[]
}

export interface CostOptions {
  now: Date
  fx: FxRates
  by: CostGroupBy
  /** ISO time: only attempts requested at or after it (the store query applies it; kept for the report). */
  since: string | null
}

/** Sums attempt costs; `rows` are the store's cost rows. */
export function costReport(rows: readonly CostRow[], options: CostOptions): CostReport {
  const costs = rows.map((r) => attemptCost(r, options.now, options.fx))
  const groups = new Map<string, {label: string; items: AttemptCost[]}>()
  for (const c of costs) {
    const [key, label] =
      options.by === 'job'
        ? [c.jobId, c.jobName]
        : options.by === 'provider'
          ? [c.provider, c.provider]
          : [c.sweepId ?? '-', c.sweepId ?? '(not in a sweep)']
    const g = groups.get(key) ?? {label, items: []}
    g.items.push(c)
    groups.set(key, g)
  }
  const providers = [...new Set(costs.map((c) => c.provider))].sort()
  return {
    since: options.since,
    until: options.now.toISOString(),
    by: options.by,
    fx: {cnyPerUsd: options.fx.cnyPerUsd, source: options.fx.source, asOf: options.fx.asOf},
    groups: [...groups.entries()]
      .map(([key, g]) => ({key, label: g.label, ...totals(g.items)}))
      .sort((x, y) => y.cost.knownUsd - x.cost.knownUsd || (x.label < y.label ? -1 : 1)),
    total: totals(costs),
    billing: providers.map(billingPolicy),
  }
}

const round = (n: number, digits = 6) => Math.round(n * 10 ** digits) / 10 ** digits

export function totals(items: readonly AttemptCost[]): CostTotals {
  let billedS = 0
  let runS = 0
  let lostS = 0
  let provS = 0
  let idleS = 0
  let roundS = 0
  let usd = 0
  let od = 0
  let saved = 0
  let wasteUsd = 0
  let unknown = 0
  let live = 0
  let sampled = 0
  let accRunS = 0
  let accBusyS = 0
  let accIdleS = 0
  let accIdleUsd = 0
  let cpuWeighted = 0
  let cpuRunS = 0
  let idleStops = 0
  const byCurrency: Partial<Record<Currency, number>> = {}
  for (const c of items) {
    billedS += c.billedSeconds
    runS += c.runSeconds
    lostS += c.lostSeconds
    provS += c.provisioningSeconds
    idleS += c.idleSeconds
    roundS += Math.max(0, c.roundingSeconds)
    if (c.live) live++
    if (c.idleStopped) idleStops++
    if (c.cpuBusy !== null) {
      sampled++
      cpuWeighted += c.cpuBusy * c.runSeconds
      cpuRunS += c.runSeconds
    }
    if (c.accelerator) {
      accRunS += c.runSeconds
      accBusyS += c.accelerator.busySeconds
      accIdleS += c.accelerator.idleSeconds
      accIdleUsd += c.accelerator.idleUsd
    }
    if (c.costUsd === null || c.cost === null || c.currency === null) {
      if (c.billedSeconds > 0) unknown++
      continue
    }
    usd += c.costUsd
    byCurrency[c.currency] = (byCurrency[c.currency] ?? 0) + c.cost
    const odUsd = c.onDemandCostUsd ?? c.costUsd
    od += odUsd
    if (c.spot) saved += odUsd - c.costUsd
    wasteUsd += c.wasteUsd
  }
  const h = (s: number) => round(s / 3600)
  const wasteHours = provS + idleS + lostS + roundS
  const t: Omit<CostTotals, 'summary'> = {
    attempts: items.length,
    paidHours: h(billedS),
    runHours: h(runS),
    usefulHours: h(runS - lostS),
    waste: {
      provisioningHours: h(provS),
      idleHours: h(idleS),
      preemptionLostHours: h(lostS),
      billingMinimumHours: h(roundS),
      hours: h(wasteHours),
      usd: round(wasteUsd),
    },
    cost: {
      usd: unknown > 0 ? null : round(usd),
      knownUsd: round(usd),
      byCurrency: Object.fromEntries(Object.entries(byCurrency).map(([k, v]) => [k, round(v)])),
    },
    onDemandUsd: round(od),
    spotSavedUsd: round(saved),
    unknownPriceAttempts: unknown,
    liveAttempts: live,
    utilisation: {
      sampledAttempts: sampled,
      acceleratorRunHours: h(accRunS),
      acceleratorBusyHours: h(accBusyS),
      acceleratorIdleHours: h(accIdleS),
      acceleratorIdleUsd: round(accIdleUsd),
      cpuBusy: cpuRunS > 0 ? round(cpuWeighted / cpuRunS, 3) : null,
      idlePolicyStops: idleStops,
    },
  }
  return {...t, summary: summaryLine(t)}
}

/** `5.0 h`, `12.0 min`, `40 s`: hours unless that would print as 0.0. */
export function formatHours(hours: number): string {
  if (hours === 0) return '0 h'
  if (hours >= 0.1) return `${hours.toFixed(1)} h`
  if (hours * 60 >= 1) return `${(hours * 60).toFixed(1)} min`
  const seconds = hours * 3600
  return seconds >= 10 ? `${seconds.toFixed(0)} s` : `${seconds.toFixed(1)} s`
}

function usdText(n: number): string {
  return `$${n < 0.1 && n !== 0 ? n.toFixed(4) : n.toFixed(2)}`
}

/** "paid for 5.0 h, job ran 2.0 h; waste …; $x spent …" */
export function summaryLine(t: Omit<CostTotals, 'summary'>): string {
  const parts = [`paid for ${formatHours(t.paidHours)}, job ran ${formatHours(t.runHours)}`]
  const w = t.waste
  const waste: string[] = []
  if (w.provisioningHours > 0) waste.push(`${formatHours(w.provisioningHours)} provisioning`)
  if (w.idleHours > 0) waste.push(`${formatHours(w.idleHours)} idle after the job ended`)
  if (w.preemptionLostHours > 0) waste.push(`${formatHours(w.preemptionLostHours)} of work lost to preemption`)
  if (w.billingMinimumHours > 0) waste.push(`${formatHours(w.billingMinimumHours)} billing rounding and minimums`)
  if (waste.length > 0) parts.push(`waste: ${waste.join(', ')}`)
  const n = t.unknownPriceAttempts
  let money =
    t.cost.usd === null
      ? `cost unknown: ${n} attempt${n === 1 ? '' : 's'} at an unknown price${t.cost.knownUsd > 0 ? `, ${usdText(t.cost.knownUsd)} spent on the others` : ''}`
      : `${usdText(t.cost.usd)} spent`
  if (t.cost.usd !== null && t.onDemandUsd > t.cost.usd + 1e-9) money += `, on demand would have cost ${usdText(t.onDemandUsd)}`
  if (t.spotSavedUsd > 0) money += ` (spot saved ${usdText(t.spotSavedUsd)})`
  parts.push(money)
  const u = t.utilisation
  if (u.acceleratorRunHours > 0) {
    let acc = `accelerators busy ${formatHours(u.acceleratorBusyHours)}, idle ${formatHours(u.acceleratorIdleHours)} of the run`
    if (u.acceleratorIdleUsd > 0) acc += ` (${usdText(u.acceleratorIdleUsd)} paid for idle accelerators)`
    parts.push(acc)
  }
  if (u.idlePolicyStops > 0) parts.push(`${u.idlePolicyStops} attempt${u.idlePolicyStops === 1 ? '' : 's'} stopped by the idle policy`)
  return parts.join('; ')
}

/** The report over the store's attempts requested since `since` (ISO time; null = all). */
export function costFromStore(store: {costRows(filter: {sinceIso?: string}): CostRow[]}, options: CostOptions): CostReport {
  return costReport(store.costRows(options.since ? {sinceIso: options.since} : {}), options)
}
