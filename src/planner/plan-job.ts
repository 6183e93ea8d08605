// planJob: one job against the catalog. Feasibility first (each exclusion counted under
// a reason), then estimates and the objective for what is left, kept in a bounded heap
// so a million offers cost one pass and a few hundred small allocations.
//
// Decisions worth knowing (the numbers behind them are in priors.ts):
// - Unknown price: the on-demand market of an offer with priceStatus `unknown` exists at an
//   unknown price. It is a candidate (its cost null, never 0) unless a budget or max_price
//   is set, which it cannot be checked against: then it is excluded as `price-unknown`.
//   The cost and balanced objectives rank it after every priced candidate; when it is
//   chosen, the plan's assumptions say its cost is unknown and how to learn it. Its spot
//   market is never assumed.
// - Unknown throughput: with a work estimate, an accelerator that has neither dense
//   BF16/FP16 TFLOPS nor an entry in the job's throughput table is excluded as
//   `throughput-unknown` (its run time would be a guess). Without a work estimate every
//   candidate runs the 1 h assumption, flagged low confidence, and nothing is excluded.
// - Hard limits hold for every objective: deadline (expected finish × (1 + margin)), budget,
//   max_price. Spot must also meet the deadline at its p95 preemption count, else
//   `deadline-risk` (the plan falls back to on-demand), and must expect no more
//   preemptions than recovery.max_restarts, else `spot-unviable`.
// - Exclusion counts are per offer, except for market-level reasons (no-market, price,
//   blocked market, spot-unviable, deadline, budget), which count offer × market.
//
// Hot-loop rules: per-accelerator judgements are cached (JobContext.group); numbers for
// a candidate go into one reused scratch record, which is copied only when it enters the
// top-K heap; candidate objects with their estimate details are built for the final K.
import {type Confidence, type Offer, gangFabric, isFastFabric} from '../model/catalog.js'
import {type AcceleratorGroup, type Egress, JobContext, fmt} from './plan-context.js'
import {type SpotOverhead, poissonQuantile, spotOverhead} from './estimate.js'
import {byRelevance, describeExclusion} from './explain.js'
import {ExclusionCollector} from './exclusions.js'
import {mountUnsupported, transfersUnsupported} from './mounts.js'
import {isOfferIndex, offerKey, offerRoom} from './offer-index.js'
import {
  PESSIMISTIC_QUANTILE,
  PREEMPTION_PRIOR_PER_HOUR,
  PREEMPTION_PRIOR_SOURCE,
  type ProviderKind,
  QUEUE_PRIOR_MINUTES,
  SLOW_FABRIC_EFFICIENCY_PER_DOUBLING,
  providerKind,
} from './priors.js'
import type {Candidate, OfferIndex, Plan, PlanInput} from './types.js'

const SPOT_SCRATCH: SpotOverhead = {preemptions: 0, perPreemptionHours: 0, overheadHours: 0, billedOverheadHours: 0, viable: true}

/** The numbers of one feasible candidate (offer × market), before it becomes a Candidate. */
export interface Scored {
  offer: Offer
  spot: boolean
  alt: number
  group: AcceleratorGroup
  /** Per node per hour in the offer's currency; NaN when unknown. */
  priceNode: number
  /** All nodes, per hour, USD; NaN when unknown. */
  hourlyUsd: number
  queueHours: number
  queueSource: string
  queueConfidence: Confidence
  runHours: number
  ratePerHour: number
  rateSource: string
  rateConfidence: Confidence
  preemptions: number
  overheadHours: number
  billedOverheadHours: number
  egress: Egress
  computeUsd: number
  /** NaN when the price is unknown. */
  costUsd: number
  finishHours: number
  pessimisticFinishHours: number
  /** What the objective minimises. */
  primary: number
  /** Tie-break. */
  secondary: number
  key: string | null
}

export interface Ranked {
  ctx: JobContext
  /** Best first. */
  scored: Scored[]
  feasibleCount: number
  offersConsidered: number
  exclusions: ExclusionCollector
}

export function planJob(input: PlanInput): Plan {
  const ctx = new JobContext(input)
  const ranked = rankOffers(ctx, input.offers, ctx.top)
  return toPlan(ranked)
}

export function toPlan(ranked: Ranked): Plan {
  const {ctx} = ranked
  const candidates = ranked.scored.map((s, i) => materialize(ctx, s, i + 1))
  const chosen = candidates[0]
  if (chosen !== undefined && chosen.estimatedCostUsd === null) {
    ctx.note(
      `the chosen offer (${chosen.provider} ${chosen.instanceType}) has no known price, so its cost is unknown${ctx.objective === 'time' ? '' : ': no offer with a known price can run the job'}; ` +
        `to know it, refresh the catalog with ${chosen.provider} credentials (skyhop catalog refresh) or give its price in a price sheet (--catalog FILE, or catalog.merge in the config)`,
    )
  }
  return {
    job: ctx.job.name,
    objective: ctx.objective,
    now: ctx.now.toISOString(),
    chosen: candidates[0] ?? null,
    candidates,
    feasibleCount: ranked.feasibleCount,
    offersConsidered: ranked.offersConsidered,
    excluded: byRelevance(
      ctx,
      ranked.exclusions.toGroups((reason, subject, example, spot, detail) =>
        describeExclusion(ctx, reason, subject, example, spot, detail),
      ),
    ),
    assumptions: ctx.assumptions,
  }
}

/**
 * Scans the offers for one job and keeps the best `top` candidates, best first.
 * `unavailable`, when given, drops offers a caller has used up (a sweep's full offers) as
 * `capacity` before anything is estimated for them.
 */
export function rankOffers(
  ctx: JobContext,
  offers: readonly Offer[] | OfferIndex,
  top: number,
  unavailable?: (offer: Offer) => boolean,
): Ranked {
  const exclusions = new ExclusionCollector()
  const heap = new TopK(top, comparator(ctx))
  const scratch = newScratch()
  let feasible = 0

  const visit = (offer: Offer, g: AcceleratorGroup): void => {
    // Accelerator count for this offer, against the alternatives the name passed.
    let alt = -1
    // A CPU-only offer reaches here for an accelerator job only under an open `auto` (judge).
    if (!ctx.cpuJob && offer.accelerator !== null) {
      const count = offer.accelerator!.count
      const requests = ctx.job.resources.accelerators
      for (let i = 0; i < g.alternatives.length; i++) {
        const r = requests[g.alternatives[i]]
        if (count >= r.count.min && count <= r.count.max) {
          alt = g.alternatives[i]
          break
        }
      }
      if (alt < 0) return exclusions.add('accelerator-count', g.name, '', offer, null, count)
      if (g.throughputUnknown) return exclusions.add('throughput-unknown', g.name, '', offer, null)
    }
    if (unavailable !== undefined && unavailable(offer)) return exclusions.add('capacity', offer.provider, offer.region, offer, null, 0)
    const providerWhy = ctx.providerReason(offer.provider)
    if (providerWhy !== null) return exclusions.add(providerWhy, offer.provider, '', offer, null)
    if (!ctx.regionAllowed(offer.provider, offer.region))
      return exclusions.add('region-not-allowed', offer.provider, offer.region, offer, null)
    const nodes = Math.max(1, ctx.job.nodes)
    const kind = providerKind(offer.provider)
    // A gang needs a backend that launches all its nodes at once (Provider.maxNodes) and an
    // offer that holds them (the local machine's ranks).
    const backendMax = ctx.maxNodes?.get(offer.provider) ?? Infinity
    const maxNodes = Math.min(offer.maxNodes ?? Infinity, backendMax)
    if (nodes > maxNodes) {
      // Grouped by region when the offer is what is too small (a partition, this machine), so
      // the reason can say so instead of blaming the backend.
      const where = maxNodes < backendMax ? offer.region : ''
      return exclusions.add('multi-node-unsupported', offer.provider, where, offer, null, maxNodes)
    }
    // A gang that requires a fabric runs only where one is documented and the adapter sets it
    // up on some market (gangFabric; a market without it is left out below); grouped by
    // provider and instance type, since the fabric is a property of the shape.
    if (ctx.interconnect === 'required' && !isFastFabric(gangFabric(offer, false)) && !isFastFabric(gangFabric(offer, true)))
      return exclusions.add('interconnect', offer.provider, offer.instanceType, offer, null)
    if (ctx.containerProviders !== null && !ctx.containerProviders.has(offer.provider))
      return exclusions.add('container-unsupported', offer.provider, '', offer, null)
    // A bucket mount authenticates with the instance's own role, which only its own cloud's instances have.
    if (transfersUnsupported(ctx.job, kind, ctx.jobStore)) return exclusions.add('files-unsupported', offer.provider, '', offer, null)
    if (mountUnsupported(ctx.job, offer.provider) !== null) return exclusions.add('mount-unsupported', offer.provider, '', offer, null)
    const room = offerRoom(offer)
    if (room !== null && room < nodes) return exclusions.add('capacity', offer.provider, offer.region, offer, null, room)
    if (ctx.blockedByProvider.size > 0 && ctx.blockedBy(offer, null) !== null)
      return exclusions.add('blocked', offer.provider, offer.region, offer, null)
    // An allocator (local, Slurm, Kubernetes) gives the job exactly what it asks for out of
    // a bigger machine, so "exactly N" means "at least N" there. A catalog figure of 0 means
    // unknown and is not held against the offer.
    const allocates = kind !== 'cloud'
    const cpus = ctx.job.resources.cpus
    if (cpus !== null && offer.vcpus > 0 && (cpus.atLeast || allocates ? offer.vcpus < cpus.value : offer.vcpus !== cpus.value)) {
      return exclusions.add('cpus', offer.provider, '', offer, null, offer.vcpus)
    }
    const mem = ctx.job.resources.memoryGB
    if (mem !== null && offer.memoryGiB > 0 && !memoryFits(mem.value, mem.atLeast || allocates, offer.memoryGiB)) {
      return exclusions.add('memory', offer.provider, '', offer, null, offer.memoryGiB)
    }

    for (let m = 0; m < 2; m++) {
      const spot = m === 1
      if (spot ? !ctx.wantSpot : !ctx.wantOnDemand) continue
      // The shape has a fabric (checked above) that a gang of this cloud does not get on this
      // market: its adapter does not set it up (gangFabric).
      if (ctx.interconnect === 'required' && !isFastFabric(gangFabric(offer, spot))) {
        exclusions.add('interconnect', offer.provider, offer.instanceType, offer, spot)
        continue
      }
      if (evaluate(ctx, offer, g, alt, spot, nodes, kind, scratch, exclusions)) {
        feasible++
        heap.offer(scratch)
      }
    }
  }

  let offersConsidered = 0
  if (isOfferIndex(offers)) {
    offersConsidered = offers.size
    for (const [name, size] of offers.groupSizes()) {
      const g = ctx.group(name)
      if (g.reason !== null) {
        // A rejected group is counted, never decoded: one example stands for all of it.
        exclusions.add(g.reason, name === '' ? 'cpu-only' : name, '', offers.first(name), null, 0, size)
        continue
      }
      const list = offers.group(name)
      for (let i = 0; i < list.length; i++) visit(list[i], g)
    }
  } else {
    offersConsidered = offers.length
    let lastName: string | null = null
    let lastGroup: AcceleratorGroup | null = null
    for (let i = 0; i < offers.length; i++) {
      const offer = offers[i]
      const name = offer.accelerator === null ? '' : offer.accelerator.name
      const g: AcceleratorGroup = name === lastName && lastGroup !== null ? lastGroup : ctx.group(name)
      lastName = name
      lastGroup = g
      if (g.reason !== null) {
        exclusions.add(g.reason, name === '' ? 'cpu-only' : name, '', offer, null)
        continue
      }
      visit(offer, g)
    }
  }
  return {ctx, scored: heap.sorted(), feasibleCount: feasible, offersConsidered, exclusions}
}

/**
 * Fills `out` with the estimates of one offer on one market and returns true when the
 * candidate passes every remaining hard limit; otherwise records why and returns false.
 */
function evaluate(
  ctx: JobContext,
  offer: Offer,
  g: AcceleratorGroup,
  alt: number,
  spot: boolean,
  nodes: number,
  kind: ProviderKind,
  out: Scored,
  exclusions: ExclusionCollector,
): boolean {
  const market = spot ? 'spot' : 'on-demand'
  let priceNode = spot ? offer.price.spot : offer.price.onDemand
  if (priceNode === null) {
    // An unknown price means the market exists but nobody published its price; the spot
    // market of such an offer is not assumed to exist.
    if (offer.priceStatus !== 'unknown' || spot) {
      exclusions.add('no-market', market, offer.provider, offer, spot)
      return false
    }
    if (ctx.needPrice) {
      exclusions.add('price-unknown', offer.provider, '', offer, spot)
      return false
    }
    priceNode = Number.NaN
  }
  const priceNodeUsd = ctx.toUsd(priceNode, offer.price.currency)
  if (priceNodeUsd > ctx.maxPriceUsd) {
    exclusions.add('max-price', offer.provider, '', offer, spot, priceNodeUsd)
    return false
  }
  if (ctx.blockedByProvider.size > 0 && ctx.blockedBy(offer, market) !== null) {
    exclusions.add('blocked', offer.provider, offer.region, offer, spot)
    return false
  }

  const accName = g.name
  // Queue: the provider's own estimate > our observations > the catalog > a prior.
  const prior = spot ? QUEUE_PRIOR_MINUTES[kind].spot : QUEUE_PRIOR_MINUTES[kind].onDemand
  const fallbackMinutes = offer.expectedQueueMinutes ?? prior
  let queueMinutes = fallbackMinutes
  let queueSource = offer.expectedQueueMinutes === null ? `prior: ${kind} ${market} (priors.ts)` : 'catalog: offer.expectedQueueMinutes'
  let queueConfidence: Confidence = offer.expectedQueueMinutes === null ? 'low' : 'medium'
  const provided = ctx.queueEstimates === null ? undefined : ctx.queueEstimates.get(offerKey(offer))
  if (provided !== undefined) {
    queueMinutes = provided.minutes
    queueSource = `provider: ${provided.source}`
    queueConfidence = provided.confidence
  } else if (ctx.observations !== null) {
    const o = ctx.observations.queue(offer.provider, offer.region, accName, spot, fallbackMinutes)
    if (o !== null) {
      queueMinutes = o.minutes
      queueSource = o.source
      queueConfidence = o.confidence
    }
  }
  const queueHours = queueMinutes / 60
  const runHours = ctx.runHours(g, offer.accelerator === null ? 1 : offer.accelerator.count, nodes > 1 && ctx.slowFabric(offer, kind, spot))

  // Spot risk: observations (with enough exposure) > the catalog's rate > the prior.
  let rate = 0
  let rateSource = 'on-demand: not preempted'
  let rateConfidence: Confidence = 'high'
  let preemptions = 0
  let overheadHours = 0
  let billedOverheadHours = 0
  let pessimisticOverhead = 0
  if (spot) {
    const observed = ctx.observations === null ? null : ctx.observations.preemptionRate(offer.provider, offer.region, accName)
    if (observed !== null) {
      rate = observed.perHour
      rateSource = observed.source
      rateConfidence = observed.confidence
    } else if (offer.preemptionRatePerHour !== null) {
      rate = offer.preemptionRatePerHour
      rateSource = 'catalog: offer.preemptionRatePerHour'
      rateConfidence = 'medium'
    } else {
      rate = PREEMPTION_PRIOR_PER_HOUR
      rateSource = PREEMPTION_PRIOR_SOURCE
      rateConfidence = 'low'
    }
    // Each node can be taken back: the job stops when any node does.
    const so = spotOverhead(rate * nodes, runHours, queueHours, ctx.checkpointHours, SPOT_SCRATCH)
    if (!so.viable || so.preemptions > ctx.job.recovery.maxRestarts) {
      exclusions.add('spot-unviable', offer.provider, '', offer, spot, so.preemptions)
      return false
    }
    preemptions = so.preemptions
    overheadHours = so.overheadHours
    billedOverheadHours = so.billedOverheadHours
    // Only a deadline needs the pessimistic finish; the quantile is a loop, skip it otherwise.
    pessimisticOverhead = Number.isFinite(ctx.allowedHours)
      ? poissonQuantile(so.preemptions, PESSIMISTIC_QUANTILE) * so.perPreemptionHours
      : overheadHours
  }

  const egress = ctx.egressTo(offer.provider, offer.region)
  const finishHours = queueHours + egress.hours + runHours + overheadHours
  if (finishHours > ctx.allowedHours) {
    exclusions.add('deadline', offer.provider, '', offer, spot, finishHours)
    return false
  }
  const pessimisticFinishHours = queueHours + egress.hours + runHours + pessimisticOverhead
  if (spot && pessimisticFinishHours > ctx.allowedHours) {
    exclusions.add('deadline-risk', offer.provider, '', offer, spot, pessimisticFinishHours)
    return false
  }
  const hourlyUsd = priceNodeUsd * nodes
  // Paid: staging the data on the instance, the run, and what preemptions make us redo.
  const computeUsd = hourlyUsd * (egress.hours + runHours + billedOverheadHours)
  const costUsd = computeUsd + egress.costUsd
  if (costUsd > ctx.budgetUsd) {
    exclusions.add('budget', offer.provider, '', offer, spot, costUsd)
    return false
  }

  out.offer = offer
  out.spot = spot
  out.alt = alt
  out.group = g
  out.priceNode = priceNode
  out.hourlyUsd = hourlyUsd
  out.queueHours = queueHours
  out.queueSource = queueSource
  out.queueConfidence = queueConfidence
  out.runHours = runHours
  out.ratePerHour = rate
  out.rateSource = rateSource
  out.rateConfidence = rateConfidence
  out.preemptions = preemptions
  out.overheadHours = overheadHours
  out.billedOverheadHours = billedOverheadHours
  out.egress = egress
  out.computeUsd = computeUsd
  out.costUsd = costUsd
  out.finishHours = finishHours
  out.pessimisticFinishHours = pessimisticFinishHours
  out.key = null
  const cost = Number.isNaN(costUsd) ? Number.POSITIVE_INFINITY : costUsd
  switch (ctx.objective) {
    case 'cost':
      out.primary = cost
      out.secondary = finishHours
      break
    case 'time':
      out.primary = finishHours
      out.secondary = cost
      break
    case 'balanced':
      out.primary = cost + ctx.valueOfTimeUsdPerHour * finishHours
      out.secondary = finishHours
      break
  }
  return true
}

/** The job's memory is in decimal GB, the catalog's in GiB; "exactly 32GB" accepts a 32 GiB machine. */
function memoryFits(jobGB: number, atLeast: boolean, offerGiB: number): boolean {
  const offerGB = offerGiB * 1.073741824
  if (atLeast) return offerGB >= jobGB * 0.999
  return Math.abs(offerGiB - jobGB) <= jobGB * 0.01 || Math.abs(offerGB - jobGB) <= jobGB * 0.01
}

export function candidateKey(s: Scored): string {
  if (s.key === null) s.key = offerKey(s.offer) + (s.spot ? '#spot' : '#on-demand')
  return s.key
}

export type Compare = (a: Scored, b: Scored) => number

/** Negative when `a` ranks before `b`. Ordered alternatives come first by their index. */
export function comparator(ctx: JobContext): Compare {
  const ordered = ctx.job.resources.acceleratorOrder === 'ordered'
  const preferFabric = ctx.interconnect === 'preferred'
  return (a, b) => {
    if (ordered && a.alt !== b.alt) return a.alt - b.alt
    if (a.primary !== b.primary) return a.primary < b.primary ? -1 : 1
    if (a.secondary !== b.secondary) return a.secondary < b.secondary ? -1 : 1
    // A gang that prefers a fabric takes the offer that has one when all else is equal (also
    // when nothing scales: without a work estimate every candidate runs the same assumed hour).
    if (preferFabric) {
      const fa = isFastFabric(gangFabric(a.offer, a.spot))
      if (fa !== isFastFabric(gangFabric(b.offer, b.spot))) return fa ? -1 : 1
    }
    const ka = candidateKey(a)
    const kb = candidateKey(b)
    return ka < kb ? -1 : ka > kb ? 1 : 0
  }
}

/** Keeps the best k records: a max-heap on "worse", the worst kept at the root. */
export class TopK {
  private readonly items: Scored[] = []
  constructor(
    private readonly k: number,
    private readonly compare: Compare,
  ) {}

  offer(s: Scored): void {
    const items = this.items
    if (items.length < this.k) {
      items.push({...s})
      this.up(items.length - 1)
    } else if (this.compare(s, items[0]) < 0) {
      items[0] = {...s}
      this.down(0)
    }
  }

  sorted(): Scored[] {
    return [...this.items].sort(this.compare)
  }

  private up(i: number): void {
    const items = this.items
    while (i > 0) {
      const p = (i - 1) >> 1
      if (this.compare(items[i], items[p]) <= 0) break
      ;[items[i], items[p]] = [items[p], items[i]]
      i = p
    }
  }

  private down(i: number): void {
    const items = this.items
    const n = items.length
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let worst = i
      if (l < n && this.compare(items[l], items[worst]) > 0) worst = l
      if (r < n && this.compare(items[r], items[worst]) > 0) worst = r
      if (worst === i) return
      ;[items[i], items[worst]] = [items[worst], items[i]]
      i = worst
    }
  }
}

function newScratch(): Scored {
  return {
    offer: undefined as unknown as Offer,
    spot: false,
    alt: -1,
    group: undefined as unknown as AcceleratorGroup,
    priceNode: 0,
    hourlyUsd: 0,
    queueHours: 0,
    queueSource: '',
    queueConfidence: 'low',
    runHours: 0,
    ratePerHour: 0,
    rateSource: '',
    rateConfidence: 'low',
    preemptions: 0,
    overheadHours: 0,
    billedOverheadHours: 0,
    egress: undefined as unknown as Egress,
    computeUsd: 0,
    costUsd: 0,
    finishHours: 0,
    pessimisticFinishHours: 0,
    primary: 0,
    secondary: 0,
    key: null,
  }
}

const round = (n: number, digits = 4): number => {
  const f = 10 ** digits
  return Math.round(n * f) / f
}

/** Builds the JSON-safe candidate with its estimate details. */
export function materialize(ctx: JobContext, s: Scored, rank: number): Candidate {
  const {offer, group: g} = s
  const nodes = Math.max(1, ctx.job.nodes)
  const priceKnown = !Number.isNaN(s.priceNode)
  const currency = offer.price.currency
  const notes: string[] = []
  if (offer.priceStatus === 'estimate') {
    notes.push('price-estimated')
    ctx.note('prices marked "estimate" are not published list prices (see each candidate\'s priceStatus)')
  }
  if (!priceKnown) notes.push('price-unknown')
  if (g.runConfidence === 'low') notes.push('throughput-low-confidence')
  if (s.queueConfidence === 'low') notes.push('queue-prior')
  if (s.spot && ctx.checkpointHours === null) notes.push('no-checkpoint')
  if (currency !== 'USD') ctx.note(`prices in ${currency} are ranked in USD at ${ctx.fxNote}`)
  const finishAt = new Date(ctx.nowMs + s.finishHours * 3_600_000)
  // A gang's candidates say what their nodes talk over (null: nobody documented it): the
  // fabric the launch really sets up on this market (gangFabric).
  const fabric = gangFabric(offer, s.spot)
  const gang = nodes > 1 ? {interconnect: fabric ?? null} : {}
  const slow = nodes > 1 && ctx.slowFabric(offer, providerKind(offer.provider), s.spot)
  const runSource = slow
    ? `${g.runSource}; ${nodes}-node gang on ${fabric ? fabric.kind : 'undocumented'} networking: ${Math.round(SLOW_FABRIC_EFFICIENCY_PER_DOUBLING * 100)}% per doubling of nodes (priors.ts)`
    : g.runSource
  const preemptionDetail = s.spot
    ? `${fmt(s.ratePerHour)}/h × ${nodes} node(s) over ${fmt(s.runHours)} h; ${ctx.checkpointHours === null ? 'no checkpoints: a preemption loses everything since the start' : `checkpoint every ${fmt(ctx.checkpointHours)} h`} (${s.rateSource})`
    : s.rateSource
  return {
    rank,
    key: candidateKey(s),
    offerKey: offerKey(offer),
    provider: offer.provider,
    region: offer.region,
    zone: offer.zone,
    instanceType: offer.instanceType,
    accelerator: offer.accelerator === null ? null : {name: offer.accelerator.name, count: offer.accelerator.count},
    nodes,
    ...gang,
    spot: s.spot,
    alternative: s.alt,
    hourlyPrice: priceKnown ? {amount: round(s.priceNode * nodes), currency} : null,
    hourlyPriceUsd: priceKnown ? round(s.hourlyUsd) : null,
    priceStatus: offer.priceStatus,
    estimatedQueueHours: round(s.queueHours),
    estimatedRunHours: round(s.runHours),
    estimatedFinishHours: round(s.finishHours),
    estimatedFinishAt: Number.isFinite(finishAt.getTime()) ? finishAt.toISOString() : ctx.now.toISOString(),
    estimatedCostUsd: priceKnown ? round(s.costUsd) : null,
    estimatedCost: priceKnown ? {amount: round(ctx.fromUsd(s.costUsd, currency)), currency} : null,
    objectiveValue: round(s.primary),
    estimates: {
      runHours: {value: round(s.runHours), source: runSource, confidence: g.runConfidence},
      queueHours: {value: round(s.queueHours), source: s.queueSource, confidence: s.queueConfidence},
      preemptions: {value: round(s.preemptions), source: preemptionDetail, confidence: s.rateConfidence},
      preemptionOverheadHours: {
        value: round(s.overheadHours),
        source: s.spot
          ? `relaunch wait + restore + lost work per preemption${Number.isFinite(ctx.allowedHours) ? `; pessimistic (p95) finish ${fmt(s.pessimisticFinishHours)} h` : ''}`
          : 'on-demand: none',
        confidence: s.rateConfidence,
      },
      transferHours: {value: round(s.egress.hours), source: s.egress.source, confidence: s.egress.confidence},
      egressCostUsd: {value: round(s.egress.costUsd), source: s.egress.source, confidence: s.egress.confidence},
      computeCostUsd: priceKnown
        ? {value: round(s.computeUsd), source: `${offer.source} (${offer.priceStatus}, as of ${offer.asOf})`, confidence: offer.confidence}
        : null,
    },
    notes,
  }
}
