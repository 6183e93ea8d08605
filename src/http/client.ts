// The HTTP client every outbound call of skyhop goes through (price APIs, cloud APIs).
// undici with a dispatcher the caller injects (never the global one), an explicit
// timeout on every attempt, and retries with full-jitter exponential backoff on
// throttling (429, or a backend's own throttling code), 5xx and transient network
// errors, honouring Retry-After. Errors name the method, host and path, never the query
// string, headers or body of the request: a secret can't leak through them.
import {Agent, type Dispatcher, request} from 'undici'

import {ProviderError, type ProviderErrorCategory} from '../errors.js'
import {redact} from '../util/redact.js'

export interface RetryPolicy {
  /** Retries after the first attempt. */
  retries: number
  baseDelayMs: number
  maxDelayMs: number
  /** A Retry-After longer than this is not waited for; the request fails instead. */
  maxRetryAfterMs: number
}

export const DEFAULT_RETRY: RetryPolicy = {retries: 4, baseDelayMs: 250, maxDelayMs: 8000, maxRetryAfterMs: 60_000}

export interface RetryEvent {
  attempt: number
  delayMs: number
  reason: string
  url: string
}

export interface HttpClientOptions {
  /** Whose API this is; names the ProviderError. */
  provider: string
  dispatcher: Dispatcher
  /** Per attempt, from sending to the last byte of the body. Default 30 s. */
  timeoutMs?: number
  retry?: Partial<RetryPolicy>
  userAgent?: string
  /** A backend that signals throttling in a non-429 response (AWS: 400 + `Throttling`). */
  isThrottled?: (status: number, body: string) => boolean
  onRetry?: (event: RetryEvent) => void
  /** Injected for tests: waiting and jitter. */
  sleep?: (ms: number) => Promise<void>
  random?: () => number
}

export interface HttpRequest {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'HEAD'
  url: string | URL
  headers?: Record<string, string>
  body?: string | Buffer
  timeoutMs?: number
  signal?: AbortSignal
  /** POST and PUT are retried only when the caller says repeating them is harmless. */
  idempotent?: boolean
  /** Statuses returned rather than thrown; default 2xx. */
  accept?: (status: number) => boolean
}

export interface HttpResponse {
  status: number
  headers: Record<string, string>
  body: string
  attempts: number
}

const RETRY_NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
])

/** Method, host and path only: query strings carry signatures and tokens on some clouds. */
export function describeUrl(url: string | URL): string {
  try {
    const u = new URL(String(url))
    return `${u.origin}${u.pathname}`
  } catch {
    return '(invalid URL)'
  }
}

/** Milliseconds a Retry-After header asks for (seconds or an HTTP date), if any. */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.round(Number(value) * 1000)
  const at = Date.parse(value)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

function headerRecord(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v
  return out
}

function categoryFor(status: number): ProviderErrorCategory {
  if (status === 401 || status === 403) return 'auth'
  if (status === 408 || status === 429 || status >= 500) return 'transient'
  if (status === 404 || status === 410) return 'unavailable'
  return 'user'
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

export class HttpClient {
  private readonly retry: RetryPolicy
  private readonly timeoutMs: number
  private readonly sleep: (ms: number) => Promise<void>
  private readonly random: () => number

  constructor(private readonly options: HttpClientOptions) {
    this.retry = {...DEFAULT_RETRY, ...options.retry}
    this.timeoutMs = options.timeoutMs ?? 30_000
    this.sleep = options.sleep ?? defaultSleep
    this.random = options.random ?? Math.random
  }

  get provider(): string {
    return this.options.provider
  }

  /** Sends a request, retrying what is worth retrying; throws ProviderError on failure. */
  async request(req: HttpRequest): Promise<HttpResponse> {
    const method = req.method ?? 'GET'
    const idempotent = req.idempotent ?? (method === 'GET' || method === 'HEAD' || method === 'DELETE')
    const accept = req.accept ?? ((s: number) => s >= 200 && s < 300)
    const where = `${method} ${describeUrl(req.url)}`
    const headers = {'user-agent': this.options.userAgent ?? 'skyhop', ...req.headers}
    for (let attempt = 1; ; attempt++) {
      const canRetry = idempotent && attempt <= this.retry.retries
      let status: number | undefined
      let body = ''
      let resHeaders: Record<string, string> = {}
      let failure: {reason: string; code?: string; retryable: boolean; cause?: unknown} | undefined
      const timeoutMs = req.timeoutMs ?? this.timeoutMs
      const signal = req.signal ? AbortSignal.any([req.signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs)
      try {
        const res = await request(req.url, {
          method,
          headers,
          body: req.body,
          dispatcher: this.options.dispatcher,
          signal,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        })
        status = res.statusCode
        resHeaders = headerRecord(res.headers)
        body = await res.body.text()
      } catch (error) {
        if (req.signal?.aborted) throw error
        const code = (error as {code?: string}).code ?? (error as {cause?: {code?: string}}).cause?.code
        const timedOut = (error as Error).name === 'TimeoutError' || (error as Error).name === 'AbortError' || /TIMEOUT/.test(code ?? '')
        failure = {
          reason: timedOut ? `timed out after ${timeoutMs} ms` : `network error ${code ?? (error as Error).message}`,
          code,
          retryable: timedOut || (code !== undefined && RETRY_NETWORK_CODES.has(code)),
          cause: error,
        }
      }
      if (status !== undefined) {
        if (accept(status)) return {status, headers: resHeaders, body, attempts: attempt}
        const throttled = status === 429 || (this.options.isThrottled?.(status, body) ?? false)
        failure = {reason: throttled ? `throttled (HTTP ${status})` : `HTTP ${status}`, retryable: throttled || status >= 500 || status === 408}
      }
      const f = failure!
      if (f.retryable && canRetry) {
        const backoff = Math.round(this.random() * Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1)))
        const asked = status === undefined ? undefined : retryAfterMs(resHeaders['retry-after'])
        if (asked === undefined || asked <= this.retry.maxRetryAfterMs) {
          const delayMs = Math.max(backoff, asked ?? 0)
          this.options.onRetry?.({attempt, delayMs, reason: f.reason, url: describeUrl(req.url)})
          await this.sleep(delayMs)
          continue
        }
      }
      const category: ProviderErrorCategory = status === undefined ? (f.retryable ? 'transient' : 'unavailable') : categoryFor(status)
      const excerpt = body.trim() === '' ? undefined : redact(body.slice(0, 300))
      throw new ProviderError(this.options.provider, category, `${where}: ${f.reason}${attempt > 1 ? ` after ${attempt} attempts` : ''}`, {
        code: 'PROVIDER_HTTP',
        ...(status === undefined ? {} : {backendCode: String(status)}),
        details: {attempts: attempt, ...(excerpt ? {response: excerpt} : {})},
        cause: f.cause,
      })
    }
  }

  /** GET and parse JSON; a body that is not JSON is the provider's fault. */
  async getJson<T>(url: string | URL, init: Omit<HttpRequest, 'url' | 'method'> = {}): Promise<T> {
    const res = await this.request({...init, url, method: 'GET', headers: {accept: 'application/json', ...init.headers}})
    try {
      return JSON.parse(res.body) as T
    } catch {
      throw new ProviderError(this.options.provider, 'unavailable', `GET ${describeUrl(url)}: response is not JSON`, {code: 'PROVIDER_HTTP'})
    }
  }
}

/** A dispatcher with a connect timeout, for commands that make a handful of calls and exit. */
export function createDispatcher(options: {connectTimeoutMs?: number} = {}): Agent {
  return new Agent({connect: {timeout: options.connectTimeoutMs ?? 10_000}, keepAliveTimeout: 4_000})
}
