// The GCP provider through the provider contract kit (skyhop/provider runProviderContract),
// against the fake Compute Engine with instances' startup scripts run on this machine, and
// Compute Engine's own refusals injected: the same check a provider plugin passes.
import {expect} from 'chai'

import {runProviderContract} from '../../src/provider.js'
import {GCP_CPU, gcpLaunchRequest, gcpOffer, gcpWorld, type GcpWorld} from './gcp-helpers.js'

describe('gcp provider: the provider contract kit (fake Compute Engine)', function () {
  this.timeout(180_000)
  let w: GcpWorld

  beforeEach(async () => (w = await gcpWorld({}, {}, {boot: true})))
  afterEach(async () => w.close())

  it('passes every step, the refusals mapped from Compute Engine errors', async () => {
    const offer = gcpOffer({instanceType: GCP_CPU, accelerator: null, vcpus: 2, memoryGiB: 8})
    const steps = await runProviderContract({
      provider: w.provider,
      request: (run) => gcpLaunchRequest({offer, spec: {...gcpLaunchRequest().spec, run}}),
      failNextLaunch(category) {
        const injected = {
          capacity: {status: 200, reason: 'ZONE_RESOURCE_POOL_EXHAUSTED', inOperation: true},
          quota: {status: 200, reason: 'QUOTA_EXCEEDED', inOperation: true},
          auth: {status: 403, reason: 'forbidden'},
        }[category]
        w.fake.inject({action: 'instances.insert', message: `injected ${category} refusal`, ...injected})
      },
      pollMs: 200,
    })
    expect(steps.filter((s) => s.skipped)).to.deep.equal([])
  })
})
