// The service behind `skyhop offers`: text options in, checked query run against the
// catalog, typed result out. Knows nothing of flags or terminals.
import type {Money} from '../model/job-spec.js'
import {type CatalogSource, loadCatalog} from './catalog.js'
import type {FxRates} from '../model/currency.js'
import {
  checkProviders,
  checkRegions,
  describeFx,
  type OfferSort,
  parseAcceleratorFilter,
  parseMoney,
  queryOffers,
  type RankedOffer,
} from './query.js'

export interface OfferSearchOptions {
  home: string
  catalogFile?: string
  now?: Date
  fx?: FxRates
  /** `H100:8`, `910B`, `A100,A100-80GB:8+`. */
  accelerator?: string
  providers?: string[]
  regions?: string[]
  spot?: boolean
  /** `30`, `30USD`, `200CNY`. */
  maxPrice?: string
  sort?: OfferSort
  limit?: number
}

export interface OfferSearchResult {
  query: {
    accelerator: {names: string[]; count: {min: number; max: number | null} | null; text: string} | null
    providers: string[]
    regions: string[]
    spot: boolean
    maxPrice: Money | null
    sort: OfferSort
  }
  /** Matches before the limit. */
  total: number
  offers: RankedOffer[]
  fx: {cnyPerUsd: number; source: string; asOf: string}
  sources: CatalogSource[]
  warnings: string[]
}

export function searchOffers(options: OfferSearchOptions): OfferSearchResult {
  const catalog = loadCatalog({home: options.home, catalogFile: options.catalogFile, now: options.now, fx: options.fx})
  const accelerator = options.accelerator === undefined ? null : parseAcceleratorFilter(options.accelerator, catalog.registry)
  const providers = checkProviders(options.providers ?? [], catalog)
  const regions = checkRegions(options.regions ?? [], catalog)
  const maxPrice = options.maxPrice === undefined ? null : parseMoney(options.maxPrice)
  const sort = options.sort ?? 'price'
  const spot = options.spot === true
  const result = queryOffers(catalog, {accelerator, providers, regions, spot, maxPrice, sort, limit: options.limit})
  return {
    query: {
      // JSON has no Infinity: an open-ended count (`8+`) has max null.
      accelerator: accelerator && {
        names: accelerator.names,
        count: accelerator.count && {
          min: accelerator.count.min,
          max: Number.isFinite(accelerator.count.max) ? accelerator.count.max : null,
        },
        text: accelerator.text,
      },
      providers,
      regions,
      spot,
      maxPrice,
      sort,
    },
    total: result.total,
    offers: result.offers,
    fx: describeFx(catalog.fx),
    sources: [...catalog.sources],
    warnings: [...catalog.warnings],
  }
}
