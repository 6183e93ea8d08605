// The `offers` service: search the catalog's offers, ranked and limited, each marked with
// whether skyhop can launch there (the catalog also holds providers kept for comparison).
import {type OfferSearchResult as CatalogSearchResult, searchOffers} from '../catalog/offer-search.js'
import {OFFER_SORTS, type RankedOffer} from '../catalog/query.js'
import {fxFromEnv} from '../catalog/fx.js'
import type {FxRates} from '../model/currency.js'
import {KNOWN_PROVIDERS} from '../providers/registry.js'

export type {RankedOffer} from '../catalog/query.js'
export {OFFER_SORTS}

export interface OfferListing extends RankedOffer {
  /** skyhop has an adapter for the offer's provider; false: listed for comparison, never planned (`no-adapter`). */
  launchable: boolean
}

export interface OfferSearchResult extends Omit<CatalogSearchResult, 'offers'> {
  offers: OfferListing[]
}

/** Offers returned unless a limit or `all` says otherwise; `total` counts every match. */
export const DEFAULT_OFFER_LIMIT = 100

export interface OffersOptions {
  home: string
  catalogFile?: string
  accelerator?: string
  providers?: string[]
  regions?: string[]
  spot?: boolean
  /** `30`, `30USD`, `200CNY`. */
  maxPrice?: string
  sort?: (typeof OFFER_SORTS)[number]
  limit?: number
  /** Every match, whatever the limit. */
  all?: boolean
  /** Every provider skyhop can launch on (built in and plugins'); default the built-in ones. */
  adapters?: readonly string[]
  /** The rate CNY prices are ranked at (the command's: config, environment or the bundled one). */
  fx?: FxRates
}

export function findOffers(options: OffersOptions): OfferSearchResult {
  const {all, limit, adapters: names, fx, ...query} = options
  const result = searchOffers({...query, fx: fx ?? fxFromEnv(), limit: all ? undefined : (limit ?? DEFAULT_OFFER_LIMIT)})
  const adapters: ReadonlySet<string> = new Set(names ?? KNOWN_PROVIDERS)
  return {...result, offers: result.offers.map((r) => ({...r, launchable: adapters.has(r.offer.provider)}))}
}
