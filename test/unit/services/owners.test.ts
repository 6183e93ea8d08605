// Owners, roles and budgets (docs/configuration.md#owners-roles-and-budgets): the config's
// settings, the store's owner column and running spend (migration 5), the pure planner step
// that keeps a plan within budgets, and the services' permission and admission rules.
import {expect} from 'chai'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {identityOf, loadConfig, type SkyhopConfig} from '../../../src/config.js'
import {BudgetExceededError, ExitCode, InvalidFileError, PermissionError} from '../../../src/errors.js'
import type {JobSpec} from '../../../src/model/job-spec.js'
import {budgetHeadroom, withinBudgets} from '../../../src/planner/spend-budget.js'
import type {Candidate, Plan} from '../../../src/planner/types.js'
import {actorOf, admitWithinBudget, planWithinBudgets, requireMayAct, specWithinBudget} from '../../../src/services/owners.js'
import {Store} from '../../../src/state/store.js'
import {ServiceStore} from '../../../src/state/services.js'
import {testJobSpec} from '../../helpers/job-spec.js'

const FX = {cnyPerUsd: 7, source: 'test', asOf: '2026-01-01'}

function candidate(key: string, usd: number | null): Candidate {
  return {key, hourlyPriceUsd: usd, rank: 0} as unknown as Candidate
}

function plan(...candidates: Candidate[]): Plan {
  const ranked = candidates.map((c, i) => ({...c, rank: i + 1}))
  return {chosen: ranked[0] ?? null, candidates: ranked, feasibleCount: ranked.length} as unknown as Plan
}

describe('owners, roles and budgets', () => {
  let home: string
  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'skyhop-owners-'))
  })
  afterEach(() => rmSync(home, {recursive: true, force: true}))

  const config = (yaml: string): SkyhopConfig => {
    writeFileSync(join(home, 'config.yaml'), yaml)
    return loadConfig(home)
  }

  describe('config', () => {
    it('reads identity, roles, teams, budgets and agent', () => {
      const c = config(
        [
          'identity: alice',
          'roles: {admin: [carol]}',
          'teams: {ml: [alice, bob]}',
          'budgets:',
          '  users: {alice: {usd_per_hour: 2}}',
          '  teams: {ml: {usd_per_hour: 5.5}}',
          'agent: true',
        ].join('\n'),
      )
      expect(c.identity).to.equal('alice')
      expect(c.roles).to.deep.equal({admin: ['carol']})
      expect(c.teams).to.deep.equal({ml: ['alice', 'bob']})
      expect(c.budgets).to.deep.equal({users: {alice: 2}, teams: {ml: 5.5}})
      expect(c.agent).to.equal(true)
    })

    it('defaults to no roles, no budgets, no agent', () => {
      const c = loadConfig(home)
      expect(c.roles).to.deep.equal({admin: []})
      expect(c.budgets).to.deep.equal({users: {}, teams: {}})
      expect(c.agent).to.equal(false)
    })

    it('refuses a budget on a team it does not define, and a malformed limit, with where', () => {
      expect(() => config('budgets: {teams: {ml: {usd_per_hour: 1}}}\n'))
        .to.throw(InvalidFileError)
        .with.property('message')
        .that.matches(/\/budgets\/teams\/ml: team "ml" is not defined/)
      try {
        config('budgets:\n  users: {alice: {usd_per_hour: -1}}\n')
        expect.fail('accepted a negative budget')
      } catch (error) {
        expect(error).to.be.instanceOf(InvalidFileError)
        expect((error as InvalidFileError).issues[0]).to.include({line: 2})
        expect((error as InvalidFileError).issues[0].path).to.equal('/budgets/users/alice/usd_per_hour')
      }
    })

    it('identity: SKYHOP_IDENTITY, else the config, else the OS user', () => {
      expect(identityOf({identity: 'alice'}, {SKYHOP_IDENTITY: 'bob'})).to.equal('bob')
      expect(identityOf({identity: 'alice'}, {})).to.equal('alice')
      expect(identityOf({identity: null}, {}))
        .to.be.a('string')
        .and.not.equal('')
    })
  })

  describe('store (migration 5)', () => {
    it("records owners, lists one user's jobs (and those from before owners), and sums running spend per owner", () => {
      const store = Store.open(home)
      const spec = testJobSpec({name: 'x', run: 'true'})
      const a1 = store.createJob({name: 'a1', file: null, spec, owner: 'alice', plannedUsdPerHour: 1.5})
      store.createJob({name: 'a2', file: null, spec, owner: 'alice', plannedUsdPerHour: 0.5})
      const b1 = store.createJob({name: 'b1', file: null, spec, owner: 'bob', plannedUsdPerHour: 3})
      store.createJob({name: 'old', file: null, spec})
      expect(store.getJob(a1.id)).to.include({owner: 'alice', plannedUsdPerHour: 1.5})
      expect(store.listJobs({owner: 'alice'}).map((j) => j.name)).to.have.members(['a1', 'a2', 'old'])
      expect(store.listJobs({owner: 'bob'}).map((j) => j.name)).to.have.members(['b1', 'old'])
      expect(store.listJobs().length).to.equal(4)
      store.setJobState(b1.id, 'SUCCEEDED', {kind: 'test'})
      const spend = () => store.runningSpendByOwner(FX)
      expect(spend().find((s) => s.owner === 'alice')).to.deep.equal({owner: 'alice', usdPerHour: 2, jobs: 2})
      expect(spend().find((s) => s.owner === 'bob')).to.equal(undefined)
      // Once a job has an attempt, what the attempt costs counts (in USD), not what was planned.
      const place = {provider: 'local', region: 'local', zone: null, instanceType: 'x', accelerator: null, acceleratorCount: null}
      store.recordAttemptIntent({...place, jobId: a1.id, spot: false, pricePerHour: 14, currency: 'CNY', onDemandPricePerHour: 14})
      expect(spend().find((s) => s.owner === 'alice')!.usdPerHour).to.equal(2.5)
      const services = new ServiceStore(store)
      const svc = services.createService({name: 's', file: null, spec, owner: 'bob'})
      expect(svc.owner).to.equal('bob')
      const {sweep, jobs} = store.createSweep({name: 'sw', file: null, spec, budgetUsd: null, options: {}, plan: null, owner: 'bob'}, [
        {name: 'sw-0', file: null, spec, plannedUsdPerHour: 9},
        {name: 'sw-1', file: null, spec, plannedUsdPerHour: 9},
      ])
      expect(sweep.owner).to.equal('bob')
      expect(jobs[0].owner).to.equal('bob')
      // A sweep's waiting jobs are not running: only one with an attempt counts.
      expect(spend().find((s) => s.owner === 'bob')).to.equal(undefined)
      store.recordAttemptIntent({...place, jobId: jobs[1].id, spot: true, pricePerHour: 0.5, currency: 'USD', onDemandPricePerHour: 1})
      expect(spend().find((s) => s.owner === 'bob')).to.deep.equal({owner: 'bob', usdPerHour: 0.5, jobs: 1})
      // A service counts its replicas not yet released.
      const replica = {serviceId: svc.id, version: 1, ...place, spot: false, onDemandPricePerHour: 3, address: null}
      const r1 = services.recordReplicaIntent({...replica, pricePerHour: 3, currency: 'USD'})
      services.recordReplicaIntent({...replica, pricePerHour: 7, currency: 'CNY'})
      expect(services.runningSpendByOwner(FX)).to.deep.equal([{owner: 'bob', usdPerHour: 4}])
      services.updateReplica(r1.id, {state: 'STOPPED', releasedAt: new Date().toISOString()}, {kind: 'test'})
      expect(services.runningSpendByOwner(FX)).to.deep.equal([{owner: 'bob', usdPerHour: 1}])
      store.close()
    })
  })

  describe('roles', () => {
    const job = {kind: 'job' as const, id: 'j-1', name: 'train', owner: 'bob'}

    it('lets the owner and an admin act, and anyone on a record from before owners', () => {
      expect(() => requireMayAct({user: 'bob', admin: false}, job, 'cancel')).to.not.throw()
      expect(() => requireMayAct({user: 'carol', admin: true}, job, 'cancel')).to.not.throw()
      expect(() => requireMayAct({user: 'alice', admin: false}, {...job, owner: null}, 'cancel')).to.not.throw()
    })

    it('refuses anyone else with PERMISSION_DENIED, exit 8, naming who, what and the role', () => {
      try {
        requireMayAct({user: 'alice', admin: false}, job, 'cancel')
        expect.fail("alice cancelled bob's job")
      } catch (error) {
        expect(error).to.be.instanceOf(PermissionError)
        const e = error as PermissionError
        expect(e.exitCode).to.equal(ExitCode.permission).and.equal(8)
        expect(e.code).to.equal('PERMISSION_DENIED')
        expect(e.message).to.equal('alice may not cancel job train (j-1): it belongs to bob')
        expect(e.hint).to.match(/roles: \{admin: \[alice\]\}/)
      }
    })

    it('takes the admin role from the config for the acting identity', () => {
      const c = config('roles: {admin: [carol]}\n')
      expect(actorOf(c, {SKYHOP_IDENTITY: 'carol'})).to.deep.equal({user: 'carol', admin: true})
      expect(actorOf(c, {SKYHOP_IDENTITY: 'alice'})).to.deep.equal({user: 'alice', admin: false})
    })
  })

  describe('budgets (pure planner step)', () => {
    const limits = {users: {alice: 2}, teams: {ml: 5}, members: {ml: ['alice', 'bob']}}

    it("counts the user's own spend against their budget and every member's against the team's", () => {
      const running = [
        {owner: 'alice', usdPerHour: 1.25},
        {owner: 'bob', usdPerHour: 3},
        {owner: 'dave', usdPerHour: 100},
        {owner: null, usdPerHour: 50},
      ]
      expect(budgetHeadroom('alice', limits, running)).to.deep.equal([
        {scope: 'user', name: 'alice', limitUsdPerHour: 2, runningUsdPerHour: 1.25, leftUsdPerHour: 0.75},
        {scope: 'team', name: 'ml', limitUsdPerHour: 5, runningUsdPerHour: 4.25, leftUsdPerHour: 0.75},
      ])
      // bob has no budget of his own: only the team's applies.
      expect(budgetHeadroom('bob', limits, running).map((h) => h.scope)).to.deep.equal(['team'])
      expect(budgetHeadroom('dave', limits, running)).to.deep.equal([])
    })

    it('keeps the candidates that fit, ranked again, and the most the job may cost', () => {
      const heads = budgetHeadroom('alice', limits, [{owner: 'alice', usdPerHour: 1}])
      const v = withinBudgets(plan(candidate('fast', 3), candidate('cheap', 0.9), candidate('unpriced', null), candidate('ok', 1)), heads)
      expect(v.plan.candidates.map((c) => [c.key, c.rank])).to.deep.equal([
        ['cheap', 1],
        ['ok', 2],
      ])
      expect(v.plan.chosen!.key).to.equal('cheap')
      expect(v.maxUsdPerHour).to.equal(1)
      expect(v.breaches).to.deep.equal([])
    })

    it('leaves a plan alone when no budget applies', () => {
      const p = plan(candidate('a', 10), candidate('b', null))
      const v = withinBudgets(p, [])
      expect(v.plan).to.equal(p)
      expect(v.maxUsdPerHour).to.equal(null)
    })

    it('refuses with BUDGET_EXCEEDED, exit 9, and the numbers when nothing fits', () => {
      const heads = budgetHeadroom('alice', limits, [
        {owner: 'alice', usdPerHour: 1.5},
        {owner: 'bob', usdPerHour: 2},
      ])
      try {
        planWithinBudgets(plan(candidate('a', 1), candidate('b', 4)), heads, 'alice', 'train')
        expect.fail('over budget accepted')
      } catch (error) {
        expect(error).to.be.instanceOf(BudgetExceededError)
        const e = error as BudgetExceededError
        expect(e.exitCode).to.equal(9)
        expect(e.code).to.equal('BUDGET_EXCEEDED')
        expect(e.message).to.equal(
          "launching train would take alice over budget: train would add 1.00 USD/h at the cheapest; alice's budget is 2.00 USD/h with 1.50 USD/h running (0.50 USD/h left)",
        )
        expect((e.details as {budgets: unknown[]}).budgets).to.have.length(1)
      }
    })

    it('lowers the recorded max_price to what is left per node, never raising it', () => {
      const spec = testJobSpec({name: 'x', run: 'true', nodes: 2}) as JobSpec
      expect(specWithinBudget(spec, 3, FX).maxPrice).to.deep.equal({amount: 1.5, currency: 'USD'})
      const capped = {...spec, maxPrice: {amount: 7, currency: 'CNY' as const}}
      expect(specWithinBudget(capped, 3, FX).maxPrice).to.deep.equal({amount: 7, currency: 'CNY'})
      expect(specWithinBudget(spec, null, FX)).to.equal(spec)
    })

    it('admits and records in one transaction: a second launch that no longer fits is refused and records nothing', () => {
      const c = config('budgets: {users: {alice: {usd_per_hour: 2}}}\n')
      const store = Store.open(home)
      const spec = testJobSpec({name: 'x', run: 'true'})
      const record = (name: string) => () => store.createJob({name, file: null, spec, owner: 'alice', plannedUsdPerHour: 1.5})
      admitWithinBudget(c, store, {owner: 'alice', jobName: 'one', usdPerHour: 1.5, fx: FX}, record('one'))
      expect(() => admitWithinBudget(c, store, {owner: 'alice', jobName: 'two', usdPerHour: 1.5, fx: FX}, record('two'))).to.throw(
        BudgetExceededError,
        /2.00 USD\/h with 1.50 USD\/h running/,
      )
      expect(store.listJobs().map((j) => j.name)).to.deep.equal(['one'])
      // Another user without a budget is not limited by alice's.
      admitWithinBudget(c, store, {owner: 'bob', jobName: 'b', usdPerHour: 100, fx: FX}, record('b'))
      store.close()
    })
  })
})
