import {expect} from 'chai'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {
  CheckpointSigner,
  MAX_URL_SECONDS,
  SECRETS_URL_SECONDS,
  checkpointKey,
  checkpointSyncFor,
  parseStoreUrl,
} from '../../../src/checkpoint/checkpoint-store.js'
import {loadConfig} from '../../../src/config.js'
import {InvalidFileError, ProviderError, UsageError} from '../../../src/errors.js'
import type {CheckpointStoreSpec} from '../../../src/model/job-spec.js'
import {redact} from '../../../src/util/redact.js'
import {testJobSpec} from '../../helpers/job-spec.js'

const NOW = new Date('2026-11-28T00:00:00Z')
const AWS_ENV = {
  AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  AWS_EC2_METADATA_DISABLED: 'true',
}
const store = (url: string, region = 'us-east-1', endpoint: string | null = null): CheckpointStoreSpec => ({
  url,
  region,
  endpoint,
  syncIntervalSeconds: null,
})

describe('checkpoint store', () => {
  it('reads s3, oss, cos and obs URLs; the prefix may be empty', () => {
    expect(parseStoreUrl(store('s3://my-bucket/team/ckpt/'))).to.deep.include({scheme: 's3', bucket: 'my-bucket', prefix: 'team/ckpt'})
    expect(parseStoreUrl(store('oss://b1', 'cn-hangzhou'))).to.deep.include({scheme: 'oss', bucket: 'b1', prefix: ''})
    expect(parseStoreUrl(store('cos://ckpt-1250000000/x', 'ap-guangzhou'))).to.deep.include({
      scheme: 'cos',
      bucket: 'ckpt-1250000000',
      prefix: 'x',
    })
    expect(parseStoreUrl(store('obs://b/x', 'cn-north-4'))).to.deep.include({scheme: 'obs', bucket: 'b', prefix: 'x'})
  })

  it('refuses other schemes, and a COS bucket without its APPID, saying what to write', () => {
    expect(() => parseStoreUrl(store('gs://b/x'))).to.throw(UsageError, /not a store URL/)
    expect(() => parseStoreUrl(store('cos://ckpt/x', 'ap-guangzhou'))).to.throw(UsageError, /BUCKET-APPID/)
  })

  it('keeps one archive per job under the prefix', () => {
    expect(checkpointKey(parseStoreUrl(store('s3://b/p/q')), 'job-1')).to.equal('p/q/job-1/checkpoint.tar')
    expect(checkpointKey(parseStoreUrl(store('s3://b')), 'job-1')).to.equal('job-1/checkpoint.tar')
  })

  it('signs a GET and a PUT for the job, for seven days, and registers both for redaction', async () => {
    const signer = new CheckpointSigner({env: AWS_ENV, homeDir: '/nonexistent'})
    const sync = await signer.sync(store('s3://b/p', 'us-east-1', 'http://127.0.0.1:9'), 'job-1', {
      now: NOW,
      checkpointIntervalSeconds: 600,
    })
    expect(sync.location).to.equal('s3://b/p/job-1/checkpoint.tar')
    expect(sync.getUrl).to.match(/^http:\/\/127\.0\.0\.1:9\/b\/p\/job-1\/checkpoint\.tar\?/)
    expect(sync.getUrl).to.include(`X-Amz-Expires=${MAX_URL_SECONDS}`)
    expect(sync.putUrl).to.not.equal(sync.getUrl)
    expect(sync.expiresAt).to.equal('2026-12-05T00:00:00.000Z')
    // The job's checkpoint interval sets the copy cadence when the store names none.
    expect(sync.syncSeconds).to.equal(600)
    const signature = new URL(sync.putUrl).searchParams.get('X-Amz-Signature')!
    expect(redact(`curl ${sync.putUrl}`)).to.not.include(signature)
  })

  it('signs a gang’s objects under the job’s gangs/ATTEMPT prefix, a GET and a PUT each, all registered for redaction', async () => {
    const signer = new CheckpointSigner({env: AWS_ENV, homeDir: '/nonexistent'})
    const gang = await signer.gang(store('s3://b/p', 'us-east-1', 'http://127.0.0.1:9'), 'job-1', 'att-1', NOW)
    expect(gang.location).to.equal('s3://b/p/job-1/gangs/att-1/')
    const objects = {nodeIps: 'node-ips', nodeIds: 'node-ids', notice: 'notice', runner: 'skyhop-runner.sh'} as const
    for (const [field, name] of Object.entries(objects)) {
      const {getUrl, putUrl} = gang[field as keyof typeof objects]
      expect(getUrl.startsWith(`http://127.0.0.1:9/b/p/job-1/gangs/att-1/${name}?`), getUrl).to.equal(true)
      expect(putUrl.startsWith(`http://127.0.0.1:9/b/p/job-1/gangs/att-1/${name}?`), putUrl).to.equal(true)
      expect(getUrl).to.not.equal(putUrl)
      for (const url of [getUrl, putUrl]) expect(redact(`curl ${url}`)).to.not.include(new URL(url).searchParams.get('X-Amz-Signature')!)
    }
  })

  it('signs a cloud attempt’s secrets object under secrets/ATTEMPT: PUT, GET and DELETE, for an hour, registered for redaction', async () => {
    const signer = new CheckpointSigner({env: AWS_ENV, homeDir: '/nonexistent'})
    const object = await signer.secrets(store('s3://b/p', 'us-east-1', 'http://127.0.0.1:9'), 'job-1', 'att-1', NOW)
    expect(object.location).to.equal('s3://b/p/job-1/secrets/att-1')
    const urls = [object.putUrl, object.getUrl, object.deleteUrl]
    expect(new Set(urls).size).to.equal(3)
    for (const url of urls) {
      expect(url.startsWith('http://127.0.0.1:9/b/p/job-1/secrets/att-1?'), url).to.equal(true)
      expect(new URL(url).searchParams.get('X-Amz-Expires')).to.equal(String(SECRETS_URL_SECONDS))
      expect(redact(`curl ${url}`)).to.not.include(new URL(url).searchParams.get('X-Amz-Signature')!)
    }
    expect(SECRETS_URL_SECONDS).to.equal(3600)
  })

  it('signs DELETEs of an attempt’s gang objects: all four for a gang, only the runner for one node, short-lived and redacted', async () => {
    const signer = new CheckpointSigner({env: AWS_ENV, homeDir: '/nonexistent'})
    const spec = store('s3://b/p', 'us-east-1', 'http://127.0.0.1:9')
    const paths = (urls: string[]) => urls.map((u) => new URL(u).pathname)
    const gang = await signer.gangDeletes(spec, 'job-1', 'att-1', NOW, true)
    expect(paths(gang)).to.deep.equal(['node-ips', 'node-ids', 'notice', 'skyhop-runner.sh'].map((n) => `/b/p/job-1/gangs/att-1/${n}`))
    expect(paths(await signer.gangDeletes(spec, 'job-1', 'att-1', NOW, false))).to.deep.equal(['/b/p/job-1/gangs/att-1/skyhop-runner.sh'])
    for (const url of gang) {
      expect(new URL(url).searchParams.get('X-Amz-Expires')).to.equal('600')
      expect(redact(`curl ${url}`)).to.not.include(new URL(url).searchParams.get('X-Amz-Signature')!)
    }
    // The same keys the launch signed its PUTs for.
    const objects = await signer.gang(spec, 'job-1', 'att-1', NOW)
    const put = [objects.nodeIps, objects.nodeIds, objects.notice, objects.runner].map((o) => new URL(o.putUrl).pathname)
    expect(paths(gang)).to.deep.equal(put)
  })

  it('signs the session token of temporary credentials into the URL', async () => {
    const sync = await new CheckpointSigner({env: {...AWS_ENV, AWS_SESSION_TOKEN: 'token-123456'}, homeDir: '/nonexistent'}).sync(
      store('s3://b'),
      'j',
      {
        now: NOW,
        checkpointIntervalSeconds: null,
      },
    )
    expect(new URL(sync.getUrl).searchParams.get('X-Amz-Security-Token')).to.equal('token-123456')
    expect(new URL(sync.getUrl).host).to.equal('b.s3.amazonaws.com')
  })

  it('a missing credential is an auth error naming the store cloud, before any job exists', async () => {
    const sync = checkpointSyncFor(
      {checkpointStore: store('oss://b/p', 'cn-hangzhou')},
      new CheckpointSigner({env: {}, homeDir: '/nonexistent'}),
    )
    const job = {id: 'j', spec: testJobSpec({name: 'x', run: 'true'})}
    const error = await sync(job).then(
      () => null,
      (e: unknown) => e,
    )
    expect(error).to.be.instanceOf(ProviderError)
    expect((error as ProviderError).provider).to.equal('aliyun')
    expect((error as ProviderError).category).to.equal('auth')
  })

  it('the job file store wins over the config one; neither means no store', async () => {
    const signer = new CheckpointSigner({env: AWS_ENV, homeDir: '/nonexistent'})
    const sync = checkpointSyncFor({checkpointStore: store('s3://config-bucket')}, signer, () => NOW)
    const plain = {id: 'j', spec: testJobSpec({name: 'x', run: 'true'})}
    expect((await sync(plain))!.location).to.equal('s3://config-bucket/j/checkpoint.tar')
    const own = {
      id: 'j',
      spec: testJobSpec({name: 'x', run: 'true', checkpoint: {dir: null, intervalSeconds: null, store: store('s3://job-bucket/p')}}),
    }
    expect((await sync(own))!.location).to.equal('s3://job-bucket/p/j/checkpoint.tar')
    expect(await checkpointSyncFor({checkpointStore: null}, signer)(plain)).to.equal(null)
  })

  it('reads the default store from the config, and refuses a bad one with the file and field', () => {
    const home = mkdtempSync(join(tmpdir(), 'skyhop-ckpt-config-'))
    writeFileSync(join(home, 'config.yaml'), 'checkpoint_store: {url: obs://ckpt/skyhop, region: cn-north-4, sync_interval: 90s}\n')
    expect(loadConfig(home).checkpointStore).to.deep.equal({
      url: 'obs://ckpt/skyhop',
      region: 'cn-north-4',
      endpoint: null,
      syncIntervalSeconds: 90,
    })
    writeFileSync(join(home, 'config.yaml'), 'checkpoint_store: {url: obs://ckpt/skyhop, region: cn-north-4, sync_interval: soon}\n')
    expect(() => loadConfig(home)).to.throw(InvalidFileError, /checkpoint_store\/sync_interval/)
    writeFileSync(join(home, 'config.yaml'), 'checkpoint_store: {url: "ftp://ckpt/x", region: cn-north-4}\n')
    expect(() => loadConfig(home)).to.throw(InvalidFileError, /checkpoint_store\/url/)
  })
})
