// The real controller (driveJob), store and replanner over the two Chinese clouds' fakes:
// launch → run → succeed on each cloud; failover across zones and regions on capacity and
// quota; from Tencent to Huawei and from Huawei to Tencent when a whole provider refuses;
// a spot reclaim on Tencent that the job survives from its checkpoint; and an Ascend-only
// job (`runtimes: [cann]`) planned and launched on Huawei NPU flavors, never on the
// cheaper CUDA offers. No network: everything answers on 127.0.0.1.
import {expect} from 'chai'
import {contractEnv} from '../../src/controller/contract-env.js'
import type {JobSpec} from '../../src/model/job-spec.js'
import {until} from '../helpers/wait.js'
import {
  acceleratorOffers,
  chinaJob,
  chinaWorld,
  HW_CPU,
  HW_GPU,
  HW_IMAGES,
  HW_NPU,
  TC_CPU,
  TC_GPU,
  type ChinaWorld,
} from './huawei-tencent-world.js'

function attempts(w: ChinaWorld, jobId: string) {
  return w.store
    .listAttempts(jobId)
    .map((a) => ({provider: a.provider, region: a.region, zone: a.zone, state: a.state, instanceType: a.instanceType, spot: a.spot}))
}

/** The category and scope the controller recorded for each failed launch. */
function failures(w: ChinaWorld, jobId: string) {
  return w.store
    .listAttempts(jobId)
    .filter((a) => a.error)
    .map((a) => {
      const d = (a.error as {details: {category: string; scope: string; backendCode?: string}}).details
      return {provider: a.provider, zone: a.zone, category: d.category, scope: d.scope, backendCode: d.backendCode}
    })
}

function allow(...providers: string[]): Partial<JobSpec> {
  return {placement: {providers: {allow: providers, deny: []}, regions: {allow: null, deny: []}}}
}

describe('controller failover across Tencent Cloud and Huawei Cloud (fakes)', function () {
  this.timeout(120_000)
  let w: ChinaWorld
  afterEach(async () => w?.close())

  it('launches, runs and succeeds on Tencent Cloud (cheapest) and releases the instance', async function () {
    w = await chinaWorld()
    const {job} = await w.drive(chinaJob('tc-hello', 'echo "hello from cvm"'))
    expect(job.state, JSON.stringify(attempts(w, job.id))).to.equal('SUCCEEDED')
    expect(attempts(w, job.id)).to.deep.equal([
      {provider: 'tencentcloud', region: 'ap-guangzhou', zone: 'ap-guangzhou-3', state: 'SUCCEEDED', instanceType: TC_CPU, spot: false},
    ])
    await until(
      async () => w.cvm.live().length,
      (n) => n === 0,
    )
  })

  it('launches, runs and succeeds on Huawei Cloud and deletes the server', async function () {
    w = await chinaWorld()
    const {job} = await w.drive(chinaJob('hw-hello', 'echo "hello from ecs"', allow('huaweicloud')))
    expect(job.state, JSON.stringify(attempts(w, job.id))).to.equal('SUCCEEDED')
    expect(attempts(w, job.id)).to.deep.equal([
      {provider: 'huaweicloud', region: 'cn-north-4', zone: 'cn-north-4a', state: 'SUCCEEDED', instanceType: HW_CPU, spot: false},
    ])
    await until(
      async () => w.ecs.live().length,
      (n) => n === 0,
    )
  })

  it('fails over zone → zone on Tencent capacity, then region → region on quota', async function () {
    w = await chinaWorld()
    w.cvm.setStock('ap-guangzhou', 'ap-guangzhou-3', TC_CPU, 0)
    const first = await w.drive(chinaJob('tc-zone', 'true'))
    expect(first.job.state).to.equal('SUCCEEDED')
    expect(attempts(w, first.job.id).map((a) => [a.zone, a.state])).to.deep.equal([
      ['ap-guangzhou-3', 'FAILED'],
      ['ap-guangzhou-4', 'SUCCEEDED'],
    ])
    expect(failures(w, first.job.id)).to.deep.equal([
      {
        provider: 'tencentcloud',
        zone: 'ap-guangzhou-3',
        category: 'capacity',
        scope: 'zone',
        backendCode: 'ResourceInsufficient.SpecifiedInstanceType',
      },
    ])

    w.cvm.options.instanceQuota = {'ap-guangzhou': 0}
    const second = await w.drive(chinaJob('tc-region', 'true'))
    expect(second.job.state).to.equal('SUCCEEDED')
    expect(attempts(w, second.job.id).map((a) => [a.region, a.zone, a.state])).to.deep.equal([
      ['ap-guangzhou', 'ap-guangzhou-3', 'FAILED'],
      ['ap-shanghai', 'ap-shanghai-2', 'SUCCEEDED'],
    ])
    // One quota error blocks the whole region: ap-guangzhou-4 is never tried.
    expect(failures(w, second.job.id)).to.deep.equal([
      {provider: 'tencentcloud', zone: 'ap-guangzhou-3', category: 'quota', scope: 'region', backendCode: 'LimitExceeded.InstanceQuota'},
    ])
    expect(
      w.cvm.calls.filter((c) => c.action === 'RunInstances' && c.region === 'ap-guangzhou' && c.code === 'LimitExceeded.InstanceQuota'),
    ).to.have.length(1)
  })

  it('fails over on Huawei: capacity reported by the creation job (zone), then quota (region)', async function () {
    w = await chinaWorld()
    w.ecs.setStock('cn-north-4', 'cn-north-4a', HW_CPU, 0)
    const first = await w.drive(chinaJob('hw-zone', 'true', allow('huaweicloud')))
    expect(first.job.state).to.equal('SUCCEEDED')
    expect(attempts(w, first.job.id).map((a) => [a.zone, a.state])).to.deep.equal([
      ['cn-north-4a', 'FAILED'],
      ['cn-north-4b', 'SUCCEEDED'],
    ])
    const failed = w.store.listAttempts(first.job.id)[0]
    expect(failed.error).to.deep.include({code: 'PROVIDER_CAPACITY'})
    expect((failed.error as {details: {backendCode: string}}).details.backendCode).to.equal('Ecs.0319')

    w.ecs.options.instanceQuota = {'cn-north-4': 0}
    const second = await w.drive(chinaJob('hw-region', 'true', allow('huaweicloud')))
    expect(second.job.state).to.equal('SUCCEEDED')
    expect(attempts(w, second.job.id).map((a) => [a.region, a.state])).to.deep.equal([
      ['cn-north-4', 'FAILED'],
      ['cn-east-3', 'SUCCEEDED'],
    ])
  })

  it('moves from Tencent Cloud to Huawei Cloud when Tencent refuses the credentials', async function () {
    w = await chinaWorld()
    w.cvm.inject({
      service: 'cvm',
      action: 'RunInstances',
      code: 'AuthFailure.SignatureFailure',
      message: 'The provided credentials could not be validated.',
      times: 100,
    })
    const {job} = await w.drive(chinaJob('tc-to-hw', 'echo moved'))
    expect(job.state).to.equal('SUCCEEDED')
    expect(attempts(w, job.id).map((a) => [a.provider, a.zone, a.state])).to.deep.equal([
      ['tencentcloud', 'ap-guangzhou-3', 'FAILED'],
      ['huaweicloud', 'cn-north-4a', 'SUCCEEDED'],
    ])
    // The whole provider is blocked: ap-guangzhou-4 and ap-shanghai-2 are never tried.
    expect(failures(w, job.id)).to.deep.equal([
      {provider: 'tencentcloud', zone: 'ap-guangzhou-3', category: 'auth', scope: 'provider', backendCode: 'AuthFailure.SignatureFailure'},
    ])
    expect(w.cvm.calls.filter((c) => c.action === 'RunInstances')).to.have.length(1)
  })

  it('moves from Huawei Cloud to Tencent Cloud when Huawei refuses the credentials', async function () {
    // Huawei is the cheaper cloud in this catalog.
    const offers = [
      {
        provider: 'huaweicloud',
        region: 'cn-north-4',
        zone: 'cn-north-4a',
        instanceType: HW_CPU,
        accelerator: null,
        vcpus: 2,
        memoryGiB: 4,
        price: {onDemand: 0.3, spot: 0.1, currency: 'CNY'},
      },
      {
        provider: 'tencentcloud',
        region: 'ap-shanghai',
        zone: 'ap-shanghai-2',
        instanceType: TC_CPU,
        accelerator: null,
        vcpus: 2,
        memoryGiB: 4,
        price: {onDemand: 0.5, spot: 0.12, currency: 'CNY'},
      },
    ]
    w = await chinaWorld(offers)
    w.ecs.inject({
      action: 'CreatePostPaidServers',
      code: 'APIGW.0301',
      message: 'Incorrect IAM authentication information: verify aksk signature fail',
      times: 100,
    })
    const {job} = await w.drive(chinaJob('hw-to-tc', 'echo moved'))
    expect(job.state).to.equal('SUCCEEDED')
    expect(attempts(w, job.id).map((a) => [a.provider, a.region, a.state])).to.deep.equal([
      ['huaweicloud', 'cn-north-4', 'FAILED'],
      ['tencentcloud', 'ap-shanghai', 'SUCCEEDED'],
    ])
    expect(failures(w, job.id)).to.deep.equal([
      {provider: 'huaweicloud', zone: 'cn-north-4a', category: 'auth', scope: 'provider', backendCode: 'APIGW.0301'},
    ])
  })

  it('retries Tencent throttling inside one launch (no failover)', async function () {
    w = await chinaWorld()
    w.cvm.throttle(3, 'RunInstances')
    const {job} = await w.drive(chinaJob('tc-throttled', 'true'))
    expect(job.state).to.equal('SUCCEEDED')
    expect(attempts(w, job.id)).to.have.length(1)
    expect(w.cvm.calls.filter((c) => c.action === 'RunInstances').map((c) => c.code)).to.deep.equal([
      'RequestLimitExceeded',
      'RequestLimitExceeded',
      'RequestLimitExceeded',
      null,
    ])
  })

  it('survives a Tencent spot reclaim: the job checkpoints on the notice into COS and resumes elsewhere', async function () {
    w = await chinaWorld(undefined, {checkpointStore: 'cos'})
    const run = [
      'mkdir -p "$SKYHOP_CHECKPOINT_DIR"',
      'if [ -f "$SKYHOP_CHECKPOINT_DIR/step" ]; then echo "resumed from $(cat "$SKYHOP_CHECKPOINT_DIR/step")"; exit 0; fi',
      'trap \'echo 41 > "$SKYHOP_CHECKPOINT_DIR/step"; echo checkpointed; exit 0\' TERM',
      'echo working',
      'while true; do sleep 0.1; done',
    ].join('\n')
    const driving = w.drive(
      chinaJob('tc-spot', run, {
        spot: 'spot',
        recovery: {
          strategy: 'eager-next-region',
          maxRestarts: 3,
          restartOnExitCodes: [],
          maxRestartsOnErrors: 0,
          graceSeconds: 5,
          signal: 'SIGTERM',
        },
      }),
    )
    const first = await until(
      async () => w.cvm.live().find((i) => w.cvm.consoleOf(i.id).includes('SKYHOP-LOG 1 working')),
      (i) => !!i,
      30_000,
      200,
    )
    w.cvm.reclaimSpot(first!.id, 6000)
    const {job} = await driving
    expect(job.state, JSON.stringify(attempts(w, job.id))).to.equal('SUCCEEDED')
    const tried = attempts(w, job.id)
    expect(tried[0]).to.deep.include({provider: 'tencentcloud', region: 'ap-guangzhou', state: 'PREEMPTED', spot: true})
    expect(tried.at(-1)!.state).to.equal('SUCCEEDED')
    // eager-next-region: not back in the region that was just reclaimed.
    expect(tried.at(-1)!.region).not.to.equal('ap-guangzhou')
    expect(w.cvm.consoleOf(first!.id)).to.match(/SKYHOP-LOG \d+ checkpointed/)
    expect(w.objectStore!.object('ckpt-1250000000', `runs/${job.id}/checkpoint.tar`)).to.not.equal(undefined)
    const last = w.store.listAttempts(job.id).at(-1)!
    const lastConsole =
      last.provider === 'tencentcloud' ? w.cvm.consoleOf(last.handle!.externalId) : w.ecs.consoleOf(last.handle!.externalId)
    expect(lastConsole).to.match(/SKYHOP-LOG 1 resumed from 41/)
  })

  describe('an Ascend-only job', function () {
    /** Any accelerator of 16 GB or more, on CANN only: the runtime list alone rules out CUDA. */
    function ascendJob(run: string): JobSpec {
      return chinaJob('npu-train', run, {
        resources: {
          accelerators: [{names: null, vendors: null, memoryGB: {min: 16}, count: {min: 1, max: 8}, text: '{memory: 16GB.., count: 1..8}'}],
          acceleratorOrder: 'any',
          runtimes: ['cann'],
          cpus: null,
          memoryGB: null,
          diskGB: null,
        },
      })
    }

    it('is planned and launched only on Huawei NPU flavors with the CANN image, never on the cheaper CUDA offers', async function () {
      w = await chinaWorld()
      w.ecs.setStock('cn-north-4', 'cn-north-4a', HW_NPU, 0) // the first NPU zone is full: fail over among NPU offers only
      const {job} = await w.drive(ascendJob('echo "npu job on $(hostname)"'))
      expect(job.state, JSON.stringify(attempts(w, job.id))).to.equal('SUCCEEDED')
      expect(attempts(w, job.id).map((a) => [a.provider, a.region, a.instanceType, a.state])).to.deep.equal([
        ['huaweicloud', 'cn-north-4', HW_NPU, 'FAILED'],
        ['huaweicloud', 'cn-east-3', HW_NPU, 'SUCCEEDED'],
      ])
      expect(w.cvm.calls.filter((c) => c.action === 'RunInstances')).to.have.length(0)
      const creates = w.ecs.calls
        .filter((c) => c.action === 'CreatePostPaidServers')
        .map((c) => (c.body as {server: {flavorRef: string; imageRef: string}}).server)
      expect(creates.map((s) => s.flavorRef)).to.deep.equal([HW_NPU, HW_NPU])
      expect(creates.map((s) => s.flavorRef)).not.to.include.members([HW_GPU, TC_GPU])
      expect(creates.at(-1)!.imageRef).to.equal(HW_IMAGES['cn-east-3'][1].id)
    })

    it('fails with no feasible plan, naming the runtime, when only CUDA offers exist', async function () {
      w = await chinaWorld(acceleratorOffers().filter((o) => (o.accelerator as {name: string}).name !== 'Ascend910B'))
      const {job} = await w.drive(ascendJob('true'))
      expect(job.state).to.equal('FAILED')
      expect(attempts(w, job.id)).to.have.length(0)
      expect(job.reason).to.match(/^no offer can run npu-train/)
      expect(job.reason).to.include('runtime-mismatch: T4 runs cuda; the job runs on cann')
      expect(job.reason).to.include('runtime-mismatch: V100-32GB runs cuda; the job runs on cann')
      expect(
        w.cvm.calls.filter((c) => c.action === 'RunInstances').length +
          w.ecs.calls.filter((c) => c.action === 'CreatePostPaidServers').length,
      ).to.equal(0)
    })
  })

  it('relaunches after a Huawei spot reclaim seen only through the API, resuming from the last periodic checkpoint copied to OBS', async function () {
    w = await chinaWorld(undefined, {checkpointStore: 'obs'})
    const run = [
      'mkdir -p "$SKYHOP_CHECKPOINT_DIR"',
      'if [ -f "$SKYHOP_CHECKPOINT_DIR/step" ]; then echo "resumed at step $(cat "$SKYHOP_CHECKPOINT_DIR/step")"; exit 0; fi',
      // No notice will come: save progress as it goes.
      'for i in 1 2 3; do echo "$i" > "$SKYHOP_CHECKPOINT_DIR/step"; done',
      'echo working',
      'while true; do sleep 0.1; done',
    ].join('\n')
    const driving = w.drive(chinaJob('hw-spot', run, {...allow('huaweicloud'), spot: 'spot'}))
    const first = await until(
      async () => w.ecs.live().find((s) => w.ecs.consoleOf(s.id).includes('SKYHOP-LOG 1 working')),
      (s) => !!s,
      30_000,
      200,
    )
    // No notice comes on Huawei Cloud: what survives is what the runner copied while the job ran.
    await until(
      async () => w.ecs.consoleOf(first!.id),
      (c) => /"event":"checkpoint-save","reason":"periodic","ok":true/.test(c),
      30_000,
      200,
    )
    w.ecs.reclaimSpot(first!.id)
    const {job} = await driving
    expect(job.state, JSON.stringify(attempts(w, job.id))).to.equal('SUCCEEDED')
    const tried = attempts(w, job.id)
    expect(tried[0]).to.deep.include({provider: 'huaweicloud', region: 'cn-north-4', state: 'PREEMPTED', spot: true})
    expect(tried.at(-1)).to.deep.include({provider: 'huaweicloud', region: 'cn-east-3', state: 'SUCCEEDED'})
    const last = w.store.listAttempts(job.id).at(-1)!
    expect(w.ecs.consoleOf(last.handle!.externalId)).to.match(/SKYHOP-LOG 1 resumed at step 3/)
  })

  for (const cloud of ['tencentcloud', 'huaweicloud'] as const) {
    it(`${cloud}: a crash between "requested" and "recorded" is reconciled by tag or token: one instance, none left`, async function () {
      w = await chinaWorld()
      const spec = chinaJob(`crash-${cloud}`, 'echo once', allow(cloud))
      const created = w.store.createJob({name: spec.name, file: null, spec, options: {catalogFile: w.catalogFile}})
      const {plan, offerOf} = await w.replan(spec, [])
      const c = plan.candidates[0]
      const offer = offerOf(c)!
      const attempt = w.store.recordAttemptIntent({
        jobId: created.id,
        provider: c.provider,
        region: c.region,
        zone: c.zone,
        instanceType: c.instanceType,
        accelerator: null,
        acceleratorCount: null,
        spot: c.spot,
        pricePerHour: c.hourlyPrice?.amount ?? null,
        currency: c.hourlyPrice?.currency ?? null,
        onDemandPricePerHour: offer.price.onDemand,
      })!
      // The launch reaches the cloud, then the controller dies before recording it.
      const {env, checkpointDir} = contractEnv({job: w.store.getJob(created.id)!, attempt, home: w.home, processEnv: process.env})
      const provider = cloud === 'tencentcloud' ? w.tencent : w.huawei
      const first = await provider.launch({
        jobId: created.id,
        jobName: spec.name,
        attemptId: attempt.id,
        attempt: attempt.n,
        restartCount: 0,
        idempotencyKey: attempt.id,
        spec,
        offer,
        spot: c.spot,
        env,
        checkpointDir,
        checkpointSync: null,
        graceSeconds: spec.recovery.graceSeconds,
      })
      expect(w.store.getAttempt(attempt.id)!.state).to.equal('REQUESTED')

      const {job} = await w.driveExisting(created.id)
      expect(job.state, JSON.stringify(attempts(w, job.id))).to.equal('SUCCEEDED')
      const recorded = w.store.listAttempts(job.id)
      expect(recorded).to.have.length(1)
      expect(recorded[0].handle!.externalId).to.equal(first.externalId)
      const launches =
        cloud === 'tencentcloud'
          ? w.cvm.calls.filter((x) => x.action === 'RunInstances')
          : w.ecs.calls.filter((x) => x.action === 'CreatePostPaidServers')
      // Found again by its tag (listOwned with the attempt id), or relaunched with the same
      // token, which the cloud answers with the same instance: never a second one.
      expect(launches.length).to.be.within(1, 2)
      expect(w.store.events(job.id).map((e) => e.kind)).to.include('attempt-reconciled')
      expect(cloud === 'tencentcloud' ? w.cvm.instances.size : w.ecs.servers.size).to.equal(1)
      await until(
        async () => (cloud === 'tencentcloud' ? w.cvm.live().length : w.ecs.live().length),
        (n) => n === 0,
      )
    })
  }

  it('keeps job secrets out of every cloud request it makes', async function () {
    w = await chinaWorld()
    const {job} = await w.drive(chinaJob('tc-secret', 'true'))
    expect(job.state).to.equal('SUCCEEDED')
    const dump = JSON.stringify(w.cvm.calls) + JSON.stringify(w.store.events(job.id))
    expect(dump).not.to.include(w.cliEnv.TENCENTCLOUD_SECRET_KEY)
    expect(dump).not.to.include(w.cliEnv.HUAWEICLOUD_SDK_SK)
  })
})
