// The HTTP client of the calls that speak plain HTTP rather than a cloud's signed API
// (price APIs, checkpoint stores, `skyhop check`): one exchange through request.ts, under
// the one retry policy (retry.ts) applied to throttling (429, or a backend's own throttling
// code), 5xx and transient network errors, and every failure it gives up on as a
// ProviderError. Errors name the method, host and path, never the query string, headers
// or body of the request: a secret can't leak through them.
import type {Readable} from 'node:stream'

import type {Dispatcher} from 'undici'

import {BackendError, HttpTransportError, ProviderError, type ProviderErrorCategory} from '../errors.js'
import {redact} from '../util/redact.js'
import {describeRequest, describeUrl, sendRequest} from './request.js'
import {DEFAULT_RETRY, retryAfterMs, withRetries, type RetryPolicy} from './retry.js'

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
}

export interface HttpRequest {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD'
  url: string | URL
  headers?: Record<string, string>
  /** A function opens a fresh stream for each try: a large file is sent without holding it in memory. */
  body?: string | Buffer | (() => Readable)
  timeoutMs?: number
  signal?: AbortSignal
  /** POST and PUT are retried only when the caller says repeating them is harmless. */
  idempotent?: boolean
  /** Statuses returned rather than thrown; default 2xx. */
  accept?: (status: number) => boolean
  /** See HttpCall.bodyEncoding. */
  bodyEncoding?: 'utf8' | 'latin1'
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

/** A response whose status the caller did not accept; request() always turns it into a ProviderError. */
class RejectedResponse extends BackendError {
  readonly code = 'HTTP_STATUS'
  readonly retryable: boolean
  constructor(
    readonly status: number,
    readonly headers: Record<string, string>,
    readonly body: string,
    throttled: boolean,
  ) {
    super(throttled ? `throttled (HTTP ${status})` : `HTTP ${status}`)
    this.retryable = throttled || status >= 500 || status === 408
  }
}

/** Why a try failed, as errors and retry events say it. */
function reasonOf(error: HttpTransportError | RejectedResponse, timeoutMs: number): string {
  if (error instanceof RejectedResponse) return error.message
  if (error.kind === 'timeout') return error.message.includes('the deadline of') ? error.message : `timed out after ${timeoutMs} ms`
  return `network error ${error.networkCode ?? (error.cause instanceof Error ? error.cause.message : error.message)}`
}

function transportRetryable(error: HttpTransportError): boolean {
  return error.kind === 'timeout' || (error.networkCode !== undefined && RETRY_NETWORK_CODES.has(error.networkCode))
}

export class HttpClient {
  private readonly retry: RetryPolicy
  private readonly timeoutMs: number

  constructor(private readonly options: HttpClientOptions) {
    this.retry = {...DEFAULT_RETRY, ...options.retry}
    this.timeoutMs = options.timeoutMs ?? 30_000
  }

  get provider(): string {
    return this.options.provider
  }

  /** Sends a request, retrying what is worth retrying; throws ProviderError on failure. */
  async request(req: HttpRequest): Promise<HttpResponse> {
    const method = req.method ?? 'GET'
    const idempotent = req.idempotent ?? (method === 'GET' || method === 'HEAD' || method === 'DELETE')
    const accept = req.accept ?? ((s: number) => s >= 200 && s < 300)
    const headers = {'user-agent': this.options.userAgent ?? 'skyhop', ...req.headers}
    const timeoutMs = req.timeoutMs ?? this.timeoutMs
    let attempts = 0
    const once = async (attempt: number): Promise<Omit<HttpResponse, 'attempts'>> => {
      attempts = attempt
      // Price pages and store objects had no size cap here; a cloud API's cap does not apply.
      const body = typeof req.body === 'function' ? req.body() : req.body
      const call = {
        url: req.url,
        method,
        headers,
        body,
        timeoutMs,
        dispatcher: this.options.dispatcher,
        signal: req.signal,
        bodyEncoding: req.bodyEncoding,
      }
      const res = await sendRequest({...call, maxBodyBytes: Number.POSITIVE_INFINITY}).catch((error: unknown) => {
        // The caller's own abort is not a failure of the backend: it goes back as it came.
        throw error instanceof HttpTransportError && error.kind === 'aborted' ? error.cause : error
      })
      const resHeaders = headerRecord(res.headers)
      if (accept(res.status)) return {status: res.status, headers: resHeaders, body: res.body}
      const throttled = res.status === 429 || (this.options.isThrottled?.(res.status, res.body) ?? false)
      throw new RejectedResponse(res.status, resHeaders, res.body, throttled)
    }
    const judge = (error: unknown) => {
      if (!idempotent) return false
      if (error instanceof RejectedResponse) return {retry: error.retryable, afterMs: retryAfterMs(error.headers['retry-after'])}
      return error instanceof HttpTransportError && transportRetryable(error)
    }
    const onRetry = (error: unknown, attempt: number, delayMs: number) => {
      const reason = reasonOf(error as HttpTransportError | RejectedResponse, timeoutMs)
      this.options.onRetry?.({attempt, delayMs, reason, url: describeUrl(req.url)})
    }
    try {
      // The whole call's deadline: the policy's, or one try's when that is longer (a large upload).
      const policy = this.retry.totalMs === undefined ? this.retry : {...this.retry, totalMs: Math.max(this.retry.totalMs, timeoutMs)}
      return {...(await withRetries(once, judge, policy, onRetry)), attempts}
    } catch (error) {
      if (!(error instanceof RejectedResponse || error instanceof HttpTransportError)) throw error
      throw this.failure(error, describeRequest(method, req.url), attempts, timeoutMs)
    }
  }

  private failure(error: HttpTransportError | RejectedResponse, where: string, attempts: number, timeoutMs: number): ProviderError {
    const message = `${where}: ${reasonOf(error, timeoutMs)}${attempts > 1 ? ` after ${attempts} attempts` : ''}`
    if (error instanceof HttpTransportError) {
      const category = transportRetryable(error) ? 'transient' : 'unavailable'
      return new ProviderError(this.options.provider, category, message, {code: 'PROVIDER_HTTP', details: {attempts}, cause: error.cause})
    }
    const excerpt = error.body.trim() === '' ? undefined : redact(error.body.slice(0, 300))
    return new ProviderError(this.options.provider, categoryFor(error.status), message, {
      code: 'PROVIDER_HTTP',
      backendCode: String(error.status),
      details: {attempts, ...(excerpt ? {response: excerpt} : {})},
    })
  }

  /** GET and parse JSON; a body that is not JSON is the provider's fault. */
  async getJson<T>(url: string | URL, init: Omit<HttpRequest, 'url' | 'method'> = {}): Promise<T> {
    const res = await this.request({...init, url, method: 'GET', headers: {accept: 'application/json', ...init.headers}})
    try {
      return JSON.parse(res.body) as T
    } catch {
      throw new ProviderError(this.options.provider, 'unavailable', `GET ${describeUrl(url)}: response is not JSON`, {
        code: 'PROVIDER_HTTP',
      })
    }
  }
}
