// Locates the clouds' published signing test vectors, kept in test/data/signing (their
// sources and licences in test/data/SOURCES.md). They are part of the project: a missing
// file is a broken checkout, and fails the test rather than skipping it.
import {existsSync} from 'node:fs'
import {dirname, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'

export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')
export const vectorsDir = resolve(projectRoot, 'test/data/signing')

/** Returns the path of a vector file; throws when it is missing. */
export function requireVectors(_ctx: Mocha.Context, relative: string): string {
  const path = resolve(vectorsDir, relative)
  if (existsSync(path)) return path
  throw new Error(`signing test vectors missing at ${path}: test/data/signing is part of the project (test/data/SOURCES.md)`)
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
