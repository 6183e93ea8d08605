// The on-disk forms of offers that skyhop itself writes, and the column table both are
// read into. The bundled snapshot (data/offers.json) is JSON, one interned-string row per
// line so a diff shows the rows that changed. Refreshed provider files
// (`${home}/catalog/<provider>.offers.bin`) can hold 100k+ rows (AWS per zone), so they
// are binary columns behind a small JSON header: reading 120k rows takes ~15 ms where
// JSON.parse of the same rows took ~150 ms. Rows become Offer objects only when used.
// User-written catalog files use the readable object form instead (user-file.ts).
import {BugError} from '../errors.js'
import type {Currency} from '../model/job-spec.js'
import type {Confidence, Offer, PriceStatus} from '../model/catalog.js'

export const SNAPSHOT_FORMAT = 'skyhop-offers/1'
export const BINARY_FORMAT = 'skyhop-offers-bin/1'
const MAGIC = Buffer.from('SKYOFB1\n', 'latin1')

/** What one provider's rows in a file are, where they came from and when. */
export interface ProviderMeta {
  /** Human-readable origin, e.g. `bundled snapshot: china.csv` or the API's name and host. */
  source: string
  /** Newest as-of date among the provider's rows (ISO date). */
  asOf: string
  rows: number
  origin: 'bundled' | 'refreshed'
  /** When a refresh fetched the rows (ISO timestamp); refreshed files only. */
  fetchedAt?: string
}

/**
 * One offer as a JSON row; strings are indexes into `strings`, `null` is null.
 * provider, region, zone, instanceType, accelerator, count, vcpus, memoryGiB, onDemand,
 * spot, currency, priceStatus, expectedQueueMinutes, preemptionRatePerHour, capacity,
 * noticeSeconds, source, asOf, confidence, notes
 */
export type Row = [
  number,
  number,
  number | null,
  number,
  number | null,
  number | null,
  number | null,
  number | null,
  number | null,
  number | null,
  number,
  number,
  number | null,
  number | null,
  number | null,
  number | null,
  number,
  number,
  number,
  number | null,
]

export interface SnapshotFile {
  format: typeof SNAPSHOT_FORMAT
  /** Input files (with commits) the rows were built from. */
  generatedFrom: string[]
  providers: Record<string, ProviderMeta>
  strings: string[]
  rows: Row[]
}

/** Where each field sits in a Row. String columns, then number columns. */
const STRING_COLS = [0, 1, 2, 3, 4, 10, 11, 16, 17, 18, 19] as const
const NUMBER_COLS = [5, 6, 7, 8, 9, 12, 13, 14, 15] as const

/** Index of each string field in OfferTable.ids. */
export const S = {
  provider: 0,
  region: 1,
  zone: 2,
  instanceType: 3,
  accelerator: 4,
  currency: 5,
  priceStatus: 6,
  source: 7,
  asOf: 8,
  confidence: 9,
  notes: 10,
} as const
/** Index of each number field in OfferTable.nums. */
export const N = {count: 0, vcpus: 1, memoryGiB: 2, onDemand: 3, spot: 4, queue: 5, preempt: 6, capacity: 7, notice: 8} as const

/** Offers as columns: string ids (-1 for null) and numbers (NaN for null). */
export interface OfferTable {
  n: number
  strings: readonly string[]
  ids: Int32Array[]
  nums: Float64Array[]
}

export interface OffersFile {
  generatedFrom: string[]
  providers: Record<string, ProviderMeta>
  table: OfferTable
}

function intern(): {strings: string[]; s: (v: string) => number} {
  const strings: string[] = []
  const ids = new Map<string, number>()
  return {
    strings,
    s: (v) => {
      let id = ids.get(v)
      if (id === undefined) {
        id = strings.length
        strings.push(v)
        ids.set(v, id)
      }
      return id
    },
  }
}

function toRow(o: Offer, s: (v: string) => number): Row {
  const ns = (v: string | null | undefined): number | null => (v === null || v === undefined ? null : s(v))
  const unknown = new Set(o.unknownFields ?? [])
  return [
    s(o.provider),
    s(o.region),
    ns(o.zone),
    s(o.instanceType),
    ns(o.accelerator?.name),
    o.accelerator ? o.accelerator.count : null,
    unknown.has('vcpus') ? null : o.vcpus,
    unknown.has('memoryGiB') ? null : o.memoryGiB,
    o.price.onDemand,
    o.price.spot,
    s(o.price.currency),
    s(o.priceStatus),
    o.expectedQueueMinutes,
    o.preemptionRatePerHour,
    o.capacity,
    o.noticeSeconds,
    s(o.source),
    s(o.asOf),
    s(o.confidence),
    ns(o.notes),
  ]
}

export function encodeSnapshot(offers: readonly Offer[], providers: Record<string, ProviderMeta>, generatedFrom: string[]): SnapshotFile {
  const {strings, s} = intern()
  const rows = offers.map((o) => toRow(o, s))
  return {format: SNAPSHOT_FORMAT, generatedFrom, providers, strings, rows}
}

/** JSON rows to columns. */
export function tableFromRows(strings: readonly string[], rows: readonly Row[]): OfferTable {
  const n = rows.length
  const ids = STRING_COLS.map(() => new Int32Array(n))
  const nums = NUMBER_COLS.map(() => new Float64Array(n))
  for (let i = 0; i < n; i++) {
    const r = rows[i]
    for (let c = 0; c < STRING_COLS.length; c++) ids[c][i] = r[STRING_COLS[c]] ?? -1
    for (let c = 0; c < NUMBER_COLS.length; c++) nums[c][i] = r[NUMBER_COLS[c]] ?? Number.NaN
  }
  return {n, strings, ids, nums}
}

/** Offers to the binary file form (refreshed provider files). */
export function encodeBinary(offers: readonly Offer[], providers: Record<string, ProviderMeta>, generatedFrom: string[]): Buffer {
  const {strings, s} = intern()
  const table = tableFromRows(
    strings,
    offers.map((o) => toRow(o, s)),
  )
  const header = Buffer.from(JSON.stringify({format: BINARY_FORMAT, generatedFrom, providers, strings, n: table.n}), 'utf8')
  const lenField = Buffer.alloc(4)
  lenField.writeUInt32LE(header.length)
  const pad = (len: number) => Buffer.alloc((8 - (len % 8)) % 8)
  const headPart = Buffer.concat([MAGIC, lenField, header])
  const intsPart = Buffer.concat(table.ids.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)))
  const numsPart = Buffer.concat(table.nums.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)))
  return Buffer.concat([headPart, pad(headPart.length), intsPart, pad(intsPart.length), numsPart])
}

function typed<T extends Int32Array | Float64Array>(
  Kind: {new (b: ArrayBuffer, o: number, l: number): T; BYTES_PER_ELEMENT: number},
  bytes: Buffer,
  offset: number,
  length: number,
): T {
  const start = bytes.byteOffset + offset
  if (start % Kind.BYTES_PER_ELEMENT === 0) return new Kind(bytes.buffer as ArrayBuffer, start, length)
  // A Buffer from a small-file pool may sit at any offset: copy into an aligned one.
  const copy = new ArrayBuffer(length * Kind.BYTES_PER_ELEMENT)
  new Uint8Array(copy).set(bytes.subarray(offset, offset + length * Kind.BYTES_PER_ELEMENT))
  return new Kind(copy, 0, length)
}

function decodeBinary(bytes: Buffer): OffersFile {
  if (bytes.length < MAGIC.length + 4) throw new BugError('truncated')
  const headerLen = bytes.readUInt32LE(MAGIC.length)
  const headStart = MAGIC.length + 4
  if (headStart + headerLen > bytes.length) throw new BugError('truncated header')
  const header = JSON.parse(bytes.subarray(headStart, headStart + headerLen).toString('utf8')) as {
    format: string
    generatedFrom: string[]
    providers: Record<string, ProviderMeta>
    strings: string[]
    n: number
  }
  if (header.format !== BINARY_FORMAT) throw new BugError(`unknown format ${String(header.format)}`)
  const n = header.n
  const align = (x: number) => x + ((8 - (x % 8)) % 8)
  let off = align(headStart + headerLen)
  const intsLen = STRING_COLS.length * n * 4
  const numsStart = align(off + intsLen)
  if (numsStart + NUMBER_COLS.length * n * 8 !== bytes.length) throw new BugError('size does not match its header (truncated or damaged)')
  const ids = STRING_COLS.map((_, c) => typed(Int32Array, bytes, off + c * n * 4, n))
  off = numsStart
  const nums = NUMBER_COLS.map((_, c) => typed(Float64Array, bytes, off + c * n * 8, n))
  for (const col of ids) for (let i = 0; i < n; i++) if (col[i] >= header.strings.length) throw new BugError('string index out of range')
  return {generatedFrom: header.generatedFrom, providers: header.providers, table: {n, strings: header.strings, ids, nums}}
}

/**
 * Reads either form. skyhop wrote every offers file it reads, so one that does not decode
 * is a BugError naming what is wrong; a reader of a file that may be damaged on disk (a
 * refreshed file) catches it and falls back.
 */
export function parseOffersFile(bytes: Buffer): OffersFile {
  if (bytes.subarray(0, MAGIC.length).equals(MAGIC)) return decodeBinary(bytes)
  const parsed = JSON.parse(bytes.toString('utf8')) as unknown
  if (!isSnapshotFile(parsed)) throw new BugError('not a skyhop offers file')
  return {generatedFrom: parsed.generatedFrom, providers: parsed.providers, table: tableFromRows(parsed.strings, parsed.rows)}
}

/** Row `i` of a table as an Offer. */
export function tableRow(t: OfferTable, i: number): Offer {
  const str = (c: number): string | null => {
    const id = t.ids[c][i]
    return id < 0 ? null : t.strings[id]
  }
  const num = (c: number): number | null => {
    const v = t.nums[c][i]
    return Number.isNaN(v) ? null : v
  }
  const acc = str(S.accelerator)
  const vcpus = num(N.vcpus)
  const mem = num(N.memoryGiB)
  const offer: Offer = {
    provider: str(S.provider)!,
    region: str(S.region)!,
    zone: str(S.zone),
    instanceType: str(S.instanceType)!,
    accelerator: acc === null ? null : {name: acc, count: num(N.count)!},
    vcpus: vcpus ?? 0,
    memoryGiB: mem ?? 0,
    price: {onDemand: num(N.onDemand), spot: num(N.spot), currency: str(S.currency) as Currency},
    priceStatus: str(S.priceStatus) as PriceStatus,
    expectedQueueMinutes: num(N.queue),
    preemptionRatePerHour: num(N.preempt),
    capacity: num(N.capacity),
    noticeSeconds: num(N.notice),
    source: str(S.source)!,
    asOf: str(S.asOf)!,
    confidence: str(S.confidence) as Confidence,
  }
  if (vcpus === null || mem === null) {
    offer.unknownFields = []
    if (vcpus === null) offer.unknownFields.push('vcpus')
    if (mem === null) offer.unknownFields.push('memoryGiB')
  }
  const notes = str(S.notes)
  if (notes !== null) offer.notes = notes
  return offer
}

/** Every row of a table as Offers. */
export function decodeTable(t: OfferTable): Offer[] {
  const out: Offer[] = new Array(t.n)
  for (let i = 0; i < t.n; i++) out[i] = tableRow(t, i)
  return out
}

/** JSON rows as Offers. */
export function decodeRows(strings: readonly string[], rows: readonly Row[]): Offer[] {
  return decodeTable(tableFromRows(strings, rows))
}

/** A structural check of a parsed JSON file, so a damaged file fails loudly and early. */
export function isSnapshotFile(value: unknown): value is SnapshotFile {
  if (!value || typeof value !== 'object') return false
  const v = value as Partial<SnapshotFile>
  return (
    v.format === SNAPSHOT_FORMAT &&
    Array.isArray(v.strings) &&
    Array.isArray(v.rows) &&
    typeof v.providers === 'object' &&
    v.providers !== null
  )
}
