// Small numeric helpers of the simulator: a seeded generator for start offsets, and a
// log-bucketed histogram for decision latencies (millions of samples in constant memory,
// percentiles within 2%).

/** mulberry32: a tiny, fast, seedable generator of numbers in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const MIN_MS = 1e-6
const GROWTH = 1.02
const BUCKETS = Math.ceil(Math.log(1e5 / MIN_MS) / Math.log(GROWTH)) + 1
const LOG_GROWTH = Math.log(GROWTH)

/** Decision latencies in milliseconds: count, percentiles (bucket midpoints), max. */
export class LatencyHistogram {
  private readonly counts = new Float64Array(BUCKETS)
  count = 0
  max = 0

  record(ms: number): void {
    const i = ms <= MIN_MS ? 0 : Math.min(BUCKETS - 1, Math.floor(Math.log(ms / MIN_MS) / LOG_GROWTH) + 1)
    this.counts[i]++
    this.count++
    if (ms > this.max) this.max = ms
  }

  /** Its state, to send to another thread (postMessage copies it). */
  snapshot(): {counts: Float64Array; count: number; max: number} {
    return {counts: this.counts, count: this.count, max: this.max}
  }

  merge(from: LatencyHistogram | {counts: Float64Array; count: number; max: number}): void {
    const other = from instanceof LatencyHistogram ? from.snapshot() : from
    for (let i = 0; i < BUCKETS; i++) this.counts[i] += other.counts[i]
    this.count += other.count
    if (other.max > this.max) this.max = other.max
  }

  /** The q-quantile (0..1) in milliseconds; 0 when empty. */
  quantile(q: number): number {
    if (this.count === 0) return 0
    const rank = Math.max(1, Math.ceil(q * this.count))
    let seen = 0
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]
      if (seen >= rank) {
        if (i === 0) return MIN_MS
        const lo = MIN_MS * GROWTH ** (i - 1)
        return Math.min(this.max, lo * Math.sqrt(GROWTH))
      }
    }
    return this.max
  }
}

export function mean(xs: readonly number[]): number {
  if (xs.length === 0) return 0
  let s = 0
  for (const x of xs) s += x
  return s / xs.length
}
