// The on-disk form of offers that skyhop itself writes: the bundled snapshot
// (data/offers.json) and the per-provider files `catalog refresh` leaves in
// `${home}/catalog/`. Rows are arrays with their strings interned in one table, so a
// file of 100k+ rows stays a few MB and JSON.parse reads it in tens of milliseconds.
// User-written catalog files use the readable object form instead (user-file.ts).
import type {Currency} from '../spec/job-spec.js'
import type {Confidence, Offer, PriceStatus} from './types.js'

export const SNAPSHOT_FORMAT = 'skyhop-offers/1'

/** What one provider's rows in a file are, where they came from and when. */
export interface ProviderMeta {
  /** Human-readable origin, e.g. `SkyPilot catalog v8 + china.csv` or the API URL. */
  source: string
  /** Newest as-of date among the provider's rows (ISO date). */
  asOf: string
  rows: number
  origin: 'bundled' | 'refreshed'
  /** When a refresh fetched the rows (ISO timestamp); refreshed files only. */
  fetchedAt?: string
}

/**
 * Column order of a row. Strings are indexes into `strings`; `null` is null.
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

export function encodeSnapshot(offers: readonly Offer[], providers: Record<string, ProviderMeta>, generatedFrom: string[]): SnapshotFile {
  const strings: string[] = []
  const ids = new Map<string, number>()
  const s = (v: string): number => {
    let id = ids.get(v)
    if (id === undefined) {
      id = strings.length
      strings.push(v)
      ids.set(v, id)
    }
    return id
  }
  const ns = (v: string | null | undefined): number | null => (v === null || v === undefined ? null : s(v))
  const rows: Row[] = offers.map((o) => {
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
  })
  return {format: SNAPSHOT_FORMAT, generatedFrom, providers, strings, rows}
}

/** Materializes rows as Offer objects. */
export function decodeRows(strings: readonly string[], rows: readonly Row[]): Offer[] {
  const out: Offer[] = new Array(rows.length)
  for (let i = 0; i < rows.length; i++) out[i] = decodeRow(strings, rows[i])
  return out
}

export function decodeRow(strings: readonly string[], r: Row): Offer {
  const offer: Offer = {
    provider: strings[r[0]],
    region: strings[r[1]],
    zone: r[2] === null ? null : strings[r[2]],
    instanceType: strings[r[3]],
    accelerator: r[4] === null ? null : {name: strings[r[4]], count: r[5] as number},
    vcpus: r[6] ?? 0,
    memoryGiB: r[7] ?? 0,
    price: {onDemand: r[8], spot: r[9], currency: strings[r[10]] as Currency},
    priceStatus: strings[r[11]] as PriceStatus,
    expectedQueueMinutes: r[12],
    preemptionRatePerHour: r[13],
    capacity: r[14],
    noticeSeconds: r[15],
    source: strings[r[16]],
    asOf: strings[r[17]],
    confidence: strings[r[18]] as Confidence,
  }
  if (r[6] === null || r[7] === null) {
    offer.unknownFields = []
    if (r[6] === null) offer.unknownFields.push('vcpus')
    if (r[7] === null) offer.unknownFields.push('memoryGiB')
  }
  if (r[19] !== null) offer.notes = strings[r[19]]
  return offer
}

/** A structural check of a parsed file, so a damaged file fails loudly and early. */
export function isSnapshotFile(value: unknown): value is SnapshotFile {
  if (!value || typeof value !== 'object') return false
  const v = value as Partial<SnapshotFile>
  return v.format === SNAPSHOT_FORMAT && Array.isArray(v.strings) && Array.isArray(v.rows) && typeof v.providers === 'object' && v.providers !== null
}
