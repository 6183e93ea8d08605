// Turns a spec-sheet cell as collected in data/sources/accelerators.csv
// ("989", "~1.6 (UNCERTAIN)", "~280-400 FP16 depending on variant") into a Sourced
// number without inventing anything: a range keeps its lower bound (the conservative
// figure for both memory and throughput) and the cell as published in `raw`; any
// hedging mark makes the figure low confidence; a cell without a number stays null.
import type {Confidence, Sourced} from '../../model/catalog.js'

const HEDGES = /~|UNCERTAIN|UNVERIFIED|ESTIMATE|INFERRED/i
const NUMBER_OR_RANGE = /(\d+(?:\.\d+)?)(?:\s*-\s*(\d+(?:\.\d+)?))?/

export function unknown(): Sourced<number> {
  return {value: null, confidence: null, source: null}
}

export function parseFigure(cell: string | undefined, confidence: Confidence, source: string): Sourced<number> {
  const text = (cell ?? '').trim()
  if (text === '') return unknown()
  const m = NUMBER_OR_RANGE.exec(text)
  if (!m) return {value: null, confidence: null, source, raw: text}
  const value = Number(m[1])
  const plain = /^\d+(?:\.\d+)?$/.test(text)
  const hedged = HEDGES.test(text) || m[2] !== undefined
  return {
    value,
    confidence: hedged ? 'low' : confidence,
    source,
    ...(plain ? {} : {raw: text}),
  }
}

/** The lower of two confidences. */
export function minConfidence(a: Confidence, b: Confidence): Confidence {
  const rank: Record<Confidence, number> = {low: 0, medium: 1, high: 2}
  return rank[a] <= rank[b] ? a : b
}

/**
 * Reads the row-level confidence column: `HIGH`, `LOW-MEDIUM` (→ low), `MEDIUM-HIGH`
 * (→ medium), `MEDIUM (mem/cores) LOW (flops)` (memory medium, throughput low).
 */
export function parseRowConfidence(text: string): {memory: Confidence; compute: Confidence} {
  const word = (w: string): Confidence => {
    const u = w.toUpperCase()
    if (u.startsWith('HIGH')) return 'high'
    if (u.startsWith('MEDIUM')) return 'medium'
    return 'low'
  }
  // "A-B" ranges are read as their lower end.
  const level = (t: string): Confidence => {
    const parts = t.split('-').map((p) => word(p.trim()))
    return parts.reduce(minConfidence)
  }
  const split = /^\s*([A-Z-]+)\s*\(mem[^)]*\)\s*([A-Z-]+)\s*\(flops\)/i.exec(text)
  if (split) return {memory: level(split[1]), compute: level(split[2])}
  const head = /^\s*([A-Z]+(?:-[A-Z]+)?)/i.exec(text)
  const c = head ? level(head[1]) : 'low'
  return {memory: c, compute: c}
}
