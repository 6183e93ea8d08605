// The contract between the refresh orchestrator (refresh/index.ts) and the per-provider
// refreshers: a refresher fetches current prices over the injected HTTP client and
// returns offers; saving them, and falling back when it fails, is not its business.
import type {ProviderError, ProviderErrorCategory} from '../../errors.js'
import type {HttpClient} from '../../http/client.js'
import type {AcceleratorRegistry} from '../accelerators.js'
import type {Offer} from '../types.js'

export interface RefreshContext {
  http: HttpClient
  /** Base URL of the provider's price API (SKYHOP_<PROVIDER>_ENDPOINT or the default). */
  endpoint: string
  /** The provider's offers the catalog holds now: what shapes (vCPUs, GPUs) instance types have. */
  known: readonly Offer[]
  registry: AcceleratorRegistry
  now: Date
  env: NodeJS.ProcessEnv
  /** Builds the ProviderError for a response the refresher cannot use. */
  fail(category: ProviderErrorCategory, message: string): ProviderError
}

export interface RefreshResult {
  offers: Offer[]
  /** Human-readable origin, e.g. `Azure Retail Prices API https://prices.azure.com`. */
  source: string
  /** HTTP requests made (pages fetched). */
  requests: number
}

export interface Refresher {
  provider: string
  defaultEndpoint: string
  fetch(ctx: RefreshContext): Promise<RefreshResult>
}
