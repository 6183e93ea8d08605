// AWS on-demand prices from the Price List Query API: `GetProducts` (JSON 1.1 protocol,
// POST with `X-Amz-Target: AWSPriceListService.GetProducts`, SigV4 service `pricing`,
// served from us-east-1). Each `PriceList` element is a JSON *string* holding one
// product: `product.attributes` (instanceType, regionCode, …) and `terms.OnDemand` whose
// `priceDimensions` carry `pricePerUnit.USD` per `Hrs`. Filters keep the shared-tenancy
// Linux price without pre-installed software, the one skyhop compares.
import {ProviderError} from '../../errors.js'
import type {HttpClient} from '../../http/client.js'
import {signRequest, type AwsCredentials} from '../../clouds/aws/sigv4.js'

export const PRICING_ENDPOINT = 'https://api.pricing.us-east-1.amazonaws.com/'
const TARGET = 'AWSPriceListService.GetProducts'
/** A runaway NextToken chain is a broken API, not a big price list. */
const MAX_PAGES = 50

/** SKYHOP_AWS_PRICING_ENDPOINT, then the standard AWS overrides, then the public endpoint. */
export function pricingEndpoint(env: NodeJS.ProcessEnv): string {
  const ignore = (env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS ?? '').toLowerCase() === 'true'
  return (
    env.SKYHOP_AWS_PRICING_ENDPOINT?.trim() ||
    (!ignore && (env.AWS_ENDPOINT_URL_PRICING?.trim() || env.AWS_ENDPOINT_URL?.trim())) ||
    PRICING_ENDPOINT
  )
}

export interface GetProductsPage {
  FormatVersion?: string
  PriceList: string[]
  NextToken?: string | null
}

export function getProductsBody(instanceType: string, nextToken?: string): string {
  const term = (Field: string, Value: string) => ({Type: 'TERM_MATCH', Field, Value})
  return JSON.stringify({
    ServiceCode: 'AmazonEC2',
    Filters: [
      term('instanceType', instanceType),
      term('operatingSystem', 'Linux'),
      term('tenancy', 'Shared'),
      term('preInstalledSw', 'NA'),
      term('capacitystatus', 'Used'),
    ],
    FormatVersion: 'aws_v1',
    MaxResults: 100,
    ...(nextToken ? {NextToken: nextToken} : {}),
  })
}

/** `regionCode` → USD per hour, from the products of one page. */
export function onDemandByRegion(priceList: readonly string[]): Map<string, number> {
  const out = new Map<string, number>()
  for (const text of priceList) {
    let doc: {
      product?: {attributes?: Record<string, string>}
      terms?: {OnDemand?: Record<string, {priceDimensions?: Record<string, {unit?: string; pricePerUnit?: {USD?: string}}>}>}
    }
    try {
      doc = JSON.parse(text)
    } catch {
      continue
    }
    const region = doc.product?.attributes?.regionCode
    if (!region) continue
    for (const term of Object.values(doc.terms?.OnDemand ?? {})) {
      for (const dim of Object.values(term.priceDimensions ?? {})) {
        const usd = Number(dim.pricePerUnit?.USD)
        if (dim.unit === 'Hrs' && Number.isFinite(usd) && usd > 0) out.set(region, usd)
      }
    }
  }
  return out
}

/** On-demand USD/hour of one instance type in every region the price list has it. */
export async function fetchOnDemand(
  http: HttpClient,
  endpoint: string,
  credentials: AwsCredentials,
  instanceType: string,
  now: () => Date = () => new Date(),
): Promise<Map<string, number>> {
  const url = new URL(endpoint)
  const out = new Map<string, number>()
  let token: string | undefined
  let pages = 0
  do {
    if (++pages > MAX_PAGES) break
    const body = getProductsBody(instanceType, token)
    const signed = signRequest(
      {
        method: 'POST',
        path: url.pathname,
        headers: [
          ['Host', url.host],
          ['Content-Type', 'application/x-amz-json-1.1'],
          ['X-Amz-Target', TARGET],
        ],
        body,
      },
      credentials,
      {region: 'us-east-1', service: 'pricing', date: now()},
    )
    const res = await http.request({
      method: 'POST',
      url: url.toString(),
      headers: Object.fromEntries(signed.headers.filter(([n]) => n.toLowerCase() !== 'host')),
      body,
      // GetProducts only reads; repeating it is harmless.
      idempotent: true,
    })
    const page = JSON.parse(res.body) as GetProductsPage
    if (!Array.isArray(page.PriceList)) {
      throw new ProviderError('aws', 'unavailable', 'GetProducts answer has no PriceList', {code: 'PROVIDER_BAD_RESPONSE'})
    }
    for (const [region, usd] of onDemandByRegion(page.PriceList)) out.set(region, usd)
    token = page.NextToken || undefined
  } while (token)
  return out
}
