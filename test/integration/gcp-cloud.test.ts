// The real controller (driveJob), store and replanner on the fake Compute Engine, with the
// fake EC2 as the other cloud: launch → run → succeed and the VM deleted; failover zone →
// zone on ZONE_RESOURCE_POOL_EXHAUSTED and region → region on QUOTA_EXCEEDED; a key the
// API refuses moves the job to AWS; a spot preemption noticed through the metadata server,
// checkpointed within the grace and resumed in another region; the orphan sweep finding
// and deleting labelled VMs; and what it all cost. No network: everything is on 127.0.0.1.
import {expect} from 'chai'
import {join} from 'node:path'

import {costFromStore} from '../../src/controller/cost.js'
import type {JobSpec} from '../../src/model/job-spec.js'
import {findOrphans, terminateOrphans} from '../../src/services/orphans.js'
import {onDemandJob} from '../helpers/controller-world.js'
import {until} from '../helpers/wait.js'
import {storedCheckpoint} from './cloud-world.js'
import {GCP_CPU, gcpLaunchRequest, gcpOffer, gcpJobSpec} from './gcp-helpers.js'
import {gcpControllerWorld, type GcpControllerWorld} from './gcp-azure-world.js'

function attempts(w: GcpControllerWorld, jobId: string) {
  return w.store.listAttempts(jobId).map((a) => [a.provider, a.zone, a.spot ? 'spot' : 'od', a.state])
}

function failures(w: GcpControllerWorld, jobId: string) {
  return w.store
    .listAttempts(jobId)
    .filter((a) => a.error)
    .map((a) => {
      const d = (a.error as {details: {category: string; scope: string; backendCode?: string}}).details
      return [a.provider, a.zone, d.category, d.scope, d.backendCode]
    })
}

const GCP_ONLY: Partial<JobSpec> = {placement: {providers: {allow: ['gcp'], deny: []}, regions: {allow: null, deny: []}}}

describe('controller on the fake Compute Engine', function () {
  this.timeout(120_000)
  let w: GcpControllerWorld
  afterEach(async () => w?.close())

  it('launches, runs and succeeds on GCP (cheapest), and deletes the VM', async function () {
    w = await gcpControllerWorld()
    const {job} = await w.drive(onDemandJob('gce-hello', 'echo "hello from gce"'))
    expect(job.state, JSON.stringify(attempts(w, job.id))).to.equal('SUCCEEDED')
    expect(attempts(w, job.id)).to.deep.equal([['gcp', 'us-central1-a', 'od', 'SUCCEEDED']])
    const [a] = w.store.listAttempts(job.id)
    expect(a.releasedAt).to.be.a('string')
    await until(
      async () => w.gce.live().length,
      (n) => n === 0,
    )
    expect(w.gce.consoleOf(a.handle!.externalId)).to.include('SKYHOP-LOG 1 hello from gce')
  })

  it('fails over zone → zone on capacity, then region → region on quota', async function () {
    w = await gcpControllerWorld()
    w.gce.setStock('us-central1', 'us-central1-a', GCP_CPU, 0)
    const first = await w.drive(onDemandJob('gce-zone', 'true'))
    expect(first.job.state).to.equal('SUCCEEDED')
    expect(attempts(w, first.job.id)).to.deep.equal([
      ['gcp', 'us-central1-a', 'od', 'FAILED'],
      ['gcp', 'us-central1-b', 'od', 'SUCCEEDED'],
    ])
    expect(failures(w, first.job.id)).to.deep.equal([['gcp', 'us-central1-a', 'capacity', 'zone', 'ZONE_RESOURCE_POOL_EXHAUSTED']])

    w.gce.setStock('us-central1', 'us-central1-a', GCP_CPU, 4)
    w.gce.options.quotas = {'us-central1': {CPUS: 0}}
    const second = await w.drive(onDemandJob('gce-region', 'true'))
    expect(second.job.state).to.equal('SUCCEEDED')
    expect(attempts(w, second.job.id)).to.deep.equal([
      ['gcp', 'us-central1-a', 'od', 'FAILED'],
      ['gcp', 'europe-west4-a', 'od', 'SUCCEEDED'],
    ])
    // One quota error blocks the region: us-central1-b is never tried.
    expect(failures(w, second.job.id)).to.deep.equal([['gcp', 'us-central1-a', 'quota', 'region', 'QUOTA_EXCEEDED']])
  })

  it('moves to AWS when Compute Engine refuses the service account', async function () {
    w = await gcpControllerWorld()
    w.gce.options.deniedPermissions = ['compute.instances.create']
    const {job} = await w.drive(
      onDemandJob('gce-to-aws', 'echo moved', {
        placement: {providers: {allow: ['gcp', 'aws'], deny: []}, regions: {allow: null, deny: []}},
      }),
    )
    expect(job.state).to.equal('SUCCEEDED')
    expect(attempts(w, job.id)).to.deep.equal([
      ['gcp', 'us-central1-a', 'od', 'FAILED'],
      ['aws', 'us-east-1a', 'od', 'SUCCEEDED'],
    ])
    // The whole provider is blocked: no other GCP zone or region is tried.
    expect(failures(w, job.id)).to.deep.equal([['gcp', 'us-central1-a', 'auth', 'provider', 'forbidden']])
    expect(w.gce.calls.filter((c) => c.action === 'instances.insert')).to.have.length(1)
  })

  it('survives a spot preemption: the job checkpoints on the metadata server’s notice and resumes in another region', async function () {
    w = await gcpControllerWorld({checkpointStore: true})
    const run = [
      'mkdir -p "$SKYHOP_CHECKPOINT_DIR"',
      'if [ -f "$SKYHOP_CHECKPOINT_DIR/step" ]; then echo "resumed from $(cat "$SKYHOP_CHECKPOINT_DIR/step")"; exit 0; fi',
      'trap \'echo 41 > "$SKYHOP_CHECKPOINT_DIR/step"; echo checkpointed; exit 0\' TERM',
      'echo working',
      'while true; do sleep 0.1; done',
    ].join('\n')
    const driving = w.drive(
      onDemandJob('gce-spot', run, {
        ...GCP_ONLY,
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
      async () => w.gce.live().find((i) => w.gce.consoleOf(i.name).includes('SKYHOP-LOG 1 working')),
      (i) => !!i,
      30_000,
      200,
    )
    const noticedAt = Date.now()
    w.gce.preempt(first!.name, 6000)
    const {job} = await driving
    expect(job.state, JSON.stringify(attempts(w, job.id))).to.equal('SUCCEEDED')
    const tried = attempts(w, job.id)
    expect(tried[0]).to.deep.equal(['gcp', 'us-central1-a', 'spot', 'PREEMPTED'])
    // eager-next-region: not back in the region that was just preempted.
    expect(tried.at(-1)).to.deep.equal(['gcp', 'europe-west4-a', 'spot', 'SUCCEEDED'])
    // The job was signalled within the notice, well before the VM was deleted.
    const console = w.gce.consoleOf(first!.name)
    const notice = /SKYHOP-EV (\{[^\n]*"event":"notice"[^\n]*\})/.exec(console)
    expect(notice, console).to.not.equal(null)
    expect(Date.parse((JSON.parse(notice![1]) as {ts: string}).ts) - noticedAt).to.be.below(3000)
    expect(console).to.match(/SKYHOP-LOG \d+ checkpointed/)
    expect(storedCheckpoint(w as never, job.id).step.trim()).to.equal('41')
    const last = w.store.listAttempts(job.id).at(-1)!
    expect(w.gce.consoleOf(last.handle!.externalId)).to.match(/SKYHOP-LOG 1 resumed from 41/)
    expect(w.store.events(job.id).map((e) => e.kind)).to.include('job-recovering')

    // What it cost: both attempts billed as GCP spot, by Compute Engine's per-second rule.
    const report = costFromStore(w.store, {
      now: new Date(),
      fx: {cnyPerUsd: 7.2, source: 'test', asOf: '2026-01-01'},
      by: 'provider',
      since: null,
    })
    expect(report.groups.map((g) => [g.key, g.attempts])).to.deep.equal([['gcp', 2]])
    expect(report.total.paidHours).to.be.greaterThan(0)
    expect(report.total.waste.preemptionLostHours).to.be.greaterThan(0)
    expect(report.billing.find((b) => b.provider === 'gcp')).to.deep.include({granularitySeconds: 1, minimumSeconds: 60, assumption: false})
  })

  it('the orphan sweep finds labelled VMs no live attempt owns and deletes them', async function () {
    w = await gcpControllerWorld()
    const job = w.create(onDemandJob('gce-orphans', 'sleep 60'))
    const ended = w.store.recordAttemptIntent({
      jobId: job.id,
      provider: 'gcp',
      region: 'us-central1',
      zone: 'us-central1-a',
      instanceType: GCP_CPU,
      accelerator: null,
      acceleratorCount: null,
      spot: false,
      pricePerHour: 0.09,
      currency: 'USD',
      onDemandPricePerHour: 0.09,
    })!
    const offer = gcpOffer({instanceType: GCP_CPU, accelerator: null})
    const handle = await w.gcp.launch(
      gcpLaunchRequest({
        jobId: job.id,
        jobName: job.name,
        attemptId: ended.id,
        idempotencyKey: ended.id,
        offer,
        spec: gcpJobSpec('sleep 60'),
        checkpointDir: join(w.home, 'ck'),
      }),
    )
    w.store.updateAttempt(ended.id, {state: 'FAILED', handle, endedAt: new Date().toISOString(), exitCode: 1})
    const stranger = await w.gcp.launch(
      gcpLaunchRequest({
        jobId: 'j-elsewhere',
        attemptId: 'a-elsewhere01',
        idempotencyKey: 'a-elsewhere01',
        offer: gcpOffer({instanceType: GCP_CPU, accelerator: null, region: 'europe-west4', zone: 'europe-west4-a'}),
      }),
    )
    const scan = await findOrphans({store: w.store, providers: w.providers, provider: 'gcp'})
    expect(scan.orphans.map((o) => [o.externalId, o.reason, o.region]).sort()).to.deep.equal(
      [
        [handle.externalId, 'attempt-ended', 'us-central1'],
        [stranger.externalId, 'unknown-attempt', 'europe-west4'],
      ].sort(),
    )
    expect(scan.scanned.map((s) => [s.provider, s.tagged, s.error])).to.deep.equal([['gcp', 2, null]])
    const done = await terminateOrphans(w.providers, scan.orphans, w.store)
    expect(done.failed).to.deep.equal([])
    await until(
      async () => w.gce.live().length,
      (n) => n === 0,
    )
    expect(w.store.getAttempt(ended.id)!.releasedAt).to.be.a('string')
    expect((await findOrphans({store: w.store, providers: w.providers, provider: 'gcp'})).orphans).to.deep.equal([])
  })
})
