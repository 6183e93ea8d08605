// The offer catalog as the rest of skyhop sees it: the bundled snapshot
// (data/offers.json), overlaid per provider by the files `catalog refresh` wrote under
// `${home}/catalog/`, optionally merged with a user file; or, with `catalogFile`, exactly
// the offers of that user file. Synchronous and fast: the snapshot is pre-built JSON.
import {createHash} from 'node:crypto'
import {existsSync, mkdirSync, readdirSync, readFileSync, statSync} from 'node:fs'
import {dirname, join, resolve} from 'node:path'

import {BugError} from '../errors.js'
import {writeAtomic} from '../util/write-atomic.js'
import {loadRegistry, type AcceleratorRegistry} from './accelerators.js'
import type {FxRates} from '../model/currency.js'
import {bundledFx} from './fx.js'
import {
  decodeTable,
  encodeBinary,
  type OffersFile,
  type OffersFileReader,
  type OfferTable,
  openOffersFile,
  parseOffersFile,
  type ProviderMeta,
  type RowRun,
  S,
  tableRow,
} from './snapshot.js'
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

/**
 * The refreshed provider files as catalog segments: a binary file of today's format is
 * opened for reading by group (its columns stay on disk until a plan asks for a group),
 * an older one is read whole. Damaged files are reported and left out.
 */
export function openRefreshed(
  home: string,
  warnings: string[],
): Array<{provider: string; file: string; providers: Record<string, ProviderMeta>; segment: Segment}> {
  const dir = catalogDir(home)
  if (!existsSync(dir)) return []
  const out: Array<{provider: string; file: string; providers: Record<string, ProviderMeta>; segment: Segment}> = []
  for (const name of readdirSync(dir).sort()) {
    if (!name.endsWith(REFRESHED_SUFFIX)) continue
    const provider = name.slice(0, -REFRESHED_SUFFIX.length)
    const file = join(dir, name)
    const admitted = new Set([provider])
    try {
      const reader = openOffersFile(file)
      const whole = reader === null ? readSnapshot(file) : null
      const providers = reader?.providers ?? whole!.providers
      if (!providers[provider]) throw new BugError(`holds no rows for ${provider}`)
      const segment = reader ? new FileSegment(reader, admitted) : new TableSegment(whole!.table, admitted)
      out.push({provider, file, providers, segment})
    } catch (error) {
      warnings.push(`ignored ${file}: ${(error as Error).message}; using the bundled ${provider} offers`)
    }
  }
  return out
}

/** One accelerator group of a segment's admitted rows: counted without decoding, decoded when asked. */
interface SegmentGroup {
  name: string
  size: number
  decode(): Offer[]
  first(): Offer
}

/**
 * Rows of one offers file of which only the admitted providers belong to the catalog: a
 * table in memory (the bundled snapshot, a format-1 file) or a binary file read by group.
 */
interface Segment {
  /** Admitted rows passing the selection, decoded, in file order. */
  offers(selection: OfferSelection): Offer[]
  /** Admitted rows not of `without`'s providers, by accelerator ('' = CPU-only), in file order. */
  groups(without: ReadonlySet<string>): SegmentGroup[]
  /** Distinct provider/region pairs of admitted rows. */
  regions(): Array<[string, string]>
  /** How many rows a provider has here. */
  rowsOf(provider: string): number
}

/** A segment over a table in memory: cheap passes over its columns, rows decoded on demand. */
class TableSegment implements Segment {
  private ids?: Map<string, number>

  constructor(
    private readonly table: OfferTable,
    private readonly admitted: ReadonlySet<string>,
  ) {}

  /** The id of a provider or accelerator name; only those few distinct strings are decoded. */
  private idOf(value: string): number | undefined {
    if (!this.ids) {
      const t = this.table
      const used = new Uint8Array(t.strings.length)
      for (const c of [S.provider, S.accelerator]) markUsed(t.ids[c], used)
      this.ids = new Map()
      for (let id = 0; id < used.length; id++) if (used[id] === 1) this.ids.set(t.strings.at(id), id)
    }
    return this.ids.get(value)
  }

  /** A mark per string id for the given names (or for every name, for null). */
  private marks(values: ReadonlySet<string> | null, also: ReadonlySet<string> | null = null): Uint8Array | null {
    if (values === null) return null
    const out = new Uint8Array(this.table.strings.length)
    for (const v of values) {
      const id = this.idOf(v)
      if (id !== undefined && (also === null || also.has(v))) out[id] = 1
    }
    return out
  }

  offers(selection: OfferSelection): Offer[] {
    const t = this.table
    const admitted = this.marks(this.admitted, selection.providers ?? null)!
    const acc = this.marks(selection.accelerators ?? null)
    const provider = t.ids[S.provider]
    const accelerator = t.ids[S.accelerator]
    const out: Offer[] = []
    for (let i = 0; i < t.n; i++) {
      if (admitted[provider[i]] === 0) continue
      if (acc && (accelerator[i] < 0 || acc[accelerator[i]] === 0)) continue
      out.push(tableRow(t, i))
    }
    return out
  }

  groups(without: ReadonlySet<string>): SegmentGroup[] {
    const t = this.table
    const allowed = new Uint8Array(t.strings.length)
    for (const p of this.admitted) {
      const id = this.idOf(p)
      if (id !== undefined && !without.has(p)) allowed[id] = 1
    }
    return rowsByAccelerator(t, allowed).map(({slot, rows}) => ({
      name: slot === 0 ? '' : t.strings.at(slot - 1),
      size: rows.length,
      decode: () => Array.from(rows, (i) => tableRow(t, i)),
      first: () => tableRow(t, rows[0]),
    }))
  }

  regions(): Array<[string, string]> {
    const t = this.table
    const admitted = this.marks(this.admitted)!
    const provider = t.ids[S.provider]
    const region = t.ids[S.region]
    const pairs = new Map<number, Set<number>>()
    for (let i = 0; i < t.n; i++) {
      if (admitted[provider[i]] === 0) continue
      let regions = pairs.get(provider[i])
      if (!regions) pairs.set(provider[i], (regions = new Set()))
      regions.add(region[i])
    }
    const out: Array<[string, string]> = []
    for (const [p, regions] of pairs) for (const r of regions) out.push([t.strings.at(p), t.strings.at(r)])
    return out
  }

  rowsOf(provider: string): number {
    const id = this.idOf(provider)
    if (id === undefined) return 0
    const column = this.table.ids[S.provider]
    let rows = 0
    for (let i = 0; i < this.table.n; i++) if (column[i] === id) rows++
    return rows
  }
}

function markUsed(col: Int32Array, used: Uint8Array): void {
  for (let i = 0; i < col.length; i++) if (col[i] >= 0) used[col[i]] = 1
}

/** Allowed rows' indexes per accelerator (slot 0: CPU-only, id + 1: an accelerator), slots in order of first appearance. */
function rowsByAccelerator(t: OfferTable, allowed: Uint8Array): Array<{slot: number; rows: Int32Array}> {
  const provider = t.ids[S.provider]
  const accelerator = t.ids[S.accelerator]
  const counts = new Int32Array(t.strings.length + 1)
  const order: number[] = []
  for (let i = 0; i < t.n; i++) {
    if (allowed[provider[i]] === 0) continue
    const slot = accelerator[i] + 1
    if (counts[slot]++ === 0) order.push(slot)
  }
  const lists = new Map(order.map((slot) => [slot, {slot, rows: new Int32Array(counts[slot]), at: 0}]))
  for (let i = 0; i < t.n; i++) {
    if (allowed[provider[i]] === 0) continue
    const list = lists.get(accelerator[i] + 1)!
    list.rows[list.at++] = i
  }
  return [...lists.values()]
}

/**
 * A segment over a binary file read by group: its row ranges per provider and accelerator
 * come from the header, so counting a million rows reads nothing, and a plan reads only the
 * groups it can use.
 */
class FileSegment implements Segment {
  constructor(
    private readonly file: OffersFileReader,
    private readonly admitted: ReadonlySet<string>,
  ) {}

  private runs(keep: (run: RowRun) => boolean): RowRun[] {
    return this.file.runs.filter((r) => this.admitted.has(r.provider) && keep(r))
  }

  private decode(run: RowRun): Offer[] {
    return decodeTable(this.file.read(run.start, run.count))
  }

  offers(selection: OfferSelection): Offer[] {
    const acc = selection.accelerators ?? null
    const prov = selection.providers ?? null
    return this.runs((r) => (!prov || prov.has(r.provider)) && (!acc || (r.accelerator !== null && acc.has(r.accelerator)))).flatMap((r) =>
      this.decode(r),
    )
  }

  groups(without: ReadonlySet<string>): SegmentGroup[] {
    const byName = new Map<string, RowRun[]>()
    for (const r of this.runs((r) => !without.has(r.provider))) {
      const name = r.accelerator ?? ''
      const list = byName.get(name)
      if (list) list.push(r)
      else byName.set(name, [r])
    }
    return [...byName].map(([name, runs]) => ({
      name,
      size: runs.reduce((n, r) => n + r.count, 0),
      decode: () => runs.flatMap((r) => this.decode(r)),
      first: () => tableRow(this.file.read(runs[0].start, 1), 0),
    }))
  }

  regions(): Array<[string, string]> {
    const out = new Map<string, [string, string]>()
    for (const run of this.runs(() => true)) {
      // The region column alone: `--region` checks over a million rows read 4 MB, not the file.
      const region = this.file.ids(S.region, run.start, run.count)
      const seen = new Set<number>()
      for (let i = 0; i < region.length; i++) seen.add(region[i])
      for (const id of seen) out.set(`${run.provider}/${id}`, [run.provider, this.file.strings.at(id)])
    }
    return [...out.values()]
  }

  rowsOf(provider: string): number {
    return this.file.runs.reduce((n, r) => n + (r.provider === provider ? r.count : 0), 0)
  }
}

/**
 * Holds the segments and turns rows into Offer objects only when asked: a query for one
 * accelerator over a million refreshed rows decodes the rows that match.
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
    this.all ??= [...this.segments.flatMap((seg) => seg.offers({})), ...this.extra]
    return this.all
  }

  select(selection: OfferSelection): Offer[] {
    const wantAcc = selection.accelerators ?? null
    const wantProv = selection.providers ?? null
    const keep = (o: Offer) =>
      (!wantAcc || (o.accelerator !== null && wantAcc.has(o.accelerator.name))) && (!wantProv || wantProv.has(o.provider))
    if (this.all) return this.all.filter(keep)
    return [...this.segments.flatMap((seg) => seg.offers(selection)), ...this.extra.filter(keep)]
  }

  index(options: {without?: ReadonlySet<string>; add?: readonly Offer[]} = {}): OfferIndex {
    const without = options.without ?? new Set<string>()
    const kept = (o: Offer) => !without.has(o.provider)
    if (this.all) return indexOffers([...this.all.filter(kept), ...(options.add ?? [])])
    const parts = new Map<string, SegmentGroup[]>()
    const sizes = new Map<string, number>()
    for (const seg of this.segments) {
      for (const g of seg.groups(without)) {
        const list = parts.get(g.name)
        if (list) list.push(g)
        else parts.set(g.name, [g])
        sizes.set(g.name, (sizes.get(g.name) ?? 0) + g.size)
      }
    }
    const extra = indexOffers([...this.extra.filter(kept), ...(options.add ?? [])])
    for (const [name, n] of extra.groupSizes()) sizes.set(name, (sizes.get(name) ?? 0) + n)
    const decoded = new Map<string, readonly Offer[]>()
    return {
      kind: 'offer-index',
      size: [...sizes.values()].reduce((a, b) => a + b, 0),
      groupSizes: () => sizes,
      group: (name) => {
        let list = decoded.get(name)
        if (list === undefined) {
          list = [...(parts.get(name) ?? []).flatMap((g) => g.decode()), ...extra.group(name)]
          decoded.set(name, list)
        }
        return list
      },
      first: (name) => {
        const g = parts.get(name)?.[0]
        return g ? g.first() : extra.first(name)
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
      for (const seg of this.segments) for (const [provider, region] of seg.regions()) add(provider, region)
      for (const o of this.extra) add(o.provider, o.region)
    }
    return [...seen.values()]
  }
}

export function loadCatalog(options: LoadCatalogOptions): Catalog {
  const registry = options.registry ?? loadRegistry()
  const now = options.now ?? new Date()
  const fx = options.fx ?? bundledFx()
  const warnings: string[] = []

  if (options.catalogFile) {
    const file = options.catalogFile
    const user = readUserCatalog(file, options.home, registry, warnings)
    const sources = Object.entries(user.providers).map(([provider, meta]) => ({
      provider,
      origin: 'file' as const,
      source: `file ${file}`,
      asOf: meta.asOf,
      fetchedAt: null,
      rows: meta.rows,
      file,
    }))
    return new LazyCatalog(registry, user.segments, user.offers, sortSources(sources), warnings, fx, now)
  }

  let snapshot: OffersFile
  const snapshotPath = options.snapshotFile ?? bundledSnapshotPath()
  try {
    snapshot = readSnapshot(snapshotPath)
  } catch (error) {
    throw new BugError(`cannot read the offer snapshot ${snapshotPath}: ${(error as Error).message}`, {cause: error})
  }
  const refreshed = openRefreshed(options.home, warnings)
  const replaced = new Set(refreshed.map((r) => r.provider))

  const sources: CatalogSource[] = []
  const bundledProviders = new Set<string>()
  for (const [provider, meta] of Object.entries(snapshot.providers)) {
    if (replaced.has(provider)) continue
    bundledProviders.add(provider)
    sources.push({provider, origin: 'bundled', source: meta.source, asOf: meta.asOf, fetchedAt: null, rows: meta.rows, file: null})
  }
  const segments: Segment[] = [new TableSegment(snapshot.table, bundledProviders)]
  for (const r of refreshed) {
    // A refreshed file holds one provider's rows; anything else in it is ignored.
    const meta = r.providers[r.provider]
    segments.push(r.segment)
    sources.push({
      provider: r.provider,
      origin: 'refreshed',
      source: meta.source,
      asOf: meta.asOf,
      fetchedAt: meta.fetchedAt ?? null,
      rows: r.segment.rowsOf(r.provider),
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

/** A user catalog file of this size or more gets an index in the skyhop home after its first read. */
export const INDEXED_FROM_BYTES = 8 * 1024 * 1024

/** Where the index of a user catalog file is kept: the cache of the skyhop home, one file per path. */
export function userCatalogIndexFile(home: string, file: string): string {
  const name = createHash('sha256').update(resolve(file)).digest('hex').slice(0, 32)
  return join(home, 'cache', 'catalog-files', `${name}${REFRESHED_SUFFIX}`)
}

/**
 * What an index was built from: the file as the file system identifies its content (size,
 * modification and change times to the nanosecond, inode — what git's index trusts too)
 * and the accelerator names it was resolved with. Any edit changes it.
 */
function indexKey(file: string, registry: AcceleratorRegistry): string {
  const st = statSync(file, {bigint: true})
  const names = registry.all().map((a) => a.name)
  return JSON.stringify({
    file: resolve(file),
    size: String(st.size),
    mtimeNs: String(st.mtimeNs),
    ctimeNs: String(st.ctimeNs),
    ino: String(st.ino),
    registry: createHash('sha256').update(names.join('\n')).digest('hex').slice(0, 16),
  })
}

/**
 * A user's catalog file (`--catalog FILE`). A large one is read and checked once; its offers
 * are then kept as a binary file read by group beside the other caches, and later runs read
 * that instead — a plan over a million offers reads the groups it needs. Without an index
 * (a small file, or one that could not be written) the offers are held in memory.
 */
function readUserCatalog(
  file: string,
  home: string,
  registry: AcceleratorRegistry,
  warnings: string[],
): {segments: Segment[]; offers: Offer[]; providers: Record<string, {asOf: string | null; rows: number}>} {
  const indexFile = userCatalogIndexFile(home, file)
  let key: string | null = null
  try {
    key = indexKey(file, registry)
    if (existsSync(indexFile)) {
      const reader = openOffersFile(indexFile)
      if (reader && reader.generatedFrom[0] === key) return fromIndex(reader)
    }
  } catch {
    // No usable index (a stat error is reported by the reader below): read the file.
  }
  const user = readCatalogFile(file, registry)
  const providers = Object.fromEntries(
    [...groupByProvider(user.offers)].map(([provider, rows]) => [provider, {asOf: newestAsOf(rows), rows: rows.length}]),
  )
  if (key === null || statSync(file).size < INDEXED_FROM_BYTES) return {segments: [], offers: user.offers, providers}
  try {
    const meta = Object.fromEntries(
      Object.entries(providers).map(([p, m]) => [
        p,
        {source: `file ${file}`, asOf: m.asOf ?? '', rows: m.rows, origin: 'refreshed' as const},
      ]),
    )
    mkdirSync(dirname(indexFile), {recursive: true})
    writeAtomic(indexFile, encodeBinary(user.offers, meta, [key]))
    const reader = openOffersFile(indexFile)
    // Read back at once, so the first run plans on the same rows, in the same order, as the next.
    if (reader) return fromIndex(reader)
  } catch (error) {
    warnings.push(`could not keep an index of ${file} in ${indexFile} (${(error as Error).message}); every plan reads the whole file`)
  }
  return {segments: [], offers: user.offers, providers}
}

function fromIndex(reader: OffersFileReader): ReturnType<typeof readUserCatalog> {
  const providers = Object.fromEntries(Object.entries(reader.providers).map(([p, m]) => [p, {asOf: m.asOf || null, rows: m.rows}]))
  return {segments: [new FileSegment(reader, new Set(Object.keys(providers)))], offers: [], providers}
}

function sortSources(sources: CatalogSource[]): CatalogSource[] {
  const rank: Record<SourceOrigin, number> = {bundled: 0, refreshed: 1, file: 2}
  return sources.sort((a, b) => a.provider.localeCompare(b.provider) || rank[a.origin] - rank[b.origin])
}
