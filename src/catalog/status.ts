// `catalog status`: for each provider, where its offers come from (bundled snapshot,
// a refresh, a user file), how old they are, how many there are, and how the last
// refresh attempt went.
import type {ErrorJson} from '../errors.js'
import {loadCatalog, type LoadCatalogOptions, type SourceOrigin} from './catalog.js'
import {REFRESHERS} from './refresh/refreshers.js'
import {readRefreshState} from './refresh/state.js'

export interface ProviderStatus {
  provider: string
  origin: SourceOrigin
  source: string
  /** Newest as-of date of the provider's prices. */
  asOf: string | null
  /** When a refresh fetched them, for refreshed data. */
  fetchedAt: string | null
  /** Seconds since fetchedAt, else since asOf (midnight UTC); null when neither is known. */
  ageSeconds: number | null
  rows: number
  file: string | null
  refreshSupported: boolean
  lastRefresh: {attemptedAt: string; ok: boolean; error: ErrorJson | null} | null
}

export interface CatalogStatus {
  now: string
  totalRows: number
  providers: ProviderStatus[]
  warnings: string[]
}

export function catalogStatus(options: LoadCatalogOptions): CatalogStatus {
  const catalog = loadCatalog(options)
  const now = catalog.now
  const state = readRefreshState(options.home)
  const providers = catalog.sources.map((s): ProviderStatus => {
    const since = s.fetchedAt ?? (s.asOf ? `${s.asOf.slice(0, 10)}T00:00:00Z` : null)
    const t = since === null ? NaN : Date.parse(since)
    const attempt = state.providers[s.provider]
    return {
      provider: s.provider,
      origin: s.origin,
      source: s.source,
      asOf: s.asOf,
      fetchedAt: s.fetchedAt,
      ageSeconds: Number.isNaN(t) ? null : Math.max(0, Math.round((now.getTime() - t) / 1000)),
      rows: s.rows,
      file: s.file,
      refreshSupported: Boolean(REFRESHERS[s.provider]),
      lastRefresh: attempt?.lastAttempt
        ? {attemptedAt: attempt.lastAttempt, ok: attempt.lastError === null, error: attempt.lastError}
        : null,
    }
  })
  return {now: now.toISOString(), totalRows: catalog.sources.reduce((n, s) => n + s.rows, 0), providers, warnings: [...catalog.warnings]}
}

/** `42s`, `5m`, `3h`, `12d`: the largest unit that fits. */
export function formatAge(seconds: number | null): string {
  if (seconds === null) return '?'
  if (seconds < 60) return `${seconds}s`
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h`
  return `${Math.floor(seconds / 86_400)}d`
}
