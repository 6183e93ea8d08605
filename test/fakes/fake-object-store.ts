// A FAKE object store for tests: S3, OSS, COS or OBS as far as presigned GET (whole, or from a
// byte on), HEAD, PUT and DELETE of one object go, and the LIST of a bucket's keys under a
// prefix (GET ENDPOINT/BUCKET/: ListObjectsV2 with `list-type=2` and continuation tokens, as S3
// and OSS serve it; ListObjects with `marker` otherwise, as COS and OBS do), path-style
// (ENDPOINT/BUCKET/KEY), objects in memory. The dialect checks every request's presigned query
// as its cloud does and writes the cloud's error documents; without a dialect every request is allowed (runner tests that are about the
// transfer, not the signature). Faults can be injected per request.
import {createHash, randomBytes} from 'node:crypto'
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'

import {parseQueryString} from '../../src/clouds/common/signing-util.js'
import type {ObjectStoreDialect} from './fake-object-store-dialect.js'

export interface StoredObject {
  body: Buffer
  contentType: string | null
  storedAt: Date
  /**
   * An object listed and HEADed at this size without its bytes held (a 50 GB dataset for a
   * plan's egress); a GET of it is answered 501, as nothing here could serve it.
   */
  size?: number
}

export interface ObjectStoreRequestLog {
  method: string
  bucket: string
  key: string
  status: number
}

export class FakeObjectStore {
  readonly objects = new Map<string, StoredObject>()
  readonly requests: ObjectStoreRequestLog[] = []
  /** Each LIST page served, in order. */
  readonly listed: ListPage[] = []
  /** Answers the next N requests with this status (e.g. 503) before serving normally. */
  private faults: Array<{status: number; code: string; key?: RegExp; method?: string}> = []
  private server: Server | null = null
  private url = ''

  /**
   * `ignoreConditions`: answers If-Match as an S3-compatible store that does not implement it
   * (serves the object whatever its ETag), so a test reaches the runner's own MD5 check.
   */
  /**
   * `listPageSize`: the most keys one LIST answers (the stores' own cap is 1,000, and a request's
   * `max-keys` lowers it), so a test reaches the continuation with few objects.
   */
  constructor(
    private readonly options: {dialect?: ObjectStoreDialect; now?: () => Date; ignoreConditions?: boolean; listPageSize?: number} = {},
  ) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        res.writeHead(500).end(String(error))
      })
    })
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve))
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
    return this.url
  }

  async stop(): Promise<void> {
    if (!this.server) return
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server!.close(() => resolve()))
    this.server = null
  }

  /** The endpoint (base URL) to configure as the store's `endpoint`. */
  get endpoint(): string {
    return this.url
  }

  /** The next `count` requests (to keys matching `key`, of `method`, when given) get this status. */
  failNext(count: number, status = 503, code = 'ServiceUnavailable', key?: RegExp, method?: string): void {
    for (let i = 0; i < count; i++) this.faults.push({status, code, ...(key ? {key} : {}), ...(method ? {method} : {})})
  }

  /**
   * The LIST of a bucket: keys in UTF-8 byte order after the prefix's start, a page at a time.
   * V2 (`list-type=2`, S3's ListObjectsV2 and OSS's GetBucketV2) continues by an opaque
   * NextContinuationToken; V1 (ListObjects, COS's and OBS's GET Bucket) by NextMarker, the
   * last key of the page. The body is the stores' ListBucketResult, the ETag quoted as
   * `&quot;…&quot;` as S3 writes it.
   */
  private list(bucket: string, query: Array<[string, string]>, answer: Answer): void {
    const param = (name: string) => query.find(([k]) => k === name)?.[1]
    const v2 = param('list-type') === '2'
    if (param('list-type') !== undefined && !v2) return answer(400, 'InvalidArgument', 'Invalid List Type specified')
    const prefix = param('prefix') ?? ''
    const token = param('continuation-token')
    const marker = param('marker')
    if (v2 && marker !== undefined) return answer(400, 'InvalidArgument', 'Marker unsupported with REST.GET.BUCKET in list-type=2')
    if (!v2 && token !== undefined)
      return answer(400, 'InvalidArgument', 'continuation-token only supported in REST.GET.BUCKET with list-type=2')
    let after = marker ?? ''
    if (token !== undefined) {
      after = Buffer.from(token, 'base64url').toString('utf8')
      if (token === '' || after === '') return answer(400, 'InvalidArgument', 'The continuation token provided is incorrect')
    }
    const maxKeys = Math.min(Number(param('max-keys') ?? 1000), this.options.listPageSize ?? 1000, 1000)
    const all = [...this.objects.keys()]
      .filter((id) => id.startsWith(`${bucket}/`))
      .map((id) => id.slice(bucket.length + 1))
      .filter((k) => k.startsWith(prefix) && Buffer.compare(Buffer.from(k), Buffer.from(after)) > 0)
      .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    const page = all.slice(0, maxKeys)
    const truncated = all.length > page.length
    this.listed.push({keys: page, truncated})
    const contents = page.map((k) => {
      const o = this.objects.get(`${bucket}/${k}`)!
      return `<Contents><Key>${xml(k)}</Key><LastModified>${o.storedAt.toISOString()}</LastModified><ETag>${xml(etagOf(o.body))}</ETag><Size>${o.size ?? o.body.length}</Size><StorageClass>STANDARD</StorageClass></Contents>`
    })
    const next = truncated
      ? v2
        ? `<NextContinuationToken>${Buffer.from(page.at(-1)!).toString('base64url')}</NextContinuationToken>`
        : `<NextMarker>${xml(page.at(-1)!)}</NextMarker>`
      : ''
    const head = v2
      ? `<KeyCount>${page.length}</KeyCount>${token === undefined ? '' : `<ContinuationToken>${xml(token)}</ContinuationToken>`}`
      : `<Marker>${xml(marker ?? '')}</Marker>`
    const body =
      `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
      `<Name>${xml(bucket)}</Name><Prefix>${xml(prefix)}</Prefix>${head}<MaxKeys>${maxKeys}</MaxKeys>` +
      `<IsTruncated>${truncated}</IsTruncated>${next}${contents.join('')}</ListBucketResult>`
    answer(200, null, '', {body: Buffer.from(body), contentType: 'application/xml'})
  }

  object(bucket: string, key: string): StoredObject | undefined {
    return this.objects.get(`${bucket}/${key}`)
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = req.url ?? '/'
    const q = raw.indexOf('?')
    const rawPath = q === -1 ? raw : raw.slice(0, q)
    const query = q === -1 ? [] : parseQueryString(raw.slice(q + 1))
    const [bucket, ...rest] = rawPath.slice(1).split('/')
    const key = rest.map((s) => decodeURIComponent(s)).join('/')
    const body = await readBody(req)
    const answer = (status: number, code: string | null, message = '', extra?: {body: Buffer; contentType: string}) => {
      this.requests.push({method: req.method ?? '', bucket, key, status})
      if (extra) {
        res.writeHead(status, {'content-type': extra.contentType, 'content-length': extra.body.length}).end(extra.body)
        return
      }
      if (code === null) {
        res.writeHead(status).end()
        return
      }
      const doc = this.options.dialect?.errorBody({code, message}, randomBytes(8).toString('hex')) ?? {
        contentType: 'application/xml',
        body: `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`,
      }
      res.writeHead(status, {'content-type': doc.contentType}).end(doc.body)
    }
    const at = this.faults.findIndex((f) => (!f.key || f.key.test(key)) && (!f.method || f.method === req.method))
    const fault = at < 0 ? undefined : this.faults.splice(at, 1)[0]
    if (fault) return answer(fault.status, fault.code, 'injected fault')
    if (!bucket || (!key && req.method !== 'GET')) return answer(400, 'InvalidRequest', 'path-style BUCKET/KEY expected')
    const verdict = this.options.dialect?.verify(
      {method: req.method ?? '', host: req.headers.host ?? '', rawPath, query, headers: req.headers as Record<string, string | undefined>},
      (this.options.now ?? (() => new Date()))(),
    )
    if (verdict) return answer(verdict.status, verdict.code, verdict.message)
    const id = `${bucket}/${key}`
    if (req.method === 'PUT') {
      this.objects.set(id, {body, contentType: req.headers['content-type'] ?? null, storedAt: new Date()})
      res.setHeader('etag', etagOf(body))
      return answer(200, null)
    }
    if (req.method === 'HEAD') {
      // As the stores do: the object's headers, no body (an error status has no body either).
      const found = this.objects.get(id)
      this.requests.push({method: 'HEAD', bucket, key, status: found ? 200 : 404})
      if (!found) return void res.writeHead(404).end()
      res
        .writeHead(200, {
          'content-type': found.contentType ?? 'application/octet-stream',
          'content-length': found.size ?? found.body.length,
          etag: etagOf(found.body),
        })
        .end()
      return
    }
    if (req.method === 'GET' && key === '') return this.list(bucket, query, answer)
    if (req.method === 'GET') {
      const found = this.objects.get(id)
      if (!found) return answer(404, 'NoSuchKey', 'The specified key does not exist.')
      if (found.size !== undefined)
        return answer(501, 'NotImplemented', 'this fake lists the object by its size only and holds no bytes of it')
      // A conditional GET, as every store serves it: 412 PreconditionFailed when the ETag differs.
      const ifMatch = req.headers['if-match']
      if (!this.options.ignoreConditions && ifMatch !== undefined && ifMatch !== '*' && ifMatch !== etagOf(found.body))
        return answer(412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold')
      // A range from a byte to the end (`bytes=N-`) or to a byte (`bytes=N-M`, the last one
      // included), as every store serves it: 206 with that part, 416 InvalidRange when the
      // object has nothing from there on.
      const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '')
      if (range) {
        const from = Number(range[1])
        const to = range[2] === '' ? found.body.length : Math.min(found.body.length, Number(range[2]) + 1)
        if (from >= found.body.length || to <= from) return answer(416, 'InvalidRange', 'The requested range is not satisfiable')
        return answer(206, null, '', {body: found.body.subarray(from, to), contentType: found.contentType ?? 'application/octet-stream'})
      }
      return answer(200, null, '', {body: found.body, contentType: found.contentType ?? 'application/octet-stream'})
    }
    if (req.method === 'DELETE') {
      // DeleteObject (S3), DeleteObject (OSS), DELETE Object (COS, OBS): 204 No Content, a
      // missing key included; none of them says whether there was anything to delete.
      this.objects.delete(id)
      return answer(204, null)
    }
    return answer(405, 'MethodNotAllowed', `${req.method} is not served by this fake`)
  }
}

type Answer = (status: number, code: string | null, message?: string, extra?: {body: Buffer; contentType: string}) => void

export interface ListPage {
  keys: string[]
  truncated: boolean
}

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

/**
 * The ETag of each body, computed once: a store keeps it with the object, and hashing a 1 GB
 * archive again on every HEAD (bench/workdir's re-launch) made the benchmark time this fake.
 * Bodies are never changed in place, by the store or the tests.
 */
const ETAGS = new WeakMap<Buffer, string>()

/** A single-part upload's ETag, as S3, OSS, COS and OBS give it: the MD5 of the bytes, hex, quoted. */
function etagOf(body: Buffer): string {
  let etag = ETAGS.get(body)
  if (etag === undefined) ETAGS.set(body, (etag = `"${createHash('md5').update(body).digest('hex')}"`))
  return etag
}
