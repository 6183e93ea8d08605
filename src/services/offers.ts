// The `offers` service: search the catalog's offers, ranked and limited.
import {type OfferSearchResult, searchOffers} from '../catalog/offer-search.js'
import {OFFER_SORTS} from '../catalog/query.js'
import {fxFromEnv} from '../model/currency.js'

export type {OfferSearchResult} from '../catalog/offer-search.js'
export type {RankedOffer} from '../catalog/query.js'
export {OFFER_SORTS}

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
}

export function findOffers(options: OffersOptions): OfferSearchResult {
  const {all, limit, ...query} = options
  return searchOffers({...query, fx: fxFromEnv(), limit: all ? undefined : (limit ?? DEFAULT_OFFER_LIMIT)})
}
