// The one retry policy of skyhop's outbound calls: capped exponential backoff with full
// jitter (AWS's recommended shape), honouring a Retry-After the server sent unless it asks
// for longer than the policy will wait. What is worth retrying is the caller's to say:
// the HTTP client retries throttling, 5xx and transient network failures; a cloud's API
// client asks its own error table. Each caller keeps its budget through `retries`.

import {redact} from '../util/redact.js'
import {callScope, remainingMs, withDeadline} from '../util/deadline.js'

export interface RetryPolicy {
  /** Retries after the first try. */
  retries: number
  baseDelayMs: number
  maxDelayMs: number
  /** A Retry-After longer than this is not waited for; the failure stands instead. */
  maxRetryAfterMs: number
  /**
   * The whole call's deadline, tries and waits together (withDeadline): a try that would
   * start past it is not made. Unset: only the deadlines around the caller bound it.
   */
  totalMs?: number
  /** Injected for tests; default setTimeout. */
  sleep?: (ms: number) => Promise<void>
  /** Injected for tests; default Math.random. */
  random?: () => number
}

/** Price APIs, checkpoint stores, `skyhop check`: the HTTP client's default. */
export const DEFAULT_RETRY: RetryPolicy = {retries: 4, baseDelayMs: 250, maxDelayMs: 8000, maxRetryAfterMs: 60_000, totalMs: 60_000}

/** The clouds' signed API clients (EC2, ECS, CVM): a shorter first wait, a longer cap. */
export const CLOUD_API_RETRY: RetryPolicy = {retries: 4, baseDelayMs: 200, maxDelayMs: 10_000, maxRetryAfterMs: 60_000, totalMs: 45_000}

/** What a failed try says about trying again. */
export interface RetryVerdict {
  retry: boolean
  /** What the server asked to wait (Retry-After), if it said. */
  afterMs?: number
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Full jitter: a uniform wait below min(max, base × 2^retryIndex). */
export function backoffDelay(policy: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs' | 'random'>, retryIndex: number): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retryIndex)
  return Math.floor((policy.random ?? Math.random)() * cap)
}

/** Milliseconds a Retry-After header asks for (seconds or an HTTP date), if any. */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.round(Number(value) * 1000)
  const at = Date.parse(value)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

/**
 * Runs `fn` until it succeeds, `judge(error)` says not to retry, the retries run out, or
 * the server asks to wait longer than the policy allows; the last error is rethrown.
 * `onRetry` sees each retry before its wait (for progress events and tests).
 */
export async function withRetries<T>(
  fn: (attempt: number) => Promise<T>,
  judge: (error: unknown) => boolean | RetryVerdict,
  policy: RetryPolicy,
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void,
): Promise<T> {
  const sleep = policy.sleep ?? realSleep
  const loop = async (): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn(attempt)
      } catch (error) {
        if (attempt > policy.retries) throw error
        const verdict = judge(error)
        const {retry, afterMs} = typeof verdict === 'boolean' ? {retry: verdict, afterMs: undefined} : verdict
        if (!retry) throw error
        const backoff = backoffDelay(policy, attempt - 1)
        if (afterMs !== undefined && afterMs > policy.maxRetryAfterMs) throw error
        const delayMs = Math.max(backoff, afterMs ?? 0)
        // No try after the nearest deadline: the failure so far stands.
        const left = remainingMs()
        if (left !== null && left <= delayMs) throw error
        onRetry?.(error, attempt, delayMs)
        const scope = callScope()
        scope?.onRetry?.({what: scope.what, attempt, delayMs, reason: reasonOf(error)})
        await sleep(delayMs)
      }
    }
  }
  return policy.totalMs === undefined ? loop() : withDeadline(policy.totalMs, 'the call and its retries', loop)
}

function reasonOf(error: unknown): string {
  const e = error as {code?: unknown; message?: unknown} | null
  const message = typeof e?.message === 'string' ? e.message : String(error)
  return redact(typeof e?.code === 'string' && !message.includes(e.code) ? `${e.code}: ${message}` : message)
}
