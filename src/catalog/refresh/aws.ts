// AWS prices for the instance types the catalog knows: spot from EC2's
// DescribeSpotPriceHistory (Query API, SigV4, XML, through the EC2 client of
// src/providers/aws; with StartTime = now it answers the current price per availability
// zone) and on-demand from the Price List Query API (aws-pricelist.ts). Where the price
// list has no answer, a row keeps the on-demand price the catalog had, and says so.
// Needs AWS credentials (any of the standard sources). SKYHOP_AWS_ENDPOINT redirects the
// EC2 calls and SKYHOP_AWS_PRICING_ENDPOINT the price list, e.g. to local fakes in tests.
import {effectiveSpot} from '../anomalies.js'
import {minConfidence} from '../build/figures.js'
import {providerInfo} from '../providers.js'
import type {Offer} from '../../model/catalog.js'
import type {Refresher, RefreshContext, RefreshResult} from './types.js'

/** Regions asked at once: enough to finish quickly, few enough not to trip throttling. */
const PARALLEL_REGIONS = 4

interface Known {
  shape: Pick<Offer, 'accelerator' | 'vcpus' | 'memoryGiB' | 'unknownFields'>
  onDemand: number | null
  source: string
  asOf: string
  confidence: Offer['confidence']
}

/** The catalog's AWS knowledge by region and instance type. */
export function knownByRegion(known: readonly Offer[]): Map<string, Map<string, Known>> {
  const out = new Map<string, Map<string, Known>>()
  for (const o of known) {
    if (o.provider !== 'aws') continue
    let types = out.get(o.region)
    if (!types) out.set(o.region, (types = new Map()))
    const k = types.get(o.instanceType)
    if (!k) {
      types.set(o.instanceType, {
        shape: {accelerator: o.accelerator, vcpus: o.vcpus, memoryGiB: o.memoryGiB, unknownFields: o.unknownFields},
        onDemand: o.price.onDemand,
        source: o.source,
        asOf: o.asOf,
        confidence: o.confidence,
      })
    } else {
      // The newest on-demand price known wins (a previous refresh over the snapshot).
      if (o.price.onDemand !== null && (k.onDemand === null || o.asOf > k.asOf)) {
        k.onDemand = o.price.onDemand
        k.source = o.source
        k.asOf = o.asOf
      }
    }
  }
  return out
}

export interface ZonePrice {
  instanceType: string
  zone: string
  price: number
  timestamp: string
}

/** The newest price per instance type and zone. */
export function latestPrices(prices: readonly ZonePrice[]): Map<string, ZonePrice> {
  const out = new Map<string, ZonePrice>()
  for (const p of prices) {
    const key = `${p.instanceType}|${p.zone}`
    const prior = out.get(key)
    if (!prior || p.timestamp > prior.timestamp) out.set(key, p)
  }
  return out
}

/**
 * Offers for one region from the spot prices found there, the on-demand prices the price
 * list gave (by instance type), and what the catalog knew.
 */
export function regionOffers(
  region: string,
  types: Map<string, Known>,
  prices: readonly ZonePrice[],
  asOf: string,
  onDemand: ReadonlyMap<string, number> = new Map(),
): Offer[] {
  const latest = [...latestPrices(prices).values()]
  const notice = providerInfo('aws')?.noticeSeconds.value ?? null
  const out: Offer[] = []
  for (const [instanceType, k] of [...types].sort(([a], [b]) => a.localeCompare(b))) {
    const zones = latest.filter((p) => p.instanceType === instanceType).sort((a, b) => a.zone.localeCompare(b.zone))
    const listed = onDemand.get(instanceType)
    const od = listed ?? k.onDemand
    const base = {
      provider: 'aws',
      region,
      instanceType,
      accelerator: k.shape.accelerator,
      vcpus: k.shape.vcpus,
      memoryGiB: k.shape.memoryGiB,
      expectedQueueMinutes: null,
      preemptionRatePerHour: null,
      capacity: null,
      noticeSeconds: notice,
      source:
        listed !== undefined
          ? 'AWS Price List GetProducts (on-demand) + EC2 DescribeSpotPriceHistory (spot)'
          : `AWS EC2 DescribeSpotPriceHistory (spot); on-demand from ${k.source}`,
      asOf,
      confidence: listed !== undefined ? ('high' as const) : minConfidence(k.confidence, 'high'),
    }
    const odNote =
      listed !== undefined ? 'on-demand from the price list' : od === null ? 'no on-demand price known' : `on-demand price as of ${k.asOf}`
    const rows: Offer[] =
      zones.length === 0
        ? [
            {
              ...base,
              zone: null,
              price: {onDemand: od, spot: null, currency: 'USD'},
              priceStatus: od === null ? 'unknown' : 'list',
              notes: `${odNote}; no spot price reported in ${region}`,
            },
          ]
        : zones.map((z) => {
            const spot = effectiveSpot(od, z.price)
            return {
              ...base,
              zone: z.zone,
              price: {onDemand: od, spot, currency: 'USD' as const},
              priceStatus: 'list' as const,
              notes: spot === null ? `${odNote}; spot price equals on-demand: no spot market` : odNote,
            }
          })
    for (const r of rows) {
      if (k.shape.unknownFields) r.unknownFields = [...k.shape.unknownFields]
      out.push(r)
    }
  }
  return out
}

export const awsRefresher: Refresher = {
  provider: 'aws',
  defaultEndpoint: 'https://ec2.{region}.amazonaws.com/',
  credentialsRequired: true,
  async fetch(ctx: RefreshContext): Promise<RefreshResult> {
    // The AWS clients and credential chain load only when AWS is refreshed.
    const [{loadAwsCredentials}, {Ec2Client}, pricelist, {HttpClient}] = await Promise.all([
      import('../../clouds/aws/credentials.js'),
      import('../../clouds/aws/ec2-client.js'),
      import('./aws-pricelist.js'),
      import('../../http/client.js'),
    ])
    const loaded = await loadAwsCredentials({dispatcher: ctx.dispatcher, env: ctx.env})
    const byRegion = knownByRegion(ctx.known)
    if (byRegion.size === 0) throw ctx.fail('unavailable', 'the catalog knows no AWS instance types to refresh')
    const asOf = ctx.now.toISOString().slice(0, 10)
    const regions = [...byRegion.keys()].sort()
    const offers: Offer[] = []
    const warnings: string[] = []
    const errors: unknown[] = []
    let requests = 0

    // On-demand: one GetProducts query per instance type covers every region.
    const pricing = new HttpClient({
      provider: 'aws',
      dispatcher: ctx.dispatcher,
      // JSON-protocol throttling is a 400 with `__type` ThrottlingException.
      isThrottled: (status, body) => status === 400 && /Throttl/.test(body),
      userAgent: 'skyhop catalog refresh',
    })
    const types = [...new Set([...byRegion.values()].flatMap((t) => [...t.keys()]))].sort()
    const onDemand = new Map<string, Map<string, number>>()
    let listFailure: string | undefined
    for (const type of types) {
      try {
        requests++
        const prices = await pricelist.fetchOnDemand(pricing, pricelist.pricingEndpoint(ctx.env), loaded.credentials, type)
        for (const [region, usd] of prices) {
          let m = onDemand.get(region)
          if (!m) onDemand.set(region, (m = new Map()))
          m.set(type, usd)
        }
      } catch (error) {
        // No pricing:GetProducts permission, or the API unreachable: spot still refreshes.
        listFailure = (error as Error).message
        break
      }
    }
    if (listFailure) warnings.push(`price list: ${listFailure}; on-demand prices kept from the catalog`)

    let next = 0
    const worker = async () => {
      while (next < regions.length) {
        const region = regions[next++]
        const types = byRegion.get(region)!
        const ec2 = new Ec2Client({region, credentials: async () => loaded.credentials, dispatcher: ctx.dispatcher, env: ctx.env})
        try {
          requests++
          const prices = await ec2.describeSpotPriceHistory({
            instanceTypes: [...types.keys()].sort(),
            productDescription: 'Linux/UNIX',
            startTime: ctx.now,
          })
          offers.push(
            ...regionOffers(
              region,
              types,
              prices.map((p) => ({instanceType: p.instanceType, zone: p.zone, price: p.price.amount, timestamp: p.timestamp})),
              asOf,
              onDemand.get(region),
            ),
          )
        } catch (error) {
          // One region refusing (not opted in, throttled past the retries) keeps its old rows.
          errors.push(error)
          warnings.push(`${region}: ${(error as Error).message}; kept its previous prices`)
          offers.push(...ctx.previous.filter((o) => o.region === region))
        }
      }
    }
    await Promise.all(Array.from({length: Math.min(PARALLEL_REGIONS, regions.length)}, worker))
    if (errors.length === regions.length) throw errors[0]
    offers.sort(
      (a, b) =>
        a.region.localeCompare(b.region) || a.instanceType.localeCompare(b.instanceType) || (a.zone ?? '').localeCompare(b.zone ?? ''),
    )
    const odSource = listFailure ? 'on-demand from the catalog' : 'Price List GetProducts'
    return {offers, source: `AWS EC2 DescribeSpotPriceHistory + ${odSource} (credentials: ${loaded.source})`, requests, warnings}
  },
}
