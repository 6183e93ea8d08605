// Reads the collected source data in data/sources (data/sources/SOURCES.md says where each
// file came from) and builds the registry and the offer snapshot from it, in memory. scripts/build-catalog.ts writes the result into
// data/; the tests call the same function to check the committed files are current.
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import {createRegistry, type RegistryFile} from '../accelerators.js'
import {BugError} from '../../errors.js'
import {encodeSnapshot, type ProviderMeta, type SnapshotFile} from '../snapshot.js'
import type {Offer} from '../../model/catalog.js'
import {parseCsvRecords} from './csv.js'
import {INTERCONNECT_SOURCE} from '../interconnect.js'
import {buildOffers, type SkippedRow, type SkypilotFile, skypilotSource} from './offers.js'
import {buildRegistry, type MemoryObservation} from './registry.js'

/** The SkyPilot files we read, and which provider each one prices. */
const SKYPILOT_FILES: Array<{path: string; local: string; provider: string; extract: boolean}> = [
  {path: 'catalogs/v8/aws/vms.csv', local: 'catalogs/v8/aws/vms.p3-extract.csv', provider: 'aws', extract: true},
  {path: 'catalogs/v6/azure/vms.csv', local: 'catalogs/v6/azure/vms.head.csv', provider: 'azure', extract: true},
  {path: 'catalogs/v8/lambda/vms.csv', local: 'catalogs/v8/lambda/vms.csv', provider: 'lambda', extract: false},
  {path: 'catalogs/v8/nebius/vms.csv', local: 'catalogs/v8/nebius/vms.csv', provider: 'nebius', extract: false},
  {path: 'catalogs/v8/runpod/vms.csv', local: 'catalogs/v8/runpod/vms.head.csv', provider: 'runpod', extract: true},
  {path: 'catalogs/v8/oci/vms.csv', local: 'catalogs/v8/oci/vms.head.csv', provider: 'oci', extract: true},
]

// The GCP extract (v8/gcp/vms.head.csv) holds only a2 host-VM rows, without the GPU rows
// that complete their price; GCP offers come from western.csv's VM+GPU totals instead.
const NOT_USED = ['catalogs/v8/gcp/vms.csv (extract holds host-VM rows only; GCP totals come from western.csv)']

// GpuInfo memory is read only from catalogs where SizeInMiB means MiB (RunPod's holds GB).
const GPUINFO_MEMORY_FROM = new Set(['lambda', 'nebius', 'aws', 'oci'])

export interface BuiltCatalog {
  registry: RegistryFile
  snapshot: SnapshotFile
  offers: Offer[]
  skipped: SkippedRow[]
}

/** Commit ids of the files read, from the table in CATALOG_NOTES.md. */
export function commitsFromNotes(notes: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const m of notes.matchAll(/\|\s*(catalogs\/[^\s|]+)[^|]*\|\s*([0-9a-f]{40})\s*\|/g)) out.set(m[1], m[2])
  return out
}

/** The stored crawl is no older than the newest CreationDate CATALOG_NOTES.md reports. */
export function skypilotAsOfFromNotes(notes: string): string {
  const m = /CreationDate (\d{4})(\d{2})(\d{2})/.exec(notes)
  if (!m) throw new BugError('CATALOG_NOTES.md: no CreationDate to date the SkyPilot data by')
  return `${m[1]}-${m[2]}-${m[3]}`
}

// china.csv records no publication dates, so its rows are dated by the day they were
// imported into skyhop. The day is written here, not read from the file's mtime: a
// checkout gives the file a new one, and a build must make the same snapshot from the
// same data on any day.
export const CHINA_CSV_AS_OF = '2026-11-27'

export function buildFromSources(sourcesDir: string): BuiltCatalog {
  const read = (p: string) => readFileSync(join(sourcesDir, p), 'utf8')
  const notes = read('skypilot-catalog/CATALOG_NOTES.md')
  const commits = commitsFromNotes(notes)
  const commit = (path: string) => {
    const c = commits.get(path)
    if (!c) throw new BugError(`CATALOG_NOTES.md lists no commit for ${path}`)
    return c
  }
  const skypilotAsOf = skypilotAsOfFromNotes(notes)
  const chinaAsOf = CHINA_CSV_AS_OF

  const specRows = parseCsvRecords(read('accelerators.csv'))
  const commonPath = 'catalogs/v8/common/accelerators.csv'
  const skypilotNames = parseCsvRecords(read(`skypilot-catalog/${commonPath}`)).map((r) => r.AcceleratorName)
  const skypilot: SkypilotFile[] = SKYPILOT_FILES.map((f) => ({
    path: f.path,
    commit: commit(f.path),
    provider: f.provider,
    extract: f.extract,
    rows: parseCsvRecords(read(`skypilot-catalog/${f.local}`)),
  }))

  // First pass: names only, to find which entry each GpuInfo belongs to.
  const bare = createRegistry(buildRegistry({specRows, skypilotNames, observedMemory: new Map()}))
  const observedMemory = new Map<string, MemoryObservation>()
  for (const f of skypilot) {
    if (!GPUINFO_MEMORY_FROM.has(f.provider)) continue
    for (const r of f.rows) {
      const mib = /'SizeInMiB':\s*(\d+)/.exec(r.GpuInfo ?? '')
      if (!mib || !r.AcceleratorName) continue
      const name = f.provider === 'lambda' && /h100_pcie/i.test(r.InstanceType) ? 'H100-PCIE' : r.AcceleratorName
      const acc = bare.resolve(name)
      if (!acc || observedMemory.has(acc.name)) continue
      observedMemory.set(acc.name, {gb: Math.round((Number(mib[1]) / 1024) * 10) / 10, source: `${skypilotSource(f)} GpuInfo`})
    }
  }
  const accelerators = buildRegistry({specRows, skypilotNames, observedMemory})
  const registry = createRegistry(accelerators)
  const missing = skypilotNames.filter((n) => !registry.resolve(n))
  if (missing.length > 0) throw new BugError(`registry: SkyPilot accelerator names without an entry: ${missing.join(', ')}`)

  const {offers, skipped} = buildOffers({
    registry,
    western: parseCsvRecords(read('western.csv')),
    china: parseCsvRecords(read('china.csv')),
    skypilot,
    skypilotAsOf,
    chinaAsOf,
  })

  // Files of the project (data/sources), each with the public origin of its figures.
  const generatedFrom = [
    "data/sources/accelerators.csv (vendors' datasheets, HAMi device config, press; a source per figure)",
    `${skypilotSource({path: commonPath, commit: commit(commonPath)})}`,
    ...skypilot.map((f) => `${skypilotSource(f)}${f.extract ? ' (extract)' : ''}`),
    'data/sources/western.csv (SkyPilot catalog rows; file and commit per row)',
    'data/sources/china.csv (Tencent Cloud billing docs, Alibaba Cloud and Huawei Cloud product docs; a source per row)',
    INTERCONNECT_SOURCE,
    ...NOT_USED.map((n) => `not used: ${n}`),
  ]
  const providers: Record<string, ProviderMeta> = {}
  for (const o of offers) {
    const p = (providers[o.provider] ??= {source: '', asOf: o.asOf, rows: 0, origin: 'bundled'})
    p.rows++
    if (o.asOf > p.asOf) p.asOf = o.asOf
  }
  for (const [id, meta] of Object.entries(providers)) {
    const files = new Set(offers.filter((o) => o.provider === id).map((o) => describeSource(o.source)))
    meta.source = `bundled snapshot: ${[...files].sort().join(' + ')}`
  }
  return {
    registry: {format: 'skyhop-accelerators/1', generatedFrom: generatedFrom.slice(0, 2), accelerators},
    snapshot: encodeSnapshot(offers, providers, generatedFrom),
    offers,
    skipped,
  }
}

function describeSource(source: string): string {
  if (source.startsWith('china.csv')) return 'china.csv'
  if (source.endsWith('via western.csv')) return 'western.csv'
  const m = /skypilot-catalog:catalogs\/(v\d+\/[^@]+)@/.exec(source)
  return m ? `SkyPilot ${m[1]}` : source
}

/** JSON with one offer row per line, so a diff of the snapshot shows the rows that changed. */
export function serializeSnapshot(file: SnapshotFile): string {
  const {rows, ...head} = file
  const headJson = JSON.stringify(head, null, 1)
  return `${headJson.slice(0, -2)},\n"rows": [\n${rows.map((r) => JSON.stringify(r)).join(',\n')}\n]}\n`
}

export function serializeRegistry(file: RegistryFile): string {
  return JSON.stringify(file, null, 2) + '\n'
}
