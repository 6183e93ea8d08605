// files: and outputs: on the real Slurm cluster (scripts/slurm-up.sh): the attempt's signed
// list of transfers is written into its directory on the shared filesystem (mode 0600); the
// runner on the compute node copies the local file, downloads the bucket object from a fake
// S3 that checks SigV4, checks it, and uploads the output to the job's store after the run.
import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {CheckpointSigner} from '../../src/checkpoint/checkpoint-store.js'
import {signTransfers} from '../../src/checkpoint/transfers.js'
import type {LaunchHandle} from '../../src/model/attempt.js'
import type {FileEntry, OutputEntry} from '../../src/model/job-spec.js'
import {SlurmProvider} from '../../src/providers/slurm/slurm-provider.js'
import {FakeObjectStore} from '../fakes/fake-object-store.js'
import {s3Dialect} from '../fakes/fake-s3-dialect.js'
import {pollUntil, removeTempDirs, requireSlurm, slurmRequest, tempDir} from '../helpers/slurm.js'
import {KEY} from './aws-helpers.js'

const ENDED = new Set(['SUCCEEDED', 'FAILED', 'PREEMPTED', 'CANCELLED', 'LOST'])

describe('files: and outputs: on Slurm (real Slurm, fake S3)', function () {
  this.timeout(120_000)
  let s3: FakeObjectStore
  let provider: SlurmProvider
  let handle: LaunchHandle | null = null

  before(async function () {
    await requireSlurm(this)
  })
  beforeEach(async () => {
    s3 = new FakeObjectStore({dialect: s3Dialect({[KEY.accessKeyId]: KEY.secretAccessKey})})
    await s3.start()
  })
  afterEach(async () => {
    if (handle) await provider.cleanup(handle).catch(() => undefined)
    handle = null
    await s3.stop()
  })
  after(() => removeTempDirs())

  it('places a local file and a bucket object before setup on the compute node, and uploads the output after the run', async () => {
    const home = tempDir()
    const machine = join(home, 'machine')
    writeFileSync(join(home, 'vocab.txt'), 'a\nb\nc\n')
    const weights = Buffer.from('W'.repeat(4096))
    s3.objects.set('datasets/nlp/weights.bin', {body: weights, contentType: null, storedAt: new Date()})
    const store = {url: 's3://ckpt/runs', region: 'us-east-1', endpoint: s3.endpoint, syncIntervalSeconds: null}
    const files: FileEntry[] = [
      {path: join(machine, 'vocab.txt'), mode: 'copy', source: {kind: 'local', path: join(home, 'vocab.txt'), directory: false}},
      {
        path: join(machine, 'weights.bin'),
        mode: 'copy',
        source: {kind: 'bucket', scheme: 's3', bucket: 'datasets', key: 'nlp/weights.bin', region: null, endpoint: null},
      },
    ]
    const outputs: OutputEntry[] = [{path: join(machine, 'results'), to: {kind: 'store'}}]
    const fileObjects = [{path: join(machine, 'weights.bin'), bytes: 4096, etag: createHash('md5').update(weights).digest('hex')}]
    const signer = new CheckpointSigner({
      env: {AWS_ACCESS_KEY_ID: KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey, AWS_EC2_METADATA_DISABLED: 'true'},
      homeDir: '/nonexistent',
    })
    const req = slurmRequest(
      home,
      `wc -l < "${machine}/vocab.txt"; wc -c < "${machine}/weights.bin"; mkdir -p "${machine}/results"; echo done > "${machine}/results/flag"`,
    )
    req.spec = {...req.spec, files, fileObjects, outputs}
    req.transfers = await signTransfers(req.spec, req.jobId, req.attemptId, {store, signer, now: new Date(), shared: true})
    provider = new SlurmProvider({home})
    handle = await provider.launch(req)
    const {last, seen} = await pollUntil(provider, handle, (r) => ENDED.has(r.state))
    expect(last.state, seen.join(' → ')).to.equal('SUCCEEDED')
    const lines: string[] = []
    for await (const line of provider.logs(handle, {follow: false})) lines.push(line)
    expect(lines.map((l) => l.trim())).to.deep.equal(['3', '4096'])
    // The signed list is the owner's alone.
    const attemptDir = (handle.data as {attemptDir: string}).attemptDir
    expect(statSync(join(attemptDir, 'transfers')).mode & 0o777).to.equal(0o600)
    const archive = s3.object('ckpt', `runs/${req.jobId}/outputs/results.tar`)
    expect(archive, [...s3.objects.keys()].join(' ')).to.not.equal(undefined)
    expect(execFileSync('tar', ['-xOf', '-', './flag'], {input: archive!.body, encoding: 'utf8'})).to.equal('done\n')
  })
})
