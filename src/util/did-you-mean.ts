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

/** The closest candidate within a distance that scales with the word's length, if any. */
export function didYouMean(input: string, candidates: Iterable<string>): string | undefined {
  const limit = Math.max(1, Math.floor(input.length / 3))
  let best: string | undefined
  let bestDistance = Infinity
  for (const c of candidates) {
    const dist = editDistance(input, c)
    if (dist < bestDistance || (dist === bestDistance && best !== undefined && c < best)) {
      best = c
      bestDistance = dist
    }
  }
  if (best === undefined) return undefined
  if (bestDistance <= limit) return best
  // A prefix or substring match ("h100" for "H100-80GB") is also a good guess.
  const lower = input.toLowerCase()
  for (const c of candidates) if (lower.length >= 3 && c.toLowerCase().startsWith(lower)) return c
  return undefined
}
