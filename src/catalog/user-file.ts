// Reads a user's catalog file (YAML or JSON `{offers: [...]}`): negotiated prices,
// private clusters, on-prem NPU pools. Validated against schemas/catalog.schema.json;
// every problem is reported at FILE:LINE:COL with the field path, and accelerator names
// must resolve in the registry (with a "did you mean"). Uses the file reader and
// schema-error mapper the job-file loader uses, so both kinds of file fail alike.
// A JSON file of a MiB or more (inventories of 100k+ offers are generated, and JSON) takes a
// fast path: JSON.parse and one schema check of the whole value; only a file with a problem
// is read again through the located reader, so its errors still name FILE:LINE:COL.
import {readFileSync, statSync} from 'node:fs'
import {resolve as resolvePath} from 'node:path'
import {LineCounter, parseDocument} from 'yaml'

import {type FileIssue, InvalidFileError} from '../errors.js'
import type {Currency} from '../model/job-spec.js'
import {compiledSchema} from '../util/schemas.js'
import {locate, pointer, schemaIssues, type SourceDocument, sortIssues} from '../util/located-document.js'
import type {AcceleratorRegistry} from './accelerators.js'
import type {Confidence, Interconnect, Offer, PriceStatus} from '../model/catalog.js'
import {interconnectOf} from './interconnect.js'

export const CATALOG_FILE_INVALID = 'CATALOG_FILE_INVALID'

/** A YAML file is parsed into a located document: large enough for thousands of offers. */
export const MAX_CATALOG_FILE_BYTES = 64 * 1024 * 1024
/** A JSON file takes the fast path; V8 holds strings up to about 512 MiB. */
export const MAX_JSON_CATALOG_FILE_BYTES = 500 * 1024 * 1024
/** JSON files from this size are read with JSON.parse and one schema check. */
const FAST_PATH_BYTES = 1024 * 1024

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
  interconnect?: {kind: Interconnect['kind']; gbps?: number | null; source?: string} | null
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

/** The file's text, checked for what makes it unreadable; JSON may be larger than YAML. */
function readText(file: string): {text: string; modified: string; json: boolean} {
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
  const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`
  if (st.size > MAX_JSON_CATALOG_FILE_BYTES)
    fail(file, `file is ${mib(st.size)}; catalog files must be under ${mib(MAX_JSON_CATALOG_FILE_BYTES)}`)
  const bytes = readFileSync(file)
  const json = looksLikeJson(bytes)
  if (st.size > MAX_CATALOG_FILE_BYTES && !json) {
    fail(file, `file is ${mib(st.size)}; a YAML catalog file must be under 64 MiB (write a larger catalog as JSON)`)
  }
  if (bytes.includes(0)) fail(file, 'looks like a binary file (contains NUL bytes), not YAML or JSON')
  let text: string
  try {
    text = new TextDecoder('utf-8', {fatal: true}).decode(bytes)
  } catch {
    return fail(file, 'is not valid UTF-8 text')
  }
  if (text.trim() === '') fail(file, 'file is empty; a catalog file needs `offers: [...]`')
  return {text, modified: st.mtime.toISOString().slice(0, 10), json}
}

/** Whether the first non-blank byte opens a JSON object. */
function looksLikeJson(bytes: Buffer): boolean {
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]
    if (b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09) continue
    if (b === 0xef && bytes[i + 1] === 0xbb && bytes[i + 2] === 0xbf) {
      i += 2
      continue
    }
    return b === 0x7b
  }
  return false
}

function readSource(file: string, text: string, modified: string): {src: SourceDocument; modified: string} {
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
  return {src: {file, doc, lines, value}, modified}
}

/** Reads, validates and normalizes a catalog file; throws InvalidFileError listing every problem. */
export function readCatalogFile(path: string, registry: AcceleratorRegistry): UserCatalog {
  const file = path
  const {text, modified, json} = readText(file)
  const source = `file:${resolvePath(file)}`
  const validate = compiledSchema('catalog.schema.json')
  // Below FAST_PATH_BYTES the located reader is quick anyway, and it also refuses a key given
  // twice in one object, which JSON.parse lets pass (the last one wins).
  if (json && text.length >= FAST_PATH_BYTES) {
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      // Reported with its line and column by the located reader below.
    }
    if (value !== undefined && validate(value)) {
      const {offers, problems} = normalize((value as {offers: RawOffer[]}).offers, registry, source, modified)
      if (problems.length === 0) return {file, offers, modified}
    }
  }
  // YAML, or JSON with a problem: the located reader says where each problem is.
  const {src} = readSource(file, text, modified)
  const issues = schemaIssues(src, validate)
  if (issues.length > 0) throw new InvalidFileError(issues, {code: CATALOG_FILE_INVALID})
  const {offers, problems} = normalize((src.value as {offers: RawOffer[]}).offers, registry, source, modified)
  for (const p of problems)
    issues.push({
      file,
      ...locate(src, p.path),
      path: pointer(p.path),
      message: p.message,
      ...(p.suggestion ? {suggestion: p.suggestion} : {}),
    })
  if (issues.length > 0) throw new InvalidFileError(sortIssues(issues), {code: CATALOG_FILE_INVALID})
  return {file, offers, modified}
}

interface Problem {
  path: Array<string | number>
  message: string
  suggestion?: string
}

/** Schema-valid raw offers to Offers, with what the schema cannot check: accelerator names and duplicates. */
function normalize(
  raw: RawOffer[],
  registry: AcceleratorRegistry,
  source: string,
  modified: string,
): {offers: Offer[]; problems: Problem[]} {
  const offers: Offer[] = []
  const problems: Problem[] = []
  const seen = new Map<string, number>()
  // A large inventory names a few dozen accelerators a hundred thousand times.
  const resolved = new Map<string, ReturnType<AcceleratorRegistry['resolve']>>()
  raw.forEach((r, i) => {
    let accelerator: Offer['accelerator'] = null
    if (r.accelerator) {
      let acc = resolved.get(r.accelerator.name)
      if (acc === undefined && !resolved.has(r.accelerator.name))
        resolved.set(r.accelerator.name, (acc = registry.resolve(r.accelerator.name)))
      if (!acc) {
        const suggestion = registry.suggest(r.accelerator.name)
        problems.push({
          path: ['offers', i, 'accelerator', 'name'],
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
      problems.push({path: ['offers', i], message: `same provider, region, zone, instance type and accelerator as /offers/${prior}`})
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
    // The file's own word wins; `null` says "not known", so the table's row is not applied either.
    if (r.interconnect !== undefined && r.interconnect !== null)
      offer.interconnect = {kind: r.interconnect.kind, gbps: r.interconnect.gbps ?? null, source: r.interconnect.source ?? offer.source}
    else if (r.interconnect === undefined) {
      const fabric = interconnectOf(offer.provider, offer.instanceType)
      if (fabric !== undefined) offer.interconnect = fabric
    }
    offers.push(offer)
  })
  return {offers, problems}
}
