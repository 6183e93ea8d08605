// What the VM clouds' API clients share: the options each is built with (one client per
// region, built by its provider from the provider's own options), and how one action runs:
// under the one retry policy (http/retry.ts, CLOUD_API_RETRY unless the caller says), each
// retry reported, the failure that ends it classified by the cloud's own error table
// (common/error-mapping.ts).
import type {Dispatcher} from 'undici'

import {HttpTransportError} from '../../errors.js'
import type {CredentialCache} from './credentials.js'
import {CLOUD_API_RETRY, withRetries, type RetryPolicy, type RetryVerdict} from '../../http/retry.js'

export type Env = Record<string, string | undefined>

export interface RetryInfo {
  action: string
  attempt: number
  delayMs: number
  /** The cloud's error code, or the transport failure's message. */
  reason: string
}

export interface ApiClientOptions<C> {
  region: string
  /** Called before every request so expiring credentials are refreshed. */
  credentials: () => Promise<C>
  dispatcher: Dispatcher
  /** For the cloud's endpoint overrides. Default process.env. */
  env?: Env
  /** Explicit endpoint (for every service of the cloud); wins over the environment. */
  endpoint?: string
  /** Deadline of one HTTP call. Default 20 s. */
  timeoutMs?: number
  retry?: Partial<RetryPolicy>
  now?: () => Date
  onRetry?: (info: RetryInfo) => void
}

/** The provider options that pass straight through to its API clients; retries are reported with their region. */
export interface ClientPassThrough {
  endpoint?: string
  /** Deadline of one API call. Default 20 s. */
  timeoutMs?: number
  retry?: Partial<RetryPolicy>
  now?: () => Date
  onRetry?: (info: RetryInfo & {region: string}) => void
}

export function clientOptionsFor<C>(
  region: string,
  credentials: CredentialCache<C>,
  dispatcher: Dispatcher,
  env: Env,
  pass: ClientPassThrough,
): ApiClientOptions<C> {
  return {
    region,
    credentials: async () => (await credentials.get()).credentials,
    dispatcher,
    env,
    endpoint: pass.endpoint,
    timeoutMs: pass.timeoutMs,
    retry: pass.retry,
    now: pass.now,
    onRetry: (info) => pass.onRetry?.({region, ...info}),
  }
}

/** The cloud's error code, or the transport failure's message (its taxonomy code says less). */
function retryReason(error: unknown): string {
  if (error instanceof HttpTransportError) return error.message
  return (error as {code?: string}).code ?? (error as Error).message
}

/** Runs `once` under the client's retry policy; the failure that ends it is thrown as `classify` returns it. */
export async function retriedCall<T>(
  options: Pick<ApiClientOptions<unknown>, 'retry' | 'onRetry'>,
  action: string,
  once: () => Promise<T>,
  /** A verdict with `afterMs` honours the server's Retry-After (Azure's 429s). */
  retryable: (error: unknown) => boolean | RetryVerdict,
  classify: (error: unknown) => unknown,
): Promise<T> {
  try {
    return await withRetries(once, retryable, {...CLOUD_API_RETRY, ...options.retry}, (error, attempt, delayMs) =>
      options.onRetry?.({action, attempt, delayMs, reason: retryReason(error)}),
    )
  } catch (error) {
    throw classify(error)
  }
}
