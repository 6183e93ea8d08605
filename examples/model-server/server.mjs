#!/usr/bin/env node
// An example model server for `skyhop serve` (docs/serve.md): plain Node, no packages. It
// stands in for an inference server such as vLLM: it loads for a while (LOAD_MS) before its
// readiness path answers, answers each request after a delay, and streams tokens as
// server-sent events or a chunked body, so the load balancer's streaming, draining and
// preemption handling can be tried with real processes and real HTTP.
//
// Environment:
//   SKYHOP_SERVE_PORT or PORT  port to listen on (skyhop sets the first; default 8080)
//   HOST                       address to bind (default 127.0.0.1)
//   LOAD_MS                    time before /health answers 200 (model loading; default 0)
//   DELAY_MS                   time before a reply starts (default 20); ?delay_ms= overrides per request
//   TOKEN_MS                   time between streamed tokens (default 10)
//   STOP_IDLE_MS               after SIGTERM (a notice or a stop), exit once no request has been
//                              in flight for this long (default 1000)
//   MODEL_VERSION              reported in every answer (a rolling update changes it)
//
// Routes:
//   GET  /health                 200 once loaded ("ok"), 503 before
//   GET  /                       {"text": ...} after DELAY_MS
//   POST /v1/completions         body {"prompt", "max_tokens", "stream"}; stream=true: SSE `data:` lines, then `data: [DONE]`
//   GET  /headers                the request's headers as JSON
//   GET  /stream?tokens=N        N tokens as a chunked text/plain body, one per TOKEN_MS
//
// On SIGTERM the server keeps answering (the grace of a spot notice is for finishing what is
// in flight; a service replica gets it just after skyhop's load balancer has stopped sending
// it new requests, near the end of the notice) and exits once it has been idle for STOP_IDLE_MS.
import {createServer} from 'node:http'

const env = (name, fallback) => (process.env[name] === undefined || process.env[name] === '' ? fallback : Number(process.env[name]))
const port = env('SKYHOP_SERVE_PORT', env('PORT', 8080))
const host = process.env.HOST || '127.0.0.1'
const loadMs = env('LOAD_MS', 0)
const delayMs = env('DELAY_MS', 20)
const tokenMs = env('TOKEN_MS', 10)
const stopIdleMs = env('STOP_IDLE_MS', 1000)
const version = process.env.MODEL_VERSION || '1'
const replica = process.env.SKYHOP_REPLICA || String(process.pid)

const startedAt = Date.now()
let inFlight = 0
let lastActive = Date.now()
let stopping = false

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const headers = {'x-replica': replica, 'x-model-version': version}

function words(prompt, n) {
  const base = String(prompt || 'hello')
    .split(/\s+/)
    .filter(Boolean)
  return Array.from({length: n}, (_, i) => base[i % base.length] + (i === n - 1 ? '' : ' '))
}

async function readBody(req) {
  const chunks = []
  for await (const chunk of req) chunks.push(chunk)
  const text = Buffer.concat(chunks).toString('utf8')
  if (text === '') return {}
  try {
    return JSON.parse(text)
  } catch {
    return null
  }
}

async function handle(req, res) {
  const url = new URL(req.url, 'http://x')
  const wait = url.searchParams.has('delay_ms') ? Number(url.searchParams.get('delay_ms')) : delayMs
  if (url.pathname === '/health') {
    const ready = Date.now() - startedAt >= loadMs
    res.writeHead(ready ? 200 : 503, {...headers, 'content-type': 'text/plain'})
    res.end(ready ? 'ok\n' : 'loading\n')
    return
  }
  if (req.method === 'GET' && url.pathname === '/headers') {
    // What reached the replica, for checking a proxy in front (which headers it forwards).
    res.writeHead(200, {...headers, 'content-type': 'application/json'})
    res.end(JSON.stringify(req.headers) + '\n')
    return
  }
  if (req.method === 'GET' && url.pathname === '/') {
    await sleep(wait)
    res.writeHead(200, {...headers, 'content-type': 'application/json'})
    res.end(JSON.stringify({text: 'hello', replica, version}) + '\n')
    return
  }
  if (req.method === 'GET' && url.pathname === '/stream') {
    const n = Math.max(1, Math.min(10_000, Number(url.searchParams.get('tokens')) || 8))
    await sleep(wait)
    res.writeHead(200, {...headers, 'content-type': 'text/plain; charset=utf-8'})
    for (const w of words('token', n)) {
      res.write(w)
      await sleep(tokenMs)
    }
    res.end('\n')
    return
  }
  if (req.method === 'POST' && url.pathname === '/v1/completions') {
    const body = await readBody(req)
    if (body === null || typeof body !== 'object') {
      res.writeHead(400, {...headers, 'content-type': 'application/json'})
      res.end(JSON.stringify({error: 'the body must be a JSON object'}) + '\n')
      return
    }
    const n = Math.max(1, Math.min(4096, Number(body.max_tokens) || 16))
    const tokens = words(body.prompt, n)
    await sleep(wait)
    if (body.stream) {
      res.writeHead(200, {...headers, 'content-type': 'text/event-stream', 'cache-control': 'no-cache'})
      for (const [i, t] of tokens.entries()) {
        res.write(`data: ${JSON.stringify({choices: [{index: 0, text: t}], n: i})}\n\n`)
        await sleep(tokenMs)
      }
      res.end('data: [DONE]\n\n')
      return
    }
    res.writeHead(200, {...headers, 'content-type': 'application/json'})
    res.end(JSON.stringify({choices: [{index: 0, text: tokens.join('')}], replica, version}) + '\n')
    return
  }
  res.writeHead(404, {...headers, 'content-type': 'application/json'})
  res.end(JSON.stringify({error: `no route ${req.method} ${url.pathname}`}) + '\n')
}

const server = createServer((req, res) => {
  inFlight++
  lastActive = Date.now()
  res.on('close', () => {
    inFlight--
    lastActive = Date.now()
  })
  handle(req, res).catch((error) => {
    if (!res.headersSent) res.writeHead(500, headers)
    res.end(String(error))
  })
})
server.keepAliveTimeout = 65_000
server.listen(port, host, () =>
  console.log(`model server ${replica} (version ${version}) on http://${host}:${port}, ready in ${loadMs} ms`),
)

process.on('SIGTERM', () => {
  if (stopping) return
  stopping = true
  console.log(`model server ${replica}: SIGTERM, finishing ${inFlight} request(s)`)
  const check = setInterval(() => {
    if (inFlight === 0 && Date.now() - lastActive >= stopIdleMs) {
      clearInterval(check)
      console.log(`model server ${replica}: idle, exiting`)
      server.closeAllConnections()
      process.exit(0)
    }
  }, 50)
})
