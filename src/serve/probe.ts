// Readiness probes of a service's replicas: one GET of the readiness path with a deadline,
// through the one HTTP stack (undici, an injected dispatcher, never the global one). Ready
// means a 2xx answer; anything else (a refused connection, a 503 while the model loads, no
// answer within the deadline) is not ready, with the reason in words.
import type {Dispatcher} from 'undici'

export interface ProbeResult {
  ready: boolean
  /** The status, or why there was none. */
  detail: string
}

export async function probeReadiness(dispatcher: Dispatcher, address: string, path: string, timeoutMs: number): Promise<ProbeResult> {
  const url = new URL(path, address)
  try {
    const res = await dispatcher.request({
      origin: url.origin,
      path: url.pathname + url.search,
      method: 'GET',
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
    })
    await res.body.dump()
    return {ready: res.statusCode >= 200 && res.statusCode < 300, detail: `HTTP ${res.statusCode}`}
  } catch (error) {
    const e = error as {code?: string; name?: string; cause?: {code?: string}}
    return {ready: false, detail: e.cause?.code ?? e.code ?? e.name ?? String(error)}
  }
}

/** A free TCP port on this machine, for a replica that runs here beside others. */
export async function freeLocalPort(host = '127.0.0.1'): Promise<number> {
  const {createServer} = await import('node:net')
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, host, () => {
      const {port} = server.address() as {port: number}
      server.close(() => resolve(port))
    })
  })
}
