// A files: source ending in / copies every object under it: launch lists the prefix page by
// page against a fake store that checks each cloud's signature (ListObjectsV2 with
// continuation tokens on S3 and OSS, ListObjects with markers on COS and OBS), keeps each
// object's key, size and ETag, and each attempt's list gets one signed GET per object, at
// DEST/REST OF KEY. An empty prefix, a prefix past the cap, a key that cannot be a path and a
// store that refuses are each refused before anything is recorded.
import {expect} from 'chai'
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'

import {CheckpointSigner} from '../../../src/checkpoint/checkpoint-store.js'
import {findFileObjects, signTransfers} from '../../../src/checkpoint/transfers.js'
import {ProviderError, UsageError} from '../../../src/errors.js'
import {HttpClient} from '../../../src/http/client.js'
import {createDispatcher} from '../../../src/http/dispatcher.js'
import type {BucketScheme, FileObject, JobSpec} from '../../../src/model/job-spec.js'
import {FakeObjectStore} from '../../fakes/fake-object-store.js'
import type {ObjectStoreDialect} from '../../fakes/fake-object-store-dialect.js'
import {cosDialect} from '../../fakes/fake-cos-dialect.js'
import {gcsDialect} from '../../fakes/fake-gcs-dialect.js'
import {obsDialect} from '../../fakes/fake-obs-dialect.js'
import {ossDialect} from '../../fakes/fake-oss-dialect.js'
import {s3Dialect} from '../../fakes/fake-s3-dialect.js'

const KEYS = {
  s3: {id: 'AKIAFAKEPREFIX000001', secret: 'fake/Prefix+Key/ForTests0000000000000001'},
  oss: {id: 'LTAI5tFakePrefix0001', secret: 'fakeOssPrefixSecretForTests001'},
  cos: {id: 'AKIDfakeTencentPrefix01', secret: 'fakeTencentPrefixSecretKey000001'},
  obs: {id: 'HWFAKEPREFIXAK000001', secret: 'fakeHuaweiPrefixSecretKey0000001'},
}
// Google's published dummy service account (test/data/signing/gcs-v4): the fake verifies with its public half.
const GCS_KEY_FILE = resolve('test', 'data', 'signing', 'gcs-v4', 'service-account.json')
const GCS_ACCOUNT = JSON.parse(readFileSync(GCS_KEY_FILE, 'utf8')) as {client_email: string; private_key: string}

const WORLDS: Record<BucketScheme, {dialect: ObjectStoreDialect; env: Record<string, string>; region: string; bucket: string}> = {
  s3: {
    dialect: s3Dialect({[KEYS.s3.id]: KEYS.s3.secret}),
    env: {AWS_ACCESS_KEY_ID: KEYS.s3.id, AWS_SECRET_ACCESS_KEY: KEYS.s3.secret, AWS_EC2_METADATA_DISABLED: 'true'},
    region: 'us-east-1',
    bucket: 'datasets',
  },
  oss: {
    dialect: ossDialect({[KEYS.oss.id]: KEYS.oss.secret}),
    env: {ALIBABA_CLOUD_ACCESS_KEY_ID: KEYS.oss.id, ALIBABA_CLOUD_ACCESS_KEY_SECRET: KEYS.oss.secret},
    region: 'cn-hangzhou',
    bucket: 'datasets',
  },
  cos: {
    dialect: cosDialect({[KEYS.cos.id]: KEYS.cos.secret}),
    env: {TENCENTCLOUD_SECRET_ID: KEYS.cos.id, TENCENTCLOUD_SECRET_KEY: KEYS.cos.secret},
    region: 'ap-guangzhou',
    bucket: 'datasets-1250000000',
  },
  gs: {
    dialect: gcsDialect({[GCS_ACCOUNT.client_email]: GCS_ACCOUNT.private_key}),
    env: {GOOGLE_APPLICATION_CREDENTIALS: GCS_KEY_FILE},
    region: 'auto',
    bucket: 'datasets',
  },
  obs: {
    dialect: obsDialect({[KEYS.obs.id]: KEYS.obs.secret}),
    env: {HUAWEICLOUD_SDK_AK: KEYS.obs.id, HUAWEICLOUD_SDK_SK: KEYS.obs.secret},
    region: 'cn-north-4',
    bucket: 'datasets',
  },
}

const client = new HttpClient({provider: 'aws', dispatcher: createDispatcher(), timeoutMs: 10_000, retry: {retries: 0}})

async function world(scheme: keyof typeof WORLDS, pageSize = 2) {
  const w = WORLDS[scheme]
  const fake = new FakeObjectStore({dialect: w.dialect, listPageSize: pageSize})
  await fake.start()
  const signer = new CheckpointSigner({env: w.env, homeDir: '/nonexistent'})
  const put = (key: string, body: string) =>
    fake.objects.set(`${w.bucket}/${key}`, {body: Buffer.from(body), contentType: null, storedAt: new Date()})
  const spec = (source: string): Pick<JobSpec, 'files' | 'fileObjects' | 'outputs'> => ({
    files: [
      {
        path: '/data/set',
        mode: 'copy',
        source: {kind: 'bucket', scheme, bucket: w.bucket, key: source, region: w.region, endpoint: fake.endpoint},
      },
    ],
  })
  return {fake, signer, put, spec, bucket: w.bucket}
}

async function refusal(promise: Promise<unknown>): Promise<UsageError | ProviderError> {
  try {
    await promise
  } catch (error) {
    // By shape: a class reached through a dynamic import (the signer loads a cloud's credentials
    // lazily) can be another instance of the same module under the test loader.
    if (error instanceof Error && typeof (error as UsageError).exitCode === 'number' && typeof (error as UsageError).code === 'string')
      return error as UsageError | ProviderError
    throw error
  }
  throw new Error('expected a refusal')
}

describe('files: a bucket prefix copied whole', () => {
  for (const scheme of ['s3', 'oss', 'cos', 'obs', 'gs'] as const) {
    it(`${scheme}: lists every object under the prefix page by page, signed as ${scheme} signs, and signs a GET of each into the tree`, async () => {
      const {fake, signer, put, spec} = await world(scheme)
      try {
        put('shards/a.bin', 'A'.repeat(10))
        put('shards/b.bin', 'B'.repeat(20))
        put('shards/sub/c.bin', 'C'.repeat(30))
        put('shards/sub/deeper/d e.txt', 'D')
        put('shards/sub/', '') // a folder marker, as the consoles make them
        put('shards-other/x', 'not under the prefix')
        put('other/y', 'not under the prefix')
        const s = spec('shards/')
        const found = await findFileObjects(s, null, signer, client, new Date())
        expect(found.map((o) => [o.path, o.key, o.bytes])).to.deep.equal([
          ['/data/set/a.bin', 'shards/a.bin', 10],
          ['/data/set/b.bin', 'shards/b.bin', 20],
          ['/data/set/sub/c.bin', 'shards/sub/c.bin', 30],
          ['/data/set/sub/deeper/d e.txt', 'shards/sub/deeper/d e.txt', 1],
        ])
        expect(found.every((o) => o.entry === '/data/set' && /^[0-9a-f]{32}$/.test(o.etag!) && o.md5 === false)).to.equal(true)
        // Five keys under the prefix at two a page: three pages, each continued from the last.
        expect(fake.listed.map((p) => p.keys.length)).to.deep.equal([2, 2, 1])
        expect(fake.requests.filter((r) => r.key === '').map((r) => r.status)).to.deep.equal([200, 200, 200])

        const t = await signTransfers({...s, fileObjects: found}, 'job-1', 'att-1', {store: null, signer, now: new Date(), shared: true})
        const lines = t!.list
          .trimEnd()
          .split('\n')
          .map((l) => l.split('\t'))
        expect(lines.map((l) => l.slice(0, 3))).to.deep.equal([
          ['get', '/data/set/a.bin', '10'],
          ['get', '/data/set/b.bin', '20'],
          ['get', '/data/set/sub/c.bin', '30'],
          ['get', '/data/set/sub/deeper/d e.txt', '1'],
        ])
        // Each URL is one the store takes, for exactly its object.
        for (const [i, line] of lines.entries()) {
          const res = await fetch(line[4])
          expect(res.status, line[4]).to.equal(200)
          expect((await res.text()).length).to.equal([10, 20, 30, 1][i])
        }
        expect(t!.list).to.not.include(scheme === 'gs' ? 'PRIVATE KEY' : KEYS[scheme].secret)
      } finally {
        await fake.stop()
      }
    })
  }

  it('oss: the continuation token is signed (a sub-resource), so a URL with another token is refused', async () => {
    const {fake, signer, put} = await world('oss')
    try {
      for (const k of ['p/1', 'p/2', 'p/3']) put(k, k)
      const target = {url: 'oss://datasets', region: 'cn-hangzhou', endpoint: fake.endpoint}
      const url = await signer.listUrl(
        target,
        [
          ['list-type', '2'],
          ['prefix', 'p/'],
          ['continuation-token', Buffer.from('p/1').toString('base64url')],
        ],
        new Date(),
      )
      expect((await fetch(url)).status).to.equal(200)
      const swapped = url.replace(/continuation-token=[^&]+/, `continuation-token=${Buffer.from('p/2').toString('base64url')}`)
      expect((await fetch(swapped)).status).to.equal(403)
    } finally {
      await fake.stop()
    }
  })

  it('refuses an empty prefix, a prefix past the cap, a key that cannot be a path, and a file that is also a folder (exit 2)', async () => {
    const {fake, signer, put, spec} = await world('s3')
    try {
      put('set/a', 'a')
      put('set/b', 'b')
      put('set/c', 'c')
      const empty = await refusal(findFileObjects(spec('nothing-here/'), null, signer, client, new Date()))
      expect([empty.code, empty.exitCode]).to.deep.equal(['FILES_PREFIX_EMPTY', 2])
      expect(empty.message).to.equal(`files: /data/set: nothing under s3://datasets/nothing-here/ to copy`)

      const many = await refusal(findFileObjects(spec('set/'), null, signer, client, new Date(), {objects: 2, bytes: 1e12}))
      expect([many.code, many.exitCode]).to.deep.equal(['FILES_PREFIX_TOO_LARGE', 2])
      expect(many.message).to.include('s3://datasets/set/ holds more than 2 objects')
      expect(many.hint).to.include('mode: mount')
      const big = await refusal(findFileObjects(spec('set/'), null, signer, client, new Date(), {objects: 100, bytes: 2}))
      expect(big.code).to.equal('FILES_PREFIX_TOO_LARGE')

      put('set/../escape', 'x')
      const unsafe = await refusal(findFileObjects(spec('set/'), null, signer, client, new Date()))
      expect([unsafe.code, unsafe.exitCode]).to.deep.equal(['FILES_KEY_UNSAFE', 2])
      expect(unsafe.message).to.include('s3://datasets/set/../escape cannot be placed under /data/set')
      fake.objects.delete('datasets/set/../escape')

      put('set/a/inner', 'x')
      const clash = await refusal(findFileObjects(spec('set/'), null, signer, client, new Date()))
      expect(clash.code).to.equal('FILES_KEY_UNSAFE')
      expect(clash.message).to.include('/data/set/a would be both a file and the directory holding /data/set/a/inner')
    } finally {
      await fake.stop()
    }
  })

  it('a store that refuses (403) or fails (503) the listing is the provider’s error (exit 4), its URL never in the message', async () => {
    const {fake, signer, put, spec} = await world('s3')
    try {
      put('set/a', 'a')
      fake.failNext(1, 403, 'AccessDenied', /^$/, 'GET')
      const denied = await refusal(findFileObjects(spec('set/'), null, signer, client, new Date()))
      expect([denied.code, denied.exitCode]).to.deep.equal(['FILES_FETCH_FAILED', 4])
      expect(denied.message).to.include('files: /data/set: listing s3://datasets/set/ failed')
      expect(denied.message).to.not.include('X-Amz-Signature')
      fake.failNext(1, 503, 'ServiceUnavailable', /^$/, 'GET')
      const down = await refusal(findFileObjects(spec('set/'), null, signer, client, new Date()))
      expect(down.exitCode).to.equal(4)
      // A bucket that does not exist answers the LIST 404 NoSuchBucket: the user's (exit 2).
      fake.failNext(1, 404, 'NoSuchBucket', /^$/, 'GET')
      const gone = await refusal(findFileObjects(spec('set/'), null, signer, client, new Date()))
      expect([gone.code, gone.exitCode, gone.message]).to.deep.equal([
        'FILE_OBJECT_MISSING',
        2,
        'files: /data/set: the bucket s3://datasets does not exist',
      ])
    } finally {
      await fake.stop()
    }
  })

  it('an attempt signed for a prefix the launch did not list is refused, not run without its files', async () => {
    const {fake, signer, spec} = await world('s3')
    try {
      const none: FileObject[] = []
      const e = await refusal(
        signTransfers({...spec('set/'), fileObjects: none}, 'j', 'a', {store: null, signer, now: new Date(), shared: true}),
      )
      expect(e.code).to.equal('FILES_NOT_RESOLVED')
    } finally {
      await fake.stop()
    }
  })

  it('gs://: one object HEADed and got, an output PUT, each signed V4 with the service account; a login that holds no key is refused', async () => {
    const {fake, signer, put} = await world('gs')
    try {
      put('models/w.bin', 'W'.repeat(64))
      const ref = {kind: 'bucket' as const, scheme: 'gs' as const, bucket: 'datasets', region: null, endpoint: fake.endpoint}
      const spec: Pick<JobSpec, 'files' | 'fileObjects' | 'outputs'> = {
        files: [{path: '/m/w.bin', mode: 'copy', source: {...ref, key: 'models/w.bin'}}],
        outputs: [{path: '/m/results', to: {...ref, key: 'runs/7'}}],
      }
      const found = await findFileObjects(spec, null, signer, client, new Date())
      expect(found).to.deep.equal([{path: '/m/w.bin', bytes: 64, etag: found[0].etag, md5: true}])
      const t = await signTransfers({...spec, fileObjects: found}, 'job-1', 'att-1', {store: null, signer, now: new Date(), shared: true})
      const [get, out] = t!.list
        .trimEnd()
        .split('\n')
        .map((l) => l.split('\t'))
      expect(get[4]).to.match(/\/datasets\/models\/w\.bin\?X-Goog-Algorithm=GOOG4-RSA-SHA256&/)
      expect((await fetch(get[4])).status).to.equal(200)
      // The runner's upload: a PUT with the content type it always sends, which the URL does not sign.
      const up = await fetch(out[2], {method: 'PUT', body: 'tar-bytes', headers: {'content-type': 'application/octet-stream'}})
      expect(up.status).to.equal(200)
      expect(fake.object('datasets', 'runs/7/results.tar')!.body.toString()).to.equal('tar-bytes')
      // A URL for one object does not open another.
      expect((await fetch(get[4].replace('w.bin', 'x.bin'))).status).to.equal(403)
    } finally {
      await fake.stop()
    }
    const home = mkdtempSync(join(tmpdir(), 'skyhop-gcs-'))
    const login = join(home, 'adc.json')
    writeFileSync(login, JSON.stringify({type: 'authorized_user', client_id: 'c', client_secret: 's', refresh_token: 'r'}))
    const userSigner = new CheckpointSigner({env: {GOOGLE_APPLICATION_CREDENTIALS: login}, homeDir: home})
    const e = await refusal(userSigner.objectUrl({url: 'gs://b', region: 'auto', endpoint: null}, 'GET', 'k', new Date()))
    expect([e.code, e.exitCode]).to.deep.equal(['PROVIDER_BAD_CREDENTIALS', 4])
    expect(e.message).to.include('authorized-user login, which holds no key to sign Cloud Storage URLs')
  })
})
