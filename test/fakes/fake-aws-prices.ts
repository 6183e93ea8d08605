// A TEST FAKE, not AWS: a local server answering the AWS Price List Query API's
// GetProducts as documented (docs.aws.amazon.com/aws-cost-management/latest/APIReference/
// API_pricing_GetProducts.html): JSON 1.1 POST with `X-Amz-Target:
// AWSPriceListService.GetProducts`, TERM_MATCH filters on product attributes, `PriceList`
// as an array of JSON strings, `NextToken` paging, and JSON errors (`__type`). Every
// request's SigV4 signature (service `pricing`) is checked with skyhop's own signer.
import {createServer, type IncomingMessage, type ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'

import {parseAuthorization, signRequest} from '../../src/clouds/aws/sigv4.js'
import {signaturesEqual} from '../../src/clouds/common/signing-util.js'

export interface FakeProduct {
  instanceType: string
  regionCode: string
  usdPerHour: number
  operatingSystem?: string
  tenancy?: string
  preInstalledSw?: string
  capacitystatus?: string
}

export interface FakeAwsPrices {
  readonly url: string
  readonly requests: Array<{target: string | undefined; status: number; filters: Array<{Field: string; Value: string}>}>
  /** The next `times` requests answer 400 ThrottlingException. */
  throttle(times: number): void
  /** Every request answers 400 AccessDeniedException until cleared. */
  denyAll(deny: boolean): void
  close(): Promise<void>
}

function productJson(p: FakeProduct, i: number): string {
  const sku = `SKU${String(i).padStart(6, '0')}`
  return JSON.stringify({
    product: {
      productFamily: 'Compute Instance',
      sku,
      attributes: {
        servicecode: 'AmazonEC2',
        instanceType: p.instanceType,
        regionCode: p.regionCode,
        operatingSystem: p.operatingSystem ?? 'Linux',
        tenancy: p.tenancy ?? 'Shared',
        preInstalledSw: p.preInstalledSw ?? 'NA',
        capacitystatus: p.capacitystatus ?? 'Used',
      },
    },
    serviceCode: 'AmazonEC2',
    terms: {
      OnDemand: {
        [`${sku}.JRTCKXETXF`]: {
          offerTermCode: 'JRTCKXETXF',
          sku,
          effectiveDate: '2026-11-01T00:00:00Z',
          priceDimensions: {
            [`${sku}.JRTCKXETXF.6YS6EN2CT7`]: {
              unit: 'Hrs',
              pricePerUnit: {USD: p.usdPerHour.toFixed(7)},
              description: `$${p.usdPerHour} per On Demand Linux ${p.instanceType} Instance Hour`,
            },
          },
        },
      },
    },
    version: '20261101000000',
    publicationDate: '2026-11-01T00:00:00Z',
  })
}

export async function startFakeAwsPrices(options: {
  keys: Array<{accessKeyId: string; secretAccessKey: string}>
  products: FakeProduct[]
  pageSize?: number
}): Promise<FakeAwsPrices> {
  const pageSize = options.pageSize ?? 100
  const requests: FakeAwsPrices['requests'] = []
  let throttled = 0
  let deny = false

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      const target = req.headers['x-amz-target'] as string | undefined
      let filters: Array<{Field: string; Value: string}> = []
      const send = (status: number, payload: unknown) => {
        requests.push({target, status, filters})
        res.writeHead(status, {'content-type': 'application/x-amz-json-1.1'})
        res.end(JSON.stringify(payload))
      }
      const auth = parseAuthorization(String(req.headers.authorization ?? ''))
      const key = auth && options.keys.find((k) => k.accessKeyId === auth.accessKeyId)
      if (!auth || !key || auth.service !== 'pricing' || auth.region !== 'us-east-1')
        return send(403, {__type: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.'})
      const raw = req.rawHeaders
      const headers: Array<[string, string]> = []
      for (let i = 0; i < raw.length; i += 2) if (auth.signedHeaders.includes(raw[i].toLowerCase())) headers.push([raw[i], raw[i + 1]])
      const expected = signRequest({method: 'POST', path: new URL(req.url ?? '/', 'http://x').pathname, headers, body}, key, {
        region: auth.region,
        service: auth.service,
      })
      if (!signaturesEqual(expected.signature, auth.signature))
        return send(403, {
          __type: 'InvalidSignatureException',
          message: 'The request signature we calculated does not match the signature you provided.',
        })
      if (target !== 'AWSPriceListService.GetProducts') return send(400, {__type: 'UnknownOperationException'})
      let input: {
        ServiceCode?: string
        Filters?: Array<{Type: string; Field: string; Value: string}>
        NextToken?: string
        MaxResults?: number
      }
      try {
        input = JSON.parse(body)
      } catch {
        return send(400, {__type: 'SerializationException'})
      }
      filters = (input.Filters ?? []).map((f) => ({Field: f.Field, Value: f.Value}))
      if (deny) return send(400, {__type: 'AccessDeniedException', Message: 'User is not authorized to perform: pricing:GetProducts'})
      if (throttled > 0) {
        throttled--
        return send(400, {__type: 'ThrottlingException', Message: 'Rate exceeded'})
      }
      if (input.ServiceCode !== 'AmazonEC2') return send(200, {FormatVersion: 'aws_v1', PriceList: []})
      const matching = options.products
        .map((p, i) => ({p, i}))
        .filter(({p}) =>
          (input.Filters ?? []).every((f) => {
            if (f.Type !== 'TERM_MATCH') return false
            const attrs: Record<string, string> = {
              instanceType: p.instanceType,
              regionCode: p.regionCode,
              operatingSystem: p.operatingSystem ?? 'Linux',
              tenancy: p.tenancy ?? 'Shared',
              preInstalledSw: p.preInstalledSw ?? 'NA',
              capacitystatus: p.capacitystatus ?? 'Used',
            }
            return attrs[f.Field] === f.Value
          }),
        )
      const start = input.NextToken ? Number(Buffer.from(input.NextToken, 'base64').toString()) : 0
      const size = Math.min(pageSize, input.MaxResults ?? 100)
      const page = matching.slice(start, start + size)
      const next = start + size < matching.length ? Buffer.from(String(start + size)).toString('base64') : undefined
      send(200, {FormatVersion: 'aws_v1', PriceList: page.map(({p, i}) => productJson(p, i)), ...(next ? {NextToken: next} : {})})
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/`,
    requests,
    throttle: (times) => {
      throttled = times
    },
    denyAll: (d) => {
      deny = d
    },
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
