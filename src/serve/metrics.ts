// Request metrics of the load balancer, per replica: the request rate and latency
// percentiles over a sliding window. Samples are kept in a ring per replica and sorted only
// when read (status, the autoscaler's tick), so recording a request costs two array writes.

export interface LatencyStats {
  /** Requests finished within the window, per second. */
  ratePerSecond: number
  /** Latency percentiles in milliseconds over the window; null with no sample. */
  p50Ms: number | null
  p95Ms: number | null
  p99Ms: number | null
  /** Requests finished within the window. */
  samples: number
}

/** A ring of (finish time, latency) samples; older than the window is ignored when read. */
export class SlidingWindow {
  private readonly at: Float64Array
  private readonly latency: Float64Array
  private next = 0
  private filled = 0

  constructor(
    readonly windowMs: number,
    capacity = 65_536,
  ) {
    this.at = new Float64Array(capacity)
    this.latency = new Float64Array(capacity)
  }

  record(nowMs: number, latencyMs: number): void {
    this.at[this.next] = nowMs
    this.latency[this.next] = latencyMs
    this.next = (this.next + 1) % this.at.length
    if (this.filled < this.at.length) this.filled++
  }

  stats(nowMs: number): LatencyStats {
    const since = nowMs - this.windowMs
    const values: number[] = []
    let oldest = nowMs
    for (let i = 0; i < this.filled; i++) {
      if (this.at[i] < since) continue
      values.push(this.latency[i])
      if (this.at[i] < oldest) oldest = this.at[i]
    }
    // A full ring holds less than the window at a high rate: the rate is over what it holds.
    const spanMs = this.filled === this.at.length && values.length === this.filled ? Math.max(1, nowMs - oldest) : this.windowMs
    values.sort((a, b) => a - b)
    return {
      ratePerSecond: (values.length * 1000) / spanMs,
      p50Ms: percentile(values, 0.5),
      p95Ms: percentile(values, 0.95),
      p99Ms: percentile(values, 0.99),
      samples: values.length,
    }
  }
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[rank]
}
