// The registry joined with the catalog: each accelerator's figures, and where it is
// cheapest to rent per device-hour, on demand and on spot. Backs `skyhop accelerators`.
import {UsageError} from '../errors.js'
import type {Money, Runtime} from '../model/job-spec.js'
import {didYouMean} from '../util/did-you-mean.js'
import {type Catalog, type CatalogSource, loadCatalog} from './catalog.js'
import {amountInUsd, type FxRates} from '../model/currency.js'
import {describeFx} from './query.js'
import type {Accelerator, PriceStatus} from '../model/catalog.js'

export interface AcceleratorListOptions {
  vendor?: string
  runtime?: Runtime
  /** Keep accelerators with at least this much memory per device (GB); unknown memory is dropped. */
  minMemoryGB?: number
}

export interface CheapestOffer {
  provider: string
  region: string
  zone: string | null
  instanceType: string
  count: number
  /** Per node-hour, in the offer's currency. */
  price: Money
  /** Per device-hour in USD: what the ranking compares. */
  perDeviceUsd: number
  priceStatus: PriceStatus
}

export interface AcceleratorListing {
  accelerator: Accelerator
  /** How many catalog offers carry this accelerator. */
  offers: number
  cheapestOnDemand: CheapestOffer | null
  cheapestSpot: CheapestOffer | null
}

export function checkVendor(vendor: string, vendors: readonly string[]): string {
  const v = vendor.trim().toLowerCase()
  if (vendors.includes(v)) return v
  const guess = didYouMean(v, vendors)
  throw new UsageError(`unknown vendor "${vendor}"${guess ? ` (did you mean "${guess}"?)` : ''}`, {
    code: 'UNKNOWN_VENDOR',
    hint: `Known vendors: ${vendors.join(', ')}.`,
    details: {vendor, ...(guess ? {suggestion: guess} : {})},
  })
}

export function listAccelerators(catalog: Catalog, options: AcceleratorListOptions = {}): AcceleratorListing[] {
  const registry = catalog.registry
  const vendor = options.vendor === undefined ? undefined : checkVendor(options.vendor, registry.vendors())
  const selected = registry.all().filter((a) => {
    if (vendor && a.vendor !== vendor) return false
    if (options.runtime && a.runtime !== options.runtime) return false
    if (options.minMemoryGB !== undefined && (a.memoryGB.value === null || a.memoryGB.value < options.minMemoryGB)) return false
    return true
  })
  const wanted = new Set(selected.map((a) => a.name))
  const counts = new Map<string, number>()
  const bestOd = new Map<string, CheapestOffer>()
  const bestSpot = new Map<string, CheapestOffer>()
  for (const o of catalog.select({accelerators: wanted})) {
    const acc = o.accelerator
    if (!acc || !wanted.has(acc.name) || acc.count <= 0) continue
    counts.set(acc.name, (counts.get(acc.name) ?? 0) + 1)
    for (const [amount, best] of [
      [o.price.onDemand, bestOd],
      [o.price.spot, bestSpot],
    ] as const) {
      if (amount === null) continue
      const perDeviceUsd = amountInUsd(amount, o.price.currency, catalog.fx) / acc.count
      const prior = best.get(acc.name)
      if (prior && prior.perDeviceUsd <= perDeviceUsd) continue
      best.set(acc.name, {
        provider: o.provider,
        region: o.region,
        zone: o.zone,
        instanceType: o.instanceType,
        count: acc.count,
        price: {amount, currency: o.price.currency},
        perDeviceUsd,
        priceStatus: o.priceStatus,
      })
    }
  }
  return selected.map((accelerator) => ({
    accelerator,
    offers: counts.get(accelerator.name) ?? 0,
    cheapestOnDemand: bestOd.get(accelerator.name) ?? null,
    cheapestSpot: bestSpot.get(accelerator.name) ?? null,
  }))
}

export interface AcceleratorReportOptions extends AcceleratorListOptions {
  home: string
  catalogFile?: string
  now?: Date
  fx?: FxRates
}

export interface AcceleratorReport {
  accelerators: AcceleratorListing[]
  vendors: string[]
  fx: {cnyPerUsd: number; source: string; asOf: string}
  sources: CatalogSource[]
  warnings: string[]
}

/** The service behind `skyhop accelerators`. */
export function acceleratorReport(options: AcceleratorReportOptions): AcceleratorReport {
  const catalog = loadCatalog({home: options.home, catalogFile: options.catalogFile, now: options.now, fx: options.fx})
  return {
    accelerators: listAccelerators(catalog, options),
    vendors: catalog.registry.vendors(),
    fx: describeFx(catalog.fx),
    sources: [...catalog.sources],
    warnings: [...catalog.warnings],
  }
}
