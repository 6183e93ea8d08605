// The offer catalog as the rest of skyhop sees it: the bundled snapshot
// (data/offers.json), overlaid per provider by the files `catalog refresh` wrote under
// `${home}/catalog/`, optionally merged with a user file; or, with `catalogFile`, exactly
// the offers of that user file. Synchronous and fast: the snapshot is pre-built JSON.
import {existsSync, readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'

import {BugError} from '../errors.js'
import {loadRegistry, type AcceleratorRegistry} from './accelerators.js'
import {DEFAULT_FX, type FxRates} from '../model/currency.js'
import {type OffersFile, type OfferTable, parseOffersFile, S, tableRow} from './snapshot.js'
import {indexOffers, type Offer, type OfferIndex} from '../model/catalog.js'
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

/** A cheap filter applied before rows are turned into Offer objects. */
export interface OfferSelection {
  /** Canonical accelerator names; CPU offers never match. */
  accelerators?: ReadonlySet<string> | null
  providers?: ReadonlySet<string> | null
}

export interface Catalog {
  readonly registry: AcceleratorRegistry
  /** Every offer. Materialized on first use; prefer select() for a subset of a large catalog. */
  readonly offers: readonly Offer[]
  /** Offers passing the selection, decoding only those (fast on 100k+ refreshed rows). */
  select(selection: OfferSelection): Offer[]
  /**
   * The offers grouped by accelerator for the planner, without `without`'s providers and with
   * `add` appended (live offers that replace them): groups are counted from the columns and
   * decoded only when the planner asks for one. Groups and offers come in catalog order.
   */
  index(options?: {without?: ReadonlySet<string>; add?: readonly Offer[]}): OfferIndex
  /** Distinct provider/region pairs, without materializing offers. */
  regions(): Array<{provider: string; region: string}>
  readonly sources: readonly CatalogSource[]
  /** Problems that did not stop loading, e.g. a damaged refreshed file that was ignored. */
  readonly warnings: readonly string[]
  readonly fx: FxRates
  readonly now: Date
}

export function catalogDir(home: string): string {
  return join(home, 'catalog')
}

export const REFRESHED_SUFFIX = '.offers.bin'

export function refreshedFile(home: string, provider: string): string {
  return join(catalogDir(home), `${provider}${REFRESHED_SUFFIX}`)
}

export function bundledSnapshotPath(): string {
  return new URL('../../data/offers.json', import.meta.url).pathname
}

/** Reads an offers file skyhop wrote (the JSON snapshot or a binary refreshed file). */
export function readSnapshot(path: string): OffersFile {
  return parseOffersFile(readFileSync(path))
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
export function readRefreshed(home: string, warnings: string[]): Array<{provider: string; file: string; snapshot: OffersFile}> {
  const dir = catalogDir(home)
  if (!existsSync(dir)) return []
  const out: Array<{provider: string; file: string; snapshot: OffersFile}> = []
  for (const name of readdirSync(dir).sort()) {
    if (!name.endsWith(REFRESHED_SUFFIX)) continue
    const provider = name.slice(0, -REFRESHED_SUFFIX.length)
    const file = join(dir, name)
    try {
      const snapshot = readSnapshot(file)
      if (!snapshot.providers[provider]) throw new BugError(`holds no rows for ${provider}`)
      out.push({provider, file, snapshot})
    } catch (error) {
      warnings.push(`ignored ${file}: ${(error as Error).message}; using the bundled ${provider} offers`)
    }
  }
  return out
}

/** Rows of one offers file, of which only the admitted providers belong to the catalog. */
interface Segment {
  table: OfferTable
  admitted: ReadonlySet<string>
  ids?: Map<string, number>
}

function idOf(seg: Segment, value: string): number | undefined {
  if (!seg.ids) seg.ids = new Map(seg.table.strings.map((v, i) => [v, i]))
  return seg.ids.get(value)
}

function idSet(seg: Segment, values: ReadonlySet<string> | null | undefined): Set<number> | null {
  if (!values) return null
  const out = new Set<number>()
  for (const v of values) {
    const id = idOf(seg, v)
    if (id !== undefined) out.add(id)
  }
  return out
}

/**
 * Holds the parsed files and turns rows into Offer objects only when asked: a query for
 * one accelerator over 120k refreshed rows decodes the few thousand that match.
 */
class LazyCatalog implements Catalog {
  private all?: Offer[]

  constructor(
    readonly registry: AcceleratorRegistry,
    private readonly segments: Segment[],
    private readonly extra: Offer[],
    readonly sources: CatalogSource[],
    readonly warnings: string[],
    readonly fx: FxRates,
    readonly now: Date,
  ) {}

  get offers(): readonly Offer[] {
    if (!this.all) {
      const out: Offer[] = []
      for (const seg of this.segments) {
        const admitted = idSet(seg, seg.admitted)!
        const provider = seg.table.ids[S.provider]
        for (let i = 0; i < seg.table.n; i++) if (admitted.has(provider[i])) out.push(tableRow(seg.table, i))
      }
      out.push(...this.extra)
      this.all = out
    }
    return this.all
  }

  select(selection: OfferSelection): Offer[] {
    const wantAcc = selection.accelerators ?? null
    const wantProv = selection.providers ?? null
    const keep = (o: Offer) =>
      (!wantAcc || (o.accelerator !== null && wantAcc.has(o.accelerator.name))) && (!wantProv || wantProv.has(o.provider))
    if (this.all) return this.all.filter(keep)
    const out: Offer[] = []
    for (const seg of this.segments) {
      const admitted = idSet(seg, seg.admitted)!
      const acc = idSet(seg, wantAcc)
      const prov = idSet(seg, wantProv)
      const provider = seg.table.ids[S.provider]
      const accelerator = seg.table.ids[S.accelerator]
      for (let i = 0; i < seg.table.n; i++) {
        const p = provider[i]
        if (!admitted.has(p) || (prov && !prov.has(p))) continue
        if (acc && !acc.has(accelerator[i])) continue
        out.push(tableRow(seg.table, i))
      }
    }
    for (const o of this.extra) if (keep(o)) out.push(o)
    return out
  }

  index(options: {without?: ReadonlySet<string>; add?: readonly Offer[]} = {}): OfferIndex {
    const without = options.without ?? new Set<string>()
    const kept = (o: Offer) => !without.has(o.provider)
    if (this.all) return indexOffers([...this.all.filter(kept), ...(options.add ?? [])])
    // Per segment, the rows of each accelerator id: two passes over two int columns, no
    // strings and no objects, whatever the size of the catalog.
    const parts = new Map<string, Array<{table: OfferTable; rows: Int32Array}>>()
    const sizes = new Map<string, number>()
    for (const seg of this.segments) {
      const t = seg.table
      const allowed = new Uint8Array(t.strings.length)
      for (const p of seg.admitted) {
        const id = idOf(seg, p)
        if (id !== undefined && !without.has(p)) allowed[id] = 1
      }
      const provider = t.ids[S.provider]
      const accelerator = t.ids[S.accelerator]
      // Slot 0 counts CPU-only rows (id -1); slot id+1 an accelerator's.
      const counts = new Int32Array(t.strings.length + 1)
      const order: number[] = []
      for (let i = 0; i < t.n; i++) {
        if (allowed[provider[i]] === 0) continue
        const slot = accelerator[i] + 1
        if (counts[slot]++ === 0) order.push(slot)
      }
      const rows = order.map((slot) => new Int32Array(counts[slot]))
      const at = new Int32Array(t.strings.length + 1)
      const listOf = new Int32Array(t.strings.length + 1)
      order.forEach((slot, k) => (listOf[slot] = k))
      for (let i = 0; i < t.n; i++) {
        if (allowed[provider[i]] === 0) continue
        const slot = accelerator[i] + 1
        rows[listOf[slot]][at[slot]++] = i
      }
      order.forEach((slot, k) => {
        const name = slot === 0 ? '' : t.strings[slot - 1]
        let list = parts.get(name)
        if (!list) parts.set(name, (list = []))
        list.push({table: t, rows: rows[k]})
        sizes.set(name, (sizes.get(name) ?? 0) + rows[k].length)
      })
    }
    const extra = indexOffers([...this.extra.filter(kept), ...(options.add ?? [])])
    for (const [name, n] of extra.groupSizes()) sizes.set(name, (sizes.get(name) ?? 0) + n)
    let size = 0
    for (const n of sizes.values()) size += n
    const decoded = new Map<string, readonly Offer[]>()
    return {
      kind: 'offer-index',
      size,
      groupSizes: () => sizes,
      group: (name) => {
        let list = decoded.get(name)
        if (list === undefined) {
          const out: Offer[] = []
          for (const part of parts.get(name) ?? []) for (let k = 0; k < part.rows.length; k++) out.push(tableRow(part.table, part.rows[k]))
          out.push(...extra.group(name))
          decoded.set(name, (list = out))
        }
        return list
      },
      first: (name) => {
        const part = parts.get(name)?.[0]
        return part ? tableRow(part.table, part.rows[0]) : extra.first(name)
      },
    }
  }

  regions(): Array<{provider: string; region: string}> {
    const seen = new Map<string, {provider: string; region: string}>()
    const add = (provider: string, region: string) => {
      const k = `${provider}/${region}`
      if (!seen.has(k)) seen.set(k, {provider, region})
    }
    if (this.all) for (const o of this.all) add(o.provider, o.region)
    else {
      for (const seg of this.segments) {
        const admitted = idSet(seg, seg.admitted)!
        const provider = seg.table.ids[S.provider]
        const region = seg.table.ids[S.region]
        const pairs = new Map<number, Set<number>>()
        for (let i = 0; i < seg.table.n; i++) {
          if (!admitted.has(provider[i])) continue
          let regions = pairs.get(provider[i])
          if (!regions) pairs.set(provider[i], (regions = new Set()))
          regions.add(region[i])
        }
        for (const [p, regions] of pairs) for (const r of regions) add(seg.table.strings[p], seg.table.strings[r])
      }
      for (const o of this.extra) add(o.provider, o.region)
    }
    return [...seen.values()]
  }
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
    return new LazyCatalog(registry, [], user.offers, sortSources(sources), warnings, fx, now)
  }

  let snapshot: OffersFile
  const snapshotPath = options.snapshotFile ?? bundledSnapshotPath()
  try {
    snapshot = readSnapshot(snapshotPath)
  } catch (error) {
    throw new BugError(`cannot read the offer snapshot ${snapshotPath}: ${(error as Error).message}`, {cause: error})
  }
  const refreshed = readRefreshed(options.home, warnings)
  const replaced = new Set(refreshed.map((r) => r.provider))

  const sources: CatalogSource[] = []
  const bundledProviders = new Set<string>()
  for (const [provider, meta] of Object.entries(snapshot.providers)) {
    if (replaced.has(provider)) continue
    bundledProviders.add(provider)
    sources.push({provider, origin: 'bundled', source: meta.source, asOf: meta.asOf, fetchedAt: null, rows: meta.rows, file: null})
  }
  const segments: Segment[] = [{table: snapshot.table, admitted: bundledProviders}]
  for (const r of refreshed) {
    // A refreshed file holds one provider's rows; anything else in it is ignored.
    const meta = r.snapshot.providers[r.provider]
    const segment: Segment = {table: r.snapshot.table, admitted: new Set([r.provider])}
    const providerId = idOf(segment, r.provider)
    const column = r.snapshot.table.ids[S.provider]
    let rows = 0
    for (let i = 0; i < r.snapshot.table.n; i++) if (column[i] === providerId) rows++
    segments.push(segment)
    sources.push({
      provider: r.provider,
      origin: 'refreshed',
      source: meta.source,
      asOf: meta.asOf,
      fetchedAt: meta.fetchedAt ?? null,
      rows,
      file: r.file,
    })
  }

  if (!options.mergeFile) return new LazyCatalog(registry, segments, [], sortSources(sources), warnings, fx, now)

  // A merge file is small and rare: materialize, then replace by identity.
  const base = new LazyCatalog(registry, segments, [], [], [], fx, now).offers
  const user = readCatalogFile(options.mergeFile, registry)
  const incoming = new Set(user.offers.map((o) => mergeKey(o)))
  const kept = base.filter((o) => !incoming.has(mergeKey(o)))
  const replacedCount = base.length - kept.length
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
  return new LazyCatalog(registry, [], [...kept, ...user.offers], sortSources(sources), warnings, fx, now)
}

function sortSources(sources: CatalogSource[]): CatalogSource[] {
  const rank: Record<SourceOrigin, number> = {bundled: 0, refreshed: 1, file: 2}
  return sources.sort((a, b) => a.provider.localeCompare(b.provider) || rank[a.origin] - rank[b.origin])
}
