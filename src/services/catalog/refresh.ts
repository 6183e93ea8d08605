// The `catalog refresh` service: fetch current prices from the providers' own price APIs,
// through one dispatcher for the whole refresh.
import {type RefreshReport, REFRESHERS, refreshCatalog} from '../../catalog/refresh/index.js'
import {ProviderError} from '../../errors.js'
import {createDispatcher} from '../../http/dispatcher.js'

export type {RefreshOutcome, RefreshReport} from '../../catalog/refresh/index.js'

/** The providers with a live refresh. */
export const REFRESHABLE_PROVIDERS: readonly string[] = Object.keys(REFRESHERS)

export interface RefreshPricesOptions {
  home: string
  providers?: string[]
  timeoutMs: number
  onRetry?: (provider: string, event: {reason: string; delayMs: number}) => void
}

export async function refreshPrices(options: RefreshPricesOptions): Promise<RefreshReport> {
  const dispatcher = createDispatcher()
  try {
    const {home, providers, timeoutMs, onRetry} = options
    return await refreshCatalog({home, providers, dispatcher, timeoutMs, onRetry})
  } finally {
    await dispatcher.close()
  }
}

/** A refresh where any provider failed ends as a provider error (exit 4), after its report is shown. */
export function assertRefreshed(report: RefreshReport): void {
  const failed = report.outcomes.filter((o) => o.status === 'failed')
  if (failed.length === 0) return
  const first = failed[0]
  throw new ProviderError(
    first.provider,
    'transient',
    `refresh failed for ${failed.map((f) => f.provider).join(', ')}; their last good data stays in use`,
    {
      code: 'CATALOG_REFRESH_FAILED',
      hint: 'Run `skyhop catalog status` to see the data in use; try again later.',
      details: {outcomes: report.outcomes},
    },
  )
}
