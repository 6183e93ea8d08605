// A job's workdir on a cloud, end to end on the fakes: launch packs it (ignore files
// honoured) and uploads it once to a fake S3 that checks SigV4, keyed by its sha256; the
// fake EC2 runs the boot script, whose runner fetches the archive by a presigned GET,
// checks it and unpacks it into the job's working directory before setup. A re-launch of
// the same content uploads nothing; a store that fails the upload leaves nothing behind.
import {expect} from 'chai'
import {chmodSync, mkdirSync, readdirSync, statSync, utimesSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {CheckpointSigner} from '../../src/checkpoint/checkpoint-store.js'
import {uploadWorkdir, type WorkdirUploadInput} from '../../src/checkpoint/workdir-upload.js'
import {ProviderError} from '../../src/errors.js'
import {HttpClient} from '../../src/http/client.js'
import {createDispatcher} from '../../src/http/dispatcher.js'
import {KEY as AWS_KEY} from './aws-helpers.js'
import {cloudJob, cloudWorld, type CloudWorld} from './cloud-world.js'

async function collect(iter: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = []
  for await (const line of iter) out.push(line)
  return out
}

describe('workdir on a cloud (fake EC2 + fake S3)', function () {
  this.timeout(120_000)
  let w: CloudWorld
  let dir: string
  let warnings: string[]

  beforeEach(async () => {
    w = await cloudWorld({checkpointStore: true})
    dir = join(w.home, 'code')
    mkdirSync(join(dir, 'pkg'), {recursive: true})
    mkdirSync(join(dir, 'data'))
    writeFileSync(join(dir, 'train.py'), 'print("training")\n')
    writeFileSync(join(dir, 'pkg', 'model.txt'), 'model v1\n')
    writeFileSync(join(dir, 'run.log'), 'ignored by .gitignore\n')
    writeFileSync(join(dir, 'data', 'big.bin'), 'ignored by .skyhopignore\n')
    writeFileSync(join(dir, '.gitignore'), '*.log\n')
    writeFileSync(join(dir, '.skyhopignore'), 'data/\n')
    warnings = []
  })
  afterEach(() => w.close())

  function input(overrides: Partial<WorkdirUploadInput> = {}): WorkdirUploadInput {
    return {
      dir,
      store: {url: 's3://ckpt/runs', region: 'us-east-1', endpoint: w.s3!.endpoint, syncIntervalSeconds: 1},
      signer: new CheckpointSigner({
        env: {AWS_ACCESS_KEY_ID: AWS_KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: AWS_KEY.secretAccessKey, AWS_EC2_METADATA_DISABLED: 'true'},
        homeDir: '/nonexistent',
      }),
      client: new HttpClient({provider: 'aws', dispatcher: createDispatcher(), timeoutMs: 10_000, retry: {retries: 2, baseDelayMs: 10}}),
      now: new Date(),
      warnBytes: 100e6,
      warn: (m) => warnings.push(m),
      ...overrides,
    }
  }

  const workdirRequests = () => w.s3!.requests.filter((r) => r.key.startsWith('runs/workdirs/')).map((r) => `${r.method} ${r.status}`)

  it('uploads once by content, and the instance runs in the unpacked workdir without the ignored files', async () => {
    const first = await uploadWorkdir(input())
    expect(first.uploadedBytes).to.equal(first.archive.bytes).and.to.be.greaterThan(0)
    expect(first.location).to.equal(`s3://ckpt/runs/workdirs/${first.archive.sha256}.tar`)
    expect(workdirRequests()).to.deep.equal(['HEAD 404', 'PUT 200'])
    expect(w.s3!.object('ckpt', `runs/workdirs/${first.archive.sha256}.tar`)!.body.length).to.equal(first.archive.bytes)
    expect(warnings).to.deep.equal([])

    // The same content again: a HEAD, no PUT, nothing uploaded.
    const again = await uploadWorkdir(input())
    expect(again.archive).to.deep.equal(first.archive)
    expect(again.uploadedBytes).to.equal(0)
    expect(workdirRequests()).to.deep.equal(['HEAD 404', 'PUT 200', 'HEAD 200'])

    const run = 'pwd; cat pkg/model.txt; ls -A | tr "\\n" " "; echo; cat "$SKYHOP_WORKDIR_PROBE" 2>/dev/null || true'
    const {job} = await w.drive(cloudJob('code', run, {workdir: dir, workdirArchive: first.archive}))
    expect(job.state, JSON.stringify(w.store.events(job.id).map((e) => [e.kind, e.data]))).to.equal('SUCCEEDED')
    const [a] = w.store.listAttempts(job.id)
    expect(a.provider).to.equal('aws')
    const lines = await collect(w.aws.logs(a.handle!, {follow: false}))
    // The instance's own working directory (the attempt's `work`), not the launching machine's path.
    expect(lines[0]).to.match(/\/work$/)
    expect(lines[0]).to.not.equal(dir)
    expect(lines[1]).to.equal('model v1')
    expect(lines[2].trim().split(' ').sort()).to.deep.equal(['.gitignore', '.skyhopignore', 'pkg', 'train.py'])
    // The runner fetched it with the signed GET the controller gave the attempt.
    expect(workdirRequests().slice(3)).to.deep.equal(['GET 200'])
  })

  it('with a cache, an unchanged workdir is found by its fingerprint; a changed file is packed again', async () => {
    const cacheDir = join(w.home, 'cache', 'workdir')
    const first = await uploadWorkdir(input({cacheDir}))
    expect(readdirSync(cacheDir)).to.have.length(1)
    const again = await uploadWorkdir(input({cacheDir}))
    expect(again.archive).to.deep.equal(first.archive)
    expect(again.uploadedBytes).to.equal(0)
    writeFileSync(join(dir, 'pkg', 'model.txt'), 'model v3, longer\n')
    const changed = await uploadWorkdir(input({cacheDir}))
    expect(changed.archive.sha256).to.not.equal(first.archive.sha256)
    expect(changed.uploadedBytes).to.equal(changed.archive.bytes)
    // The cache names an archive the store lost: packed and uploaded again, not trusted.
    w.s3!.objects.delete(`ckpt/runs/workdirs/${changed.archive.sha256}.tar`)
    expect((await uploadWorkdir(input({cacheDir}))).uploadedBytes).to.equal(changed.archive.bytes)
  })

  it('with a cache, a changed mode, an added directory or a changed ignore file is packed again: never the cached archive', async () => {
    const cacheDir = join(w.home, 'cache', 'workdir')
    const shas = [(await uploadWorkdir(input({cacheDir}))).archive.sha256]
    const changes: Array<[string, () => void]> = [
      ['train.py made executable', () => chmodSync(join(dir, 'train.py'), 0o755)],
      ['an empty directory added', () => mkdirSync(join(dir, 'outputs'))],
      ['the ignore file leaves pkg out', () => writeFileSync(join(dir, '.skyhopignore'), 'data/\npkg/\n')],
      [
        'the same size, another mtime, another content',
        () => {
          // Bytes changed, then the size and mtime moved on as an editor's save moves them.
          writeFileSync(join(dir, 'train.py'), 'print("trainin2")\n')
          const later = new Date(statSync(join(dir, 'train.py')).mtimeMs + 2000)
          utimesSync(join(dir, 'train.py'), later, later)
        },
      ],
    ]
    for (const [what, change] of changes) {
      change()
      const before = w.s3!.requests.filter((r) => r.method === 'PUT').length
      const upload = await uploadWorkdir(input({cacheDir}))
      expect(shas, what).to.not.include(upload.archive.sha256)
      expect(upload.uploadedBytes, what).to.equal(upload.archive.bytes)
      expect(w.s3!.requests.filter((r) => r.method === 'PUT').length, what).to.equal(before + 1)
      shas.push(upload.archive.sha256)
      // And the next launch of it finds it by the new fingerprint: nothing sent.
      expect((await uploadWorkdir(input({cacheDir}))).uploadedBytes, what).to.equal(0)
    }
  })

  it('a large workdir is warned about with its size before the upload', async () => {
    const r = await uploadWorkdir(input({warnBytes: 1000}))
    expect(warnings).to.have.length(1)
    expect(warnings[0]).to.include(`workdir ${dir} is`).and.to.include('over workdir.warn_size (1.0 kB)').and.to.include(r.location)
  })

  it('a changed file is a new archive, uploaded under a new key', async () => {
    const first = await uploadWorkdir(input())
    writeFileSync(join(dir, 'pkg', 'model.txt'), 'model v2\n')
    const second = await uploadWorkdir(input())
    expect(second.archive.sha256).to.not.equal(first.archive.sha256)
    expect(second.uploadedBytes).to.be.greaterThan(0)
    // An ignored file changing changes nothing.
    writeFileSync(join(dir, 'run.log'), 'more noise\n')
    expect((await uploadWorkdir(input())).uploadedBytes).to.equal(0)
  })

  for (const [status, code, category] of [
    [503, 'ServiceUnavailable', 'transient'],
    [403, 'AccessDenied', 'auth'],
  ] as const) {
    it(`an upload the store answers ${status} fails with WORKDIR_UPLOAD_FAILED (exit 4) and leaves no object`, async () => {
      w.s3!.failNext(10, status, code, /workdirs\//, 'PUT')
      const error = await uploadWorkdir(input()).then(
        () => null,
        (e: unknown) => e,
      )
      expect(error).to.be.instanceOf(ProviderError)
      const e = error as ProviderError
      expect(e.code).to.equal('WORKDIR_UPLOAD_FAILED')
      expect(e.exitCode).to.equal(4)
      expect(e.category).to.equal(category)
      expect(e.message).to.match(/^aws: workdir .*: uploading it to s3:\/\/ckpt\/runs\/workdirs\/[0-9a-f]{64}\.tar failed: .*HTTP/)
      expect(e.message).to.not.include('X-Amz-Signature')
      expect([...w.s3!.objects.keys()].filter((k) => k.includes('workdirs/'))).to.deep.equal([])
    })
  }

  it('an object under the key that is not the archive (short) is written again, and one with other bytes is refused by the runner', async () => {
    const first = await uploadWorkdir(input())
    const key = `runs/workdirs/${first.archive.sha256}.tar`
    const stored = w.s3!.objects.get(`ckpt/${key}`)!
    // Cut short: the HEAD sees the size is wrong, and the archive is uploaded again.
    w.s3!.objects.set(`ckpt/${key}`, {...stored, body: stored.body.subarray(0, 100)})
    expect((await uploadWorkdir(input())).uploadedBytes).to.equal(first.archive.bytes)
    // Same size, other bytes: only the runner's sha256 check can see it; the job never starts.
    const tampered = Buffer.from(stored.body)
    tampered[600] ^= 0xff
    w.s3!.objects.set(`ckpt/${key}`, {...stored, body: tampered})
    const {job} = await w.drive(
      cloudJob('tampered', 'echo started', {
        workdir: dir,
        workdirArchive: first.archive,
        recovery: {...cloudJob('x', 'x').recovery, maxRestarts: 0},
      }),
    )
    expect(job.state).to.not.equal('SUCCEEDED')
    const [a] = w.store.listAttempts(job.id)
    const lines = await collect(w.aws.logs(a.handle!, {follow: false}))
    expect(lines).to.not.include('started')
    const events = w.store.events(job.id).map((e) => JSON.stringify(e.data))
    expect(events.join('\n')).to.match(/not the one packed at launch/)
  })
})
