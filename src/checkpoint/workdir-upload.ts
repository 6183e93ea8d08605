// A job's workdir on its way to a cloud: packed (src/util/workdir-pack.ts, the same bytes for
// the same content), then written once to the job's object store under its content key,
// `PREFIX/workdirs/SHA256.tar`. A HEAD first: an object already there with the archive's
// size is what an earlier launch uploaded, so an unchanged re-launch writes nothing. The
// runner fetches the archive by a presigned GET and checks its sha256 before unpacking it.
//
// Why no half-written object is ever trusted: a single PUT replaces an object whole or not
// at all in S3, OSS, COS and OBS (a PUT cut short stores nothing), the key names the sha256
// of the bytes, the HEAD checks the stored size against the archive's before skipping the
// upload (anything else is written again), and the runner refuses bytes whose sha256 is not
// the key's. The controller's credentials sign every URL here; none reaches an instance.
import {createReadStream} from 'node:fs'

import {ProviderError} from '../errors.js'
import type {HttpClient} from '../http/client.js'
import {CHECKPOINT_CONTENT_TYPE} from '../clouds/common/presign.js'
import type {CheckpointStoreSpec, WorkdirArchive} from '../model/job-spec.js'
import {packWorkdir} from '../util/workdir-pack.js'
import {redact} from '../util/redact.js'
import {STORE_PROVIDER, parseStoreUrl, type CheckpointSigner} from './checkpoint-store.js'

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
  const packed = await packWorkdir(input.dir)
  try {
    const packMs = Date.now() - t0
    const archive = {sha256: packed.sha256, bytes: packed.bytes}
    const object = await input.signer.workdirObject(input.store, packed.sha256, input.now)
    const failed = (what: string, error: unknown): ProviderError => {
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
    const t1 = Date.now()
    const head = await input.client
      .request({method: 'HEAD', url: object.headUrl, accept: (s) => s === 200 || s === 404})
      .catch((error: unknown) => {
        throw failed('checking', error)
      })
    if (head.status === 200 && Number(head.headers['content-length']) === packed.bytes) {
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
        throw failed('uploading it to', error)
      })
    return {archive, entries: packed.entries, location: object.location, uploadedBytes: packed.bytes, packMs, uploadMs: Date.now() - t1}
  } finally {
    await packed.dispose()
  }
}
