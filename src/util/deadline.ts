// Deadlines that follow a piece of work through every remote call it makes. A per-try
// timeout alone does not bound a call: an endpoint that accepts connections and never
// answers costs the timeout once per try, retries included (5 × 20 s and the backoff was
// `check`'s 103 s), and a launch makes many calls, each retried. So the work says how long
// it may take — `check` of one provider, one launch candidate, the whole launch round, one
// API call with its retries — and everything under it obeys the nearest deadline without
// being told: sendRequest (every HTTP exchange: cloud APIs, credential and metadata
// endpoints, object stores) caps its timeout and aborts with it, withRetries stops retrying
// past it, Slurm commands are killed at it. Async context (AsyncLocalStorage) carries it,
// so no signature between the work and the socket had to change.
import {AsyncLocalStorage} from 'node:async_hooks'

export interface RetryNotice {
  /** The scope's name: `launch on aws/us-east-1/us-east-1a`. */
  what: string
  attempt: number
  delayMs: number
  /** Why the try failed, as the failing layer says it (no request detail beyond method, host and path). */
  reason: string
}

export interface CallScope {
  /** Milliseconds since the epoch. */
  deadlineAt: number
  /** What the deadline bounds, for messages: `check of aws`. */
  what: string
  budgetMs: number
  /** Aborts when the deadline passes. */
  signal: AbortSignal
  /** Told of each retry under the scope (progress for a person, an event in the store). */
  onRetry?: (notice: RetryNotice) => void
}

const scopes = new AsyncLocalStorage<CallScope>()
const MAX_TIMER_MS = 2 ** 31 - 1

/** The nearest deadline around the caller, if any. */
export function callScope(): CallScope | undefined {
  return scopes.getStore()
}

/** Milliseconds left before the nearest deadline; null when there is none. */
export function remainingMs(now = Date.now()): number | null {
  const scope = scopes.getStore()
  return scope ? scope.deadlineAt - now : null
}

/** A per-try timeout cut to what the nearest deadline leaves (at least 1 ms). */
export function capTimeout(timeoutMs: number, now = Date.now()): number {
  const left = remainingMs(now)
  return left === null ? timeoutMs : Math.max(1, Math.min(timeoutMs, left))
}

/** Why work under the scope stopped: `the deadline of check of aws (10 s) passed`. */
export function deadlineMessage(scope: Pick<CallScope, 'what' | 'budgetMs'>): string {
  return `the deadline of ${scope.what} (${formatMs(scope.budgetMs)}) passed`
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`
}

/**
 * Runs `fn` with a deadline `budgetMs` from now. Nested scopes keep the nearer deadline (an
 * inner one never extends an outer one); `onRetry` is inherited when not given. The
 * deadline does not cancel `fn` by itself: the calls under it stop at it, and their
 * failure is `fn`'s.
 */
export async function withDeadline<T>(
  budgetMs: number,
  what: string,
  fn: () => Promise<T>,
  options: {onRetry?: (notice: RetryNotice) => void} = {},
): Promise<T> {
  const outer = scopes.getStore()
  const deadlineAt = Date.now() + budgetMs
  // A notice names the scope that asked for notices, not the innermost one (a call's retries).
  const own = options.onRetry
  const onRetry = own ? (notice: RetryNotice) => own({...notice, what}) : outer?.onRetry
  if (outer && outer.deadlineAt <= deadlineAt) return scopes.run({...outer, onRetry}, fn)
  const controller = new AbortController()
  const scope: CallScope = {deadlineAt, what, budgetMs, signal: controller.signal, onRetry}
  // setTimeout fires at once past 2^31 - 1 ms (~24.8 days): a deadline that far has no
  // timer, only its time, which the calls under it still check before they start.
  const timer = budgetMs <= MAX_TIMER_MS ? setTimeout(() => controller.abort(new Error(deadlineMessage(scope))), budgetMs) : undefined
  // A deadline never keeps the process alive by itself.
  timer?.unref()
  try {
    return await scopes.run(scope, fn)
  } finally {
    clearTimeout(timer)
  }
}
