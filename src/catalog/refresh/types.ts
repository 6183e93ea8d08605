// The contract between the refresh orchestrator (refresh/index.ts) and the per-provider
// refreshers: a refresher fetches current prices over the injected HTTP client and
// returns offers; saving them, and falling back when it fails, is not its business.
import type {Dispatcher} from 'undici'

import type {ProviderError, ProviderErrorCategory} from '../../errors.js'
import type {HttpClient, RetryEvent} from '../../http/client.js'
import type {RetryPolicy} from '../../http/retry.js'
import type {AcceleratorRegistry} from '../accelerators.js'
import type {Offer} from '../../model/catalog.js'

export interface RefreshContext {
  http: HttpClient
  /** The same dispatcher, for a provider client of its own (AWS's signed EC2 client). */
  dispatcher: Dispatcher
  /** Base URL of the provider's price API (SKYHOP_<PROVIDER>_ENDPOINT or the default). */
  endpoint: string
  /** The provider's offers the catalog holds now: what shapes (vCPUs, GPUs) instance types have. */
  known: readonly Offer[]
  /** The provider's offers in use now (the last refresh, else the bundled ones): what a partial failure keeps. */
  previous: readonly Offer[]
  registry: AcceleratorRegistry
  now: Date
  env: NodeJS.ProcessEnv
  /** Builds the ProviderError for a response the refresher cannot use. */
  fail(category: ProviderErrorCategory, message: string): ProviderError
  /**
   * What `http` was built with, for a refresher that talks through a provider client of
   * its own (Alibaba, Tencent, Huawei): the same timeout, retry policy (with its injected
   * waiting and jitter) and reporting.
   */
  timeoutMs?: number
  retry?: Partial<RetryPolicy>
  onRetry?: (event: RetryEvent) => void
}

export interface RefreshResult {
  offers: Offer[]
  /** Human-readable origin, e.g. `Azure Retail Prices API https://prices.azure.com`. */
  source: string
  /** HTTP requests made (pages fetched). */
  requests: number
  /** Partial failures that did not fail the refresh (a region that refused). */
  warnings?: string[]
}

export interface Refresher {
  provider: string
  defaultEndpoint: string
  /** Needs the provider's credentials: a run over all providers skips it when there are none. */
  credentialsRequired?: boolean
  fetch(ctx: RefreshContext): Promise<RefreshResult>
}
