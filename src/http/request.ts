// One HTTP exchange, the only place skyhop calls undici's `request`: through the dispatcher
// the caller injects (never the global one), under a deadline that covers connect,
// headers and body, cut to the nearest deadline around it (deadline.ts). undici is
// imported here, on the first call, so `skyhop --help` never loads it.
// A request that gets no response throws HttpTransportError; any response is returned, and
// what its status means is the caller's business. Nothing here formats a header, a query
// string or a body into a message: requests are named by method, host and path only.
import type {Readable} from 'node:stream'

import type {Dispatcher} from 'undici'

import {HttpTransportError} from '../errors.js'
import {callScope, capTimeout, deadlineMessage} from '../util/deadline.js'

export interface HttpCall {
  url: string | URL
  method: string
  headers?: Record<string, string> | ReadonlyArray<readonly [string, string]>
  /** A stream is for large uploads (a workdir archive): it is read once, so a retry needs a new one. */
  body?: string | Buffer | Readable
  /** Whole-exchange deadline: connect, headers and body. */
  timeoutMs: number
  dispatcher: Dispatcher
  signal?: AbortSignal
  /** Refuses larger bodies as a network failure. Default 16 MiB: no cloud API we call returns more. */
  maxBodyBytes?: number
  /** How the body is decoded. 'latin1' keeps every byte as one character (Buffer.from(body, 'latin1') gets them back). Default 'utf8'. */
  bodyEncoding?: 'utf8' | 'latin1'
}

export interface HttpExchange {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

const MAX_BODY_BYTES = 16 * 1024 * 1024

/** Origin and path only: query strings carry signatures and tokens on some clouds. */
export function describeUrl(url: string | URL): string {
  try {
    const u = new URL(String(url))
    return `${u.origin}${u.pathname}`
  } catch {
    return '(invalid URL)'
  }
}

/** How a request is named in errors and events: `GET https://host/path`. */
export function describeRequest(method: string, url: string | URL): string {
  return `${method} ${describeUrl(url)}`
}

/** The network code of a failed exchange: undici puts it on the error or on its cause. */
function networkCodeOf(error: unknown): string | undefined {
  const e = error as {code?: unknown; cause?: {code?: unknown}} | null
  const code = e?.code ?? e?.cause?.code
  return typeof code === 'string' ? code : undefined
}

function isTimeout(error: unknown): boolean {
  const name = (error as {name?: string} | null)?.name ?? ''
  return name === 'TimeoutError' || /TIMEOUT/.test(networkCodeOf(error) ?? '')
}

export async function sendRequest(call: HttpCall): Promise<HttpExchange> {
  // The nearest deadline around the call (a check, a launch candidate, a call's retries)
  // cuts this exchange's own: headers, body and all (see deadline.ts).
  const scope = callScope()
  const host = new URL(String(call.url)).host
  if (scope && scope.deadlineAt <= Date.now()) {
    throw new HttpTransportError('timeout', `no answer from ${host}: ${deadlineMessage(scope)}`)
  }
  const timeoutMs = capTimeout(call.timeoutMs)
  // Cut by the scope: a timeout now is the scope's deadline, whichever timer noticed first.
  const cut = scope !== undefined && timeoutMs < call.timeoutMs
  const {request} = await import('undici')
  const deadline = AbortSignal.timeout(timeoutMs)
  const signal = AbortSignal.any([deadline, ...(scope ? [scope.signal] : []), ...(call.signal ? [call.signal] : [])])
  const headers: Record<string, string> = {}
  for (const [name, value] of Array.isArray(call.headers) ? call.headers : Object.entries(call.headers ?? {})) headers[name] = value
  const limit = call.maxBodyBytes ?? MAX_BODY_BYTES
  try {
    const res = await request(call.url, {
      method: call.method as Dispatcher.HttpMethod,
      headers,
      body: call.body,
      dispatcher: call.dispatcher,
      signal,
      // undici's own timers are coarse (they may fire early); the signal holds the exact deadline.
      headersTimeout: call.timeoutMs,
      bodyTimeout: call.timeoutMs,
    })
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length
      if (size > limit) {
        res.body.destroy()
        throw new HttpTransportError('network', `response from ${host} exceeds ${limit} bytes`)
      }
      chunks.push(chunk as Buffer)
    }
    return {status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString(call.bodyEncoding ?? 'utf8')}
  } catch (error) {
    if (error instanceof HttpTransportError) throw error
    if (call.signal?.aborted) throw new HttpTransportError('aborted', `request to ${host} aborted`, {cause: error})
    const networkCode = networkCodeOf(error)
    if (scope && (scope.signal.aborted || (cut && (deadline.aborted || isTimeout(error))))) {
      throw new HttpTransportError('timeout', `no answer from ${host}: ${deadlineMessage(scope)}`, {cause: error, networkCode})
    }
    if (deadline.aborted || isTimeout(error)) {
      throw new HttpTransportError('timeout', `no answer from ${host} within ${timeoutMs} ms`, {cause: error, networkCode})
    }
    throw new HttpTransportError('network', `cannot reach ${host}${networkCode ? ` (${networkCode})` : ''}`, {cause: error, networkCode})
  }
}
