// A TEST FAKE, not a cloud: a local HTTP server that answers the instance-metadata paths
// the clouds document for spot interruption notices, with their documented payloads,
// headers and token handshakes, so the runner's pollers can be exercised here. One server
// plays one cloud (AWS and Alibaba both use /latest/api/token). Sources of every path
// and payload: each cloud's documentation of spot interruption notices (the URLs are in
// src/catalog/providers.ts).
//
// GCP's metadata server also answers hanging GETs: `?wait_for_change=true` holds the
// request until the value's ETag differs from `last_etag` (at once when it already does;
// without one, until the next change) or until `timeout_sec` passes, then answers the
// current value with its ETag, as every answer carries one.
import {createHash, randomBytes, randomUUID} from 'node:crypto'
import {createServer, type IncomingMessage, type ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'

export type FakeCloud = 'aws' | 'gcp' | 'azure' | 'aliyun' | 'tencentcloud'

export interface FakeRequest {
  method: string
  path: string
  headers: Record<string, string | string[] | undefined>
  status: number
  /** ms since the epoch when it was answered */
  at: number
}

export interface FakeMetadataServer {
  readonly cloud: FakeCloud
  /** Base URL to give the runner: `aws=<url>`. */
  readonly url: string
  readonly requests: FakeRequest[]
  /**
   * From now on the metadata reports an interruption at `deadline` (GCP has no time: it
   * just says TRUE). Returns the ms timestamp at which it became visible.
   */
  interrupt(deadline: Date): number
  /** Azure only: a Preempt event for another VM of the same availability set. */
  addForeignAzureEvent(vmName: string, notBefore: Date): void
  /** AWS only: from now on the metadata carries a rebalance recommendation. Returns when it became visible. */
  recommendRebalance(noticeTime: Date): number
  /** GCP only: hanging GETs waiting right now. */
  readonly hangingGets: number
  close(): Promise<void>
}

export interface FakeMetadataOptions {
  /** Azure: this VM's name, as /metadata/instance/compute/name answers. */
  azureVmName?: string
  /** AWS/Alibaba: refuse requests without a session token (IMDSv2-only / hardened mode). Default true. */
  requireToken?: boolean
  /**
   * GCP: answer every hanging GET (`wait_for_change=true`) with 503, as the metadata server
   * may during a maintenance event; plain GETs still answer. Default false.
   */
  failHangingGets?: boolean
}

/** answer()'s result for a request held open (a GCP hanging GET), logged when it is answered. */
const HANGING = 0

/** AWS writes times without milliseconds: 2017-09-18T08:22:00Z. */
function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/** Tencent's wall time in UTC+8 without a zone: 2018-08-18 12:05:33. */
function tencentTime(date: Date): string {
  return new Date(date.getTime() + 8 * 3_600_000)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d{3}Z$/, '')
}

export async function startFakeMetadataServer(cloud: FakeCloud, options: FakeMetadataOptions = {}): Promise<FakeMetadataServer> {
  const requireToken = options.requireToken ?? true
  const vmName = options.azureVmName ?? 'skyhop-test-vm'
  const tokens = new Map<string, number>() // token -> expiry (ms)
  const requests: FakeRequest[] = []
  let deadline: Date | null = null
  let incarnation = 1
  const azureEvents: Array<Record<string, unknown>> = []
  let rebalance: Date | null = null
  // GCP hanging GETs, answered when the value changes or their timeout passes.
  const waiters = new Set<{res: ServerResponse; timer: NodeJS.Timeout; done: (status: number) => void}>()
  const gcpValue = () => (deadline ? 'TRUE' : 'FALSE')
  // The metadata server's ETags are opaque hex strings that change with the value.
  const gcpEtag = () => createHash('sha256').update(`preempted=${gcpValue()}`).digest('hex').slice(0, 16)

  function header(req: IncomingMessage, name: string): string | undefined {
    const value = req.headers[name.toLowerCase()]
    return Array.isArray(value) ? value[0] : value
  }

  function issueToken(req: IncomingMessage, res: ServerResponse, ttlHeader: string): number {
    const ttl = Number(header(req, ttlHeader))
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21_600) return send(res, 400, 'text/plain', 'Bad Request')
    const token = randomBytes(24).toString('base64')
    tokens.set(token, Date.now() + ttl * 1000)
    res.setHeader(ttlHeader, String(ttl))
    return send(res, 200, 'text/plain', token)
  }

  function tokenOk(req: IncomingMessage, tokenHeader: string): boolean {
    const token = header(req, tokenHeader)
    if (token === undefined) return !requireToken
    const expiry = tokens.get(token)
    return expiry !== undefined && expiry > Date.now()
  }

  function send(res: ServerResponse, status: number, type: string, body: string): number {
    res.writeHead(status, {'content-type': type, 'content-length': Buffer.byteLength(body)})
    res.end(body)
    return status
  }

  const notFound = (res: ServerResponse) => send(res, 404, 'text/html', '<html><body><h1>404 - Not Found</h1></body></html>')

  function gcpAnswer(res: ServerResponse): number {
    res.setHeader('ETag', gcpEtag())
    return send(res, 200, 'application/text', gcpValue())
  }

  /** Holds a hanging GET; HANGING (0) until it is answered, when it is logged with its status. */
  function hang(req: IncomingMessage, res: ServerResponse, timeoutSec: number): number {
    const waiter = {
      res,
      timer: setTimeout(() => waiter.done(gcpAnswer(res)), timeoutSec * 1000),
      done: (status: number) => {
        clearTimeout(waiter.timer)
        waiters.delete(waiter)
        log(req, status)
      },
    }
    waiters.add(waiter)
    res.on('close', () => {
      if (waiters.has(waiter)) {
        clearTimeout(waiter.timer)
        waiters.delete(waiter)
      }
    })
    return HANGING
  }

  function log(req: IncomingMessage, status: number): void {
    requests.push({method: req.method ?? 'GET', path: req.url ?? '/', headers: {...req.headers}, status, at: Date.now()})
  }

  function answer(req: IncomingMessage, res: ServerResponse): number {
    const url = new URL(req.url ?? '/', 'http://fake')
    const method = req.method ?? 'GET'
    switch (cloud) {
      case 'aws': {
        if (url.pathname === '/latest/api/token' && method === 'PUT') return issueToken(req, res, 'X-aws-ec2-metadata-token-ttl-seconds')
        if (url.pathname === '/latest/meta-data/events/recommendations/rebalance' && method === 'GET') {
          if (!tokenOk(req, 'X-aws-ec2-metadata-token')) return send(res, 401, 'text/plain', 'Unauthorized')
          if (!rebalance) return notFound(res)
          return send(res, 200, 'text/plain', JSON.stringify({noticeTime: isoSeconds(rebalance)}))
        }
        if (url.pathname === '/latest/meta-data/spot/instance-action' && method === 'GET') {
          if (!tokenOk(req, 'X-aws-ec2-metadata-token')) return send(res, 401, 'text/plain', 'Unauthorized')
          if (!deadline) return notFound(res)
          return send(res, 200, 'text/plain', JSON.stringify({action: 'terminate', time: isoSeconds(deadline)}))
        }
        return notFound(res)
      }
      case 'gcp': {
        res.setHeader('Metadata-Flavor', 'Google')
        if (url.pathname === '/computeMetadata/v1/instance/preempted' && method === 'GET') {
          if (header(req, 'Metadata-Flavor') !== 'Google') return send(res, 403, 'text/html', 'Missing Metadata-Flavor:Google header.')
          if (url.searchParams.get('wait_for_change') === 'true') {
            if (options.failHangingGets) return send(res, 503, 'text/plain', 'Service Unavailable')
            const timeoutSec = Number(url.searchParams.get('timeout_sec') ?? '3600')
            if (!Number.isInteger(timeoutSec) || timeoutSec < 1) return send(res, 400, 'text/plain', 'Bad Request: timeout_sec')
            const last = url.searchParams.get('last_etag')
            if (last !== null && last !== gcpEtag()) return gcpAnswer(res)
            return hang(req, res, timeoutSec)
          }
          return gcpAnswer(res)
        }
        return notFound(res)
      }
      case 'azure': {
        if (header(req, 'Metadata') !== 'true') {
          return send(res, 400, 'application/json', JSON.stringify({error: 'Bad request. Required metadata header not specified'}))
        }
        if (!url.searchParams.get('api-version'))
          return send(res, 400, 'application/json', JSON.stringify({error: 'Bad request. api-version was not specified'}))
        if (url.pathname === '/metadata/instance/compute/name' && method === 'GET') return send(res, 200, 'text/plain', vmName)
        if (url.pathname === '/metadata/scheduledevents' && method === 'GET') {
          const body = JSON.stringify({DocumentIncarnation: incarnation, Events: azureEvents}, null, 2)
          return send(res, 200, 'application/json', body)
        }
        return notFound(res)
      }
      case 'aliyun': {
        if (url.pathname === '/latest/api/token' && method === 'PUT') return issueToken(req, res, 'X-aliyun-ecs-metadata-token-ttl-seconds')
        if (url.pathname === '/latest/meta-data/instance/spot/termination-time' && method === 'GET') {
          if (!tokenOk(req, 'X-aliyun-ecs-metadata-token')) return send(res, 403, 'text/plain', 'Forbidden')
          if (!deadline) return notFound(res)
          return send(res, 200, 'text/plain', isoSeconds(deadline))
        }
        return notFound(res)
      }
      case 'tencentcloud': {
        if (url.pathname === '/latest/meta-data/spot/termination-time' && method === 'GET') {
          if (!deadline) return notFound(res)
          return send(res, 200, 'text/plain', tencentTime(deadline))
        }
        return notFound(res)
      }
    }
  }

  const server = createServer((req, res) => {
    const status = answer(req, res)
    if (status !== HANGING) log(req, status)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo

  function azureEvent(resource: string, notBefore: Date): Record<string, unknown> {
    return {
      EventId: randomUUID().toUpperCase(),
      EventStatus: 'Scheduled',
      EventType: 'Preempt',
      ResourceType: 'VirtualMachine',
      Resources: [resource],
      // RFC 1123, as Azure writes it: "Mon, 19 Sep 2016 18:29:47 GMT"
      NotBefore: notBefore.toUTCString(),
      Description: '',
      EventSource: 'Platform',
      DurationInSeconds: -1,
    }
  }

  return {
    cloud,
    url: `http://127.0.0.1:${port}`,
    requests,
    interrupt(at: Date): number {
      deadline = at
      if (cloud === 'azure') {
        azureEvents.push(azureEvent(vmName, at))
        incarnation++
      }
      const visibleAt = Date.now()
      for (const waiter of [...waiters]) waiter.done(gcpAnswer(waiter.res))
      return visibleAt
    },
    recommendRebalance(noticeTime: Date): number {
      rebalance = noticeTime
      return Date.now()
    },
    get hangingGets() {
      return waiters.size
    },
    addForeignAzureEvent(name: string, notBefore: Date): void {
      azureEvents.push(azureEvent(name, notBefore))
      incarnation++
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const waiter of [...waiters]) clearTimeout(waiter.timer)
        waiters.clear()
        server.closeAllConnections()
        server.close((error) => (error ? reject(error) : resolve()))
      }),
  }
}
