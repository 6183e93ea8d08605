// An attempt's list of transfers (files:, outputs:) as the runner reads it, and what launch
// refuses before anything is recorded: an output to a store the job does not have, a bucket
// whose region is unknown.
import {expect} from 'chai'

import {CheckpointSigner} from '../../../src/checkpoint/checkpoint-store.js'
import {bucketTarget, checkOutputs, isMd5Etag, signTransfers} from '../../../src/checkpoint/transfers.js'
import {UsageError} from '../../../src/errors.js'
import type {BucketRef, JobSpec} from '../../../src/model/job-spec.js'

const signer = new CheckpointSigner({
  env: {AWS_ACCESS_KEY_ID: 'AKIAFAKE000000000000', AWS_SECRET_ACCESS_KEY: 'fakesecret', AWS_EC2_METADATA_DISABLED: 'true'},
  homeDir: '/nonexistent',
})
const store = {url: 's3://ckpt/runs', region: 'us-east-1', endpoint: 'http://127.0.0.1:9', syncIntervalSeconds: null}
const bucket = (url: string, region: string | null = null): BucketRef => {
  const m = /^([a-z0-9]+):\/\/([^/]+)\/?(.*)$/.exec(url)!
  return {scheme: m[1] as 's3', bucket: m[2], key: m[3], region, endpoint: null}
}

function refused(fn: () => unknown): UsageError {
  try {
    fn()
  } catch (error) {
    expect(error).to.be.instanceOf(UsageError)
    expect((error as UsageError).exitCode).to.equal(2)
    return error as UsageError
  }
  throw new Error('expected a refusal')
}

describe('transfers of files: and outputs:', () => {
  it('writes one tab-separated line per transfer: copy, signed get with size and ETag, signed out', async () => {
    const spec: Pick<JobSpec, 'files' | 'fileObjects' | 'outputs'> = {
      files: [
        {path: '/m/vocab.txt', mode: 'copy', source: {kind: 'local', path: '/src/vocab.txt', directory: false}},
        {path: '/m/w.bin', mode: 'copy', source: {kind: 'bucket', ...bucket('s3://datasets/nlp/w.bin')}},
        {path: '/mnt/x', mode: 'mount', source: {kind: 'bucket', ...bucket('s3://datasets/x/')}},
      ],
      fileObjects: [{path: '/m/w.bin', bytes: 4096, etag: '0123456789ABCDEF0123456789ABCDEF', md5: true}],
      outputs: [
        {path: '/m/results', to: {kind: 'store'}},
        {path: '/m/logs', to: {kind: 'bucket', ...bucket('s3://out/run-1')}},
      ],
    }
    const t = await signTransfers(spec, 'job-1', 'att-1', {store, signer, now: new Date(), shared: true})
    const lines = t!.list
      .trimEnd()
      .split('\n')
      .map((l) => l.split('\t'))
    expect(t!.url).to.equal(null)
    expect(lines.map((l) => l.slice(0, 2))).to.deep.equal([
      ['copy', '/m/vocab.txt'],
      ['get', '/m/w.bin'],
      ['out', '/m/results'],
      ['out', '/m/logs'],
    ])
    expect(lines[0][2]).to.equal('/src/vocab.txt')
    expect(lines[1].slice(2, 4)).to.deep.equal(['4096', 'md5:0123456789abcdef0123456789abcdef'])
    // The bucket's region and endpoint are the store's (same kind); each URL is signed, no key in it.
    expect(lines[1][4]).to.match(/^http:\/\/127\.0\.0\.1:9\/datasets\/nlp\/w\.bin\?X-Amz-Algorithm=/)
    expect(lines[2][2]).to.match(/^http:\/\/127\.0\.0\.1:9\/ckpt\/runs\/job-1\/outputs\/results\.tar\?/)
    expect(lines[3][2]).to.match(/^http:\/\/127\.0\.0\.1:9\/out\/run-1\/logs\.tar\?/)
    expect(t!.list).to.not.include('fakesecret')
    // A mount is the boot script's, never the runner's list; a job with nothing to move has no list.
    expect(t!.list).to.not.include('/mnt/x')
    expect(await signTransfers({files: [spec.files![2]]}, 'j', 'a', {store, signer, now: new Date(), shared: true})).to.equal(null)
  })

  it('takes an ETag for the MD5 of the bytes only where it is one', () => {
    const md5 = '0123456789abcdef0123456789abcdef'
    expect(isMd5Etag(md5, {})).to.equal(true)
    expect(isMd5Etag(md5.toUpperCase(), {})).to.equal(true)
    expect(isMd5Etag(`${md5}-12`, {})).to.equal(false)
    expect(isMd5Etag(md5, {'x-amz-server-side-encryption': 'aws:kms'})).to.equal(false)
    expect(isMd5Etag(md5, {'x-amz-server-side-encryption': 'AES256'})).to.equal(true)
    expect(isMd5Etag(md5, {'x-amz-server-side-encryption-customer-algorithm': 'AES256'})).to.equal(false)
  })

  it('refuses at launch an output to a store the job does not have and a bucket of unknown region; gs:// needs no region', () => {
    expect(refused(() => checkOutputs({outputs: [{path: '/r', to: {kind: 'store'}}]}, null)).code).to.equal('OUTPUTS_NEED_STORE')
    expect(() => checkOutputs({outputs: [{path: '/r', to: {kind: 'bucket', ...bucket('gs://b/p')}}]}, store)).to.not.throw()
    expect(bucketTarget(bucket('gs://b/p'), store)).to.deep.equal({url: 'gs://b', region: 'auto', endpoint: null})
    const oss = refused(() => checkOutputs({outputs: [{path: '/r', to: {kind: 'bucket', ...bucket('oss://b/p')}}]}, store))
    expect(oss.code).to.equal('FILES_REGION_MISSING')
    expect(oss.message).to.equal("oss://b/p: the bucket's region is not known")
    expect(bucketTarget(bucket('oss://b/p', 'cn-hangzhou'), store)).to.deep.equal({url: 'oss://b', region: 'cn-hangzhou', endpoint: null})
    expect(bucketTarget(bucket('s3://b/p'), store)).to.deep.equal({url: 's3://b', region: 'us-east-1', endpoint: 'http://127.0.0.1:9'})
  })
})
