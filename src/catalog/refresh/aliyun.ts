// Alibaba Cloud prices for the instance types the catalog knows, from ECS's own API
// through the adapter's signed client (src/clouds/aliyun/ecs-client.ts):
// - DescribePrice (ResourceType=instance, PriceUnit=Hour) for the pay-as-you-go price per
//   region. Its total includes the system disk ECS adds to the quote, so the
//   `instanceType` line of `PriceInfo.Price.DetailInfos.DetailInfo` is used when present.
//   `TradePrice` is what this account pays (list price less its discounts).
// - DescribeSpotPriceHistory for the spot price per zone: the API's default window (the
//   last three hours), the newest point per zone.
// Prices stay in the currency the API quotes (CNY on the China site). A type that cannot
// be priced keeps its rows; a refused key fails the refresh. Needs Alibaba Cloud
// credentials (environment or ~/.aliyun/config.json); SKYHOP_ALIYUN_ENDPOINT redirects
// every call.
import type {Currency} from '../../model/job-spec.js'
import {effectiveSpot} from '../anomalies.js'
import type {Offer} from '../../model/catalog.js'
import {
  cloudRetry,
  inPool,
  isConcreteType,
  isProviderWide,
  KeptRows,
  knownTypes,
  pricedRow,
  reasonOf,
  reportRetry,
  type KnownType,
} from './priced-rows.js'
import type {Refresher, RefreshContext, RefreshResult} from './types.js'

export const ALIYUN_SOURCE = 'Alibaba Cloud ECS DescribePrice (pay-as-you-go) + DescribeSpotPriceHistory (spot)'

/** Types priced at once: few enough to stay under ECS's per-second API limits. */
const PARALLEL = 4

interface DetailInfo {
  Resource?: string
  OriginalPrice?: number | string
  TradePrice?: number | string
}

/** The hourly price of the instance itself in a DescribePrice answer, or null when it has none. */
export function instancePrice(answer: Record<string, unknown>): {amount: number; currency: Currency} | null {
  const price = (
    answer.PriceInfo as {Price?: {TradePrice?: number | string; Currency?: string; DetailInfos?: {DetailInfo?: DetailInfo[]}}} | undefined
  )?.Price
  if (!price) return null
  const currency: Currency = price.Currency === 'USD' ? 'USD' : 'CNY'
  const line = price.DetailInfos?.DetailInfo?.find((d) => d.Resource === 'instanceType')
  const amount = Number(line?.TradePrice ?? price.TradePrice)
  return Number.isFinite(amount) && amount > 0 ? {amount, currency} : null
}

/** The newest spot price per zone. */
export function newestPerZone(points: ReadonlyArray<{zone: string; price: {amount: number}; timestamp: string}>): Map<string, number> {
  const newest = new Map<string, {amount: number; timestamp: string}>()
  for (const p of points) {
    if (!p.zone) continue
    const prior = newest.get(p.zone)
    if (!prior || p.timestamp > prior.timestamp) newest.set(p.zone, {amount: p.price.amount, timestamp: p.timestamp})
  }
  return new Map([...newest].map(([zone, p]) => [zone, p.amount]))
}

/** The rows of one type from its on-demand price and the spot prices per zone. */
export function aliyunRows(
  t: KnownType,
  onDemand: {amount: number; currency: Currency},
  spot: Map<string, number> | string,
  asOf: string,
): Offer[] {
  const base = {onDemand: onDemand.amount, currency: onDemand.currency, source: ALIYUN_SOURCE, asOf}
  if (typeof spot === 'string') return [pricedRow(t, {...base, zone: null, spot: null, notes: [`spot price not refreshed: ${spot}`]})]
  if (spot.size === 0) return [pricedRow(t, {...base, zone: null, spot: null, notes: ['no spot price reported in the last three hours']})]
  return [...spot]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([zone, amount]) => {
      const s = effectiveSpot(onDemand.amount, amount)
      return pricedRow(t, {...base, zone, spot: s, notes: s === null ? ['spot price equals pay-as-you-go: no spot market'] : []})
    })
}

export const aliyunRefresher: Refresher = {
  provider: 'aliyun',
  defaultEndpoint: 'https://ecs.{region}.aliyuncs.com/',
  credentialsRequired: true,
  async fetch(ctx: RefreshContext): Promise<RefreshResult> {
    const [{loadAliyunCredentials}, {EcsClient}] = await Promise.all([
      import('../../clouds/aliyun/credentials.js'),
      import('../../clouds/aliyun/ecs-client.js'),
    ])
    // HOME from the injected environment, so a test's environment decides which profile file is read.
    const loaded = await loadAliyunCredentials({env: ctx.env, ...(ctx.env.HOME ? {homeDir: ctx.env.HOME} : {})})
    const types = knownTypes('aliyun', ctx.known, ctx.previous)
    if (types.length === 0) throw ctx.fail('unavailable', 'the catalog knows no Alibaba Cloud instance types to refresh')
    const asOf = ctx.now.toISOString().slice(0, 10)
    const kept = new KeptRows()
    const offers: Offer[] = []
    let requests = 0
    let firstError: unknown
    const clients = new Map<string, InstanceType<typeof EcsClient>>()
    const client = (region: string) => {
      let c = clients.get(region)
      if (!c) {
        c = new EcsClient({
          region,
          credentials: async () => loaded.credentials,
          dispatcher: ctx.dispatcher,
          env: ctx.env,
          timeoutMs: ctx.timeoutMs,
          retry: cloudRetry(ctx),
          onRetry: reportRetry(ctx, `Alibaba Cloud ECS ${region}`),
        })
        clients.set(region, c)
      }
      return c
    }

    await inPool(types, PARALLEL, async (t) => {
      if (!isConcreteType(t.instanceType)) return kept.add(t, 'not a concrete instance type')
      const ecs = client(t.region)
      let onDemand: {amount: number; currency: Currency} | null
      try {
        requests++
        onDemand = instancePrice(
          await ecs.call(
            'DescribePrice',
            [
              ['ResourceType', 'instance'],
              ['InstanceType', t.instanceType],
              ['PriceUnit', 'Hour'],
            ],
            {instanceType: t.instanceType},
          ),
        )
      } catch (error) {
        if (isProviderWide(error)) throw error
        firstError ??= error
        return kept.add(t, `DescribePrice failed (${reasonOf(error, 'aliyun')})`)
      }
      if (!onDemand) return kept.add(t, 'DescribePrice answered without a price')
      let spot: Map<string, number> | string
      try {
        requests++
        spot = newestPerZone(await ecs.describeSpotPriceHistory({instanceType: t.instanceType}))
      } catch (error) {
        if (isProviderWide(error)) throw error
        spot = reasonOf(error, 'aliyun')
      }
      offers.push(...aliyunRows(t, onDemand, spot, asOf))
    })

    if (offers.length === 0) {
      if (firstError) throw firstError
      throw ctx.fail('unavailable', `no Alibaba Cloud instance type could be priced (${kept.summary(2).join('; ')})`)
    }
    offers.push(...kept.rows)
    offers.sort(
      (a, b) =>
        a.region.localeCompare(b.region) || a.instanceType.localeCompare(b.instanceType) || (a.zone ?? '').localeCompare(b.zone ?? ''),
    )
    return {offers, source: `${ALIYUN_SOURCE} (credentials: ${loaded.source})`, requests, warnings: kept.summary()}
  },
}
