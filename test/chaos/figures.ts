// The chaos suite's figures: each scenario adds what it counted, and the end of the run
// prints one line (`chaos: 10000 files 0 uncaught; 170 kills 0 lost 0 reruns 0 orphans; …`)
// so a regression shows as a number. SKYHOP_CHAOS_SCALE=full runs issue 24's sizes (the
// default is what fits CI); SKYHOP_CHAOS_RESULTS=FILE also writes the figures as JSON there
// (bench/chaos.mjs does, for bench/results/).
import {writeFileSync} from 'node:fs'

export const FULL = process.env.SKYHOP_CHAOS_SCALE === 'full'

/** A size: CI's, or the full run's. */
export function size(ci: number, full: number): number {
  const n = FULL ? full : ci
  const override = Number(process.env.SKYHOP_CHAOS_FACTOR)
  return Number.isFinite(override) && override > 0 ? Math.max(1, Math.round(n * override)) : n
}

/** A fixed seed (SKYHOP_CHAOS_SEED replays another): the same cases in CI every time. */
export const SEED = Number(process.env.SKYHOP_CHAOS_SEED) || 24_2026

export interface Figures {
  files?: {total: number; viaCli: number; uncaught: number; wrongExit: number; unlocated: number; slowestMs: number}
  kills?: {
    total: number
    controller: number
    runner: number
    both: number
    lost: number
    reruns: number
    orphans: number
    doubleLive: number
    byProvider: Record<string, number>
  }
  concurrency?: {launches: number; recovers: number; lost: number; duplicates: number}
  endpoints?: {jobs: number; faultsDealt: number; outOfBound: number; ranTwice: number; worstMs: number; boundMs: number}
  secrets?: {scans: number; leaks: number}
}

export const figures: Figures = {}

/** Adds to the secret scans' count; `leaks` found in this scan. */
export function countScan(leaks: number): void {
  figures.secrets = {scans: (figures.secrets?.scans ?? 0) + 1, leaks: (figures.secrets?.leaks ?? 0) + leaks}
}

export function summaryLine(f: Figures = figures): string {
  const parts: string[] = []
  if (f.files)
    parts.push(`${f.files.total} files ${f.files.uncaught} uncaught ${f.files.wrongExit} wrong exits ${f.files.unlocated} unlocated`)
  if (f.kills)
    parts.push(
      `${f.kills.total} kills ${f.kills.lost} lost ${f.kills.reruns} reruns ${f.kills.orphans} orphans ${f.kills.doubleLive} double live`,
    )
  if (f.concurrency)
    parts.push(
      `${f.concurrency.launches} concurrent launches + ${f.concurrency.recovers} recovers ${f.concurrency.lost} lost ${f.concurrency.duplicates} dups`,
    )
  if (f.endpoints)
    parts.push(
      `${f.endpoints.jobs} jobs on faulty endpoints ${f.endpoints.outOfBound} past bound ${f.endpoints.ranTwice} ran twice (worst ${Math.round(f.endpoints.worstMs / 1000)} s of ${f.endpoints.boundMs / 1000} s)`,
    )
  if (f.secrets) parts.push(`${f.secrets.scans} secret scans ${f.secrets.leaks} leaks`)
  return `chaos: ${parts.join('; ')}`
}

let registered = false
/** Registers (once) the root hook that prints the figures when the run ends. */
export function reportAtEnd(): void {
  if (registered) return
  registered = true
  after(function () {
    if (Object.keys(figures).length === 0) return
    console.log(`\n${summaryLine()}${FULL ? ' (full scale)' : ''}`)
    const out = process.env.SKYHOP_CHAOS_RESULTS
    if (out) writeFileSync(out, JSON.stringify({scale: FULL ? 'full' : 'ci', seed: SEED, figures, line: summaryLine()}, null, 2) + '\n')
  })
}
