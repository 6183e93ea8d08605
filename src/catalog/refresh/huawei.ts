// Huawei Cloud pay-per-use prices of the ECS flavors the catalog knows, from the Business
// Support System's price inquiry, ListOnDemandResourceRatings ("查询按需产品价格",
// support.huaweicloud.com/api-oce/bcloud_01001.html; request and answer as the SDKs model
// them, huaweicloud-sdk-go-v3 services/bss/v2/model RateOnDemandReq, DemandProductInfo,
// ListOnDemandResourceRatingsResponse):
//
//   POST https://bss.myhuaweicloud.com/v2/bills/ratings/on-demand-resources
//   X-Domain-Id: <account id>        (BSS is a global service: AK/SK calls name the account)
//   {"project_id": "<any project of the account>", "inquiry_precision": 1,
//    "product_infos": [{"id": "1", "cloud_service_type": "hws.service.type.ec2",
//      "resource_type": "hws.resource.type.vm", "resource_spec": "<flavor>.linux",
//      "region": "cn-north-4", "usage_factor": "Duration", "usage_value": 1,
//      "usage_measure_id": 4, "subscription_num": 1}]}
//   → {"amount": 28.5, "official_website_amount": 30, "discount_amount": 1.5,
//      "measure_id": 1, "currency": "CNY", "product_rating_results": [{"id": "1", …}]}
//
// One flavor per request, so a flavor BSS does not know (CBC.99006006) fails alone.
// usage_measure_id 4 is an hour; measure_id 1 is one unit of `currency` (2 a tenth,
// 3 a hundredth), CNY when empty. `amount` is what this account pays (list price less its
// discounts). BSS quotes no spot prices: a row keeps the spot price it had, and says so.
// Rows that are not ECS flavors (ModelArts resource flavors such as `Snt9B` or
// `modelarts.bm.snt9.xlarge.8`) cannot be priced this way and keep their data.
//
// Signed with SDK-HMAC-SHA256 (src/clouds/huaweicloud/sdk-hmac.ts) and sent through the
// refresh's HTTP client, which retries throttling (HTTP 429: BSS's CBC.0250 and the API
// gateway's APIGW.0308) and 5xx. The account id (X-Domain-Id) is HUAWEICLOUD_SDK_DOMAIN_ID
// or asked of IAM (GET /v3/auth/domains); the project id is a configured one or the first
// IAM lists. SKYHOP_HUAWEICLOUD_ENDPOINT redirects BSS and IAM ({service} and {region}
// are filled in), SKYHOP_HUAWEICLOUD_IAM_ENDPOINT IAM alone.
import {ProviderError} from '../../errors.js'
import type {HttpClient} from '../../http/client.js'
import type {Currency} from '../../model/job-spec.js'
import type {Offer} from '../../model/catalog.js'
import {cloudRetry, inPool, isProviderWide, KeptRows, knownTypes, pricedRow, reasonOf, reportRetry, type KnownType} from './priced-rows.js'
import type {Refresher, RefreshContext, RefreshResult} from './types.js'

export const HUAWEI_BSS_ENDPOINT = 'https://bss.myhuaweicloud.com'
export const HUAWEI_RATINGS_PATH = '/v2/bills/ratings/on-demand-resources'
export const HUAWEI_SOURCE = 'Huawei Cloud BSS ListOnDemandResourceRatings (ECS pay-per-use)'

/** Flavors priced at once: BSS allows few calls a second per account. */
const PARALLEL = 2

/** Why a row's instance type is not an ECS flavor BSS can price, or null when it is one. */
export function notAnEcsFlavor(instanceType: string): string | null {
  if (/^modelarts\./i.test(instanceType)) return 'a ModelArts resource flavor, not an ECS flavor'
  // ECS flavors are `<family>.<size>[.<ratio>…]` in lower case: s6.large.2, p2s.2xlarge.8, kat1.8xlarge.
  if (!/^[a-z][a-z0-9-]*(\.[a-z0-9-]+)+$/.test(instanceType)) return 'not an ECS flavor name'
  return null
}

/** The request body for one flavor's hourly pay-per-use price in one region. */
export function ratingRequest(projectId: string, flavor: string, region: string): Record<string, unknown> {
  return {
    project_id: projectId,
    inquiry_precision: 1,
    product_infos: [
      {
        id: '1',
        cloud_service_type: 'hws.service.type.ec2',
        resource_type: 'hws.resource.type.vm',
        resource_spec: `${flavor}.linux`,
        region,
        usage_factor: 'Duration',
        usage_value: 1,
        usage_measure_id: 4,
        subscription_num: 1,
      },
    ],
  }
}

const MEASURE_SCALE: Record<number, number> = {1: 1, 2: 0.1, 3: 0.01}

/** The hourly price in a ListOnDemandResourceRatings answer, or why there is none. */
export function ratingPrice(answer: Record<string, unknown>): {amount: number; currency: Currency} | string {
  const result = (answer.product_rating_results as Array<{amount?: unknown; measure_id?: unknown}> | undefined)?.[0]
  const raw = Number(answer.amount ?? result?.amount)
  const measure = Number(answer.measure_id ?? result?.measure_id ?? 1)
  const scale = MEASURE_SCALE[measure]
  if (scale === undefined) return `amount in an unknown unit (measure_id ${measure})`
  const currency = typeof answer.currency === 'string' && answer.currency !== '' ? answer.currency.toUpperCase() : 'CNY'
  if (currency !== 'CNY' && currency !== 'USD') return `amount in ${currency}, which skyhop does not compare`
  if (!Number.isFinite(raw) || raw <= 0) return 'the answer has no amount'
  return {amount: Math.round(raw * scale * 1e6) / 1e6, currency}
}

/** A BSS or API-gateway error answer as a ProviderError: refused access fails the whole refresh. */
function bssError(status: number, body: string, flavor: string, region: string): ProviderError {
  let code = `HTTP${status}`
  let message = `HTTP ${status}`
  try {
    const j = JSON.parse(body) as {error_code?: unknown; error_msg?: unknown}
    if (typeof j.error_code === 'string') code = j.error_code
    if (typeof j.error_msg === 'string') message = j.error_msg
  } catch {
    // Not JSON: the status alone speaks.
  }
  const auth = status === 401 || status === 403 || code.startsWith('APIGW.030') || code === 'CBC.0151'
  return new ProviderError(
    'huaweicloud',
    auth ? 'auth' : 'unavailable',
    `ListOnDemandResourceRatings ${flavor} in ${region}: ${code} ${message}`,
    {
      scope: auth ? 'provider' : 'offer',
      backendCode: code,
      ...(auth
        ? {hint: 'check HUAWEICLOUD_SDK_AK / HUAWEICLOUD_SDK_SK and that the IAM user may query prices in the Billing Center (BSS)'}
        : {}),
    },
  )
}

/** Base URL of BSS: the override with `{service}` and `{region}` filled in, else the China site's. */
export function bssBase(endpoint: string, region: string): string {
  return endpoint
    .replace(/%7Bservice%7D|\{service\}/g, 'bss')
    .replace(/%7Bregion%7D|\{region\}/g, region)
    .replace(/\/$/, '')
}

async function ratingOf(
  http: HttpClient,
  base: string,
  account: {ak: string; sk: string; securityToken?: string},
  domainId: string,
  projectId: string,
  t: KnownType,
): Promise<{amount: number; currency: Currency} | string> {
  const {signSdkHmac} = await import('../../clouds/huaweicloud/sdk-hmac.js')
  const url = new URL(`${base}${HUAWEI_RATINGS_PATH}`)
  const body = JSON.stringify(ratingRequest(projectId, t.instanceType, t.region))
  const signed = signSdkHmac(
    {
      method: 'POST',
      path: url.pathname,
      headers: [
        ['Host', url.host],
        ['Content-Type', 'application/json;charset=UTF-8'],
        ['X-Domain-Id', domainId],
      ],
      body,
    },
    account,
    {date: new Date()},
  )
  const res = await http.request({
    method: 'POST',
    url: url.toString(),
    headers: Object.fromEntries(signed.headers.filter(([n]) => n.toLowerCase() !== 'host')),
    body,
    // A price inquiry only reads; repeating it is harmless.
    idempotent: true,
    // 429 and 5xx are retried by the client; other errors are answers about this flavor.
    accept: (s) => s < 300 || (s >= 400 && s < 500 && s !== 408 && s !== 429),
  })
  if (res.status >= 300) throw bssError(res.status, res.body, t.instanceType, t.region)
  let answer: Record<string, unknown>
  try {
    answer = JSON.parse(res.body) as Record<string, unknown>
  } catch {
    return 'the answer is not JSON'
  }
  return ratingPrice(answer)
}

export const huaweiRefresher: Refresher = {
  provider: 'huaweicloud',
  defaultEndpoint: HUAWEI_BSS_ENDPOINT,
  credentialsRequired: true,
  async fetch(ctx: RefreshContext): Promise<RefreshResult> {
    const [{loadHuaweiCredentials}, {HuaweiApi, listAuthProjects}] = await Promise.all([
      import('../../clouds/huaweicloud/credentials.js'),
      import('../../clouds/huaweicloud/ecs-client.js'),
    ])
    const loaded = await loadHuaweiCredentials({env: ctx.env})
    const account = loaded.credentials
    const types = knownTypes('huaweicloud', ctx.known, ctx.previous)
    if (types.length === 0) throw ctx.fail('unavailable', 'the catalog knows no Huawei Cloud flavors to refresh')
    const kept = new KeptRows()
    const flavors: KnownType[] = []
    for (const t of types) {
      const why = notAnEcsFlavor(t.instanceType)
      if (why) kept.add(t, why)
      else flavors.push(t)
    }
    if (flavors.length === 0) {
      throw ctx.fail(
        'unavailable',
        `none of the catalog's Huawei Cloud rows is an ECS flavor BSS can price; they keep their data (${kept.summary(2).join('; ')})`,
      )
    }

    let requests = 0
    const region = flavors[0].region
    const iam = new HuaweiApi({
      region,
      credentials: async () => account,
      dispatcher: ctx.dispatcher,
      env: ctx.env,
      timeoutMs: ctx.timeoutMs,
      retry: cloudRetry(ctx),
      onRetry: reportRetry(ctx, 'Huawei Cloud IAM'),
    })
    let domainId = account.domainId
    if (!domainId) {
      requests++
      const {json} = await iam.call({service: 'iam', method: 'GET', path: '/v3/auth/domains', action: 'KeystoneListAuthDomains'})
      domainId =
        ((json.domains as Array<{id?: string; enabled?: boolean}> | undefined) ?? []).find((d) => d.id && d.enabled !== false)?.id ?? null
      if (!domainId) throw ctx.fail('auth', 'IAM lists no account (domain) for this access key; set HUAWEICLOUD_SDK_DOMAIN_ID')
    }
    // Any project of the account will do (BSS prices the region named in the body).
    let projectId =
      flavors.map((f) => account.projectIds[f.region]).find(Boolean) ??
      account.anyRegionProjectId ??
      Object.values(account.projectIds)[0] ??
      null
    if (!projectId) {
      requests++
      const projects = await listAuthProjects(iam)
      projectId = (projects.find((p) => flavors.some((f) => f.region === p.name)) ?? projects[0])?.id ?? null
      if (!projectId) throw ctx.fail('auth', 'IAM lists no project for this access key; set HUAWEICLOUD_SDK_PROJECT_ID')
    }

    const domain: string = domainId
    const project: string = projectId
    const asOf = ctx.now.toISOString().slice(0, 10)
    const offers: Offer[] = []
    let firstError: unknown
    await inPool(flavors, PARALLEL, async (t) => {
      let price: {amount: number; currency: Currency} | string
      try {
        requests++
        price = await ratingOf(ctx.http, bssBase(ctx.endpoint, t.region), account, domain, project, t)
      } catch (error) {
        if (isProviderWide(error)) throw error
        firstError ??= error
        return kept.add(t, `ListOnDemandResourceRatings failed (${reasonOf(error, 'huaweicloud')})`)
      }
      if (typeof price === 'string') return kept.add(t, `ListOnDemandResourceRatings: ${price}`)
      const old = t.template.price
      const spot = old.spot !== null && old.currency === price.currency ? old.spot : null
      const notes = [spot === null ? 'BSS quotes no spot prices' : `spot price as of ${t.template.asOf} (BSS quotes no spot prices)`]
      offers.push(pricedRow(t, {zone: null, onDemand: price.amount, spot, currency: price.currency, source: HUAWEI_SOURCE, asOf, notes}))
    })

    if (offers.length === 0) {
      if (firstError) throw firstError
      throw ctx.fail('unavailable', `no Huawei Cloud flavor could be priced (${kept.summary(2).join('; ')})`)
    }
    offers.push(...kept.rows)
    offers.sort(
      (a, b) =>
        a.region.localeCompare(b.region) || a.instanceType.localeCompare(b.instanceType) || (a.zone ?? '').localeCompare(b.zone ?? ''),
    )
    return {offers, source: `${HUAWEI_SOURCE} (credentials: ${loaded.source})`, requests, warnings: kept.summary()}
  },
}
