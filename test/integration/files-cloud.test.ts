// files: and outputs: on a cloud, end to end on the fakes: launch HEADs the bucket object a
// files: entry copies (size, ETag); the controller signs the attempt's list of transfers and
// puts it in the job's store; the fake EC2 runs the boot script, whose runner GETs the list,
// downloads the object by its signed GET, checks it and moves it into place before setup,
// and PUTs the output's archive to the store after the run. The instance never holds a
// credential: only signed URLs, in its runner.conf and the list.
import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {mkdirSync, mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {CheckpointSigner} from '../../src/checkpoint/checkpoint-store.js'
import {findFileObjects} from '../../src/checkpoint/transfers.js'
import {uploadWorkdir} from '../../src/checkpoint/workdir-upload.js'
import {ProviderError, UsageError} from '../../src/errors.js'
import {HttpClient} from '../../src/http/client.js'
import {createDispatcher} from '../../src/http/dispatcher.js'
import type {FileEntry, OutputEntry} from '../../src/model/job-spec.js'
import {KEY as AWS_KEY} from './aws-helpers.js'
import {cloudJob, cloudWorld, type CloudWorld} from './cloud-world.js'

describe('files: and outputs: on a cloud (fake EC2 + fake S3)', function () {
  this.timeout(120_000)
  let w: CloudWorld
  let out: string

  beforeEach(async () => {
    w = await cloudWorld({checkpointStore: true})
    out = mkdtempSync(join(tmpdir(), 'skyhop-out-'))
  })
  afterEach(() => w.close())

  const signer = () =>
    new CheckpointSigner({
      env: {AWS_ACCESS_KEY_ID: AWS_KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: AWS_KEY.secretAccessKey, AWS_EC2_METADATA_DISABLED: 'true'},
      homeDir: '/nonexistent',
    })
  const client = () =>
    new HttpClient({provider: 'aws', dispatcher: createDispatcher(), timeoutMs: 10_000, retry: {retries: 1, baseDelayMs: 10}})
  const store = () => ({url: 's3://ckpt/runs', region: 'us-east-1', endpoint: w.s3!.endpoint, syncIntervalSeconds: null})

  function entries(dest: string): {files: FileEntry[]; outputs: OutputEntry[]} {
    return {
      files: [
        {
          path: join(dest, 'vocab.txt'),
          mode: 'copy',
          source: {kind: 'bucket', scheme: 's3', bucket: 'datasets', key: 'nlp/vocab.txt', region: null, endpoint: null},
        },
      ],
      outputs: [{path: join(dest, 'results'), to: {kind: 'store'}}],
    }
  }

  it('copies a bucket object before setup through signed URLs and uploads the output after the run', async () => {
    w.s3!.objects.set('datasets/nlp/vocab.txt', {body: Buffer.from('hello\nworld\n'), contentType: null, storedAt: new Date()})
    const {files, outputs} = entries(out)
    const fileObjects = await findFileObjects({files}, store(), signer(), client(), new Date())
    expect(fileObjects).to.have.length(1)
    expect(fileObjects[0]).to.deep.include({path: join(out, 'vocab.txt'), bytes: 12})
    expect(fileObjects[0].etag).to.equal(createHash('md5').update('hello\nworld\n').digest('hex'))
    const run = `wc -l < "${out}/vocab.txt"; mkdir -p "${out}/results"; echo 0.93 > "${out}/results/score"`
    const {job} = await w.drive(cloudJob('files', run, {files, fileObjects, outputs}))
    const events = w.store.events(job.id).map((e) => [e.kind, e.data])
    expect(job.state, JSON.stringify(events)).to.equal('SUCCEEDED')
    expect(w.store.listAttempts(job.id)[0].provider).to.equal('aws')
    // The job read the object where files: put it (wc -l of two lines).
    const lines: string[] = []
    for await (const line of w.aws.logs(w.store.listAttempts(job.id)[0].handle!, {follow: false})) lines.push(line)
    expect(lines[0].trim()).to.equal('2')
    // The output's archive, in the job's store, holds what the job wrote.
    const archive = w.s3!.object('ckpt', `runs/${job.id}/outputs/results.tar`)
    expect(archive, [...w.s3!.objects.keys()].join(' ')).to.not.equal(undefined)
    const tar = join(out, 'results.tar')
    writeFileSync(tar, archive!.body)
    expect(execFileSync('tar', ['-xOf', tar, './score'], {encoding: 'utf8'})).to.equal('0.93\n')
    // The object came by a signed GET; the list by another; no key reached the instance.
    const gets = w.s3!.requests.filter((r) => r.method === 'GET').map((r) => `${r.bucket}/${r.key} ${r.status}`)
    expect(gets).to.include('datasets/nlp/vocab.txt 200')
    expect(gets.some((g) => /\/transfers 200$/.test(g))).to.equal(true)
  })

  it('copies every object under a bucket prefix onto the instance, each by its own signed GET from the list in the store', async () => {
    for (const [key, body] of [
      ['shards/a.jsonl', '1\n'],
      ['shards/b.jsonl', '2\n3\n'],
      ['shards/eval/c.jsonl', '4\n'],
      ['shards-other/x', 'not under the prefix\n'],
    ])
      w.s3!.objects.set(`datasets/${key}`, {body: Buffer.from(body), contentType: null, storedAt: new Date()})
    const files: FileEntry[] = [
      {
        path: join(out, 'shards'),
        mode: 'copy',
        source: {kind: 'bucket', scheme: 's3', bucket: 'datasets', key: 'shards/', region: null, endpoint: null},
      },
    ]
    const fileObjects = await findFileObjects({files}, store(), signer(), client(), new Date())
    expect(fileObjects.map((o) => o.key)).to.deep.equal(['shards/a.jsonl', 'shards/b.jsonl', 'shards/eval/c.jsonl'])
    const run = `cat "${out}/shards/"*.jsonl "${out}/shards/eval/c.jsonl" | wc -l`
    const {job} = await w.drive(cloudJob('files-prefix', run, {files, fileObjects}))
    expect(job.state, JSON.stringify(w.store.events(job.id).map((e) => [e.kind, e.data]))).to.equal('SUCCEEDED')
    const lines: string[] = []
    for await (const line of w.aws.logs(w.store.listAttempts(job.id)[0].handle!, {follow: false})) lines.push(line)
    expect(lines[0].trim()).to.equal('4')
    const gets = w
      .s3!.requests.filter((r) => r.method === 'GET' && r.bucket === 'datasets' && r.key !== '')
      .map((r) => `${r.key} ${r.status}`)
    expect(gets.sort()).to.deep.equal(['shards/a.jsonl 200', 'shards/b.jsonl 200', 'shards/eval/c.jsonl 200'])
  })

  it("a local file and a local directory reach the instance packed in the job's store, checked by sha256", async () => {
    const src = mkdtempSync(join(tmpdir(), 'skyhop-src-'))
    mkdirSync(join(src, 'dataset'))
    writeFileSync(join(src, 'dataset', 'part-0'), 'x\n')
    writeFileSync(join(src, 'dataset', 'part-1'), 'y\n')
    writeFileSync(join(src, 'vocab.txt'), 'a\nb\nc\n')
    writeFileSync(join(src, 'other.txt'), 'not this one\n')
    const upload = (dir: string, only?: string) =>
      uploadWorkdir({
        dir,
        store: store(),
        signer: signer(),
        client: client(),
        now: new Date(),
        warnBytes: 1e9,
        warn: () => undefined,
        ...(only ? {only} : {}),
      })
    const file = await upload(src, 'vocab.txt')
    const dir = await upload(join(src, 'dataset'))
    const files: FileEntry[] = [
      {path: join(out, 'vocab.txt'), mode: 'copy', source: {kind: 'local', path: join(src, 'vocab.txt'), directory: false}},
      {path: join(out, 'data'), mode: 'copy', source: {kind: 'local', path: join(src, 'dataset'), directory: true}},
    ]
    const fileObjects = [
      {path: join(out, 'vocab.txt'), bytes: file.archive.bytes, etag: null, sha256: file.archive.sha256},
      {path: join(out, 'data'), bytes: dir.archive.bytes, etag: null, sha256: dir.archive.sha256},
    ]
    const run = `cat "${out}/vocab.txt" | wc -l; ls "${out}/data" | tr "\\n" " "`
    const {job} = await w.drive(cloudJob('files-local', run, {files, fileObjects}))
    expect(job.state, JSON.stringify(w.store.events(job.id).map((e) => [e.kind, e.data]))).to.equal('SUCCEEDED')
    const lines: string[] = []
    for await (const line of w.aws.logs(w.store.listAttempts(job.id)[0].handle!, {follow: false})) lines.push(line)
    expect(lines[0].trim()).to.equal('3')
    expect(lines[1].trim()).to.equal('part-0 part-1')
    const gets = w.s3!.requests.filter((r) => r.method === 'GET' && r.key.startsWith('runs/workdirs/')).map((r) => `${r.key} ${r.status}`)
    expect(gets).to.have.members([`runs/workdirs/${file.archive.sha256}.tar 200`, `runs/workdirs/${dir.archive.sha256}.tar 200`])
  })

  it('an object replaced after the launch is refused before setup, and never moved into place', async () => {
    w.s3!.objects.set('datasets/nlp/vocab.txt', {body: Buffer.from('hello\nworld\n'), contentType: null, storedAt: new Date()})
    const {files} = entries(out)
    const fileObjects = await findFileObjects({files}, store(), signer(), client(), new Date())
    // Same size, other bytes: only the ETag tells them apart (If-Match: the store answers 412).
    w.s3!.objects.set('datasets/nlp/vocab.txt', {body: Buffer.from('HELLO\nWORLD\n'), contentType: null, storedAt: new Date()})
    const {job} = await w.drive(cloudJob('files-changed', 'echo setup never runs', {files, fileObjects}))
    const events = w.store.events(job.id).map((e) => [e.kind, e.data])
    expect(job.state).to.not.equal('SUCCEEDED')
    expect(JSON.stringify(events)).to.include('the object changed since the launch (HTTP 412)')
    expect(events.some(([k]) => k === 'file-fetch')).to.equal(false)
  })

  it('at launch: a missing object is exit 2, a store that answers 403 or 5xx is exit 4', async () => {
    const {files} = entries(out)
    const missing = await findFileObjects({files}, store(), signer(), client(), new Date()).catch((e: unknown) => e)
    expect(missing).to.be.instanceOf(UsageError)
    expect((missing as UsageError).exitCode).to.equal(2)
    expect((missing as UsageError).message).to.include('s3://datasets/nlp/vocab.txt does not exist')
    for (const status of [403, 503]) {
      w.s3!.failNext(5, status, status === 403 ? 'AccessDenied' : 'ServiceUnavailable', /vocab/)
      const failed = await findFileObjects({files}, store(), signer(), client(), new Date()).catch((e: unknown) => e)
      expect(failed, String(failed)).to.be.instanceOf(ProviderError)
      expect((failed as ProviderError).exitCode).to.equal(4)
      expect((failed as ProviderError).code).to.equal('FILES_FETCH_FAILED')
    }
  })
})
