// A faulty network path in front of a fake cloud, for the chaos tests: an HTTP proxy that
// forwards each call to the fake behind it unless a fault is chosen for it. The faults are
// the ways a sick endpoint fails: it refuses (the connection is reset before a byte), black-
// holes (accepts, never answers, never forwards), answers 5xx or throttles (the cloud's own
// error body, nothing forwarded), stalls mid-body before the call reached the backend, or
// (the dangerous one) lets the call take effect behind it and then stalls or drops the answer,
// so the caller cannot tell whether it happened. Faults are chosen per call by a rule (an
// action name, a count) or at random from a seed, so a failing run can be replayed.
import {createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import type {Socket} from 'node:net'

export type Fault = 'refuse' | 'black-hole' | '5xx' | 'throttle' | 'stall' | 'stall-after' | 'drop-after'

export interface FaultCall {
  method: string
  path: string
  /** The form or JSON body as text (EC2's `Action=RunInstances&…`). */
  body: string
  /** The call's number, from 1. */
  n: number
}

export interface FaultyEndpointOptions {
  /** Where calls go when no fault is chosen (the fake cloud's URL). */
  upstream: string
  /** Chooses a fault for a call, or null to forward it. */
  choose?: (call: FaultCall) => Fault | null
  /** The cloud's throttling answer (default EC2's RequestLimitExceeded, 503). */
  throttle?: {status: number; body: string}
  /** The cloud's 5xx answer (default EC2's InternalError, 500). */
  serverError?: {status: number; body: string}
}

const EC2_ERROR = (code: string, message: string): string =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors><RequestID>faulty-endpoint</RequestID></Response>`

/** mulberry32: a small seeded generator, so a random fault pattern replays from its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A rule: `rate` of the calls (seeded) get one of `faults`, the rest are forwarded. */
export function randomFaults(seed: number, rate: number, faults: Fault[]): (call: FaultCall) => Fault | null {
  const random = seededRandom(seed)
  return () => (random() < rate ? faults[Math.floor(random() * faults.length)] : null)
}

/** The EC2 Query API action of a call (`RunInstances`), or null. */
export function ec2Action(call: Pick<FaultCall, 'body'>): string | null {
  return /(?:^|&)Action=([A-Za-z]+)/.exec(call.body)?.[1] ?? null
}

export class FakeFaultyEndpoint {
  /** Calls seen, and the faults dealt, by kind. */
  calls = 0
  readonly dealt: Record<Fault, number> = {refuse: 0, 'black-hole': 0, '5xx': 0, throttle: 0, stall: 0, 'stall-after': 0, 'drop-after': 0}
  /** Calls that reached the backend and whose answer was then withheld (their outcome unknown to the caller). */
  readonly withheld: FaultCall[] = []
  private readonly sockets = new Set<Socket>()
  private readonly server: Server
  private readonly upstream: URL

  constructor(private readonly options: FaultyEndpointOptions) {
    this.upstream = new URL(options.upstream)
    this.server = createServer((req, res) => {
      this.handle(req, res).catch(() => res.destroy())
    })
    this.server.on('connection', (socket) => {
      this.sockets.add(socket)
      socket.on('close', () => this.sockets.delete(socket))
      socket.on('error', () => {})
    })
  }

  /** `http://127.0.0.1:PORT/`, listening on a free port. */
  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    const address = this.server.address()
    if (address === null || typeof address === 'string') throw new Error('no port')
    return `http://127.0.0.1:${address.port}/`
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const body = Buffer.concat(chunks)
    const call: FaultCall = {method: req.method ?? 'GET', path: req.url ?? '/', body: body.toString('utf8'), n: ++this.calls}
    const fault = this.options.choose?.(call) ?? null
    if (fault) this.dealt[fault]++
    switch (fault) {
      case 'refuse':
        res.socket?.resetAndDestroy()
        return
      case 'black-hole':
        return // never answered; the socket stays open until the caller gives up
      case '5xx': {
        const e = this.options.serverError ?? {status: 500, body: EC2_ERROR('InternalError', 'An internal error has occurred.')}
        res.writeHead(e.status, {'content-type': 'text/xml'}).end(e.body)
        return
      }
      case 'throttle': {
        const e = this.options.throttle ?? {status: 503, body: EC2_ERROR('RequestLimitExceeded', 'Request limit exceeded.')}
        res.writeHead(e.status, {'content-type': 'text/xml'}).end(e.body)
        return
      }
      case 'stall':
        res.writeHead(200, {'content-type': 'text/xml', 'content-length': '1000'})
        res.write('<?xml version="1.0"')
        return
      default:
    }
    const answer = await this.forward(req, body)
    if (fault === 'stall-after' || fault === 'drop-after') {
      this.withheld.push(call)
      if (fault === 'drop-after') {
        res.socket?.resetAndDestroy()
        return
      }
      res.writeHead(answer.status, {...answer.headers, 'content-length': String(answer.body.length + 1000)})
      res.write(answer.body.subarray(0, Math.floor(answer.body.length / 2)))
      return
    }
    res.writeHead(answer.status, answer.headers).end(answer.body)
  }

  private forward(req: IncomingMessage, body: Buffer): Promise<{status: number; headers: Record<string, string>; body: Buffer}> {
    return new Promise((resolve, reject) => {
      // The Host header stays the caller's: it is part of what the request's signature covers.
      const headers = {...req.headers}
      const out = httpRequest(
        {hostname: this.upstream.hostname, port: this.upstream.port, method: req.method, path: req.url, headers},
        (r) => {
          const parts: Buffer[] = []
          r.on('data', (c: Buffer) => parts.push(c))
          r.on('end', () => {
            const h: Record<string, string> = {}
            for (const [k, v] of Object.entries(r.headers)) {
              if (v === undefined || k === 'transfer-encoding' || k === 'connection' || k === 'content-length') continue
              h[k] = Array.isArray(v) ? v.join(', ') : v
            }
            resolve({status: r.statusCode ?? 502, headers: h, body: Buffer.concat(parts)})
          })
          r.on('error', reject)
        },
      )
      out.on('error', reject)
      out.end(body)
    })
  }
}
