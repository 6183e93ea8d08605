// The on-disk forms of offers that skyhop itself writes, and the column table both are
// read into. The bundled snapshot (data/offers.json) is JSON, one interned-string row per
// line so a diff shows the rows that changed. Refreshed provider files
// (`${home}/catalog/<provider>.offers.bin`) can hold 100k+ rows (AWS per zone), so they
// are binary columns behind a small JSON header: reading 120k rows takes ~15 ms where
// JSON.parse of the same rows took ~150 ms. Rows become Offer objects only when used, and
// the strings of a binary file (one instance type per row, often) become JS strings only
// when a row using them is decoded: a million rows cost one Buffer, not a million strings.
// User-written catalog files use the readable object form instead (user-file.ts).
import {closeSync, fstatSync, openSync, readSync} from 'node:fs'

import {BugError} from '../errors.js'
import type {Currency} from '../model/job-spec.js'
import type {Confidence, Offer, PriceStatus} from '../model/catalog.js'
import {interconnectOf} from './interconnect.js'

export const SNAPSHOT_FORMAT = 'skyhop-offers/1'
export const BINARY_FORMAT = 'skyhop-offers-bin/2'
/** Files written before strings moved out of the header; still read. */
const BINARY_FORMAT_V1 = 'skyhop-offers-bin/1'
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

/** The interned strings of a table, by id. */
export interface StringTable {
  readonly length: number
  at(id: number): string
}

/** Offers as columns: string ids (-1 for null) and numbers (NaN for null). */
export interface OfferTable {
  n: number
  strings: StringTable
  ids: Int32Array[]
  nums: Float64Array[]
}

function arrayStrings(values: readonly string[]): StringTable {
  return {length: values.length, at: (id) => values[id]}
}

/** Strings stored as UTF-8 bytes with offsets, turned into JS strings on first use. */
function blobStrings(offsets: Int32Array, bytes: Buffer): StringTable {
  const decoded: Array<string | undefined> = new Array(offsets.length - 1)
  return {
    length: offsets.length - 1,
    at(id) {
      let v = decoded[id]
      if (v === undefined) decoded[id] = v = bytes.toString('utf8', offsets[id], offsets[id + 1])
      return v
    },
  }
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
  return columnsFromRows(arrayStrings(strings), rows)
}

function columnsFromRows(strings: StringTable, rows: readonly Row[]): OfferTable {
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

/**
 * Offers to the binary file form (refreshed provider files, user catalog indexes): MAGIC,
 * header length, JSON header, then 8-byte aligned sections: string offsets (Int32, count +
 * 1), string bytes (UTF-8), the id columns (Int32) and the number columns (Float64). Rows
 * are stored grouped by provider and accelerator (groups in order of first appearance, rows
 * in their given order within a group), and the header lists the groups' row ranges, so a
 * reader can count a million rows and read just the groups a plan needs (openOffersFile).
 */
export function encodeBinary(offers: readonly Offer[], providers: Record<string, ProviderMeta>, generatedFrom: string[]): Buffer {
  const {strings, s} = intern()
  const groups = new Map<string, Row[]>()
  for (const o of offers) {
    const row = toRow(o, s)
    const key = `${row[0]} ${row[4] ?? -1}`
    const list = groups.get(key)
    if (list) list.push(row)
    else groups.set(key, [row])
  }
  const rows: Row[] = []
  const runs: Array<[number, number, number, number]> = []
  for (const list of groups.values()) {
    runs.push([list[0][0], list[0][4] ?? -1, rows.length, list.length])
    for (const row of list) rows.push(row)
  }
  const table = tableFromRows(strings, rows)
  const encoded = strings.map((v) => Buffer.from(v, 'utf8'))
  const offsets = new Int32Array(strings.length + 1)
  for (let i = 0; i < encoded.length; i++) offsets[i + 1] = offsets[i] + encoded[i].length
  const head = {
    format: BINARY_FORMAT,
    generatedFrom,
    providers,
    n: table.n,
    stringCount: strings.length,
    stringBytes: offsets[strings.length],
    runs,
  }
  const header = Buffer.from(JSON.stringify(head), 'utf8')
  const lenField = Buffer.alloc(4)
  lenField.writeUInt32LE(header.length)
  const parts: Buffer[] = []
  const section = (b: Buffer) => parts.push(b, Buffer.alloc((8 - (b.length % 8)) % 8))
  const bytesOf = (a: Int32Array | Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)
  section(Buffer.concat([MAGIC, lenField, header]))
  section(bytesOf(offsets))
  section(Buffer.concat(encoded))
  section(Buffer.concat(table.ids.map(bytesOf)))
  parts.push(Buffer.concat(table.nums.map(bytesOf)))
  return Buffer.concat(parts)
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

interface BinaryHeader {
  format: string
  generatedFrom: string[]
  providers: Record<string, ProviderMeta>
  n: number
  /** Format 2: the string table follows the header. */
  stringCount?: number
  stringBytes?: number
  /** Format 2: [provider id, accelerator id (-1 = none), first row, rows] per group. */
  runs?: Array<[number, number, number, number]>
  /** Format 1: the strings sit in the header. */
  strings?: string[]
}

function decodeBinary(bytes: Buffer): OffersFile {
  if (bytes.length < MAGIC.length + 4) throw new BugError('truncated')
  const reader = binaryReader(bytes.length, (position, length) => bytes.subarray(position, position + length))
  if (reader) return {generatedFrom: reader.generatedFrom, providers: reader.providers, table: reader.read(0, reader.n)}
  // Format 1: the strings in the header, then the columns.
  const headerLen = bytes.readUInt32LE(MAGIC.length)
  const headStart = MAGIC.length + 4
  if (headStart + headerLen > bytes.length) throw new BugError('truncated header')
  const header = JSON.parse(bytes.subarray(headStart, headStart + headerLen).toString('utf8')) as BinaryHeader
  if (header.format !== BINARY_FORMAT_V1 || !Array.isArray(header.strings)) throw new BugError(`unknown format ${String(header.format)}`)
  const strings = arrayStrings(header.strings)
  const n = header.n
  const idsAt = align8(headStart + headerLen)
  const numsAt = align8(idsAt + STRING_COLS.length * n * 4)
  if (numsAt + NUMBER_COLS.length * n * 8 !== bytes.length) throw new BugError('size does not match its header (truncated or damaged)')
  const ids = STRING_COLS.map((_, c) => typed(Int32Array, bytes, idsAt + c * n * 4, n))
  const nums = NUMBER_COLS.map((_, c) => typed(Float64Array, bytes, numsAt + c * n * 8, n))
  for (const col of ids) if (!inRange(col, strings.length)) throw new BugError('string index out of range')
  return {generatedFrom: header.generatedFrom, providers: header.providers, table: {n, strings, ids, nums}}
}

/** A group of rows in a binary file: one provider, one accelerator (null = CPU-only). */
export interface RowRun {
  provider: string
  accelerator: string | null
  start: number
  count: number
}

/** A binary offers file opened for reading by group, without reading its columns. */
export interface OffersFileReader {
  generatedFrom: string[]
  providers: Record<string, ProviderMeta>
  n: number
  runs: readonly RowRun[]
  strings: StringTable
  /** Rows [start, start + count) as a table, read from the file. */
  read(start: number, count: number): OfferTable
  /** One string column (S) of rows [start, start + count), read alone. */
  ids(column: number, start: number, count: number): Int32Array
}

const align8 = (x: number) => x + ((8 - (x % 8)) % 8)

function readAt(fd: number, position: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length)
  let got = 0
  while (got < length) {
    const k = readSync(fd, out, got, length - got, position + got)
    if (k === 0) throw new BugError('truncated')
    got += k
  }
  return out
}

/**
 * Opens a format-2 binary offers file for reading by group: reads the header and the string
 * table (small), checks the sizes add up, and reads a group's rows only when asked. Returns
 * null for any other form (JSON, format 1), which the caller reads whole. Throws BugError
 * for a damaged file, naming what is wrong.
 */
export function openOffersFile(path: string): OffersFileReader | null {
  const fd = openSync(path, 'r')
  let reader: OffersFileReader | null = null
  try {
    reader = binaryReader(fstatSync(fd).size, (position, length) => readAt(fd, position, length))
    return reader
  } finally {
    // The descriptor stays open for the life of the process, which reads groups as a plan asks.
    if (reader === null) closeSync(fd)
  }
}

/**
 * A format-2 file of `size` bytes read through `readAt` (a file descriptor, or a Buffer in
 * memory): the header and string table at once, rows when asked. Null for any other form.
 */
function binaryReader(size: number, readAt: (position: number, length: number) => Buffer): OffersFileReader | null {
  if (size < MAGIC.length + 4) return null
  const start = readAt(0, MAGIC.length + 4)
  if (!start.subarray(0, MAGIC.length).equals(MAGIC)) return null
  const headerLen = start.readUInt32LE(MAGIC.length)
  const headStart = MAGIC.length + 4
  if (headStart + headerLen > size) throw new BugError('truncated header')
  const header = JSON.parse(readAt(headStart, headerLen).toString('utf8')) as BinaryHeader
  if (header.format !== BINARY_FORMAT) return null
  const n = header.n
  const count = header.stringCount ?? -1
  const bytes = header.stringBytes ?? -1
  const runs = header.runs
  if (!(Number.isInteger(n) && n >= 0 && count >= 0 && bytes >= 0 && Array.isArray(runs))) throw new BugError('damaged header')
  const offsetsAt = align8(headStart + headerLen)
  const blobAt = align8(offsetsAt + (count + 1) * 4)
  const idsAt = align8(blobAt + bytes)
  const numsAt = align8(idsAt + STRING_COLS.length * n * 4)
  if (numsAt + NUMBER_COLS.length * n * 8 !== size) throw new BugError('size does not match its header (truncated or damaged)')
  const offsets = typed(Int32Array, readAt(offsetsAt, (count + 1) * 4), 0, count + 1)
  const blob = readAt(blobAt, bytes)
  for (let i = 0; i < count; i++) if (!(offsets[i] <= offsets[i + 1] && offsets[i + 1] <= bytes)) throw new BugError('damaged string table')
  const strings = blobStrings(offsets, blob)
  let covered = 0
  const named: RowRun[] = runs.map(([p, a, first, rows]) => {
    if (!(p >= 0 && p < count && a >= -1 && a < count && first === covered && rows > 0)) throw new BugError('damaged group list')
    covered += rows
    return {provider: strings.at(p), accelerator: a < 0 ? null : strings.at(a), start: first, count: rows}
  })
  if (covered !== n) throw new BugError('damaged group list')
  const idColumn = (c: number, first: number, rows: number): Int32Array => {
    const col = typed(Int32Array, readAt(idsAt + (c * n + first) * 4, rows * 4), 0, rows)
    if (!inRange(col, count)) throw new BugError(`string index out of range in rows ${first}–${first + rows - 1}`)
    return col
  }
  return {
    generatedFrom: header.generatedFrom,
    providers: header.providers,
    n,
    runs: named,
    strings,
    read(first, rows) {
      const ids = STRING_COLS.map((_, c) => idColumn(c, first, rows))
      const nums = NUMBER_COLS.map((_, c) => typed(Float64Array, readAt(numsAt + (c * n + first) * 8, rows * 8), 0, rows))
      return {n: rows, strings, ids, nums}
    },
    ids: idColumn,
  }
}

/** Every id in the column is -1 (null) or a string's. */
function inRange(col: Int32Array, limit: number): boolean {
  let ok = true
  for (let i = 0; i < col.length; i++) ok = ok && col[i] >= -1 && col[i] < limit
  return ok
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

function str(t: OfferTable, c: number, i: number): string | null {
  const id = t.ids[c][i]
  return id < 0 ? null : t.strings.at(id)
}

function num(t: OfferTable, c: number, i: number): number | null {
  const v = t.nums[c][i]
  return v !== v ? null : v // NaN stands for null
}

/** Row `i` of a table as an Offer. Plain functions, no closures: a plan decodes tens of thousands of rows. */
export function tableRow(t: OfferTable, i: number): Offer {
  const acc = str(t, S.accelerator, i)
  const vcpus = num(t, N.vcpus, i)
  const mem = num(t, N.memoryGiB, i)
  const offer: Offer = {
    provider: str(t, S.provider, i)!,
    region: str(t, S.region, i)!,
    zone: str(t, S.zone, i),
    instanceType: str(t, S.instanceType, i)!,
    accelerator: acc === null ? null : {name: acc, count: num(t, N.count, i)!},
    vcpus: vcpus ?? 0,
    memoryGiB: mem ?? 0,
    price: {onDemand: num(t, N.onDemand, i), spot: num(t, N.spot, i), currency: str(t, S.currency, i) as Currency},
    priceStatus: str(t, S.priceStatus, i) as PriceStatus,
    expectedQueueMinutes: num(t, N.queue, i),
    preemptionRatePerHour: num(t, N.preempt, i),
    capacity: num(t, N.capacity, i),
    noticeSeconds: num(t, N.notice, i),
    source: str(t, S.source, i)!,
    asOf: str(t, S.asOf, i)!,
    confidence: str(t, S.confidence, i) as Confidence,
  }
  if (vcpus === null || mem === null) {
    offer.unknownFields = []
    if (vcpus === null) offer.unknownFields.push('vcpus')
    if (mem === null) offer.unknownFields.push('memoryGiB')
  }
  const notes = str(t, S.notes, i)
  if (notes !== null) offer.notes = notes
  // Not a column: the fabric is a property of the instance type, looked up for every file alike.
  const fabric = interconnectOf(offer.provider, offer.instanceType)
  if (fabric !== undefined) offer.interconnect = fabric
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
