// The load balancer in front of a service's replicas: an HTTP reverse proxy on undici pools
// (the project's one HTTP stack, src/http; a pool per replica keeps connections warm, so a
// request costs no connect, and undici hands the body over as it arrives, so server-sent
// events and chunked token streams pass through unbuffered). Requests go to the replica
// with the fewest outstanding requests (an LLM's request times vary by 100×, so round robin
// piles requests onto a replica that is busy with long ones). A request that has not been
// sent (connection refused or reset before the answer began) and carries no body (GET,
// HEAD, PUT, DELETE, OPTIONS without one) is retried on another replica, and so is any
// request whose connection could not be made at all (nothing of it was sent, its body is
// still unread); anything else that fails gets a 502. A draining replica (a spot notice, a scale-down, an update) gets no new
// request while those in flight finish. With an API key, a request without it gets a 401;
// the key is compared in constant time and never logged or forwarded.
import {timingSafeEqual} from 'node:crypto'
import {type IncomingMessage, type Server, type ServerResponse, createServer} from 'node:http'
import type {AddressInfo} from 'node:net'

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
  /** A drain set for later (scheduleDrain). */
  drainTimer?: NodeJS.Timeout
}

export class LoadBalancer {
  private readonly replicas = new Map<string, Replica>()
  /** The replicas' values, kept with the map: what each request's pick walks, without allocating. */
  private list: Replica[] = []
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
    this.list = [...this.replicas.values()]
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

  /**
   * The replica keeps getting requests until `atMs` (ms since the epoch), then drains: a
   * replica under an interruption notice serves until its drain time. The timer runs here, on
   * the balancer's own event loop, so the drain is on time whatever the controller is doing.
   */
  scheduleDrain(id: string, atMs: number): void {
    const r = this.replicas.get(id)
    if (!r) return
    if (r.drainTimer) clearTimeout(r.drainTimer)
    r.drainTimer = undefined
    const wait = atMs - Date.now()
    if (wait <= 0) {
      void this.drain(id)
      return
    }
    r.drainTimer = setTimeout(() => {
      r.drainTimer = undefined
      void this.drain(id)
    }, wait)
    r.drainTimer.unref()
  }

  /** Stops routing to the replica at once; its pool closes when what is in flight has finished. */
  remove(id: string): void {
    const r = this.replicas.get(id)
    if (!r) return
    if (r.drainTimer) clearTimeout(r.drainTimer)
    r.draining = true
    this.replicas.delete(id)
    this.list = [...this.replicas.values()]
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

  /** Each replica's routing state, without the window's percentiles (cheap: no sorting). */
  replicaStates(): Array<Pick<ReplicaMetrics, 'id' | 'origin' | 'outstanding' | 'draining' | 'requests' | 'failures'>> {
    return this.list.map((r) => ({
      id: r.target.id,
      origin: r.target.origin,
      outstanding: r.outstanding,
      draining: r.draining,
      requests: r.requests,
      failures: r.failures,
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
    this.list = []
  }

  /** Least outstanding requests among the replicas not draining and not tried yet; ties take turns. */
  private pick(tried: ReadonlySet<string>): Replica | undefined {
    const all = this.list
    const n = all.length
    if (n === 0) return undefined
    this.turn = (this.turn + 1) % n
    let best: Replica | undefined
    for (let i = 0; i < n; i++) {
      const r = all[(this.turn + i) % n]
      if (r.draining || (tried.size > 0 && tried.has(r.target.id))) continue
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
      const outcome = await forward(replica.pool, req, res, method as Dispatcher.HttpMethod, headers, hasBody)
      replica.outstanding--
      if (replica.outstanding === 0 && replica.idle.length > 0) for (const f of replica.idle.splice(0)) f()
      if (outcome === null) {
        replica.window.record(Date.now(), performance.now() - started)
        return
      }
      if (outcome.clientGone) return
      const connection = isConnectionError(outcome.error)
      if (connection) replica.failures++
      // A request whose connection was never made never reached the replica: any method may
      // go to another one, a body too while none of it has been read (a replica that has just
      // exited, e.g. a server told to stop by a notice the controller has not seen yet).
      const neverSent = hasCode(outcome.error, CONNECT_CODES) && !req.readableDidRead
      if (!outcome.answered && connection && (retriable || neverSent) && attempt < (this.options.maxRetries ?? 2)) {
        this.totals.retried++
        continue
      }
      this.totals.failed++
      if (!res.headersSent) reply(res, 502, {error: `replica ${replica.target.id} failed: ${errorCode(outcome.error)}`})
      else res.destroy()
      return
    }
  }
}

/** How a forward that did not complete ended: before or after the replica's answer began, or the client went away. */
interface ForwardFailure {
  error: unknown
  answered: boolean
  clientGone: boolean
}

/**
 * One request to one replica through undici's dispatch interface, the replica's answer
 * written straight into `res` as it comes: no Readable, no pipeline, no AbortController per
 * request (the hot path of the balancer; bench/serve.mjs). Back-pressure: a chunk the client
 * cannot take yet pauses the replica's socket until `res` drains. A client that goes away
 * aborts the request on the replica. Resolves null when the answer was passed on whole.
 */
function forward(
  pool: Pool,
  req: IncomingMessage,
  res: ServerResponse,
  method: Dispatcher.HttpMethod,
  headers: Record<string, string | string[]>,
  hasBody: boolean,
): Promise<ForwardFailure | null> {
  return new Promise((resolve) => {
    let answered = false
    let settled = false
    let abort: ((reason?: Error) => void) | null = null
    let clientGone = false
    let resume: (() => void) | null = null
    const onDrain = () => resume?.()
    const onClose = () => {
      if (res.writableFinished) return
      clientGone = true
      abort?.(new Error('the client went away'))
    }
    res.on('close', onClose)
    const done = (value: ForwardFailure | null) => {
      if (settled) return
      settled = true
      res.off('close', onClose)
      res.off('drain', onDrain)
      resolve(value)
    }
    const handler: Dispatcher.DispatchHandler = {
      onConnect(abortRequest) {
        abort = abortRequest
        if (clientGone) abortRequest(new Error('the client went away'))
      },
      onHeaders(statusCode, rawHeaders, resumeReading) {
        if (statusCode < 200) return true // 1xx: the final answer follows
        answered = true
        resume = resumeReading
        const {headers: out, sized} = responseHeaders(rawHeaders)
        res.writeHead(statusCode, out)
        // A stream's headers now, not with its first chunk: its client sees the answer begin.
        // A body of known length goes out with its headers in one write.
        if (!sized) res.flushHeaders()
        res.on('drain', onDrain)
        return true
      },
      onData(chunk) {
        return res.write(chunk)
      },
      onComplete() {
        res.end()
        done(null)
      },
      onError(error) {
        done({error, answered, clientGone})
      },
    }
    pool.dispatch({path: req.url ?? '/', method, headers, body: hasBody ? req : null}, handler)
  })
}

function forwardHeaders(req: IncomingMessage, stripAuth: boolean): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  const given = req.headers
  for (const name in given) {
    const value = given[name]
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

/** The replica's answer headers without the hop-by-hop ones, as a flat [name, value, …] list; sized: it has a content-length. */
function responseHeaders(raw: readonly Buffer[] | null | undefined): {headers: string[]; sized: boolean} {
  const out: string[] = []
  let sized = false
  if (!raw) return {headers: out, sized}
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i].toString('latin1')
    const lower = name.toLowerCase()
    if (HOP_BY_HOP.has(lower)) continue
    if (lower === 'content-length') sized = true
    out.push(name, raw[i + 1].toString('latin1'))
  }
  return {headers: out, sized}
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

/** Failures of the connect itself: nothing of the request was sent. */
const CONNECT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT'])

function hasCode(error: unknown, codes: ReadonlySet<string>): boolean {
  const e = error as {code?: string; cause?: {code?: string}}
  return codes.has(e?.code ?? '') || codes.has(e?.cause?.code ?? '')
}

function isConnectionError(error: unknown): boolean {
  const e = error as {code?: string; cause?: {code?: string}}
  return CONNECTION_CODES.has(e?.code ?? '') || CONNECTION_CODES.has(e?.cause?.code ?? '')
}
