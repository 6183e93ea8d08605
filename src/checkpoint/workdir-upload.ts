// A job's workdir on its way to a cloud: packed (src/util/workdir-pack.ts, the same bytes for
// the same content), then written once to the job's object store under its content key,
// `PREFIX/workdirs/SHA256.tar`. A HEAD first: an object already there with the archive's
// size is what an earlier launch uploaded, so an unchanged re-launch writes nothing. The
// runner fetches the archive by a presigned GET and checks its sha256 before unpacking it.
// With a cache directory, the last archive of each workdir is remembered by the workdir's
// fingerprint (paths, modes, sizes, mtimes): an unchanged re-launch stats the files and asks
// the store, without packing or hashing a byte.
//
// Why no half-written object is ever trusted: a single PUT replaces an object whole or not
// at all in S3, OSS, COS and OBS (a PUT cut short stores nothing), the key names the sha256
// of the bytes, the HEAD checks the stored size against the archive's before skipping the
// upload (anything else is written again), and the runner refuses bytes whose sha256 is not
// the key's. The controller's credentials sign every URL here; none reaches an instance.
import {createHash} from 'node:crypto'
import {createReadStream} from 'node:fs'
import {mkdir, readFile, writeFile} from 'node:fs/promises'
import {join} from 'node:path'

import {ProviderError} from '../errors.js'
import type {HttpClient} from '../http/client.js'
import {CHECKPOINT_CONTENT_TYPE} from '../clouds/common/presign.js'
import type {CheckpointStoreSpec, WorkdirArchive} from '../model/job-spec.js'
import {packWorkdir, scanWorkdir, workdirFingerprint} from '../util/workdir-pack.js'
import {redact} from '../util/redact.js'
import {STORE_PROVIDER, parseStoreUrl, type CheckpointSigner, type WorkdirObject} from './checkpoint-store.js'

export interface WorkdirUpload {
  archive: WorkdirArchive
  /** Files, directories and links packed. */
  entries: number
  /** e.g. `s3://bucket/prefix/workdirs/SHA.tar`. */
  location: string
  /** Bytes PUT: 0 when the store already held the archive. */
  uploadedBytes: number
  packMs: number
  uploadMs: number
}

export interface WorkdirUploadInput {
  dir: string
  store: CheckpointStoreSpec
  signer: CheckpointSigner
  client: Pick<HttpClient, 'request'>
  now: Date
  /** Archives larger than this are warned about, with their size, before the upload. */
  warnBytes: number
  warn: (message: string) => void
  /**
   * Where the last archive of each workdir is remembered with its fingerprint (workdirFingerprint):
   * an unchanged workdir is then not packed again, only asked for (HEAD). None: always pack.
   */
  cacheDir?: string
  /** Pack only this entry of `dir` (a files: entry's one file), not the directory: no ignore files, no cache. */
  only?: string
}

interface CachedArchive extends WorkdirArchive {
  fingerprint: string
  entries: number
}

function cacheFile(cacheDir: string, dir: string): string {
  return join(cacheDir, `${createHash('sha256').update(dir).digest('hex').slice(0, 32)}.json`)
}

async function readCache(cacheDir: string | undefined, dir: string): Promise<CachedArchive | null> {
  if (!cacheDir) return null
  try {
    const cached = JSON.parse(await readFile(cacheFile(cacheDir, dir), 'utf8')) as CachedArchive
    const valid = /^[0-9a-f]{64}$/.test(cached.sha256) && Number.isInteger(cached.bytes) && typeof cached.fingerprint === 'string'
    return valid ? cached : null
  } catch {
    // Missing or unreadable: pack, as without a cache.
    return null
  }
}

/** Time for an upload's whole exchange: a minute, plus the archive at 5 MB/s. */
function uploadDeadlineMs(bytes: number): number {
  return 60_000 + Math.ceil(bytes / 5e6) * 1000
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`
  if (bytes >= 1e3) return `${(bytes / 1e3).toFixed(1)} kB`
  return `${bytes} B`
}

/** Packs the workdir and makes sure the store holds it; throws ProviderError (exit 4) when the store refuses or fails. */
export async function uploadWorkdir(input: WorkdirUploadInput): Promise<WorkdirUpload> {
  const t0 = Date.now()
  const cached = input.only === undefined ? await readCache(input.cacheDir, input.dir) : null
  // The HEAD of the archive last packed goes out while the files are walked (it loads the
  // HTTP stack and the store's credentials too); its answer counts only if nothing changed.
  const speculative = cached ? checkCached(input, cached) : null
  speculative?.catch(() => undefined)
  // One walk lists the entries and stats them; it yields to the event loop as it goes, so the
  // HEAD above is sent, and answered, while the files are stat'ed.
  const scan =
    input.only === undefined
      ? await scanWorkdir(input.dir, {fingerprint: true})
      : {entries: [input.only], fingerprint: await workdirFingerprint(input.dir, [input.only])}
  const {entries, fingerprint} = scan
  if (cached && speculative && cached.fingerprint === fingerprint) {
    // Unchanged since the last pack: if the store still holds that archive, there is nothing to do.
    const {object, head} = await speculative
    if (head === 'present') {
      const archive = {sha256: cached.sha256, bytes: cached.bytes}
      return {archive, entries: cached.entries, location: object.location, uploadedBytes: 0, packMs: 0, uploadMs: Date.now() - t0}
    }
  }
  const packed = await packWorkdir(input.dir, entries)
  try {
    const packMs = Date.now() - t0
    const archive = {sha256: packed.sha256, bytes: packed.bytes}
    if (input.cacheDir && input.only === undefined) {
      await mkdir(input.cacheDir, {recursive: true})
      const record: CachedArchive = {...archive, fingerprint, entries: packed.entries}
      await writeFile(cacheFile(input.cacheDir, input.dir), JSON.stringify(record))
    }
    const object = await input.signer.workdirObject(input.store, packed.sha256, input.now)
    const t1 = Date.now()
    if ((await headObject(input, object, archive)) === 'present') {
      return {archive, entries: packed.entries, location: object.location, uploadedBytes: 0, packMs, uploadMs: Date.now() - t1}
    }
    if (packed.bytes > input.warnBytes) {
      input.warn(
        `workdir ${input.dir} is ${formatBytes(packed.bytes)} packed (${packed.entries} entries), over workdir.warn_size (${formatBytes(input.warnBytes)}); uploading it to ${object.location}. Leave data and outputs out with a .skyhopignore.`,
      )
    }
    await input.client
      .request({
        method: 'PUT',
        url: object.putUrl,
        headers: {'content-type': CHECKPOINT_CONTENT_TYPE, 'content-length': String(packed.bytes)},
        body: () => createReadStream(packed.file),
        timeoutMs: uploadDeadlineMs(packed.bytes),
        idempotent: true,
      })
      .catch((error: unknown) => {
        throw uploadError(input, object, 'uploading it to', error)
      })
    return {archive, entries: packed.entries, location: object.location, uploadedBytes: packed.bytes, packMs, uploadMs: Date.now() - t1}
  } finally {
    await packed.dispose()
  }
}

async function checkCached(input: WorkdirUploadInput, cached: CachedArchive): Promise<{object: WorkdirObject; head: 'present' | 'absent'}> {
  const object = await input.signer.workdirObject(input.store, cached.sha256, input.now)
  return {object, head: await headObject(input, object, cached)}
}

/** Whether the store holds the archive whole: an object under its key with its size. */
async function headObject(input: WorkdirUploadInput, object: WorkdirObject, archive: WorkdirArchive): Promise<'present' | 'absent'> {
  const head = await input.client
    .request({method: 'HEAD', url: object.headUrl, accept: (s) => s === 200 || s === 404})
    .catch((error: unknown) => {
      throw uploadError(input, object, 'checking', error)
    })
  return head.status === 200 && Number(head.headers['content-length']) === archive.bytes ? 'present' : 'absent'
}

function uploadError(input: WorkdirUploadInput, object: WorkdirObject, what: string, error: unknown): ProviderError {
  const cause = error instanceof Error ? error : new Error(String(error))
  const category = error instanceof ProviderError ? error.category : 'unavailable'
  return new ProviderError(
    STORE_PROVIDER[parseStoreUrl(input.store).scheme],
    category,
    `workdir ${input.dir}: ${what} ${object.location} failed: ${redact(cause.message)}`,
    {
      code: 'WORKDIR_UPLOAD_FAILED',
      hint: 'Nothing was recorded: check the store (`skyhop check`) and launch again; an archive the store did not take whole is written again.',
      cause,
    },
  )
}
