// The `import` service: reads a SkyPilot task or a dstack run configuration, converts it
// (src/job/import), checks the result through the same loader `launch` uses, and returns
// it — written to `output` when asked, never over an existing file unless `force`.
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {InvalidFileError, UsageError} from '../errors.js'
import {type ForeignFormat, ImportRefusal, type UnmappedKey, importForeign, renderImportedJob} from '../job/import/index.js'
import {loadJobFile} from '../job/load.js'
import {readDocument} from '../util/located-document.js'
import {writeAtomic} from '../util/write-atomic.js'

export type {ForeignFormat} from '../job/import/index.js'

export interface ImportOptions {
  file: string
  /** Write the job file here; otherwise it is only returned (the command prints it). */
  output?: string
  force?: boolean
  from?: ForeignFormat
  now?: Date
}

export interface ImportResult {
  source: {file: string; format: ForeignFormat; kind: string}
  /** The file written, or null when the job was only printed. */
  output: string | null
  name: string
  /** The job file's text (YAML), comments included. */
  content: string
  /** The job as data. */
  job: Record<string, unknown>
  /** Every key of the source that did not carry over as written, with why. */
  unmapped: UnmappedKey[]
}

export function importJobFile(options: ImportOptions): ImportResult {
  let src
  try {
    src = readDocument(options.file, 'IMPORT_SOURCE_INVALID')
  } catch (error) {
    // A SkyPilot pipeline is several tasks in one file, one YAML document each.
    if (error instanceof InvalidFileError && error.issues.some((i) => i.message.includes('several YAML documents')))
      throw new InvalidFileError(error.issues, {
        code: 'IMPORT_UNSUPPORTED',
        hint: 'A SkyPilot pipeline (tasks separated by ---) is not imported whole: put each task in a file of its own and import it.',
      })
    throw error
  }
  let imported
  try {
    imported = importForeign(src, {from: options.from})
  } catch (error) {
    if (!(error instanceof ImportRefusal)) throw error
    throw new InvalidFileError([{file: options.file, path: error.path, message: error.message}], {code: 'IMPORT_UNSUPPORTED'})
  }
  const content = renderImportedJob(imported, options.file)
  checkLoads(content, options)
  if (options.output) write(options.output, content, options.force ?? false)
  return {
    source: {file: options.file, format: imported.format, kind: imported.kind},
    output: options.output ?? null,
    name: imported.job.name as string,
    content,
    job: imported.job,
    unmapped: imported.unmapped,
  }
}

/** Every imported file must load as written; one that does not is the importer's bug, reported against the source. */
function checkLoads(content: string, options: ImportOptions): void {
  const dir = mkdtempSync(join(tmpdir(), 'skyhop-import-'))
  try {
    const tmp = join(dir, 'job.yaml')
    writeFileSync(tmp, content)
    loadJobFile(tmp, {now: options.now ?? new Date()})
  } catch (error) {
    if (error instanceof InvalidFileError)
      throw new InvalidFileError(
        error.issues.map((i) => ({...i, file: `${options.file} (imported)`})),
        {code: 'IMPORT_INVALID', hint: 'The imported job does not load; please report it with the source file.'},
      )
    throw error
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

function write(file: string, content: string, force: boolean): void {
  if (force) return writeAtomic(file, content)
  try {
    // `wx`: created only if absent, so a file that appears meanwhile is not overwritten either.
    writeFileSync(file, content, {flag: 'wx'})
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST')
      throw new UsageError(`${file} already exists`, {
        code: 'FILE_EXISTS',
        hint: 'Pass --force to overwrite it, or --output to write elsewhere.',
      })
    throw new UsageError(`cannot write ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, {
      code: 'OUTPUT_UNWRITABLE',
    })
  }
}
