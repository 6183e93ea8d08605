// The hindsight plan as it was written before its DP was made fast (commit 653c63f): a
// back-pointer and a running work sum per state and step. Kept verbatim as the oracle the
// fast DP (src/simulator/policies.ts, hindsightPlan) must agree with plan for plan.
import {fastestOnDemand} from '../../../src/simulator/policies.js'
import type {PolicySetup} from '../../../src/simulator/types.js'

/** The shortest step the hindsight plan decides in. */
const PLAN_STEP_HOURS = 5 / 60

/** Per tick of the run: -1 idle, z < markets for spot in zone z, markets + o for on-demand option o. */
export function referenceHindsightPlan(setup: PolicySetup): Int32Array {
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
  const avail = new Uint8Array(Z * Math.max(1, n))
  for (let z = 0; z < Z; z++) {
    for (let k = 0; k < n; k++) {
      let all = future !== undefined
      for (let i = 0; all && i < m; i++) all = future!(z, k * m + i)
      avail[z * n + k] = all ? 1 : 0
    }
  }

  const from = new Int32Array(Math.max(1, n) * S)
  const prev = new Float64Array(S)
  const next = new Float64Array(S)
  const workOf = new Float64Array(S)
  const nextWork = new Float64Array(S)

  /** The best plan's work for λ; leaves the back-pointers in `from`. */
  const solve = (lambda: number): {work: number; end: number} => {
    prev.fill(Number.NEGATIVE_INFINITY)
    prev[0] = 0
    workOf.fill(0)
    for (let k = 0; k < n; k++) {
      let best = 0
      for (let s = 1; s < S; s++) if (prev[s] > prev[best]) best = s
      next[0] = prev[best]
      nextWork[0] = workOf[best]
      from[k * S] = best
      for (let j = 0; j < options; j++) {
        const base = 1 + j * P
        const ok = j >= Z || avail[j * n + k] === 1
        for (let p = 0; p <= J; p++) {
          const s = base + p
          if (!ok) {
            next[s] = Number.NEGATIVE_INFINITY
            nextWork[s] = 0
            continue
          }
          // Predecessors: a fresh start (phase 0) comes from the best state of the last tick;
          // phase p from phase p − 1; running (phase J) also from running.
          let src: number
          if (p === 0) {
            src = best
            if (J === 0 && prev[base] > prev[src]) src = base
          } else {
            src = base + p - 1
            if (p === J && prev[base + J] > prev[src]) src = base + J
          }
          const w = workIn[j * P + p]
          next[s] = prev[src] === Number.NEGATIVE_INFINITY ? Number.NEGATIVE_INFINITY : prev[src] + lambda * w - price[j] * g
          nextWork[s] = workOf[src] + w
          from[k * S + s] = src
        }
      }
      prev.set(next)
      workOf.set(nextWork)
    }
    let end = 0
    for (let s = 1; s < S; s++) if (prev[s] > prev[end]) end = s
    return {work: workOf[end], end}
  }

  const fallback = (): Int32Array => new Int32Array(Math.max(1, n * m)).fill(Z + fastestOnDemand(setup.onDemand))
  if (n === 0) return fallback()
  let maxKey = 0
  for (let j = 0; j < options; j++) maxKey = Math.max(maxKey, price[j] / speed[j])
  let hi = Math.max(1e-6, 2 * maxKey)
  let guard = 0
  while (solve(hi).work < work - 1e-9) {
    hi *= 4
    if (++guard > 20) return fallback()
  }
  let lo = 0
  for (let i = 0; i < 30 && hi - lo > 1e-4 * hi; i++) {
    const mid = (lo + hi) / 2
    if (solve(mid).work >= work - 1e-9) hi = mid
    else lo = mid
  }
  const above = reconstruct(solve(hi).end)
  const below = lo > 0 ? reconstruct(solve(lo).end) : null
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

  function reconstruct(end: number): Int32Array {
    const plan = new Int32Array(n)
    let s = end
    for (let k = n - 1; k >= 0; k--) {
      plan[k] = s === 0 ? -1 : Math.floor((s - 1) / P)
      s = from[k * S + s]
    }
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
