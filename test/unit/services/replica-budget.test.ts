// The budgets a service's controller launches replicas under (services/owners.ts:
// replicaBudget): the check and the record in one transaction, what the owner has left read
// fresh from the config, and a replica on its way out lending its price to the launch that
// takes its place. On SQLite and PostgreSQL.
import {expect} from 'chai'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {type SkyhopConfig, loadConfig} from '../../../src/config.js'
import {BudgetExceededError} from '../../../src/errors.js'
import type {ReplicaRecord} from '../../../src/model/service.js'
import {replicaBudget} from '../../../src/services/owners.js'
import {ServiceStore} from '../../../src/state/services.js'
import {describeEngines} from '../../helpers/engines.js'
import {testJobSpec} from '../../helpers/job-spec.js'

const FX = {cnyPerUsd: 7, source: 'test', asOf: '2026-01-01'}

describeEngines('replica launches under the owner budgets', (engine) => {
  function world(budgetUsd: number) {
    const home = engine.home()
    const setBudget = (usd: number) => writeFileSync(join(home, 'config.yaml'), `budgets: {users: {alice: {usd_per_hour: ${usd}}}}\n`)
    setBudget(budgetUsd)
    const store = engine.open(home)
    const services = new ServiceStore(store)
    const spec = testJobSpec({name: 'svc', run: 'true'})
    const svc = services.createService({name: 'svc', file: null, spec, owner: 'alice'})
    const config = (): SkyhopConfig => loadConfig(home)
    const budget = replicaBudget({config, store, owner: 'alice', fx: FX})
    const intent = (usd: number) => () =>
      services.recordReplicaIntent({
        serviceId: svc.id,
        version: 1,
        provider: 'local',
        region: 'local',
        zone: null,
        instanceType: 'local',
        accelerator: null,
        acceleratorCount: null,
        spot: false,
        pricePerHour: usd,
        currency: 'USD',
        onDemandPricePerHour: usd,
        address: null,
      })
    const launch = (usd: number, replaces: ReplicaRecord | null = null) =>
      budget.admit({usdPerHour: usd, replaces: replaces?.id ?? null, what: 'a replica of svc'}, intent(usd))
    return {store, services, svc, budget, launch, setBudget}
  }

  it('refuses a replica beyond the budget, records nothing, and fits it once the budget is raised or spend ends', () => {
    const w = world(2)
    const one = w.launch(1)
    w.launch(1)
    expect(w.budget.left()).to.equal(0)
    const refused = (() => {
      try {
        w.launch(1)
      } catch (error) {
        return error
      }
      return null
    })()
    expect(refused).to.be.instanceOf(BudgetExceededError)
    expect((refused as BudgetExceededError).message).to.equal(
      "launching a replica of svc would take alice over budget: a replica of svc would add 1.00 USD/h at the cheapest; alice's budget is 2.00 USD/h with 2.00 USD/h running (0.00 USD/h left)",
    )
    expect((refused as BudgetExceededError).exitCode).to.equal(9)
    expect(w.services.replicas(w.svc.id)).to.have.length(2)
    // Read fresh from the file: a budget raised applies to the next check.
    w.setBudget(3)
    expect(w.budget.left()).to.equal(1)
    w.launch(1)
    expect(() => w.launch(1)).to.throw(BudgetExceededError)
    // A replica that ended no longer counts.
    w.services.updateReplica(one.id, {state: 'STOPPED', endedAt: new Date().toISOString(), releasedAt: new Date().toISOString()})
    w.launch(1)
    expect(w.services.replicas(w.svc.id)).to.have.length(4)
    w.store.close()
  })

  it('lets a replacement take the place of a replica on its way out, like for like, not dearer, and not over a lowered budget', () => {
    const w = world(2)
    w.launch(1)
    const leaving = w.launch(1)
    // Under an interruption notice: still running (and counted) until the grace ends.
    w.services.updateReplica(leaving.id, {state: 'DRAINING', noticeAt: new Date().toISOString()})
    expect(() => w.launch(1), 'a scale-up lends nothing').to.throw(BudgetExceededError)
    expect(() => w.launch(1.5, leaving), 'dearer than what it replaces').to.throw(BudgetExceededError, /would add 1.50 USD\/h/)
    const replacement = w.launch(1, leaving)
    expect(replacement.pricePerHour).to.equal(1)
    // Once the one it replaced is gone its price is not counted, so it lends nothing: no double credit.
    w.services.updateReplica(leaving.id, {state: 'PREEMPTED', endedAt: new Date().toISOString(), releasedAt: new Date().toISOString()})
    expect(() => w.launch(1, leaving)).to.throw(BudgetExceededError)
    // A budget lowered beneath what runs: a like-for-like replacement is refused; the service shrinks to it.
    const third = w.services.replicas(w.svc.id)[0]
    w.services.updateReplica(third.id, {state: 'DRAINING', noticeAt: new Date().toISOString()})
    w.setBudget(1)
    expect(() => w.launch(1, third)).to.throw(BudgetExceededError, /1.00 USD\/h with 2.00 USD\/h running/)
    w.store.close()
  })
})
