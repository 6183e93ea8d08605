// `catalog refresh`: fetch current prices from the providers' own APIs and keep one file
// per provider under `${home}/catalog/`. A provider whose refresh fails keeps its last
// good data (the previous refreshed file, else the bundled snapshot): files are replaced
// atomically and only after a successful fetch. Every attempt is recorded in
// `${home}/catalog/refresh-state.json` for `catalog status`.
import type {Dispatcher} from 'undici'

import {mkdirSync} from 'node:fs'

import {type ErrorJson, ProviderError, UsageError, isSkyhopError} from '../../errors.js'
import {HttpClient, type RetryEvent} from '../../http/client.js'
import type {RetryPolicy} from '../../http/retry.js'
import {didYouMean} from '../../util/did-you-mean.js'
import {redact} from '../../util/redact.js'
import {loadRegistry, type AcceleratorRegistry} from '../accelerators.js'
import {bundledSnapshotPath, catalogDir, openRefreshed, readSnapshot, refreshedFile} from '../catalog.js'
import {endpointEnvName, knownProviderIds} from '../providers.js'
import {decodeTable, encodeBinary, type OffersFile, type ProviderMeta} from '../snapshot.js'
import type {Offer} from '../../model/catalog.js'
import {REFRESHERS} from './refreshers.js'
import {readRefreshState, refreshStateFile, type RefreshStateEntry} from './state.js'
import {writeAtomic} from '../../util/write-atomic.js'

export interface RefreshOptions {
  home: string
  /** Providers to refresh; absent or empty means every provider that has a refresher. */
  providers?: string[]
  dispatcher: Dispatcher
  env?: NodeJS.ProcessEnv
  now?: () => Date
  timeoutMs?: number
  retry?: Partial<RetryPolicy>
  onRetry?: (provider: string, event: RetryEvent) => void
  /** Injected for tests: no real waiting between retries. */
  sleep?: (ms: number) => Promise<void>
  random?: () => number
  registry?: AcceleratorRegistry
  snapshotFile?: string
}

export {REFRESHERS} from './refreshers.js'
export {readRefreshState, refreshStateFile} from './state.js'

export type RefreshStatus = 'refreshed' | 'failed' | 'skipped' | 'unsupported'

export interface RefreshOutcome {
  provider: string
  status: RefreshStatus
  /** Offers written by this refresh. */
  rows: number | null
  source: string | null
  /** Host and path of the API called (never a query string). */
  endpoint: string | null
  fetchedAt: string | null
  requests: number | null
  error: ErrorJson | null
  /** The data the catalog uses for this provider after this run. */
  using: {origin: 'refreshed' | 'bundled' | 'none'; asOf: string | null; fetchedAt: string | null; rows: number}
  message: string
}

export interface RefreshReport {
  catalogDir: string
  outcomes: RefreshOutcome[]
  /** Damaged refreshed files found (and ignored) on the way. */
  warnings: string[]
}

/** Which providers a refresh covers; unknown names are a usage error, known ones without a refresher a provider error. */
export function selectProviders(requested: readonly string[] | undefined): string[] {
  if (!requested || requested.length === 0) return Object.keys(REFRESHERS).sort()
  const known = knownProviderIds()
  return [...new Set(requested.map((r) => r.trim().toLowerCase()))].map((p) => {
    if (!known.includes(p)) {
      const guess = didYouMean(p, known)
      throw new UsageError(`unknown provider "${p}"${guess ? ` (did you mean "${guess}"?)` : ''}`, {
        code: 'UNKNOWN_PROVIDER',
        hint: `Known providers: ${known.join(', ')}.`,
        details: {provider: p, ...(guess ? {suggestion: guess} : {})},
      })
    }
    if (!REFRESHERS[p]) {
      throw new ProviderError(p, 'unavailable', 'live price refresh is not yet supported; the bundled snapshot stays in use', {
        code: 'PROVIDER_NOT_SUPPORTED',
        hint: `Providers with a live refresh: ${Object.keys(REFRESHERS).join(', ')}.`,
      })
    }
    return p
  })
}

export async function refreshCatalog(options: RefreshOptions): Promise<RefreshReport> {
  const providers = selectProviders(options.providers)
  const env = options.env ?? process.env
  const now = options.now ?? (() => new Date())
  const registry = options.registry ?? loadRegistry()
  const dir = catalogDir(options.home)
  mkdirSync(dir, {recursive: true})

  const bundled: OffersFile = readSnapshot(options.snapshotFile ?? bundledSnapshotPath())
  const bundledOffers = decodeTable(bundled.table)
  const warnings: string[] = []
  const refreshed = new Map(openRefreshed(options.home, warnings).map((r) => [r.provider, r]))

  const retry: Partial<RetryPolicy> = {sleep: options.sleep, random: options.random, ...options.retry}
  const outcomes: RefreshOutcome[] = []
  const state = readRefreshState(options.home)
  await Promise.all(
    providers.map(async (provider) => {
      const refresher = REFRESHERS[provider]
      const endpoint = env[endpointEnvName(provider)] || refresher.defaultEndpoint
      const started = now()
      const prior = refreshed.get(provider)
      const priorOffers = prior ? prior.segment.offers({}) : []
      // Shapes from both the snapshot and the last refresh, so a type missing once comes back.
      const known: Offer[] = [...bundledOffers.filter((o) => o.provider === provider), ...priorOffers]
      const http = new HttpClient({
        provider,
        dispatcher: options.dispatcher,
        timeoutMs: options.timeoutMs,
        retry,
        onRetry: options.onRetry ? (e) => options.onRetry!(provider, e) : undefined,
        userAgent: 'skyhop catalog refresh',
      })
      const entry: RefreshStateEntry = {
        ...(state.providers[provider] ?? {lastAttempt: '', lastSuccess: null, lastError: null, lastRows: null}),
      }
      entry.lastAttempt = started.toISOString()
      try {
        const result = await refresher.fetch({
          http,
          dispatcher: options.dispatcher,
          endpoint,
          known,
          previous: prior ? priorOffers : bundledOffers.filter((o) => o.provider === provider),
          registry,
          now: started,
          env,
          fail: (category, message) => new ProviderError(provider, category, message, {code: 'PROVIDER_BAD_RESPONSE'}),
          timeoutMs: options.timeoutMs,
          retry,
          onRetry: options.onRetry ? (e) => options.onRetry!(provider, e) : undefined,
        })
        if (result.offers.length === 0) {
          throw new ProviderError(provider, 'unavailable', 'the price API returned no prices for the instance types skyhop knows', {
            code: 'PROVIDER_BAD_RESPONSE',
          })
        }
        const fetchedAt = started.toISOString()
        const asOf = result.offers.reduce((m, o) => (o.asOf > m ? o.asOf : m), result.offers[0].asOf)
        const meta = {[provider]: {source: result.source, asOf, rows: result.offers.length, origin: 'refreshed' as const, fetchedAt}}
        writeAtomic(refreshedFile(options.home, provider), encodeBinary(result.offers, meta, [result.source]))
        entry.lastSuccess = fetchedAt
        entry.lastError = null
        entry.lastRows = result.offers.length
        outcomes.push({
          provider,
          status: 'refreshed',
          rows: result.offers.length,
          source: result.source,
          endpoint: describeEndpoint(endpoint),
          fetchedAt,
          requests: result.requests,
          error: null,
          using: {origin: 'refreshed', asOf, fetchedAt, rows: result.offers.length},
          message: [`${result.offers.length} offers from ${result.source}`, ...(result.warnings ?? [])].join('; '),
        })
      } catch (error) {
        const json = toSkyhopErrorJson(error)
        const explicit = Boolean(options.providers?.length)
        if (!explicit && refresher.credentialsRequired && json.code === 'PROVIDER_NO_CREDENTIALS') {
          // Not asked for by name and not set up here: nothing failed, nothing changes.
          const using = keptData(provider, bundled, prior, priorOffers)
          outcomes.push(
            keptOutcome(provider, 'skipped', `skipped: no ${provider} credentials found; ${describeKept(using)}`, endpoint, using),
          )
          return
        }
        entry.lastError = json
        const using = keptData(provider, bundled, prior, priorOffers)
        const kept = describeKept(using)
        outcomes.push({
          provider,
          status: 'failed',
          rows: null,
          source: null,
          endpoint: describeEndpoint(endpoint),
          fetchedAt: null,
          requests: null,
          error: json,
          using,
          message: `refresh failed: ${json.message}; ${kept}`,
        })
      }
      state.providers[provider] = entry
    }),
  )
  for (const p of knownProviderIds()) {
    if (providers.includes(p) || options.providers?.length) continue
    const meta = refreshed.get(p)?.providers[p] ?? bundled.providers[p]
    outcomes.push({
      provider: p,
      status: 'unsupported',
      rows: null,
      source: null,
      endpoint: null,
      fetchedAt: null,
      requests: null,
      error: null,
      using: meta
        ? {origin: meta.origin, asOf: meta.asOf, fetchedAt: meta.fetchedAt ?? null, rows: meta.rows}
        : {origin: 'none', asOf: null, fetchedAt: null, rows: 0},
      message: 'no live price refresh yet; the bundled snapshot stays in use',
    })
  }
  writeAtomic(refreshStateFile(options.home), JSON.stringify(state, null, 2) + '\n')
  outcomes.sort((a, b) => a.provider.localeCompare(b.provider))
  return {catalogDir: dir, outcomes, warnings}
}

/** What the catalog keeps using for a provider that was not refreshed this time. */
function keptData(
  provider: string,
  bundled: OffersFile,
  prior: {providers: Record<string, ProviderMeta>} | undefined,
  priorOffers: readonly Offer[],
): RefreshOutcome['using'] {
  const priorMeta = prior?.providers[provider]
  const bundledMeta = bundled.providers[provider]
  if (priorMeta) return {origin: 'refreshed', asOf: priorMeta.asOf, fetchedAt: priorMeta.fetchedAt ?? null, rows: priorOffers.length}
  if (bundledMeta) return {origin: 'bundled', asOf: bundledMeta.asOf, fetchedAt: null, rows: bundledMeta.rows}
  return {origin: 'none', asOf: null, fetchedAt: null, rows: 0}
}

function describeKept(using: RefreshOutcome['using']): string {
  if (using.origin === 'refreshed') return `kept the last refresh (${using.fetchedAt ?? using.asOf}, ${using.rows} offers)`
  if (using.origin === 'bundled') return `kept the bundled snapshot (as of ${using.asOf}, ${using.rows} offers)`
  return 'no offers for this provider'
}

function keptOutcome(
  provider: string,
  status: RefreshStatus,
  message: string,
  endpoint: string | null,
  using: RefreshOutcome['using'],
): RefreshOutcome {
  return {
    provider,
    status,
    rows: null,
    source: null,
    endpoint: endpoint === null ? null : describeEndpoint(endpoint),
    fetchedAt: null,
    requests: null,
    error: null,
    using,
    message,
  }
}

/** The error as --json and the state file show it; anything unexpected is reported, redacted. */
function toSkyhopErrorJson(error: unknown): ErrorJson {
  if (isSkyhopError(error)) return error.toJSON()
  // The same class from a second module instance (a lazily imported provider under a test loader).
  const e = error as {code?: unknown; toJSON?: () => ErrorJson} | null
  if (e && typeof e.code === 'string' && typeof e.toJSON === 'function') return e.toJSON()
  return {code: 'INTERNAL', message: redact(error instanceof Error ? error.message : String(error))}
}

function describeEndpoint(endpoint: string): string {
  try {
    const u = new URL(endpoint)
    return `${u.origin}${u.pathname}`
  } catch {
    return '(invalid endpoint)'
  }
}
