// The estimators: spot overhead, the pessimistic count, where queue waits come from, what
// observations change, egress, and how balanced trades time for money.
import {expect} from 'chai'

import {planJob, poissonQuantile, spotOverhead} from '../../../src/planner/index.js'
import {PREEMPTION_PRIOR_PER_HOUR, RESTORE_OVERHEAD_HOURS} from '../../../src/planner/priors.js'
import type {Observation} from '../../../src/planner/types.js'
import {NOW, input, job, offer} from './fixtures.js'

const ago = (hours: number) => new Date(NOW.getTime() - hours * 3_600_000).toISOString()
const scope = {provider: 'aws', region: 'us-east-1', zone: null, accelerator: 'SLOW', spot: false}

describe('planner estimates', () => {
  it('spot overhead with checkpoints is λT/(1 − λ(τ/2 + restore)) preemptions of (wait + restore + τ/2)', () => {
    const so = spotOverhead(0.2, 10, 0.1, 1)
    const n = (0.2 * 10) / (1 - 0.2 * (0.5 + RESTORE_OVERHEAD_HOURS))
    expect(so.preemptions).to.be.closeTo(n, 1e-9)
    expect(so.perPreemptionHours).to.be.closeTo(0.1 + RESTORE_OVERHEAD_HOURS + 0.5, 1e-9)
    expect(so.billedOverheadHours).to.be.closeTo(n * (RESTORE_OVERHEAD_HOURS + 0.5), 1e-9)
    expect(so.viable).to.equal(true)
  })

  it('without checkpoints a preemption restarts from scratch: e^{λT} − 1 failures', () => {
    const so = spotOverhead(0.2, 10, 0, null)
    expect(so.preemptions).to.be.closeTo(Math.expm1(2), 1e-9)
    // Each failed attempt runs E[X | X < T] = 1/λ − T/(e^{λT} − 1) hours.
    const lost = 1 / 0.2 - 10 / Math.expm1(2)
    expect(so.billedOverheadHours).to.be.closeTo(Math.expm1(2) * (lost + RESTORE_OVERHEAD_HOURS), 1e-9)
    // For small λT both forms agree with the brief's first-order λT × T/2.
    const small = spotOverhead(0.001, 1, 0, null)
    expect(small.preemptions).to.be.closeTo(0.001, 1e-5)
    expect(small.billedOverheadHours / small.preemptions - RESTORE_OVERHEAD_HOURS).to.be.closeTo(0.5, 1e-3)
    expect(spotOverhead(1, 100, 0, null).viable).to.equal(false)
  })

  it('poissonQuantile matches the cumulative distribution', () => {
    expect(poissonQuantile(0, 0.95)).to.equal(0)
    expect(poissonQuantile(1.0363, 0.95)).to.equal(3)
    expect(poissonQuantile(0.05, 0.95)).to.equal(0) // e^-0.05 = 0.951
    expect(poissonQuantile(0.06, 0.95)).to.equal(1) // e^-0.06 = 0.942
    expect(poissonQuantile(400, 0.95)).to.equal(Math.ceil(400 + 1.645 * 20))
  })

  it('queue wait: provider estimate > observations > catalog > prior', () => {
    const o = offer({expectedQueueMinutes: 30})
    const j = job()
    const observations: Observation[] = [
      {...scope, kind: 'provisioning-wait', minutes: 12, at: ago(1)},
      {...scope, kind: 'provisioning-wait', minutes: 12, at: ago(2)},
    ]
    expect(planJob(input(j, [offer({})])).chosen!.estimates.queueHours).to.deep.include({value: 0.0833, confidence: 'low'})
    expect(planJob(input(j, [o])).chosen!.estimatedQueueHours).to.equal(0.5)
    const observed = planJob(input(j, [o], {observations})).chosen!
    expect(observed.estimatedQueueHours).to.equal(0.2)
    expect(observed.estimates.queueHours.source).to.match(/observations: 2 waits/)
    const provided = planJob(
      input(j, [o], {
        observations,
        queueEstimates: new Map([['aws/us-east-1/-/SLOWx1', {minutes: 3, source: 'fake', confidence: 'high' as const}]]),
      }),
    ).chosen!
    expect(provided.estimatedQueueHours).to.equal(0.05)
  })

  it('capacity failures raise the expected wait; old observations are ignored', () => {
    const fail = (h: number): Observation => ({...scope, kind: 'capacity-failure', at: ago(h)})
    const wait: Observation = {...scope, kind: 'provisioning-wait', minutes: 6, at: ago(0)}
    // Weights at age 0 are 1: p = 1 / (1 + 1 + 1) = 1/3 → 6 + 0.5 × 10 = 11 min.
    const q = planJob(input(job(), [offer({})], {observations: [wait, fail(0)]})).chosen!.estimatedQueueHours
    expect(q).to.be.closeTo(11 / 60, 1e-4)
    const stale = planJob(input(job(), [offer({})], {observations: [{...wait, at: ago(24 * 30)}]})).chosen!.estimates.queueHours
    expect(stale.source).to.match(/prior/)
  })

  it('spot rate: enough observed exposure beats the catalog, which beats the prior', () => {
    const j = job({
      spot: 'spot',
      work: {reference: {name: 'SLOW', count: 1}, hours: 1},
      checkpoint: {dir: null, intervalSeconds: 600, store: null},
    })
    const spotScope = {...scope, spot: true}
    const prior = planJob(input(j, [offer({spot: 0.3})])).chosen!
    expect(prior.estimates.preemptions.source).to.match(/spot-traces/)
    expect(prior.estimates.preemptions.value).to.be.closeTo(
      PREEMPTION_PRIOR_PER_HOUR / (1 - PREEMPTION_PRIOR_PER_HOUR * (1 / 12 + RESTORE_OVERHEAD_HOURS)),
      1e-3,
    )
    const catalog = planJob(input(j, [offer({spot: 0.3, preemptionRatePerHour: 0.05})])).chosen!
    expect(catalog.estimates.preemptions.source).to.match(/catalog/)
    const observations: Observation[] = [
      {...spotScope, kind: 'spot-uptime', hours: 20, at: ago(0)},
      {...spotScope, kind: 'preemption', at: ago(0)},
    ]
    const observed = planJob(input(j, [offer({spot: 0.3, preemptionRatePerHour: 0.05})], {observations})).chosen!
    expect(observed.estimates.preemptions.source).to.match(/observations: 1 preemptions/)
    expect(observed.estimates.preemptions.value).to.be.closeTo(0.05 / (1 - 0.05 * (1 / 12 + RESTORE_OVERHEAD_HOURS)), 1e-3)
  })

  it('spot is unviable when expected preemptions exceed max_restarts', () => {
    // No checkpoint, 10 h at 0.4/h: e^4 − 1 ≈ 53.6 restarts expected.
    const plan = planJob(input(job({spot: 'auto'}), [offer({od: 3, spot: 1})]))
    expect(plan.chosen?.spot).to.equal(false)
    expect(plan.excluded[0]).to.deep.include({reason: 'spot-unviable', count: 1})
    expect(plan.excluded[0].message).to.match(/without checkpoints/)
  })

  it('egress: data in another region or provider costs per GB and adds transfer time', () => {
    const data = [{uri: 's3://b/d', provider: 'aws', region: 'us-east-1', sizeGB: 500}]
    const j = job({data})
    const offers = [
      offer({region: 'us-east-1', od: 1.5, instanceType: 'home'}),
      offer({region: 'us-west-2', od: 1.0, instanceType: 'away'}),
      offer({provider: 'gcp', region: 'us-east1', od: 0.9, instanceType: 'other'}),
    ]
    const plan = planJob(input(j, offers))
    const by = Object.fromEntries(plan.candidates.map((c) => [c.instanceType, c]))
    // home: 10 h × 1.5 = 15. away: 500 × 0.02 = 10 USD egress; 500 GB at 2 Gbps = 0.5556 h staged
    // on the instance: (10 + 0.5556) × 1.0 + 10 = 20.556. other: 500 × 0.09 = 45; 500 GB at
    // 0.5 Gbps = 2.2222 h: (12.2222) × 0.9 + 45 = 56.0.
    expect(by.home.estimatedCostUsd).to.equal(15)
    expect(by.away.estimatedCostUsd).to.be.closeTo(20.5556, 1e-3)
    expect(by.away.estimates.egressCostUsd.value).to.equal(10)
    expect(by.away.estimates.transferHours.value).to.be.closeTo(0.5556, 1e-3)
    expect(by.other.estimatedCostUsd).to.be.closeTo(56, 1e-3)
    expect(plan.chosen?.instanceType).to.equal('home')
  })

  it('balanced adds the value of time to the cost', () => {
    // SLOW: 10 h, 10 USD; FAST: 3.33 h at 4 USD/h = 13.33 USD.
    // Value of time 2 USD/h (one device): SLOW 10 + 2 × 10.083 = 30.17; FAST 13.33 + 2 × 3.417 = 20.17.
    const offers = [offer({acc: 'SLOW', od: 1}), offer({acc: 'FAST', od: 4})]
    const j = job({
      objective: 'balanced',
      resources: {accelerators: [{names: ['SLOW', 'FAST'], vendors: null, memoryGB: null, count: {min: 1, max: 1}, text: 'x'}]},
    })
    expect(planJob(input(j, offers)).chosen?.accelerator?.name).to.equal('FAST')
    expect(planJob(input(j, offers)).chosen?.objectiveValue).to.be.closeTo(13.3333 + 2 * (10 / 3 + 5 / 60), 1e-3)
    expect(planJob(input(j, offers, {options: {objective: 'cost'}})).chosen?.accelerator?.name).to.equal('SLOW')
    // With a tiny value of time, balanced behaves like cost.
    expect(planJob(input(j, offers, {options: {valueOfTimeUsdPerHour: 0.1}})).chosen?.accelerator?.name).to.equal('SLOW')
  })
})
