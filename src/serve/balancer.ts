// The load balancer in front of a service's replicas: an HTTP reverse proxy on undici pools
// (the project's one HTTP stack, src/http; a pool per replica keeps connections warm, so a
// request costs no connect, and undici hands the body over as it arrives, so server-sent
// events and chunked token streams pass through unbuffered). Requests go to the replica
// with the fewest outstanding requests (an LLM's request times vary by 100×, so round robin
// piles requests onto a replica that is busy with long ones). A request that has not been
// sent (connection refused or reset before the answer began) and carries no body (GET,
// HEAD, PUT, DELETE, OPTIONS without one) is retried on another replica; anything else that
// fails gets a 502. A draining replica (a spot notice, a scale-down, an update) gets no new
// request while those in flight finish. With an API key, a request without it gets a 401;
// the key is compared in constant time and never logged or forwarded.
import {timingSafeEqual} from 'node:crypto'
import {type IncomingMessage, type Server, type ServerResponse, createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import {pipeline} from 'node:stream/promises'

import type {Dispatcher, Pool} from 'undici'

import {type LatencyStats, SlidingWindow} from './metrics.js'

export interface ReplicaTarget {
  /** The replica's id (the store's), for metrics and draining. */
  id: string
  /** http://HOST:PORT */
  origin: string
}

export interface ReplicaMetrics extends LatencyStats {
  id: string
  origin: string
  outstanding: number
  draining: boolean
  /** Since the replica was added. */
  requests: number
  /** Requests to it that failed in transport (connection refused, reset, timeout). */
  failures: number
}

export interface BalancerTotals {
  requests: number
  /** Requests answered 502/503 by the balancer itself. */
  failed: number
  /** Requests sent again to another replica after a connection failure. */
  retried: number
  rejected: number
}

export interface BalancerOptions {
  host?: string
  /** 0: any free port. */
  port?: number
  /** Requests must carry `Authorization: Bearer KEY` (or `x-api-key: KEY`). */
  apiKey?: string | null
  /** Metrics window. Default 30 s. */
  windowMs?: number
  connectTimeoutMs?: number
  /** Until the replica's answer begins; a model may think for minutes. Default 10 min. */
  headersTimeoutMs?: number
  /** Connections per replica. */
  connections?: number
  /** Extra tries on other replicas for an idempotent request whose connection failed. */
  maxRetries?: number
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS'])
/** Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection and are not forwarded. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
])
/** undici's codes for a request that never reached the replica or lost its connection before an answer. */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
])

interface Replica {
  target: ReplicaTarget
  pool: Pool
  outstanding: number
  draining: boolean
  requests: number
  failures: number
  window: SlidingWindow
  idle: Array<() => void>
}

export class LoadBalancer {
  private readonly replicas = new Map<string, Replica>()
  private server?: Server
  private PoolClass?: typeof Pool
  private turn = 0
  private readonly key: Buffer | null
  readonly totals: BalancerTotals = {requests: 0, failed: 0, retried: 0, rejected: 0}

  constructor(private readonly options: BalancerOptions = {}) {
    this.key = options.apiKey ? Buffer.from(options.apiKey) : null
  }

  /** Listens; resolves with the endpoint. */
  async start(): Promise<string> {
    this.PoolClass = (await import('undici')).Pool
    const server = createServer((req, res) => void this.handle(req, res))
    // Clients keep connections; the proxy answers on them as long as a replica may think.
    server.keepAliveTimeout = 65_000
    server.requestTimeout = 0
    server.headersTimeout = 60_000
    this.server = server
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', () => resolve())
    })
    return this.endpoint()
  }

  endpoint(): string {
    const address = this.server!.address() as AddressInfo
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
    return `http://${host}:${address.port}`
  }

  /** Routes to these replicas from now on. Replicas left out drain and are closed once idle. */
  setReplicas(targets: readonly ReplicaTarget[]): void {
    const wanted = new Set(targets.map((t) => t.id))
    for (const t of targets) {
      const known = this.replicas.get(t.id)
      if (known && known.target.origin === t.origin) continue
      if (known) this.remove(t.id)
      this.add(t)
    }
    for (const id of [...this.replicas.keys()]) if (!wanted.has(id)) this.remove(id)
  }

  add(target: ReplicaTarget): void {
    const pool = new this.PoolClass!(target.origin, {
      connections: this.options.connections ?? 256,
      pipelining: 1,
      connect: {timeout: this.options.connectTimeoutMs ?? 5_000},
      headersTimeout: this.options.headersTimeoutMs ?? 600_000,
      // Between two chunks of a body: a token stream pauses while the model thinks.
      bodyTimeout: 600_000,
      keepAliveTimeout: 60_000,
    })
    this.replicas.set(target.id, {
      target,
      pool,
      outstanding: 0,
      draining: false,
      requests: 0,
      failures: 0,
      window: new SlidingWindow(this.options.windowMs ?? 30_000),
      idle: [],
    })
  }

  /** No new request goes to the replica; those in flight finish. Resolves when none is left (or at the deadline). */
  async drain(id: string, timeoutMs = Infinity): Promise<boolean> {
    const r = this.replicas.get(id)
    if (!r) return true
    r.draining = true
    if (r.outstanding === 0) return true
    return new Promise<boolean>((resolve) => {
      const timer = Number.isFinite(timeoutMs) ? setTimeout(() => resolve(r.outstanding === 0), timeoutMs) : undefined
      timer?.unref()
      r.idle.push(() => {
        if (timer) clearTimeout(timer)
        resolve(true)
      })
    })
  }

  /** Stops routing to the replica at once; its pool closes when what is in flight has finished. */
  remove(id: string): void {
    const r = this.replicas.get(id)
    if (!r) return
    r.draining = true
    this.replicas.delete(id)
    const close = () => void r.pool.close().catch(() => undefined)
    if (r.outstanding === 0) close()
    else r.idle.push(close)
  }

  metrics(now = Date.now()): ReplicaMetrics[] {
    return [...this.replicas.values()].map((r) => ({
      id: r.target.id,
      origin: r.target.origin,
      outstanding: r.outstanding,
      draining: r.draining,
      requests: r.requests,
      failures: r.failures,
      ...r.window.stats(now),
    }))
  }

  /** Requests per second over the window, every replica together (what the autoscaler reads). */
  rate(now = Date.now()): number {
    let sum = 0
    for (const r of this.replicas.values()) sum += r.window.rate(now)
    return sum
  }

  /** Requests in flight on the replica (0 for one not routed to). */
  outstanding(id: string): number {
    return this.replicas.get(id)?.outstanding ?? 0
  }

  async close(): Promise<void> {
    const server = this.server
    if (server) {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
    await Promise.all([...this.replicas.values()].map((r) => r.pool.close().catch(() => undefined)))
    this.replicas.clear()
  }

  /** Least outstanding requests among the replicas not draining and not tried yet; ties take turns. */
  private pick(tried: ReadonlySet<string>): Replica | undefined {
    const live = [...this.replicas.values()].filter((r) => !r.draining && !tried.has(r.target.id))
    if (live.length === 0) return undefined
    this.turn = (this.turn + 1) % live.length
    let best: Replica | undefined
    for (let i = 0; i < live.length; i++) {
      const r = live[(this.turn + i) % live.length]
      if (!best || r.outstanding < best.outstanding) best = r
    }
    return best
  }

  private authorized(req: IncomingMessage): boolean {
    if (!this.key) return true
    const auth = req.headers.authorization
    const given = typeof auth === 'string' && /^bearer /i.test(auth) ? auth.slice(7).trim() : req.headers['x-api-key']
    if (typeof given !== 'string') return false
    const buf = Buffer.from(given)
    return buf.length === this.key.length && timingSafeEqual(buf, this.key)
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.totals.requests++
    if (!this.authorized(req)) {
      this.totals.rejected++
      reply(res, 401, {error: 'missing or wrong API key: send Authorization: Bearer KEY'}, {'www-authenticate': 'Bearer'})
      req.resume()
      return
    }
    const method = req.method ?? 'GET'
    const hasBody =
      req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined
    const retriable = IDEMPOTENT.has(method) && !hasBody
    const headers = forwardHeaders(req, this.key !== null)
    const abort = new AbortController()
    res.on('close', () => {
      if (!res.writableFinished) abort.abort()
    })
    const tried = new Set<string>()
    for (let attempt = 0; ; attempt++) {
      const replica = this.pick(tried)
      if (!replica) {
        this.totals.failed++
        reply(res, 503, {error: tried.size === 0 ? 'no replica is ready' : 'every replica tried failed'}, {'retry-after': '1'})
        req.resume()
        return
      }
      tried.add(replica.target.id)
      const started = performance.now()
      replica.outstanding++
      replica.requests++
      let answered = false
      try {
        const upstream = await replica.pool.request({
          path: req.url ?? '/',
          method: method as Dispatcher.HttpMethod,
          headers,
          body: hasBody ? req : null,
          signal: abort.signal,
        })
        answered = true
        res.writeHead(upstream.statusCode, responseHeaders(upstream.headers))
        // A stream's headers now, not with its first chunk: its client sees the answer begin.
        // A body of known length goes out with its headers in one write.
        if (upstream.headers['content-length'] === undefined) res.flushHeaders()
        await pipeline(upstream.body, res)
        replica.window.record(Date.now(), performance.now() - started)
        return
      } catch (error) {
        if (abort.signal.aborted) return // the client went away
        const connection = isConnectionError(error)
        if (connection) replica.failures++
        if (!answered && connection && retriable && attempt < (this.options.maxRetries ?? 2)) {
          this.totals.retried++
          continue
        }
        this.totals.failed++
        if (!res.headersSent) reply(res, 502, {error: `replica ${replica.target.id} failed: ${errorCode(error)}`})
        else res.destroy()
        return
      } finally {
        replica.outstanding--
        if (replica.outstanding === 0 && replica.idle.length > 0) for (const f of replica.idle.splice(0)) f()
      }
    }
  }
}

function forwardHeaders(req: IncomingMessage, stripAuth: boolean): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue
    // The balancer's key is the balancer's: replicas never see it.
    if (stripAuth && (name === 'authorization' || name === 'x-api-key')) continue
    out[name] = value
  }
  const peer = req.socket.remoteAddress
  if (peer) out['x-forwarded-for'] = typeof out['x-forwarded-for'] === 'string' ? `${out['x-forwarded-for']}, ${peer}` : peer
  if (req.headers.host) out['x-forwarded-host'] = req.headers.host
  return out
}

function responseHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value
  return out
}

function reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  res.writeHead(status, {'content-type': 'application/json', ...headers})
  res.end(JSON.stringify(body) + '\n')
}

function errorCode(error: unknown): string {
  const e = error as {code?: string; cause?: {code?: string}; message?: string}
  return e?.code ?? e?.cause?.code ?? e?.message ?? String(error)
}

function isConnectionError(error: unknown): boolean {
  const e = error as {code?: string; cause?: {code?: string}}
  return CONNECTION_CODES.has(e?.code ?? '') || CONNECTION_CODES.has(e?.cause?.code ?? '')
}
