// A TEST FAKE, not a cloud: a local HTTP server that answers the instance-metadata paths
// the clouds document for spot interruption notices, with their documented payloads,
// headers and token handshakes, so the runner's pollers can be exercised here. One server
// plays one cloud (AWS and Alibaba both use /latest/api/token). Sources of every path
// and payload: /work/shared/data/catalog/spot_semantics.md.
import {randomBytes, randomUUID} from 'node:crypto'
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
  close(): Promise<void>
}

export interface FakeMetadataOptions {
  /** Azure: this VM's name, as /metadata/instance/compute/name answers. */
  azureVmName?: string
  /** AWS/Alibaba: refuse requests without a session token (IMDSv2-only / hardened mode). Default true. */
  requireToken?: boolean
}

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

  function answer(req: IncomingMessage, res: ServerResponse): number {
    const url = new URL(req.url ?? '/', 'http://fake')
    const method = req.method ?? 'GET'
    switch (cloud) {
      case 'aws': {
        if (url.pathname === '/latest/api/token' && method === 'PUT') return issueToken(req, res, 'X-aws-ec2-metadata-token-ttl-seconds')
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
          return send(res, 200, 'application/text', deadline ? 'TRUE' : 'FALSE')
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
    requests.push({method: req.method ?? 'GET', path: req.url ?? '/', headers: {...req.headers}, status, at: Date.now()})
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
      return Date.now()
    },
    addForeignAzureEvent(name: string, notBefore: Date): void {
      azureEvents.push(azureEvent(name, notBefore))
      incarnation++
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections()
        server.close((error) => (error ? reject(error) : resolve()))
      }),
  }
}
