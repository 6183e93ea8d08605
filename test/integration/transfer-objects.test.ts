// A cloud attempt's list of transfers (its files: and outputs: signed for it, put in the job's
// store at PREFIX/JOB_ID/attempts/ATTEMPT_ID/transfers for its instance) lives as long as the
// attempt and no longer: whoever releases the attempt (its controller, a failed launch's
// rollback, `cancel`, `recover`, the idle guard, `down JOB`) deletes it, as it does the gang
// objects. What a re-launch reuses (the content-addressed packed sources under workdirs/) and
// the outputs stay. On the fake EC2 with the fake S3 store, which lists what it holds.
import {expect} from 'chai'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {CheckpointSigner} from '../../src/checkpoint/checkpoint-store.js'
import {uploadWorkdir} from '../../src/checkpoint/workdir-upload.js'
import {releaseIdle} from '../../src/controller/idle.js'
import {HttpClient} from '../../src/http/client.js'
import {createDispatcher} from '../../src/http/dispatcher.js'
import type {FileEntry, FileObject, OutputEntry} from '../../src/model/job-spec.js'
import {cancelJob} from '../../src/services/cancel.js'
import {findOrphans, stopAndRelease, terminateOrphans} from '../../src/services/orphans.js'
import {recoverJobs} from '../../src/services/recover.js'
import {until} from '../helpers/wait.js'
import {KEY as AWS_KEY, launchRequest, offer} from './aws-helpers.js'
import {AWS_TYPE, cloudJob, cloudWorld, type CloudWorld} from './cloud-world.js'

describe('a cloud attempt’s list of transfers in the store goes with its attempt (fake EC2, fake S3)', function () {
  this.timeout(120_000)
  let w: CloudWorld | null = null
  let out: string
  beforeEach(() => {
    out = mkdtempSync(join(tmpdir(), 'skyhop-out-'))
  })
  afterEach(async () => {
    await w?.close()
    w = null
  })

  /** Every transfers object left in the store, as `JOB_ID/ATTEMPT_ID`. */
  function lists(world: CloudWorld): string[] {
    return [...world.s3!.objects.keys()]
      .map((k) => /^ckpt\/runs\/([^/]+)\/attempts\/([^/]+)\/transfers$/.exec(k))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => `${m[1]}/${m[2]}`)
  }

  /** The requests for one attempt's list, `METHOD STATUS` in order. */
  function calls(world: CloudWorld, jobId: string, attemptId: string): string[] {
    const key = `runs/${jobId}/attempts/${attemptId}/transfers`
    return world.s3!.requests.filter((r) => r.bucket === 'ckpt' && r.key === key).map((r) => `${r.method} ${r.status}`)
  }

  /** A job copying a bucket object and a local file (packed into the store), with an output to the store. */
  async function filesJob(world: CloudWorld, name: string, run: string) {
    world.s3!.objects.set('datasets/nlp/vocab.txt', {body: Buffer.from('hello\nworld\n'), contentType: null, storedAt: new Date()})
    const src = mkdtempSync(join(tmpdir(), 'skyhop-src-'))
    writeFileSync(join(src, 'notes.txt'), 'a\nb\n')
    const packed = await uploadWorkdir({
      dir: src,
      only: 'notes.txt',
      store: {url: 's3://ckpt/runs', region: 'us-east-1', endpoint: world.s3!.endpoint, syncIntervalSeconds: null},
      signer: new CheckpointSigner({
        env: {AWS_ACCESS_KEY_ID: AWS_KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: AWS_KEY.secretAccessKey, AWS_EC2_METADATA_DISABLED: 'true'},
        homeDir: '/nonexistent',
      }),
      client: new HttpClient({provider: 'aws', dispatcher: createDispatcher(), timeoutMs: 10_000, retry: {retries: 1, baseDelayMs: 10}}),
      now: new Date(),
      warnBytes: 1e9,
      warn: () => undefined,
    })
    const files: FileEntry[] = [
      {
        path: join(out, 'vocab.txt'),
        mode: 'copy',
        source: {kind: 'bucket', scheme: 's3', bucket: 'datasets', key: 'nlp/vocab.txt', region: null, endpoint: null},
      },
      {path: join(out, 'notes.txt'), mode: 'copy', source: {kind: 'local', path: join(src, 'notes.txt'), directory: false}},
    ]
    const fileObjects: FileObject[] = [
      {path: join(out, 'vocab.txt'), bytes: 12, etag: null},
      {path: join(out, 'notes.txt'), bytes: packed.archive.bytes, etag: null, sha256: packed.archive.sha256},
    ]
    const outputs: OutputEntry[] = [{path: join(out, 'results'), to: {kind: 'store'}}]
    return {spec: cloudJob(name, run, {files, fileObjects, outputs}), archiveKey: `ckpt/runs/workdirs/${packed.archive.sha256}.tar`}
  }

  it('a job that ran: its controller deletes the list once it released the instance; the packed source and the output stay', async () => {
    w = await cloudWorld({checkpointStore: true})
    const run = `cat "${out}/vocab.txt" "${out}/notes.txt" | wc -l; mkdir -p "${out}/results"; echo 1 > "${out}/results/score"`
    const {spec, archiveKey} = await filesJob(w, 'xfer-ran', run)
    const {job} = await w.drive(spec)
    expect(job.state, JSON.stringify(w.store.events(job.id).map((e) => [e.kind, e.data]))).to.equal('SUCCEEDED')
    const [attempt] = w.store.listAttempts(job.id)
    expect(attempt.releasedAt, 'released').to.not.equal(null)
    // Written before the launch, read by the instance, deleted at the release.
    const seen = calls(w, job.id, attempt.id)
    expect(seen[0]).to.equal('PUT 200')
    expect(seen).to.include('GET 200')
    expect(seen.at(-1)).to.equal('DELETE 204')
    expect(lists(w)).to.deep.equal([])
    expect(w.s3!.object('ckpt', archiveKey.slice('ckpt/'.length)), 'the packed source a re-launch reuses').to.not.equal(undefined)
    expect(w.s3!.object('ckpt', `runs/${job.id}/outputs/results.tar`), 'the output').to.not.equal(undefined)
    // The ship list (signed PUTs of the logs' segments) goes too; what was shipped stays for `logs`.
    const attemptObjects = [...w.s3!.objects.keys()].filter((k) => k.startsWith(`ckpt/runs/${job.id}/attempts/${attempt.id}/`))
    expect(attemptObjects.filter((k) => k.endsWith('/ship-urls'))).to.deep.equal([])
    expect(
      attemptObjects.some((k) => /\/output-\d+\.log$/.test(k)),
      attemptObjects.join(' '),
    ).to.equal(true)
    expect(w.store.events(job.id).map((e) => e.kind)).to.not.include('transfers-delete-failed')
  })

  it('a launch the zone refused: the failed attempt’s list goes with it, and the next candidate’s list after its run', async () => {
    w = await cloudWorld({checkpointStore: true})
    w.ec2.setCapacity('us-east-1', 'us-east-1a', AWS_TYPE, 0)
    const {spec} = await filesJob(w, 'xfer-short', 'true')
    const {job} = await w.drive(spec)
    expect(job.state, job.reason ?? '').to.equal('SUCCEEDED')
    const [failed, ran] = w.store.listAttempts(job.id)
    expect([failed.zone, failed.state, ran.state]).to.deep.equal(['us-east-1a', 'FAILED', 'SUCCEEDED'])
    expect(calls(w, job.id, failed.id)).to.deep.equal(['PUT 200', 'DELETE 204'])
    expect(calls(w, job.id, ran.id).at(-1)).to.equal('DELETE 204')
    expect(lists(w)).to.deep.equal([])
  })

  /** A job whose instance stays pending (never boots), once its list is in the store. */
  async function unbooted(name: string, signal: AbortSignal) {
    w = await cloudWorld({checkpointStore: true, pendingMs: 600_000})
    const world = w
    const {spec} = await filesJob(world, name, 'true')
    const job = world.create(spec)
    const driving = world.driveExisting(job.id, {signal})
    const attempt = await until(
      async () => world.store.listAttempts(job.id).find((a) => a.handle !== null),
      (a) => a !== undefined,
      30_000,
      100,
    )
    expect(lists(world)).to.deep.equal([`${job.id}/${attempt!.id}`])
    return {world, job, attempt: attempt!, driving}
  }

  it('cancel: the attempt is released and its list deleted', async () => {
    const abort = new AbortController()
    const {world, job, attempt, driving} = await unbooted('xfer-cancel', abort.signal)
    const result = await cancelJob(world.store, world.providers, job.id, {graceSeconds: 30, attemptHolds: world.attemptHolds})
    expect(result.signalled).to.deep.equal([attempt.id])
    expect(world.store.listAttempts(job.id)[0].releasedAt, 'released').to.not.equal(null)
    expect(lists(world)).to.deep.equal([])
    expect(calls(world, job.id, attempt.id).at(-1)).to.equal('DELETE 204')
    abort.abort()
    await driving
  })

  it('recover: an attempt of a job that ended without its controller is released and its list deleted', async () => {
    const abort = new AbortController()
    const {world, job, driving} = await unbooted('xfer-recover', abort.signal)
    abort.abort()
    await driving
    world.store.setJobState(job.id, 'CANCELLED', {kind: 'cancel-requested', data: {graceSeconds: 1}}, {reason: 'cancelled by user'})
    const result = await recoverJobs({
      store: world.store,
      providers: world.providers,
      home: world.home,
      spawn: () => undefined,
      attemptHolds: world.attemptHolds,
    })
    expect(result.actions.filter((a) => a.step === 'stop-attempt').map((a) => a.ok)).to.deep.equal([true])
    expect(lists(world)).to.deep.equal([])
  })

  it('a release that failed keeps the list for the instance; the idle guard, then down JOB, delete what their release frees', async () => {
    w = await cloudWorld({checkpointStore: true})
    // The controller's release fails (its retries too): the instance may still boot, so its list stays.
    w.ec2.inject({action: 'TerminateInstances', code: 'InternalError', status: 500, times: 1000})
    const first = await w.drive((await filesJob(w, 'xfer-idle', 'true')).spec)
    const second = await w.drive((await filesJob(w, 'xfer-down', 'true')).spec)
    for (const {job} of [first, second]) expect(job.state, job.reason ?? '').to.equal('SUCCEEDED')
    const [a1] = w.store.listAttempts(first.job.id)
    const [a2] = w.store.listAttempts(second.job.id)
    expect(lists(w).sort()).to.deep.equal([`${first.job.id}/${a1.id}`, `${second.job.id}/${a2.id}`].sort())
    w.ec2.clearInjections()
    const released = await releaseIdle({
      store: w.store,
      providers: w.providers,
      now: new Date(Date.now() + 3_600_000),
      jobId: first.job.id,
      attemptHolds: w.attemptHolds,
    })
    expect(released.map((r) => r.attemptId)).to.deep.equal([a1.id])
    expect(lists(w)).to.deep.equal([`${second.job.id}/${a2.id}`])
    const down = await stopAndRelease({
      store: w.store,
      providers: w.providers,
      ref: second.job.id,
      graceSeconds: 1,
      attemptHolds: w.attemptHolds,
    })
    expect(down).to.deep.include({cancelled: false, released: [a2.id], releaseFailed: []})
    expect(lists(w)).to.deep.equal([])
  })

  it('a store refusing the DELETE: the attempt still ends released, an event says the list was left, and no URL is in it', async () => {
    w = await cloudWorld({checkpointStore: true})
    w.s3!.failNext(100, 403, 'AccessDenied', /\/attempts\/[^/]+\/transfers$/, 'DELETE')
    const {job} = await w.drive((await filesJob(w, 'xfer-refused', 'true')).spec)
    expect(job.state, job.reason ?? '').to.equal('SUCCEEDED')
    const [attempt] = w.store.listAttempts(job.id)
    expect(attempt.releasedAt, 'released').to.not.equal(null)
    const events = w.store.events(job.id).filter((e) => e.kind === 'transfers-delete-failed')
    expect(events).to.have.length(1)
    expect(JSON.stringify(events[0].data)).to.include('403')
    expect(JSON.stringify(events[0].data)).to.not.match(/X-Amz-Signature|X-Amz-Credential/)
    expect(lists(w)).to.deep.equal([`${job.id}/${attempt.id}`])
  })
  it('an orphan: the instance of an ended attempt that no controller released is terminated, and its list deleted', async () => {
    w = await cloudWorld({checkpointStore: true})
    const world = w
    const {spec} = await filesJob(world, 'xfer-orphan', 'sleep 60')
    const job = world.create(spec)
    const o = offer({instanceType: AWS_TYPE, zone: 'us-east-1b', region: 'us-east-1'})
    const a = world.store.recordAttemptIntent({
      jobId: job.id,
      provider: 'aws',
      region: o.region,
      zone: o.zone,
      instanceType: o.instanceType,
      accelerator: null,
      acceleratorCount: null,
      spot: false,
      pricePerHour: 0.1,
      currency: 'USD',
      onDemandPricePerHour: 0.1,
    })!
    // Launched as a controller would: the attempt's list put in the store, its GET in the request.
    const transfers = await world.attemptHolds!.transfers!(job, a.id, false)
    expect(transfers?.url).to.be.a('string')
    const handle = await world.aws.launch(
      launchRequest({jobId: job.id, jobName: job.name, attemptId: a.id, idempotencyKey: a.id, spec: job.spec, offer: o, transfers}),
    )
    world.store.updateAttempt(a.id, {state: 'FAILED', handle, endedAt: new Date().toISOString(), exitCode: 1})
    expect(lists(world)).to.deep.equal([`${job.id}/${a.id}`])
    const scan = await findOrphans({store: world.store, providers: world.providers})
    expect(scan.orphans.map((x) => x.externalId)).to.deep.equal([handle.externalId])
    const done = await terminateOrphans(world.providers, scan.orphans, world.store, world.attemptHolds)
    expect(done.failed).to.deep.equal([])
    expect(lists(world)).to.deep.equal([])
    expect(calls(world, job.id, a.id).at(-1)).to.equal('DELETE 204')
  })
})
