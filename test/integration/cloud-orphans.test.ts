// Orphan cleanup (src/services/orphans.ts, behind `skyhop down`) on the fake clouds:
// which tagged runs count as orphans (attempt ended, unknown to this home, duplicate of a
// live attempt) and which do not (a live attempt's run, a launch whose answer is not yet
// recorded), terminating them, and `down JOB`.
import {expect} from 'chai'
import {join} from 'node:path'

import {down, findOrphans, terminateOrphans} from '../../src/services/orphans.js'
import type {Provider} from '../../src/providers/provider.js'
import type {LaunchHandle} from '../../src/model/attempt.js'
import type {JobRecord} from '../../src/model/records.js'
import {until} from '../helpers/wait.js'
import {launchRequest, offer} from './aws-helpers.js'
import {ALIYUN_TYPE, AWS_TYPE, cloudJob, cloudWorld, type CloudWorld} from './cloud-world.js'

describe('orphans on the fake clouds: find, terminate, down JOB', function () {
  this.timeout(90_000)
  let w: CloudWorld
  afterEach(async () => w?.close())

  const awsOffer = (zone = 'us-east-1a') => offer({instanceType: AWS_TYPE, zone, region: zone.slice(0, -1)})
  const ecsOffer = () =>
    offer({
      provider: 'aliyun',
      region: 'cn-hangzhou',
      zone: 'cn-hangzhou-h',
      instanceType: ALIYUN_TYPE,
      price: {onDemand: 1.5, spot: 0.5, currency: 'CNY'},
    })

  /** An attempt recorded in the store, and a run launched for it directly (as a controller would). */
  async function attemptWithRun(
    job: JobRecord,
    provider: Provider,
    o: ReturnType<typeof offer>,
    run = 'sleep 60',
  ): Promise<{attemptId: string; handle: LaunchHandle}> {
    const a = w.store.recordAttemptIntent({
      jobId: job.id,
      provider: o.provider,
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
    const handle = await provider.launch(
      launchRequest({
        jobId: job.id,
        jobName: job.name,
        attemptId: a.id,
        idempotencyKey: a.id,
        spec: cloudJob(job.name, run),
        offer: o,
        checkpointDir: join(w.home, 'ck'),
      }),
    )
    return {attemptId: a.id, handle}
  }

  it('finds only what no live attempt owns, terminates it, and records the release', async () => {
    w = await cloudWorld()
    const job = w.create(cloudJob('mixed', 'sleep 60'))
    // 1. A live attempt with its run recorded: owned.
    const live = await attemptWithRun(job, w.aws, awsOffer())
    w.store.updateAttempt(live.attemptId, {state: 'RUNNING', handle: live.handle, launchedAt: new Date().toISOString()})
    // 2. An attempt that ended, but whose instance was never terminated (its cleanup failed).
    const ended = await attemptWithRun(job, w.aws, awsOffer('us-east-1b'))
    w.store.updateAttempt(ended.attemptId, {state: 'FAILED', handle: ended.handle, endedAt: new Date().toISOString(), exitCode: 1})
    // 3. A run tagged with an attempt this home never recorded (a lost store, another machine).
    const stranger = await w.aws.launch(
      launchRequest({
        jobId: 'j-elsewhere',
        attemptId: 'a-elsewhere01',
        idempotencyKey: 'a-elsewhere01',
        offer: awsOffer('us-west-2a'),
        spec: cloudJob('x', 'sleep 60'),
      }),
    )
    // 4. On ECS, a finished job's instance stops but is not released: it still bills its disks.
    const stopped = await attemptWithRun(job, w.aliyun, ecsOffer(), 'echo done')
    w.store.updateAttempt(stopped.attemptId, {state: 'SUCCEEDED', handle: stopped.handle, endedAt: new Date().toISOString(), exitCode: 0})
    await until(
      async () => w.ecs.instances.get(stopped.handle.externalId)!.status,
      (s) => s === 'Stopped',
    )

    const scan = await findOrphans({store: w.store, providers: w.providers})
    const found = new Map(scan.orphans.map((o) => [o.externalId, o]))
    expect([...found.keys()].sort()).to.deep.equal([ended.handle.externalId, stranger.externalId, stopped.handle.externalId].sort())
    expect(found.get(ended.handle.externalId)).to.include({
      reason: 'attempt-ended',
      attemptState: 'FAILED',
      jobId: job.id,
      region: 'us-east-1',
      instanceType: AWS_TYPE,
    })
    expect(found.get(stranger.externalId)).to.include({
      reason: 'unknown-attempt',
      attemptId: 'a-elsewhere01',
      jobId: 'j-elsewhere',
      attemptState: null,
    })
    expect(found.get(stopped.handle.externalId)).to.include({reason: 'attempt-ended', provider: 'aliyun'})
    expect(scan.scanned.map((s) => [s.provider, s.tagged, s.error])).to.deep.equal([
      ['aws', 3, null],
      ['aliyun', 1, null],
    ])

    const done = await terminateOrphans(w.providers, scan.orphans, w.store)
    expect(done.failed).to.deep.equal([])
    expect(done.terminated).to.have.length(3)
    await until(
      async () => w.ec2.liveInstances().map((i) => i.id),
      (ids) => ids.length === 1 && ids[0] === live.handle.externalId,
    )
    expect(w.ecs.live()).to.deep.equal([])
    expect(w.store.getAttempt(ended.attemptId)!.releasedAt).to.be.a('string')
    expect(w.store.getAttempt(stopped.attemptId)!.releasedAt).to.be.a('string')
    expect(w.store.getAttempt(live.attemptId)!.releasedAt).to.equal(null)
    // Nothing left but the live attempt's run.
    expect((await findOrphans({store: w.store, providers: w.providers})).orphans).to.deep.equal([])
  })

  it('leaves alone a run whose launch answer is not recorded yet, unless its job has ended', async () => {
    w = await cloudWorld()
    const job = w.create(cloudJob('inflight', 'sleep 60'))
    // REQUESTED in the store, instance up: a controller (or recover) adopts it by tag.
    const inflight = await attemptWithRun(job, w.aws, awsOffer())
    expect(w.store.getAttempt(inflight.attemptId)!.state).to.equal('REQUESTED')
    expect((await findOrphans({store: w.store, providers: w.providers})).orphans).to.deep.equal([])
    // Once the job is over nobody will adopt it: it is an orphan, and terminating it closes the attempt.
    w.store.setJobState(job.id, 'CANCELLED', {kind: 'cancel-requested'})
    const {orphans} = await findOrphans({store: w.store, providers: w.providers, provider: 'aws'})
    expect(orphans.map((o) => [o.externalId, o.reason])).to.deep.equal([[inflight.handle.externalId, 'attempt-ended']])
    await terminateOrphans(w.providers, orphans, w.store)
    expect(w.store.getAttempt(inflight.attemptId)).to.include({state: 'CANCELLED'})
    expect(w.store.getAttempt(inflight.attemptId)!.handle!.externalId).to.equal(inflight.handle.externalId)
    expect(w.store.liveAttempts()).to.deep.equal([])
  })

  it('down JOB cancels the running job, releases what its attempts hold, and terminates its tagged leftovers', async () => {
    w = await cloudWorld()
    const spec = cloudJob('victim', 'trap \'echo "got TERM"; exit 0\' TERM; echo started; while true; do sleep 0.1; done')
    const job = w.create(spec)
    const driving = w.driveExisting(job.id)
    await until(
      async () => w.store.getJob(job.id)!.state,
      (s) => s === 'RUNNING',
    )
    // A duplicate with the job's tag (an attempt id this home does not know).
    const dup = await w.aws.launch(
      launchRequest({jobId: job.id, attemptId: 'a-duplicate01', idempotencyKey: 'a-duplicate01', offer: awsOffer('us-east-1b'), spec}),
    )
    // And someone else's job, which down JOB must not touch.
    const other = await w.aws.launch(
      launchRequest({jobId: 'j-other', attemptId: 'a-other0001', idempotencyKey: 'a-other0001', offer: awsOffer('us-east-1b'), spec}),
    )
    const result = await down({
      store: w.store,
      providers: w.providers,
      job: 'victim',
      graceSeconds: 5,
      dryRun: false,
      confirm: async () => {
        throw new Error('down JOB does not ask')
      },
    })
    expect(result.job!.cancelled).to.equal(true)
    expect(result.job!.job.state).to.equal('CANCELLED')
    expect(result.terminated.map((o) => o.externalId)).to.deep.equal([dup.externalId])
    const {job: final} = await driving
    expect(final.state).to.equal('CANCELLED')
    const [a] = w.store.listAttempts(job.id)
    expect(a.state).to.equal('CANCELLED')
    expect(a.releasedAt).to.be.a('string')
    await until(
      async () => w.ec2.liveInstances().map((i) => i.id),
      (ids) => ids.length === 1 && ids[0] === other.externalId,
    )
    // Again: the job had ended, nothing left to do.
    const again = await down({
      store: w.store,
      providers: w.providers,
      job: job.id,
      graceSeconds: 5,
      dryRun: false,
      confirm: async () => true,
    })
    expect(again.job!.cancelled).to.equal(false)
    expect(again.terminated).to.deep.equal([])
  })

  it('--dry-run terminates nothing; a declined confirmation terminates nothing', async () => {
    w = await cloudWorld()
    const stray = await w.aws.launch(
      launchRequest({
        jobId: 'j-stray',
        attemptId: 'a-stray00001',
        idempotencyKey: 'a-stray00001',
        offer: awsOffer(),
        spec: cloudJob('x', 'sleep 60'),
      }),
    )
    const dry = await down({store: w.store, providers: w.providers, graceSeconds: 5, dryRun: true, confirm: async () => true})
    expect(dry.orphans.map((o) => o.externalId)).to.deep.equal([stray.externalId])
    expect(dry.terminated).to.deep.equal([])
    const declined = await down({store: w.store, providers: w.providers, graceSeconds: 5, dryRun: false, confirm: async () => false})
    expect(declined.declined).to.equal(true)
    expect(declined.terminated).to.deep.equal([])
    expect(w.ec2.instances.get(stray.externalId)!.state).to.be.oneOf(['pending', 'running'])
    // A provider that cannot be scanned is reported, the others still are.
    w.ecs.inject({code: 'InvalidAccessKeyId.NotFound', message: 'Specified access key is not found.', times: 10})
    const partial = await down({store: w.store, providers: w.providers, graceSeconds: 5, dryRun: false, confirm: async () => true})
    expect(partial.scanned.find((s) => s.provider === 'aliyun')!.error).to.match(/access key/i)
    expect(partial.terminated.map((o) => o.externalId)).to.deep.equal([stray.externalId])
  })
})
