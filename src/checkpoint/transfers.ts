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
import {at, childrenNamed, parseXml, textAt} from '../clouds/aws/xml.js'
import {CHECKPOINT_CONTENT_TYPE} from '../clouds/common/presign.js'
import {
  STORE_PROVIDER,
  jobKey,
  parseStoreUrl,
  transfersKey,
  workdirKey,
  type CheckpointSigner,
  type StoreScheme,
} from './checkpoint-store.js'

/** Whether a job has anything for the runner to copy, download or upload. */
export function hasTransfers(spec: Pick<JobSpec, 'files' | 'outputs'>): boolean {
  return (spec.files ?? []).some((f) => f.mode === 'copy') || (spec.outputs ?? []).length > 0
}

/**
 * Where a bucket is reached: its own region and endpoint, else the job's store's when the store
 * is of the same kind.
 */
export function bucketTarget(ref: BucketRef, store: CheckpointStoreSpec | null): {url: string; region: string; endpoint: string | null} {
  const url = `${ref.scheme}://${ref.bucket}`
  // Cloud Storage signs for any location (scope region `auto`), and no job store is gs://.
  if (ref.scheme === 'gs') return {url, region: 'auto', endpoint: ref.endpoint}
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
  limits: PrefixLimits = PREFIX_LIMITS,
): Promise<FileObject[]> {
  const found: FileObject[] = []
  for (const entry of spec.files ?? []) {
    if (entry.mode !== 'copy' || entry.source.kind !== 'bucket') continue
    const ref = entry.source
    if (isPrefix(ref)) {
      found.push(...(await listPrefix(entry.path, ref, store, signer, client, now, limits)))
      continue
    }
    const where = `${ref.scheme}://${ref.bucket}/${ref.key}`
    const url = await signer.objectUrl(bucketTarget(ref, store), 'HEAD', ref.key, now)
    const head = await client
      .request({method: 'HEAD', url, accept: (s) => s === 200 || s === 404})
      .catch(storeFailed(ref, `files: ${entry.path}: asking for ${where} failed`))
    if (head.status === 404) {
      throw new UsageError(`files: ${entry.path}: ${where} does not exist`, {
        code: 'FILE_OBJECT_MISSING',
        hint: 'Nothing was recorded. Check the key; end it with / to copy every object under a prefix.',
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

/** Whether a bucket source names a prefix (ends in `/`, or is the whole bucket): copy mode copies every object under it. */
export function isPrefix(ref: Pick<BucketRef, 'key'>): boolean {
  return ref.key === '' || ref.key.endsWith('/')
}

/**
 * How much one prefix entry may copy before setup: past this, a copy is the wrong tool (mode:
 * mount reads on demand), and the attempt's list of signed URLs (one per object, ~0.6 KB
 * each) stays a few MB.
 */
export interface PrefixLimits {
  objects: number
  bytes: number
}
export const PREFIX_LIMITS: PrefixLimits = {objects: 10_000, bytes: 500 * 1024 ** 3}

/** A store that refused or failed a request at launch: the provider's error (exit 4), the URL redacted. */
function storeFailed(ref: BucketRef, what: string): (error: unknown) => never {
  return (error: unknown) => {
    const cause = error instanceof Error ? error : new Error(String(error))
    throw new ProviderError(
      ref.scheme === 'gs' ? 'gcp' : STORE_PROVIDER[ref.scheme as StoreScheme],
      error instanceof ProviderError ? error.category : 'unavailable',
      `${what}: ${redact(cause.message)}`,
      {code: 'FILES_FETCH_FAILED', hint: 'Nothing was recorded: check the bucket and its credentials, and launch again.', cause},
    )
  }
}

/**
 * Every object under a prefix, a page at a time: ListObjectsV2 (`list-type=2`, continuation
 * tokens) on S3, OSS and Cloud Storage; ListObjects (`marker`) on COS and OBS, whose own APIs list that way.
 * Each object keeps its key, size and ETag, as a single object's HEAD does, and lands at
 * `DEST/REST OF KEY`. Folder markers (keys ending in `/`) are directories, not files.
 */
async function listPrefix(
  dest: string,
  ref: BucketRef,
  store: CheckpointStoreSpec | null,
  signer: CheckpointSigner,
  client: Pick<HttpClient, 'request'>,
  now: Date,
  limits: PrefixLimits,
): Promise<FileObject[]> {
  const where = `${ref.scheme}://${ref.bucket}/${ref.key}`
  const target = bucketTarget(ref, store)
  // Cloud Storage's XML API lists as S3 does, with list-type=2 and continuation tokens.
  const v2 = ref.scheme === 's3' || ref.scheme === 'oss' || ref.scheme === 'gs'
  const found: FileObject[] = []
  let bytes = 0
  let next: string | null = null
  for (let page = 1; ; page++) {
    const query: Array<[string, string]> = v2 ? [['list-type', '2']] : []
    query.push(['max-keys', '1000'], ['prefix', ref.key])
    if (next !== null) query.push([v2 ? 'continuation-token' : 'marker', next])
    const url = await signer.listUrl(target, query, now)
    const res = await client
      .request({url, accept: (s) => (s >= 200 && s < 300) || s === 404})
      .catch(storeFailed(ref, `files: ${dest}: listing ${where} failed`))
    if (res.status === 404) {
      throw new UsageError(`files: ${dest}: the bucket ${ref.scheme}://${ref.bucket} does not exist`, {
        code: 'FILE_OBJECT_MISSING',
        hint: 'Nothing was recorded. Check the bucket name and its region.',
      })
    }
    let doc
    try {
      doc = parseXml(res.body)
    } catch (error) {
      throw storeFailed(ref, `files: ${dest}: listing ${where} answered something that is not a bucket listing`)(error)
    }
    if (doc.name !== 'ListBucketResult')
      storeFailed(ref, `files: ${dest}: listing ${where} failed`)(new Error(`answered <${doc.name}> instead of <ListBucketResult>`))
    const contents = childrenNamed(doc, 'Contents')
    for (const item of contents) {
      // Untrimmed: a key may begin or end with a space.
      const key = at(item, 'Key')?.text ?? ''
      if (key.endsWith('/')) continue
      const rest = key.slice(ref.key.length)
      if (!key.startsWith(ref.key) || rest.split('/').some((part) => part === '' || part === '.' || part === '..'))
        throw new UsageError(
          `files: ${dest}: ${ref.scheme}://${ref.bucket}/${key} cannot be placed under ${dest} (an empty, . or .. part in its key)`,
          {
            code: 'FILES_KEY_UNSAFE',
            hint: 'Nothing was recorded. Rename the object, or copy a narrower prefix.',
          },
        )
      const etag = (textAt(item, 'ETag') ?? '').replace(/^W\//, '').replace(/"/g, '')
      const size = Number(textAt(item, 'Size') ?? Number.NaN)
      if (!Number.isSafeInteger(size) || size < 0)
        storeFailed(ref, `files: ${dest}: listing ${where} failed`)(new Error(`no size for ${key} in the listing`))
      bytes += size
      // A listing does not say how an object is encrypted, so its ETag is never taken for an MD5
      // (SSE-KMS gives 32 hex digits that are not one): If-Match and the size still hold it.
      found.push({path: `${dest}/${rest}`, entry: dest, key, bytes: size, etag: etag === '' ? null : etag, md5: false})
      if (found.length > limits.objects || bytes > limits.bytes)
        throw new UsageError(
          `files: ${dest}: ${where} holds more than ${found.length > limits.objects ? `${limits.objects.toLocaleString('en-US')} objects` : `${formatBytes(limits.bytes)}`}, more than copy mode places before setup`,
          {
            code: 'FILES_PREFIX_TOO_LARGE',
            hint: "Nothing was recorded. Copy a narrower prefix, or read it on demand with mode: mount on the bucket's own cloud.",
          },
        )
    }
    const truncated = textAt(doc, 'IsTruncated') === 'true'
    if (!truncated) break
    next = v2 ? (textAt(doc, 'NextContinuationToken') ?? null) : (textAt(doc, 'NextMarker') ?? textAt(contents.at(-1), 'Key') ?? null)
    if (next === null || next === '')
      storeFailed(ref, `files: ${dest}: listing ${where} failed`)(new Error(`page ${page} is truncated but says where to go on from`))
  }
  if (found.length === 0) {
    throw new UsageError(`files: ${dest}: nothing under ${where} to copy`, {
      code: 'FILES_PREFIX_EMPTY',
      hint: 'Nothing was recorded. Check the prefix (keys are case-sensitive; a folder is KEY/), or drop the entry.',
    })
  }
  // A key that is both a file and a folder of others (a, a/b) cannot be recreated as a tree.
  const paths = new Set(found.map((o) => o.path))
  const clash = found.find((o) => paths.has(o.path.slice(0, o.path.lastIndexOf('/'))) && o.path.lastIndexOf('/') > dest.length)
  if (clash) {
    const parent = clash.path.slice(0, clash.path.lastIndexOf('/'))
    throw new UsageError(`files: ${dest}: ${parent} would be both a file and the directory holding ${clash.path}`, {
      code: 'FILES_KEY_UNSAFE',
      hint: 'Nothing was recorded. Rename one of the two objects, or copy a narrower prefix.',
    })
  }
  return found
}

function formatBytes(n: number): string {
  return n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(0)} GiB` : `${n} bytes`
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

/** The ETag goes back as If-Match (a changed object answers 412), and as the MD5 to check when it is one. */
function etagField(object: FileObject): string {
  return object.etag === null ? '-' : `${object.md5 ? 'md5' : 'etag'}:${object.md5 ? object.etag.toLowerCase() : object.etag}`
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
    const listed = isPrefix(entry.source) ? (spec.fileObjects ?? []).filter((o) => o.entry === entry.path) : null
    if (listed !== null && listed.length > 0) {
      // One get line per object found under the prefix at launch: the tree is recreated under the path.
      for (const object of listed) {
        const url = await signer.objectUrl(bucketTarget(entry.source, store), 'GET', object.key!, now, 'unregistered')
        lines.push(['get', clean(object.path), String(object.bytes), clean(etagField(object)), url].join('\t'))
      }
      continue
    }
    const object = listed === null ? (spec.fileObjects ?? []).find((o) => o.path === entry.path) : undefined
    if (!object)
      throw new UsageError(
        `files: ${entry.path}: the launch did not record ${entry.source.scheme}://${entry.source.bucket}/${entry.source.key}`,
        {code: 'FILES_NOT_RESOLVED', hint: 'Launch the job again.'},
      )
    const url = await signer.objectUrl(bucketTarget(entry.source, store), 'GET', entry.source.key, now, 'unregistered')
    lines.push(['get', clean(entry.path), String(object.bytes), clean(etagField(object)), url].join('\t'))
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
  const key = transfersKey(parseStoreUrl(store), jobId, attemptId)
  const target = {url: store.url, region: store.region, endpoint: store.endpoint}
  const put = await signer.objectUrl(target, 'PUT', key, now)
  await options.client.request({method: 'PUT', url: put, headers: {'content-type': CHECKPOINT_CONTENT_TYPE}, body: list, idempotent: true})
  return {list, url: await signer.objectUrl(target, 'GET', key, now)}
}
