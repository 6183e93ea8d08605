// costReports (the dashboard's cost read): the reports from one read of the store are the
// reports `skyhop cost` makes one by one, and a report over some jobs is those jobs' groups
// of the full report, whatever else the store holds.
import {expect} from 'chai'
import {rmSync} from 'node:fs'

import {fxFromEnv} from '../../../src/catalog/fx.js'
import type {ServiceContext} from '../../../src/services/context.js'
import {cost, costReports} from '../../../src/services/cost.js'
import {Store} from '../../../src/state/store.js'
import {tempHome} from '../../helpers/cli.js'
import {writeDashboardHistory} from '../../helpers/dashboard-history.js'

describe('costReports', () => {
  const home = tempHome('skyhop-cost-reports-')
  const now = new Date()
  const history = writeDashboardHistory(home, now)
  const store = Store.open(home)
  // Only what the cost service uses of a context.
  const ctx = {home, store: async () => store, fx: async () => fxFromEnv()} as unknown as ServiceContext
  after(() => {
    store.close()
    rmSync(home, {recursive: true, force: true})
  })

  it('makes from one read the reports skyhop cost makes one by one', async () => {
    const since = {all: true} as const
    const [byProvider, byJob, bySweep] = await costReports(ctx, {since, now, reports: [{by: 'provider'}, {by: 'job'}, {by: 'sweep'}]})
    expect(byProvider).to.deep.equal(await cost(ctx, {since, now, by: 'provider'}))
    expect(byJob).to.deep.equal(await cost(ctx, {since, now, by: 'job'}))
    expect(bySweep).to.deep.equal(await cost(ctx, {since, now, by: 'sweep'}))
    expect(byProvider!.total.cost.knownUsd).to.be.greaterThan(0)
  })

  it("a report over some jobs is exactly those jobs' groups of the full report", async () => {
    const since = {all: true} as const
    const jobs = new Set([history.train.id, history.eval.id])
    const [some, all] = await costReports(ctx, {since, now, reports: [{by: 'job', jobs}, {by: 'job'}]})
    expect(some!.groups.map((g) => g.key).sort()).to.deep.equal([...jobs].sort())
    for (const g of some!.groups) expect(g).to.deep.equal(all!.groups.find((x) => x.key === g.key))
    expect(all!.groups.length).to.be.greaterThan(some!.groups.length)
  })
})
