// The typed flags commands share: durations, money, KEY=VALUE pairs and provider names,
// parsed once here (oclif custom flags) so a command's run() gets seconds, Money and
// records instead of re-parsing text. A bad value is the user's: a UsageError, exit 2, with
// the same message and code each command gave when it parsed the flag by hand.
import {Flags} from '@oclif/core'

import {UsageError} from '../errors.js'
import {type Matrix, parseSetFlags} from '../job/matrix.js'
import type {Money} from '../model/job-spec.js'
import {UnitError, parseDurationSeconds, parseMoney, parseSizeGB} from '../model/units.js'

/**
 * oclif rewrites the message of an error thrown while parsing a flag ("Parsing --grace …
 * See more help with --help"); our messages already name the flag, so the base command
 * puts the original back (see restoreFlagMessage).
 */
const flagMessages = new WeakMap<Error, string>()

function flagError(message: string, options: {code?: string; hint?: string} = {}): UsageError {
  const error = new UsageError(message, options)
  flagMessages.set(error, message)
  return error
}

/** The message a flag's parser gave, before oclif decorated it. */
export function restoreFlagMessage(error: unknown): void {
  if (!(error instanceof Error)) return
  const original = flagMessages.get(error)
  if (original !== undefined) error.message = original
}

interface DurationOptions extends Record<string, unknown> {
  /** The error code of a bad value (default USAGE). */
  code?: string
  /** Whether `0` (any unit, or none) means zero rather than a missing unit. */
  zero?: boolean
}

/** A duration such as 30s, 90m, 2d or 1h30m, in seconds. */
export const duration = Flags.custom<number, DurationOptions>({
  async parse(input, _ctx, opts) {
    if (opts.zero && /^\s*0+(\.0*)?\s*[a-z]*\s*$/i.test(input)) return 0
    try {
      return parseDurationSeconds(input)
    } catch (error) {
      if (error instanceof UnitError || !opts.zero) throw flagError(`--${opts.name}: ${(error as Error).message}`, {code: opts.code})
      throw error
    }
  },
})

/** How far back a report goes: all of it, since an ISO date, or a duration back from the moment of the report. */
export type Since = {all: true} | {date: string} | {seconds: number}

export const since = Flags.custom<Since>({
  async parse(input, _ctx, opts) {
    if (input === 'all') return {all: true}
    if (/^\d{4}-\d{2}-\d{2}/.test(input)) {
      const t = Date.parse(input)
      if (Number.isNaN(t)) throw flagError(`--${opts.name} "${input}" is not a date`, {code: 'BAD_SINCE'})
      return {date: new Date(t).toISOString()}
    }
    try {
      return {seconds: parseDurationSeconds(input)}
    } catch (error) {
      const hint = 'Use a duration like 30d or 12h, an ISO date, or "all".'
      throw flagError(`--${opts.name}: ${(error as Error).message}`, {code: 'BAD_SINCE', hint})
    }
  },
})

/** An amount with its currency: 200USD, 1500 CNY, $12.50. */
export const money = Flags.custom<Money, {code?: string}>({
  async parse(input, _ctx, opts) {
    try {
      return parseMoney(input)
    } catch (error) {
      throw flagError(`--${opts.name}: ${(error as Error).message}`, {code: opts.code})
    }
  },
})

/** A size as job files write it: 80GB, 1TB, 512MiB, or a bare number of GB; in decimal GB. */
export const size = Flags.custom<number>({
  async parse(input, _ctx, opts) {
    try {
      return parseSizeGB(input)
    } catch (error) {
      throw flagError(`--${opts.name}: ${(error as Error).message}`)
    }
  },
})

/** A positive number (hours, say): `what` names the unit in the message. */
export const positiveNumber = Flags.custom<number, {what?: string}>({
  async parse(input, _ctx, opts) {
    const n = Number(input)
    if (!(n > 0)) throw flagError(`--${opts.name} must be a positive number${opts.what ? ` of ${opts.what}` : ''}, got "${input}"`)
    return n
  },
})

/** One KEY=VALUE pair (repeatable, as --env takes them); the value may hold '=' and be empty. */
export const keyValue = Flags.custom<{key: string; value: string}, {code?: string}>({
  multiple: true,
  async parse(input, _ctx, opts) {
    const eq = input.indexOf('=')
    if (eq <= 0) throw flagError(`--${opts.name} "${input}" must be KEY=VALUE`, {code: opts.code})
    return {key: input.slice(0, eq), value: input.slice(eq + 1)}
  },
})

/** The pairs of a repeatable keyValue flag as a record; a later KEY wins. */
export function pairs(entries: ReadonlyArray<{key: string; value: string}> | undefined): Record<string, string> {
  return Object.fromEntries((entries ?? []).map((e) => [e.key, e.value]))
}

/** One matrix dimension KEY=V1,V2,… (repeatable, as --set takes them; a later KEY replaces an earlier one). */
export const matrixDimension = Flags.custom<Matrix>({
  multiple: true,
  async parse(input) {
    try {
      return parseSetFlags([input])
    } catch (error) {
      if (error instanceof UsageError) flagMessages.set(error, error.message)
      throw error
    }
  },
})

/** The dimensions of a repeatable matrixDimension flag as one matrix, in the order given. */
export function dimensions(entries: readonly Matrix[] | undefined): Matrix {
  const out: Matrix = {}
  for (const entry of entries ?? []) {
    for (const [key, values] of Object.entries(entry)) {
      delete out[key]
      out[key] = values
    }
  }
  return out
}

/** A provider name (aws, slurm, local, …); whether it is enabled here is the service's to say. */
export const provider = Flags.custom<string>({})
