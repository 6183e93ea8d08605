// The SKYHOP_* environment the controller gives an attempt (docs/job-contract.md): the
// accelerators per node come from the attempt's offer, the same on every node of a gang.
import {expect} from 'chai'

import {contractEnv} from '../../../src/controller/contract-env.js'
import type {AttemptRecord, JobRecord} from '../../../src/model/records.js'
import {testJobSpec} from '../../helpers/job-spec.js'

function job(nodes: number): JobRecord {
  return {
    id: 'j-1',
    name: 'ddp',
    file: null,
    spec: testJobSpec({name: 'ddp', run: 'true', nodes}),
    state: 'PROVISIONING',
    createdAt: '2026-12-01T00:00:00.000Z',
    updatedAt: '2026-12-01T00:00:00.000Z',
    sweepId: null,
    matrix: null,
    exitCode: null,
    reason: null,
    restarts: 0,
    errorRestarts: 0,
    leaseOwner: null,
    leaseExpiresAt: null,
    options: {},
    owner: null,
    plannedUsdPerHour: null,
  }
}

function attempt(acceleratorCount: number | null): AttemptRecord {
  return {
    id: 'a-1',
    jobId: 'j-1',
    n: 1,
    provider: 'aws',
    region: 'us-east-1',
    zone: null,
    instanceType: 'p4d.24xlarge',
    accelerator: acceleratorCount === null ? null : 'A100',
    acceleratorCount,
    spot: false,
    pricePerHour: null,
    currency: null,
    onDemandPricePerHour: null,
    billingGranularitySeconds: 1,
    state: 'PENDING',
    intentAt: '2026-12-01T00:00:00.000Z',
    launchedAt: null,
    startedAt: null,
    endedAt: null,
    releasedAt: null,
    exitCode: null,
    reason: null,
    handle: null,
    error: null,
  }
}

describe('contractEnv', () => {
  it("gives each node the offer's accelerators per node, 0 for a CPU job", () => {
    expect(contractEnv({job: job(4), attempt: attempt(8), home: '/h', processEnv: {}}).env).to.include({
      SKYHOP_NUM_ACCELERATORS_PER_NODE: '8',
      SKYHOP_JOB_ID: 'j-1',
    })
    expect(contractEnv({job: job(1), attempt: attempt(null), home: '/h', processEnv: {}}).env.SKYHOP_NUM_ACCELERATORS_PER_NODE).to.equal(
      '0',
    )
  })
})
