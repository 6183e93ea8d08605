// The real controller (driveJob), store and replanner on the fake ARM, with the fake
// Compute Engine and EC2 beside it: launch → run → succeed and the resource group deleted;
// failover to the next region on AllocationFailed and on a family-cores quota; a service
// principal the subscription refuses moves the job to AWS; a Spot eviction announced by
// Scheduled Events, checkpointed before NotBefore and resumed in another region; the orphan
// sweep deleting tagged resource groups; and what it cost. No network: all on 127.0.0.1.
import {expect} from 'chai'
import {join} from 'node:path'

import {costFromStore} from '../../src/controller/cost.js'
import type {JobSpec} from '../../src/model/job-spec.js'
import {findOrphans, terminateOrphans} from '../../src/services/orphans.js'
import {onDemandJob} from '../helpers/controller-world.js'
import {until} from '../helpers/wait.js'
import {storedCheckpoint} from './cloud-world.js'
import {AZ_CPU, azureJobSpec, azureLaunchRequest, azureOffer} from './azure-helpers.js'
import {gcpControllerWorld, type GcpControllerWorld} from './gcp-azure-world.js'

function attempts(w: GcpControllerWorld, jobId: string) {
  return w.store.listAttempts(jobId).map((a) => [a.provider, a.region, a.spot ? 'spot' : 'od', a.state])
}

function failures(w: GcpControllerWorld, jobId: string) {
  return w.store
    .listAttempts(jobId)
    .filter((a) => a.error)
    .map((a) => {
      const d = (a.error as {details: {category: string; scope: string; backendCode?: string}}).details
      return [a.provider, a.region, d.category, d.scope, d.backendCode]
    })
}

const allow = (...providers: string[]): Partial<JobSpec> => ({
  placement: {providers: {allow: providers, deny: []}, regions: {allow: null, deny: []}},
})

describe('controller on the fake Azure Resource Manager', function () {
  this.timeout(120_000)
  let w: GcpControllerWorld
  afterEach(async () => w?.close())

  it('launches, runs and succeeds on Azure, and deletes the attempt’s resource group', async function () {
    w = await gcpControllerWorld()
    const {job} = await w.drive(onDemandJob('az-hello', 'echo "hello from azure"', allow('azure')))
    expect(job.state, JSON.stringify(attempts(w, job.id))).to.equal('SUCCEEDED')
    expect(attempts(w, job.id)).to.deep.equal([['azure', 'eastus', 'od', 'SUCCEEDED']])
    const [a] = w.store.listAttempts(job.id)
    expect(a.releasedAt).to.be.a('string')
    expect(w.arm.consoleOf(a.handle!.externalId)).to.include('SKYHOP-LOG 1 hello from azure')
    await until(
      async () => w.arm.groups.size + w.arm.live().length,
      (n) => n === 0,
    )
  })

  it('fails over to the next region on AllocationFailed, and on the family-cores quota', async function () {
    w = await gcpControllerWorld()
    w.arm.setStock('eastus', AZ_CPU, 0)
    const first = await w.drive(onDemandJob('az-capacity', 'true', allow('azure')))
    expect(first.job.state).to.equal('SUCCEEDED')
    expect(attempts(w, first.job.id)).to.deep.equal([
      ['azure', 'eastus', 'od', 'FAILED'],
      ['azure', 'westus2', 'od', 'SUCCEEDED'],
    ])
    expect(failures(w, first.job.id)).to.deep.equal([['azure', 'eastus', 'capacity', 'offer', 'AllocationFailed']])

    w.arm.setStock('eastus', AZ_CPU, 4)
    w.arm.options.quotas = {eastus: {standardDSv5Family: 0}}
    const second = await w.drive(onDemandJob('az-quota', 'true', allow('azure')))
    expect(second.job.state).to.equal('SUCCEEDED')
    expect(attempts(w, second.job.id)).to.deep.equal([
      ['azure', 'eastus', 'od', 'FAILED'],
      ['azure', 'westus2', 'od', 'SUCCEEDED'],
    ])
    expect(failures(w, second.job.id)).to.deep.equal([['azure', 'eastus', 'quota', 'region', 'OperationNotAllowed']])
    // Every failed launch took its resource group with it.
    await until(
      async () => w.arm.groups.size,
      (n) => n === 0,
    )
  })

  it('moves to AWS when the subscription refuses the service principal', async function () {
    w = await gcpControllerWorld()
    w.arm.options.deniedActions = ['Microsoft.Compute/virtualMachines/write']
    const {job} = await w.drive(onDemandJob('az-to-aws', 'echo moved', allow('azure', 'aws')))
    expect(job.state).to.equal('SUCCEEDED')
    expect(attempts(w, job.id)).to.deep.equal([
      ['azure', 'eastus', 'od', 'FAILED'],
      ['aws', 'us-east-1', 'od', 'SUCCEEDED'],
    ])
    expect(failures(w, job.id)).to.deep.equal([['azure', 'eastus', 'auth', 'provider', 'AuthorizationFailed']])
    expect(w.arm.calls.filter((c) => c.action === 'virtualMachines.createOrUpdate')).to.have.length(1)
  })

  it('survives a Spot eviction: the job checkpoints on the Preempt event and resumes in another region', async function () {
    w = await gcpControllerWorld({checkpointStore: true})
    const run = [
      'mkdir -p "$SKYHOP_CHECKPOINT_DIR"',
      'if [ -f "$SKYHOP_CHECKPOINT_DIR/step" ]; then echo "resumed from $(cat "$SKYHOP_CHECKPOINT_DIR/step")"; exit 0; fi',
      'trap \'echo 41 > "$SKYHOP_CHECKPOINT_DIR/step"; echo checkpointed; exit 0\' TERM',
      'echo working',
      'while true; do sleep 0.1; done',
    ].join('\n')
    const driving = w.drive(
      onDemandJob('az-spot', run, {
        ...allow('azure'),
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
      async () => w.arm.live().find((v) => w.arm.consoleOf(v.name).includes('SKYHOP-LOG 1 working')),
      (v) => !!v,
      30_000,
      200,
    )
    const evictedAt = Date.now()
    w.arm.evict(first!.name, 6000)
    const {job} = await driving
    expect(job.state, JSON.stringify(attempts(w, job.id))).to.equal('SUCCEEDED')
    const tried = attempts(w, job.id)
    expect(tried[0]).to.deep.equal(['azure', 'eastus', 'spot', 'PREEMPTED'])
    expect(tried.at(-1)).to.deep.equal(['azure', 'westus2', 'spot', 'SUCCEEDED'])
    const console = w.arm.consoleOf(first!.name)
    const notice = /SKYHOP-EV (\{[^\n]*"event":"notice"[^\n]*\})/.exec(console)
    expect(notice, console).to.not.equal(null)
    // Within the notice: the runner polls Scheduled Events every second.
    expect(Date.parse((JSON.parse(notice![1]) as {ts: string}).ts) - evictedAt).to.be.below(3000)
    expect(console).to.match(/SKYHOP-LOG \d+ checkpointed/)
    expect(storedCheckpoint(w as never, job.id).step.trim()).to.equal('41')
    const last = w.store.listAttempts(job.id).at(-1)!
    expect(w.arm.consoleOf(last.handle!.externalId)).to.match(/SKYHOP-LOG 1 resumed from 41/)

    const report = costFromStore(w.store, {
      now: new Date(),
      fx: {cnyPerUsd: 7.2, source: 'test', asOf: '2026-01-01'},
      by: 'provider',
      since: null,
    })
    expect(report.groups.map((g) => [g.key, g.attempts])).to.deep.equal([['azure', 2]])
    expect(report.total.paidHours).to.be.greaterThan(0)
    // Azure bills whole minutes: each attempt at least one.
    expect(report.total.paidHours).to.be.closeTo(2 / 60, 0.001)
    expect(report.billing.find((b) => b.provider === 'azure')).to.deep.include({granularitySeconds: 60, minimumSeconds: 60})
  })

  it('the orphan sweep finds tagged resource groups no live attempt owns and deletes them', async function () {
    w = await gcpControllerWorld()
    const job = w.create(onDemandJob('az-orphans', 'sleep 60'))
    const ended = w.store.recordAttemptIntent({
      jobId: job.id,
      provider: 'azure',
      region: 'eastus',
      zone: null,
      instanceType: AZ_CPU,
      accelerator: null,
      acceleratorCount: null,
      spot: false,
      pricePerHour: 0.094,
      currency: 'USD',
      onDemandPricePerHour: 0.094,
    })!
    const offer = azureOffer({instanceType: AZ_CPU, accelerator: null})
    const handle = await w.azure.launch(
      azureLaunchRequest({
        jobId: job.id,
        jobName: job.name,
        attemptId: ended.id,
        idempotencyKey: ended.id,
        offer,
        spec: azureJobSpec('sleep 60'),
        checkpointDir: join(w.home, 'ck'),
      }),
    )
    w.store.updateAttempt(ended.id, {state: 'FAILED', handle, endedAt: new Date().toISOString(), exitCode: 1})
    const stranger = await w.azure.launch(
      azureLaunchRequest({
        jobId: 'j-elsewhere',
        attemptId: 'a-elsewhere01',
        idempotencyKey: 'a-elsewhere01',
        offer: {...offer, region: 'westus2'},
      }),
    )
    const scan = await findOrphans({store: w.store, providers: w.providers, provider: 'azure'})
    expect(scan.orphans.map((o) => [o.externalId, o.reason, o.region]).sort()).to.deep.equal(
      [
        [handle.externalId, 'attempt-ended', 'eastus'],
        [stranger.externalId, 'unknown-attempt', 'westus2'],
      ].sort(),
    )
    const done = await terminateOrphans(w.providers, scan.orphans, w.store)
    expect(done.failed).to.deep.equal([])
    await until(
      async () => w.arm.groups.size + w.arm.live().length,
      (n) => n === 0,
    )
    expect(w.store.getAttempt(ended.id)!.releasedAt).to.be.a('string')
    expect((await findOrphans({store: w.store, providers: w.providers, provider: 'azure'})).orphans).to.deep.equal([])
  })
})
