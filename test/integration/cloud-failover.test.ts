// The controller end to end on the fake clouds (test/fakes): the real driveJob, store,
// replanner, AwsProvider and AliyunProvider, and each instance's boot script and runner
// run locally by the fake as cloud-init would. Covers success, failover by scope (zone,
// then region; quota → region; auth → provider), throttling, a spot interruption with
// checkpoint and resume elsewhere, and launches whose answer was lost (ClientToken) or
// whose controller died between "requested" and "recorded" (reconciled by tag).
import {expect} from 'chai'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import {cancelJob} from '../../src/services/cancel.js'
import {recoverJobs} from '../../src/services/recover.js'
import {parseConsole} from '../../src/providers/vm/console-channel.js'
import {until} from '../helpers/wait.js'
import {launchRequest, offer} from './aws-helpers.js'
import {AWS_TYPE, cloudJob, cloudWorld, storedCheckpoint, type CloudWorld} from './cloud-world.js'

async function collect(iter: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = []
  for await (const line of iter) out.push(line)
  return out
}

describe('controller on the fake clouds: launch, failover, preemption, reconcile', function () {
  this.timeout(90_000)
  let w: CloudWorld
  afterEach(async () => w?.close())

  function attempts(jobId: string) {
    return w.store.listAttempts(jobId).map((a) => ({provider: a.provider, region: a.region, zone: a.zone, state: a.state}))
  }

  function failures(jobId: string) {
    return w.store
      .events(jobId)
      .filter((e) => e.kind === 'attempt-launch-failed')
      .map((e) => ({backendCode: e.data.backendCode, category: e.data.category, scope: e.data.scope}))
  }

  it('launch → run → succeed on fake AWS: logs through the console, the instance released', async () => {
    w = await cloudWorld()
    const {job} = await w.drive(cloudJob('hello', 'echo "hello from $SKYHOP_JOB_ID attempt $SKYHOP_ATTEMPT"'))
    expect(job.state).to.equal('SUCCEEDED')
    expect(job.exitCode).to.equal(0)
    const [a] = w.store.listAttempts(job.id)
    expect(a).to.include({provider: 'aws', region: 'us-east-1', zone: 'us-east-1a', state: 'SUCCEEDED', exitCode: 0})
    expect(a.releasedAt).to.be.a('string')
    expect(await collect(w.aws.logs(a.handle!, {follow: false}))).to.deep.equal([`hello from ${job.id} attempt 1`])
    const instance = w.ec2.instances.get(a.handle!.externalId)!
    expect(instance.tags.get('skyhop:job-id')).to.equal(job.id)
    expect(instance.tags.get('skyhop:attempt-id')).to.equal(a.id)
    expect(instance.clientToken).to.equal(a.id)
    await until(
      async () => w.ec2.liveInstances().length,
      (n) => n === 0,
    )
  })

  it('capacity: fails over to the next zone, then to the next region, blocking each zone', async () => {
    w = await cloudWorld()
    w.ec2.setCapacity('us-east-1', 'us-east-1a', AWS_TYPE, 0)
    w.ec2.setCapacity('us-east-1', 'us-east-1b', AWS_TYPE, 0)
    const {job, blocked} = await w.drive(cloudJob('cap', 'echo ok'))
    expect(job.state).to.equal('SUCCEEDED')
    expect(attempts(job.id)).to.deep.equal([
      {provider: 'aws', region: 'us-east-1', zone: 'us-east-1a', state: 'FAILED'},
      {provider: 'aws', region: 'us-east-1', zone: 'us-east-1b', state: 'FAILED'},
      {provider: 'aws', region: 'us-west-2', zone: 'us-west-2a', state: 'SUCCEEDED'},
    ])
    expect(failures(job.id)).to.deep.equal([
      {backendCode: 'InsufficientInstanceCapacity', category: 'capacity', scope: 'zone'},
      {backendCode: 'InsufficientInstanceCapacity', category: 'capacity', scope: 'zone'},
    ])
    // The zones are what the controller blocks (not the region, not the provider).
    const observed = w.store.observations('1970-01-01T00:00:00Z').filter((o) => o.kind === 'capacity-failure')
    expect(observed.map((o) => o.zone)).to.deep.equal(['us-east-1a', 'us-east-1b'])
    const zoneBlocks = blocked.flat().filter((b) => b.reason === 'capacity')
    expect(zoneBlocks.every((b) => b.region === 'us-east-1' && b.zone !== null)).to.equal(true)
    expect(w.ec2.actions().filter((a) => a === 'RunInstances')).to.have.length(3)
  })

  it('quota: blocks the whole region and goes straight to the next one', async () => {
    w = await cloudWorld()
    w.ec2.options.quotas = {'us-east-1': {instances: 0}}
    const {job} = await w.drive(cloudJob('quota', 'echo ok'))
    expect(job.state).to.equal('SUCCEEDED')
    expect(attempts(job.id)).to.deep.equal([
      {provider: 'aws', region: 'us-east-1', zone: 'us-east-1a', state: 'FAILED'},
      {provider: 'aws', region: 'us-west-2', zone: 'us-west-2a', state: 'SUCCEEDED'},
    ])
    expect(failures(job.id)).to.deep.equal([{backendCode: 'InstanceLimitExceeded', category: 'quota', scope: 'region'}])
    // us-east-1b was never asked: its region was blocked.
    const asked = w.ec2.calls.filter((c) => c.action === 'RunInstances').map((c) => c.params['Placement.AvailabilityZone'])
    expect(asked).to.deep.equal(['us-east-1a', 'us-west-2a'])
  })

  it('auth: blocks AWS as a whole and moves to another provider (Alibaba Cloud)', async () => {
    w = await cloudWorld()
    w.ec2.options.deniedActions = ['RunInstances']
    const {job} = await w.drive(cloudJob('auth', 'echo "on $SKYHOP_ATTEMPT"'))
    expect(job.state).to.equal('SUCCEEDED')
    expect(attempts(job.id)).to.deep.equal([
      {provider: 'aws', region: 'us-east-1', zone: 'us-east-1a', state: 'FAILED'},
      {provider: 'aliyun', region: 'cn-hangzhou', zone: 'cn-hangzhou-h', state: 'SUCCEEDED'},
    ])
    expect(failures(job.id)).to.deep.equal([{backendCode: 'UnauthorizedOperation', category: 'auth', scope: 'provider'}])
    expect(w.ec2.calls.filter((c) => c.action === 'RunInstances')).to.have.length(1)
    // (ECS deletes an instance's console with it: read what the fake's serial console held.)
    const a = w.store.listAttempts(job.id)[1]
    expect(parseConsole(w.ecs.consoleOf(a.handle!.externalId)).logs.map((l) => l.line)).to.deep.equal(['on 2'])
    // ECS stops on power-off; the controller deleted the instance when the attempt ended.
    await until(
      async () => w.ecs.live().length,
      (n) => n === 0,
    )
  })

  it('throttling: RequestLimitExceeded is retried with backoff, one instance, one attempt', async () => {
    w = await cloudWorld()
    // More than the client's own four tries: the controller's transient retry takes over.
    w.ec2.throttle(6, 'RunInstances')
    const {job} = await w.drive(cloudJob('throttled', 'echo ok'))
    expect(job.state).to.equal('SUCCEEDED')
    expect(attempts(job.id)).to.deep.equal([{provider: 'aws', region: 'us-east-1', zone: 'us-east-1a', state: 'SUCCEEDED'}])
    const runs = w.ec2.calls.filter((c) => c.action === 'RunInstances')
    expect(runs.map((c) => c.code)).to.deep.equal([...Array(6).fill('RequestLimitExceeded'), null])
    expect(new Set(runs.map((c) => c.params.ClientToken)).size).to.equal(1)
    expect(w.ec2.instances.size).to.equal(1)
  })

  /** Counts to `steps`, one step per 0.2 s; saves its step on SIGTERM and resumes from it. */
  function countingJob(steps: number): string {
    return [
      'f="$SKYHOP_CHECKPOINT_DIR/step"; mkdir -p "$SKYHOP_CHECKPOINT_DIR"',
      'i=$(cat "$f" 2>/dev/null || echo 0)',
      'echo "attempt $SKYHOP_ATTEMPT resumes at $i"',
      'trap \'echo "$i" > "$f"; echo "saved $i"; exit 0\' TERM',
      `while [ "$i" -lt ${steps} ]; do i=$((i+1)); echo "step $i" >> "$SKYHOP_CHECKPOINT_DIR/work.log"; sleep 0.2; done`,
      'echo "finished at $i"',
    ].join('\n')
  }

  it('spot interruption: the job checkpoints within the notice, the checkpoint goes to the store, and the job resumes on another instance', async () => {
    w = await cloudWorld({checkpointStore: true})
    const steps = 30
    const run = countingJob(steps)
    const spec = cloudJob('spot', run, {
      spot: 'spot',
      recovery: {
        strategy: 'eager-next-region',
        maxRestarts: 2,
        restartOnExitCodes: [],
        maxRestartsOnErrors: 0,
        graceSeconds: 5,
        signal: 'SIGTERM',
      },
    })
    const noticeMs = 8000
    let interrupted: string | null = null
    const driving = w.drive(spec, {
      onEvent: (e) => {
        if (e.kind !== 'running' || interrupted) return
        const a = w.store.getAttempt(e.attemptId!)!
        interrupted = a.handle!.externalId
        // Let it do some work first, then serve the notice on the instance's metadata.
        setTimeout(() => w.ec2.interruptSpot(interrupted!, noticeMs), 1500)
      },
    })
    const {job, blocked} = await driving
    expect(job.state).to.equal('SUCCEEDED')
    const all = w.store.listAttempts(job.id)
    expect(all.map((a) => [a.region, a.spot, a.state])).to.deep.equal([
      ['us-east-1', true, 'PREEMPTED'],
      ['us-west-2', true, 'SUCCEEDED'],
    ])
    // eager-next-region: the region that took the instance back was blocked for spot.
    expect(blocked.at(-1)).to.deep.include({provider: 'aws', region: 'us-east-1', market: 'spot', reason: 'preempted'})
    // The first instance saw the notice, signalled the job, and it exited before the deadline.
    const first = parseConsole(w.ec2.consoleOf(interrupted!))
    const names = first.events.map((e) => e.event)
    expect(names).to.include.members(['notice', 'signal', 'exit'])
    const exit = first.events.find((e) => e.event === 'exit')!
    expect(exit.beforeDeadline).to.equal(true)
    const notice = first.events.find((e) => e.event === 'notice')!
    expect(Date.parse(exit.ts) - Date.parse(notice.ts)).to.be.lessThan(noticeMs)
    const firstLogs = first.logs.map((l) => l.line)
    const saved = Number(/^saved (\d+)$/.exec(firstLogs.find((l) => l.startsWith('saved'))!)![1])
    expect(saved).to.be.greaterThan(0)
    await until(
      async () => w.ec2.instances.get(interrupted!)!.state,
      (s) => s === 'terminated',
    )
    // The second attempt resumed from the checkpoint, and every step was done once.
    const second = await collect(w.aws.logs(all[1].handle!, {follow: false}))
    expect(second[0]).to.equal(`attempt 2 resumes at ${saved}`)
    expect(second.at(-1)).to.equal(`finished at ${steps}`)
    // The first instance's last copy reached the store before it ended; the second restored it.
    expect(first.events.find((e) => e.event === 'checkpoint-save' && e.reason === 'exit')).to.deep.include({ok: true})
    const secondConsole = parseConsole(w.ec2.consoleOf(all[1].handle!.externalId))
    expect(secondConsole.events.find((e) => e.event === 'checkpoint-restore')).to.deep.include({found: true})
    const work = storedCheckpoint(w, job.id)['work.log'].trim().split('\n')
    expect(new Set(work).size).to.equal(steps)
    expect(work.length).to.be.within(steps, steps + 1) // the step in flight at the signal may repeat once
    const kinds = w.store.events(job.id).map((e) => e.kind)
    expect(kinds).to.include.members(['attempt-preempted', 'job-recovering', 'job-succeeded'])
    await until(
      async () => w.ec2.liveInstances().length,
      (n) => n === 0,
    )
  })

  it('across clouds: preempted on AWS, the job resumes on Alibaba Cloud from the checkpoint in S3', async () => {
    w = await cloudWorld({checkpointStore: true})
    const steps = 25
    const spec = cloudJob('hop', countingJob(steps), {
      spot: 'spot',
      recovery: {
        strategy: 'eager-next-region',
        maxRestarts: 2,
        restartOnExitCodes: [],
        maxRestartsOnErrors: 0,
        graceSeconds: 5,
        signal: 'SIGTERM',
      },
    })
    let interrupted: string | null = null
    const {job} = await w.drive(spec, {
      onEvent: (e) => {
        if (e.kind !== 'running' || interrupted) return
        interrupted = w.store.getAttempt(e.attemptId!)!.handle!.externalId
        // AWS has nothing left anywhere once this instance is taken back.
        for (const [region, zone] of [
          ['us-east-1', 'us-east-1a'],
          ['us-east-1', 'us-east-1b'],
          ['us-west-2', 'us-west-2a'],
        ])
          w.ec2.setCapacity(region, zone, AWS_TYPE, 0)
        setTimeout(() => w.ec2.interruptSpot(interrupted!, 8000), 1500)
      },
    })
    expect(job.state).to.equal('SUCCEEDED')
    const all = w.store.listAttempts(job.id).filter((a) => a.handle)
    expect(all.map((a) => [a.provider, a.state])).to.deep.equal([
      ['aws', 'PREEMPTED'],
      ['aliyun', 'SUCCEEDED'],
    ])
    const saved = Number(
      /^saved (\d+)$/.exec(
        parseConsole(w.ec2.consoleOf(interrupted!))
          .logs.map((l) => l.line)
          .find((l) => l.startsWith('saved'))!,
      )![1],
    )
    // Alibaba Cloud deletes a released instance and its console with it: read the fake's copy.
    const secondConsole = parseConsole(w.ecs.consoleOf(all[1].handle!.externalId))
    expect(secondConsole.events.find((e) => e.event === 'checkpoint-restore')).to.deep.include({found: true})
    const second = secondConsole.logs.map((l) => l.line)
    // Attempt 2 was AWS refusing for capacity; the third ran on Alibaba Cloud.
    expect(second[0]).to.equal(`attempt 3 resumes at ${saved}`)
    expect(second.at(-1)).to.equal(`finished at ${steps}`)
    const work = storedCheckpoint(w, job.id)['work.log'].trim().split('\n')
    expect(new Set(work).size).to.equal(steps)
    // Where the checkpoint lives is recorded; the signed URLs are not.
    const launched = w.store.events(job.id).filter((e) => e.kind === 'attempt-launched')
    expect(launched.map((e) => e.data.checkpointStore)).to.deep.equal([
      `s3://ckpt/runs/${job.id}/checkpoint.tar`,
      `s3://ckpt/runs/${job.id}/checkpoint.tar`,
    ])
    expect(JSON.stringify(w.store.events(job.id))).to.not.match(/X-Amz-Signature/)
  })

  it('without a checkpoint store, a spot job on a cloud is warned that its checkpoints go with the instance', async () => {
    w = await cloudWorld()
    const {job, events} = await w.drive(cloudJob('warned', 'echo "$SKYHOP_CHECKPOINT_DIR"', {spot: 'spot'}))
    expect(job.state).to.equal('SUCCEEDED')
    expect(events.find((e) => e.kind === 'warning')?.message).to.match(/checkpoints on aws live on the instance.*checkpoint\.store/)
    // The warning is an event of the job, shown by `skyhop status JOB`, not only a controller log line.
    const stored = w.store.events(job.id).filter((e) => e.kind === 'checkpoint-store-missing')
    expect(stored).to.have.length(1)
    expect(String(stored[0].data.message)).to.match(/checkpoints on aws live on the instance.*checkpoint\.store/)
    const lines = await collect(w.aws.logs(w.store.listAttempts(job.id)[0].handle!, {follow: false}))
    expect(lines[0]).to.match(new RegExp(`/var/lib/skyhop/checkpoints/${job.id}$`))
  })

  it('a launch whose answer is lost is retried with the same ClientToken: one instance, adopted', async () => {
    w = await cloudWorld()
    // The answer never arrives; the client times out and the controller retries.
    w.ec2.holdResponses('RunInstances')
    const {job} = await w.drive(cloudJob('lost-answer', 'echo ok'))
    expect(job.state).to.equal('SUCCEEDED')
    expect(attempts(job.id)).to.deep.equal([{provider: 'aws', region: 'us-east-1', zone: 'us-east-1a', state: 'SUCCEEDED'}])
    expect(w.ec2.instances.size).to.equal(1)
    const runs = w.ec2.calls.filter((c) => c.action === 'RunInstances')
    expect(runs.length).to.be.greaterThan(1)
    expect(new Set(runs.map((c) => c.params.ClientToken))).to.deep.equal(new Set([w.store.listAttempts(job.id)[0].id]))
  })

  it('reconciles an attempt that reached EC2 but was never recorded (and has since ended): found by tag, adopted, not launched again', async () => {
    w = await cloudWorld()
    // Each instance has a disk of its own; RUNS is a path on this host all of them can see.
    const runs = join(w.home, 'runs')
    const spec = cloudJob('crashed', 'echo "run $SKYHOP_ATTEMPT" >> "$RUNS"; sleep 1; echo done', {envs: {RUNS: runs}})
    const job = w.create(spec)
    // What a controller killed right after RunInstances reached EC2 leaves behind: the
    // intent in the store (REQUESTED, no handle) and a tagged instance. This one was
    // launched by an older skyhop (other user data), so replaying its ClientToken would
    // be refused as IdempotentParameterMismatch: only the tags can find it.
    const intent = w.store.recordAttemptIntent({
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
    const checkpointDir = join(w.home, 'checkpoints', job.id)
    const env = {SKYHOP_JOB_ID: job.id, SKYHOP_ATTEMPT: '1', SKYHOP_CHECKPOINT_DIR: checkpointDir, SKYHOP_FROM: 'older-skyhop', RUNS: runs}
    const orphanToBe = await w.aws.launch(
      launchRequest({
        jobId: job.id,
        jobName: job.name,
        attemptId: intent.id,
        idempotencyKey: intent.id,
        spec,
        env,
        checkpointDir,
        offer: offer({instanceType: AWS_TYPE}),
      }),
    )
    // And the job finished while nobody watched: the instance is gone, its console is not.
    await until(
      async () => w.ec2.instances.get(orphanToBe.externalId)!.state,
      (s) => s === 'terminated',
    )
    const {job: final} = await w.driveExisting(job.id)
    expect(final.state).to.equal('SUCCEEDED')
    const all = w.store.listAttempts(job.id)
    expect(all).to.have.length(1)
    expect(all[0]).to.include({id: intent.id, state: 'SUCCEEDED'})
    expect(all[0].handle!.externalId).to.equal(orphanToBe.externalId)
    expect(w.ec2.instances.size).to.equal(1)
    expect(w.ec2.actions().filter((a) => a === 'RunInstances')).to.have.length(1)
    expect(w.store.events(job.id).map((e) => e.kind)).to.include('attempt-reconciled')
    expect(readFileSync(runs, 'utf8').trim().split('\n')).to.deep.equal(['run 1'])
    await until(
      async () => w.ec2.liveInstances().length,
      (n) => n === 0,
    )
  })

  it('a cancel that lands while RunInstances is in flight stops the new instance (the job stays cancelled)', async () => {
    w = await cloudWorld()
    w.ec2.holdResponses('RunInstances')
    const job = w.create(cloudJob('raced', 'trap \'echo "got TERM"; exit 0\' TERM; echo started; while true; do sleep 0.1; done'))
    const driving = w.driveExisting(job.id)
    await w.ec2.nextHeld()
    // The attempt has no handle yet, so cancel marks the job and has nothing to signal.
    const cancelled = await cancelJob(w.store, w.providers, job.id, {graceSeconds: 3})
    expect(cancelled.signalled).to.deep.equal([])
    w.ec2.releaseHeld()
    const {job: final} = await driving
    expect(final.state).to.equal('CANCELLED')
    const [a] = w.store.listAttempts(job.id)
    expect(a.state).to.equal('CANCELLED')
    expect(a.releasedAt).to.be.a('string')
    expect(w.store.events(job.id).map((e) => e.kind)).not.to.include('job-provisioning')
    expect(w.ec2.instances.get(a.handle!.externalId)!.tags.get('skyhop:stop-request')).to.equal('cancel 3')
    await until(
      async () => w.ec2.liveInstances().length,
      (n) => n === 0,
    )
  })

  it('recover stops the run of a job cancelled while its launch answer was outstanding (its controller gone)', async () => {
    w = await cloudWorld()
    const spec = cloudJob('cancelled-mid-launch', 'sleep 60')
    const job = w.create(spec)
    const intent = (zone: string) =>
      w.store.recordAttemptIntent({
        jobId: job.id,
        provider: 'aws',
        region: 'us-east-1',
        zone,
        instanceType: AWS_TYPE,
        accelerator: null,
        acceleratorCount: null,
        spot: false,
        pricePerHour: 0.096,
        currency: 'USD',
        onDemandPricePerHour: 0.096,
      })!
    const landed = intent('us-east-1a')
    const run = await w.aws.launch(
      launchRequest({
        jobId: job.id,
        jobName: job.name,
        attemptId: landed.id,
        idempotencyKey: landed.id,
        spec,
        offer: offer({instanceType: AWS_TYPE}),
      }),
    )
    const never = intent('us-east-1b')
    w.store.setJobState(job.id, 'CANCELLED', {kind: 'cancel-requested', data: {graceSeconds: 5}})
    const result = await recoverJobs({store: w.store, providers: w.providers, home: w.home, spawn: () => undefined})
    expect(result.cleaned).to.deep.equal([landed.id])
    expect(w.store.getAttempt(landed.id)).to.deep.include({state: 'CANCELLED'})
    expect(w.store.getAttempt(landed.id)!.handle!.externalId).to.equal(run.externalId)
    expect(w.store.getAttempt(landed.id)!.releasedAt).to.be.a('string')
    expect(w.store.getAttempt(never.id)).to.deep.include({state: 'CANCELLED', handle: null})
    await until(
      async () => w.ec2.liveInstances().length,
      (n) => n === 0,
    )
  })

  it('reconciles an attempt whose request never reached the cloud: launched once with its own key', async () => {
    w = await cloudWorld()
    const job = w.create(cloudJob('never-sent', 'echo ok'))
    // The intent is recorded, then the process dies before the request leaves.
    const intent = w.store.recordAttemptIntent({
      jobId: job.id,
      provider: 'aws',
      region: 'us-east-1',
      zone: 'us-east-1b',
      instanceType: AWS_TYPE,
      accelerator: null,
      acceleratorCount: null,
      spot: false,
      pricePerHour: 0.097,
      currency: 'USD',
      onDemandPricePerHour: 0.097,
    })!
    const {job: final} = await w.driveExisting(job.id)
    expect(final.state).to.equal('SUCCEEDED')
    const all = w.store.listAttempts(job.id)
    expect(all.map((a) => [a.id, a.zone, a.state])).to.deep.equal([[intent.id, 'us-east-1b', 'SUCCEEDED']])
    expect(w.ec2.instances.size).to.equal(1)
    expect([...w.ec2.instances.values()][0]).to.include({zone: 'us-east-1b', clientToken: intent.id})
  })
})
