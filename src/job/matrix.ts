// Sweep expansion: a job file's `matrix` plus `--set KEY=V1,V2` flags become one JobSpec
// per combination. The order is deterministic (keys in file order, then keys new from
// the flags; the last key varies fastest, like nested loops), each combination's values
// become environment variables of its job, and each job gets a unique, valid name.
import {UsageError} from '../errors.js'
import type {JobSpec} from '../model/job-spec.js'

export type MatrixValue = string | number | boolean
export type Matrix = Record<string, MatrixValue[]>

export interface Combination {
  /** 0-based position in the sweep. */
  index: number
  name: string
  /** The combination's values, by key, in matrix key order. */
  values: Record<string, MatrixValue>
  spec: JobSpec
}

/** Same rule as schemas/job.schema.json `name`. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/
const NAME_MAX = 63
const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/
/** A sweep bigger than this is almost surely a typo in a value list. */
export const MAX_COMBINATIONS = 10_000

/**
 * Parses `--set KEY=V1,V2` flags. Values stay strings exactly as typed (they become
 * environment variables anyway); a key given twice keeps the last.
 */
export function parseSetFlags(sets: readonly string[]): Matrix {
  const out: Matrix = {}
  for (const raw of sets) {
    const eq = raw.indexOf('=')
    if (eq <= 0)
      throw new UsageError(`--set "${raw}" must be KEY=V1,V2,…`, {
        code: 'BAD_SET',
        hint: 'For example: --set lr=1e-4,3e-4 --set seed=1,2,3',
      })
    const key = raw.slice(0, eq).trim()
    checkKey(key, `--set ${raw}`)
    const values = raw
      .slice(eq + 1)
      .split(',')
      .map((v) => v.trim())
    if (values.some((v) => v === ''))
      throw new UsageError(`--set ${raw}: empty value in the list`, {
        code: 'BAD_SET',
        hint: 'Separate values with commas and no empty items: KEY=V1,V2',
      })
    delete out[key]
    out[key] = [...new Set(values)]
  }
  return out
}

function checkKey(key: string, where: string): void {
  if (!KEY.test(key)) {
    throw new UsageError(`${where}: "${key}" is not a valid variable name (letters, digits and _; not starting with a digit)`, {
      code: 'BAD_SET',
    })
  }
  if (key.startsWith('SKYHOP_')) {
    throw new UsageError(`${where}: "${key}" is reserved: SKYHOP_* variables are skyhop's job contract`, {code: 'BAD_SET'})
  }
}

/** The file's matrix with the flags' keys replacing (same key) or extending (new key) it. */
export function mergeMatrix(fromFile: Matrix | null, fromFlags: Matrix): Matrix | null {
  const merged: Matrix = {}
  for (const [k, v] of Object.entries(fromFile ?? {})) {
    checkKey(k, 'matrix')
    merged[k] = v
  }
  for (const [k, v] of Object.entries(fromFlags)) merged[k] = v
  return Object.keys(merged).length === 0 ? null : merged
}

/** Number of combinations a matrix expands to. */
export function combinationCount(matrix: Matrix | null): number {
  if (matrix === null) return 1
  return Object.values(matrix).reduce((n, values) => n * values.length, 1)
}

/**
 * One job per combination. Without a matrix the sweep is the job itself. The base name
 * is the spec's; each job's name appends `-KEY-VALUE` per key, sanitized to the job-name
 * pattern, shortened with the combination number when too long, and made unique.
 */
export function expandMatrix(spec: JobSpec, matrix: Matrix | null): Combination[] {
  const count = combinationCount(matrix)
  if (count === 0) throw new UsageError('the matrix has a key with no values', {code: 'BAD_SET'})
  if (count > MAX_COMBINATIONS) {
    throw new UsageError(`the matrix expands to ${count} jobs; at most ${MAX_COMBINATIONS} are allowed in one sweep`, {
      code: 'SWEEP_TOO_LARGE',
      hint: 'Split the sweep, or shorten the value lists.',
    })
  }
  const keys = Object.keys(matrix ?? {})
  const out: Combination[] = []
  const used = new Set<string>()
  const width = String(count).length
  for (let index = 0; index < count; index++) {
    const values: Record<string, MatrixValue> = {}
    let rest = index
    // Last key varies fastest: decompose the index in mixed radix from the end.
    for (let k = keys.length - 1; k >= 0; k--) {
      const list = matrix![keys[k]]
      values[keys[k]] = list[rest % list.length]
      rest = Math.floor(rest / list.length)
    }
    const ordered: Record<string, MatrixValue> = {}
    for (const k of keys) ordered[k] = values[k]
    const name = uniqueName(spec.name, ordered, index, width, used)
    used.add(name)
    const envs = {...spec.envs}
    for (const [k, v] of Object.entries(ordered)) envs[k] = String(v)
    out.push({index, name, values: ordered, spec: {...spec, name, envs, matrix: null}})
  }
  return out
}

function sanitize(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]+/g, '_')
}

function uniqueName(base: string, values: Record<string, MatrixValue>, index: number, width: number, used: ReadonlySet<string>): string {
  const suffix = Object.entries(values)
    .map(([k, v]) => `-${sanitize(k)}-${sanitize(String(v))}`)
    .join('')
  let name = base + suffix
  const tag = `-${String(index + 1).padStart(width, '0')}`
  if (name.length > NAME_MAX || !NAME.test(name) || used.has(name)) {
    // Keep as much of the readable name as fits, then the combination number, which is unique.
    name = (base + suffix).slice(0, NAME_MAX - tag.length).replace(/[-._]+$/, '') + tag
  }
  if (!NAME.test(name)) name = base.slice(0, NAME_MAX - tag.length) + tag
  // A readable name of another combination may happen to end like this tag: go on counting.
  for (let n = 2; used.has(name); n++)
    name = name.slice(0, NAME_MAX - tag.length - String(n).length - 1).replace(/[-._]+$/, '') + tag + `-${n}`
  return name
}
