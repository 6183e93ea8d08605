// AWS spot prices from EC2's DescribeSpotPriceHistory (Query API, SigV4-signed, XML),
// through the EC2 client of src/providers/aws. With StartTime = now the API answers the
// current price of each instance type in each availability zone. It has no on-demand
// prices, so a refreshed row keeps the on-demand price (and the shape) the catalog
// already had for that instance type and region, and says where that came from.
// Needs AWS credentials (any of the standard sources); SKYHOP_AWS_ENDPOINT redirects the
// calls, e.g. to a local fake in tests.
import {effectiveSpot} from '../anomalies.js'
import {minConfidence} from '../build/figures.js'
import {providerInfo} from '../providers.js'
import type {Offer} from '../types.js'
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
      if (k.onDemand === null && o.price.onDemand !== null) {
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

/** Offers for one region from the spot prices found there and what the catalog knew. */
export function regionOffers(region: string, types: Map<string, Known>, prices: readonly ZonePrice[], asOf: string): Offer[] {
  const latest = [...latestPrices(prices).values()]
  const notice = providerInfo('aws')?.noticeSeconds.value ?? null
  const out: Offer[] = []
  for (const [instanceType, k] of [...types].sort(([a], [b]) => a.localeCompare(b))) {
    const zones = latest.filter((p) => p.instanceType === instanceType).sort((a, b) => a.zone.localeCompare(b.zone))
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
      source: `AWS EC2 DescribeSpotPriceHistory (spot); on-demand from ${k.source}`,
      asOf,
      confidence: minConfidence(k.confidence, 'high'),
    }
    const odNote = k.onDemand === null ? 'no on-demand price known' : `on-demand price as of ${k.asOf}`
    const rows: Offer[] =
      zones.length === 0
        ? [{...base, zone: null, price: {onDemand: k.onDemand, spot: null, currency: 'USD'}, priceStatus: k.onDemand === null ? 'unknown' : 'list', notes: `${odNote}; no spot price reported in ${region}`}]
        : zones.map((z) => {
            const spot = effectiveSpot(k.onDemand, z.price)
            return {
              ...base,
              zone: z.zone,
              price: {onDemand: k.onDemand, spot, currency: 'USD' as const},
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
    // The AWS client and credential chain load only when AWS is refreshed.
    const [{loadAwsCredentials}, {Ec2Client}] = await Promise.all([import('../../providers/aws/credentials.js'), import('../../providers/aws/ec2-client.js')])
    const loaded = await loadAwsCredentials({dispatcher: ctx.dispatcher, env: ctx.env})
    const byRegion = knownByRegion(ctx.known)
    if (byRegion.size === 0) throw ctx.fail('unavailable', 'the catalog knows no AWS instance types to refresh')
    const asOf = ctx.now.toISOString().slice(0, 10)
    const regions = [...byRegion.keys()].sort()
    const offers: Offer[] = []
    const warnings: string[] = []
    const errors: unknown[] = []
    let requests = 0
    let next = 0
    const worker = async () => {
      while (next < regions.length) {
        const region = regions[next++]
        const types = byRegion.get(region)!
        const ec2 = new Ec2Client({region, credentials: async () => loaded.credentials, dispatcher: ctx.dispatcher, env: ctx.env})
        try {
          requests++
          const prices = await ec2.describeSpotPriceHistory({instanceTypes: [...types.keys()].sort(), productDescription: 'Linux/UNIX', startTime: ctx.now})
          offers.push(
            ...regionOffers(
              region,
              types,
              prices.map((p) => ({instanceType: p.instanceType, zone: p.zone, price: p.price.amount, timestamp: p.timestamp})),
              asOf,
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
    offers.sort((a, b) => a.region.localeCompare(b.region) || a.instanceType.localeCompare(b.instanceType) || (a.zone ?? '').localeCompare(b.zone ?? ''))
    return {offers, source: `AWS EC2 DescribeSpotPriceHistory (${loaded.source}) + on-demand from the catalog`, requests, warnings}
  },
}
