// Placing several replicas of a service at once: a maximum-weight bipartite matching of
// replicas to offers (Kuhn–Munkres, the Hungarian algorithm with potentials, O(n²m)). Pure.
// The weights favour what the planner ranked first, offers that already hold the service's
// model or image (a zone where a replica ran: its image is cached, its weights are near), and
// zones (or providers) the service is not in yet, so that one spot interruption, which takes
// a zone's capacity at once, does not take several replicas. Matching all replicas together
// beats placing them one by one, which gives the first the best zone even when that zone is
// the only one a later replica (of another market) could use.

/** A weight that forbids the pair (a spot replica on an on-demand offer). */
export const FORBIDDEN = Number.NEGATIVE_INFINITY

/**
 * The columns assigned to each row (rows ≤ columns) maximizing the total weight; -1 for a
 * row left without an allowed column. `weights[row][column]`.
 */
export function maxWeightAssignment(weights: readonly (readonly number[])[]): number[] {
  const n = weights.length
  if (n === 0) return []
  const m = weights[0].length
  if (m < n) throw new RangeError(`${n} rows need at least as many columns, not ${m}`)
  // Min-cost form: forbidden pairs cost more than any allowed assignment can.
  let finiteMax = 0
  for (const row of weights) for (const w of row) if (Number.isFinite(w)) finiteMax = Math.max(finiteMax, Math.abs(w))
  const big = (finiteMax + 1) * (n + 1) * 4
  const cost = (i: number, j: number) => (Number.isFinite(weights[i - 1][j - 1]) ? -weights[i - 1][j - 1] : big)
  const u = new Float64Array(n + 1)
  const v = new Float64Array(m + 1)
  const p = new Int32Array(m + 1) // p[j]: the row matched to column j (0: none)
  const way = new Int32Array(m + 1)
  for (let i = 1; i <= n; i++) {
    p[0] = i
    let j0 = 0
    const minv = new Float64Array(m + 1).fill(Infinity)
    const used = new Uint8Array(m + 1)
    do {
      used[j0] = 1
      const i0 = p[j0]
      let delta = Infinity
      let j1 = 0
      for (let j = 1; j <= m; j++) {
        if (used[j]) continue
        const cur = cost(i0, j) - u[i0] - v[j]
        if (cur < minv[j]) {
          minv[j] = cur
          way[j] = j0
        }
        if (minv[j] < delta) {
          delta = minv[j]
          j1 = j
        }
      }
      for (let j = 0; j <= m; j++) {
        if (used[j]) {
          u[p[j]] += delta
          v[j] -= delta
        } else minv[j] -= delta
      }
      j0 = j1
    } while (p[j0] !== 0)
    do {
      const j1 = way[j0]
      p[j0] = p[j1]
      j0 = j1
    } while (j0 !== 0)
  }
  const result = new Array<number>(n).fill(-1)
  for (let j = 1; j <= m; j++) if (p[j] !== 0 && Number.isFinite(weights[p[j] - 1][j - 1])) result[p[j] - 1] = j - 1
  return result
}

export interface PlacementOffer {
  /** Zone or provider, whichever the service spreads over; null when it does not spread. */
  spreadKey: string | null
  spot: boolean
  /** The planner's rank, 0 = best. */
  rank: number
  /** A replica of this service ran here: its image and model are likely cached. */
  warm: boolean
}

/** How much each consideration weighs: one step of planner rank is 1. */
export const PLACEMENT_WEIGHTS = {warm: 3, sameSpreadKey: 10} as const

/**
 * Which offer each replica (each wanting spot or not) goes to. The k-th spot replica in a
 * zone (counting those the service has there already, `inUse`) weighs less by k steps of
 * `sameSpreadKey`: an interruption takes a zone's spot capacity at once, not an instance
 * type's, so the columns are slots of a zone, each filled by the zone's best offer of the
 * market, and the matching fills a zone's slots in order. On-demand replicas are not
 * interrupted and are not spread. Returns per replica an index into `offers`, or -1.
 */
export function placeReplicas(
  replicas: readonly {spot: boolean}[],
  offers: readonly PlacementOffer[],
  inUse: ReadonlyMap<string, number>,
): number[] {
  if (replicas.length === 0) return []
  const score = (o: PlacementOffer) => -o.rank + (o.warm ? PLACEMENT_WEIGHTS.warm : 0)
  const best = new Map<string, number>()
  offers.forEach((o, i) => {
    const group = `${o.spot ? 'spot' : 'od'}\u0000${o.spreadKey ?? `#${i}`}`
    const known = best.get(group)
    if (known === undefined || score(o) > score(offers[known])) best.set(group, i)
  })
  const columns: Array<{offer: number; copy: number}> = []
  for (const offer of best.values()) for (let copy = 0; copy < replicas.length; copy++) columns.push({offer, copy})
  if (columns.length < replicas.length) return replicas.map(() => -1)
  const weights = replicas.map((r) =>
    columns.map(({offer: i, copy}) => {
      const o = offers[i]
      if (o.spot !== r.spot) return FORBIDDEN
      const crowd = o.spot && o.spreadKey !== null ? (inUse.get(o.spreadKey) ?? 0) + copy : 0
      return score(o) - PLACEMENT_WEIGHTS.sameSpreadKey * crowd
    }),
  )
  return maxWeightAssignment(weights).map((c) => (c === -1 ? -1 : columns[c].offer))
}
