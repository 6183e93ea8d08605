// Everything about one job that does not depend on the offer, worked out once before the
// loop over offers: limits in USD, placement sets, the reference throughput, the block
// list by provider, and a cache of per-accelerator judgements and egress figures.
import {type Accelerator, type Confidence, type Offer, gangFabric, isFastFabric} from '../model/catalog.js'
import type {AcceleratorRequest, InterconnectPolicy, JobSpec, Money, Objective} from '../model/job-spec.js'
import {ObservationIndex} from './observations.js'
import {
  DEFAULT_SAFETY_MARGIN,
  DEFAULT_TOP,
  DEFAULT_VALUE_OF_TIME_USD_PER_DEVICE_HOUR,
  DEFAULT_WORK_HOURS,
  EGRESS_DEFAULT,
  EGRESS_PER_GB,
  INTER_NODE_EFFICIENCY_PER_DOUBLING,
  REFERENCE_DEVICES_PER_NODE,
  SLOW_FABRIC_EFFICIENCY_PER_DOUBLING,
  type ProviderKind,
  TRANSFER_GBPS,
  scalingEfficiency,
} from './priors.js'
import type {BlockedScope, ExclusionReason, Observation, OfferKey, PlanInput, QueueEstimate} from './types.js'

/** The judgement of one accelerator name for this job, shared by every offer that carries it. */
export interface AcceleratorGroup {
  name: string
  acc: Accelerator | undefined
  /** Set when no alternative can accept this accelerator whatever the count. */
  reason: ExclusionReason | null
  /** The accelerator is acceptable but its throughput relative to the reference is unknown. */
  throughputUnknown: boolean
  /** Alternatives (indices into job.resources.accelerators) this accelerator satisfies, in order. */
  alternatives: number[]
  /** Throughput of one device in the units of the reference (table or TFLOPS); NaN when unknown. */
  perDevice: number
  /** Reference throughput (all devices, with scaling) in the same units. */
  referenceTotal: number
  runSource: string
  runConfidence: Confidence
  /**
   * Per-node device count → scaling efficiency for that count on job.nodes nodes; a gang on a
   * slow fabric is cached under the negated count.
   */
  efficiency: Map<number, number>
}

export interface Egress {
  costUsd: number
  hours: number
  source: string
  confidence: Confidence
}

const NO_EGRESS: Egress = {costUsd: 0, hours: 0, source: 'no data to move', confidence: 'high'}

export class JobContext {
  readonly job: JobSpec
  readonly objective: Objective
  readonly top: number
  readonly safetyMargin: number
  readonly now: Date
  readonly nowMs: number
  readonly cnyPerUsd: number
  /** The rate in words, its date and source, for the note of a plan that converted a price. */
  readonly fxNote: string
  /** Hours until the deadline divided by (1 + margin); Infinity without a deadline. */
  readonly allowedHours: number
  readonly hoursToDeadline: number
  readonly budgetUsd: number
  readonly maxPriceUsd: number
  readonly wantSpot: boolean
  readonly wantOnDemand: boolean
  /**
   * A price must be known to judge this candidate: a budget or max price is set (the job's,
   * or one outside it such as a sweep's budget). The cost and balanced objectives rank an
   * unknown price after every known one instead (issue 23).
   */
  readonly needPrice: boolean
  /** The limits that need a price, in words, for the `price-unknown` exclusion's message. */
  readonly priceLimits: readonly string[]
  readonly cpuJob: boolean
  /**
   * `accelerators: auto` not yet chosen from earlier runs (AutoAccelerators): any accelerator
   * the runtimes allow, and CPU-only machines when they allow `cpu` (or say nothing).
   */
  readonly openAuto: boolean
  readonly enabled: ReadonlySet<string> | null
  readonly adapters: ReadonlySet<string> | null
  readonly maxNodes: ReadonlyMap<string, number> | null
  /** For a job with a container image: who can run it (PlanInput.containerProviders); null = not checked. */
  readonly containerProviders: ReadonlySet<string> | null
  /** Why a provider cannot run the job's image, where it said (PlanInput.containerReasons). */
  readonly containerReasons: ReadonlyMap<string, string>
  /** Whether the job has an object store (PlanInput.jobStore). */
  readonly jobStore: boolean
  readonly providerAllow: ReadonlySet<string> | null
  readonly providerDeny: ReadonlySet<string>
  private readonly regionAllowBare: Set<string> | null
  private readonly regionAllowScoped: Map<string, Set<string>> | null
  private readonly regionDenyBare: Set<string>
  private readonly regionDenyScoped: Map<string, Set<string>>
  private readonly hasRegionRules: boolean
  readonly blockedByProvider: Map<string, BlockedScope[]>
  readonly observations: ObservationIndex | null
  readonly queueEstimates: ReadonlyMap<OfferKey, QueueEstimate> | null
  readonly workHours: number
  readonly workKnown: boolean
  readonly checkpointHours: number | null
  readonly valueOfTimeUsdPerHour: number
  /** How the fabric between a gang's nodes counts; `any` for a one-node job. */
  readonly interconnect: InterconnectPolicy
  private slowFabricNoted = false
  readonly assumptions: string[] = []
  private readonly noted = new Set<string>()
  private readonly groups = new Map<string, AcceleratorGroup>()
  private readonly egress = new Map<string, Map<string, Egress>>()
  private readonly resolve: (name: string) => Accelerator | undefined
  /** How run time scales: by the job's table, by TFLOPS, or not at all. */
  private readonly reference: {
    name: string
    count: number
    table: number | null
    tflops: number | null
    tflopsSource: string
    tflopsConfidence: Confidence
  } | null

  constructor(input: PlanInput, observations: ObservationIndex | null = null) {
    const {job} = input
    const options = input.options ?? {}
    this.job = job
    this.objective = options.objective ?? job.objective
    this.top = Math.max(1, Math.floor(options.top ?? DEFAULT_TOP))
    this.safetyMargin = Math.max(0, options.safetyMargin ?? DEFAULT_SAFETY_MARGIN)
    this.now = input.now
    this.nowMs = input.now.getTime()
    this.cnyPerUsd = input.fx.cnyPerUsd
    const {asOf, source} = input.fx
    this.fxNote = `${input.fx.cnyPerUsd} CNY per USD${asOf ? ` of ${asOf}` : ''}${source ? ` (${source})` : ''}`
    this.resolve = input.accelerators

    if (job.deadline === null) {
      this.hoursToDeadline = Number.POSITIVE_INFINITY
      this.allowedHours = Number.POSITIVE_INFINITY
    } else {
      this.hoursToDeadline = (Date.parse(job.deadline) - this.nowMs) / 3_600_000
      this.allowedHours = this.hoursToDeadline / (1 + this.safetyMargin)
      this.note(
        `deadline ${job.deadline}: candidates must finish within ${fmt(this.allowedHours)} h (${fmt(this.hoursToDeadline)} h left less a ${Math.round(this.safetyMargin * 100)}% safety margin)`,
      )
    }
    this.budgetUsd = job.budget === null ? Number.POSITIVE_INFINITY : this.usd(job.budget)
    this.maxPriceUsd = job.maxPrice === null ? Number.POSITIVE_INFINITY : this.usd(job.maxPrice)
    this.wantSpot = job.spot !== 'on-demand'
    this.wantOnDemand = job.spot !== 'spot'
    const own = [job.budget ? 'budget' : '', job.maxPrice ? 'max_price' : ''].filter(Boolean)
    this.priceLimits = [
      ...(own.length > 0 ? [`the job's ${own.join(' and ')}`] : []),
      ...(input.outsidePriceLimit ? [input.outsidePriceLimit] : []),
    ]
    this.needPrice = this.priceLimits.length > 0
    this.cpuJob = job.resources.accelerators.length === 0
    this.openAuto = job.resources.auto !== undefined && job.resources.auto.choice === null && !this.cpuJob
    this.enabled = input.enabledProviders
    this.adapters = input.adapters ?? null
    this.maxNodes = input.maxNodes ?? null
    this.containerProviders = job.container ? (input.containerProviders ?? null) : null
    this.containerReasons = input.containerReasons ?? new Map()
    this.jobStore = input.jobStore ?? job.checkpoint.store !== null
    this.providerAllow = job.placement.providers.allow === null ? null : new Set(job.placement.providers.allow)
    this.providerDeny = new Set(job.placement.providers.deny)
    const allow = job.placement.regions.allow
    this.regionAllowBare = allow === null ? null : new Set()
    this.regionAllowScoped = allow === null ? null : new Map()
    this.regionDenyBare = new Set()
    this.regionDenyScoped = new Map()
    for (const entry of allow ?? []) addRegion(entry, this.regionAllowBare!, this.regionAllowScoped!)
    for (const entry of job.placement.regions.deny) addRegion(entry, this.regionDenyBare, this.regionDenyScoped)
    this.hasRegionRules = allow !== null || job.placement.regions.deny.length > 0

    this.blockedByProvider = new Map()
    for (const b of input.blocked ?? []) {
      const list = this.blockedByProvider.get(b.provider)
      if (list) list.push(b)
      else this.blockedByProvider.set(b.provider, [b])
    }
    this.observations =
      observations ?? (input.observations && input.observations.length > 0 ? new ObservationIndex(input.observations, input.now) : null)
    this.queueEstimates = input.queueEstimates && input.queueEstimates.size > 0 ? input.queueEstimates : null

    if (job.work === null) {
      this.workHours = DEFAULT_WORK_HOURS
      this.workKnown = false
      this.note(
        `the job gives no work estimate: every candidate is assumed to run ${DEFAULT_WORK_HOURS} h (low confidence); add work.hours and work.reference to compare accelerators by work done`,
      )
    } else {
      this.workHours = job.work.hours
      this.workKnown = true
    }
    this.reference = this.resolveReference()
    this.checkpointHours =
      job.checkpoint.intervalSeconds !== null && job.checkpoint.intervalSeconds > 0 ? job.checkpoint.intervalSeconds / 3600 : null

    const devices = this.cpuJob ? 1 : Math.max(1, job.resources.accelerators[0].count.min) * Math.max(1, job.nodes)
    if (options.valueOfTimeUsdPerHour !== undefined) {
      this.valueOfTimeUsdPerHour = options.valueOfTimeUsdPerHour
    } else if (job.budget !== null && job.deadline !== null && this.hoursToDeadline > 0) {
      this.valueOfTimeUsdPerHour = this.budgetUsd / this.hoursToDeadline
    } else {
      this.valueOfTimeUsdPerHour = DEFAULT_VALUE_OF_TIME_USD_PER_DEVICE_HOUR * devices
    }
    if (this.objective === 'balanced') {
      this.note(`balanced objective: expected cost + ${fmt(this.valueOfTimeUsdPerHour)} USD per hour of expected finish time`)
    }
    this.interconnect = job.nodes > 1 ? (job.resources.interconnect ?? 'preferred') : 'any'
    if (this.interconnect === 'required') {
      this.note(
        `resources.interconnect is required: only offers with a documented inter-node fabric (EFA, InfiniBand, RoCE, GPUDirect-TCPX, HCCS) can run the ${job.nodes}-node gang`,
      )
    }
    if (job.resources.diskGB !== null) {
      this.note(`disk ${job.resources.diskGB} GB is not checked against offers: cloud disks are sized at launch`)
    }
  }

  /** Adds an assumption once. */
  note(text: string): void {
    if (this.noted.has(text)) return
    this.noted.add(text)
    this.assumptions.push(text)
  }

  usd(money: Money): number {
    return money.currency === 'USD' ? money.amount : money.amount / this.cnyPerUsd
  }

  toUsd(amount: number, currency: Money['currency']): number {
    return currency === 'USD' ? amount : amount / this.cnyPerUsd
  }

  fromUsd(amountUsd: number, currency: Money['currency']): number {
    return currency === 'USD' ? amountUsd : amountUsd * this.cnyPerUsd
  }

  /** The job's own placement first: a provider it keeps out is not "disabled" as far as it is concerned. */
  providerReason(provider: string): ExclusionReason | null {
    if (this.providerDeny.has(provider)) return 'provider-not-allowed'
    if (this.providerAllow !== null && !this.providerAllow.has(provider)) return 'provider-not-allowed'
    // Before "enabled": --all-providers plans across providers without credentials here, never
    // across ones nothing can be launched on (issue 21).
    if (this.adapters !== null && !this.adapters.has(provider)) return 'no-adapter'
    if (this.enabled !== null && !this.enabled.has(provider)) return 'provider-disabled'
    return null
  }

  regionAllowed(provider: string, region: string): boolean {
    if (!this.hasRegionRules) return true
    if (this.regionDenyBare.has(region) || this.regionDenyScoped.get(provider)?.has(region)) return false
    if (this.regionAllowBare === null) return true
    return this.regionAllowBare.has(region) || this.regionAllowScoped!.get(provider)?.has(region) === true
  }

  /** The first block that covers this offer on this market (null market = both). */
  blockedBy(offer: Offer, market: 'spot' | 'on-demand' | null): BlockedScope | null {
    const list = this.blockedByProvider.get(offer.provider)
    if (list === undefined) return null
    for (const b of list) {
      if ((b.market ?? null) !== market) continue
      if (b.region != null && b.region !== offer.region) continue
      if (b.zone != null && b.zone !== offer.zone) continue
      if (b.instanceType != null && b.instanceType !== offer.instanceType) continue
      return b
    }
    return null
  }

  group(name: string): AcceleratorGroup {
    let g = this.groups.get(name)
    if (g === undefined) {
      g = this.judge(name)
      this.groups.set(name, g)
    }
    return g
  }

  /** Egress for the job's data to reach this provider and region (cached per pair). */
  egressTo(provider: string, region: string): Egress {
    if (this.job.data.length === 0) return NO_EGRESS
    let byRegion = this.egress.get(provider)
    if (byRegion === undefined) this.egress.set(provider, (byRegion = new Map()))
    let e = byRegion.get(region)
    if (e === undefined) {
      e = this.computeEgress(provider, region)
      byRegion.set(region, e)
    }
    return e
  }

  private computeEgress(provider: string, region: string): Egress {
    let costUsd = 0
    let hours = 0
    let confidence: Confidence = 'high'
    const parts: string[] = []
    for (const d of this.job.data) {
      if (d.sizeGB <= 0) continue
      const sameProvider = d.provider === provider
      if (sameProvider && (d.region === null || d.region === region)) continue
      const table = EGRESS_PER_GB[d.provider] ?? EGRESS_DEFAULT
      const perGB = sameProvider ? table.interRegion : table.internet
      costUsd += this.toUsd(perGB * d.sizeGB, table.currency)
      hours += (d.sizeGB * 8) / (sameProvider ? TRANSFER_GBPS.interRegion : TRANSFER_GBPS.internet) / 3600
      confidence = lower(confidence, table.confidence)
      parts.push(
        `${d.sizeGB} GB from ${d.provider}${d.region ? '/' + d.region : ''} at ${perGB} ${table.currency}/GB ${sameProvider ? 'inter-region' : 'internet'}`,
      )
    }
    if (parts.length === 0) return NO_EGRESS
    return {
      costUsd,
      hours,
      source: `egress table (priors.ts): ${parts.join('; ')}; transfer at ${TRANSFER_GBPS.interRegion} Gbps inter-region, ${TRANSFER_GBPS.internet} Gbps internet`,
      confidence,
    }
  }

  private resolveReference(): JobContext['reference'] {
    const {job} = this
    if (job.work === null || this.cpuJob) return null
    let ref = job.work.reference
    if (ref === null) {
      const first = job.resources.accelerators[0]
      if (first.names !== null && first.names.length === 1) {
        ref = {name: first.names[0], count: first.count.min}
        this.note(`work.hours is taken to be measured on the first requested configuration, ${ref.name}:${ref.count}`)
      } else {
        this.note('work.hours has no reference configuration: it is used as-is on every candidate (no throughput scaling)')
        return null
      }
    }
    const acc = this.resolve(ref.name)
    const table = job.throughput?.[ref.name] ?? null
    if (job.throughput !== null && table === null) {
      this.note(`the throughput table has no entry for the reference ${ref.name}: dense BF16/FP16 TFLOPS are used instead`)
    }
    const tf = acc?.denseTflops16
    return {
      name: ref.name,
      count: ref.count,
      table,
      tflops: tf?.value ?? null,
      tflopsSource: tf?.source ?? 'unknown',
      tflopsConfidence: tf?.confidence ?? 'low',
    }
  }

  private judge(name: string): AcceleratorGroup {
    const acc = name === '' ? undefined : this.resolve(name)
    const g: AcceleratorGroup = {
      name,
      acc,
      reason: null,
      throughputUnknown: false,
      alternatives: [],
      perDevice: Number.NaN,
      referenceTotal: Number.NaN,
      runSource: '',
      runConfidence: 'low',
      efficiency: new Map(),
    }
    const requests = this.job.resources.accelerators
    if (this.cpuJob) {
      if (name !== '') g.reason = 'accelerator-not-requested'
      else this.setUnscaled(g)
      return g
    }
    if (name === '') {
      const runtimes = this.job.resources.runtimes
      if (!this.openAuto) g.reason = 'accelerator-mismatch'
      else if (runtimes !== null && !runtimes.includes('cpu')) g.reason = 'runtime-mismatch'
      else this.setUnscaled(g)
      return g
    }
    // Of the alternatives that reject it, report the one that came closest.
    let best: ExclusionReason = 'accelerator-mismatch'
    let bestRank = -1
    for (let i = 0; i < requests.length; i++) {
      const why = this.rejects(requests[i], name, acc)
      if (why === null) g.alternatives.push(i)
      else if ((REJECT_RANK[why] ?? 0) > bestRank) {
        best = why
        bestRank = REJECT_RANK[why] ?? 0
      }
    }
    if (g.alternatives.length === 0) {
      g.reason = best
      return g
    }
    this.setThroughput(g)
    return g
  }

  private rejects(req: AcceleratorRequest, name: string, acc: Accelerator | undefined): ExclusionReason | null {
    if (req.names !== null && !req.names.includes(name)) return 'accelerator-mismatch'
    if (req.vendors !== null) {
      if (acc === undefined) return 'accelerator-unknown'
      if (!req.vendors.includes(acc.vendor)) return 'accelerator-mismatch'
    }
    if (req.memoryGB !== null) {
      const mem = acc?.memoryGB.value ?? null
      if (mem === null) return 'accelerator-unknown'
      if ((req.memoryGB.min !== undefined && mem < req.memoryGB.min) || (req.memoryGB.max !== undefined && mem > req.memoryGB.max))
        return 'accelerator-memory'
    }
    const runtimes = this.job.resources.runtimes
    if (runtimes !== null) {
      if (acc === undefined) return 'accelerator-unknown'
      if (!runtimes.includes(acc.runtime)) return 'runtime-mismatch'
    }
    return null
  }

  private setUnscaled(g: AcceleratorGroup): void {
    g.perDevice = 1
    g.referenceTotal = 1
    g.runSource = this.workKnown ? 'job work.hours, not scaled' : `assumed ${DEFAULT_WORK_HOURS} h (no work given)`
    g.runConfidence = this.workKnown ? 'medium' : 'low'
  }

  private setThroughput(g: AcceleratorGroup): void {
    const ref = this.reference
    if (ref === null) {
      this.setUnscaled(g)
      return
    }
    const refNodes = Math.max(1, Math.ceil(ref.count / REFERENCE_DEVICES_PER_NODE))
    const refEff = ref.count * scalingEfficiency(ref.count / refNodes, refNodes)
    const table = this.job.throughput?.[g.name] ?? null
    if (ref.table !== null && table !== null) {
      g.perDevice = table
      g.referenceTotal = ref.table * refEff
      g.runSource = `job throughput table: ${g.name} ${table} vs ${ref.name} ${ref.table} per device`
      g.runConfidence = 'high'
      return
    }
    const tf = g.acc?.denseTflops16
    if (tf?.value == null || ref.tflops === null) {
      g.throughputUnknown = true
      return
    }
    g.perDevice = tf.value
    g.referenceTotal = ref.tflops * refEff
    g.runSource = `dense BF16/FP16 TFLOPS: ${g.name} ${tf.value} (${tf.source ?? 'registry'}) vs ${ref.name} ${ref.tflops}`
    g.runConfidence = g.name === ref.name ? 'high' : lower(lower(tf.confidence ?? 'low', ref.tflopsConfidence), 'medium')
  }

  /**
   * Whether a gang on this offer and market is estimated on a slow fabric: the job prefers a
   * fabric (the default for nodes > 1) and the offer is a cloud's without a documented fast
   * one, or one its adapter does not set up on this market (gangFabric). Slurm,
   * Kubernetes and local offers rarely say; a missing fabric is not held against them, an
   * `ethernet` one given in a catalog file is.
   */
  slowFabric(offer: Offer, kind: ProviderKind, spot: boolean): boolean {
    if (this.interconnect !== 'preferred') return false
    const fabric = gangFabric(offer, spot)
    if (fabric === undefined) return kind === 'cloud'
    return !isFastFabric(fabric)
  }

  /** The plan's assumption line for the slow-fabric penalty, added the first time it is applied. */
  noteSlowFabric(): void {
    if (this.slowFabricNoted) return
    this.slowFabricNoted = true
    this.note(
      `${this.job.nodes}-node gang: where the nodes have no documented fast fabric (EFA, InfiniBand, RoCE, GPUDirect-TCPX, HCCS: a cloud offer that says nothing, or any offer that says ethernet) each doubling of nodes keeps ${Math.round(SLOW_FABRIC_EFFICIENCY_PER_DOUBLING * 100)}% of linear speed-up instead of ${Math.round(INTER_NODE_EFFICIENCY_PER_DOUBLING * 100)}% (TCP all-reduce; priors.ts SLOW_FABRIC_EFFICIENCY_PER_DOUBLING); set resources.interconnect to required or any to change this`,
    )
  }

  /** Run hours on `count` devices per node of this group, across job.nodes nodes (`slowFabric`: see slowFabric()). */
  runHours(g: AcceleratorGroup, countPerNode: number, slowFabric = false): number {
    if (g.referenceTotal === 1 && g.perDevice === 1) return this.workHours
    if (slowFabric) this.noteSlowFabric()
    const key = slowFabric ? -countPerNode : countPerNode
    let eff = g.efficiency.get(key)
    if (eff === undefined) {
      const nodes = Math.max(1, this.job.nodes)
      const perDoubling = slowFabric ? SLOW_FABRIC_EFFICIENCY_PER_DOUBLING : INTER_NODE_EFFICIENCY_PER_DOUBLING
      eff = countPerNode * nodes * scalingEfficiency(countPerNode, nodes, perDoubling)
      g.efficiency.set(key, eff)
    }
    return (this.workHours * g.referenceTotal) / (g.perDevice * eff)
  }
}

const REJECT_RANK: Partial<Record<ExclusionReason, number>> = {
  'accelerator-mismatch': 0,
  'accelerator-unknown': 1,
  'accelerator-memory': 2,
  'runtime-mismatch': 3,
}

function addRegion(entry: string, bare: Set<string>, scoped: Map<string, Set<string>>): void {
  const slash = entry.indexOf('/')
  if (slash < 0) {
    bare.add(entry)
    return
  }
  const provider = entry.slice(0, slash)
  const region = entry.slice(slash + 1)
  const set = scoped.get(provider)
  if (set) set.add(region)
  else scoped.set(provider, new Set([region]))
}

const ORDER: Record<Confidence, number> = {low: 0, medium: 1, high: 2}
export function lower(a: Confidence, b: Confidence): Confidence {
  return ORDER[a] <= ORDER[b] ? a : b
}

export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n)
  return Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2)
}

export type {Observation}
