// The simulated clock and spot market: one job, one policy, one start offset in the
// traces. Pure and event-driven: time jumps from one thing that matters to the next (a
// tick where some zone's availability changes, a preemption, its notice, the end of a
// changeover, the end of the work, or a time the policy asked to be woken at), and
// between two of them everything is linear, so a 45-day trace costs what its changes
// cost, never a sleep.
//
// The market model (the Can't Be Late one): tick k of a trace covers [k·gap, (k+1)·gap)
// and a zone has spot during it when the trace shows at least `nodes` instances. A spot
// instance keeps running while its zone has spot and is taken back at the first tick
// boundary where it has none; work done is kept (the job checkpoints in its grace
// window). On-demand is always there. Every start or switch costs the changeover delay d:
// paid at the new instance's price, with no progress. A job that misses its deadline
// keeps going under its policy; one still unfinished at the horizon is finished on the
// fastest on-demand option and flagged.
import {BugError} from '../errors.js'
import type {Decision, DecisionEvent, Policy, RunOutcome, Scenario, Target} from './types.js'

export const IDLE: Target = Object.freeze({kind: 'idle'})

export function spotTarget(market: number): Target {
  return {kind: 'spot', market}
}

export function onDemandTarget(option: number): Target {
  return {kind: 'on-demand', option}
}

export function sameTarget(a: Target, b: Target): boolean {
  if (a.kind !== b.kind) return false
  if (a.kind === 'spot') return a.market === (b as {market: number}).market
  if (a.kind === 'on-demand') return a.option === (b as {option: number}).option
  return true
}

/** Receives the wall time of each decide call, in milliseconds. */
export interface LatencyRecorder {
  record(ms: number): void
}

export interface EngineOptions {
  latency?: LatencyRecorder
  /** Milliseconds, monotonic; `performance.now` unless a test injects one. */
  clock?: () => number
  /** Ask the policy at every tick boundary, not only when something changed (tests check both agree). */
  everyTick?: boolean
  /** Hours after which an unfinished job is cut off; default max(10·D, D + 4·C / slowest speed). */
  horizonHours?: number
}

const EPS = 1e-9
/** The shortest step to a requested wake-up: 3.6 ms of simulated time. */
const MIN_STEP = 1e-6

/**
 * For each tick of a (circular) trace, how many ticks until its availability for `nodes`
 * differs: 1 when the next tick differs. A trace that never changes gets its length + 1 …
 * which the engine reads as "not before the run wraps around twice", i.e. never.
 */
export function changeDistances(data: Uint16Array, nodes: number): Int32Array {
  const n = data.length
  const out = new Int32Array(n)
  let constant = true
  for (let i = 1; i < n && constant; i++) constant = data[i] >= nodes === data[0] >= nodes
  if (constant) return out.fill(NEVER)
  // Two passes backwards around the circle: the second sees every wrap-around.
  let next = NEVER
  for (let p = 2 * n - 1; p >= 0; p--) {
    const i = p % n
    const j = (p + 1) % n
    next = data[j] >= nodes !== data[i] >= nodes ? 1 : next + 1
    if (p < n) out[i] = next
  }
  return out
}

/**
 * For markets whose traces have one length, per tick the ticks until any of them changes:
 * the least of their changeDistances. It lets a step of the engine skip to the next change
 * without looking at every zone. Null when the lengths differ (a start offset then lands on
 * different ticks of each trace) or there is no market.
 */
export function nextChangeOfAny(changes: readonly Int32Array[]): Int32Array | null {
  if (changes.length === 0) return null
  const n = changes[0].length
  if (changes.some((c) => c.length !== n)) return null
  const out = Int32Array.from(changes[0])
  for (let z = 1; z < changes.length; z++) {
    const c = changes[z]
    for (let i = 0; i < n; i++) if (c[i] < out[i]) out[i] = c[i]
  }
  return out
}

/** "No change ahead" for a trace that never changes: far beyond any horizon. */
const NEVER = 1 << 30

export function defaultHorizon(sc: Scenario): number {
  let slowest = Number.POSITIVE_INFINITY
  for (const m of sc.spot) slowest = Math.min(slowest, m.speed)
  for (const o of sc.onDemand) slowest = Math.min(slowest, o.speed)
  return Math.max(10 * sc.deadlineHours, sc.deadlineHours + (4 * sc.workHours) / slowest)
}

/** Replays one run. Throws BugError when a policy asks for spot where there is none. */
export function simulate(sc: Scenario, policy: Policy, options: EngineOptions = {}): RunOutcome {
  const g = sc.gapHours
  const zones = sc.spot.length
  const work = sc.workHours
  const d = sc.changeoverHours
  const notice = sc.noticeHours
  const horizon = options.horizonHours ?? defaultHorizon(sc)
  const latency = options.latency
  const clock = options.clock ?? (() => performance.now())
  const everyTick = options.everyTick === true
  if (!(g > 0)) throw new BugError('simulate: gapHours must be positive')
  if (sc.onDemand.length === 0) throw new BugError('simulate: a scenario needs at least one on-demand option')

  const data = sc.spot.map((m) => m.data)
  const lengths = data.map((a) => a.length)
  const nodes = sc.nodes
  const changes = sc.changes ?? data.map((a) => changeDistances(a, nodes))
  // The next change of any zone from one index, when the caller shares one (or the changes
  // are computed here anyway); else a look at every zone per step.
  const anyChange = sc.anyChange !== undefined ? sc.anyChange : sc.changes === undefined ? nextChangeOfAny(changes) : null
  const anyLength = lengths[0]
  const availAt = (z: number, k: number): boolean => data[z][(sc.startTick + k) % lengths[z]] >= nodes
  /** Ticks from tick k of the run until zone z's availability next changes. */
  const untilChange = (z: number, k: number): number => changes[z][(sc.startTick + k) % lengths[z]]
  const available: boolean[] = new Array(zones)
  for (let z = 0; z < zones; z++) available[z] = availAt(z, 0)

  let fastest = 0
  for (let o = 1; o < sc.onDemand.length; o++) {
    const a = sc.onDemand[o]
    const b = sc.onDemand[fastest]
    if (a.speed > b.speed || (a.speed === b.speed && a.usdPerHour < b.usdPerHour)) fastest = o
  }

  const view = {
    now: 0,
    deadline: sc.deadlineHours,
    workTotal: work,
    workDone: 0,
    changeover: d,
    current: IDLE,
    changeoverLeft: 0,
    available: available as readonly boolean[],
    event: 'start' as DecisionEvent,
    preemptedMarket: -1,
    noticeMarket: -1,
    noticeAt: Number.NaN,
  }

  let t = 0
  let k = 0
  let done = 0
  let cur: Target = IDLE
  let curLeft = 0
  let pre: Target | null = null
  let preLeft = 0
  let wake = Number.POSITIVE_INFINITY
  /** The tick whose preemption has been announced (one notice per preemption). */
  let noticedTick = -1
  let readyNow = false

  let costUsd = 0
  let spotHours = 0
  let onDemandHours = 0
  let spotWorkHours = 0
  let onDemandWorkHours = 0
  let changeovers = 0
  let preemptions = 0
  let decisions = 0
  let unfinished = false

  const speedOf = (x: Target): number =>
    x.kind === 'spot' ? sc.spot[x.market].speed : x.kind === 'on-demand' ? sc.onDemand[x.option].speed : 0
  const pay = (x: Target, dt: number): void => {
    if (x.kind === 'spot') {
      costUsd += sc.spot[x.market].spotUsdPerHour * dt
      spotHours += dt
    } else if (x.kind === 'on-demand') {
      costUsd += sc.onDemand[x.option].usdPerHour * dt
      onDemandHours += dt
    }
  }
  const name = (x: Target): string =>
    x.kind === 'spot' ? `spot in ${sc.spot[x.market].zone}` : x.kind === 'on-demand' ? `on-demand ${sc.onDemand[x.option].label}` : 'idle'

  const apply = (dec: Decision): void => {
    const target = dec.target
    if (target.kind === 'spot' && !available[target.market])
      throw new BugError(`policy chose ${name(target)} at ${t.toFixed(3)} h, which has no spot then`)
    if (!sameTarget(target, cur)) {
      if (pre !== null && sameTarget(target, pre)) {
        cur = pre
        curLeft = preLeft
        pre = null
      } else {
        cur = target
        curLeft = target.kind === 'idle' ? 0 : d
        if (target.kind !== 'idle') {
          changeovers++
          // With no changeover the instance is ready at once: say so, as after a changeover.
          if (d === 0) readyNow = true
        }
      }
    }
    const p = dec.prelaunch
    if (p !== undefined && p.kind !== 'idle' && !sameTarget(p, cur)) {
      if (p.kind === 'spot' && !available[p.market]) throw new BugError(`policy prelaunched ${name(p)}, which has no spot now`)
      if (pre === null || !sameTarget(p, pre)) {
        pre = p
        preLeft = d
        changeovers++
      }
    } else {
      pre = null
    }
    // A wake-up due now (a threshold reached up to rounding) is kept, a moment later, rather
    // than dropped: dropping it could leave a policy that waits for it asleep past its deadline.
    wake =
      dec.wakeAt === undefined || !(dec.wakeAt < Number.POSITIVE_INFINITY) ? Number.POSITIVE_INFINITY : Math.max(dec.wakeAt, t + MIN_STEP)
  }

  const ask = (event: DecisionEvent): void => {
    view.now = t
    view.workDone = done
    view.current = cur
    view.changeoverLeft = curLeft
    view.event = event
    let dec: Decision
    if (latency) {
      const t0 = clock()
      dec = policy.decide(view)
      latency.record(clock() - t0)
    } else {
      dec = policy.decide(view)
    }
    decisions++
    view.preemptedMarket = -1
    view.noticeMarket = -1
    view.noticeAt = Number.NaN
    apply(dec)
  }

  ask('start')
  // Time only moves forward, one event at a time; a run that takes this many steps is stuck
  // (a policy and the engine waking each other at the same instant). Fail loudly instead of
  // hanging the caller.
  const maxSteps = 1000 + 20 * Math.ceil(horizon / g) * Math.max(1, sc.spot.length)
  for (let step = 0; ; step++) {
    if (step > maxSteps)
      throw new BugError(
        `simulate: no progress after ${maxSteps} steps at ${t.toFixed(4)} h (work ${done.toFixed(3)}/${work.toFixed(3)} h)`,
      )
    if (done >= work - EPS) break
    if (readyNow) {
      readyNow = false
      ask('changeover-done')
      continue
    }
    if (t >= horizon - EPS) {
      unfinished = true
      break
    }
    // The next tick where some zone's availability changes (or simply the next, when asked to).
    let kNext = k + 1
    if (!everyTick) {
      let step = NEVER
      if (anyChange !== null) step = anyChange[(sc.startTick + k) % anyLength]
      else for (let z = 0; z < zones; z++) step = Math.min(step, untilChange(z, k))
      kNext = k + step
    }
    const tb = kNext * g
    let te = tb
    if (wake < te) te = wake
    let coEnd = Number.POSITIVE_INFINITY
    let finish = Number.POSITIVE_INFINITY
    if (cur.kind !== 'idle') {
      if (curLeft > 0) coEnd = t + curLeft
      else finish = t + (work - done) / speedOf(cur)
      if (coEnd < te) te = coEnd
      if (finish < te) te = finish
    }
    let tn = Number.POSITIVE_INFINITY
    let goneTick = -1
    if (notice > 0 && cur.kind === 'spot') {
      // A running spot instance's zone has spot now; its next change is the preemption.
      goneTick = k + untilChange(cur.market, k)
      if (noticedTick !== goneTick && goneTick < NEVER) {
        tn = Math.max(t, goneTick * g - notice)
        if (tn < te) te = tn
      }
    }
    if (horizon < te) te = horizon

    const dt = te - t
    if (dt > 0) {
      pay(cur, dt)
      if (pre !== null) {
        pay(pre, dt)
        preLeft = Math.max(0, preLeft - dt)
      }
      if (cur.kind !== 'idle') {
        if (curLeft > 0) {
          curLeft = te === coEnd ? 0 : Math.max(0, curLeft - dt)
        } else {
          const w = te === finish ? work - done : speedOf(cur) * dt
          done += w
          if (cur.kind === 'spot') spotWorkHours += w
          else onDemandWorkHours += w
        }
      }
    }
    // The changeover is over when its end is reached, even if no time passes to reach it: a
    // tick boundary that comes a rounding error before coEnd leaves a remainder below the
    // clock's resolution (t + curLeft === t), which subtracting dt = 0 would never clear.
    if (te === coEnd) curLeft = 0
    t = te
    if (done >= work - EPS) break

    let event: DecisionEvent | null = null
    if (te === tb) {
      k = kNext
      let changed = false
      for (let z = 0; z < zones; z++) {
        const a = availAt(z, k)
        if (a !== available[z]) {
          available[z] = a
          changed = true
        }
      }
      // `apply` (a closure) changes `pre`; TypeScript cannot see that here.
      const waiting = pre as Target | null
      if (waiting !== null && waiting.kind === 'spot' && !available[waiting.market]) pre = null
      if (cur.kind === 'spot' && !available[cur.market]) {
        preemptions++
        view.preemptedMarket = cur.market
        if (pre !== null) {
          cur = pre
          curLeft = preLeft
          pre = null
        } else {
          cur = IDLE
          curLeft = 0
        }
        event = 'preempted'
      } else if (changed || everyTick) {
        event = 'tick'
      }
    }
    if (event === null && te === tn) {
      noticedTick = goneTick
      view.noticeMarket = (cur as {market: number}).market
      view.noticeAt = goneTick * g
      event = 'notice'
    }
    if (event === null && te === coEnd) event = 'changeover-done'
    if (event === null && te >= wake - EPS) event = 'wake'
    if (event !== null) ask(event)
  }

  let finishHours = t
  if (unfinished) {
    // Cut off: finish the rest on the fastest on-demand option, as a user would have to.
    const o = sc.onDemand[fastest]
    const left = work - done
    const hours = (cur.kind === 'on-demand' && cur.option === fastest ? curLeft : d) + left / o.speed
    costUsd += hours * o.usdPerHour
    onDemandHours += hours
    onDemandWorkHours += left
    finishHours = t + hours
  }
  return {
    costUsd,
    spotHours,
    onDemandHours,
    spotWorkHours,
    onDemandWorkHours,
    changeovers,
    preemptions,
    finishHours,
    missed: finishHours > sc.deadlineHours + 1e-6,
    unfinished,
    decisions,
  }
}
