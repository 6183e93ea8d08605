// A sweep's budget and unknown prices (issue 23: unknown is never zero). A job that fails
// over stays at a known price the budget can count; and should an attempt of the sweep have
// run at an unknown price all the same (a controller from before this rule, a sweep recovered
// from one), the budget stops the sweep, saying why, rather than count that attempt as $0 —
// and `sweeps` reports the spend as at least the known part with the unknown attempts counted.
import {expect} from 'chai'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {renderSweepHeader} from '../../../src/cli/render-sweep.js'
import {driveSweep, type SweepEvent} from '../../../src/controller/sweep-driver.js'
import {StoreSweepJournal} from '../../../src/controller/journal.js'
import {ProviderError} from '../../../src/errors.js'
import type {LaunchHandle, PollResult} from '../../../src/model/attempt.js'
import {loadJobFile} from '../../../src/job/load.js'
import {replannerFrom} from '../../../src/planner/replanner.js'
import type {LaunchRequest, Provider} from '../../../src/providers/provider.js'
import {exitCodeForJob} from '../../../src/services/launch.js'
import {gatherPlanningInputs} from '../../../src/services/planning.js'
import {planSweepJobs, recordSweep, runSweep, sweepResult} from '../../../src/services/sweep.js'
import {Store} from '../../../src/state/store.js'
import {testConfig} from '../../helpers/controller-world.js'

/** A cloud that has no capacity for the `priced` instance type; anything else runs for 50 ms and succeeds. */
class NoRoomForPriced implements Provider {
  readonly name = 'aws'
  readonly launched: string[] = []
  private readonly ends = new Map<string, number>()

  async check() {
    return {provider: 'aws', ok: true, source: null, message: 'fake'}
  }

  async launch(request: LaunchRequest): Promise<LaunchHandle> {
    if (request.offer.instanceType === 'priced')
      throw new ProviderError('aws', 'capacity', 'InsufficientInstanceCapacity', {scope: 'offer'})
    this.launched.push(request.offer.instanceType)
    this.ends.set(request.attemptId, Date.now() + 50)
    return {provider: 'aws', externalId: request.attemptId, region: 'r1', zone: null, data: {}}
  }

  async poll(handles: LaunchHandle[]): Promise<Map<string, PollResult>> {
    const out = new Map<string, PollResult>()
    for (const h of handles) {
      const end = this.ends.get(h.externalId)!
      const startedAt = new Date(end - 50).toISOString()
      out.set(
        h.externalId,
        end > Date.now()
          ? {state: 'RUNNING', exitCode: null, reason: null, startedAt, endedAt: null}
          : {state: 'SUCCEEDED', exitCode: 0, reason: null, startedAt, endedAt: new Date(end).toISOString()},
      )
    }
    return out
  }

  async *logs(): AsyncIterable<string> {}
  async signal(): Promise<void> {}
  async cleanup(): Promise<void> {}
}

const catalogOffer = (instanceType: string, onDemand: number | null) => ({
  provider: 'aws',
  region: 'r1',
  zone: null,
  instanceType,
  accelerator: {name: 'A10G', count: 1},
  vcpus: 8,
  memoryGiB: 32,
  price: {onDemand, spot: null, currency: 'USD'},
  ...(onDemand === null ? {priceStatus: 'unknown'} : {}),
  capacity: null,
  source: 'sweep-budget-unknown test',
  asOf: '2026-01-01',
  confidence: 'high',
})

const JOB = 'name: thrifty\nspot: on-demand\nresources: {accelerators: A10G:1}\nwork: {hours: 1}\nmatrix: {seed: [1, 2]}\nrun: echo $seed\n'

/** A sweep of two jobs under a $100 budget over a $1/h offer with no room and an unknown-price one. */
async function budgetedSweep() {
  const home = mkdtempSync(join(tmpdir(), 'skyhop-sweep-budget-unknown-'))
  const store = Store.open(home)
  const catalogFile = join(home, 'offers.json')
  writeFileSync(catalogFile, JSON.stringify({offers: [catalogOffer('priced', 1), catalogOffer('mystery', null)]}))
  const cloud = new NoRoomForPriced()
  const providers = new Map<string, Provider>([['aws', cloud]])
  const inputs = await gatherPlanningInputs({home, config: testConfig(), providers, catalogFile, store})
  const file = join(home, 'job.yaml')
  writeFileSync(file, JOB)
  const budget = {amount: 100, currency: 'USD' as const}
  const planned = await planSweepJobs({spec: loadJobFile(file).spec, file, sets: {}, budget, env: {}}, inputs)
  // The plan itself keeps both jobs on the priced offer (planner test: sweep.test.ts).
  expect(planned.plan.assignments.map((a) => a.candidate?.instanceType)).to.deep.equal(['priced', 'priced'])
  const {sweep} = recordSweep(store, planned, {maxParallel: 1, budget, catalogFile})
  const done = () => {
    store.close()
    rmSync(home, {recursive: true, force: true})
  }
  return {home, store, cloud, providers, inputs, sweep, done}
}

describe('sweep budget: an unknown price is never counted as 0', function () {
  this.timeout(30_000)

  it('a job that fails over under a budget is not moved to an offer of unknown price', async () => {
    const {home, store, cloud, providers, inputs, sweep, done} = await budgetedSweep()
    try {
      const run = await runSweep(sweep.id, {store, providers, inputs, home, owner: 'test', tickMs: 20, pollIntervalMs: 10})
      expect(run.finished).to.equal(true)
      expect(cloud.launched).to.deep.equal([])
      const jobs = store.sweepJobs(sweep.id)
      expect(jobs.map((j) => j.state)).to.deep.equal(['FAILED', 'FAILED'])
      // Its one priced candidate failed; the unknown-price offer was never a candidate.
      expect(jobs[0].reason).to.equal('aws: every candidate failed (1 tried); last: aws: InsufficientInstanceCapacity')
    } finally {
      done()
    }
  })

  it('after an attempt at an unknown price, the budget starts no further job and says why; sweeps reports at least the known spend', async () => {
    const {home, store, cloud, providers, inputs, sweep, done} = await budgetedSweep()
    try {
      const events: SweepEvent[] = []
      // The driver with a replanner that does not know the sweep's budget, as controllers did
      // before it was passed on: the first job fails over to the unknown-price offer and runs.
      const run = await driveSweep(sweep.id, {
        journal: new StoreSweepJournal(store),
        providers,
        replan: replannerFrom(inputs),
        fx: inputs.fx,
        exitCodeOf: exitCodeForJob,
        home,
        owner: 'test',
        tickMs: 20,
        pollIntervalMs: 10,
        onEvent: (e) => events.push(e),
      })
      expect(run.finished).to.equal(true)
      expect(cloud.launched).to.deep.equal(['mystery'])
      const jobs = store.sweepJobs(sweep.id)
      expect(jobs.map((j) => j.state)).to.deep.equal(['SUCCEEDED', 'CANCELLED'])
      expect(jobs[1].reason).to.match(
        /^budget: not starting .*: the sweep has spent at least \$0\.00, but 1 attempt ran at an unknown price, so its budget cannot be checked/,
      )
      const stop = events.find((e) => e.event === 'budget-stop')
      expect(stop?.data).to.deep.include({unknownPriceAttempts: 1, spentUsd: 0, budgetUsd: 100})

      const result = sweepResult(store, sweep.id, {now: new Date(), fx: inputs.fx})
      expect(result.sweep).to.deep.include({costUsd: null, knownCostUsd: 0, unknownPriceAttempts: 1})
      expect(renderSweepHeader(result.sweep)).to.match(/cost ≥ \$0\.00, 1 attempt of unknown price of 100 USD$/)
      expect(result.exitCode).to.equal(6)
    } finally {
      done()
    }
  })
})
