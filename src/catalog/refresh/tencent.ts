// Tencent Cloud prices for the instance types the catalog knows, from CVM's own price
// inquiry, InquiryPriceRunInstances, through the adapter's signed client
// (src/clouds/tencentcloud/cvm-client.ts, CvmClient.inquiryPrice, the call
// TencentProvider.price makes): POSTPAID_BY_HOUR for on-demand and SPOTPAID for spot, per
// instance type and zone. The zones are the ones the catalog lists the type in; a type it
// lists per region is asked about in every available zone of that region (DescribeZones),
// and a zone where it is not sold is left out. The price is
// `InstancePrice.UnitPriceDiscount` per hour (what this account pays for the instance
// alone, no disk or bandwidth), in the site's currency: CNY on the China site
// (cvm.tencentcloudapi.com), USD on the international one (a `.intl.` endpoint). The
// inquiry needs an image; it is the one the adapter launches by default
// (SKYHOP_TENCENTCLOUD_IMAGE, else Ubuntu 22.04), looked up once per region. A type that
// cannot be priced anywhere keeps its rows; a refused key fails the refresh. Needs
// Tencent Cloud credentials (environment, ~/.tencentcloud/credentials or ~/.tccli);
// SKYHOP_TENCENTCLOUD_ENDPOINT redirects every call.
import {ProviderError} from '../../errors.js'
import type {Currency, Money} from '../../model/job-spec.js'
import {effectiveSpot} from '../anomalies.js'
import type {Offer} from '../../model/catalog.js'
import {cloudRetry, inPool, isConcreteType, isProviderWide, KeptRows, knownTypes, pricedRow, reasonOf, reportRetry} from './priced-rows.js'
import type {Refresher, RefreshContext, RefreshResult} from './types.js'

export const TENCENT_SOURCE = 'Tencent Cloud CVM InquiryPriceRunInstances (POSTPAID_BY_HOUR, SPOTPAID)'

/** Types priced at once; each asks once or twice per zone, and CVM allows 20 calls a second. */
const PARALLEL = 3

/** The public image the adapter launches when a job names none (tencent-provider.ts). */
export const TENCENT_DEFAULT_IMAGE = 'Ubuntu Server 22.04 LTS 64bit'

/** Spot bid cap of a price inquiry: high enough never to be the answer. */
const INQUIRY_BID = 1000

/** The site's currency: USD on the international endpoint, CNY otherwise (as the adapter decides). */
export function tencentCurrency(endpointUrl: string): Currency {
  return new URL(endpointUrl).hostname.includes('.intl.') ? 'USD' : 'CNY'
}

/** Not sold here (the type, or its spot market, in this zone): an answer, not a failure. */
function notSoldHere(error: unknown): boolean {
  const e = error as {category?: unknown; scope?: unknown} | null
  return e?.category === 'capacity' && e.scope === 'zone'
}

export const tencentRefresher: Refresher = {
  provider: 'tencentcloud',
  defaultEndpoint: 'https://cvm.tencentcloudapi.com/',
  credentialsRequired: true,
  async fetch(ctx: RefreshContext): Promise<RefreshResult> {
    const [{loadTencentCredentials}, {CvmClient, tencentEndpoint}] = await Promise.all([
      import('../../clouds/tencentcloud/credentials.js'),
      import('../../clouds/tencentcloud/cvm-client.js'),
    ])
    // HOME from the injected environment, so a test's environment decides which profile files are read.
    const loaded = await loadTencentCredentials({env: ctx.env, ...(ctx.env.HOME ? {homeDir: ctx.env.HOME} : {})})
    const types = knownTypes('tencentcloud', ctx.known, ctx.previous)
    if (types.length === 0) throw ctx.fail('unavailable', 'the catalog knows no Tencent Cloud instance types to refresh')
    const asOf = ctx.now.toISOString().slice(0, 10)
    const currency = tencentCurrency(tencentEndpoint('cvm', ctx.env).url)
    const wantedImage = ctx.env.SKYHOP_TENCENTCLOUD_IMAGE?.trim() || TENCENT_DEFAULT_IMAGE
    const retry = cloudRetry(ctx)
    const onRetry = reportRetry(ctx, 'Tencent Cloud CVM')
    const clients = new Map<string, InstanceType<typeof CvmClient>>()
    const cvm = (region: string) => {
      let c = clients.get(region)
      if (!c) {
        c = new CvmClient({
          region,
          credentials: async () => loaded.credentials,
          dispatcher: ctx.dispatcher,
          env: ctx.env,
          timeoutMs: ctx.timeoutMs,
          retry,
          onRetry,
        })
        clients.set(region, c)
      }
      return c
    }
    /** One answer per region, asked for once. */
    const perRegion = <T>(make: (cvm: InstanceType<typeof CvmClient>, region: string) => Promise<T>) => {
      const cache = new Map<string, Promise<T>>()
      return (region: string): Promise<T> => {
        let p = cache.get(region)
        if (!p) {
          p = make(cvm(region), region)
          cache.set(region, p)
        }
        return p
      }
    }
    let requests = 0
    const availableZones = perRegion(async (c) => {
      requests++
      return (await c.describeZones())
        .filter((z) => z.available)
        .map((z) => z.zone)
        .sort()
    })
    const imageOf = perRegion(async (c, region) => {
      if (/^img-[a-z0-9]+$/.test(wantedImage)) return wantedImage
      requests++
      const id = await c.findPublicImage(wantedImage)
      if (!id)
        throw new ProviderError('tencentcloud', 'unavailable', `no public image named "${wantedImage}" in ${region} to ask prices with`, {
          scope: 'region',
          hint: 'Set SKYHOP_TENCENTCLOUD_IMAGE to an image id (img-…) or name.',
        })
      return id
    })
    const price = async (region: string, zone: string, instanceType: string, spot: boolean): Promise<Money> => {
      const imageId = await imageOf(region)
      requests++
      return cvm(region).inquiryPrice(
        {imageId, instanceType, zone, spot: spot ? {maxPrice: {amount: INQUIRY_BID, currency}} : null},
        currency,
      )
    }
    const kept = new KeptRows()
    const offers: Offer[] = []
    let firstError: unknown

    await inPool(types, PARALLEL, async (t) => {
      if (!isConcreteType(t.instanceType)) return kept.add(t, 'not a concrete instance type')
      // Zones the catalog lists keep their rows when they cannot be priced; zones found
      // through DescribeZones for a type listed per region are only candidates.
      const listed = t.zones.length > 0
      let zones = t.zones
      if (!listed) {
        try {
          zones = await availableZones(t.region)
        } catch (error) {
          if (isProviderWide(error)) throw error
          firstError ??= error
          return kept.add(t, `DescribeZones failed (${reasonOf(error, 'tencentcloud')})`)
        }
      }
      const rows: Offer[] = []
      let failure: string | undefined
      for (const zone of zones) {
        let onDemand: Money
        try {
          onDemand = await price(t.region, zone, t.instanceType, false)
        } catch (error) {
          if (isProviderWide(error)) throw error
          const sold = !notSoldHere(error)
          if (sold) firstError ??= error
          const reason = sold ? `InquiryPriceRunInstances failed (${reasonOf(error, 'tencentcloud')})` : 'not sold in this zone now'
          if (listed)
            kept.add(
              t,
              reason,
              t.current.filter((r) => r.zone === zone),
              zone,
            )
          else if (sold) failure ??= reason
          continue
        }
        let spot: number | null = null
        const notes: string[] = []
        try {
          const s = await price(t.region, zone, t.instanceType, true)
          spot = s.currency === onDemand.currency ? effectiveSpot(onDemand.amount, s.amount) : null
          if (spot === null) notes.push('spot price equals on-demand: no spot market')
        } catch (error) {
          if (isProviderWide(error)) throw error
          notes.push(notSoldHere(error) ? 'no spot offering in this zone' : `spot price not refreshed: ${reasonOf(error, 'tencentcloud')}`)
        }
        rows.push(pricedRow(t, {zone, onDemand: onDemand.amount, spot, currency: onDemand.currency, source: TENCENT_SOURCE, asOf, notes}))
      }
      if (!listed && rows.length === 0) return kept.add(t, failure ?? `not sold in any available zone of ${t.region}`)
      offers.push(...rows)
    })

    if (offers.length === 0) {
      if (firstError) throw firstError
      throw ctx.fail('unavailable', `no Tencent Cloud instance type could be priced (${kept.summary(2).join('; ')})`)
    }
    offers.push(...kept.rows)
    offers.sort(
      (a, b) =>
        a.region.localeCompare(b.region) || a.instanceType.localeCompare(b.instanceType) || (a.zone ?? '').localeCompare(b.zone ?? ''),
    )
    return {offers, source: `${TENCENT_SOURCE} (credentials: ${loaded.source})`, requests, warnings: kept.summary()}
  },
}
