// Questions asked of the catalog: which offers have this accelerator in this count, from
// these providers and regions, on spot, under a price, cheapest first (by the hour, or by
// the hour per dense 16-bit TFLOPS so different accelerators compare by work done).
// Names the catalog does not know are the user's mistake: UsageError with "did you mean".
import {UsageError} from '../errors.js'
import type {Currency, Money} from '../model/job-spec.js'
import {didYouMean} from '../util/did-you-mean.js'
import type {AcceleratorRegistry} from './accelerators.js'
import type {Catalog} from './catalog.js'
import {amountInUsd, type FxRates} from '../model/currency.js'
import {knownProviderIds} from './providers.js'
import type {Offer} from '../model/catalog.js'

export const OFFER_SORTS = ['price', 'price-per-tflops'] as const
export type OfferSort = (typeof OFFER_SORTS)[number]

export interface AcceleratorFilter {
  /** Canonical registry names. */
  names: string[]
  /** Devices per node; null means any count. */
  count: {min: number; max: number} | null
  /** As the user wrote it. */
  text: string
}

export interface OfferQuery {
  accelerator?: AcceleratorFilter | null
  /** Provider ids; empty or absent means all. */
  providers?: string[]
  /** `region` or `provider/region`; empty or absent means all. */
  regions?: string[]
  /** Only offers with a spot market, priced at spot. */
  spot?: boolean
  /** Highest price per node-hour, compared in USD. */
  maxPrice?: Money | null
  sort?: OfferSort
  /** Return at most this many (after sorting); `total` still counts all matches. */
  limit?: number
}

export interface RankedOffer {
  offer: Offer
  /** The price this query compares: spot with `spot`, else on-demand; null when unknown. */
  price: Money | null
  priceUsd: number | null
  /** Dense BF16/FP16 TFLOPS of the whole node (count × per-device); null when unknown. */
  tflops: number | null
  /** USD per hour per node TFLOPS; null when price or TFLOPS is unknown. */
  usdPerTflops: number | null
}

export interface OfferResult {
  offers: RankedOffer[]
  /** Matches before `limit`. */
  total: number
}

/**
 * Parses `H100`, `H100:8`, `H100:8+`, `H100:1..8`, `H100,A100-80GB:8` against the
 * registry. Throws UsageError UNKNOWN_ACCELERATOR (with a suggestion) or INVALID_ACCELERATOR.
 */
export function parseAcceleratorFilter(text: string, registry: AcceleratorRegistry): AcceleratorFilter {
  const trimmed = text.trim()
  const colon = trimmed.lastIndexOf(':')
  const namePart = colon >= 0 ? trimmed.slice(0, colon) : trimmed
  const countPart = colon >= 0 ? trimmed.slice(colon + 1).trim() : ''
  const names: string[] = []
  for (const raw of namePart.split(',').map((n) => n.trim())) {
    if (raw === '')
      throw new UsageError(`"${text}" is not an accelerator request; write NAME or NAME:COUNT, e.g. H100:8`, {code: 'INVALID_ACCELERATOR'})
    const acc = registry.resolve(raw)
    if (!acc)
      throw unknownName(
        'accelerator',
        raw,
        registry.suggest(raw),
        'See `skyhop accelerators` for the names skyhop knows.',
        'UNKNOWN_ACCELERATOR',
      )
    if (!names.includes(acc.name)) names.push(acc.name)
  }
  let count: AcceleratorFilter['count'] = null
  if (colon >= 0) {
    const m = /^(\d+(?:\.\d+)?)(\+|\s*\.\.\s*(\d+(?:\.\d+)?))?$/.exec(countPart)
    if (!m || Number(m[1]) <= 0) {
      throw new UsageError(`"${countPart}" is not a count in "${text}"; write a number (8), at least (8+) or a range (1..8)`, {
        code: 'INVALID_ACCELERATOR',
      })
    }
    const min = Number(m[1])
    const max = m[2] === '+' ? Infinity : m[3] === undefined ? min : Number(m[3])
    if (max < min) throw new UsageError(`count range ${countPart} is empty`, {code: 'INVALID_ACCELERATOR'})
    count = {min, max}
  }
  return {names, count, text: trimmed}
}

const SYMBOLS: Record<string, Currency> = {$: 'USD', '¥': 'CNY'}

/** `30`, `30USD`, `$30`, `200 CNY`, `¥200` → Money (default USD). */
export function parseMoney(text: string): Money {
  const m = /^\s*([$¥])?\s*(\d+(?:\.\d+)?)\s*([A-Za-z]{3})?\s*$/.exec(text)
  const code = m?.[3]?.toUpperCase() ?? (m?.[1] ? SYMBOLS[m[1]] : 'USD')
  if (!m || (code !== 'USD' && code !== 'CNY')) {
    throw new UsageError(`"${text}" is not a price; write an amount per hour such as 30, 30USD or 200CNY`, {code: 'INVALID_PRICE'})
  }
  return {amount: Number(m[2]), currency: code}
}

function unknownName(kind: string, name: string, suggestion: string | undefined, hint: string, code: string): UsageError {
  return new UsageError(`unknown ${kind} "${name}"${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`, {
    code,
    hint,
    details: {[kind]: name, ...(suggestion ? {suggestion} : {})},
  })
}

/** Checks provider names against the catalog and the known providers; returns them lower-cased. */
export function checkProviders(names: readonly string[], catalog: Catalog): string[] {
  const known = new Set([...knownProviderIds(), ...catalog.sources.map((s) => s.provider)])
  return names.map((raw) => {
    const name = raw.trim().toLowerCase()
    if (known.has(name)) return name
    const list = [...known].sort()
    throw unknownName('provider', raw, didYouMean(name, list), `Known providers: ${list.join(', ')}.`, 'UNKNOWN_PROVIDER')
  })
}

/** Checks `region` / `provider/region` names against the regions the catalog has. */
export function checkRegions(names: readonly string[], catalog: Catalog): string[] {
  const regions = new Set<string>()
  for (const {provider, region} of catalog.regions()) {
    regions.add(region)
    regions.add(`${provider}/${region}`)
  }
  return names.map((raw) => {
    const name = raw.trim()
    if (regions.has(name)) return name
    const plain = [...regions].filter((r) => !r.includes('/'))
    const guess = didYouMean(name.includes('/') ? name.split('/')[1] : name, plain)
    return unknownRegion(raw, guess)
  })
}

function unknownRegion(raw: string, guess: string | undefined): never {
  throw unknownName('region', raw, guess, 'See `skyhop offers --json` for the regions of each provider.', 'UNKNOWN_REGION')
}

/** The price a query compares for an offer. */
export function comparedPrice(offer: Offer, spot: boolean): number | null {
  return spot ? offer.price.spot : offer.price.onDemand
}

/** Runs a query over the catalog. Names must already be checked (checkProviders/checkRegions). */
export function queryOffers(catalog: Catalog, query: OfferQuery): OfferResult {
  const spot = query.spot === true
  const fx = catalog.fx
  const names = query.accelerator ? new Set(query.accelerator.names) : null
  const count = query.accelerator?.count ?? null
  const providers = query.providers && query.providers.length > 0 ? new Set(query.providers) : null
  const regions = query.regions && query.regions.length > 0 ? new Set(query.regions) : null
  const maxUsd = query.maxPrice ? amountInUsd(query.maxPrice.amount, query.maxPrice.currency, fx) : null
  const tflopsOf = new Map<string, number | null>()
  const perDevice = (name: string): number | null => {
    let t = tflopsOf.get(name)
    if (t === undefined) {
      t = catalog.registry.resolve(name)?.denseTflops16.value ?? null
      tflopsOf.set(name, t)
    }
    return t
  }

  const out: RankedOffer[] = []
  for (const offer of catalog.select({accelerators: names, providers})) {
    if (names) {
      const acc = offer.accelerator
      if (!acc || !names.has(acc.name)) continue
      if (count && (acc.count < count.min || acc.count > count.max)) continue
    }
    if (providers && !providers.has(offer.provider)) continue
    if (regions && !regions.has(offer.region) && !regions.has(`${offer.provider}/${offer.region}`)) continue
    const amount = comparedPrice(offer, spot)
    if (spot && amount === null) continue
    const priceUsd = amount === null ? null : amountInUsd(amount, offer.price.currency, fx)
    if (maxUsd !== null && (priceUsd === null || priceUsd > maxUsd)) continue
    const t = offer.accelerator ? perDevice(offer.accelerator.name) : null
    const tflops = t === null || !offer.accelerator ? null : t * offer.accelerator.count
    out.push({
      offer,
      price: amount === null ? null : {amount, currency: offer.price.currency},
      priceUsd,
      tflops,
      usdPerTflops: priceUsd === null || tflops === null || tflops === 0 ? null : priceUsd / tflops,
    })
  }
  out.sort(query.sort === 'price-per-tflops' ? byPerTflops : byPrice)
  const total = out.length
  return {offers: query.limit !== undefined && query.limit >= 0 ? out.slice(0, query.limit) : out, total}
}

// Unknown values sort last; ties resolve by place so output is stable run to run.
function nullsLast(a: number | null, b: number | null): number {
  if (a === null) return b === null ? 0 : 1
  if (b === null) return -1
  return a - b
}

function byPlace(a: RankedOffer, b: RankedOffer): number {
  const x = a.offer
  const y = b.offer
  return (
    x.provider.localeCompare(y.provider) ||
    x.region.localeCompare(y.region) ||
    (x.zone ?? '').localeCompare(y.zone ?? '') ||
    x.instanceType.localeCompare(y.instanceType)
  )
}

function byPrice(a: RankedOffer, b: RankedOffer): number {
  return nullsLast(a.priceUsd, b.priceUsd) || byPlace(a, b)
}

function byPerTflops(a: RankedOffer, b: RankedOffer): number {
  return nullsLast(a.usdPerTflops, b.usdPerTflops) || byPrice(a, b)
}

/** The fx rate a result was computed with, for output. */
export function describeFx(fx: FxRates): {cnyPerUsd: number; source: string; asOf: string} {
  return {cnyPerUsd: fx.cnyPerUsd, source: fx.source, asOf: fx.asOf}
}
