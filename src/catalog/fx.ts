// The exchange rate a command converts CNY with: the bundled dated rate of data/fx.json,
// or the user's (config, environment). Kept here, beside the rest of the bundled catalog
// data, so src/model/currency.ts stays pure arithmetic.
import {readFileSync} from 'node:fs'

import {BugError} from '../errors.js'
import type {FxRates} from '../model/currency.js'

let bundled: FxRates | undefined

/**
 * The published rate the bundled catalog converts with: data/fx.json, a central parity rate
 * of the China Foreign Exchange Trade System with its date and where it was published. It
 * lives in a data file so it ships and is replaced like the rest of the catalog data
 * (data/README.md says how to take a newer one). Read once per process: a missing or
 * malformed file is a broken install, not a user error.
 */
export function bundledFx(): FxRates {
  if (bundled) return bundled
  const url = new URL('../../data/fx.json', import.meta.url)
  const file = JSON.parse(readFileSync(url, 'utf8')) as Record<string, unknown>
  const {cnyPerUsd, asOf, source} = file
  if (
    file.format !== 'skyhop-fx/1' ||
    typeof cnyPerUsd !== 'number' ||
    !(cnyPerUsd > 0) ||
    typeof asOf !== 'string' ||
    !/^\d{4}-\d{2}-\d{2}$/.test(asOf) ||
    typeof source !== 'string' ||
    source === ''
  )
    throw new BugError('data/fx.json: expected {format: "skyhop-fx/1", cnyPerUsd > 0, asOf: YYYY-MM-DD, source}')
  bundled = Object.freeze({cnyPerUsd, asOf, source})
  return bundled
}

/** The bundled rate, or the one in SKYHOP_FX_CNY_PER_USD (dated today) when that is a positive number. */
export function fxFromEnv(env: NodeJS.ProcessEnv = process.env, today = new Date()): FxRates {
  const raw = env.SKYHOP_FX_CNY_PER_USD
  if (raw === undefined || raw.trim() === '') return bundledFx()
  const rate = Number(raw)
  if (!Number.isFinite(rate) || rate <= 0) return bundledFx()
  return {cnyPerUsd: rate, source: 'SKYHOP_FX_CNY_PER_USD', asOf: isoDate(today)}
}

/**
 * The rate a command converts with: config `fx.cny_per_usd` (with its `as_of` and `source`
 * when given), else SKYHOP_FX_CNY_PER_USD, else the bundled dated rate. A rate of the user's
 * without a date is dated today: it is what they hold to be current, and the bundled rate's
 * date must never stand beside another figure.
 */
export function fxFor(
  config: {cnyPerUsd: number | null; asOf?: string | null; source?: string | null},
  env: NodeJS.ProcessEnv = process.env,
  today = new Date(),
): FxRates {
  if (!config.cnyPerUsd) return fxFromEnv(env, today)
  return {cnyPerUsd: config.cnyPerUsd, source: config.source ?? 'config fx.cny_per_usd', asOf: config.asOf ?? isoDate(today)}
}

function isoDate(d: Date): string {
  return d.toISOString().slice(0, 10)
}
