// A job's files: and outputs: (docs/job-file.md#files-and-outputs) as an attempt's list of
// transfers (RunnerConfig.transfersFile / transfersUrl): local copies, signed GETs of bucket
// objects checked by the size and ETag the launch found, signed PUTs of each output's archive.
// Signed per attempt with the controller's credentials, as checkpoints are: no credential
// reaches the machine, and a relaunch days later gets URLs that still work. The list is a
// bearer credential: written only into the attempt directory (mode 0600) or the job's store.
import {ProviderError, UsageError} from '../errors.js'
import type {HttpClient} from '../http/client.js'
import type {AttemptTransfers} from '../model/checkpoint.js'
import type {BucketRef, CheckpointStoreSpec, FileObject, JobSpec} from '../model/job-spec.js'
import {redact} from '../util/redact.js'
import {CHECKPOINT_CONTENT_TYPE} from '../clouds/common/presign.js'
import {STORE_PROVIDER, jobKey, parseStoreUrl, workdirKey, type CheckpointSigner, type StoreScheme} from './checkpoint-store.js'

/** Whether a job has anything for the runner to copy, download or upload. */
export function hasTransfers(spec: Pick<JobSpec, 'files' | 'outputs'>): boolean {
  return (spec.files ?? []).some((f) => f.mode === 'copy') || (spec.outputs ?? []).length > 0
}

/**
 * Where a bucket is reached: its own region and endpoint, else the job's store's when the store
 * is of the same kind. gs:// is parsed but cannot be signed: skyhop has no Google Cloud Storage signer yet.
 */
export function bucketTarget(ref: BucketRef, store: CheckpointStoreSpec | null): {url: string; region: string; endpoint: string | null} {
  const url = `${ref.scheme}://${ref.bucket}`
  if (ref.scheme === 'gs') {
    throw new UsageError(`${url}/${ref.key}: skyhop cannot sign Google Cloud Storage URLs yet, so it can copy nothing from or to gs://`, {
      code: 'FILES_SCHEME_UNSUPPORTED',
      hint: 'Mount the bucket with mode: mount on Google Cloud (gcsfuse), or copy it to an s3://, oss://, obs:// or cos:// bucket.',
    })
  }
  const same = store !== null && parseStoreUrl(store).scheme === ref.scheme ? store : null
  const region = ref.region ?? same?.region ?? null
  if (region === null) {
    throw new UsageError(`${url}/${ref.key}: the bucket's region is not known`, {
      code: 'FILES_REGION_MISSING',
      hint: `Give the entry a region ({source: ${url}/…, region: REGION}); a bucket of the same kind as the checkpoint store takes the store's.`,
    })
  }
  return {url, region, endpoint: ref.endpoint ?? same?.endpoint ?? null}
}

/**
 * HEADs every bucket object a copy entry names, at launch: its size and ETag become the
 * spec's fileObjects, which every attempt's download is checked against. A missing object is
 * the user's (exit 2), a store that refuses or fails is the provider's (exit 4): either way
 * before anything is recorded.
 */
export async function findFileObjects(
  spec: Pick<JobSpec, 'files'>,
  store: CheckpointStoreSpec | null,
  signer: CheckpointSigner,
  client: Pick<HttpClient, 'request'>,
  now: Date,
): Promise<FileObject[]> {
  const found: FileObject[] = []
  for (const entry of spec.files ?? []) {
    if (entry.mode !== 'copy' || entry.source.kind !== 'bucket') continue
    const ref = entry.source
    const where = `${ref.scheme}://${ref.bucket}/${ref.key}`
    const url = await signer.objectUrl(bucketTarget(ref, store), 'HEAD', ref.key, now)
    const head = await client.request({method: 'HEAD', url, accept: (s) => s === 200 || s === 404}).catch((error: unknown) => {
      const cause = error instanceof Error ? error : new Error(String(error))
      throw new ProviderError(
        STORE_PROVIDER[ref.scheme as StoreScheme],
        error instanceof ProviderError ? error.category : 'unavailable',
        `files: ${entry.path}: asking for ${where} failed: ${redact(cause.message)}`,
        {code: 'FILES_FETCH_FAILED', hint: 'Nothing was recorded: check the bucket and its credentials, and launch again.', cause},
      )
    })
    if (head.status === 404) {
      throw new UsageError(`files: ${entry.path}: ${where} does not exist`, {
        code: 'FILE_OBJECT_MISSING',
        hint: 'Nothing was recorded. Check the key (copy mode takes one object, not a prefix).',
      })
    }
    const etag = (head.headers.etag ?? '').replace(/^W\//, '').replace(/"/g, '')
    found.push({
      path: entry.path,
      bytes: Number(head.headers['content-length'] ?? 0),
      etag: etag === '' ? null : etag,
      md5: etag !== '' && isMd5Etag(etag, head.headers),
    })
  }
  return found
}

/** The object an output's archive is written to, under its destination: `NAME.tar`, NAME the path's last part. */
function outputObjectName(path: string): string {
  return `${path.slice(path.lastIndexOf('/') + 1)}.tar`
}

/**
 * Checks at launch, before anything is recorded, that every output can be signed for: one to
 * `store` needs the job to have a store (OUTPUTS_NEED_STORE), one to a bucket a known region
 * and a scheme skyhop signs for. Throws UsageError (exit 2).
 */
export function checkOutputs(spec: Pick<JobSpec, 'outputs'>, store: CheckpointStoreSpec | null): void {
  for (const output of spec.outputs ?? []) {
    if (output.to.kind === 'bucket') {
      bucketTarget(output.to, store)
      continue
    }
    if (store === null) {
      throw new UsageError(`outputs: ${output.path} goes to the job's store, and the job has none`, {
        code: 'OUTPUTS_NEED_STORE',
        hint: 'Name one with checkpoint.store in the job file or checkpoint_store in the config, or give the output a bucket URL.',
      })
    }
  }
}

/**
 * Whether an ETag is the MD5 of the object's bytes: 32 hex digits (no `-N` of a multipart
 * upload) and not encrypted with a key the store holds apart (S3's SSE-KMS and SSE-C give
 * other ETags; OSS writes the MD5 in upper case).
 */
export function isMd5Etag(etag: string, headers: Record<string, string | string[] | undefined>): boolean {
  if (!/^[0-9a-fA-F]{32}$/.test(etag)) return false
  const sse = String(headers['x-amz-server-side-encryption'] ?? '')
  return !sse.startsWith('aws:kms') && headers['x-amz-server-side-encryption-customer-algorithm'] === undefined
}

/** The key an output's archive is PUT to. */
export function outputKey(
  to: NonNullable<JobSpec['outputs']>[number]['to'],
  path: string,
  store: CheckpointStoreSpec | null,
  jobId: string,
): string {
  if (to.kind === 'store') return jobKey(parseStoreUrl(store!), jobId, 'outputs', outputObjectName(path))
  return [to.key, outputObjectName(path)].filter((s) => s !== '').join('/')
}

/**
 * Signs an attempt's transfers. `shared`: the attempt runs on skyhop's own filesystem (local,
 * Slurm), so local sources are copied in place; an instance cannot reach them. With
 * `putList`, the list is written to the job's store and the attempt gets its signed GET.
 */
export async function signTransfers(
  spec: Pick<JobSpec, 'files' | 'fileObjects' | 'outputs'>,
  jobId: string,
  attemptId: string,
  options: {
    store: CheckpointStoreSpec | null
    signer: CheckpointSigner
    now: Date
    shared: boolean
    client?: Pick<HttpClient, 'request'>
  },
): Promise<AttemptTransfers | null> {
  if (!hasTransfers(spec)) return null
  const {store, signer, now} = options
  const lines: string[] = []
  const clean = (s: string) => {
    if (/[\t\n\r]/.test(s)) throw new UsageError(`files: ${JSON.stringify(s)} holds a tab or a line break`, {code: 'FILES_PATH_INVALID'})
    return s
  }
  for (const entry of spec.files ?? []) {
    if (entry.mode !== 'copy') continue
    if (entry.source.kind === 'local') {
      if (options.shared) {
        lines.push(['copy', clean(entry.path), clean(entry.source.path)].join('\t'))
        continue
      }
      // An instance cannot read this machine: launch packed the source into the store (its sha256).
      const archive = (spec.fileObjects ?? []).find((o) => o.path === entry.path && o.sha256 !== undefined)
      if (!archive || store === null) {
        throw new UsageError(`files: ${entry.path}: ${entry.source.path} was not uploaded for this job, so an instance could not get it`, {
          code: 'FILES_NOT_UPLOADED',
          hint: 'Launch the job again with a checkpoint store: launch uploads local files: sources when a cloud is a candidate.',
        })
      }
      const url = await signer.objectUrl(
        {url: store.url, region: store.region, endpoint: store.endpoint},
        'GET',
        workdirKey(parseStoreUrl(store), archive.sha256!),
        now,
        'unregistered',
      )
      const name = entry.source.directory ? '-' : entry.source.path.slice(entry.source.path.lastIndexOf('/') + 1)
      lines.push(['untar', clean(entry.path), archive.sha256!, clean(name), url].join('\t'))
      continue
    }
    const object = (spec.fileObjects ?? []).find((o) => o.path === entry.path)
    if (!object)
      throw new UsageError(
        `files: ${entry.path}: the launch did not record ${entry.source.scheme}://${entry.source.bucket}/${entry.source.key}`,
        {code: 'FILES_NOT_RESOLVED', hint: 'Launch the job again.'},
      )
    const url = await signer.objectUrl(bucketTarget(entry.source, store), 'GET', entry.source.key, now, 'unregistered')
    // The ETag goes back as If-Match (a changed object answers 412), and as the MD5 to check when it is one.
    const etag = object.etag === null ? '-' : `${object.md5 ? 'md5' : 'etag'}:${object.md5 ? object.etag.toLowerCase() : object.etag}`
    lines.push(['get', clean(entry.path), String(object.bytes), clean(etag), url].join('\t'))
  }
  checkOutputs(spec, store)
  for (const output of spec.outputs ?? []) {
    const target =
      output.to.kind === 'store' ? {url: store!.url, region: store!.region, endpoint: store!.endpoint} : bucketTarget(output.to, store)
    const url = await signer.objectUrl(target, 'PUT', outputKey(output.to, output.path, store, jobId), now, 'unregistered')
    lines.push(['out', clean(output.path), url].join('\t'))
  }
  const list = lines.map((l) => `${l}\n`).join('')
  if (options.shared || store === null || !options.client) return {list, url: null}
  // An instance gets one URL in its user data, not the list: the list goes to the job's store.
  const key = jobKey(parseStoreUrl(store), jobId, 'attempts', attemptId, 'transfers')
  const target = {url: store.url, region: store.region, endpoint: store.endpoint}
  const put = await signer.objectUrl(target, 'PUT', key, now)
  await options.client.request({method: 'PUT', url: put, headers: {'content-type': CHECKPOINT_CONTENT_TYPE}, body: list, idempotent: true})
  return {list, url: await signer.objectUrl(target, 'GET', key, now)}
}
