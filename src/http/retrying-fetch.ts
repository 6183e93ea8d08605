// The one HTTP path of the cloud adapters: undici with a dispatcher the caller injects,
// an explicit deadline on every call, and a retry loop with capped exponential backoff and
// full jitter for throttling and 5xx. Network failures become HttpTransportError so the
// adapters can classify them; nothing here ever formats a header or body into a message.
import type {Dispatcher} from 'undici'

export interface HttpCall {
  url: string
  method: string
  headers: ReadonlyArray<readonly [string, string]>
  body?: string | Buffer
  /** Whole-call deadline: connect, headers and body. */
  timeoutMs: number
  dispatcher: Dispatcher
  signal?: AbortSignal
}

export interface HttpResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

/** The request never produced a response: refused, reset, DNS, or the deadline passed. */
export class HttpTransportError extends Error {
  readonly kind: 'timeout' | 'network' | 'aborted'
  constructor(kind: 'timeout' | 'network' | 'aborted', message: string, options?: {cause?: unknown}) {
    super(message, options)
    this.name = 'HttpTransportError'
    this.kind = kind
  }
}

/** Refuses response bodies beyond this; no cloud API we call returns more. */
const MAX_BODY_BYTES = 16 * 1024 * 1024

export async function httpCall(call: HttpCall): Promise<HttpResponse> {
  const {request} = await import('undici')
  const deadline = AbortSignal.timeout(call.timeoutMs)
  const signal = call.signal ? AbortSignal.any([deadline, call.signal]) : deadline
  const headers: Record<string, string> = {}
  for (const [name, value] of call.headers) headers[name] = value
  const host = new URL(call.url).host
  try {
    const res = await request(call.url, {
      method: call.method as Dispatcher.HttpMethod,
      headers,
      body: call.body,
      dispatcher: call.dispatcher,
      signal,
      headersTimeout: call.timeoutMs,
      bodyTimeout: call.timeoutMs,
    })
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length
      if (size > MAX_BODY_BYTES) {
        res.body.destroy()
        throw new HttpTransportError('network', `response from ${host} exceeds ${MAX_BODY_BYTES} bytes`)
      }
      chunks.push(chunk as Buffer)
    }
    return {status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8')}
  } catch (error) {
    if (error instanceof HttpTransportError) throw error
    if (call.signal?.aborted) throw new HttpTransportError('aborted', `request to ${host} aborted`, {cause: error})
    if (deadline.aborted || isTimeout(error)) throw new HttpTransportError('timeout', `no answer from ${host} within ${call.timeoutMs} ms`, {cause: error})
    const code = (error as {code?: string}).code
    throw new HttpTransportError('network', `cannot reach ${host}${code ? ` (${code})` : ''}`, {cause: error})
  }
}

function isTimeout(error: unknown): boolean {
  const code = (error as {code?: string} | null)?.code ?? ''
  const name = (error as {name?: string} | null)?.name ?? ''
  return name === 'TimeoutError' || /TIMEOUT/.test(code)
}

export interface RetryPolicy {
  /** Total tries, including the first. */
  attempts: number
  baseDelayMs: number
  maxDelayMs: number
  /** Injected for tests; default setTimeout. */
  sleep?: (ms: number) => Promise<void>
  /** Injected for tests; default Math.random. */
  random?: () => number
}

export const defaultRetryPolicy: RetryPolicy = {attempts: 5, baseDelayMs: 200, maxDelayMs: 10_000}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Capped exponential backoff with full jitter (AWS's recommended shape). */
export function backoffDelay(policy: RetryPolicy, retryIndex: number): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retryIndex)
  return Math.floor((policy.random ?? Math.random)() * cap)
}

/**
 * Runs `fn` until it succeeds, `retryable(error)` says no, or the tries run out; the last
 * error is rethrown. `onRetry` sees each retry (for progress events and tests).
 */
export async function withRetries<T>(
  fn: (attempt: number) => Promise<T>,
  retryable: (error: unknown) => boolean,
  policy: RetryPolicy = defaultRetryPolicy,
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void,
): Promise<T> {
  const sleep = policy.sleep ?? realSleep
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt)
    } catch (error) {
      if (attempt >= policy.attempts || !retryable(error)) throw error
      const delay = backoffDelay(policy, attempt - 1)
      onRetry?.(error, attempt, delay)
      await sleep(delay)
    }
  }
}
