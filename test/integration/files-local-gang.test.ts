// files: for a gang on this machine (the local provider, real processes): the ranks share
// the attempt directory and the machine, so each entry is placed once, by whichever rank
// takes it first, and every rank's job starts only once it is whole; nothing replaces it
// under a running rank.
import {expect} from 'chai'
import {createHash} from 'node:crypto'
import {existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {CheckpointSigner} from '../../src/checkpoint/checkpoint-store.js'
import {signTransfers} from '../../src/checkpoint/transfers.js'
import type {LaunchHandle} from '../../src/model/attempt.js'
import type {Offer} from '../../src/model/catalog.js'
import type {FileEntry} from '../../src/model/job-spec.js'
import {readEvents} from '../../src/providers/attempt-dir.js'
import {LocalProvider} from '../../src/providers/local/local-provider.js'
import type {LaunchRequest} from '../../src/providers/provider.js'
import {FakeObjectStore} from '../fakes/fake-object-store.js'
import {testJobSpec} from '../helpers/job-spec.js'
import {isTerminal, pollUntil} from '../helpers/wait.js'

describe('files: for a gang on this machine (real processes)', function () {
  this.timeout(60_000)
  let home: string
  let provider: LocalProvider
  let handle: LaunchHandle | null = null

  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'skyhop-files-gang-'))
    provider = new LocalProvider({home, maxNodes: 4})
  })
  afterEach(async () => {
    if (handle) await provider.cleanup(handle).catch(() => undefined)
    handle = null
    rmSync(home, {recursive: true, force: true})
  })

  it('places each entry once for the ranks that share the machine, before any rank starts', async () => {
    const src = join(home, 'src')
    mkdirSync(src)
    for (let i = 0; i < 200; i++) writeFileSync(join(src, `part-${i}`), `${i}\n`)
    const dest = join(home, 'machine', 'data')
    const files: FileEntry[] = [{path: dest, mode: 'copy', source: {kind: 'local', path: src, directory: true}}]
    // Each rank counts the parts it sees, then waits a moment and counts again: a rank that
    // replaced the directory under another would show in either count.
    const run = `a=$(ls "${dest}" | wc -l); sleep 0.5; b=$(ls "${dest}" | wc -l); echo "$SKYHOP_NODE_RANK $a $b"`
    const spec = testJobSpec({name: 'files-gang', run, nodes: 3, files})
    const attemptId = `files-gang-${process.pid}`
    const signer = new CheckpointSigner({env: {}, homeDir: '/nonexistent'})
    const request: LaunchRequest = {
      jobId: 'job-fg',
      jobName: 'files gang',
      attemptId,
      attempt: 1,
      restartCount: 0,
      idempotencyKey: attemptId,
      spec,
      offer: {} as Offer,
      spot: false,
      env: {SKYHOP_NUM_ACCELERATORS_PER_NODE: '0'},
      checkpointDir: join(home, 'checkpoints', 'job-fg'),
      checkpointSync: null,
      graceSeconds: 5,
      transfers: await signTransfers(spec, 'job-fg', attemptId, {store: null, signer, now: new Date(), shared: true}),
    }
    handle = await provider.launch(request)
    const last = await pollUntil(provider, handle, (r) => isTerminal(r), {stepMs: 50})
    expect(last.state).to.equal('SUCCEEDED')
    const lines: string[] = []
    for await (const line of provider.logs(handle, {follow: false, node: 'all'})) lines.push(line)
    expect(lines.map((l) => l.replace(/^\[rank \d\] /, '')).sort()).to.deep.equal(['0 200 200', '1 200 200', '2 200 200'])
    // One rank placed it; the others waited for it.
    const attemptDir = (handle.data as {attemptDir: string}).attemptDir
    const fetched = [0, 1, 2].flatMap((rank) => readEvents(join(attemptDir, `node-${rank}`)).filter((e) => e.event === 'file-fetch'))
    expect(fetched).to.have.length(1)
    expect(readdirSync(join(home, 'machine')).sort()).to.deep.equal(['data'])
  })
})

describe('files: a bucket object whose bytes are not its ETag (real runner)', function () {
  this.timeout(60_000)
  let home: string
  let s3: FakeObjectStore
  let handle: LaunchHandle | null = null
  const provider = () => new LocalProvider({home})

  beforeEach(async () => {
    home = mkdtempSync(join(tmpdir(), 'skyhop-files-md5-'))
    // A store that ignores If-Match: only the runner's MD5 check stands between the job and other bytes.
    s3 = new FakeObjectStore({ignoreConditions: true})
    await s3.start()
  })
  afterEach(async () => {
    handle = null
    await s3.stop()
    rmSync(home, {recursive: true, force: true})
  })

  it('is refused before setup and never moved into place', async () => {
    const original = Buffer.from('hello\nworld\n')
    s3.objects.set('datasets/v.txt', {body: Buffer.from('HELLO\nWORLD\n'), contentType: null, storedAt: new Date()})
    const dest = join(home, 'machine', 'v.txt')
    const files: FileEntry[] = [
      {
        path: dest,
        mode: 'copy',
        source: {kind: 'bucket', scheme: 's3', bucket: 'datasets', key: 'v.txt', region: 'us-east-1', endpoint: s3.endpoint},
      },
    ]
    const etag = createHash('md5').update(original).digest('hex')
    const spec = testJobSpec({
      name: 'files-md5',
      run: 'echo job ran',
      setup: 'echo setup ran',
      files,
      fileObjects: [{path: dest, bytes: 12, etag, md5: true}],
    })
    const attemptId = `files-md5-${process.pid}`
    const signer = new CheckpointSigner({
      env: {AWS_ACCESS_KEY_ID: 'AKIAFAKE000000000000', AWS_SECRET_ACCESS_KEY: 'fakesecret', AWS_EC2_METADATA_DISABLED: 'true'},
      homeDir: '/nonexistent',
    })
    const p = provider()
    handle = await p.launch({
      jobId: 'job-md5',
      jobName: 'files md5',
      attemptId,
      attempt: 1,
      restartCount: 0,
      idempotencyKey: attemptId,
      spec,
      offer: {} as Offer,
      spot: false,
      env: {},
      checkpointDir: join(home, 'checkpoints', 'job-md5'),
      checkpointSync: null,
      graceSeconds: 5,
      transfers: await signTransfers(spec, 'job-md5', attemptId, {store: null, signer, now: new Date(), shared: true}),
    })
    await pollUntil(p, handle, (r) => isTerminal(r), {stepMs: 50})
    const attemptDir = (handle.data as {attemptDir: string}).attemptDir
    const events = readEvents(attemptDir)
    const error = events.find((e) => e.event === 'error') as {message?: string} | undefined
    expect(error?.message).to.equal(`files: ${dest}: the bytes are not the object's (MD5 differs from its ETag)`)
    expect(events.some((e) => e.event === 'setup-start' || e.event === 'file-fetch')).to.equal(false)
    expect(existsSync(dest)).to.equal(false)
    expect(readdirSync(join(home, 'machine'))).to.deep.equal([])
  })
})
