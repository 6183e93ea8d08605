// A service's replica rules, pure, shared by the service controller (controller/
// service-controller.ts) and the service replay of `skyhop simulate --service`
// (simulator/service.ts), so the simulation places, spreads, floors and drains replicas by
// the code that runs services, not a copy of it:
// - which market each missing replica goes to (the on-demand floor, the rest on spot);
// - the key replicas spread over (zone, provider, or none);
// - which replicas a scale-down drains first;
// - how long a replica under an interruption notice keeps serving (noticeDrainAt);
// - throughput sizing: how many replicas of each accelerator configuration carry a demand,
//   and which configuration carries it at the lowest cost (SpotServe's rule: first meet the
//   throughput demand, then minimise cost; when it cannot be met, maximise throughput).

export type Spread = 'zones' | 'providers' | 'none'

/**
 * The market of each of `missing` replicas to launch: on-demand until the service holds
 * `baseOnDemand` on-demand replicas (counting `onDemandNow`, those it has), spot for the
 * rest when the service may use spot. true = spot.
 */
export function replicaMarkets(missing: number, onDemandNow: number, baseOnDemand: number, spotAllowed: boolean): boolean[] {
  const spots: boolean[] = []
  let onDemand = onDemandNow
  for (let i = 0; i < missing; i++) {
    const spot = spotAllowed && onDemand >= baseOnDemand
    if (!spot) onDemand++
    spots.push(spot)
  }
  return spots
}

/** Where a replica runs, as far as spreading is concerned. */
export interface Place {
  provider: string
  region: string
  zone: string | null
}

export function zoneKey(p: Place): string {
  return `${p.provider}/${p.region}/${p.zone ?? ''}`
}

/** The key spot replicas are spread over: their zone, their provider, or none (null). */
export function spreadKeyOf(spread: Spread, p: Place): string | null {
  return spread === 'none' ? null : spread === 'providers' ? p.provider : zoneKey(p)
}

/**
 * Until when a zone whose spot replica got an interruption notice is not tried for spot: its
 * capacity is being taken back, so a replacement launched there (a warm zone, the matching's
 * favourite) would be taken back with it. Until the kill plus `blockMs` (a failed launch's
 * block), or from now when the kill time is unknown. Milliseconds or seconds, as given.
 */
export function noticeBlockUntil(now: number, killAt: number | null, blockFor: number): number {
  return Math.max(now, killAt ?? now) + blockFor
}

/**
 * The least a noticed replica is drained before its kill: the time the drain takes to reach
 * the balancer and the server's own shutdown (closing its listener, flushing its logs), and
 * room for requests of a service with no SLO, whose request times skyhop cannot know. An
 * example server's or a chat model's answer takes well under it; longer requests are what
 * `slo.p95_latency` or the measured latency widen the window for.
 */
export const MIN_NOTICE_DRAIN_SECONDS = 5
/**
 * How many times the request time bound (the SLO's p95, or the replica's measured p99) the
 * drain window gives the requests in flight: a p95 is not a maximum, and a replica's answers
 * slow down while its replacement's requests pile onto the others.
 */
export const NOTICE_DRAIN_LATENCY_FACTOR = 3
/**
 * The server's signal comes this long after the balancer stopped routing to it, so no request
 * is routed to a server that has begun to shut down (a server such as uvicorn closes its
 * listener on SIGTERM): the drain reaches a balancer on its own thread within one message.
 */
export const NOTICE_SIGNAL_AFTER_DRAIN_SECONDS = 1

/**
 * How long before its kill a replica under an interruption notice stops getting new
 * requests: long enough for those in flight to finish. The larger of
 * MIN_NOTICE_DRAIN_SECONDS and NOTICE_DRAIN_LATENCY_FACTOR × the longest request time known:
 * the SLO's p95 and the replica's measured p99 (null when not known). Seconds.
 */
export function noticeDrainWindowSeconds(input: {sloP95Seconds: number | null; measuredP99Seconds: number | null}): number {
  const bound = Math.max(input.sloP95Seconds ?? 0, input.measuredP99Seconds ?? 0)
  return Math.max(MIN_NOTICE_DRAIN_SECONDS, NOTICE_DRAIN_LATENCY_FACTOR * bound)
}

/**
 * How long before the kill the runner gives a service replica's server the notice's signal:
 * the drain window known at launch (from the SLO alone, the least the controller's window can
 * be) less NOTICE_SIGNAL_AFTER_DRAIN_SECONDS, so the signal comes after the balancer's drain.
 */
export function noticeSignalLeadSeconds(sloP95Seconds: number | null): number {
  return noticeDrainWindowSeconds({sloP95Seconds, measuredP99Seconds: null}) - NOTICE_SIGNAL_AFTER_DRAIN_SECONDS
}

/**
 * When a replica under an interruption notice is drained: the kill (`killAt`, or the notice
 * plus the grace when the backend gives no time) minus the drain window, and never before
 * the notice. Until then it serves and counts as ready (SpotServe: use the grace period, do
 * not wait for the death nor leave at the notice); its replacement is launched at the
 * notice, so with a startup shorter than the grace the service never drops below target.
 * All in the same unit (milliseconds or seconds).
 */
export function noticeDrainAt(input: {noticeAt: number; killAt: number | null; grace: number; window: number}): number {
  const deadline = input.killAt ?? input.noticeAt + input.grace
  return Math.max(input.noticeAt, deadline - input.window)
}

/**
 * Whether a replica serves at `now`: ready, and either under no notice, or under one whose
 * drain time (noticeDrainAt) has not come. A replica drained for any other reason (a
 * scale-down, an update) serves no more.
 */
export function servesAt(now: number, r: {ready: boolean; draining: boolean; drainAt: number | null}): boolean {
  if (!r.ready) return false
  if (r.drainAt !== null) return now < r.drainAt
  return !r.draining
}

/** What the drain order looks at of a replica. */
export interface DrainCandidate {
  spot: boolean
  ready: boolean
  /** Its launch is still out: it is drained once it answers, not now. */
  requested: boolean
  /** Already draining (not counted, not picked). */
  draining: boolean
  /** The replica's number; the newest (highest) goes first among equals. */
  n: number
}

/**
 * Which replica to drain first: one not ready before one that serves; then on-demand before
 * spot (the on-demand floor is kept by pickSurplus).
 */
export function drainRank(r: Pick<DrainCandidate, 'spot' | 'ready'>): number {
  return (r.ready ? 2 : 0) + (r.spot ? 1 : 0)
}

/**
 * The indexes of the `surplus` replicas a scale-down drains: not ready first, then
 * on-demand above the floor, then spot, newest first among equals. An on-demand replica at
 * the floor stays while a spot one could go instead.
 */
export function pickSurplus(replicas: readonly DrainCandidate[], surplus: number, baseOnDemand: number): number[] {
  if (surplus <= 0) return []
  const order = replicas.map((_, i) => i).sort((a, b) => drainRank(replicas[a]) - drainRank(replicas[b]) || replicas[b].n - replicas[a].n)
  let onDemandLeft = replicas.filter((r) => !r.spot).length
  const picked: number[] = []
  for (const i of order) {
    if (picked.length >= surplus) break
    const r = replicas[i]
    if (r.requested) continue
    if (!r.spot && onDemandLeft <= baseOnDemand && replicas.some((x) => x.spot && !x.requested && !x.draining)) continue
    if (!r.spot) onDemandLeft--
    picked.push(i)
  }
  return picked
}

/** One accelerator configuration a replica can run on. */
export interface SizingOption {
  /** e.g. `V100:1`. */
  name: string
  /**
   * One replica's throughput relative to a replica on the reference configuration (the
   * job's work.reference): the planner's work scaling (the job's throughput table, else the
   * registry's dense TFLOPS).
   */
  speed: number
  /** What a replica costs per hour with the service's market mix (the floor on-demand, the rest spot). */
  usdPerHour: (replicas: number) => number
}

export interface SizedOption {
  name: string
  speed: number
  /** Replicas of this configuration for the demand, within [min, max]. */
  replicas: number
  /** Requests/s those replicas carry: replicas × qpsPerReplica × speed. */
  capacityQps: number
  usdPerHour: number
  /** capacityQps ≥ the demand. */
  meets: boolean
}

export interface Sizing {
  options: SizedOption[]
  /** Index into options of the configuration chosen; -1 when there is none. */
  chosen: number
}

/**
 * How many replicas of each configuration carry `demandQps` when one reference replica
 * carries `qpsPerReplica` (the service's target_qps_per_replica), within [min, max]; and
 * which configuration to use: the cheapest per hour among those that meet the demand (ties:
 * more capacity), else the one that carries the most (ties: cheaper). Pure.
 */
export function sizeReplicas(input: {
  demandQps: number
  qpsPerReplica: number
  min: number
  max: number
  options: readonly SizingOption[]
}): Sizing {
  const {demandQps, qpsPerReplica, min, max} = input
  if (!(qpsPerReplica > 0)) throw new RangeError(`qpsPerReplica must be > 0, got ${qpsPerReplica}`)
  if (!(demandQps >= 0)) throw new RangeError(`demandQps must be ≥ 0, got ${demandQps}`)
  const options = input.options.map((o): SizedOption => {
    const per = qpsPerReplica * o.speed
    const want = per > 0 ? Math.ceil(demandQps / per - 1e-9) : max
    const replicas = Math.min(max, Math.max(min, want))
    const capacityQps = replicas * per
    return {name: o.name, speed: o.speed, replicas, capacityQps, usdPerHour: o.usdPerHour(replicas), meets: capacityQps >= demandQps - 1e-9}
  })
  let chosen = -1
  for (let i = 0; i < options.length; i++) {
    const o = options[i]
    if (chosen === -1) {
      chosen = i
      continue
    }
    const c = options[chosen]
    const better =
      o.meets !== c.meets
        ? o.meets
        : o.meets
          ? o.usdPerHour < c.usdPerHour || (o.usdPerHour === c.usdPerHour && o.capacityQps > c.capacityQps)
          : o.capacityQps > c.capacityQps || (o.capacityQps === c.capacityQps && o.usdPerHour < c.usdPerHour)
    if (better) chosen = i
  }
  return {options, chosen}
}

/**
 * The replica count the measured rate calls for when the replicas run at `speed` relative to
 * the reference (1 when all run on it): ceil(rate / (qpsPerReplica × speed)) within [min, max].
 */
export function replicasForRate(ratePerSecond: number, qpsPerReplica: number, speed: number, min: number, max: number): number {
  const per = qpsPerReplica * (speed > 0 ? speed : 1)
  return Math.min(max, Math.max(min, Math.ceil(ratePerSecond / per - 1e-9)))
}

/** Latency samples a replica needs in the window before its p95 counts against the SLO. */
export const SLO_MIN_SAMPLES = 20

/**
 * The replica count the autoscaler wants, from the rate and the latency SLO: the rate's
 * count (replicasForRate), and while the measured p95 (the worst replica's with enough
 * samples) is above `slo.p95_latency`, one more than now and never fewer than now, within
 * [min, max]. SpotServe's order: meet the throughput first, then the latency.
 */
export function wantedReplicas(input: {
  current: number
  forRate: number
  min: number
  max: number
  sloP95Ms: number | null
  replicaP95Ms: ReadonlyArray<{p95Ms: number | null; samples: number}>
}): {wanted: number; sloBreached: boolean; p95Ms: number | null} {
  const {current, forRate, min, max, sloP95Ms} = input
  let p95: number | null = null
  for (const r of input.replicaP95Ms) if (r.p95Ms !== null && r.samples >= SLO_MIN_SAMPLES) p95 = Math.max(p95 ?? 0, r.p95Ms)
  const breached = sloP95Ms !== null && p95 !== null && p95 > sloP95Ms
  const wanted = breached ? Math.max(forRate, current + 1) : forRate
  return {wanted: Math.min(max, Math.max(min, wanted)), sloBreached: breached, p95Ms: p95}
}

/**
 * A replica's throughput relative to one on the reference configuration, from the planner's
 * estimate of the job's run hours on it: work hours / run hours (1 without a work estimate,
 * where every configuration counts the same).
 */
export function replicaSpeed(workHours: number | null, runHours: number): number {
  if (workHours === null || !(workHours > 0) || !(runHours > 0)) return 1
  return workHours / runHours
}

/** The mean speed of the replicas that carry the load (1 when none is known): what replicasForRate divides by. */
export function meanSpeed(speeds: readonly number[]): number {
  const known = speeds.filter((x) => x > 0 && Number.isFinite(x))
  return known.length === 0 ? 1 : known.reduce((a, b) => a + b, 0) / known.length
}
