// Reads a user's catalog file (YAML or JSON `{offers: [...]}`): negotiated prices,
// private clusters, on-prem NPU pools. Validated against schemas/catalog.schema.json;
// every problem is reported at FILE:LINE:COL with the field path, and accelerator names
// must resolve in the registry (with a "did you mean"). Uses the file reader and
// schema-error mapper the job-file loader uses, so both kinds of file fail alike.
import {readFileSync, statSync} from 'node:fs'
import {resolve as resolvePath} from 'node:path'
import {LineCounter, parseDocument} from 'yaml'

import {type FileIssue, InvalidFileError} from '../errors.js'
import type {Currency} from '../model/job-spec.js'
import {compiledSchema} from '../util/schemas.js'
import {locate, pointer, schemaIssues, type SourceDocument, sortIssues} from '../util/located-document.js'
import type {AcceleratorRegistry} from './accelerators.js'
import type {Confidence, Offer, PriceStatus} from '../model/catalog.js'

export const CATALOG_FILE_INVALID = 'CATALOG_FILE_INVALID'

/** Large enough for an inventory of many thousands of offers, small enough to refuse a dataset. */
export const MAX_CATALOG_FILE_BYTES = 64 * 1024 * 1024

interface RawOffer {
  provider: string
  region: string
  zone?: string | null
  instanceType: string
  accelerator?: {name: string; count: number} | null
  vcpus: number
  memoryGiB: number
  price: {onDemand: number | null; spot?: number | null; currency: Currency}
  priceStatus?: PriceStatus
  expectedQueueMinutes?: number | null
  preemptionRatePerHour?: number | null
  capacity?: number | null
  noticeSeconds?: number | null
  source?: string
  asOf?: string
  confidence?: Confidence
  unknownFields?: Array<'vcpus' | 'memoryGiB'>
  notes?: string
}

export interface UserCatalog {
  file: string
  offers: Offer[]
  /** The file's modification date, the default as-of date of its offers. */
  modified: string
}

function fail(file: string, message: string, extra: Partial<FileIssue> = {}): never {
  throw new InvalidFileError([{file, path: '', message, ...extra}], {code: CATALOG_FILE_INVALID})
}

function readSource(file: string): {src: SourceDocument; modified: string} {
  let st
  try {
    st = statSync(file)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    return fail(
      file,
      code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : `cannot read (${code ?? 'unknown error'})`,
    )
  }
  if (st.isDirectory()) fail(file, 'is a directory, not a catalog file')
  if (st.size > MAX_CATALOG_FILE_BYTES) fail(file, `file is ${(st.size / 1024 / 1024).toFixed(1)} MiB; catalog files must be under 64 MiB`)
  const bytes = readFileSync(file)
  if (bytes.includes(0)) fail(file, 'looks like a binary file (contains NUL bytes), not YAML or JSON')
  let text: string
  try {
    text = new TextDecoder('utf-8', {fatal: true}).decode(bytes)
  } catch {
    return fail(file, 'is not valid UTF-8 text')
  }
  if (text.trim() === '') fail(file, 'file is empty; a catalog file needs `offers: [...]`')
  const lines = new LineCounter()
  const doc = parseDocument(text, {lineCounter: lines, uniqueKeys: true, prettyErrors: true})
  if (doc.errors.length > 0) {
    const issues: FileIssue[] = doc.errors.map((e) => {
      const pos = e.linePos?.[0]
      const message = e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')
      return {file, line: pos?.line, column: pos?.col, path: '', message: `YAML syntax error: ${message}`}
    })
    throw new InvalidFileError(issues, {code: CATALOG_FILE_INVALID})
  }
  const value = doc.toJS({maxAliasCount: 1000}) as unknown
  return {src: {file, doc, lines, value}, modified: st.mtime.toISOString().slice(0, 10)}
}

/** Reads, validates and normalizes a catalog file; throws InvalidFileError listing every problem. */
export function readCatalogFile(path: string, registry: AcceleratorRegistry): UserCatalog {
  const file = path
  const {src, modified} = readSource(file)
  const issues = schemaIssues(src, compiledSchema('catalog.schema.json'))
  if (issues.length > 0) throw new InvalidFileError(issues, {code: CATALOG_FILE_INVALID})

  const raw = (src.value as {offers: RawOffer[]}).offers
  const source = `file:${resolvePath(file)}`
  const offers: Offer[] = []
  const seen = new Map<string, number>()
  raw.forEach((r, i) => {
    let accelerator: Offer['accelerator'] = null
    if (r.accelerator) {
      const acc = registry.resolve(r.accelerator.name)
      if (!acc) {
        const path = ['offers', i, 'accelerator', 'name']
        const suggestion = registry.suggest(r.accelerator.name)
        issues.push({
          file,
          ...locate(src, path),
          path: pointer(path),
          message: `unknown accelerator "${r.accelerator.name}"; see \`skyhop accelerators\` for the list`,
          ...(suggestion ? {suggestion} : {}),
        })
        return
      }
      accelerator = {name: acc.name, count: r.accelerator.count}
    }
    const key = [r.provider, r.region, r.zone ?? '', r.instanceType, accelerator?.name ?? '', accelerator?.count ?? 0].join('|')
    const prior = seen.get(key)
    if (prior !== undefined) {
      const path = ['offers', i]
      issues.push({
        file,
        ...locate(src, path),
        path: pointer(path),
        message: `same provider, region, zone, instance type and accelerator as /offers/${prior}`,
      })
      return
    }
    seen.set(key, i)
    const spot = r.price.spot ?? null
    const offer: Offer = {
      provider: r.provider,
      region: r.region,
      zone: r.zone ?? null,
      instanceType: r.instanceType,
      accelerator,
      vcpus: r.vcpus,
      memoryGiB: r.memoryGiB,
      price: {onDemand: r.price.onDemand, spot, currency: r.price.currency},
      priceStatus: r.priceStatus ?? (r.price.onDemand === null && spot === null ? 'unknown' : 'list'),
      expectedQueueMinutes: r.expectedQueueMinutes ?? null,
      preemptionRatePerHour: r.preemptionRatePerHour ?? null,
      capacity: r.capacity ?? null,
      noticeSeconds: r.noticeSeconds ?? null,
      source: r.source ?? source,
      asOf: r.asOf ?? modified,
      confidence: r.confidence ?? 'high',
    }
    if (r.unknownFields && r.unknownFields.length > 0) offer.unknownFields = [...r.unknownFields]
    if (r.notes !== undefined) offer.notes = r.notes
    offers.push(offer)
  })
  if (issues.length > 0) throw new InvalidFileError(sortIssues(issues), {code: CATALOG_FILE_INVALID})
  return {file, offers, modified}
}
