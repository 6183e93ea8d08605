// Azure's prices from the Azure Retail Prices API (no credentials): GET
// https://prices.azure.com/api/retail/prices with an OData `$filter`, pages of `Items`
// linked by `NextPageLink` (learn.microsoft.com/rest/api/cost-management/retail-prices/
// azure-retail-prices). The API has prices but not shapes (vCPUs, memory, GPUs), so it
// refreshes the prices of the instance types the catalog already knows the shape of,
// in every region the API lists them.
import {effectiveSpot, fixAcceleratorCount} from '../anomalies.js'
import {providerInfo} from '../providers.js'
import type {Offer} from '../../model/catalog.js'
import type {Refresher, RefreshContext, RefreshResult} from './types.js'

export const AZURE_PRICES_ENDPOINT = 'https://prices.azure.com/api/retail/prices'
export const AZURE_API_VERSION = '2023-01-01-preview'

/** One element of `Items`, the fields we read. */
export interface AzurePriceItem {
  currencyCode: string
  retailPrice: number
  unitPrice?: number
  armRegionName: string
  armSkuName: string
  skuName: string
  meterName: string
  productName: string
  serviceName: string
  type: string
  unitOfMeasure: string
  effectiveStartDate?: string
  isPrimaryMeterRegion?: boolean
}

export interface AzurePricePage {
  BillingCurrency?: string
  CustomerEntityId?: string
  CustomerEntityType?: string
  Items: AzurePriceItem[]
  NextPageLink: string | null
  Count?: number
}

/** SKUs per request: OData `or` chains make long URLs; 15 names stay well under 2 KB. */
const SKUS_PER_QUERY = 15
/** A runaway NextPageLink chain is a broken API, not a big catalog. */
const MAX_PAGES = 500

function odataQuote(s: string): string {
  return `'${s.replace(/'/g, "''")}'`
}

export function azureFilter(skus: readonly string[]): string {
  const names = skus.map((s) => `armSkuName eq ${odataQuote(s)}`).join(' or ')
  return `serviceName eq 'Virtual Machines' and priceType eq 'Consumption' and (${names})`
}

export function azureQueryUrl(endpoint: string, skus: readonly string[]): string {
  // %20 rather than `+` for spaces: OData servers differ on `+`.
  const query = [
    `api-version=${encodeURIComponent(AZURE_API_VERSION)}`,
    `meterRegion=${encodeURIComponent("'primary'")}`,
    `$filter=${encodeURIComponent(azureFilter(skus))}`,
  ].join('&')
  return `${endpoint}${endpoint.includes('?') ? '&' : '?'}${query}`
}

type Kind = 'onDemand' | 'spot'

/** Which price an item is, or null for meters we do not compare (Windows, Low Priority, reservations). */
export function classifyItem(item: AzurePriceItem): Kind | null {
  if (item.type !== 'Consumption' || item.serviceName !== 'Virtual Machines') return null
  if (item.unitOfMeasure !== '1 Hour' || item.currencyCode !== 'USD') return null
  if (/windows/i.test(item.productName)) return null
  if (/low priority/i.test(`${item.skuName} ${item.meterName}`)) return null
  if (!(item.retailPrice > 0)) return null
  return /\bspot\b/i.test(`${item.skuName} ${item.meterName}`) ? 'spot' : 'onDemand'
}

export interface PricePoint {
  onDemand: number | null
  spot: number | null
  onDemandSince: string
  spotSince: string
}

/** Prices per `sku|region`; of several meters for the same price, the newest wins. */
export function collectPrices(items: Iterable<AzurePriceItem>): Map<string, PricePoint> {
  const out = new Map<string, PricePoint>()
  for (const item of items) {
    const kind = classifyItem(item)
    if (!kind) continue
    const key = `${item.armSkuName}|${item.armRegionName}`
    const p = out.get(key) ?? {onDemand: null, spot: null, onDemandSince: '', spotSince: ''}
    const since = item.effectiveStartDate ?? ''
    if (kind === 'onDemand' && (p.onDemand === null || since >= p.onDemandSince)) {
      p.onDemand = item.retailPrice
      p.onDemandSince = since
    }
    if (kind === 'spot' && (p.spot === null || since >= p.spotSince)) {
      p.spot = item.retailPrice
      p.spotSince = since
    }
    out.set(key, p)
  }
  return out
}

type Shape = Pick<Offer, 'instanceType' | 'accelerator' | 'vcpus' | 'memoryGiB' | 'unknownFields'>

export const azureRefresher: Refresher = {
  provider: 'azure',
  defaultEndpoint: AZURE_PRICES_ENDPOINT,
  async fetch(ctx: RefreshContext): Promise<RefreshResult> {
    const shapes = new Map<string, Shape>()
    for (const o of ctx.known) {
      if (o.provider === 'azure' && !shapes.has(o.instanceType)) {
        shapes.set(o.instanceType, {
          instanceType: o.instanceType,
          accelerator: o.accelerator,
          vcpus: o.vcpus,
          memoryGiB: o.memoryGiB,
          unknownFields: o.unknownFields,
        })
      }
    }
    const skus = [...shapes.keys()].sort()
    const origin = new URL(ctx.endpoint).origin
    const items: AzurePriceItem[] = []
    let pages = 0
    for (let i = 0; i < skus.length; i += SKUS_PER_QUERY) {
      let next: string | null = azureQueryUrl(ctx.endpoint, skus.slice(i, i + SKUS_PER_QUERY))
      while (next) {
        if (++pages > MAX_PAGES) throw ctx.fail('unavailable', `more than ${MAX_PAGES} pages; NextPageLink does not end`)
        if (new URL(next).origin !== origin) throw ctx.fail('unavailable', `NextPageLink leaves ${origin}`)
        const page: AzurePricePage = await ctx.http.getJson<AzurePricePage>(next)
        if (!page || !Array.isArray(page.Items)) throw ctx.fail('unavailable', 'response has no Items array')
        items.push(...page.Items)
        next = page.NextPageLink && page.NextPageLink !== '' ? page.NextPageLink : null
      }
    }
    const prices = collectPrices(items)
    const asOf = ctx.now.toISOString().slice(0, 10)
    const source = `Azure Retail Prices API ${origin}`
    const notice = providerInfo('azure')?.noticeSeconds.value ?? null
    const offers: Offer[] = []
    for (const [key, p] of [...prices].sort(([a], [b]) => a.localeCompare(b))) {
      const [sku, region] = key.split('|')
      const shape = shapes.get(sku)
      if (!shape) continue
      let accelerator = shape.accelerator
      if (accelerator) accelerator = {name: accelerator.name, count: fixAcceleratorCount('azure', sku, accelerator.count).count}
      const spot = effectiveSpot(p.onDemand, p.spot)
      const offer: Offer = {
        provider: 'azure',
        region,
        zone: null,
        instanceType: sku,
        accelerator,
        vcpus: shape.vcpus,
        memoryGiB: shape.memoryGiB,
        price: {onDemand: p.onDemand, spot, currency: 'USD'},
        priceStatus: 'list',
        expectedQueueMinutes: null,
        preemptionRatePerHour: null,
        capacity: null,
        noticeSeconds: notice,
        source,
        asOf,
        confidence: 'high',
      }
      if (shape.unknownFields) offer.unknownFields = [...shape.unknownFields]
      if (p.spot !== null && spot === null) offer.notes = 'spot price equals on-demand: no spot market'
      offers.push(offer)
    }
    return {offers, source, requests: pages}
  },
}
