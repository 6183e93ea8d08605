// The offer catalog as the rest of skyhop sees it: the bundled snapshot
// (data/offers.json), overlaid per provider by the files `catalog refresh` wrote under
// `${home}/catalog/`, optionally merged with a user file; or, with `catalogFile`, exactly
// the offers of that user file. Synchronous and fast: the snapshot is pre-built JSON.
import {existsSync, readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'

import {BugError} from '../errors.js'
import {loadRegistry, type AcceleratorRegistry} from './accelerators.js'
import {DEFAULT_FX, type FxRates} from './currency.js'
import {decodeRows, isSnapshotFile, type SnapshotFile} from './snapshot.js'
import type {Offer} from './types.js'
import {readCatalogFile} from './user-file.js'

export interface LoadCatalogOptions {
  /** skyhop's data directory; refreshed provider files live in `${home}/catalog/`. */
  home: string
  /** Use exactly this file's offers (with the bundled registry). */
  catalogFile?: string
  /** Merge this file's offers over the snapshot: same place and shape replaces, new adds. */
  mergeFile?: string
  /** The moment ages are measured from; tests pin it. */
  now?: Date
  fx?: FxRates
  /** Another snapshot instead of data/offers.json (benchmarks, tests). */
  snapshotFile?: string
  registry?: AcceleratorRegistry
}

export type SourceOrigin = 'bundled' | 'refreshed' | 'file'

/** Where one provider's offers in this catalog came from. */
export interface CatalogSource {
  provider: string
  origin: SourceOrigin
  source: string
  /** Newest as-of date among the provider's offers. */
  asOf: string | null
  /** When a refresh fetched them, for refreshed data. */
  fetchedAt: string | null
  rows: number
  /** The file the rows were read from, when not the bundled snapshot. */
  file: string | null
}

export interface Catalog {
  readonly registry: AcceleratorRegistry
  readonly offers: readonly Offer[]
  readonly sources: readonly CatalogSource[]
  /** Problems that did not stop loading, e.g. a damaged refreshed file that was ignored. */
  readonly warnings: readonly string[]
  readonly fx: FxRates
  readonly now: Date
}

export function catalogDir(home: string): string {
  return join(home, 'catalog')
}

export const REFRESHED_SUFFIX = '.offers.json'

export function refreshedFile(home: string, provider: string): string {
  return join(catalogDir(home), `${provider}${REFRESHED_SUFFIX}`)
}

export function bundledSnapshotPath(): string {
  return new URL('../../data/offers.json', import.meta.url).pathname
}

export function readSnapshot(path: string): SnapshotFile {
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as unknown
  if (!isSnapshotFile(parsed)) throw new Error(`${path}: not a skyhop offers file`)
  return parsed
}

/** Identity of an offer for merging: same provider, place, type and accelerator. */
export function mergeKey(o: Offer): string {
  return `${o.provider}|${o.region}|${o.zone ?? ''}|${o.instanceType}|${o.accelerator?.name ?? ''}|${o.accelerator?.count ?? 0}`
}

function newestAsOf(offers: readonly Offer[]): string | null {
  let best: string | null = null
  for (const o of offers) if (best === null || o.asOf > best) best = o.asOf
  return best
}

function groupByProvider(offers: readonly Offer[]): Map<string, Offer[]> {
  const out = new Map<string, Offer[]>()
  for (const o of offers) {
    let list = out.get(o.provider)
    if (!list) out.set(o.provider, (list = []))
    list.push(o)
  }
  return out
}

/** The refreshed provider files in `${home}/catalog/`, each read and checked; damaged ones reported. */
export function readRefreshed(home: string, warnings: string[]): Array<{provider: string; file: string; snapshot: SnapshotFile}> {
  const dir = catalogDir(home)
  if (!existsSync(dir)) return []
  const out: Array<{provider: string; file: string; snapshot: SnapshotFile}> = []
  for (const name of readdirSync(dir).sort()) {
    if (!name.endsWith(REFRESHED_SUFFIX)) continue
    const provider = name.slice(0, -REFRESHED_SUFFIX.length)
    const file = join(dir, name)
    try {
      const snapshot = readSnapshot(file)
      if (!snapshot.providers[provider]) throw new Error(`holds no rows for ${provider}`)
      out.push({provider, file, snapshot})
    } catch (error) {
      warnings.push(`ignored ${file}: ${(error as Error).message}; using the bundled ${provider} offers`)
    }
  }
  return out
}

export function loadCatalog(options: LoadCatalogOptions): Catalog {
  const registry = options.registry ?? loadRegistry()
  const now = options.now ?? new Date()
  const fx = options.fx ?? DEFAULT_FX
  const warnings: string[] = []

  if (options.catalogFile) {
    const user = readCatalogFile(options.catalogFile, registry)
    const sources = [...groupByProvider(user.offers)].map(([provider, rows]) => ({
      provider,
      origin: 'file' as const,
      source: `file ${options.catalogFile}`,
      asOf: newestAsOf(rows),
      fetchedAt: null,
      rows: rows.length,
      file: options.catalogFile!,
    }))
    return {registry, offers: user.offers, sources: sortSources(sources), warnings, fx, now}
  }

  let snapshot: SnapshotFile
  const snapshotPath = options.snapshotFile ?? bundledSnapshotPath()
  try {
    snapshot = readSnapshot(snapshotPath)
  } catch (error) {
    throw new BugError(`cannot read the offer snapshot ${snapshotPath}: ${(error as Error).message}`, {cause: error})
  }
  const refreshed = readRefreshed(options.home, warnings)
  const replaced = new Set(refreshed.map((r) => r.provider))

  const sources: CatalogSource[] = []
  let offers: Offer[] = decodeRows(snapshot.strings, snapshot.rows)
  if (replaced.size > 0) offers = offers.filter((o) => !replaced.has(o.provider))
  for (const [provider, meta] of Object.entries(snapshot.providers)) {
    if (replaced.has(provider)) continue
    sources.push({provider, origin: 'bundled', source: meta.source, asOf: meta.asOf, fetchedAt: null, rows: meta.rows, file: null})
  }
  for (const r of refreshed) {
    // A refreshed file holds one provider's rows; anything else in it is ignored.
    const rows = decodeRows(r.snapshot.strings, r.snapshot.rows).filter((o) => o.provider === r.provider)
    const meta = r.snapshot.providers[r.provider]
    offers.push(...rows)
    sources.push({
      provider: r.provider,
      origin: 'refreshed',
      source: meta.source,
      asOf: meta.asOf,
      fetchedAt: meta.fetchedAt ?? null,
      rows: rows.length,
      file: r.file,
    })
  }

  if (options.mergeFile) {
    const user = readCatalogFile(options.mergeFile, registry)
    const incoming = new Map(user.offers.map((o) => [mergeKey(o), o]))
    const kept = offers.filter((o) => !incoming.has(mergeKey(o)))
    const replacedCount = offers.length - kept.length
    offers = [...kept, ...user.offers]
    for (const [provider, rows] of groupByProvider(user.offers)) {
      sources.push({
        provider,
        origin: 'file',
        source: `file ${options.mergeFile} (merged over the catalog)`,
        asOf: newestAsOf(rows),
        fetchedAt: null,
        rows: rows.length,
        file: options.mergeFile,
      })
    }
    if (replacedCount > 0) warnings.push(`${options.mergeFile} replaced ${replacedCount} offer(s) of the catalog`)
  }
  return {registry, offers, sources: sortSources(sources), warnings, fx, now}
}

function sortSources(sources: CatalogSource[]): CatalogSource[] {
  const rank: Record<SourceOrigin, number> = {bundled: 0, refreshed: 1, file: 2}
  return sources.sort((a, b) => a.provider.localeCompare(b.provider) || rank[a.origin] - rank[b.origin])
}

/** Provider ids present in the catalog, sorted. */
export function catalogProviders(catalog: Catalog): string[] {
  return [...new Set(catalog.offers.map((o) => o.provider))].sort()
}
