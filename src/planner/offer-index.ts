// Offers grouped by accelerator, built once and reused across plans (a sweep, the
// controller's re-plans, the simulator): a job asking for H100s never touches the rest.
import type {Offer} from '../model/catalog.js'
import type {OfferIndex, OfferKey} from './types.js'

export function offerKey(offer: Offer): OfferKey {
  return `${offer.provider}/${offer.region}/${offer.zone ?? '-'}/${offer.instanceType}`
}

/**
 * An offer's identity: its key plus its accelerator and count, as the catalog tells offers
 * apart (catalog mergeKey). Real catalogs sell one instance type in one place with different
 * accelerators or counts: those offers share an offerKey but each has its own capacity, so
 * whatever counts an offer's use (a sweep's slots) must key it by this, not the offerKey.
 */
export function offerIdentity(o: {offerKey: OfferKey; accelerator: {name: string; count: number} | null}): string {
  return `${o.offerKey}|${o.accelerator === null ? '-' : `${o.accelerator.name}:${o.accelerator.count}`}`
}

/** The most instances of this offer that can ever run at once: its capacity and its pool's, whichever is smaller; null = unbounded. */
export function offerRoom(offer: Offer): number | null {
  const pool = offer.capacityPool?.capacity ?? null
  if (offer.capacity === null) return pool
  return pool === null ? offer.capacity : Math.min(offer.capacity, pool)
}

/** `''` is the group of CPU-only offers. */
export function acceleratorGroupName(offer: Offer): string {
  return offer.accelerator === null ? '' : offer.accelerator.name
}

export {indexOffers} from '../model/catalog.js'

export function isOfferIndex(offers: readonly Offer[] | OfferIndex): offers is OfferIndex {
  return !Array.isArray(offers) && (offers as OfferIndex).kind === 'offer-index'
}
