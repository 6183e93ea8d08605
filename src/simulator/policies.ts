// Every spot policy the simulator compares, behind one interface (types.ts: Policy):
// at each decision point a policy sees the clock, its progress, the deadline, where it
// runs and which zones have spot now, and answers where to run next. None reads the
// traces except `omniscient`, the hindsight reference, which is told the future.
//
//   on-demand         on-demand from start to end (the cost baseline)
//   spot              spot whenever some zone has it, wait otherwise; never on-demand (not safe)
//   greedy            Can't Be Late (NSDI'24) Greedy: spot when available, wait otherwise,
//                     on-demand to the end once the safety net fires
//   uniform-progress  Can't Be Late Uniform Progress: on-demand whenever behind the straight
//                     line to the deadline, spot whenever available, hysteresis of 2d
//   omniscient        a hindsight plan: the cheapest tick-by-tick schedule that meets the
//                     deadline knowing every trace in advance (Lagrangian DP)
//   hourly-price      skyhop's policy with markets ranked by hourly price alone (SkyPilot's
//                     ranking), to measure what ranking by work done is worth
//   skyhop            skyhop's own: see SkyhopPolicy
//
// The safety net (Can't Be Late §4, "Safety Net: when the job is idle and R(t) < C(t) + 2d,
// switch to on-demand and stay on it until the end"), with R the time left to the deadline,
// C the work left and d the changeover delay. Decisions here are taken in continuous time,
// so the net fires at the first instant R < C + 2d holds, i.e. once R ≤ C + 2d: a policy
// idling towards it asks to be woken exactly then. Why 2d: a spot start costs d, and a
// preemption right after it costs another d to reach on-demand; so a policy may start spot
// only with more than 2d of slack, and while on spot it always has at least d in hand.
// With accelerators of different speeds C is measured on the fastest on-demand option, and
// a policy on a slower spot instance (whose slack shrinks as it runs) leaves it for that
// option once the slack is down to d.
import {spotOverhead} from '../planner/estimate.js'
import {PREEMPTION_PRIOR_PER_HOUR} from '../planner/priors.js'
import {IDLE, onDemandTarget, sameTarget, spotTarget} from './engine.js'
import type {Decision, OnDemandOption, Policy, PolicySetup, PolicySpec, SpotMarket, Target, View} from './types.js'

const EPS = 1e-9
const SECOND = 1 / 3600
const NONE = Number.POSITIVE_INFINITY

/** Index of the fastest on-demand option (cheapest per hour among equals). */
export function fastestOnDemand(options: readonly OnDemandOption[]): number {
  let best = 0
  for (let o = 1; o < options.length; o++) {
    const a = options[o]
    const b = options[best]
    if (a.speed > b.speed || (a.speed === b.speed && a.usdPerHour < b.usdPerHour)) best = o
  }
  return best
}

/** Shared arithmetic of the deadline-safe policies: slack against the fastest on-demand option and the safety net. */
abstract class SafePolicy implements Policy {
  protected readonly d: number
  protected readonly fast: number
  protected readonly fastSpeed: number
  protected readonly fastTarget: Target

  constructor(protected readonly setup: PolicySetup) {
    this.d = setup.changeoverHours
    this.fast = fastestOnDemand(setup.onDemand)
    this.fastSpeed = setup.onDemand[this.fast].speed
    this.fastTarget = onDemandTarget(this.fast)
  }

  abstract decide(view: View): Decision

  /** Hours the job could still lose and finish on the fastest on-demand option: R − C/s. */
  protected slack(v: View): number {
    return v.deadline - v.now - (v.workTotal - v.workDone) / this.fastSpeed
  }

  protected speedOf(x: Target): number {
    return x.kind === 'spot' ? this.setup.markets[x.market].speed : x.kind === 'on-demand' ? this.setup.onDemand[x.option].speed : 0
  }

  protected onFastest(v: View): boolean {
    return v.current.kind === 'on-demand' && v.current.option === this.fast
  }

  /**
   * The safety net: true when the job must be on the fastest on-demand option now. Off
   * spot: once R ≤ C + 2d. On spot: once the slack is down to d (only a slower spot
   * instance ever gets there: on an equally fast one the slack does not move).
   */
  protected netFires(v: View): boolean {
    const s = this.slack(v)
    if (v.current.kind === 'spot') return s <= this.d + EPS
    return s <= 2 * this.d + EPS
  }

  /**
   * When the net will fire if the job goes to `target` now and nothing else happens first
   * (never late; early is harmless: the policy is asked again and decides the same).
   */
  protected netWake(v: View, target: Target = v.current): number {
    if (target.kind === 'on-demand' && target.option === this.fast) return NONE
    const s = this.slack(v)
    const limit = target.kind === 'spot' ? this.d : 2 * this.d
    // Idle or changing over, the slack falls one hour per hour; running, by what the
    // instance is slower than the fastest on-demand option.
    const starting = !sameTarget(target, v.current) || v.changeoverLeft > 0
    const rate = target.kind === 'idle' || starting ? 1 : 1 - this.speedOf(target) / this.fastSpeed
    if (rate <= EPS) return NONE
    return v.now + Math.max(0, s - limit) / rate
  }

  /** May a spot instance be started now? Only with more than 2d of slack. */
  protected canStartSpot(v: View): boolean {
    return this.slack(v) > 2 * this.d + EPS
  }

  /** The available market cheapest per unit of work (ties: the first), or -1. */
  protected cheapestAvailable(v: View, skip = -1): number {
    let best = -1
    let bestKey = NONE
    const ms = this.setup.markets
    for (let z = 0; z < ms.length; z++) {
      if (!v.available[z] || z === skip) continue
      const key = ms[z].spotUsdPerHour / ms[z].speed
      if (key < bestKey) {
        best = z
        bestKey = key
      }
    }
    return best
  }
}

function wakeOf(...times: number[]): number | undefined {
  let m = NONE
  for (const t of times) if (t < m) m = t
  return m === NONE ? undefined : m
}

// ---- baselines ------------------------------------------------------------------------

/** On-demand from start to end, on the option cheapest per unit of work that meets the deadline. */
class OnDemandOnly implements Policy {
  private readonly target: Target
  constructor(setup: PolicySetup) {
    const d = setup.changeoverHours
    let best = fastestOnDemand(setup.onDemand)
    let bestKey = NONE
    setup.onDemand.forEach((o, i) => {
      const meets = d + setup.workHours / o.speed <= setup.deadlineHours + EPS
      const key = o.usdPerHour / o.speed
      if (meets && key < bestKey) {
        best = i
        bestKey = key
      }
    })
    this.target = onDemandTarget(best)
  }

  decide(): Decision {
    return {target: this.target}
  }
}

/** Spot whenever some zone has it (cheapest per unit of work), wait otherwise. Never on-demand: it can miss. */
class SpotOnly implements Policy {
  constructor(private readonly setup: PolicySetup) {}

  decide(v: View): Decision {
    if (v.current.kind === 'spot') return {target: v.current}
    let best = -1
    let bestKey = NONE
    this.setup.markets.forEach((m, z) => {
      const key = m.spotUsdPerHour / m.speed
      if (v.available[z] && key < bestKey) {
        best = z
        bestKey = key
      }
    })
    return {target: best < 0 ? IDLE : spotTarget(best)}
  }
}

/**
 * Greedy (Can't Be Late §3): spot whenever available, wait when not, and once the safety
 * net fires, on-demand to the end. Several zones: any zone with spot will do (the
 * cheapest per unit of work), and it stays there until preempted.
 */
class Greedy extends SafePolicy {
  decide(v: View): Decision {
    const cur = v.current
    if (cur.kind === 'on-demand') return {target: cur}
    if (this.netFires(v)) return {target: this.fastTarget}
    if (cur.kind === 'spot') return {target: cur, wakeAt: wakeOf(this.netWake(v))}
    const z = this.canStartSpot(v) ? this.cheapestAvailable(v) : -1
    if (z >= 0) return {target: spotTarget(z)}
    return {target: IDLE, wakeAt: wakeOf(this.netWake(v, IDLE))}
  }
}

/**
 * Uniform Progress (Can't Be Late §4), with ep(t) = t·C₀/D the straight line to the
 * deadline and cp(t) the work done, rules in this order of precedence:
 *  - safety net: off spot and R(t) ≤ C(t) + 2d → on-demand, to the end;
 *  - hysteresis: on on-demand, stay while cp(t) < ep(t + 2d);
 *  - exploitation: on spot, stay until preempted;
 *  - taking risks: spot whenever some zone has it, even when behind;
 *  - uniform progress: idle (or just caught up on on-demand) and cp(t) ≤ ep(t) → on-demand.
 * Otherwise wait. The line is checked at tick boundaries (see nextTick), the net continuously.
 */
export class UniformProgress extends SafePolicy {
  private netFired = false
  private readonly rate: number

  /**
   * `spotOverHysteresis`: the other reading of the paper's rules, where taking spot comes
   * before the hysteresis (on-demand is kept for 2d only while there is no spot). Not a
   * registered policy: test/unit/simulator/policies.test.ts pins where the two readings part
   * and properties.test.ts checks that neither misses a deadline.
   */
  constructor(
    setup: PolicySetup,
    private readonly options: {spotOverHysteresis?: boolean} = {},
  ) {
    super(setup)
    this.rate = setup.workHours / setup.deadlineHours
  }

  decide(v: View): Decision {
    const cur = v.current
    if (this.netFired) return {target: this.fastTarget}
    if (this.netFires(v)) {
      if (cur.kind !== 'spot') this.netFired = true
      return {target: this.fastTarget}
    }
    const f = this.rate
    const cp = v.workDone
    const t = v.now
    const spotFirst = this.options.spotOverHysteresis === true && this.canStartSpot(v) && this.cheapestAvailable(v) >= 0
    if (cur.kind === 'on-demand' && cp < f * (t + 2 * this.d) - EPS && !spotFirst) return {target: cur, wakeAt: this.hysteresisWake(v, cur)}
    if (cur.kind === 'spot') return {target: cur, wakeAt: wakeOf(this.netWake(v))}
    const z = this.canStartSpot(v) ? this.cheapestAvailable(v) : -1
    if (z >= 0) return {target: spotTarget(z)}
    if (cp <= f * t + EPS) return {target: this.fastTarget, wakeAt: this.hysteresisWake(v, this.fastTarget)}
    return {target: IDLE, wakeAt: wakeOf(this.nextTick(cp / f), this.netWake(v, IDLE))}
  }

  /**
   * Uniform Progress checks its line at tick boundaries, as the paper's simulator does (the
   * safety net alone is watched continuously): in continuous time, with a small d, "behind"
   * and "caught up" would alternate without end along the line.
   */
  private nextTick(time: number): number {
    const g = this.setup.gapHours
    return Math.ceil(time / g - 1e-9) * g
  }

  /** When cp(t) reaches ep(t + 2d) on on-demand `target` (entered now if not already on it). */
  private hysteresisWake(v: View, target: Target): number | undefined {
    const f = this.rate
    const s = this.speedOf(target)
    const t = v.now
    const L = sameTarget(target, v.current) ? v.changeoverLeft : this.d
    // On on-demand cp grows at s per hour once the changeover is over, ep(t + 2d) at f.
    const cross = s > f ? (2 * this.d * f - v.workDone + s * (t + L)) / (s - f) : NONE
    return wakeOf(this.nextTick(Math.max(cross, t + L)), this.netWake(v, target))
  }
}

// ---- skyhop ---------------------------------------------------------------------------

/** Hours of exposure the planner's prior preemption rate is worth: one pseudo-preemption. */
const RATE_PRIOR_HOURS = 1 / PREEMPTION_PRIOR_PER_HOUR
/** Hours of observation the prior spot-work rate is worth. */
const SUPPLY_PRIOR_HOURS = 8
/** Checkpointing in the notice window loses (almost) no work: what spotOverhead is told. */
const CHECKPOINT_ON_NOTICE_HOURS = 1 / 3600

/**
 * How much more than its two changeovers a move from on-demand to spot must be expected to
 * gain. The expected useful run comes from a handful of observed runs with a heavy tail, so
 * a move that only breaks even on it loses more often than it wins (a spot run that ends
 * early costs two changeovers for little work). Measured on the shared traces (300 seeds,
 * 45 scenarios): 1 → mean cost/OD 0.5644, 40 of 44 at most min(Greedy, UP); 1.25 → 0.5636;
 * 1.5 → 0.5629, 41 of 44; 2 → 0.5621 but 39 of 44.
 */
const LEAVE_ON_DEMAND_PREMIUM = 1.5

export type Ranking = 'work' | 'hourly'

/**
 * skyhop's policy. What it adds to Uniform Progress:
 *  - Many zones and regions. When its zone is taken back it moves to another zone with
 *    spot, preferring another region (the controller's eager-next-region: regions where
 *    the job was preempted are passed over while another region has spot; when only they
 *    have it, the blocks are dropped, as the controller does).
 *  - Learned markets, from what it has seen since the job started (no history, no future):
 *    per zone, the mean length of spot runs and of outages (the planner's prior of 0.4
 *    preemptions/h is worth one pseudo-run until observations outweigh it), and over all
 *    zones the spot work an hour of waiting has yielded. Spot runs and outages have a
 *    decreasing hazard (a zone whose spot has just come back often loses it again within a
 *    tick; one that has held for hours tends to keep holding), modelled as a Lomax law of
 *    shape 2, whose mean residual life grows with age: m + age.
 *  - Zones ranked by expected cost per unit of work: price / speed × (1 + d / expected
 *    useful run), the useful run being what is left of the residual run after the
 *    changeover. Heterogeneous accelerators are thus compared by work done (speeds from the
 *    planner: the job's throughput table, else registry TFLOPS); `hourly-price` is the same
 *    policy ranking by hourly price alone.
 *  - When to stop waiting. It compares the work left with the spot work still to come:
 *    learned spot-work rate × (R − 2d − expected preemptions × d), the preemptions from the
 *    planner's spotOverhead estimator. Not behind: wait through outages. Behind: on-demand
 *    hours are inevitable, but where they go does not change how many there are, while
 *    every on-demand start costs a changeover; so it first spends its spare slack waiting
 *    (Greedy's strength), keeping in reserve 2d plus d per expected preemption (2d each
 *    while behind: a restart and an on-demand start) so that spot stays usable to the end
 *    (where Greedy is locked on on-demand). Out of spare slack, it starts on-demand in an
 *    outage expected to last long enough for the slack saved to pay for the changeover
 *    (an hour of slack is worth the spot it would buy), stays until clearly ahead (the
 *    supply to come beats the work left by max(1 h, 5d) of it), and leaves for spot when
 *    the expected useful run pays for the two changeovers (with a premium) and the slack they cost.
 *  - Grace. On a preemption notice it launches the replacement spot instance in another
 *    zone at once, so the new changeover overlaps the old instance's last minutes.
 *  - Deadline-safe: the same safety net as Greedy and Uniform Progress.
 */
export class SkyhopPolicy extends SafePolicy {
  private readonly markets: readonly SpotMarket[]
  private readonly key: Float64Array
  private readonly odKey: Float64Array
  // What it has seen since the start.
  private lastT = 0
  private started = false
  private readonly up: Uint8Array
  /** When each zone's availability last changed (the job's start if not since). */
  private readonly since: Float64Array
  private readonly upHours: Float64Array
  private readonly downHours: Float64Array
  private readonly drops: Float64Array
  private readonly returns: Float64Array
  private elapsed = 0
  /** ∫ (speed of the fastest zone with spot) dt: the spot work waiting could have bought. */
  private supply = 0
  private readonly supplyPrior: number
  private readonly meanDownPrior: number
  /** Markets cheaper than every on-demand option by the ranking: the only ones worth waiting for. */
  private readonly worthy: Uint8Array
  private readonly blockedRegions = new Set<string>()
  /** The replacement launched on a notice: for which zone's preemption, until when. */
  private prelaunch: {gone: number; target: Target; until: number} | null = null

  constructor(setup: PolicySetup, ranking: Ranking = 'work') {
    super(setup)
    this.markets = setup.markets
    const n = setup.markets.length
    this.key = Float64Array.from(setup.markets, (m) => (ranking === 'work' ? m.spotUsdPerHour / m.speed : m.spotUsdPerHour))
    this.odKey = Float64Array.from(setup.onDemand, (o) => (ranking === 'work' ? o.usdPerHour / o.speed : o.usdPerHour))
    this.up = new Uint8Array(n)
    this.since = new Float64Array(n)
    this.upHours = new Float64Array(n)
    this.downHours = new Float64Array(n)
    this.drops = new Float64Array(n)
    this.returns = new Float64Array(n)
    const cheapestOd = Math.min(...this.odKey)
    this.worthy = Uint8Array.from(this.key, (k) => (k < cheapestOd ? 1 : 0))
    // Before any observation, spot is assumed to offer the job exactly the rate it needs
    // (Uniform Progress's straight line), with outages as long as that availability and
    // the prior run length imply.
    this.supplyPrior = Math.min(1, setup.workHours / setup.deadlineHours)
    this.meanDownPrior = (RATE_PRIOR_HOURS * (1 - this.supplyPrior)) / Math.max(this.supplyPrior, 0.05)
  }

  private observe(v: View): void {
    const ms = this.markets
    const dt = v.now - this.lastT
    if (this.started && dt > 0) {
      let best = 0
      for (let z = 0; z < ms.length; z++) {
        if (this.up[z] === 1) {
          this.upHours[z] += dt
          if (ms[z].speed > best && this.worthy[z] === 1) best = ms[z].speed
        } else {
          this.downHours[z] += dt
        }
      }
      this.supply += best * dt
      this.elapsed += dt
    }
    for (let z = 0; z < ms.length; z++) {
      const now = v.available[z] ? 1 : 0
      if (this.started && now !== this.up[z]) {
        if (now === 0) this.drops[z]++
        else this.returns[z]++
        this.since[z] = v.now
      }
      this.up[z] = now
    }
    this.started = true
    this.lastT = v.now
    if (v.preemptedMarket >= 0) this.blockedRegions.add(ms[v.preemptedMarket].region)
  }

  /** Preemptions per hour of spot in zone z: the planner's prior until observations outweigh it. */
  rate(z: number): number {
    return (this.drops[z] + PREEMPTION_PRIOR_PER_HOUR * RATE_PRIOR_HOURS) / (this.upHours[z] + RATE_PRIOR_HOURS)
  }

  /** Expected hours of spot left in zone z's current run (Lomax shape 2: mean + age). */
  private residualUp(z: number, now: number): number {
    return 1 / this.rate(z) + (now - this.since[z])
  }

  /** Expected hours until some zone has spot again (the soonest of the zones' residual outages). */
  private residualOutage(now: number): number {
    let best = NONE
    for (let z = 0; z < this.markets.length; z++) {
      if (this.worthy[z] === 0) continue
      if (this.up[z] === 1) return 0
      const mean = (this.downHours[z] + this.meanDownPrior) / (this.returns[z] + 1)
      best = Math.min(best, mean + (now - this.since[z]))
    }
    return best
  }

  /** Expected work-hours of a spot start in zone z after its changeover: ∫_d^∞ S(x) dx = σ²/(σ + d). */
  private usefulRun(z: number, now: number): number {
    const sigma = this.residualUp(z, now)
    return (sigma * sigma) / (sigma + this.d)
  }

  /** Expected cost per unit of work (or per hour, for `hourly`) of a spot start in zone z now. */
  score(z: number, now: number): number {
    return this.key[z] * (1 + this.d / Math.max(this.usefulRun(z, now), EPS))
  }

  /** Spot work per hour of wall time the markets have been offering. */
  supplyRate(): number {
    return (this.supply + this.supplyPrior * SUPPLY_PRIOR_HOURS) / (this.elapsed + SUPPLY_PRIOR_HOURS)
  }

  /** Preemptions expected over the spot work still to come (the planner's spotOverhead, pooled rate). */
  private futurePreemptions(v: View, rho: number): number {
    let drops = 0
    let hours = 0
    for (let z = 0; z < this.markets.length; z++) {
      drops += this.drops[z]
      hours += this.upHours[z]
    }
    const pooled = (drops + PREEMPTION_PRIOR_PER_HOUR * RATE_PRIOR_HOURS) / (hours + RATE_PRIOR_HOURS)
    const workLeft = v.workTotal - v.workDone
    const o = spotOverhead(pooled, Math.min(workLeft, rho * (v.deadline - v.now)), this.d, CHECKPOINT_ON_NOTICE_HOURS)
    return o.viable ? o.preemptions : (v.deadline - v.now) / Math.max(this.d, EPS)
  }

  /** Best zone to start spot in now, or -1: eager-next-region, then expected cost; never dearer than on-demand. */
  private pickZone(v: View, skip: number, extraBlocked: string | null): number {
    const odKey = this.odKey[this.discretionaryOnDemand(v)]
    let best = -1
    let bestScore = NONE
    let fallback = -1
    let fallbackScore = NONE
    for (let z = 0; z < this.markets.length; z++) {
      if (!v.available[z] || z === skip || this.key[z] >= odKey) continue
      const s = this.score(z, v.now)
      const region = this.markets[z].region
      if (this.blockedRegions.has(region) || region === extraBlocked) {
        if (s < fallbackScore) {
          fallback = z
          fallbackScore = s
        }
      } else if (s < bestScore) {
        best = z
        bestScore = s
      }
    }
    if (best < 0 && fallback >= 0 && extraBlocked === null) this.blockedRegions.clear()
    return best >= 0 ? best : fallback
  }

  /** The on-demand option to run on when not forced: cheapest by the ranking among those that can still finish. */
  private discretionaryOnDemand(v: View): number {
    const workLeft = v.workTotal - v.workDone
    const room = v.deadline - v.now - 3 * this.d
    let best = this.fast
    let bestKey = this.odKey[this.fast]
    this.setup.onDemand.forEach((o, i) => {
      if (workLeft / o.speed <= room && this.odKey[i] < bestKey) {
        best = i
        bestKey = this.odKey[i]
      }
    })
    return best
  }

  /** USD an hour of slack is worth while behind: the spot work it would buy instead of on-demand. */
  private slackValue(rho: number, od: number, z: number): number {
    const o = this.setup.onDemand[od]
    const m = this.markets[z]
    return rho * Math.max(0, o.usdPerHour / o.speed - m.spotUsdPerHour / m.speed)
  }

  /** The cheapest market per unit of work, available or not (what waiting is for). */
  private bestMarket(): number {
    let best = 0
    for (let z = 1; z < this.markets.length; z++) if (this.key[z] < this.key[best]) best = z
    return best
  }

  /** Leave on-demand option `od` for zone z's spot? The useful run must pay for two changeovers and their slack. */
  private worthLeaving(z: number, od: number, now: number, behind: boolean, rho: number): boolean {
    const m = this.markets[z]
    const o = this.setup.onDemand[od]
    const gain = m.speed * (o.usdPerHour / o.speed - m.spotUsdPerHour / m.speed) * this.usefulRun(z, now)
    const slackCost = behind ? 2 * this.d * this.slackValue(rho, od, z) : 0
    return gain > LEAVE_ON_DEMAND_PREMIUM * this.d * (m.spotUsdPerHour + o.usdPerHour) + slackCost
  }

  decide(v: View): Decision {
    this.observe(v)
    const cur = v.current
    if (this.netFires(v)) return {target: this.fastTarget}

    if (cur.kind === 'spot') {
      if (v.event === 'notice' && v.noticeMarket === cur.market) this.prelaunch = {gone: cur.market, target: IDLE, until: v.noticeAt}
      const p = this.prelaunch
      if (p !== null && (p.gone !== cur.market || v.now >= p.until)) this.prelaunch = null
      else if (p !== null && (p.target.kind !== 'spot' || !v.available[p.target.market])) {
        // Choose (again, if the one chosen lost its spot during the notice) the replacement.
        const z = this.canStartSpot(v) ? this.pickZone(v, p.gone, this.markets[p.gone].region) : -1
        p.target = z >= 0 ? spotTarget(z) : IDLE
      }
      const pending = this.prelaunch !== null && this.prelaunch.target.kind === 'spot' ? this.prelaunch.target : undefined
      return {target: cur, prelaunch: pending, wakeAt: wakeOf(this.netWake(v))}
    }
    this.prelaunch = null

    const rho = this.supplyRate()
    const workLeft = v.workTotal - v.workDone
    const R = v.deadline - v.now
    const preemptions = this.futurePreemptions(v, rho)
    // Spot work still to come, net of the time its restarts cost; behind when it falls short.
    const ahead = rho * Math.max(0, R - 2 * this.d - preemptions * this.d)
    const behind = workLeft > ahead - EPS
    // Slack to keep for the changeovers still to come: a restart per preemption, and, while
    // behind, an on-demand start per outage as well.
    const reserve = 2 * this.d + preemptions * this.d * (behind ? 2 : 1)
    // Thresholds are crossed up to rounding: a spare below a second counts as none.
    const spare = this.slack(v) - reserve - SECOND

    if (this.canStartSpot(v)) {
      const z = this.pickZone(v, -1, null)
      if (z >= 0 && (cur.kind !== 'on-demand' || this.worthLeaving(z, cur.option, v.now, behind, rho))) return {target: spotTarget(z)}
    }
    const recheck = v.now + this.setup.gapHours

    if (cur.kind === 'on-demand') {
      // Stay until clearly ahead: the supply to come beats the work left by an hour of it
      // (so the idle spell that follows is worth the changeover that ends it).
      const margin = rho * Math.max(1, 5 * this.d)
      if (behind || workLeft > ahead - margin || spare <= 0) {
        const up = this.up.includes(1) ? recheck : NONE
        return {target: cur, wakeAt: wakeOf(up, this.netWake(v))}
      }
      return {target: IDLE, wakeAt: wakeOf(recheck, this.netWake(v, IDLE))}
    }
    if (behind && spare <= 0) {
      // Out of spare slack: on-demand through an outage expected to outlast the changeover
      // by enough for the slack it saves to pay for it; a short one is waited out.
      const od = this.discretionaryOnDemand(v)
      const o = this.setup.onDemand[od]
      const outage = this.residualOutage(v.now)
      if ((outage - this.d) * this.slackValue(rho, od, this.bestMarket()) > this.d * o.usdPerHour) return {target: onDemandTarget(od)}
      return {target: IDLE, wakeAt: wakeOf(recheck, this.netWake(v, IDLE))}
    }
    // Spare slack, or spot enough to come: wait. Look again when the spare runs out.
    return {target: IDLE, wakeAt: wakeOf(behind ? v.now + spare : recheck, this.netWake(v, IDLE))}
  }
}

// ---- omniscient -----------------------------------------------------------------------

/**
 * The hindsight reference: knowing every trace in advance, a cheap schedule of steps of
 * whole ticks (at least 5 minutes: idle, spot in a zone, or an on-demand option per step,
 * each start paying the changeover) that does the work within the deadline. Found by
 * Lagrangian relaxation: for a price λ per unit of work, a DP over steps × (option,
 * changeover phase) maximises λ·work − cost, and bisection finds the smallest λ whose plan
 * does all the work; because changeovers make the problem non-convex, the plan just below
 * that λ is also repaired with on-demand blocks, and the cheaper of the two is kept.
 * Cost: O(steps × options × ⌈d/step⌉) per bisection step. It is an achievable plan, not a
 * proof of optimality: no online policy should beat it by much, and the gap between it and
 * a policy is what foresight would be worth.
 */
class Omniscient extends SafePolicy {
  private plan: Int32Array | null = null

  decide(v: View): Decision {
    const g = this.setup.gapHours
    if (this.plan === null) this.plan = hindsightPlan(this.setup)
    const plan = this.plan
    const k = Math.floor(v.now / g + 1e-7)
    if (k >= plan.length) return {target: this.fastTarget}
    const code = plan[k]
    const Z = this.setup.markets.length
    let target: Target = code < 0 ? IDLE : code < Z ? spotTarget(code) : onDemandTarget(code - Z)
    // The plan never asks for spot where there is none; if reality and plan disagree, be safe.
    if (target.kind === 'spot' && !v.available[target.market]) target = this.fastTarget
    if (target.kind === 'spot' && v.current.kind === 'spot' && v.current.market === target.market) target = v.current
    let next = k + 1
    while (next < plan.length && plan[next] === code) next++
    return {target, wakeAt: next * g}
  }
}

/** The shortest step the hindsight plan decides in. */
const PLAN_STEP_HOURS = 5 / 60

/** Per tick of the run: -1 idle, z < markets for spot in zone z, markets + o for on-demand option o. */
export function hindsightPlan(setup: PolicySetup): Int32Array {
  // Plans in steps of whole ticks, at least PLAN_STEP_HOURS long: a step has spot only if
  // every tick in it has (so the plan stays feasible), and a 30-second trace costs what a
  // 5-minute one does.
  const fine = setup.gapHours
  const m = Math.max(1, Math.floor(PLAN_STEP_HOURS / fine + 1e-9))
  const g = fine * m
  const d = setup.changeoverHours
  const work = setup.workHours
  const n = Math.floor(Math.floor(setup.deadlineHours / fine + 1e-9) / m)
  const Z = setup.markets.length
  const options = Z + setup.onDemand.length
  const future = setup.future
  const J = d > 0 ? Math.ceil(d / g - 1e-9) : 0
  const P = J + 1
  const S = 1 + options * P
  const speed = new Float64Array(options)
  const price = new Float64Array(options)
  for (let j = 0; j < options; j++) {
    if (j < Z) {
      speed[j] = setup.markets[j].speed
      price[j] = setup.markets[j].spotUsdPerHour
    } else {
      speed[j] = setup.onDemand[j - Z].speed
      price[j] = setup.onDemand[j - Z].usdPerHour
    }
  }
  // Work in a tick spent in phase p of option j: full once the changeover is over.
  const workIn = new Float64Array(options * P)
  for (let j = 0; j < options; j++) {
    for (let p = 0; p <= J; p++) workIn[j * P + p] = speed[j] * (p === J ? g : Math.max(0, g - (d - p * g)))
  }
  // Availability step-major (avail[k·Z + z]): the DP reads one step's zones together.
  const avail = new Uint8Array(Z * Math.max(1, n))
  for (let z = 0; z < Z; z++) {
    for (let k = 0; k < n; k++) {
      let all = future !== undefined
      for (let i = 0; all && i < m; i++) all = future!(z, k * m + i)
      avail[k * Z + z] = all ? 1 : 0
    }
  }
  const cost = new Float64Array(options)
  for (let j = 0; j < options; j++) cost[j] = price[j] * g

  // The bisection runs the DP some twenty times over every step of the run: this loop is
  // where the simulator spends its time, so it keeps no per-state work or back-pointer
  // arrays. The choices are few: idle and every fresh start come from the best state of
  // the step before, phase p from phase p − 1, and only the running phase (or, without a
  // changeover, the one phase) may also come from itself. A trail keeps, per step, that
  // best state and, per option, whether the running phase stayed; walking it back from
  // the end state gives the plan and its work (summed forward, in the order the states
  // were entered, so the figure is the one a per-state running sum would give).
  const N = Math.max(1, n)
  const newTrail = (): Trail => ({best: new Int32Array(N), stay: new Uint8Array(N * options), end: 0})
  const dp: HindsightDp = {
    n,
    Z,
    options,
    J,
    P,
    avail,
    cost,
    workIn,
    gain: new Float64Array(options * P),
    prev: new Float64Array(S),
    next: new Float64Array(S),
  }
  const states = new Int32Array(N)
  const solve = (lambda: number, t: Trail): number => {
    // The end state comes back as a value: a property store after the loop would deoptimize
    // the function at the end of every call (it runs on-stack-replaced code before feedback
    // reaches that store) and send the next call back through the interpreter.
    t.end = solveHindsight(dp, lambda, t)
    return walk(t)
  }

  /** Fills `states` with the trail's state at each step, from its end back; returns the work done. */
  function walk(t: Trail): number {
    let s = t.end
    for (let k = n - 1; k >= 0; k--) {
      states[k] = s
      if (s === 0) {
        s = t.best[k]
        continue
      }
      const j = ((s - 1) / P) | 0
      const p = s - 1 - j * P
      if (p === J && t.stay[k * options + j] === 1) continue
      s = p === 0 ? t.best[k] : s - 1
    }
    let w = 0
    for (let k = 0; k < n; k++) if (states[k] !== 0) w += workIn[states[k] - 1]
    return w
  }

  const fallback = (): Int32Array => new Int32Array(Math.max(1, n * m)).fill(Z + fastestOnDemand(setup.onDemand))
  if (n === 0) return fallback()
  let maxKey = 0
  for (let j = 0; j < options; j++) maxKey = Math.max(maxKey, price[j] / speed[j])
  let hi = Math.max(1e-6, 2 * maxKey)
  let hiTrail = newTrail()
  let loTrail = newTrail()
  let scratch = newTrail()
  let guard = 0
  while (solve(hi, hiTrail) < work - 1e-9) {
    hi *= 4
    if (++guard > 20) return fallback()
  }
  let lo = 0
  for (let i = 0; i < 30 && hi - lo > 1e-4 * hi; i++) {
    const mid = (lo + hi) / 2
    // The trail of the last λ to become hi (or lo) is kept: the plans at the end need no second solve.
    if (solve(mid, scratch) >= work - 1e-9) {
      hi = mid
      ;[hiTrail, scratch] = [scratch, hiTrail]
    } else {
      lo = mid
      ;[loTrail, scratch] = [scratch, loTrail]
    }
  }
  const above = reconstruct(hiTrail)
  const below = lo > 0 ? reconstruct(loTrail) : null
  // The relaxation only sees plans on the convex hull: where the first on-demand tick costs
  // a changeover, the plan just above the work can overshoot it by far (all on-demand
  // rather than one tick of it). So also repair the plan just below — fill its longest idle
  // spells with on-demand blocks until the work is done — and keep the cheaper of the two.
  const repaired = below === null ? null : repair(below)
  const a = evaluate(above)
  const b = repaired === null ? null : evaluate(repaired)
  if (!a.done && (b === null || !b.done)) return fallback()
  const best = b !== null && b.done && (!a.done || b.cost < a.cost) ? repaired! : above
  if (m === 1) return best
  const ticks = new Int32Array(n * m)
  for (let k = 0; k < n; k++) ticks.fill(best[k], k * m, (k + 1) * m)
  return ticks

  function reconstruct(t: Trail): Int32Array {
    walk(t)
    const plan = new Int32Array(n)
    for (let k = 0; k < n; k++) plan[k] = states[k] === 0 ? -1 : Math.floor((states[k] - 1) / P)
    return plan
  }

  /** Cost of following a plan until the work is done, as the engine would charge it, and the work it does. */
  function evaluate(plan: Int32Array): {cost: number; done: boolean; work: number} {
    let cost = 0
    let done = 0
    let left = 0
    let prevCode = -1
    for (let k = 0; k < n; k++) {
      const c = plan[k]
      if (c !== prevCode && c >= 0) left = d
      prevCode = c
      if (c < 0) continue
      const co = Math.min(left, g)
      left -= co
      const w = speed[c] * (g - co)
      if (done + w >= work - 1e-9) {
        cost += price[c] * (co + (work - done) / speed[c])
        return {cost, done: true, work}
      }
      done += w
      cost += price[c] * g
    }
    return {cost, done: false, work: done}
  }

  /** The plan with on-demand blocks (fastest option) in its longest idle spells until it does the work. */
  function repair(plan: Int32Array): Int32Array {
    const out = Int32Array.from(plan)
    const odCode = Z + fastestOnDemand(setup.onDemand)
    const spells: Array<[number, number]> = []
    for (let k = 0; k < n;) {
      if (out[k] !== -1) {
        k++
        continue
      }
      let e = k
      while (e < n && out[e] === -1) e++
      spells.push([k, e])
      k = e
    }
    spells.sort((x, y) => y[1] - y[0] - (x[1] - x[0]))
    for (const [a0, e] of spells) {
      const r = evaluate(out)
      if (r.done) break
      // Enough ticks of this spell for what is missing (one changeover), or all of it; a
      // block that turns out a tick short (it follows spot, or ends where spot begins) grows.
      const missing = work - r.work
      let m = Math.min(e - a0, Math.ceil((missing / speed[odCode] + d) / g - 1e-9))
      for (let k = a0; k < a0 + m; k++) out[k] = odCode
      while (!evaluate(out).done && a0 + m < e) out[a0 + m++] = odCode
    }
    return out
  }
}

/**
 * Where the hindsight plan's DP went for one λ: per step the best state of the step before,
 * per step and option whether the running phase stayed, and the end state.
 */
interface Trail {
  best: Int32Array
  stay: Uint8Array
  end: number
}

/** The hindsight DP's sizes and tables, shared by every λ of one plan. */
interface HindsightDp {
  n: number
  Z: number
  options: number
  J: number
  P: number
  /** Step-major: avail[k·Z + z]. */
  avail: Uint8Array
  /** USD of a step on each option. */
  cost: Float64Array
  /** Work of a step in phase p of option j, at [j·P + p]. */
  workIn: Float64Array
  /** Scratch: λ · workIn. */
  gain: Float64Array
  prev: Float64Array
  next: Float64Array
}

/**
 * The DP for one λ, leaving its trail in `t`; returns the end state. Written with every table in a local and no
 * closure: the bisection runs it some twenty times over every step of the run, and it is
 * where the simulator spends its time. Each value is (predecessor + λ·w) − price·step, the
 * same operations in the same order for every λ, so plans do not depend on how it is run.
 */
function solveHindsight(dp: HindsightDp, lambda: number, t: Trail): number {
  const {n, Z, options, J, P, avail, cost, workIn, gain} = dp
  let prev = dp.prev
  let next = dp.next
  const NEG = Number.NEGATIVE_INFINITY
  for (let i = 0; i < options * P; i++) gain[i] = lambda * workIn[i]
  const bestAt = t.best
  const stay = t.stay
  prev.fill(NEG)
  prev[0] = 0
  let best = 0
  for (let k = 0; k < n; k++) {
    const bv = prev[best]
    bestAt[k] = best
    next[0] = bv
    // The first best state of this step, as a scan in state order would find it.
    let nb = 0
    let nbv = bv
    const ak = k * Z
    const sk = k * options
    for (let j = 0; j < options; j++) {
      const base = 1 + j * P
      if (j < Z && avail[ak + j] === 0) {
        for (let p = 0; p <= J; p++) next[base + p] = NEG
        continue
      }
      const c = cost[j]
      const gj = j * P
      let v: number
      if (J === 0) {
        const self = prev[base]
        const st = self > bv
        stay[sk + j] = st ? 1 : 0
        v = (st ? self : bv) + gain[gj] - c
        next[base] = v
        if (v > nbv) {
          nbv = v
          nb = base
        }
        continue
      }
      v = bv + gain[gj] - c
      next[base] = v
      if (v > nbv) {
        nbv = v
        nb = base
      }
      for (let p = 1; p < J; p++) {
        v = prev[base + p - 1] + gain[gj + p] - c
        next[base + p] = v
        if (v > nbv) {
          nbv = v
          nb = base + p
        }
      }
      const run = prev[base + J]
      const ramp = prev[base + J - 1]
      const st = run > ramp
      stay[sk + j] = st ? 1 : 0
      v = (st ? run : ramp) + gain[gj + J] - c
      next[base + J] = v
      if (v > nbv) {
        nbv = v
        nb = base + J
      }
    }
    const swap = prev
    prev = next
    next = swap
    best = nb
  }
  return best
}

// ---- the registry ---------------------------------------------------------------------

export const POLICIES: readonly PolicySpec[] = [
  {
    name: 'on-demand',
    safe: true,
    omniscient: false,
    summary: 'on-demand from start to end (the cost baseline)',
    create: (s) => new OnDemandOnly(s),
  },
  {
    name: 'spot',
    safe: false,
    omniscient: false,
    summary: 'spot whenever some zone has it, wait otherwise; never on-demand',
    create: (s) => new SpotOnly(s),
  },
  {
    name: 'greedy',
    safe: true,
    omniscient: false,
    summary: "Can't Be Late Greedy: spot when available, else wait; on-demand to the end once R ≤ C + 2d",
    create: (s) => new Greedy(s),
  },
  {
    name: 'uniform-progress',
    safe: true,
    omniscient: false,
    summary: "Can't Be Late Uniform Progress: on-demand when behind t·C/D, spot when available, 2d hysteresis, safety net",
    create: (s) => new UniformProgress(s),
  },
  {
    name: 'omniscient',
    safe: true,
    omniscient: true,
    summary: 'hindsight plan: the cheapest tick schedule knowing every trace in advance',
    create: (s) => new Omniscient(s),
  },
  {
    name: 'hourly-price',
    safe: true,
    omniscient: false,
    summary: "skyhop's policy ranking markets by hourly price alone",
    create: (s) => new SkyhopPolicy(s, 'hourly'),
  },
  {
    name: 'skyhop',
    safe: true,
    omniscient: false,
    summary: 'multi-zone, learned preemption rates, work-done ranking, notice-aware, safety net',
    create: (s) => new SkyhopPolicy(s, 'work'),
  },
]

const ALIASES: Record<string, string> = {
  up: 'uniform-progress',
  od: 'on-demand',
  'on-demand-only': 'on-demand',
  'spot-only': 'spot',
  optimal: 'omniscient',
}

export function findPolicy(name: string): PolicySpec | undefined {
  const n = name.trim().toLowerCase()
  const canonical = ALIASES[n] ?? n
  return POLICIES.find((p) => p.name === canonical)
}
