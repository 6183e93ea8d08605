// A controller killed between "requested" and "recorded" on Google Cloud and Azure: the
// launch reached the cloud, the store still says REQUESTED, and the next controller finds
// the run again (by label on GCP, by the tagged resource group on Azure) or launches again
// with the same requestId / names, which the cloud answers with the same VM: one VM,
// adopted, the job succeeds, nothing left. And the Azure case where the crash came before
// the VM existed: the group alone is not adopted, the launch completes it.
import {expect} from 'chai'

import {contractEnv} from '../../src/controller/contract-env.js'
import {resourceGroupFor} from '../../src/providers/azure/azure-provider.js'
import type {LaunchRequest} from '../../src/providers/provider.js'
import {onDemandJob} from '../helpers/controller-world.js'
import {until} from '../helpers/wait.js'
import {gcpControllerWorld, type GcpControllerWorld} from './gcp-azure-world.js'

describe('GCP and Azure: a crash between "requested" and "recorded"', function () {
  this.timeout(120_000)
  let w: GcpControllerWorld
  afterEach(async () => w?.close())

  /** A job of `cloud` recorded with its first attempt REQUESTED, and the launch request the dead controller sent. */
  async function requested(cloud: 'gcp' | 'azure'): Promise<{jobId: string; request: LaunchRequest}> {
    const spec = onDemandJob(`crash-${cloud}`, 'echo once', {
      placement: {providers: {allow: [cloud], deny: []}, regions: {allow: null, deny: []}},
    })
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
    const {env, checkpointDir} = contractEnv({job: w.store.getJob(created.id)!, attempt, home: w.home, processEnv: process.env})
    return {
      jobId: created.id,
      request: {
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
      },
    }
  }

  for (const cloud of ['gcp', 'azure'] as const) {
    it(`${cloud}: the run is found again (or answered again), one VM, adopted, none left`, async function () {
      w = await gcpControllerWorld()
      const {jobId, request} = await requested(cloud)
      const first = await (cloud === 'gcp' ? w.gcp : w.azure).launch(request)
      expect(w.store.getAttempt(request.attemptId)!.state).to.equal('REQUESTED')

      const {job} = await w.driveExisting(jobId)
      expect(job.state).to.equal('SUCCEEDED')
      const recorded = w.store.listAttempts(job.id)
      expect(recorded).to.have.length(1)
      expect(recorded[0].handle!.externalId).to.equal(first.externalId)
      expect(w.store.events(job.id).map((e) => e.kind)).to.include('attempt-reconciled')
      if (cloud === 'gcp') {
        expect(w.gce.instances.size).to.equal(1)
        await until(
          async () => w.gce.live().length,
          (n) => n === 0,
        )
      } else {
        expect(w.arm.vms.size).to.equal(1)
        await until(
          async () => w.arm.groups.size + w.arm.live().length,
          (n) => n === 0,
        )
      }
    })
  }

  it('azure: a group left without its VM is not adopted; the launch again completes it under the same names', async function () {
    w = await gcpControllerWorld()
    const {jobId, request} = await requested('azure')
    // The dead controller got as far as the group (the VM PUT never went out).
    w.arm.groups.set(resourceGroupFor(request.attemptId), {
      name: resourceGroupFor(request.attemptId),
      location: request.offer.region,
      tags: {'skyhop-job-id': request.jobId, 'skyhop-attempt-id': request.attemptId, 'skyhop-spot': 'false'},
      provisioningState: 'Succeeded',
      vnets: [],
      placementGroups: [],
      availabilitySets: [],
      lastHost: 3,
    })
    expect(await w.azure.listOwned({attemptId: request.attemptId})).to.deep.equal([])
    expect((await w.azure.listOwned()).map((h) => h.data.attemptId)).to.deep.equal([request.attemptId])
    const {job} = await w.driveExisting(jobId)
    expect(job.state).to.equal('SUCCEEDED')
    expect(w.store.listAttempts(job.id)).to.have.length(1)
    expect(w.arm.vms.size).to.equal(1)
    expect([...w.arm.vms.values()][0].group).to.equal(resourceGroupFor(request.attemptId))
  })
})
