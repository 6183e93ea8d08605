// Locates the shared signing test vectors (../shared/test-vectors from the project root).
// They live outside the repository; a machine without them skips the signing tests with a
// message, except under CI, where their absence is a failure.
import {existsSync} from 'node:fs'
import {dirname, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'

export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')
export const vectorsDir = resolve(projectRoot, '../shared/test-vectors')

/** Returns the path when present; otherwise skips the suite (or throws under CI). */
export function requireVectors(ctx: Mocha.Context, relative: string): string | null {
  const path = resolve(vectorsDir, relative)
  if (existsSync(path)) return path
  if (process.env.CI) throw new Error(`signing test vectors missing at ${path} (CI is set, so this is a failure, not a skip)`)
  console.warn(`  skipping: signing test vectors not found at ${path}`)
  ctx.skip()
  return null
}

/** The path if present, else null (decide at suite-definition time which tests to generate). */
export function vectorsPath(relative: string): string | null {
  const path = resolve(vectorsDir, relative)
  return existsSync(path) ? path : null
}

/** The first `backticked` value on the first line (at or after `from`) that contains `label`. */
export function mdValue(text: string, label: string, from = 0): string {
  const start = text.indexOf(label, from)
  if (start < 0) throw new Error(`vector file: no line with "${label}"`)
  const lineEnd = text.indexOf('\n', start)
  const line = text.slice(start + label.length, lineEnd < 0 ? undefined : lineEnd)
  const m = /`([^`]*)`/.exec(line)
  if (!m) throw new Error(`vector file: no backticked value after "${label}"`)
  return m[1]
}

/** The body of the first fenced code block after `label` (at or after `from`). */
export function mdBlock(text: string, label: string, from = 0): string {
  const start = text.indexOf(label, from)
  if (start < 0) throw new Error(`vector file: no "${label}"`)
  const open = text.indexOf('```\n', start)
  const close = text.indexOf('\n```', open + 4)
  if (open < 0 || close < 0) throw new Error(`vector file: no code block after "${label}"`)
  return text.slice(open + 4, close)
}
