// A FAKE of Huawei Cloud's price inquiry for tests: a local HTTP server answering the
// Business Support System's ListOnDemandResourceRatings ("查询按需产品价格",
// support.huaweicloud.com/api-oce/bcloud_01001.html) and the two IAM calls a caller needs
// first: the account (GET /v3/auth/domains) and its projects (GET /v3/auth/projects). Not
// Huawei Cloud; tests reach it through SKYHOP_HUAWEICLOUD_ENDPOINT.
//
// Wire format, as the SDKs model it (huaweicloud-sdk-go-v3 services/bss/v2/model):
//   POST /v2/bills/ratings/on-demand-resources   (X-Domain-Id: the account id)
//   {"project_id", "inquiry_precision"?, "product_infos": [{"id", "cloud_service_type",
//     "resource_type", "resource_spec", "region", "available_zone"?, "usage_factor",
//     "usage_value", "usage_measure_id", "subscription_num"}]}
//   200 {"amount", "discount_amount", "official_website_amount", "measure_id": 1,
//        "currency", "product_rating_results": [{"id", "product_id", "amount",
//        "discount_amount", "official_website_amount", "measure_id"}]}
//   Errors {"error_code", "error_msg"}: 400 CBC.0100 (bad parameters), 400 CBC.99006006
//   (product not found), 403 CBC.0151 (access denied), 429 CBC.0250 (flow control),
//   500 CBC.0999; the API gateway's 401 APIGW.0301 for a bad signature.
//
// Real behaviour: verifies every SDK-HMAC-SHA256 signature with skyhop's canonicalization
// over exactly the signed headers (unknown AKs, bad signatures and stale X-Sdk-Date are
// refused with APIGW.0301); BSS calls must carry the account's X-Domain-Id (this fake
// refuses one without it with APIGW.0301, as the gateway cannot find the account) and a
// project id of the account; prices are per region and ECS resource spec
// (`<flavor>.linux`), one hour of one instance; throttling, refusal and any error
// injected on demand.
import {randomBytes} from 'node:crypto'
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'

import {parseSdkHmacAuthorization, sdkHmacCanonicalRequest} from '../../src/clouds/huaweicloud/sdk-hmac.js'
import {hmacSha256Hex, sha256Hex, signaturesEqual} from '../../src/clouds/common/signing-util.js'

export interface FakeBssOptions {
  keys: Array<{ak: string; sk: string; securityToken?: string}>
  /** The account id X-Domain-Id must carry. */
  domainId: string
  domainName?: string
  /** region → project id (32 hex). */
  projects: Record<string, string>
  /** region → flavor → pay-per-use price per hour (list price). */
  prices: Record<string, Record<string, number>>
  /** The account's discount off the list price, 0..1. Default 0. */
  discount?: number
  /** `currency` in answers. Default CNY. */
  currency?: string
  /** `measure_id` in answers: 1 yuan, 2 jiao, 3 fen. Default 1. */
  measureId?: number
  now?: () => number
}

export interface BssCall {
  action: string
  status: number
  code: string | null
  body: unknown
  headers: Record<string, string | string[] | undefined>
}

class FakeBssError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

export class FakeHuaweiBss {
  readonly calls: BssCall[] = []
  private readonly injections: Array<{action?: string; status: number; code: string; message: string; times: number}> = []
  private server: Server | null = null
  url = ''

  constructor(readonly options: FakeBssOptions) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) =>
        this.send(res, 500, {error_code: 'CBC.0999', error_msg: `fake: ${(error as Error).message}`}),
      )
    })
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve))
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
    return this.url
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections()
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()))
  }

  /** Fails the next `times` calls of `action` (any when omitted). */
  inject(injection: {action?: string; status: number; code: string; message?: string; times?: number}): void {
    this.injections.push({...injection, message: injection.message ?? `injected ${injection.code}`, times: injection.times ?? 1})
  }

  /** BSS's flow control: HTTP 429 CBC.0250. */
  throttle(times: number): void {
    this.inject({action: 'ListOnDemandResourceRatings', status: 429, code: 'CBC.0250', message: 'Flow control.', times})
  }

  /** Every price inquiry refused: the IAM user may not use BSS. */
  denyAll(): void {
    this.inject({
      action: 'ListOnDemandResourceRatings',
      status: 403,
      code: 'CBC.0151',
      message: 'Access denied.',
      times: Number.POSITIVE_INFINITY,
    })
  }

  bssCalls(): BssCall[] {
    return this.calls.filter((c) => c.action === 'ListOnDemandResourceRatings')
  }

  private now(): number {
    return (this.options.now ?? Date.now)()
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, {'Content-Type': 'application/json;charset=UTF-8', 'X-Request-Id': randomBytes(16).toString('hex')})
    res.end(JSON.stringify(body))
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const text = Buffer.concat(chunks).toString('utf8')
    const url = new URL(req.url ?? '/', 'http://fake')
    const route = `${req.method} ${url.pathname}`
    const action =
      route === 'POST /v2/bills/ratings/on-demand-resources'
        ? 'ListOnDemandResourceRatings'
        : route === 'GET /v3/auth/domains'
          ? 'KeystoneListAuthDomains'
          : route === 'GET /v3/auth/projects'
            ? 'KeystoneListAuthProjects'
            : 'Unknown'
    let body: unknown
    try {
      if (action === 'Unknown')
        throw new FakeBssError(404, 'APIGW.0101', `The API does not exist or has not been published in the environment: ${route}`)
      this.verify(req, url, text)
      if (action === 'ListOnDemandResourceRatings' && req.headers['x-domain-id'] !== this.options.domainId) {
        throw new FakeBssError(
          401,
          'APIGW.0301',
          'Incorrect IAM authentication information: the X-Domain-Id of a global service call does not name the account',
        )
      }
      const idx = this.injections.findIndex((i) => !i.action || i.action === action)
      if (idx >= 0) {
        const inj = this.injections[idx]
        if (--inj.times <= 0) this.injections.splice(idx, 1)
        throw new FakeBssError(inj.status, inj.code, inj.message)
      }
      if (text !== '') {
        try {
          body = JSON.parse(text)
        } catch {
          throw new FakeBssError(400, 'CBC.0100', 'Invalid parameter: the body is not JSON.')
        }
      }
      const answer = this.act(action, body)
      this.calls.push({action, status: 200, code: null, body, headers: req.headers})
      this.send(res, 200, answer)
    } catch (error) {
      if (!(error instanceof FakeBssError)) throw error
      this.calls.push({action, status: error.status, code: error.code, body, headers: req.headers})
      this.send(res, error.status, {error_code: error.code, error_msg: error.message})
    }
  }

  private act(action: string, body: unknown): Record<string, unknown> {
    if (action === 'KeystoneListAuthDomains')
      return {domains: [{id: this.options.domainId, name: this.options.domainName ?? 'skyhop-test', enabled: true}]}
    if (action === 'KeystoneListAuthProjects') {
      return {
        projects: Object.entries(this.options.projects).map(([name, id]) => ({id, name, enabled: true, domain_id: this.options.domainId})),
      }
    }
    const b = (body ?? {}) as {project_id?: unknown; product_infos?: unknown}
    if (typeof b.project_id !== 'string' || !Object.values(this.options.projects).includes(b.project_id))
      throw new FakeBssError(400, 'CBC.0100', 'Invalid parameter: project_id.')
    if (!Array.isArray(b.product_infos) || b.product_infos.length === 0)
      throw new FakeBssError(400, 'CBC.0100', 'Invalid parameter: product_infos.')
    const results = (b.product_infos as Array<Record<string, unknown>>).map((p) => {
      if (p.usage_factor !== 'Duration' || p.usage_measure_id !== 4 || typeof p.usage_value !== 'number' || typeof p.id !== 'string')
        throw new FakeBssError(400, 'CBC.99006050', 'Usage measure error.')
      const spec = String(p.resource_spec ?? '')
      const flavor = spec.endsWith('.linux') ? spec.slice(0, -'.linux'.length) : null
      const price = flavor ? this.options.prices[String(p.region)]?.[flavor] : undefined
      if (p.cloud_service_type !== 'hws.service.type.ec2' || p.resource_type !== 'hws.resource.type.vm' || price === undefined)
        throw new FakeBssError(400, 'CBC.99006006', 'Product not found.')
      const n = typeof p.subscription_num === 'number' ? p.subscription_num : 1
      const official = price * n * (p.usage_value as number)
      const amount = Math.round(official * (1 - (this.options.discount ?? 0)) * 1e6) / 1e6
      const scale = {1: 1, 2: 10, 3: 100}[this.options.measureId ?? 1] ?? 1
      return {
        id: p.id,
        product_id: `OFFI${randomBytes(8).toString('hex')}`,
        amount: amount * scale,
        discount_amount: (official - amount) * scale,
        official_website_amount: official * scale,
        measure_id: this.options.measureId ?? 1,
      }
    })
    const sum = (k: 'amount' | 'discount_amount' | 'official_website_amount') => results.reduce((s, r) => s + r[k], 0)
    return {
      amount: sum('amount'),
      discount_amount: sum('discount_amount'),
      official_website_amount: sum('official_website_amount'),
      measure_id: this.options.measureId ?? 1,
      currency: this.options.currency ?? 'CNY',
      product_rating_results: results,
    }
  }

  /** SDK-HMAC-SHA256 verification over exactly the signed headers. */
  private verify(req: IncomingMessage, url: URL, body: string): void {
    const auth = parseSdkHmacAuthorization(String(req.headers.authorization ?? ''))
    if (!auth) throw new FakeBssError(401, 'APIGW.0301', 'Incorrect IAM authentication information: Authorization format incorrect')
    const key = this.options.keys.find((k) => k.ak === auth.ak)
    if (!key) throw new FakeBssError(401, 'APIGW.0301', 'Incorrect IAM authentication information: ak not exist')
    for (const h of ['host', 'x-sdk-date'])
      if (!auth.signedHeaders.includes(h))
        throw new FakeBssError(401, 'APIGW.0301', `Incorrect IAM authentication information: header ${h} must be signed`)
    const date = String(req.headers['x-sdk-date'] ?? '')
    const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(date)
    const at = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])) : NaN
    if (!Number.isFinite(at) || Math.abs(at - this.now()) > 15 * 60_000)
      throw new FakeBssError(401, 'APIGW.0301', 'Incorrect IAM authentication information: request expired')
    if (key.securityToken !== undefined && req.headers['x-security-token'] !== key.securityToken)
      throw new FakeBssError(401, 'APIGW.0301', 'Incorrect IAM authentication information: security token invalid')
    const raw = req.rawHeaders
    const headers: Array<[string, string]> = []
    for (let i = 0; i < raw.length; i += 2) headers.push([raw[i], raw[i + 1]])
    const creq = sdkHmacCanonicalRequest(
      {method: req.method ?? 'GET', path: url.pathname, query: [...url.searchParams], headers, body},
      auth.signedHeaders,
    )
    if (creq.signedHeaders !== auth.signedHeaders.join(';'))
      throw new FakeBssError(401, 'APIGW.0301', 'Incorrect IAM authentication information: a signed header is missing')
    const expected = hmacSha256Hex(key.sk, ['SDK-HMAC-SHA256', date, sha256Hex(creq.text)].join('\n'))
    if (!signaturesEqual(expected, auth.signature))
      throw new FakeBssError(401, 'APIGW.0301', 'Incorrect IAM authentication information: verify aksk signature fail')
  }
}
