// `recover` with one provider down (its fake EC2 endpoint stopped: connections refused):
// it does everything that does not depend on that provider — restarts the orphaned job's
// controller, releases the idle instance on the other cloud — reports per job what it did
// and what it could not, asks the dead provider once (not once per attempt), and says
// "partial" (exit 7 from the CLI, under --json too).
import {expect} from 'chai'

import {ExitCode} from '../../src/errors.js'
import type {Offer} from '../../src/model/catalog.js'
import {recoverJobs} from '../../src/services/recover.js'
import {renderRecover} from '../../src/cli/render-jobs.js'
import {parseEnvelope, runCliAsync} from '../helpers/cli.js'
import {FakeBlackHole} from '../fakes/fake-black-hole.js'
import {AwsProvider} from '../../src/providers/aws/aws-provider.js'
import type {Provider} from '../../src/providers/provider.js'
import {until} from '../helpers/wait.js'
import {launchRequest, offer} from './aws-helpers.js'
import {AWS_TYPE, cloudJob, cloudWorld, fakeOffers, type CloudWorld} from './cloud-world.js'

describe('recover with one provider unreachable', function () {
  this.timeout(120_000)
  let w: CloudWorld

  afterEach(async () => w?.close().catch(() => {}))

  /** A job that has ended while an attempt of it still runs on EC2 (its controller died before stopping it). */
  async function endedWithLiveAwsAttempt(name: string): Promise<{jobId: string; attemptId: string}> {
    const spec = cloudJob(name, 'sleep 60')
    const job = w.create(spec)
    const attempt = w.store.recordAttemptIntent({
      jobId: job.id,
      provider: 'aws',
      region: 'us-east-1',
      zone: 'us-east-1a',
      instanceType: AWS_TYPE,
      accelerator: null,
      acceleratorCount: null,
      spot: false,
      pricePerHour: 0.096,
      currency: 'USD',
      onDemandPricePerHour: 0.096,
    })!
    const handle = await w.aws.launch(
      launchRequest({
        jobId: job.id,
        jobName: job.name,
        attemptId: attempt.id,
        idempotencyKey: attempt.id,
        spec,
        offer: offer({instanceType: AWS_TYPE}),
      }),
    )
    w.store.updateAttempt(attempt.id, {handle, state: 'RUNNING', launchedAt: new Date().toISOString()})
    w.store.setJobState(job.id, 'CANCELLED', {kind: 'cancel-requested', data: {graceSeconds: 1}})
    return {jobId: job.id, attemptId: attempt.id}
  }

  /** A finished job whose Alibaba Cloud instance is still held, an hour past its idle timeout. */
  async function idleOnAliyun(): Promise<{jobId: string; attemptId: string; instanceId: string}> {
    const spec = cloudJob('idle', 'echo ok')
    const job = w.create(spec)
    const aliyunOffer = fakeOffers().find((o) => o.provider === 'aliyun') as unknown as Offer
    const attempt = w.store.recordAttemptIntent({
      jobId: job.id,
      provider: 'aliyun',
      region: aliyunOffer.region,
      zone: aliyunOffer.zone,
      instanceType: aliyunOffer.instanceType,
      accelerator: null,
      acceleratorCount: null,
      spot: false,
      pricePerHour: 1.5,
      currency: 'USD',
      onDemandPricePerHour: 1.5,
    })!
    const handle = await w.aliyun.launch(
      launchRequest({jobId: job.id, jobName: job.name, attemptId: attempt.id, idempotencyKey: attempt.id, spec, offer: aliyunOffer}),
    )
    const hourAgo = new Date(Date.now() - 3600_000).toISOString()
    w.store.updateAttempt(attempt.id, {handle, state: 'SUCCEEDED', exitCode: 0, launchedAt: hourAgo, endedAt: hourAgo})
    w.store.setJobState(job.id, 'SUCCEEDED', {kind: 'job-succeeded'})
    return {jobId: job.id, attemptId: attempt.id, instanceId: handle.externalId}
  }

  it('does all it can, reports per job what it did and could not, and is partial', async () => {
    w = await cloudWorld()
    const a = await endedWithLiveAwsAttempt('ended-a')
    const b = await endedWithLiveAwsAttempt('ended-b')
    const idle = await idleOnAliyun()
    const orphan = w.create(cloudJob('orphaned', 'echo hi'))
    await w.ec2.stop()
    const calls = w.ec2.actions().length

    const spawned: string[] = []
    const result = await recoverJobs({store: w.store, providers: w.providers, home: w.home, spawn: (_home, id) => spawned.push(id)})

    expect(result.partial).to.equal(true)
    expect(spawned).to.deep.equal([orphan.id])
    expect(result.restarted).to.deep.equal([orphan.id])
    expect(result.idleReleased).to.deep.equal([idle.attemptId])
    expect(result.cleaned).to.deep.equal([])
    const by = (attemptId: string | null, jobId: string) => result.actions.find((x) => x.jobId === jobId && x.attemptId === attemptId)
    expect(by(null, orphan.id)).to.include({step: 'restart-controller', ok: true})
    expect(by(a.attemptId, a.jobId)).to.include({step: 'stop-attempt', ok: false, provider: 'aws', code: 'PROVIDER_TRANSIENT'})
    expect(by(b.attemptId, b.jobId)).to.include({step: 'stop-attempt', ok: false, provider: 'aws', code: 'PROVIDER_TRANSIENT'})
    expect(by(b.attemptId, b.jobId)!.message).to.match(/provider aws failed earlier in this run/)
    expect(by(idle.attemptId, idle.jobId)).to.include({step: 'release-idle', ok: true})
    // The attempts on the dead provider are left as they were, for the next recover.
    expect(w.store.getAttempt(a.attemptId)).to.include({state: 'RUNNING', releasedAt: null})
    expect(w.store.getAttempt(b.attemptId)).to.include({state: 'RUNNING', releasedAt: null})
    expect(w.ec2.actions().length).to.equal(calls)
    await until(
      async () => w.ecs.live().length,
      (n) => n === 0,
    )

    const text = renderRecover(result)
    expect(text).to.include(`✓ job ${orphan.id}: restarted its controller`)
    expect(text).to.include(`✗ job ${a.jobId}, attempt ${a.attemptId} on aws: not stopped:`)
    expect(text).to.include(`✓ job ${idle.jobId}, attempt ${idle.attemptId} on aliyun: released an idle instance`)
    expect(text).to.match(/recover did not finish: 2 step\(s\) could not be done/)
  })

  it('a provider whose endpoint accepts and never answers costs one step budget, once', async () => {
    w = await cloudWorld()
    const a = await endedWithLiveAwsAttempt('silent-a')
    const b = await endedWithLiveAwsAttempt('silent-b')
    // And an instance of an ended attempt, idle for an hour: its release is not tried again on the dead provider.
    const c = await endedWithLiveAwsAttempt('silent-idle')
    const hourAgo = new Date(Date.now() - 3600_000).toISOString()
    w.store.updateAttempt(c.attemptId, {state: 'SUCCEEDED', exitCode: 0, endedAt: hourAgo})
    const hole = new FakeBlackHole()
    const holeUrl = await hole.start()
    const silent = new AwsProvider({
      env: {AWS_ENDPOINT_URL_EC2: holeUrl, AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'x', AWS_EC2_METADATA_DISABLED: 'true'},
      credentials: {homeDir: '/nonexistent'},
      regions: ['us-east-1'],
    })
    try {
      const t0 = Date.now()
      const result = await recoverJobs({
        store: w.store,
        providers: new Map([['aws', silent as Provider]]),
        home: w.home,
        spawn: () => undefined,
        stepBudgetMs: 1500,
      })
      expect(Date.now() - t0).to.be.lessThan(5000)
      expect(result.partial).to.equal(true)
      const first = result.actions.find((x) => x.attemptId === a.attemptId)!
      expect(first).to.include({ok: false, code: 'PROVIDER_TRANSIENT'})
      expect(first.message).to.include(`the deadline of stopping attempt ${a.attemptId} on aws (1.5 s) passed`)
      expect(result.actions.find((x) => x.attemptId === b.attemptId)!.message).to.match(/failed earlier in this run/)
      const idle = result.actions.find((x) => x.attemptId === c.attemptId)!
      expect(idle).to.include({step: 'release-idle', ok: false, code: 'PROVIDER_TRANSIENT'})
      expect(idle.message).to.match(/^idle instance not released: aws: failed earlier in this run \(/)
      expect(w.store.getAttempt(c.attemptId)!.releasedAt).to.equal(null)
    } finally {
      await silent.close?.()
      await hole.stop()
    }
  })

  it('the CLI prints the per-job report under --json and exits 7 (partial)', async () => {
    w = await cloudWorld()
    const a = await endedWithLiveAwsAttempt('ended-cli')
    const url = w.ec2.url
    await w.ec2.stop()
    w.store.close()
    const r = await runCliAsync(['recover', '--json'], {
      home: w.home,
      env: {
        SKYHOP_AWS_ENDPOINT: url,
        AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
        AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
        AWS_REGION: 'us-east-1',
        AWS_EC2_METADATA_DISABLED: 'true',
        HOME: w.home,
      },
    })
    expect(r.code, r.stderr).to.equal(ExitCode.partial)
    const out = parseEnvelope(r.stdout)
    expect(out.ok).to.equal(true)
    expect(out.result.partial).to.equal(true)
    const step = out.result.actions.find((x: {attemptId: string}) => x.attemptId === a.attemptId)
    expect(step).to.include({jobId: a.jobId, step: 'stop-attempt', ok: false, code: 'PROVIDER_TRANSIENT'})
    expect(r.stdout).not.to.include('wJalrXUtnFEMI')
  })
})
