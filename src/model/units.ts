// Parsers for the quantities a job file writes as text: durations, sizes, money and
// counts. Each returns a typed value or throws UnitError with a message that says what
// was expected; the spec loader attaches the file position.
import type {Currency, Money, Quantity, Range} from './job-spec.js'

export class UnitError extends Error {}

const DURATION_UNITS: Record<string, number> = {
  ms: 0.001,
  s: 1,
  sec: 1,
  m: 60,
  min: 60,
  h: 3600,
  hr: 3600,
  d: 86_400,
  w: 604_800,
}

/** `30s`, `90m`, `36h`, `2d`, `1h30m`, `1.5h` → seconds. */
export function parseDurationSeconds(text: string): number {
  const s = text.trim().toLowerCase()
  if (s === '') throw new UnitError('expected a duration like 30s, 90m or 36h')
  if (/^\d+(\.\d+)?$/.test(s)) throw new UnitError(`"${text}" has no unit; write e.g. ${s}s, ${s}m or ${s}h`)
  const re = /(\d+(?:\.\d+)?)\s*(ms|sec|min|hr|s|m|h|d|w)/gy
  let total = 0
  let consumed = 0
  let match: RegExpExecArray | null
  while ((match = re.exec(s)) !== null) {
    total += Number(match[1]) * DURATION_UNITS[match[2]]
    consumed = re.lastIndex
    while (s[consumed] === ' ') consumed++
    re.lastIndex = consumed
  }
  if (consumed !== s.length || consumed === 0) throw new UnitError(`"${text}" is not a duration; expected e.g. 30s, 90m, 36h, 2d or 1h30m`)
  if (total <= 0) throw new UnitError(`duration "${text}" must be greater than zero`)
  return total
}

const SIZE_UNITS: Record<string, number> = {
  b: 1 / 1e9,
  kb: 1e-6,
  mb: 1e-3,
  gb: 1,
  tb: 1e3,
  pb: 1e6,
  kib: 1024 / 1e9,
  mib: 1024 ** 2 / 1e9,
  gib: 1024 ** 3 / 1e9,
  tib: 1024 ** 4 / 1e9,
  k: 1e-6,
  m: 1e-3,
  g: 1,
  t: 1e3,
}

/** `80GB`, `1TB`, `512MiB`, `24G`; a bare number means GB. → GB (decimal). */
export function parseSizeGB(value: string | number): number {
  if (typeof value === 'number') {
    if (!(value > 0) || !Number.isFinite(value)) throw new UnitError(`size must be greater than zero, got ${value}`)
    return value
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value)
  if (!m) throw new UnitError(`"${value}" is not a size; expected e.g. 80GB, 1TB or 512MiB`)
  const unit = m[2].toLowerCase() || 'gb'
  const factor = SIZE_UNITS[unit]
  if (factor === undefined) throw new UnitError(`"${m[2]}" is not a size unit; use MB, GB, TB, MiB, GiB or TiB`)
  const gb = Number(m[1]) * factor
  if (!(gb > 0)) throw new UnitError(`size "${value}" must be greater than zero`)
  return round(gb, 6)
}

/** `64GB+` → at least 64 GB; `64GB` → exactly. */
export function parseSizeAtLeast(value: string | number): Quantity {
  if (typeof value === 'string' && value.trim().endsWith('+')) {
    return {value: parseSizeGB(value.trim().slice(0, -1)), atLeast: true}
  }
  return {value: parseSizeGB(value), atLeast: false}
}

/** `8` or `8+` → a positive integer count. */
export function parseCountAtLeast(value: string | number): Quantity {
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value <= 0) throw new UnitError(`count must be a positive integer, got ${value}`)
    return {value, atLeast: false}
  }
  const m = /^\s*(\d+)\s*(\+?)\s*$/.exec(value)
  if (!m) throw new UnitError(`"${value}" is not a count; expected e.g. 8 or 8+`)
  const n = Number(m[1])
  if (n <= 0) throw new UnitError(`count must be at least 1, got ${n}`)
  return {value: n, atLeast: m[2] === '+'}
}

const MAX_COUNT = 4096

/** `8` → 8..8; `2+` → 2..4096; `1..8` → 1..8. */
export function parseCountRange(value: string | number): Range {
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value <= 0) throw new UnitError(`count must be a positive integer, got ${value}`)
    return {min: value, max: value}
  }
  const s = value.trim()
  const range = /^(\d+)?\s*\.\.\s*(\d+)?$/.exec(s)
  if (range && (range[1] || range[2])) {
    const min = range[1] ? Number(range[1]) : 1
    const max = range[2] ? Number(range[2]) : MAX_COUNT
    if (min <= 0) throw new UnitError(`count must be at least 1, got ${min}`)
    if (max < min) throw new UnitError(`count range "${value}" is empty (${min} > ${max})`)
    return {min, max}
  }
  const q = parseCountAtLeast(s)
  return {min: q.value, max: q.atLeast ? MAX_COUNT : q.value}
}

/** `80GB`, `40GB+`, `24GB..80GB` → per-device memory bounds in GB. */
export function parseMemoryRange(value: string | number): {min?: number; max?: number} {
  if (typeof value === 'number') return {min: parseSizeGB(value), max: parseSizeGB(value)}
  const s = value.trim()
  if (s.includes('..')) {
    const [lo, hi] = s.split('..')
    const out: {min?: number; max?: number} = {}
    if (lo.trim()) out.min = parseSizeGB(lo)
    if (hi.trim()) out.max = parseSizeGB(hi)
    if (out.min === undefined && out.max === undefined) throw new UnitError(`"${value}" is not a memory range; expected e.g. 24GB..80GB`)
    if (out.min !== undefined && out.max !== undefined && out.max < out.min) throw new UnitError(`memory range "${value}" is empty`)
    return out
  }
  const q = parseSizeAtLeast(s)
  return q.atLeast ? {min: q.value} : {min: q.value, max: q.value}
}

const CURRENCY_ALIASES: Record<string, Currency> = {
  usd: 'USD',
  $: 'USD',
  'us$': 'USD',
  cny: 'CNY',
  rmb: 'CNY',
  '¥': 'CNY',
  '￥': 'CNY',
  yuan: 'CNY',
}

/** `200USD`, `200 USD`, `$12.50`, `1500CNY`, `¥1500`, a number (USD) or {amount, currency}. */
export function parseMoney(value: string | number | {amount: number; currency?: string}): Money {
  if (typeof value === 'number') {
    if (!(value > 0) || !Number.isFinite(value)) throw new UnitError(`amount must be greater than zero, got ${value}`)
    return {amount: value, currency: 'USD'}
  }
  if (typeof value === 'object') {
    const currency = CURRENCY_ALIASES[(value.currency ?? 'USD').toLowerCase()]
    if (!currency) throw new UnitError(`currency "${value.currency}" is not supported; use USD or CNY`)
    return {amount: value.amount, currency}
  }
  const s = value.trim()
  const m = /^([$¥￥]|us\$)?\s*(\d+(?:\.\d+)?)\s*([a-z$¥￥]*)$/i.exec(s)
  if (!m) throw new UnitError(`"${value}" is not an amount; expected e.g. 200USD, 1500 CNY or $12.50`)
  const prefix = m[1]?.toLowerCase()
  const suffix = m[3]?.toLowerCase()
  if (prefix && suffix) throw new UnitError(`"${value}" names its currency twice`)
  const key = prefix || suffix || 'usd'
  const currency = CURRENCY_ALIASES[key]
  if (!currency) throw new UnitError(`currency "${m[3]}" is not supported; use USD or CNY`)
  const amount = Number(m[2])
  if (!(amount > 0)) throw new UnitError(`amount "${value}" must be greater than zero`)
  return {amount, currency}
}

/**
 * A deadline: an ISO-8601 time with an explicit timezone (Z or ±hh:mm), a date (midnight
 * UTC), or a duration from `now`. Returns epoch milliseconds.
 */
export function parseDeadline(text: string, now: Date): number {
  const s = text.trim()
  if (/^\d{4}-\d{2}-\d{2}$/.test(s)) return validTime(Date.parse(`${s}T00:00:00Z`), text)
  if (/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/.test(s)) {
    if (!/(Z|[+-]\d{2}:?\d{2})$/i.test(s)) {
      throw new UnitError(`"${text}" has no timezone; add Z for UTC or an offset like +08:00`)
    }
    return validTime(Date.parse(s.replace(' ', 'T')), text)
  }
  let seconds: number
  try {
    seconds = parseDurationSeconds(s)
  } catch {
    throw new UnitError(`"${text}" is neither an ISO-8601 time (2026-12-01T18:00:00Z) nor a duration from now (36h)`)
  }
  return validTime(now.getTime() + seconds * 1000, text)
}

/** A time a Date can hold: not a calendar day that does not exist (2026-13-45), nor past the year 275760. */
function validTime(ms: number, text: string): number {
  if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) throw new UnitError(`"${text}" is not a valid time`)
  return ms
}

function round(x: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(x * f) / f
}
