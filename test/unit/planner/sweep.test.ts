// Sweep assignment beyond the scenario: quotas, a sweep budget, deadlines first,
// and jobs that cannot be placed.
import {expect} from 'chai'

import {planSweep} from '../../../src/planner/index.js'
import type {SweepInput} from '../../../src/planner/types.js'
import {NOW, hoursFromNow, job, offer, request, resolve} from './fixtures.js'

const sweepOf = (jobs: SweepInput['jobs'], offers: SweepInput['offers'], extra: Partial<Parameters<typeof planSweep>[0]> = {}) =>
  planSweep({jobs, offers, accelerators: resolve, now: NOW, enabledProviders: null, fx: {cnyPerUsd: 7.2}, ...extra})

describe('planner sweeps', () => {
  it('a job at an unknown price makes the sweep total unknown, never a sum with 0', () => {
    // One slot at $1/h (10 h of work: $10), then jobs go to an unknown-price offer.
    const offers = [offer({od: 1, instanceType: 'priced', capacity: 1}), offer({od: null, priceStatus: 'unknown', instanceType: 'mystery'})]
    const sweep = sweepOf(
      Array.from({length: 3}, (_, i) => job({name: `j${i}`})),
      offers,
    )
    expect(sweep.assignments.map((a) => a.candidate?.instanceType)).to.include('mystery')
    const unknownJobs = sweep.assignments.filter((a) => a.candidate?.estimatedCostUsd === null).length
    expect(unknownJobs).to.be.greaterThan(0)
    expect(sweep.unknownPriceJobs).to.equal(unknownJobs)
    expect(sweep.estimatedCostUsd).to.equal(null)
    expect(sweep.pricedCostUsd).to.equal(10 * (3 - unknownJobs))
    expect(sweep.assumptions.join('\n')).not.to.match(/count as 0/)
    // All priced: the total is a number again.
    const priced = sweepOf([job({name: 'only'})], offers)
    expect(priced.estimatedCostUsd).to.equal(10)
    expect(priced.unknownPriceJobs).to.equal(0)
  })

  it('a sweep budget keeps every job off unknown prices: it cannot be checked against them (never a 0)', () => {
    // The same offers under a $100 budget: the one priced slot is shared in turn, and no job
    // goes to the unknown-price offer as if it cost nothing.
    const offers = [offer({od: 1, instanceType: 'priced', capacity: 1}), offer({od: null, priceStatus: 'unknown', instanceType: 'mystery'})]
    const budget = {budget: {amount: 100, currency: 'USD' as const}}
    const jobs = Array.from({length: 3}, (_, i) => job({name: `j${i}`}))
    const sweep = sweepOf(jobs, offers, {sweep: budget})
    expect(sweep.assignments.map((a) => a.candidate?.instanceType)).to.deep.equal(['priced', 'priced', 'priced'])
    expect(sweep.unknownPriceJobs).to.equal(0)
    expect(sweep.estimatedCostUsd).to.equal(30)
    // Only unknown prices: nothing is placed, and the reason names the sweep's budget.
    const none = sweepOf(jobs, [offers[1]], {sweep: budget})
    expect(none.assignments.map((a) => a.candidate)).to.deep.equal([null, null, null])
    expect(none.assignments[0].reason).to.deep.include({reason: 'price-unknown'})
    expect(none.assignments[0].reason?.message).to.match(/no known price, which the sweep's budget cannot be checked against$/)
  })

  it('a quota on accelerators in a region spills the rest elsewhere', () => {
    const offers = [
      offer({provider: 'aws', region: 'r1', od: 1, instanceType: 'a'}),
      offer({provider: 'aws', region: 'r1', od: 1.05, instanceType: 'b'}),
      offer({provider: 'gcp', region: 'g1', od: 1.2}),
    ]
    const jobs = Array.from({length: 12}, (_, i) => job({name: `j${i}`}))
    const sweep = sweepOf(jobs, offers, {limits: [{provider: 'aws', region: 'r1', maxAccelerators: 8}]})
    const by = sweep.assignments.map((a) => `${a.candidate?.provider}/${a.candidate?.region}`)
    expect(by.filter((x) => x === 'aws/r1')).to.have.length(8)
    expect(by.filter((x) => x === 'gcp/g1')).to.have.length(4)
  })

  it('a sweep budget stops assigning once it would be exceeded', () => {
    // Each job costs 10 USD; 35 USD pays for three.
    const jobs = Array.from({length: 5}, (_, i) => job({name: `j${i}`}))
    const sweep = planSweep({
      jobs,
      offers: [offer({od: 1})],
      accelerators: resolve,
      now: NOW,
      enabledProviders: null,
      fx: {cnyPerUsd: 7.2},
      sweep: {budget: {amount: 35, currency: 'USD'}},
    })
    expect(sweep.assignments.map((a) => a.candidate !== null)).to.deep.equal([true, true, true, false, false])
    expect(sweep.assignments[3].reason).to.deep.include({reason: 'budget', subject: 'sweep'})
    expect(sweep.estimatedCostUsd).to.equal(30)
  })

  it('jobs with earlier deadlines take the scarce capacity first', () => {
    const offers = [offer({od: 1, capacity: 1, instanceType: 'fast-lane', region: 'a'}), offer({od: 5, instanceType: 'dear', region: 'b'})]
    const relaxed = job({name: 'relaxed'})
    const urgent = job({name: 'urgent', deadline: hoursFromNow(48)})
    const sweep = sweepOf([relaxed, urgent], offers)
    expect(sweep.assignments.map((a) => [a.job, a.candidate?.instanceType])).to.deep.equal([
      ['relaxed', 'dear'],
      ['urgent', 'fast-lane'],
    ])
    expect(sweep.shapes).to.equal(2)
  })

  it('a job that waiting would make late is left unassigned with a capacity reason', () => {
    // One slot; each job needs 10 h + 5 min; the deadline (12 h → 10.9 h with margin) lets one run.
    const jobs = [job({name: 'a', deadline: hoursFromNow(12)}), job({name: 'b', deadline: hoursFromNow(12)})]
    const sweep = sweepOf(jobs, [offer({od: 1, capacity: 1})])
    expect(sweep.assignments[0].candidate).to.not.equal(null)
    expect(sweep.assignments[1].candidate).to.equal(null)
    expect(sweep.assignments[1].reason?.reason).to.equal('capacity')
    expect(sweep.unassigned).to.equal(1)
  })

  it('capacity is per offer: two offers sharing an offer key keep their own (fast-check counterexample)', () => {
    // Shrunk from the sweep property: a CPU-only offer with room for one instance and an
    // unbounded SLOW:1 offer, both aws/r3/-/i0. The 2-node job runs at once on the SLOW
    // offer; the full CPU-only offer's capacity of 1 is neither used nor applied to it.
    const offers = [
      offer({provider: 'aws', region: 'r3', instanceType: 'i0', acc: null, vcpus: 4, od: null, capacity: 1}),
      offer({provider: 'aws', region: 'r3', instanceType: 'i0', acc: 'SLOW', count: 1, vcpus: 4, od: 0.05, capacity: null}),
    ]
    const j = job({spot: 'auto', objective: 'cost', work: null, nodes: 2, resources: {accelerators: [request('gen', null, [1, 8])]}})
    const sweep = sweepOf([j], offers)
    const a = sweep.assignments[0]
    expect(a.candidate).to.deep.include({offerKey: 'aws/r3/-/i0', accelerator: {name: 'SLOW', count: 1}, nodes: 2})
    expect(a.waitForSlotHours).to.equal(0)
    expect(sweep.usage).to.deep.equal([
      {offerKey: 'aws/r3/-/i0', accelerator: {name: 'SLOW', count: 1}, instances: 2, jobs: 1, capacity: null, pool: null},
    ])
  })

  it('offers sharing a capacity pool share its slots: the sweep spills past the pool, or waits for it', () => {
    // Two offers of one machine under one limit of 2 at once (as the local provider's
    // accelerator offers under max_concurrent), each with room of its own, and one elsewhere.
    const pool = {id: 'm1', capacity: 2}
    const a = offer({od: 1, instanceType: 'a', capacity: 1, capacityPool: pool})
    const b = offer({od: 1.1, instanceType: 'b', capacity: 2, capacityPool: pool})
    const c = offer({od: 2, instanceType: 'c', region: 'elsewhere'})
    const jobs = Array.from({length: 4}, (_, i) => job({name: `j${i}`}))
    const spilled = sweepOf(jobs, [a, b, c])
    // b alone could take a second job; the pool cannot.
    expect(spilled.assignments.map((x) => [x.candidate?.instanceType, x.waitForSlotHours])).to.deep.equal([
      ['a', 0],
      ['b', 0],
      ['c', 0],
      ['c', 0],
    ])
    expect(spilled.pools).to.deep.equal([{pool: 'm1', instances: 2, jobs: 2, capacity: 2}])
    expect(spilled.usage.map((u) => [u.offerKey, u.pool])).to.deep.equal([
      ['aws/elsewhere/-/c', null],
      ['aws/us-east-1/-/a', 'm1'],
      ['aws/us-east-1/-/b', 'm1'],
    ])

    // Without the offer elsewhere the third job waits for the pool to free a slot, though b
    // has room of its own; the fourth (objective cost) waits for a again, the cheaper.
    const waited = sweepOf(jobs, [a, b])
    const [first, second, third, fourth] = waited.assignments
    expect([first.waitForSlotHours, second.waitForSlotHours]).to.deep.equal([0, 0])
    expect(third.candidate?.instanceType).to.equal('a')
    expect(third.waitForSlotHours).to.equal(first.estimatedFinishHours)
    expect(fourth.candidate?.instanceType).to.equal('a')
    expect(fourth.waitForSlotHours).to.equal(third.estimatedFinishHours)
    expect(waited.pools).to.deep.equal([{pool: 'm1', instances: 2, jobs: 4, capacity: 2}])
  })

  it('an offer whose pool is smaller than a job is excluded for capacity', () => {
    const small = offer({od: 1, capacityPool: {id: 'm1', capacity: 1}})
    const sweep = sweepOf([job({name: 'wide', nodes: 2})], [small])
    expect(sweep.assignments[0].candidate).to.equal(null)
    expect(sweep.assignments[0].reason?.reason).to.equal('capacity')
  })

  it('a job no offer can run carries its own exclusion reason', () => {
    const sweep = sweepOf(
      [
        job({
          name: 'npu',
          resources: {
            accelerators: [{names: ['Ascend910B'], vendors: null, memoryGB: null, count: {min: 1, max: 1}, text: 'Ascend910B:1'}],
          },
        }),
      ],
      [offer({})],
    )
    expect(sweep.assignments[0].reason?.reason).to.equal('accelerator-mismatch')
  })
})
