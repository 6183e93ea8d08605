// `skyhop import`'s conversion: a SkyPilot task or a dstack run configuration, already read
// with positions, → a skyhop job document and the list of keys that did not carry over.
// Pure: no I/O (the service reads the file and writes the result).
import {stringify} from 'yaml'

import {loadRegistry} from '../../catalog/accelerators.js'
import {type SourceDocument, locate} from '../../util/located-document.js'
import {Draft} from './common.js'
import {type Detection, detectForeign, formatName} from './detect.js'
import {importDstack} from './dstack.js'
import {importSkypilot} from './skypilot.js'
import {type ForeignFormat, type ImportedJob, ImportRefusal} from './types.js'

export {type Detection, detectForeign, formatName} from './detect.js'
export {type ForeignFormat, type ImportedJob, ImportRefusal, type UnmappedKey, type UnmappedKind} from './types.js'

/**
 * Converts a document. `from` forces the source format; otherwise it is detected, and a
 * document that looks like neither throws ImportRefusal.
 */
export function importForeign(src: SourceDocument, options: {from?: ForeignFormat} = {}): ImportedJob {
  const value = src.value as Record<string, unknown>
  let detection: Detection | null = detectForeign(value, {lenient: true})
  if (options.from) detection = {format: options.from, kind: detection?.kind ?? 'task', evidence: detection?.evidence ?? []}
  if (!detection)
    throw new ImportRefusal(
      'does not look like a SkyPilot task or a dstack run configuration (no key only they use); pass --from skypilot or --from dstack to say which it is',
    )
  const draft = new Draft((path) => locate(src, path, 'key'))
  const registry = loadRegistry()
  const kind =
    detection.format === 'skypilot' ? importSkypilot(value, src.file, registry, draft) : importDstack(value, src.file, registry, draft)
  const unmapped = [...draft.unmapped].sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0))
  return {format: detection.format, kind, job: ordered(draft.job), unmapped}
}

// The order of docs/job-file.md's example, so an imported file reads like a written one.
const ORDER = [
  'name',
  'resources',
  'nodes',
  'compat',
  'spot',
  'max_price',
  'placement',
  'envs',
  'secrets',
  'setup',
  'run',
  'recovery',
  'idle_timeout',
]

function ordered(job: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const k of ORDER) if (job[k] !== undefined) out[k] = job[k]
  for (const [k, v] of Object.entries(job)) if (!(k in out)) out[k] = v
  return out
}

/** The job file's text: where it came from, what did not carry over (as comments), then the job. */
export function renderImportedJob(imported: ImportedJob, source: string): string {
  const lines = [
    '# yaml-language-server: $schema=https://skyhop.dev/schemas/job.schema.json',
    `# Imported by \`skyhop import\` from the ${formatName(imported.format)} ${source} (${imported.kind}).`,
  ]
  if (imported.unmapped.length > 0) {
    lines.push('# Not carried over as written:')
    for (const u of imported.unmapped) lines.push(`#   ${u.path} (${u.kind}): ${u.reason}`.replace(/\n/g, ' '))
  }
  return `${lines.join('\n')}\n${stringify(imported.job, {lineWidth: 0})}`
}
