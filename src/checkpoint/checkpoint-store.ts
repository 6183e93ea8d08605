// Checkpoints that outlive the machine: a bucket in an object store (S3 or an
// S3-compatible store, Alibaba OSS, Tencent COS, Huawei OBS) holds each job's checkpoint
// directory as one archive, `PREFIX/JOB_ID/checkpoint.tar` (uncompressed: model weights
// barely compress, and gzip is the slowest step of a save by far). For every attempt the
// controller signs a GET and a PUT URL for it with the store's cloud credentials; the
// runner restores and saves with curl alone (src/runner/skyhop-runner.sh). So a job
// preempted on one cloud resumes on another, and no credential ever reaches an instance.
// A signed URL is a bearer credential: it is registered for redaction, handed only to the
// attempt, and never stored; the state store keeps the store's location.
//
// AWS's credential chain is imported only when a job has an S3 store: it brings the HTTP
// stack (undici, STS, instance metadata), which a launch without a store never needs.
import {ProviderError, UsageError} from '../errors.js'
import {presignOss} from '../clouds/aliyun/oss-presign.js'
import {loadAliyunCredentials} from '../clouds/aliyun/credentials.js'
import {presignS3} from '../clouds/aws/s3-presign.js'
import {loadHuaweiCredentials} from '../clouds/huaweicloud/credentials.js'
import {presignObs} from '../clouds/huaweicloud/obs-presign.js'
import {loadTencentCredentials} from '../clouds/tencentcloud/credentials.js'
import {presignCos} from '../clouds/tencentcloud/cos-presign.js'
import type {CredentialContext, LoadedCredentials} from '../clouds/common/credentials.js'
import type {GcsSigningKey} from '../clouds/gcp/gcs-presign.js'
import type {SkyhopConfig} from '../config.js'
import type {CheckpointStoreSpec, JobSpec} from '../model/job-spec.js'
import type {JobRecord} from '../model/records.js'
import type {HttpClient} from '../http/client.js'
import {redact, registerSecret} from '../util/redact.js'
import type {
  AttemptObjectReader,
  AttemptTransfers,
  CheckpointSync,
  GangObjects,
  SecretsObject,
  ShipHandleData,
  ShipObjects,
  ShippedFile,
  ShipStoreRef,
} from '../model/checkpoint.js'
import {CHECKPOINT_CONTENT_TYPE, type PresignRequest} from '../clouds/common/presign.js'

export type StoreScheme = 's3' | 'oss' | 'cos' | 'obs'

/** The cloud whose credentials sign for each kind of store. */
export const STORE_PROVIDER: Record<StoreScheme, string> = {s3: 'aws', oss: 'aliyun', cos: 'tencentcloud', obs: 'huaweicloud'}

export interface StoreLocation {
  scheme: StoreScheme
  bucket: string
  /** Without leading or trailing slashes; '' for the bucket's root. */
  prefix: string
  region: string
  endpoint: string | null
}

/** The longest a URL may live: S3 caps SigV4 query signatures at seven days. */
export const MAX_URL_SECONDS = 7 * 24 * 3600
const DEFAULT_SYNC_SECONDS = 300
/** Temporary credentials are not stretched: a URL dies with the credentials that signed it. */
const EXPIRY_MARGIN_SECONDS = 60

export function parseStoreUrl(spec: CheckpointStoreSpec): StoreLocation {
  const m = /^(s3|oss|cos|obs):\/\/([^/\s]+)(?:\/(.*))?$/.exec(spec.url)
  if (!m) {
    throw new UsageError(`checkpoint store "${spec.url}" is not a store URL`, {
      code: 'CHECKPOINT_STORE_INVALID',
      hint: 'Write s3://BUCKET/PREFIX, oss://BUCKET/PREFIX, cos://BUCKET-APPID/PREFIX or obs://BUCKET/PREFIX.',
    })
  }
  const scheme = m[1] as StoreScheme
  if (scheme === 'cos' && !/-\d+$/.test(m[2])) {
    throw new UsageError(`checkpoint store "${spec.url}": a COS bucket is named BUCKET-APPID, e.g. ckpt-1250000000`, {
      code: 'CHECKPOINT_STORE_INVALID',
    })
  }
  return {scheme, bucket: m[2], prefix: (m[3] ?? '').replace(/^\/+|\/+$/g, ''), region: spec.region, endpoint: spec.endpoint}
}

/** A key under the job's own prefix, `PREFIX/JOB_ID/…`. */
export function jobKey(location: StoreLocation, jobId: string, ...rest: string[]): string {
  return [location.prefix, jobId, ...rest].filter((s) => s !== '').join('/')
}

export function checkpointKey(location: StoreLocation, jobId: string): string {
  return jobKey(location, jobId, 'checkpoint.tar')
}

/** The go object of a held attempt (see AttemptHold): `PREFIX/JOB_ID/holds/ATTEMPT_ID`. */
function holdKey(location: StoreLocation, jobId: string, attemptId: string): string {
  return jobKey(location, jobId, 'holds', attemptId)
}

/** A workdir archive, by the sha256 of its bytes: `PREFIX/workdirs/SHA256.tar`, shared by every job of the store. */
export function workdirKey(location: StoreLocation, sha256: string): string {
  return [location.prefix, 'workdirs', `${sha256}.tar`].filter((s) => s !== '').join('/')
}

/** A workdir archive's signed URLs (see CheckpointSigner.workdirObject). Bearer credentials. */
export interface WorkdirObject {
  headUrl: string
  getUrl: string
  putUrl: string
  /** e.g. `s3://bucket/prefix/workdirs/SHA.tar`: safe to show. */
  location: string
}

/** The runner a cloud node fetches at boot (every gang's; one node's whose user data cannot carry it). */
const GANG_RUNNER = 'skyhop-runner.sh'
/** Every object of a cloud gang (GangObjects), by name. */
const GANG_OBJECT_NAMES = ['node-ips', 'node-ids', 'notice', GANG_RUNNER]

/** A cloud gang's objects (see GangObjects): `PREFIX/JOB_ID/gangs/ATTEMPT_ID/NAME`. */
function gangKey(location: StoreLocation, jobId: string, attemptId: string, name: string): string {
  return jobKey(location, jobId, 'gangs', attemptId, name)
}

/** A cloud attempt's one-time secrets object (see SecretsObject): `PREFIX/JOB_ID/secrets/ATTEMPT_ID`. */
function secretsKey(location: StoreLocation, jobId: string, attemptId: string): string {
  return jobKey(location, jobId, 'secrets', attemptId)
}

/** An attempt's shipped files (see ShipObjects): `PREFIX/JOB_ID/attempts/ATTEMPT_ID/NAME`. */
function attemptKey(location: StoreLocation, jobId: string, attemptId: string, name: string): string {
  return jobKey(location, jobId, 'attempts', attemptId, name)
}

/**
 * An attempt's list of transfers put in the store for its instance (checkpoint/transfers.ts):
 * `PREFIX/JOB_ID/attempts/ATTEMPT_ID/transfers`. Its signed URLs are bearer credentials, so
 * it is deleted once the attempt is released (AttemptHoldStore.deleteTransfers).
 */
export function transfersKey(location: StoreLocation, jobId: string, attemptId: string): string {
  return attemptKey(location, jobId, attemptId, 'transfers')
}

/** A shipped file's segment object's name: `output-0000.log`, `samples-0012.jsonl`. */
export function segmentName(file: ShippedFile, index: number): string {
  const n = String(index).padStart(4, '0')
  return file === 'output.log' ? `output-${n}.log` : `samples-${n}.jsonl`
}

/**
 * A segment object's key: the head's beside the list (`…/ATTEMPT_ID/samples-0000.jsonl`), a gang
 * rank's in a folder of its own (`…/ATTEMPT_ID/node-1/samples-0000.jsonl`), as in a local
 * attempt directory.
 */
function segmentKey(location: StoreLocation, jobId: string, attemptId: string, file: ShippedFile, index: number, rank = 0): string {
  const name = segmentName(file, index)
  return rank === 0 ? attemptKey(location, jobId, attemptId, name) : jobKey(location, jobId, 'attempts', attemptId, `node-${rank}`, name)
}

/**
 * The first line of a ship list: `t ISSUED EXPIRES` (epoch seconds, the signer's clock). The
 * controller reads it (a ranged GET) to know when to sign the list again; the runner, when to
 * fetch it again (docs/job-contract.md#the-attempts-output-and-samples).
 */
export function parseShipListHead(text: string): {issued: number; expires: number} | null {
  const m = /^t (\d{1,12}) (\d{1,12})\n/.exec(text)
  if (!m) return null
  const issued = Number(m[1])
  const expires = Number(m[2])
  return expires > issued ? {issued, expires} : null
}

/**
 * The list is signed again once two thirds of its URLs' life has passed; the runner fetches it
 * again from five sixths on (SHIP_RUNNER_RENEW), so the controller has a sixth of the life
 * (ten minutes of an hour's temporary credentials) to have written the new one first.
 */
export const SHIP_RENEW_AT = 2 / 3

/**
 * What an attempt may ship: segments of 256 KiB, 512 of output.log (128 MiB) and 256 of
 * samples.jsonl (64 MiB: some 150 hours of an 8-NPU machine's samples at 10 s, near the 7 days
 * an S3 URL can live). The current segment is sent whole every ship interval, so its size is
 * what a slowly growing file costs: 128 KiB a PUT on average (about 46 MB an hour at 10 s). The
 * list of their URLs, fetched by the runner at start and again when renewed, is about 290 KB
 * with an S3 store (100 KB more per further rank of a gang).
 */
export const SHIP_SEGMENT_BYTES = 256 * 1024
export const SHIP_SEGMENTS: Record<ShippedFile, number> = {'output.log': 512, 'samples.jsonl': 256}
/** The runner ships every sample interval, within these bounds. */
const SHIP_SECONDS = {min: 2, max: 30}

/**
 * How long a secrets object's URLs work when the launch does not say (the DELETE signed to
 * clean up after an attempt, used at once). A launch signs them for what its boot needs
 * (vm/boot-script.ts secretsUrlSeconds), which is shorter: the GET URL sits in user data
 * that others may read.
 */
export const SECRETS_URL_SECONDS = 3600

/** Signs with whichever cloud owns the store; credentials are loaded once per signer. */
export class CheckpointSigner {
  private readonly loaded = new Map<StoreScheme, {found: Promise<LoadedCredentials<unknown>>; at: number; expiresAt: number | null}>()
  private gcsKey: Promise<LoadedCredentials<GcsSigningKey>> | null = null

  constructor(private readonly context: Partial<CredentialContext> = {}) {}

  async sync(
    spec: CheckpointStoreSpec,
    jobId: string,
    options: {now: Date; checkpointIntervalSeconds: number | null},
  ): Promise<CheckpointSync> {
    const location = parseStoreUrl(spec)
    const signed = await this.sign(spec, location, checkpointKey(location, jobId), options.now)
    return {...signed, syncSeconds: spec.syncIntervalSeconds ?? options.checkpointIntervalSeconds ?? DEFAULT_SYNC_SECONDS}
  }

  /** Signed URLs of a held attempt's go object: the runner GETs it, the controller PUTs it. */
  async hold(spec: CheckpointStoreSpec, jobId: string, attemptId: string, now: Date): Promise<HoldUrls> {
    const location = parseStoreUrl(spec)
    const {getUrl, putUrl} = await this.sign(spec, location, holdKey(location, jobId, attemptId), now)
    return {getUrl, putUrl}
  }

  /**
   * Signed DELETEs of an attempt's gang objects: all of GANG_OBJECT_NAMES for a gang, only the
   * runner for one node (a single node writes it when its user data cannot carry the runner).
   */
  async gangDeletes(spec: CheckpointStoreSpec, jobId: string, attemptId: string, now: Date, gang: boolean): Promise<string[]> {
    const location = parseStoreUrl(spec)
    // Used at once: a short life, like the secrets object's DELETE.
    const signer = await this.signer(spec, location, now, 600)
    return (gang ? GANG_OBJECT_NAMES : [GANG_RUNNER]).map((name) => signer.sign('DELETE', gangKey(location, jobId, attemptId, name)))
  }

  /** A signed DELETE of an attempt's list of transfers (transfersKey), used at once. */
  async transfersDelete(spec: CheckpointStoreSpec, jobId: string, attemptId: string, now: Date): Promise<string> {
    const location = parseStoreUrl(spec)
    const signer = await this.signer(spec, location, now, 600)
    return signer.sign('DELETE', transfersKey(location, jobId, attemptId))
  }

  /** A signed DELETE of an attempt's ship list (see ship), used at once. */
  async shipListDelete(spec: CheckpointStoreSpec, jobId: string, attemptId: string, now: Date): Promise<string> {
    const location = parseStoreUrl(spec)
    const signer = await this.signer(spec, location, now, 600)
    return signer.sign('DELETE', attemptKey(location, jobId, attemptId, 'ship-urls'))
  }

  /** Signed URLs of a cloud gang's peer list, rank list, notice and runner (GangObjects). */
  async gang(spec: CheckpointStoreSpec, jobId: string, attemptId: string, now: Date): Promise<GangObjects> {
    const location = parseStoreUrl(spec)
    const signed = async (name: string) => {
      const {getUrl, putUrl} = await this.sign(spec, location, gangKey(location, jobId, attemptId, name), now)
      return {getUrl, putUrl}
    }
    return {
      nodeIps: await signed('node-ips'),
      nodeIds: await signed('node-ids'),
      notice: await signed('notice'),
      runner: await signed(GANG_RUNNER),
      location: `${location.scheme}://${location.bucket}/${gangKey(location, jobId, attemptId, '')}/`,
    }
  }

  /** Signed URLs of a cloud attempt's one-time secrets object, alive `seconds` at most (SECRETS_URL_SECONDS by default). */
  async secrets(
    spec: CheckpointStoreSpec,
    jobId: string,
    attemptId: string,
    now: Date,
    seconds: number = SECRETS_URL_SECONDS,
  ): Promise<SecretsObject> {
    const location = parseStoreUrl(spec)
    const key = secretsKey(location, jobId, attemptId)
    const signer = await this.signer(spec, location, now, Math.min(seconds, SECRETS_URL_SECONDS))
    return {
      putUrl: signer.sign('PUT', key),
      getUrl: signer.sign('GET', key),
      deleteUrl: signer.sign('DELETE', key),
      location: `${location.scheme}://${location.bucket}/${key}`,
    }
  }

  /**
   * The signed URLs of an attempt's shipped files (ShipObjects): the list the runner GETs (its
   * body and its PUT and GET URLs) and where they are. Each segment's PUT lives as long as the
   * store's credentials allow (MAX_URL_SECONDS at most). The list opens with `t ISSUED EXPIRES`
   * and `m 0 URL`, a GET of the list itself signed now: the runner fetches the list again
   * through it when the controller has signed it again (renewShip), so a job outlives its first
   * URLs. Every rank of a gang ships its samples (`s<RANK> INDEX URL`, the head's `s`); only the
   * head ships output.log (`o`).
   */
  async ship(
    spec: CheckpointStoreSpec,
    jobId: string,
    attemptId: string,
    now: Date,
    nodes = 1,
  ): Promise<{list: string; putUrl: string; getUrl: string; location: string; expiresAt: string}> {
    const location = parseStoreUrl(spec)
    const signer = await this.signer(spec, location, now)
    const key = attemptKey(location, jobId, attemptId, 'ship-urls')
    const getUrl = signer.sign('GET', key)
    const issued = Math.floor(now.getTime() / 1000)
    const lines = [`t ${issued} ${Math.floor(Date.parse(signer.expiresAt) / 1000)}\n`, `m 0 ${getUrl}\n`]
    const files = [['output.log', 'o', 0]] as Array<[ShippedFile, string, number]>
    for (let rank = 0; rank < Math.max(1, nodes); rank++) files.push(['samples.jsonl', rank === 0 ? 's' : `s${rank}`, rank])
    for (const [file, kind, rank] of files) {
      for (let i = 0; i < SHIP_SEGMENTS[file]; i++)
        lines.push(`${kind} ${i} ${signer.sign('PUT', segmentKey(location, jobId, attemptId, file, i, rank), 'unregistered')}\n`)
    }
    return {
      list: lines.join(''),
      putUrl: signer.sign('PUT', key),
      getUrl,
      location: `${location.scheme}://${location.bucket}/${attemptKey(location, jobId, attemptId, '')}/`,
      expiresAt: signer.expiresAt,
    }
  }

  /** A signed GET of an attempt's ship list (renewShip reads its first line). */
  async shipListGet(store: ShipStoreRef, jobId: string, attemptId: string, now: Date): Promise<string> {
    const spec = {...store, syncIntervalSeconds: null}
    const location = parseStoreUrl(spec)
    const signer = await this.signer(spec, location, now, 600)
    return signer.sign('GET', attemptKey(location, jobId, attemptId, 'ship-urls'))
  }

  /** A signed GET of one segment of an attempt's shipped file (AttemptObjectReader). */
  async segmentGet(
    store: ShipStoreRef,
    jobId: string,
    attemptId: string,
    file: ShippedFile,
    index: number,
    now: Date,
    rank = 0,
  ): Promise<string> {
    const spec = {...store, syncIntervalSeconds: null}
    const location = parseStoreUrl(spec)
    // Short: a reader signs again for every read.
    const signer = await this.signer(spec, location, now, 600)
    return signer.sign('GET', segmentKey(location, jobId, attemptId, file, index, rank))
  }

  /**
   * Writes a small object beside the jobs' archives and reads it back through signed URLs,
   * as a runner would: `skyhop check` for the store. Never throws for the store's answer.
   */
  async probe(spec: CheckpointStoreSpec, client: HttpClient, now: Date): Promise<{ok: boolean; source: string | null; message: string}> {
    let source: string | null = null
    try {
      const location = parseStoreUrl(spec)
      source = (await this.credentials(location.scheme)).source
      const key = [location.prefix, '.skyhop-check'].filter((p) => p !== '').join('/')
      const signed = await this.sign(spec, location, key, now)
      const body = `skyhop check ${now.toISOString()}\n`
      const started = Date.now()
      await client.request({method: 'PUT', url: signed.putUrl, headers: {'content-type': CHECKPOINT_CONTENT_TYPE}, body, idempotent: true})
      const back = await client.request({url: signed.getUrl})
      if (back.body !== body) return {ok: false, source, message: `read back something else than was written to ${key}`}
      return {ok: true, source, message: `wrote and read back ${location.scheme}://${location.bucket}/${key} in ${Date.now() - started} ms`}
    } catch (error) {
      return {ok: false, source, message: redact(error instanceof Error ? error.message : String(error))}
    }
  }

  /**
   * Signed URLs of a workdir archive, `PREFIX/workdirs/SHA256.tar`: keyed by content, not
   * by job, so any launch of the same code finds what an earlier one uploaded (HEAD), and
   * only a missing or short object is written again (PUT).
   */
  async workdirObject(spec: CheckpointStoreSpec, sha256: string, now: Date): Promise<WorkdirObject> {
    const location = parseStoreUrl(spec)
    const key = workdirKey(location, sha256)
    const signer = await this.signer(spec, location, now)
    return {
      headUrl: signer.sign('HEAD', key),
      getUrl: signer.sign('GET', key),
      putUrl: signer.sign('PUT', key),
      location: `${location.scheme}://${location.bucket}/${key}`,
    }
  }

  /**
   * A signed URL of any object of a bucket of the store's kinds (a files: or outputs: entry),
   * with the store's cloud credentials: registered for redaction unless told otherwise.
   */
  async objectUrl(
    bucket: {url: string; region: string; endpoint: string | null},
    method: PresignRequest['method'],
    key: string,
    now: Date,
    unregistered?: 'unregistered',
  ): Promise<string> {
    if (bucket.url.startsWith('gs://')) return this.gcsUrl(bucket, method, key, now, MAX_URL_SECONDS, unregistered)
    const spec = {...bucket, syncIntervalSeconds: null}
    const location = parseStoreUrl(spec)
    const signer = await this.signer(spec, location, now)
    return signer.sign(method, key, unregistered)
  }

  /**
   * A signed LIST (GET of the bucket itself) with these query parameters, for a files: prefix
   * at launch; registered for redaction, as it only ever goes to skyhop's own HTTP client.
   */
  async listUrl(
    bucket: {url: string; region: string; endpoint: string | null},
    query: ReadonlyArray<readonly [string, string]>,
    now: Date,
  ): Promise<string> {
    if (bucket.url.startsWith('gs://')) return this.gcsUrl(bucket, 'GET', '', now, 600, undefined, query)
    const spec = {...bucket, syncIntervalSeconds: null}
    const location = parseStoreUrl(spec)
    const signer = await this.signer(spec, location, now, 600)
    return signer.sign('GET', '', undefined, query)
  }

  /**
   * A Cloud Storage V4 URL (a files: or outputs: gs:// bucket; no job store is one), signed with
   * the service-account key of GOOGLE_APPLICATION_CREDENTIALS or gcloud's ADC file.
   */
  private async gcsUrl(
    bucket: {url: string; endpoint: string | null},
    method: PresignRequest['method'],
    key: string,
    now: Date,
    seconds: number,
    unregistered?: 'unregistered',
    query?: PresignRequest['query'],
  ): Promise<string> {
    this.gcsKey ??= import('../clouds/gcp/credentials.js').then((m) => m.loadGcsSigningKey(this.context))
    const found = this.gcsKey
    // A failed load is not cached: the next launch looks again.
    found.catch(() => {
      if (this.gcsKey === found) this.gcsKey = null
    })
    const loaded = await found
    const {presignGcs} = await import('../clouds/gcp/gcs-presign.js')
    const url = presignGcs(
      {
        method,
        bucket: bucket.url.slice('gs://'.length).replace(/\/.*$/, ''),
        key,
        region: 'auto',
        ...(bucket.endpoint === null ? {} : {endpoint: bucket.endpoint}),
        ...(query === undefined ? {} : {query}),
        expiresSeconds: seconds,
        now,
      },
      loaded.credentials,
    )
    if (unregistered === undefined) registerSecret(url)
    return url
  }

  private async sign(
    spec: CheckpointStoreSpec,
    location: StoreLocation,
    key: string,
    now: Date,
  ): Promise<Omit<CheckpointSync, 'syncSeconds'>> {
    const signer = await this.signer(spec, location, now)
    return {
      getUrl: signer.sign('GET', key),
      putUrl: signer.sign('PUT', key),
      location: `${location.scheme}://${location.bucket}/${key}`,
      expiresAt: signer.expiresAt,
    }
  }

  /** Loads the store's credentials once and signs any method of any key with them, each URL registered for redaction. */
  private async signer(
    spec: CheckpointStoreSpec,
    location: StoreLocation,
    now: Date,
    maxSeconds = MAX_URL_SECONDS,
  ): Promise<{
    sign: (method: PresignRequest['method'], key: string, unregistered?: 'unregistered', query?: PresignRequest['query']) => string
    expiresAt: string
  }> {
    const loaded = await this.credentials(location.scheme, now).catch((error: unknown) => {
      // Say that the credentials were wanted for the store, not for launching on that cloud.
      if (!(error instanceof ProviderError)) throw error
      throw new ProviderError(
        STORE_PROVIDER[location.scheme],
        error.category,
        `checkpoint store ${spec.url}: ${error.message.replace(/^[a-z]+: /, '')}`,
        {
          code: error.code,
          hint: error.hint,
          cause: error,
        },
      )
    })
    let lifetime = Math.min(MAX_URL_SECONDS, maxSeconds)
    if (loaded.expiresAt !== null) {
      lifetime = Math.min(lifetime, Math.floor((Date.parse(loaded.expiresAt) - now.getTime()) / 1000) - EXPIRY_MARGIN_SECONDS)
      if (lifetime < 60) {
        throw new ProviderError(
          STORE_PROVIDER[location.scheme],
          'auth',
          `the credentials for checkpoint store ${spec.url} (${loaded.source}) expire in under two minutes`,
          {
            code: 'CHECKPOINT_CREDENTIALS_EXPIRING',
          },
        )
      }
    }
    // `unregistered`: a URL that only ever travels inside an object's body (the ship list's
    // hundreds), never in a message, is not added to the redaction set every redact() scans.
    const sign = (method: PresignRequest['method'], key: string, unregistered?: 'unregistered', query?: PresignRequest['query']) => {
      const request: PresignRequest = {
        method,
        bucket: location.bucket,
        key,
        ...(query === undefined ? {} : {query}),
        region: location.region,
        ...(location.endpoint === null ? {} : {endpoint: location.endpoint}),
        expiresSeconds: lifetime,
        now,
      }
      const url = presign(location.scheme, request, loaded.credentials)
      if (unregistered === undefined) registerSecret(url)
      return url
    }
    return {sign, expiresAt: new Date(now.getTime() + lifetime * 1000).toISOString()}
  }

  /**
   * The store's credentials, loaded once; temporary ones are loaded again once SHIP_RENEW_AT of
   * their life (from when they were loaded, on the signer's clock) has passed, so a ship list
   * signed again (renewShip) lives longer than the one before.
   */
  private credentials(scheme: StoreScheme, now?: Date): Promise<LoadedCredentials<unknown>> {
    const cached = this.loaded.get(scheme)
    let found = cached?.found
    if (cached && now && cached.expiresAt !== null) {
      const life = cached.expiresAt - cached.at
      if (now.getTime() >= cached.at + SHIP_RENEW_AT * life) found = undefined
    }
    if (!found) {
      const c = this.context
      const load: Record<StoreScheme, () => Promise<LoadedCredentials<unknown>>> = {
        s3: async () => (await import('../clouds/aws/credentials.js')).loadAwsCredentials(c),
        oss: () => loadAliyunCredentials(c),
        cos: () => loadTencentCredentials(c),
        obs: () => loadHuaweiCredentials(c),
      }
      const loading = load[scheme]()
      const entry = {found: loading, at: (now ?? new Date()).getTime(), expiresAt: null as number | null}
      // A failed load is not cached: the next launch looks again.
      loading.then(
        (got) => {
          entry.expiresAt = got.expiresAt === null ? null : Date.parse(got.expiresAt)
        },
        () => {
          if (this.loaded.get(scheme) === entry) this.loaded.delete(scheme)
        },
      )
      this.loaded.set(scheme, entry)
      found = loading
    }
    return found
  }
}

function presign(scheme: StoreScheme, request: PresignRequest, credentials: unknown): string {
  switch (scheme) {
    case 's3':
      return presignS3(request, credentials as Parameters<typeof presignS3>[1])
    case 'oss':
      return presignOss(request, credentials as Parameters<typeof presignOss>[1])
    case 'cos':
      return presignCos(request, credentials as Parameters<typeof presignCos>[1])
    case 'obs':
      return presignObs(request, credentials as Parameters<typeof presignObs>[1])
  }
}

/** Signs a job's checkpoint URLs for one attempt; null when the job has no store. */
export type SignCheckpointUrls = (job: Pick<JobRecord, 'id' | 'spec'>) => Promise<CheckpointSync | null>

/** The job file's store, else the config's; null when neither names one. */
export function storeFor(spec: JobSpec, config: Pick<SkyhopConfig, 'checkpointStore'>): CheckpointStoreSpec | null {
  return spec.checkpoint.store ?? config.checkpointStore
}

/**
 * The controller's `checkpointSync`: signs a fresh pair of URLs for the job's store each
 * time an attempt is launched (a relaunch days later gets URLs that still work).
 */
export function checkpointSyncFor(
  config: Pick<SkyhopConfig, 'checkpointStore'>,
  signer = new CheckpointSigner(),
  clock: () => Date = () => new Date(),
): SignCheckpointUrls {
  return async (job) => {
    const spec = storeFor(job.spec, config)
    if (spec === null) return null
    const now = clock()
    const sync = await signer.sync(spec, job.id, {now, checkpointIntervalSeconds: job.spec.checkpoint.intervalSeconds})
    // The job's code, uploaded at launch (services/launch.ts): each attempt gets a fresh GET of it.
    const archive = job.spec.workdirArchive
    if (!archive) return sync
    const {getUrl} = await signer.workdirObject(spec, archive.sha256, now)
    return {...sync, workdir: {getUrl, sha256: archive.sha256}}
  }
}

/** A held attempt's go object, signed (see CheckpointSigner.hold). */
export interface HoldUrls {
  getUrl: string
  putUrl: string
}

/**
 * The controller's way to hold a new cloud attempt until the one it replaces has saved its
 * last checkpoint: the go object lives in the job's checkpoint store.
 */
export interface AttemptHoldStore {
  /** Whether the job has a checkpoint store to hold its attempts with. */
  covers(job: Pick<JobRecord, 'spec'>): boolean
  /** Signed URLs of the attempt's go object; null when the job has no checkpoint store. */
  sign(job: Pick<JobRecord, 'id' | 'spec'>, attemptId: string): Promise<HoldUrls | null>
  /** Writes the go object (writing it twice is harmless). */
  release(urls: HoldUrls): Promise<void>
  /**
   * Writes a cloud attempt's secrets (`body`, as the boot script reads them) to a one-time
   * object of the job's store and returns its signed URLs; null when the job has no store.
   */
  putSecrets?(
    job: Pick<JobRecord, 'id' | 'spec'>,
    attemptId: string,
    body: string,
    /** How long its URLs work: what the attempt's boot needs (vm/boot-script.ts secretsUrlSeconds). */
    urlSeconds?: number,
  ): Promise<SecretsObject | null>
  /** Deletes an attempt's secrets object, if any is left (deleting a missing object is harmless). */
  deleteSecrets?(job: Pick<JobRecord, 'id' | 'spec'>, attemptId: string): Promise<void>
  /**
   * Deletes what gangObjects named for a released attempt: a gang's rank list, peer list,
   * notice and runner, or one node's runner (deleting a missing object is harmless).
   */
  deleteGang?(job: Pick<JobRecord, 'id' | 'spec'>, attemptId: string): Promise<void>
  /**
   * Deletes a released attempt's lists of signed URLs: its ship list (see ship), and its list of
   * transfers (transfersKey) if the job has files: copies or outputs: (deleting a missing object
   * is harmless). The job's workdir archive and packed local sources (content-addressed, reused
   * by a re-launch), its outputs and its shipped segments (logs read them) stay.
   */
  deleteTransfers?(job: Pick<JobRecord, 'id' | 'spec'>, attemptId: string): Promise<void>
  /**
   * A cloud attempt's shipped files (ShipObjects): writes the list of their signed PUT URLs to
   * the job's store and returns the GET of that list; null when the job has no store.
   */
  shipObjects?(job: Pick<JobRecord, 'id' | 'spec'>, attemptId: string): Promise<ShipObjects | null>
  /**
   * What a launch handle keeps of a cloud attempt's ShipObjects (ShipHandleData), without
   * signing: for a handle found again by its tags, whose launch signed them. Null without a store.
   */
  shipRef?(job: Pick<JobRecord, 'spec'>): ShipHandleData | null
  /**
   * Signs a running attempt's ship list again and rewrites it, once SHIP_RENEW_AT of its URLs'
   * life has passed and fresh credentials sign for longer (the runner fetches it again through
   * the list's own `m` URL). Answers when the list's URLs expire and when to look again; null
   * when there is no list to renew (none yet, or one without its `t` line).
   */
  renewShip?(
    job: Pick<JobRecord, 'id' | 'spec'>,
    attemptId: string,
    store: ShipStoreRef,
  ): Promise<{renewed: boolean; expiresAt: string; nextAt: string} | null>
  /**
   * The objects a multi-node attempt on a per-instance provider shares its peer list and
   * notice through (GangObjects), in the same store; null when the job has no store.
   */
  gangObjects?(job: Pick<JobRecord, 'id' | 'spec'>, attemptId: string): Promise<GangObjects | null>
  /**
   * A fresh GET of the job's uploaded workdir archive (JobSpec.workdirArchive), for an attempt
   * without a checkpointSync (a service replica); null without a store or an archive.
   */
  workdir?(job: Pick<JobRecord, 'spec'>): Promise<{getUrl: string; sha256: string} | null>
  /**
   * The job's files: and outputs: signed for one attempt (checkpoint/transfers.ts); `shared`
   * when the attempt runs on skyhop's own filesystem. Null when the job has none.
   */
  transfers?(job: Pick<JobRecord, 'id' | 'spec'>, attemptId: string, shared: boolean): Promise<AttemptTransfers | null>
}

export function attemptHoldsFor(
  config: Pick<SkyhopConfig, 'checkpointStore'>,
  client: Pick<HttpClient, 'request'>,
  signer = new CheckpointSigner(),
  clock: () => Date = () => new Date(),
): AttemptHoldStore {
  /** Writes an attempt's ship list (first or renewed) at its one key. */
  const putShipList = (signed: {putUrl: string; list: string}) =>
    client.request({
      method: 'PUT',
      url: signed.putUrl,
      headers: {'content-type': CHECKPOINT_CONTENT_TYPE},
      body: signed.list,
      idempotent: true,
    })
  return {
    covers: (job) => storeFor(job.spec, config) !== null,
    sign: async (job, attemptId) => {
      const spec = storeFor(job.spec, config)
      return spec === null ? null : signer.hold(spec, job.id, attemptId, clock())
    },
    gangObjects: async (job, attemptId) => {
      const spec = storeFor(job.spec, config)
      return spec === null ? null : signer.gang(spec, job.id, attemptId, clock())
    },
    workdir: async (job) => {
      const spec = storeFor(job.spec, config)
      const archive = job.spec.workdirArchive
      if (spec === null || !archive) return null
      const {getUrl} = await signer.workdirObject(spec, archive.sha256, clock())
      return {getUrl, sha256: archive.sha256}
    },
    putSecrets: async (job, attemptId, body, urlSeconds) => {
      const spec = storeFor(job.spec, config)
      if (spec === null) return null
      const object = await signer.secrets(spec, job.id, attemptId, clock(), urlSeconds)
      await client.request({
        method: 'PUT',
        url: object.putUrl,
        headers: {'content-type': CHECKPOINT_CONTENT_TYPE},
        body,
        idempotent: true,
      })
      return object
    },
    shipRef: (job) => {
      const spec = storeFor(job.spec, config)
      return spec === null ? null : {store: {url: spec.url, region: spec.region, endpoint: spec.endpoint}, segmentBytes: SHIP_SEGMENT_BYTES}
    },
    shipObjects: async (job, attemptId) => {
      const spec = storeFor(job.spec, config)
      if (spec === null) return null
      const signed = await signer.ship(spec, job.id, attemptId, clock(), job.spec.nodes ?? 1)
      await putShipList(signed)
      const interval = job.spec.usage?.sampleIntervalSeconds ?? 10
      return {
        manifestUrl: signed.getUrl,
        store: {url: spec.url, region: spec.region, endpoint: spec.endpoint},
        location: signed.location,
        segmentBytes: SHIP_SEGMENT_BYTES,
        expiresAt: signed.expiresAt,
        shipSeconds: Math.round(Math.min(SHIP_SECONDS.max, Math.max(SHIP_SECONDS.min, interval === 0 ? SHIP_SECONDS.max : interval))),
      }
    },
    renewShip: async (job, attemptId, store) => {
      const now = clock()
      const head = await client.request({
        url: await signer.shipListGet(store, job.id, attemptId, now),
        headers: {range: 'bytes=0-63'},
        accept: (status) => status === 200 || status === 206 || status === 404,
      })
      const was = head.status === 404 ? null : parseShipListHead(head.body)
      if (was === null) return null
      const at = (seconds: number) => new Date(seconds * 1000).toISOString()
      const due = was.issued + SHIP_RENEW_AT * (was.expires - was.issued)
      if (now.getTime() / 1000 < due) return {renewed: false, expiresAt: at(was.expires), nextAt: at(due)}
      const signed = await signer.ship({...store, syncIntervalSeconds: null}, job.id, attemptId, now, job.spec.nodes ?? 1)
      const expires = Date.parse(signed.expiresAt) / 1000
      // Credentials that sign no further than the list's own end (temporary ones not yet
      // refreshed) would only rewrite the same deadline: looked at again in a minute.
      if (expires <= was.expires)
        return {renewed: false, expiresAt: at(was.expires), nextAt: new Date(now.getTime() + 60_000).toISOString()}
      await putShipList(signed)
      const issued = now.getTime() / 1000
      return {renewed: true, expiresAt: signed.expiresAt, nextAt: at(Math.ceil(issued + SHIP_RENEW_AT * (expires - issued)))}
    },
    transfers: async (job, attemptId, shared) => {
      const {signTransfers} = await import('./transfers.js')
      return signTransfers(job.spec, job.id, attemptId, {store: storeFor(job.spec, config), signer, now: clock(), shared, client})
    },
    deleteSecrets: async (job, attemptId) => {
      const spec = storeFor(job.spec, config)
      if (spec === null) return
      const {deleteUrl} = await signer.secrets(spec, job.id, attemptId, clock())
      await client.request({method: 'DELETE', url: deleteUrl, idempotent: true})
    },
    deleteTransfers: async (job, attemptId) => {
      const spec = storeFor(job.spec, config)
      if (spec === null) return
      const now = clock()
      // The ship list's signed PUTs (output.log and samples segments) live as long as the
      // store's credentials sign (up to 7 days): nothing reads the list once the attempt is
      // released (logs are read by URLs signed for the read). A launch that failed before its
      // list was written leaves none: GCS answers that DELETE 404.
      await client.request({
        method: 'DELETE',
        url: await signer.shipListDelete(spec, job.id, attemptId, now),
        idempotent: true,
        accept: (status) => (status >= 200 && status < 300) || status === 404,
      })
      const {hasTransfers} = await import('./transfers.js')
      if (!hasTransfers(job.spec)) return
      await client.request({method: 'DELETE', url: await signer.transfersDelete(spec, job.id, attemptId, now), idempotent: true})
    },
    deleteGang: async (job, attemptId) => {
      const spec = storeFor(job.spec, config)
      if (spec === null) return
      const urls = await signer.gangDeletes(spec, job.id, attemptId, clock(), (job.spec.nodes ?? 1) > 1)
      // Each is tried: one refused leaves the others no reason to stay.
      const done = await Promise.allSettled(urls.map((url) => client.request({method: 'DELETE', url, idempotent: true})))
      const failed = done.find((d): d is PromiseRejectedResult => d.status === 'rejected')
      if (failed) throw failed.reason
    },
    release: async (urls) => {
      await client.request({
        method: 'PUT',
        url: urls.putUrl,
        headers: {'content-type': CHECKPOINT_CONTENT_TYPE},
        body: `go ${clock().toISOString()}\n`,
        idempotent: true,
      })
    },
  }
}

/**
 * Reads back what cloud attempts shipped (AttemptObjectReader), for the VM providers: a
 * ranged GET of one segment, signed for the read. A segment that is not there is null.
 */
export function attemptObjectReaderFor(
  client: Pick<HttpClient, 'request'>,
  signer = new CheckpointSigner(),
  clock: () => Date = () => new Date(),
): AttemptObjectReader {
  return {
    async segment(store, jobId, attemptId, file, index, from = 0, rank = 0) {
      const url = await signer.segmentGet(store, jobId, attemptId, file, index, clock(), rank)
      const res = await client.request({
        url,
        ...(from > 0 ? {headers: {range: `bytes=${from}-`}} : {}),
        // 404: not shipped (yet); 416: nothing past `from`.
        accept: (status) => (status >= 200 && status < 300) || status === 404 || status === 416,
        bodyEncoding: 'latin1',
      })
      if (res.status === 404) return null
      if (res.status === 416) return Buffer.alloc(0)
      const body = Buffer.from(res.body, 'latin1')
      // A store that ignored the range sent the whole object.
      return res.status === 200 && from > 0 ? body.subarray(from) : body
    },
  }
}
