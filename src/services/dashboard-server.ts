// The dashboard's HTTP server, on node:http: the page and its two static files (shipped in
// the package under assets/dashboard, no CDN), the snapshot as JSON, the same snapshot as
// Server-Sent Events whenever it changes, and cancel. It knows the rest of skyhop only
// through the two functions it is handed (snapshot, cancel), so it holds no business logic.
//
// Guards: bound to loopback, a request must name a loopback Host (a page elsewhere cannot
// reach it by DNS rebinding); with a token, every request must carry it (once in the URL,
// then as an HttpOnly SameSite=Strict cookie holding a session secret, or as a Bearer
// header), compared in constant time and never logged. A token may name a user (per-user
// tokens): the page then shows and cancels as that user. A cancel must carry the page's
// CSRF token in a header (which a form on another site cannot set, and a script there
// cannot without a CORS preflight this server never grants) and come from this origin.
import {createHash, randomBytes, timingSafeEqual} from 'node:crypto'
import {readFileSync} from 'node:fs'
import {type IncomingMessage, type Server, type ServerResponse, createServer} from 'node:http'
import {type AddressInfo, isIP} from 'node:net'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {isSkyhopError} from '../errors.js'
import {redact} from '../util/redact.js'

/** The page, its script and stylesheet: two folders above this module, in src/ and dist/ (and the bundle) alike. */
export const ASSETS_DIR = fileURLToPath(new URL('../../assets/dashboard/', import.meta.url))

const STATIC: Record<string, {file: string; type: string}> = {
  '/app.js': {file: 'app.js', type: 'text/javascript; charset=utf-8'},
  '/style.css': {file: 'style.css', type: 'text/css; charset=utf-8'},
}

/** True for addresses only this machine can reach: 127/8, ::1, localhost. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase()
  if (h === 'localhost') return true
  if (isIP(h) === 4) return h.startsWith('127.')
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h)
  return false
}

const SESSION_COOKIE = 'skyhop_dashboard'

/** Who a request acts as: a user its token names, or null for the user who started the dashboard. */
export type Viewer = string | null

export interface DashboardServerOptions {
  host: string
  port: number
  /**
   * Who a token is, or undefined when it is not one of this dashboard's (compared in
   * constant time). Null: no token is asked for (loopback without one).
   */
  authenticate: ((token: string) => {viewer: Viewer} | undefined) | null
  /** How often the store is read for live updates. */
  intervalMs: number
  snapshot: (viewer: Viewer) => Promise<unknown>
  cancel: (job: string, viewer: Viewer) => Promise<unknown>
}

export interface RunningDashboard {
  url: string
  host: string
  port: number
  close(): Promise<void>
}

/** Equal in constant time, whatever the lengths (both sides are hashed first). */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest()
  const b = createHash('sha256').update(expected).digest()
  return timingSafeEqual(a, b)
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=')
    if (k === name) return v.join('=')
  }
  return undefined
}

function hostName(hostHeader: string | undefined): string | null {
  if (!hostHeader) return null
  try {
    return new URL(`http://${hostHeader}`).hostname
  } catch {
    return null
  }
}

const SECURITY_HEADERS = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
}

function send(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {...SECURITY_HEADERS, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), ...headers})
  res.end(body)
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value))
}

function sendError(res: ServerResponse, status: number, code: string, message: string, hint?: string): void {
  sendJson(res, status, {error: {code, message, ...(hint ? {hint} : {})}})
}

/** An error of a service as the page shows it, with the HTTP status nearest its exit code. */
function serviceError(res: ServerResponse, error: unknown): void {
  if (isSkyhopError(error)) {
    const status =
      error.code === 'PERMISSION_DENIED'
        ? 403
        : error.code.endsWith('NOT_FOUND')
          ? 404
          : error.exitCode === 2
            ? 400
            : error.exitCode === 4
              ? 502
              : 500
    sendError(res, status, error.code, redact(error.message), error.hint ? redact(error.hint) : undefined)
    return
  }
  sendError(res, 500, 'INTERNAL', redact(error instanceof Error ? error.message : String(error)))
}

export async function startDashboardServer(options: DashboardServerOptions): Promise<RunningDashboard> {
  const page = readFileSync(join(ASSETS_DIR, 'index.html'), 'utf8')
  const files = Object.fromEntries(Object.entries(STATIC).map(([path, s]) => [path, readFileSync(join(ASSETS_DIR, s.file), 'utf8')]))
  const csrf = randomBytes(24).toString('base64url')
  // What the cookie holds: not the token itself, so a leaked cookie is worth nothing after a
  // restart. One session secret per viewer, made at its first sign-in.
  const sessions = new Map<Viewer, string>()
  const loopback = isLoopback(options.host)
  /** Open streams, and whom each shows the page to. */
  const clients = new Map<ServerResponse, Viewer>()
  /** The last document sent to each viewer's streams. */
  const last = new Map<Viewer, string>()
  let ticking = false
  let lastTickMs = 0

  async function current(viewer: Viewer): Promise<string> {
    return JSON.stringify(await options.snapshot(viewer))
  }

  async function tick(): Promise<void> {
    if (ticking || clients.size === 0) return
    ticking = true
    const started = performance.now()
    try {
      // One read per viewer with a stream open: each sees their own jobs and role.
      for (const viewer of new Set(clients.values())) {
        const streams = [...clients].filter(([, v]) => v === viewer).map(([c]) => c)
        try {
          const doc = await current(viewer)
          if (doc === last.get(viewer)) continue
          last.set(viewer, doc)
          for (const c of streams) c.write(`event: snapshot\ndata: ${doc}\n\n`)
        } catch (error) {
          const message = JSON.stringify({message: redact(error instanceof Error ? error.message : String(error))})
          for (const c of streams) c.write(`event: failure\ndata: ${message}\n\n`)
        }
      }
    } finally {
      ticking = false
      lastTickMs = performance.now() - started
    }
  }

  // The next read waits the interval, or twice as long as the last read took when that is
  // longer: a large store slows the updates down instead of keeping a core busy.
  let timer: NodeJS.Timeout | undefined
  let closed = false
  const schedule = () => {
    if (closed) return
    timer = setTimeout(() => void tick().finally(schedule), Math.max(options.intervalMs, 2 * lastTickMs))
  }

  /** The session a cookie holds, compared in constant time against every one (no early exit). */
  function sessionOf(secret: string): {viewer: Viewer} | undefined {
    let found: {viewer: Viewer} | undefined
    for (const [viewer, s] of sessions) if (sameSecret(secret, s) && found === undefined) found = {viewer}
    return found
  }

  /** Whom the request acts as when it may go on; undefined when it has been answered. */
  function authorize(req: IncomingMessage, res: ServerResponse, url: URL): {viewer: Viewer} | undefined {
    if (loopback && !isLoopback(hostName(req.headers.host) ?? '')) {
      sendError(res, 403, 'HOST_NOT_ALLOWED', 'this dashboard answers only requests addressed to this machine (127.0.0.1 or localhost)')
      return undefined
    }
    if (options.authenticate === null) return {viewer: null}
    const given = url.searchParams.get('token')
    if (given !== null && req.method === 'GET') {
      const who = options.authenticate(given)
      if (who === undefined) {
        sendError(res, 401, 'TOKEN_INVALID', 'the token in the address is not this dashboard’s')
        return undefined
      }
      let session = sessions.get(who.viewer)
      if (session === undefined) sessions.set(who.viewer, (session = randomBytes(24).toString('base64url')))
      url.searchParams.delete('token')
      const rest = url.searchParams.size > 0 ? `?${url.searchParams}` : ''
      res.writeHead(303, {
        ...SECURITY_HEADERS,
        Location: `${url.pathname}${rest}`,
        'Set-Cookie': `${SESSION_COOKIE}=${session}; HttpOnly; SameSite=Strict; Path=/`,
      })
      res.end()
      return undefined
    }
    const fromCookie = cookie(req, SESSION_COOKIE)
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1]
    const who =
      (fromCookie !== undefined ? sessionOf(fromCookie) : undefined) ?? (bearer !== undefined ? options.authenticate(bearer) : undefined)
    if (who !== undefined) return who
    sendError(
      res,
      401,
      'TOKEN_REQUIRED',
      'this dashboard needs its token',
      'Open the address `skyhop dashboard` printed (it carries ?token=…), or send Authorization: Bearer TOKEN.',
    )
    return undefined
  }

  /** A state-changing request must come from the page itself. */
  function sameOrigin(req: IncomingMessage): boolean {
    const header = req.headers['x-skyhop-csrf']
    if (typeof header !== 'string' || !sameSecret(header, csrf)) return false
    const origin = req.headers.origin
    if (origin !== undefined && origin !== `http://${req.headers.host}`) return false
    const site = req.headers['sec-fetch-site']
    return site === undefined || site === 'same-origin'
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://dashboard.invalid')
    const who = authorize(req, res, url)
    if (who === undefined) return
    const {viewer} = who
    const path = url.pathname
    if (req.method === 'GET' && (path === '/' || path === '/index.html')) {
      send(res, 200, 'text/html; charset=utf-8', page.replace('{{CSRF}}', csrf))
      return
    }
    if (req.method === 'GET' && STATIC[path]) {
      send(res, 200, STATIC[path].type, files[path])
      return
    }
    if (req.method === 'GET' && path === '/api/snapshot') {
      try {
        send(res, 200, 'application/json; charset=utf-8', await current(viewer))
      } catch (error) {
        serviceError(res, error)
      }
      return
    }
    if (req.method === 'GET' && path === '/api/events') {
      res.writeHead(200, {...SECURITY_HEADERS, 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive'})
      clients.set(res, viewer)
      req.on('close', () => clients.delete(res))
      try {
        const doc = await current(viewer)
        last.set(viewer, doc)
        res.write(`retry: 2000\nevent: snapshot\ndata: ${doc}\n\n`)
      } catch (error) {
        res.write(`event: failure\ndata: ${JSON.stringify({message: redact(error instanceof Error ? error.message : String(error))})}\n\n`)
      }
      return
    }
    const cancelMatch = /^\/api\/jobs\/([^/]+)\/cancel$/.exec(path)
    if (cancelMatch) {
      if (req.method !== 'POST') {
        sendError(res, 405, 'METHOD_NOT_ALLOWED', 'cancel is a POST')
        return
      }
      if (!sameOrigin(req)) {
        sendError(res, 403, 'CSRF', 'a cancel must come from the dashboard page itself (CSRF token and origin checked)')
        return
      }
      req.resume()
      try {
        sendJson(res, 200, await options.cancel(decodeURIComponent(cancelMatch[1]), viewer))
        void tick()
      } catch (error) {
        serviceError(res, error)
      }
      return
    }
    sendError(res, 404, 'NOT_FOUND', `nothing at ${path}`)
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error) => {
      if (!res.headersSent) serviceError(res, error)
      else res.end()
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  // Only once it listens: a server that failed to bind leaves nothing running.
  schedule()
  const heartbeat = setInterval(() => {
    for (const c of clients.keys()) c.write(': keep-alive\n\n')
  }, 15_000)
  const address = server.address() as AddressInfo
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return {
    url: `http://${shown}:${address.port}/`,
    host: address.address,
    port: address.port,
    close: async () => {
      closed = true
      clearTimeout(timer)
      clearInterval(heartbeat)
      for (const c of clients.keys()) c.end()
      clients.clear()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
