// "Did you mean" suggestions for misspelt keys, accelerator, provider and job names.

/** Damerau-Levenshtein (optimal string alignment) distance, case-insensitive. */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase()
  const t = b.toLowerCase()
  const d: number[][] = Array.from({length: s.length + 1}, (_, i) => [i, ...Array(t.length).fill(0)])
  for (let j = 1; j <= t.length; j++) d[0][j] = j
  for (let i = 1; i <= s.length; i++) {
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1)
    }
  }
  return d[s.length][t.length]
}

/**
 * The closest candidate within a distance that scales with the word's length, if any. Among
 * equally close candidates, one that starts like the input wins ("H10" is one edit from
 * "910", "A10" and "H100"; a person who typed H10 meant H100), then the alphabetically first.
 */
export function didYouMean(input: string, iterable: Iterable<string>): string | undefined {
  // Walked twice (distance, then prefix): an iterator such as Map.keys() would be spent.
  const candidates = [...iterable]
  const limit = Math.max(1, Math.floor(input.length / 3))
  const lower = input.toLowerCase()
  const affinity = (c: string): number => {
    const l = c.toLowerCase()
    return l.startsWith(lower) ? 2 : l[0] === lower[0] ? 1 : 0
  }
  let best: string | undefined
  let bestDistance = Infinity
  let bestAffinity = -1
  for (const c of candidates) {
    const dist = editDistance(input, c)
    if (dist > bestDistance) continue
    const aff = affinity(c)
    if (dist < bestDistance || aff > bestAffinity || (aff === bestAffinity && best !== undefined && c < best)) {
      best = c
      bestDistance = dist
      bestAffinity = aff
    }
  }
  if (best === undefined) return undefined
  if (bestDistance <= limit) return best
  // A prefix or substring match ("h100" for "H100-80GB") is also a good guess.
  for (const c of candidates) if (lower.length >= 3 && c.toLowerCase().startsWith(lower)) return c
  return undefined
}
