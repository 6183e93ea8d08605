// Waiting for spot and going back to it (src/controller/respot.ts), end to end on the fake
// EC2 of the controller's test world: the real driveJob, store, replanner and AwsProvider,
// each instance's boot script and runner run locally. Spot capacity per zone is switched
// off and on by the test (the fake then answers spot requests with
// InsufficientInstanceCapacity, as EC2 does, while on-demand still launches).
import {expect} from 'chai'

import type {JobSpec} from '../../src/model/job-spec.js'
import type {AttemptRecord} from '../../src/model/records.js'
import {until} from '../helpers/wait.js'
import {cloudJob, cloudWorld, storedCheckpoint, type CloudWorld} from './cloud-world.js'

const ZONES = ['us-east-1a', 'us-east-1b', 'us-west-2a']
const AWS_ONLY: JobSpec['placement'] = {providers: {allow: ['aws'], deny: []}, regions: {allow: null, deny: []}}
/** The first launch round of a job while no zone has spot: every spot zone tried and found out of capacity. */
const SPOT_OUT_EVERYWHERE = ['us-east-1a:spot:FAILED', 'us-east-1b:spot:FAILED', 'us-west-2a:spot:FAILED']

async function collect(iter: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = []
  for await (const line of iter) out.push(line)
  return out
}

/**
 * A job that counts `steps` steps of 0.2 s, saving its count on SIGTERM to the checkpoint
 * directory (which the store carries between instances); an hour of declared work, so a
 * move to spot pays for itself many times over.
 */
function countingJob(name: string, steps: number) {
  const run = [
    'f="$SKYHOP_CHECKPOINT_DIR/step"; mkdir -p "$SKYHOP_CHECKPOINT_DIR"',
    'i=$(cat "$f" 2>/dev/null || echo 0)',
    'echo "attempt $SKYHOP_ATTEMPT restart $SKYHOP_RESTART_COUNT resumes at $i"',
    'trap \'echo "$i" > "$f"; echo "saved $i"; exit 0\' TERM',
    `while [ "$i" -lt ${steps} ]; do i=$((i+1)); echo "step $i" >> "$SKYHOP_CHECKPOINT_DIR/work.log"; sleep 0.2; done`,
    'echo "finished at $i"',
  ].join('\n')
  return cloudJob(name, run, {
    spot: 'auto',
    work: {reference: null, hours: 1},
    checkpoint: {dir: null, intervalSeconds: 1, store: null},
    placement: AWS_ONLY,
    recovery: {
      strategy: 'eager-next-region',
      maxRestarts: 1,
      restartOnExitCodes: [],
      maxRestartsOnErrors: 0,
      graceSeconds: 5,
      signal: 'SIGTERM',
    },
  })
}

describe('controller on the fake clouds: waiting for spot, and going back to it', function () {
  this.timeout(90_000)
  let w: CloudWorld
  afterEach(async () => w?.close())

  const attempts = (jobId: string) => w.store.listAttempts(jobId).map((a) => `${a.zone}:${a.spot ? 'spot' : 'od'}:${a.state}`)
  const kinds = (jobId: string) => w.store.events(jobId).map((e) => e.kind)
  /** An onEvent that calls `act` once, when the first on-demand attempt is running. */
  const onceOnDemandRuns = (act: (attempt: AttemptRecord) => void) => {
    let done = false
    return (e: {kind: string; attemptId?: string}) => {
      if (done || e.kind !== 'running') return
      const a = w.store.getAttempt(e.attemptId!)!
      if (a.spot) return
      done = true
      act(a)
    }
  }

  it('leaves on-demand for spot when spot comes back: the job checkpoints, resumes on spot, does every step once, and no restart is counted', async () => {
    // Each instance has a disk of its own: the checkpoint moves through the store.
    w = await cloudWorld({checkpointStore: true})
    for (const z of ZONES) w.ec2.setSpotAvailable(z, false)
    const steps = 60
    // No deadline: on-demand at once when spot has no capacity (as always), then a look for
    // spot every second.
    const spec = countingJob('respot', steps)
    let onDemand: string | null = null
    const {job, events} = await w.drive(spec, {
      respotIntervalMs: 1000,
      onEvent: onceOnDemandRuns((a) => {
        onDemand = a.handle!.externalId
        // Spot capacity returns while the job runs on on-demand.
        for (const z of ZONES) w.ec2.setSpotAvailable(z, true)
      }),
    })
    expect(job.state).to.equal('SUCCEEDED')
    expect(attempts(job.id)).to.deep.equal([...SPOT_OUT_EVERYWHERE, 'us-east-1a:od:PREEMPTED', 'us-east-1a:spot:SUCCEEDED'])
    const all = w.store.listAttempts(job.id)
    // The move is recorded as such: not a preemption toward recovery.max_restarts.
    expect(all[3].reason).to.match(/^migrated to spot/)
    expect(job.restarts).to.equal(0)
    const k = kinds(job.id)
    expect(k).to.include.members(['respot-migrate', 'attempt-migrated', 'job-migrating', 'job-succeeded'])
    expect(k).not.to.include('job-recovering')
    expect(k).not.to.include('respot-wait')
    const migrate = w.store.events(job.id).find((e) => e.kind === 'respot-migrate')!
    expect(migrate.attemptId).to.equal(all[3].id)
    expect(String(migrate.data.message)).to.match(/^migrating to spot: spot on aws\/us-east-1a spot is expected to save \$/)
    expect(migrate.data.to).to.equal('aws/us-east-1/us-east-1a/m5.large#spot')
    expect(events.some((e) => e.kind === 'migrating')).to.equal(true)
    // Spot first: the spot instance was launched, held, before on-demand was asked to stop;
    // its runner waited for the go object in the checkpoint store, written once the
    // on-demand attempt had ended (its last checkpoint saved), and only then restored.
    const ev = w.store.events(job.id)
    const at = (kind: string, attemptId: string) => ev.findIndex((e) => e.kind === kind && e.attemptId === attemptId)
    expect(ev[at('attempt-held', all[4].id)].data.via).to.equal('store')
    expect(migrate.data.heldAttemptId).to.equal(all[4].id)
    expect(at('attempt-launched', all[4].id)).to.be.lessThan(at('respot-migrate', all[3].id))
    expect(at('attempt-migrated', all[3].id)).to.be.lessThan(at('attempt-hold-released', all[4].id))
    expect(w.s3!.object('ckpt', `runs/${job.id}/holds/${all[4].id}`)).to.not.equal(undefined)
    expect(Date.parse(all[4].startedAt!)).to.be.at.least(Date.parse(all[3].endedAt!))
    expect(w.store.observations('1970-01-01T00:00:00Z').filter((o) => o.kind === 'preemption')).to.deep.equal([])
    // The on-demand run saved its step on the notice; the spot run resumed from it and finished.
    await until(
      async () => w.ec2.instances.get(onDemand!)!.state,
      (s) => s === 'terminated',
    )
    const second = await collect(w.aws.logs(all[4].handle!, {follow: false}))
    // A move counts in SKYHOP_RESTART_COUNT (the job resumes from a checkpoint), not in job.restarts.
    const resumed = /^attempt 5 restart 1 resumes at (\d+)$/.exec(second[0])
    expect(resumed, second[0]).to.not.equal(null)
    expect(Number(resumed![1])).to.be.greaterThan(0)
    expect(second.at(-1)).to.equal(`finished at ${steps}`)
    const work = storedCheckpoint(w, job.id)['work.log'].trim().split('\n')
    expect(new Set(work).size).to.equal(steps)
    expect(work.length).to.be.within(steps, steps + 1) // the step in flight at the signal may repeat once
    await until(
      async () => w.ec2.liveInstances().length,
      (n) => n === 0,
    )
  })

  it('a move whose on-demand attempt cannot be asked to stop calls its held spot attempt off: terminated, never started, and the next look moves', async () => {
    w = await cloudWorld({checkpointStore: true})
    for (const z of ZONES) w.ec2.setSpotAvailable(z, false)
    const spec = countingJob('refused', 40)
    const {job} = await w.drive(spec, {
      respotIntervalMs: 1000,
      onEvent: onceOnDemandRuns(() => {
        // The stop request (a tag on the instance) is refused once: the first move is called off.
        w.ec2.inject({
          action: 'CreateTags',
          code: 'UnauthorizedOperation',
          status: 403,
          message: 'You are not authorized to perform this operation.',
        })
        for (const z of ZONES) w.ec2.setSpotAvailable(z, true)
      }),
    })
    expect(job.state).to.equal('SUCCEEDED')
    expect(attempts(job.id)).to.deep.equal([
      ...SPOT_OUT_EVERYWHERE,
      'us-east-1a:od:PREEMPTED',
      'us-east-1a:spot:CANCELLED',
      'us-east-1a:spot:SUCCEEDED',
    ])
    const all = w.store.listAttempts(job.id)
    expect(all[4].reason).to.match(/^held and never started: the move to spot was called off/)
    expect(all[4].startedAt).to.equal(null)
    expect(w.ec2.instances.get(all[4].handle!.externalId)!.state).to.be.oneOf(['shutting-down', 'terminated'])
    const ev = w.store.events(job.id)
    expect(ev.find((e) => e.kind === 'respot-migrate-failed')?.attemptId).to.equal(all[3].id)
    expect(ev.some((e) => e.kind === 'attempt-hold-released' && e.attemptId === all[4].id)).to.equal(false)
    expect(ev.some((e) => e.kind === 'attempt-hold-released' && e.attemptId === all[5].id)).to.equal(true)
    expect(job.restarts).to.equal(0)
    await until(
      async () => w.ec2.liveInstances().length,
      (n) => n === 0,
    )
  })

  it('with a deadline far enough, waits for spot instead of launching on-demand, and runs on spot when it comes', async () => {
    w = await cloudWorld()
    for (const z of ZONES) w.ec2.setSpotAvailable(z, false)
    const spec = cloudJob('patient', 'echo "on $SKYHOP_ATTEMPT"', {
      spot: 'auto',
      work: {reference: null, hours: 0.05},
      deadline: new Date(Date.now() + 2 * 3_600_000).toISOString(),
      placement: AWS_ONLY,
    })
    const back = setTimeout(() => w.ec2.setSpotAvailable('us-east-1b', true), 2500)
    try {
      const {job, events} = await w.drive(spec, {respotIntervalMs: 1000})
      expect(job.state).to.equal('SUCCEEDED')
      const all = w.store.listAttempts(job.id)
      expect(all.every((a) => a.spot)).to.equal(true)
      expect(all.at(-1)).to.include({zone: 'us-east-1b', spot: true, state: 'SUCCEEDED'})
      // Each look tried every zone; the decision to wait is stored once, and said every time.
      const waits = w.store.events(job.id).filter((e) => e.kind === 'respot-wait')
      expect(waits).to.have.length(1)
      expect(String(waits[0].data.message)).to.match(
        /^no spot to launch now; waiting 1 s for it: aws\/us-east-1a spot would still finish by the deadline then/,
      )
      expect(events.filter((e) => e.kind === 'respot-wait').length).to.be.greaterThan(1)
      expect(kinds(job.id)).not.to.include('respot-on-demand')
    } finally {
      clearTimeout(back)
    }
  })

  it('a job with no slack to spare never waits: spot fits now but would not a step later, so on-demand at once', async () => {
    w = await cloudWorld()
    for (const z of ZONES) w.ec2.setSpotAvailable(z, false)
    // Spot: the cloud spot queue prior (8 min) + 3 min of work = 11 min, × 1.1 (the planner's
    // margin) = 12.1 min ≤ 12.6 min left: spot fits now. A minute later 11.6 min would not.
    const spec = cloudJob('hurried', 'echo "on $SKYHOP_ATTEMPT"', {
      spot: 'auto',
      work: {reference: null, hours: 0.05},
      deadline: new Date(Date.now() + 12.6 * 60_000).toISOString(),
      placement: AWS_ONLY,
    })
    const {job} = await w.drive(spec, {respotIntervalMs: 60_000})
    expect(job.state).to.equal('SUCCEEDED')
    expect(attempts(job.id)).to.deep.equal([
      'us-east-1a:spot:FAILED',
      'us-east-1b:spot:FAILED',
      'us-west-2a:spot:FAILED',
      'us-east-1a:od:SUCCEEDED',
    ])
    const k = kinds(job.id)
    expect(k).not.to.include('respot-wait')
    const od = w.store.events(job.id).find((e) => e.kind === 'respot-on-demand')!
    expect(od.data.code).to.equal('spot-does-not-fit')
    expect(String(od.data.message)).to.match(
      /spot would no longer finish by the deadline at its pessimistic \(p95\) estimate 1 min from now: launching on-demand$/,
    )
  })
})
