// The planner's arithmetic, kept apart so the simulator (issue 10) and sweeps can call it
// and tests can pin it: spot preemption overhead and the pessimistic preemption count.
import {RESTORE_OVERHEAD_HOURS} from './priors.js'

export interface SpotOverhead {
  /** Expected preemptions before the work is done. */
  preemptions: number
  /** Hours from one preemption to running again with the lost work redone: relaunch wait + restore + lost work. */
  perPreemptionHours: number
  /** Expected hours added to the finish. */
  overheadHours: number
  /** Of those, hours an instance is paid for (restore and redone work; the relaunch wait is not billed). */
  billedOverheadHours: number
  /** False when the work is not expected to finish at all at this rate. */
  viable: boolean
}

/**
 * Expected cost of preemptions for `runHours` of uninterrupted work on a market that
 * preempts as a Poisson process of `ratePerHour`.
 *
 * With checkpoints every τ hours a preemption loses τ/2 of work on average (min(τ, T)/2
 * for short runs); the exposed running time includes the redone work and the restore,
 * so N = λ·T / (1 − λ·(lost + restore)), the first-order λ·T corrected for the time the
 * redo itself is exposed. Without checkpoints each preemption loses everything since the
 * start: the classic restart-from-scratch result, N = e^{λT} − 1 attempts fail, each after
 * E[X | X < T] = 1/λ − T/(e^{λT} − 1) hours. Both reduce to λ·T preemptions losing T/2
 * (or τ/2) each when λ·T is small.
 */
export function spotOverhead(
  ratePerHour: number,
  runHours: number,
  relaunchWaitHours: number,
  checkpointHours: number | null,
  /** Filled and returned instead of a new object (the planner's hot loop reuses one). */
  out: SpotOverhead = {preemptions: 0, perPreemptionHours: 0, overheadHours: 0, billedOverheadHours: 0, viable: true},
): SpotOverhead {
  const lambda = ratePerHour
  if (!(lambda > 0) || !(runHours > 0)) {
    out.preemptions = 0
    out.perPreemptionHours = 0
    out.overheadHours = 0
    out.billedOverheadHours = 0
    out.viable = true
    return out
  }
  let preemptions: number
  let lostHours: number
  let viable = true
  if (checkpointHours !== null && checkpointHours > 0) {
    lostHours = Math.min(checkpointHours, runHours) / 2
    const denom = 1 - lambda * (lostHours + RESTORE_OVERHEAD_HOURS)
    if (denom <= 0.05) {
      viable = false
      preemptions = Number.POSITIVE_INFINITY
    } else {
      preemptions = (lambda * runHours) / denom
    }
  } else {
    const x = lambda * runHours
    if (x > 50) {
      viable = false
      preemptions = Number.POSITIVE_INFINITY
      lostHours = 1 / lambda
    } else if (x < 1e-6) {
      // 1/λ − T/(e^{λT} − 1) cancels catastrophically here; its limit is T/2.
      preemptions = x
      lostHours = runHours / 2
    } else {
      const em1 = Math.expm1(x)
      preemptions = em1
      lostHours = 1 / lambda - runHours / em1
    }
  }
  const perPreemptionHours = relaunchWaitHours + RESTORE_OVERHEAD_HOURS + lostHours
  out.preemptions = preemptions
  out.perPreemptionHours = perPreemptionHours
  out.overheadHours = preemptions * perPreemptionHours
  out.billedOverheadHours = preemptions * (RESTORE_OVERHEAD_HOURS + lostHours)
  out.viable = viable
  return out
}

/** The smallest k with P(Poisson(mean) ≤ k) ≥ q; the normal approximation above a mean of 100. */
export function poissonQuantile(mean: number, q: number): number {
  if (!(mean > 0)) return 0
  if (!Number.isFinite(mean)) return Number.POSITIVE_INFINITY
  if (mean > 100) return Math.ceil(mean + normalQuantile(q) * Math.sqrt(mean))
  let p = Math.exp(-mean)
  let cdf = p
  let k = 0
  while (cdf < q && k < 10_000) {
    k++
    p *= mean / k
    cdf += p
  }
  return k
}

/** Acklam-free quick inverse normal for the few quantiles we use. */
function normalQuantile(q: number): number {
  if (q >= 0.99) return 2.326
  if (q >= 0.975) return 1.96
  if (q >= 0.95) return 1.645
  if (q >= 0.9) return 1.2816
  return 0
}
