// The replay of a service (`skyhop simulate --service`): a number of replicas kept up
// against spot availability traces, on a simulated clock, under four policies. Pure: the
// markets come in, availability and cost come out.
//
// The `skyhop` policy places replicas with the service controller's own rules
// (planner/service-replicas.ts and planner/assignment.ts, which controller/service-
// controller.ts calls): the on-demand floor, the rest on spot matched to zones by
// Kuhn–Munkres with spot replicas kept out of each other's zones, each replica trying its
// match first and then the other zones in price order, a zone that failed a launch blocked
// for a minute; on an interruption notice its replacement is launched at once and the
// replica keeps serving (it counts as ready) until its drain time, the kill less the drain
// window (noticeDrainAt; the kill is the runner's, RUNNER_KILL_MARGIN_SECONDS before the
// end of the notice), when the balancer stops sending it requests; its zone is blocked
// for spot until a minute after the kill; when no
// zone has spot, on-demand; every respot interval an on-demand replica above the floor
// looks for spot again (spot launched first, the on-demand one drained once it is ready),
// and a scale-down drains by the controller's order.
//
// The model: a zone has spot while its trace shows at least one instance; a spot replica is
// taken back at the first tick without, the notice that long before; a launch is ready
// `startup` later; on-demand is always there. Every replica of a zone goes when the zone's
// spot does (one interruption takes a zone's capacity at once: why replicas spread). The
// service starts in its steady state: the replicas are placed and ready at the first tick.
import {placeReplicas} from '../planner/assignment.js'
import {
  type Spread,
  noticeBlockUntil,
  noticeDrainAt,
  pickSurplus,
  replicaMarkets,
  servesAt,
  spreadKeyOf,
} from '../planner/service-replicas.js'
import {rng} from './stats.js'
import type {SpotMarket} from './types.js'

export const SERVICE_POLICIES = [
  {name: 'on-demand', summary: 'every replica on on-demand: the cost baseline'},
  {name: 'spot', summary: 'every replica on spot in the cheapest zone that has it, replaced after it dies; waits when no zone has spot'},
  {name: 'spot-floor', summary: 'base_on_demand replicas (at least 1) on on-demand, the rest as `spot`'},
  {
    name: 'skyhop',
    summary:
      "the service controller's rules: the on-demand floor, spot spread over zones by matching, the replacement launched on the notice, on-demand when no zone has spot, back to spot every respot interval",
  },
] as const

export type ServicePolicyName = (typeof SERVICE_POLICIES)[number]['name']

/** How long a zone whose launch failed is not tried again (the controller's BLOCK_MS). */
export const SERVICE_BLOCK_SECONDS = 60
/**
 * How long before the end of the notice the runner kills a replica's server (the runner's
 * default killMarginSeconds, runner/contract.ts): the kill the drain window is counted back from.
 */
export const RUNNER_KILL_MARGIN_SECONDS = 1.5
/** The controller tries at most this many candidates for one replica. */
const MAX_TRIES = 10

export interface ServiceReplayInput {
  /** The spot markets (zones) of the configuration the replicas run on. */
  markets: readonly SpotMarket[]
  /** An on-demand replica's price, USD per hour. */
  onDemandUsdPerHour: number
  gapSeconds: number
  durationHours: number
  /** Launch to ready. */
  startupSeconds: number
  noticeSeconds: number
  /**
   * How long before its kill a noticed replica stops getting requests (noticeDrainWindowSeconds);
   * until then it serves. At least the notice: drained at the notice.
   */
  drainWindowSeconds: number
  /** How often an on-demand replica above the floor looks for spot again; 0 = never. */
  respotSeconds: number
  /** Replicas to keep ready. */
  target: number
  baseOnDemand: number
  spread: Spread
  /** The file's `spot` is not `on-demand`. */
  spotAllowed: boolean
}

export interface ServiceRunOutcome {
  /** Fraction of the time with at least `target` replicas ready. */
  atTarget: number
  /** Fraction of the time with at least one replica ready. */
  atOne: number
  costUsd: number
  spotHours: number
  onDemandHours: number
  preemptions: number
  notices: number
  launches: number
  /** Spot replicas that went on on-demand because no zone had spot. */
  fallbacks: number
  /** Periods below target. */
  outages: number
  /** The longest of them, seconds. */
  longestOutageSeconds: number
}

interface Replica {
  n: number
  spot: boolean
  /** Index into markets; -1 on-demand. */
  market: number
  launchedAt: number
  readyAt: number
  noticeAt: number
  deathAt: number
  ended: boolean
  draining: boolean
  /** Under a notice: when it stops serving (noticeDrainAt); null otherwise. */
  drainAt: number | null
  surge: boolean
}

/** Each seed's start tick, like the job replay's (seedBase, seedBase + 1, …). */
export function serviceStartTicks(
  input: Pick<ServiceReplayInput, 'markets' | 'gapSeconds' | 'durationHours'>,
  seeds: number,
  seedBase = 1,
): {startTicks: number[]; wrapped: boolean} {
  const minLength = Math.min(...input.markets.map((m) => m.data.length))
  const window = Math.ceil((input.durationHours * 3600) / input.gapSeconds)
  const wrapped = minLength < window
  const maxStart = wrapped ? minLength - 1 : minLength - window
  const startTicks: number[] = []
  for (let i = 0; i < seeds; i++) startTicks.push(Math.floor(rng(seedBase + i)() * (maxStart + 1)))
  return {startTicks, wrapped}
}

/** One run of one policy from one start tick. Times are seconds from the start. */
export function replayService(input: ServiceReplayInput, policy: ServicePolicyName, startTick: number): ServiceRunOutcome {
  const gap = input.gapSeconds
  const end = input.durationHours * 3600
  const {markets, target} = input
  const has = (z: number, t: number): boolean => {
    const d = markets[z].data
    return d[(startTick + Math.floor(t / gap + 1e-9)) % d.length] >= 1
  }
  /** When a spot instance in zone z from t on is taken back: the first tick without; Infinity past the end. */
  const deathOf = (z: number, t: number): number => {
    for (let k = Math.floor(t / gap + 1e-9) + 1; k * gap < end; k++) if (!has(z, k * gap)) return k * gap
    return Number.POSITIVE_INFINITY
  }
  // Zones in the planner's order: cheapest spot first (price per unit of work; one configuration here).
  const byPrice = markets.map((_, i) => i).sort((a, b) => markets[a].spotUsdPerHour - markets[b].spotUsdPerHour)
  const rankOf = new Int32Array(markets.length)
  byPrice.forEach((z, rank) => (rankOf[z] = rank))
  const place = (z: number) => ({provider: markets[z].provider, region: markets[z].region, zone: markets[z].zone})

  const floor = policy === 'spot-floor' ? Math.max(1, input.baseOnDemand) : policy === 'skyhop' ? input.baseOnDemand : 0
  const spotAllowed = policy === 'on-demand' ? false : policy === 'skyhop' ? input.spotAllowed : true
  const usesNotice = policy === 'skyhop' && input.noticeSeconds > 0

  /** Replicas not ended (ended ones are dropped after each step). */
  let replicas: Replica[] = []
  let launched = 0
  const blockedUntil = new Float64Array(markets.length)
  /** Zones under a notice (noticeBlockUntil): not tried for spot even by a look for spot to move back to. */
  const noticeBlockedUntil = new Float64Array(markets.length)
  const warm = new Set<number>()
  let respotAt = 0
  const out: ServiceRunOutcome = {
    atTarget: 0,
    atOne: 0,
    costUsd: 0,
    spotHours: 0,
    onDemandHours: 0,
    preemptions: 0,
    notices: 0,
    launches: 0,
    fallbacks: 0,
    outages: 0,
    longestOutageSeconds: 0,
  }

  const finish = (r: Replica, at: number): void => {
    r.ended = true
    const hours = (Math.min(at, end) - r.launchedAt) / 3600
    if (r.spot) {
      out.spotHours += hours
      out.costUsd += hours * markets[r.market].spotUsdPerHour
    } else {
      out.onDemandHours += hours
      out.costUsd += hours * input.onDemandUsdPerHour
    }
  }

  const launch = (t: number, spot: boolean, market: number, surge: boolean, warmStart: boolean): void => {
    const deathAt = spot ? deathOf(market, t) : Number.POSITIVE_INFINITY
    replicas.push({
      n: ++launched,
      spot,
      market,
      launchedAt: t,
      readyAt: warmStart ? t : t + input.startupSeconds,
      noticeAt: usesNotice && Number.isFinite(deathAt) ? Math.max(t, deathAt - input.noticeSeconds) : Number.POSITIVE_INFINITY,
      deathAt,
      ended: false,
      draining: false,
      drainAt: null,
      surge,
    })
    out.launches++
    if (spot) warm.add(market)
  }

  /** A spot replica by the controller's rules; false when no zone could take it. */
  const launchSpotSkyhop = (t: number, count: number, surge: boolean, warmStart: boolean): number => {
    const live = replicas.filter((r) => !r.ended && !r.draining)
    const inUse = new Map<string, number>()
    for (const r of live) {
      if (!r.spot) continue
      const key = spreadKeyOf(input.spread, place(r.market))
      if (key !== null) inUse.set(key, (inUse.get(key) ?? 0) + 1)
    }
    const open = byPrice.filter((z) => noticeBlockedUntil[z] <= t && (surge || blockedUntil[z] <= t))
    const placed = placeReplicas(
      Array.from({length: count}, () => ({spot: true})),
      open.map((z) => ({spreadKey: spreadKeyOf(input.spread, place(z)), spot: true, rank: rankOf[z], warm: warm.has(z)})),
      inUse,
    )
    let failed = 0
    for (let i = 0; i < count; i++) {
      const match = placed[i] === -1 ? [] : [open[placed[i]]]
      const ordered = [...match, ...open.filter((z) => z !== match[0])].slice(0, MAX_TRIES)
      const z = ordered.find((zone) => {
        if (has(zone, t)) return true
        blockedUntil[zone] = Math.max(blockedUntil[zone], t + SERVICE_BLOCK_SECONDS)
        return false
      })
      if (z === undefined) {
        failed++
        continue
      }
      launch(t, true, z, surge, warmStart)
    }
    return failed
  }

  const converge = (t: number, warmStart: boolean): void => {
    for (const r of replicas) if (r.surge && r.readyAt <= t) r.surge = false
    const active = replicas.filter((r) => !r.ended && !r.draining && !r.surge)
    const missing = target - active.length
    if (missing > 0) {
      const onDemandNow = active.filter((r) => !r.spot).length
      const spots = replicaMarkets(missing, onDemandNow, floor, spotAllowed)
      const spotCount = spots.filter(Boolean).length
      for (let i = 0; i < spots.length - spotCount; i++) launch(t, false, -1, false, warmStart)
      if (spotCount > 0) {
        if (policy === 'skyhop') {
          const failed = launchSpotSkyhop(t, spotCount, false, warmStart)
          for (let i = 0; i < failed; i++) {
            out.fallbacks++
            launch(t, false, -1, false, warmStart)
          }
        } else {
          // Naive spot: the cheapest zone that has it, no spreading; wait when none has.
          for (let i = 0; i < spotCount; i++) {
            const z = byPrice.find((zone) => has(zone, t))
            if (z !== undefined) launch(t, true, z, false, warmStart)
          }
        }
      }
    } else if (policy === 'skyhop' && spotAllowed && input.respotSeconds > 0 && !replicas.some((r) => r.surge && !r.ended)) {
      const aboveFloor = active.filter((r) => !r.spot).length - floor
      if (aboveFloor > 0 && t >= respotAt) {
        respotAt = t + input.respotSeconds
        launchSpotSkyhop(t, 1, true, false)
      }
    }
    const current = replicas.filter((r) => !r.ended && !r.draining && !r.surge)
    const surplus = current.length - target
    if (surplus > 0) {
      const picked = pickSurplus(
        current.map((r) => ({spot: r.spot, ready: r.readyAt <= t, requested: false, draining: false, n: r.n})),
        surplus,
        floor,
      )
      // A drained replica stops once nothing is in flight on it: at once, here.
      for (const i of picked) finish(current[i], t)
    }
  }

  let t = 0
  converge(0, true)
  let below = false
  let belowSince = 0
  while (t < end) {
    // Deaths, then notices, then what the policy does about them.
    for (const r of replicas) {
      if (r.ended) continue
      if (r.deathAt <= t) {
        out.preemptions++
        finish(r, r.deathAt)
      } else if (!r.draining && r.noticeAt <= t) {
        r.draining = true
        const killAt = r.deathAt - Math.min(RUNNER_KILL_MARGIN_SECONDS, (r.deathAt - t) / 4)
        r.drainAt = noticeDrainAt({noticeAt: t, killAt, grace: input.noticeSeconds, window: input.drainWindowSeconds})
        out.notices++
        noticeBlockedUntil[r.market] = Math.max(noticeBlockedUntil[r.market], noticeBlockUntil(t, r.deathAt, SERVICE_BLOCK_SECONDS))
      }
    }
    converge(t, false)
    let next = Math.min(end, (Math.floor(t / gap + 1e-9) + 1) * gap)
    if (respotAt > t) next = Math.min(next, respotAt)
    for (const r of replicas) {
      if (r.ended) continue
      for (const at of [r.readyAt, r.noticeAt, r.drainAt ?? Number.POSITIVE_INFINITY, r.deathAt]) if (at > t && at < next) next = at
    }
    for (const b of blockedUntil) if (b > t && b < next) next = b
    for (const b of noticeBlockedUntil) if (b > t && b < next) next = b
    if (replicas.some((r) => r.ended)) replicas = replicas.filter((r) => !r.ended)
    const ready = replicas.filter((r) => !r.ended && servesAt(t, {ready: r.readyAt <= t, draining: r.draining, drainAt: r.drainAt})).length
    const span = next - t
    if (ready >= target) out.atTarget += span
    if (ready >= 1) out.atOne += span
    if (ready < target && !below) {
      below = true
      belowSince = t
      out.outages++
    } else if (ready >= target && below) {
      below = false
      out.longestOutageSeconds = Math.max(out.longestOutageSeconds, t - belowSince)
    }
    t = next
  }
  if (below) out.longestOutageSeconds = Math.max(out.longestOutageSeconds, end - belowSince)
  for (const r of replicas) if (!r.ended) finish(r, end)
  out.atTarget /= end
  out.atOne /= end
  return out
}
