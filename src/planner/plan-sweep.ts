// planSweep: many jobs planned together, so capacity and quotas hold for the sweep as a
// whole. Jobs with the same planning shape (they differ only in name, envs, run…) share
// one ranking; assignment is then a deterministic list schedule:
//   1. jobs in order of deadline (earliest first, none last), then input order;
//   2. each takes the best-ranked candidate with a free slot now and quota left;
//   3. when every candidate is full, it waits for the slot of an offer that frees first
//      in the objective's terms (cheapest that still meets the deadline for `cost`,
//      earliest finish for `time`), reusing the quota of the job it follows;
//   4. a sweep budget, if given, is spent in that order; a job that would exceed it is
//      left unassigned.
// An offer's slots are its own capacity and, when it has one, its capacity pool's: offers
// of one pool (the local machine's accelerators under one max_concurrent) share the
// pool's slots, so a job needs room in both to start, and waits for the later of the two.
import type {Offer} from '../model/catalog.js'
import type {JobSpec, Money} from '../model/job-spec.js'
import {JobContext} from './plan-context.js'
import {ObservationIndex} from './observations.js'
import {indexOffers, isOfferIndex, offerKey} from './offer-index.js'
import {type Ranked, type Scored, materialize, rankOffers, toPlan} from './plan-job.js'
import type {Assignment, ExclusionGroup, OfferIndex, QuotaLimit, SweepInput, SweepPlan} from './types.js'

/** How many candidates a job that must wait for a slot compares. */
const WAIT_DEPTH = 256

export interface SweepOptions {
  /** Stop assigning once the expected cost of the sweep would pass this. */
  budget?: Money
}

interface Shape {
  ctx: JobContext
  /** Ranked lazily at the shape's first job and dropped after its last, to bound memory. */
  ranked: Ranked | null
  /** How deep the ranking goes; grows ×4 when every kept candidate is full. */
  k: number
  /** Jobs of this shape not yet assigned. */
  remaining: number
}

interface Slots {
  offer: Offer
  /** Free-at times in hours from now, ascending; length = capacity. Null = unbounded. */
  freeAt: number[] | null
  jobs: number
  peak: number
}

/** The slots of a capacity pool, shared by every offer naming it. */
interface Pool {
  capacity: number
  /** Free-at times in hours from now, ascending; length = capacity. */
  freeAt: number[]
  jobs: number
  peak: number
}

export function planSweep(input: SweepInput & {sweep?: SweepOptions}): SweepPlan {
  const index: OfferIndex = isOfferIndex(input.offers) ? input.offers : indexOffers(input.offers)
  const observations = input.observations && input.observations.length > 0 ? new ObservationIndex(input.observations, input.now) : null
  const jobs = input.jobs
  const top = Math.max(1, input.options?.top ?? 25)

  const shapes = new Map<string, Shape>()
  const shapeOf: Shape[] = []
  for (const job of jobs) {
    const key = shapeKey(job)
    let shape = shapes.get(key)
    if (shape === undefined) {
      // A sweep budget is checked against every job's price, so none may be unknown (never a 0).
      const outside = input.sweep?.budget === undefined ? {} : {outsidePriceLimit: "the sweep's budget"}
      shape = {ctx: new JobContext({...input, job, ...outside}, observations), ranked: null, k: 0, remaining: 0}
      shapes.set(key, shape)
    }
    shape.remaining++
    shapeOf.push(shape)
  }

  const order = jobs.map((_, i) => i)
  const deadlineMs = jobs.map((j) => (j.deadline === null ? Number.POSITIVE_INFINITY : Date.parse(j.deadline)))
  order.sort((a, b) => (deadlineMs[a] !== deadlineMs[b] ? (deadlineMs[a] < deadlineMs[b] ? -1 : 1) : a - b))

  // Keyed by the offer object itself: no key string per offer in the hot loop.
  const slots = new Map<Offer, Slots>()
  const pools = new Map<string, Pool>()
  const limits = input.limits ?? []
  const used = limits.map(() => ({instances: 0, accelerators: 0}))
  const budgetUsd =
    input.sweep?.budget === undefined
      ? Number.POSITIVE_INFINITY
      : input.sweep.budget.currency === 'USD'
        ? input.sweep.budget.amount
        : input.sweep.budget.amount / input.fx.cnyPerUsd
  let spent = 0
  let unknownPriceJobs = 0
  const assignments: Assignment[] = new Array(jobs.length)
  const assumptions = new Set<string>()

  for (const i of order) {
    const job = jobs[i]
    const shape = shapeOf[i]
    const nodes = Math.max(1, job.nodes)
    // Offers the sweep has already filled are skipped while ranking, so a ranking only
    // needs to be deep enough for this shape's own jobs.
    const full = (o: Offer): boolean => busy(slots, pools, o, nodes)
    if (shape.ranked === null) {
      // Each of this shape's jobs fills at most one offer, knocking out at most its two markets.
      shape.k = Math.max(top, 2 * shape.remaining * nodes + 64)
      shape.ranked = rankOffers(shape.ctx, index, shape.k, full)
    }
    let pick = firstFree(shape.ranked, full, limits, used, nodes)
    if (pick === null && shape.ranked.feasibleCount > shape.ranked.scored.length) {
      // Other jobs filled what we kept (or quotas bar it): rank again over what is still free.
      shape.ranked = rankOffers(shape.ctx, index, shape.k, full)
      pick = firstFree(shape.ranked, full, limits, used, nodes)
      while (pick === null && shape.ranked.feasibleCount > shape.ranked.scored.length) {
        shape.k *= 4
        shape.ranked = rankOffers(shape.ctx, index, shape.k, full)
        pick = firstFree(shape.ranked, full, limits, used, nodes)
      }
    }
    let wait = 0
    let waitRanking: Ranked | null = null
    if (pick === null) {
      // Nothing free: wait for the slot that serves the objective best among the best
      // WAIT_DEPTH candidates, full or not.
      waitRanking = rankOffers(shape.ctx, index, Math.max(top, WAIT_DEPTH))
      const w = earliestSlot(shape.ctx, waitRanking, slots, pools, nodes)
      if (w !== null) {
        pick = w.rank
        wait = w.start
      }
    }
    const plan = waitRanking ?? shape.ranked
    if (--shape.remaining === 0) shape.ranked = null
    if (pick === null) {
      assignments[i] = {
        jobIndex: i,
        job: job.name,
        candidate: null,
        waitForSlotHours: 0,
        estimatedFinishHours: null,
        reason: unassignedReason(shape.ctx, plan),
      }
      continue
    }
    const s = plan.scored[pick]
    // An unknown price is never a zero: it makes the total unknown. (With a budget no such
    // candidate gets here: the shape's context excludes unknown prices as price-unknown.)
    const priced = !Number.isNaN(s.costUsd)
    const cost = priced ? s.costUsd : 0
    if (!priced) unknownPriceJobs++
    if (spent + cost > budgetUsd) {
      assignments[i] = {
        jobIndex: i,
        job: job.name,
        candidate: null,
        waitForSlotHours: 0,
        estimatedFinishHours: null,
        reason: {
          reason: 'budget',
          subject: 'sweep',
          message: `the sweep budget (${budgetUsd.toFixed(2)} USD) would be exceeded: ${spent.toFixed(2)} USD already assigned, this job adds ${cost.toFixed(2)}`,
          count: 1,
          example: exampleOf(s),
        },
      }
      continue
    }
    spent += cost
    take(slots, pools, s, nodes, wait + s.finishHours)
    if (wait === 0) charge(limits, used, s, nodes)
    const candidate = materialize(shape.ctx, s, pick + 1)
    assignments[i] = {
      jobIndex: i,
      job: job.name,
      candidate,
      waitForSlotHours: round(wait),
      estimatedFinishHours: round(wait + s.finishHours),
      reason: null,
    }
  }

  for (const shape of shapes.values()) for (const a of shape.ctx.assumptions) assumptions.add(a)
  const usage = [...slots.values()]
    .filter((v) => v.jobs > 0)
    .map((v) => ({
      offerKey: offerKey(v.offer),
      accelerator: v.offer.accelerator === null ? null : {...v.offer.accelerator},
      instances: v.peak,
      jobs: v.jobs,
      capacity: v.offer.capacity,
      pool: v.offer.capacityPool?.id ?? null,
    }))
    .sort((a, b) => (a.offerKey < b.offerKey ? -1 : a.offerKey > b.offerKey ? 1 : 0))
  const poolUsage = [...pools]
    .map(([pool, p]) => ({pool, instances: p.peak, jobs: p.jobs, capacity: p.capacity}))
    .sort((a, b) => (a.pool < b.pool ? -1 : a.pool > b.pool ? 1 : 0))
  let makespan = 0
  let unassigned = 0
  for (const a of assignments) {
    if (a.estimatedFinishHours === null) unassigned++
    else makespan = Math.max(makespan, a.estimatedFinishHours)
  }
  const objectives = new Set(jobs.map((j) => input.options?.objective ?? j.objective))
  return {
    objective: objectives.size === 1 ? [...objectives][0] : 'per-job',
    now: input.now.toISOString(),
    assignments,
    usage,
    pools: poolUsage,
    estimatedCostUsd: unknownPriceJobs > 0 ? null : round(spent),
    pricedCostUsd: round(spent),
    unknownPriceJobs,
    makespanHours: round(makespan),
    unassigned,
    shapes: shapes.size,
    assumptions: [...assumptions],
  }
}

/** The fields that change how a job is planned; jobs equal on these share one ranking. */
export function shapeKey(job: JobSpec): string {
  return JSON.stringify([
    job.resources,
    job.spot,
    job.work,
    job.throughput,
    job.deadline,
    job.budget,
    job.maxPrice,
    job.placement,
    job.data,
    job.checkpoint.intervalSeconds,
    job.recovery.maxRestarts,
    job.objective,
    job.nodes,
  ])
}

function slotsFor(slots: Map<Offer, Slots>, offer: Offer): Slots {
  let s = slots.get(offer)
  if (s === undefined) {
    s = {offer, freeAt: offer.capacity === null ? null : new Array<number>(offer.capacity).fill(0), jobs: 0, peak: 0}
    slots.set(offer, s)
  }
  return s
}

function matches(limit: QuotaLimit, offer: Offer): boolean {
  return limit.provider === offer.provider && (limit.region == null || limit.region === offer.region)
}

function quotaAllows(
  limits: readonly QuotaLimit[],
  used: Array<{instances: number; accelerators: number}>,
  s: Scored,
  nodes: number,
): boolean {
  const devices = (s.offer.accelerator?.count ?? 0) * nodes
  for (let i = 0; i < limits.length; i++) {
    const l = limits[i]
    if (!matches(l, s.offer)) continue
    if (l.maxInstances !== undefined && used[i].instances + nodes > l.maxInstances) return false
    if (l.maxAccelerators !== undefined && used[i].accelerators + devices > l.maxAccelerators) return false
  }
  return true
}

function charge(limits: readonly QuotaLimit[], used: Array<{instances: number; accelerators: number}>, s: Scored, nodes: number): void {
  const devices = (s.offer.accelerator?.count ?? 0) * nodes
  for (let i = 0; i < limits.length; i++) {
    if (!matches(limits[i], s.offer)) continue
    used[i].instances += nodes
    used[i].accelerators += devices
  }
}

/** Whether `nodes` more instances of the offer cannot start now: its own slots or its pool's are taken. */
function busy(slots: Map<Offer, Slots>, pools: Map<string, Pool>, offer: Offer, nodes: number): boolean {
  const sl = slots.get(offer)
  if (sl !== undefined && sl.freeAt !== null && sl.freeAt[nodes - 1] > 0) return true
  const pool = offer.capacityPool === undefined ? undefined : pools.get(offer.capacityPool.id)
  return pool !== undefined && pool.freeAt[nodes - 1] > 0
}

/** Rank index of the best candidate that can start now, or null. */
function firstFree(
  ranked: Ranked,
  full: (offer: Offer) => boolean,
  limits: readonly QuotaLimit[],
  used: Array<{instances: number; accelerators: number}>,
  nodes: number,
): number | null {
  const list = ranked.scored
  for (let r = 0; r < list.length; r++) {
    const s = list[r]
    if (full(s.offer)) continue
    if (!quotaAllows(limits, used, s, nodes)) continue
    return r
  }
  return null
}

/** When everything is full: the candidate whose freed slot serves the objective best. */
function earliestSlot(
  ctx: JobContext,
  ranked: Ranked,
  slots: Map<Offer, Slots>,
  pools: Map<string, Pool>,
  nodes: number,
): {rank: number; start: number} | null {
  const list = ranked.scored
  let best: {rank: number; start: number; value: number} | null = null
  for (let r = 0; r < list.length; r++) {
    const s = list[r]
    const sl = slots.get(s.offer)
    const own = sl === undefined || sl.freeAt === null ? null : sl.freeAt[nodes - 1]
    // An offer the sweep has not used yet may still be full through its pool.
    const pool = s.offer.capacityPool === undefined ? undefined : pools.get(s.offer.capacityPool.id)
    if (own === null && pool === undefined) continue
    const start = Math.max(own ?? 0, pool?.freeAt[nodes - 1] ?? 0)
    const finish = start + s.finishHours
    if (finish > ctx.allowedHours) continue
    if (s.spot && start + s.pessimisticFinishHours > ctx.allowedHours) continue
    const cost = Number.isNaN(s.costUsd) ? Number.POSITIVE_INFINITY : s.costUsd
    const value = ctx.objective === 'cost' ? cost : ctx.objective === 'time' ? finish : cost + ctx.valueOfTimeUsdPerHour * finish
    if (best === null || value < best.value) best = {rank: r, start, value}
  }
  return best === null ? null : {rank: best.rank, start: best.start}
}

function take(slots: Map<Offer, Slots>, pools: Map<string, Pool>, s: Scored, nodes: number, end: number): void {
  const sl = slotsFor(slots, s.offer)
  sl.jobs++
  if (sl.freeAt === null) sl.peak += nodes
  else sl.peak = Math.max(sl.peak, occupy(sl.freeAt, nodes, end))
  const cp = s.offer.capacityPool
  if (cp !== undefined) {
    let pool = pools.get(cp.id)
    if (pool === undefined) {
      pool = {capacity: cp.capacity, freeAt: new Array<number>(cp.capacity).fill(0), jobs: 0, peak: 0}
      pools.set(cp.id, pool)
    }
    pool.jobs++
    pool.peak = Math.max(pool.peak, occupy(pool.freeAt, nodes, end))
  }
}

/**
 * Takes the first `nodes` slots (the earliest free; the job starts when the last of them,
 * and of the other side's, frees) until `end`; returns how many are then busy.
 */
function occupy(freeAt: number[], nodes: number, end: number): number {
  for (let n = 0; n < nodes; n++) freeAt[n] = end
  freeAt.sort((a, b) => a - b)
  let busy = 0
  for (const t of freeAt) if (t > 0) busy++
  return busy
}

function unassignedReason(ctx: JobContext, ranked: Ranked): ExclusionGroup {
  if (ranked.scored.length === 0) {
    const plan = toPlan({...ranked, scored: []})
    return (
      plan.excluded[0] ?? {
        reason: 'capacity',
        subject: 'catalog',
        message: 'the catalog has no offers',
        count: 0,
        example: {provider: '', region: '', zone: null, instanceType: '', spot: null},
      }
    )
  }
  const best = ranked.scored[0]
  return {
    reason: 'capacity',
    subject: 'sweep',
    message: `all ${ranked.scored.length} feasible candidates are taken by other jobs of the sweep${Number.isFinite(ctx.allowedHours) ? ' until after the deadline' : ''}`,
    count: ranked.scored.length,
    example: exampleOf(best),
  }
}

function exampleOf(s: Scored): ExclusionGroup['example'] {
  return {provider: s.offer.provider, region: s.offer.region, zone: s.offer.zone, instanceType: s.offer.instanceType, spot: s.spot}
}

function round(n: number): number {
  return Math.round(n * 10_000) / 10_000
}
