// A TEST FAKE, not Azure: a local HTTP server that answers GET /api/retail/prices the way
// the Azure Retail Prices API documents it (learn.microsoft.com/rest/api/cost-management/
// retail-prices/azure-retail-prices): `BillingCurrency`, `CustomerEntityId`,
// `CustomerEntityType`, `Items`, `NextPageLink` (absolute, with `$skip`), `Count`, and an
// OData `$filter` of `eq`, `and`, `or` and parentheses over the item fields. Faults
// (throttling with Retry-After, 5xx, garbage, hangs) can be queued to test retries.
import {createServer, type IncomingMessage, type ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'

export interface FakeAzureItem {
  currencyCode: string
  tierMinimumUnits: number
  retailPrice: number
  unitPrice: number
  armRegionName: string
  location: string
  effectiveStartDate: string
  meterId: string
  meterName: string
  productId: string
  skuId: string
  productName: string
  skuName: string
  serviceName: string
  serviceId: string
  serviceFamily: string
  unitOfMeasure: string
  type: string
  isPrimaryMeterRegion: boolean
  armSkuName: string
}

export type Fault = {kind: 'status'; status: number; retryAfter?: string; body?: string} | {kind: 'garbage'} | {kind: 'hang'}

export interface FakeAzurePrices {
  /** Endpoint to put in SKYHOP_AZURE_ENDPOINT: `http://127.0.0.1:PORT/api/retail/prices`. */
  readonly endpoint: string
  readonly requests: Array<{url: string; filter: string | null; status: number}>
  /** Answers the next requests with these faults, in order, before serving normally again. */
  queueFaults(...faults: Fault[]): void
  /** Every request fails with this fault until cleared. */
  failAlways(fault: Fault | null): void
  setItems(items: FakeAzureItem[]): void
  close(): Promise<void>
}

let meter = 0

/** An item as the API lists a Linux pay-as-you-go (or spot) VM meter. */
export function vmItem(
  sku: string,
  region: string,
  price: number,
  options: {spot?: boolean; windows?: boolean; lowPriority?: boolean; since?: string; currency?: string} = {},
): FakeAzureItem {
  const short = sku.replace(/^Standard_/, '').replace(/_/g, ' ')
  const suffix = options.spot ? ' Spot' : options.lowPriority ? ' Low Priority' : ''
  meter++
  return {
    currencyCode: options.currency ?? 'USD',
    tierMinimumUnits: 0,
    retailPrice: price,
    unitPrice: price,
    armRegionName: region,
    location: region,
    effectiveStartDate: options.since ?? '2025-01-01T00:00:00Z',
    meterId: `00000000-0000-0000-0000-${String(meter).padStart(12, '0')}`,
    meterName: `${short}${suffix}`,
    productId: 'DZH318Z0BQ4L',
    skuId: `DZH318Z0BQ4L/${String(meter).padStart(4, '0')}`,
    productName: `Virtual Machines ${short.split(' ')[0]} Series${options.windows ? ' Windows' : ''}`,
    skuName: `${short}${suffix}`,
    serviceName: 'Virtual Machines',
    serviceId: 'DZH313Z7MMC8',
    serviceFamily: 'Compute',
    unitOfMeasure: '1 Hour',
    type: 'Consumption',
    isPrimaryMeterRegion: true,
    armSkuName: sku,
  }
}

// ---------------------------------------------------------------- a tiny OData $filter

type Pred = (item: Record<string, unknown>) => boolean

/** Parses `a eq 'x' and (b eq 'y' or b eq 'z')`; enough of OData for the price API. */
export function parseFilter(text: string): Pred {
  const tokens = text.match(/'(?:[^']|'')*'|\(|\)|[A-Za-z_][A-Za-z0-9_]*|-?\d+(?:\.\d+)?/g) ?? []
  let i = 0
  const peek = () => tokens[i]
  const next = () => tokens[i++]
  const value = (t: string): unknown =>
    t.startsWith("'") ? t.slice(1, -1).replace(/''/g, "'") : t === 'true' ? true : t === 'false' ? false : Number(t)
  function primary(): Pred {
    if (peek() === '(') {
      next()
      const p = or()
      if (next() !== ')') throw new Error('expected )')
      return p
    }
    const field = next()
    const op = next()
    const v = value(next())
    if (op !== 'eq') throw new Error(`unsupported operator ${op}`)
    // The API filters on `priceType` but lists it as `type` in each item.
    const key = field === 'priceType' ? 'type' : field
    return (item) => item[key] === v
  }
  function and(): Pred {
    let p = primary()
    while (peek() === 'and') {
      next()
      const a = p
      const b = primary()
      p = (x) => a(x) && b(x)
    }
    return p
  }
  function or(): Pred {
    let p = and()
    while (peek() === 'or') {
      next()
      const a = p
      const b = and()
      p = (x) => a(x) || b(x)
    }
    return p
  }
  const pred = or()
  if (i !== tokens.length) throw new Error(`unexpected ${tokens[i]}`)
  return pred
}

export async function startFakeAzurePrices(options: {items?: FakeAzureItem[]; pageSize?: number} = {}): Promise<FakeAzurePrices> {
  let items = options.items ?? []
  const pageSize = options.pageSize ?? 1000
  const queued: Fault[] = []
  let always: Fault | null = null
  const requests: FakeAzurePrices['requests'] = []
  const hanging = new Set<ServerResponse>()

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', `http://${req.headers.host}`)
    const filter = url.searchParams.get('$filter')
    const send = (status: number, body: string, headers: Record<string, string> = {}) => {
      requests.push({url: url.pathname + url.search, filter, status})
      res.writeHead(status, {'content-type': 'application/json; charset=utf-8', ...headers})
      res.end(body)
    }
    const fault = queued.shift() ?? always
    if (fault) {
      if (fault.kind === 'hang') {
        requests.push({url: url.pathname + url.search, filter, status: 0})
        hanging.add(res)
        return
      }
      if (fault.kind === 'garbage') return send(200, '<html>not json</html>')
      return send(
        fault.status,
        fault.body ?? JSON.stringify({Error: {Code: 'TooManyRequests', Message: 'throttled'}}),
        fault.retryAfter ? {'retry-after': fault.retryAfter} : {},
      )
    }
    if (req.method !== 'GET' || url.pathname !== '/api/retail/prices') return send(404, JSON.stringify({Error: {Code: 'NotFound'}}))
    let selected = items
    if (filter) {
      try {
        const pred = parseFilter(filter)
        selected = items.filter((it) => pred(it as unknown as Record<string, unknown>))
      } catch (error) {
        return send(400, JSON.stringify({Error: {Code: 'InvalidFilter', Message: (error as Error).message}}))
      }
    }
    if (url.searchParams.get('meterRegion') === "'primary'") selected = selected.filter((it) => it.isPrimaryMeterRegion)
    const skip = Number(url.searchParams.get('$skip') ?? '0')
    const page = selected.slice(skip, skip + pageSize)
    let nextLink: string | null = null
    if (skip + pageSize < selected.length) {
      const n = new URL(url.toString())
      n.searchParams.set('$skip', String(skip + pageSize))
      nextLink = n.toString()
    }
    send(
      200,
      JSON.stringify({
        BillingCurrency: 'USD',
        CustomerEntityId: 'Default',
        CustomerEntityType: 'Retail',
        Items: page,
        NextPageLink: nextLink,
        Count: page.length,
      }),
    )
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo
  return {
    endpoint: `http://127.0.0.1:${port}/api/retail/prices`,
    requests,
    queueFaults: (...faults) => queued.push(...faults),
    failAlways: (fault) => {
      always = fault
    },
    setItems: (next) => {
      items = next
    },
    close: async () => {
      for (const res of hanging) res.destroy()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
