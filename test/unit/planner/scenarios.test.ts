// The hand-computed scenarios of issue 4. Each figure in an expectation is worked out in
// the comment above it from the priors in src/planner/priors.ts.
import {expect} from 'chai'

import {planJob, planSweep} from '../../../src/planner/index.js'
import {NOW, hoursFromNow, input, job, offer, request} from './fixtures.js'

const close = (a: number | null, b: number, eps = 1e-3) => expect(a).to.be.a('number').and.to.be.closeTo(b, eps)

describe('planner scenarios', () => {
  it('an accelerator 3× faster at 2.5× the price wins on cost for fixed work', () => {
    // 10 h on SLOW:1. FAST has 300 vs 100 TFLOPS → 10/3 h. Cost: SLOW 10 × 1.00 = 10.00;
    // FAST 3.333 × 2.50 = 8.333. Queue (cloud on-demand prior, 5 min) is not billed.
    const j = job({resources: {accelerators: [request('SLOW or FAST', ['SLOW', 'FAST'], 1)]}})
    const plan = planJob(input(j, [offer({acc: 'SLOW', od: 1}), offer({acc: 'FAST', od: 2.5})]))
    expect(plan.chosen?.accelerator?.name).to.equal('FAST')
    close(plan.chosen!.estimatedRunHours, 10 / 3)
    close(plan.chosen!.estimatedCostUsd, 25 / 3)
    close(plan.chosen!.estimatedQueueHours, 5 / 60)
    close(plan.chosen!.estimatedFinishHours, 5 / 60 + 10 / 3)
    close(plan.candidates[1].estimatedCostUsd, 10)
    expect(plan.chosen!.estimates.runHours.source).to.match(/TFLOPS/)
    // Hourly price alone would have picked SLOW, which is what peers do.
    expect(plan.candidates[1].hourlyPriceUsd).to.be.lessThan(plan.chosen!.hourlyPriceUsd!)
  })

  it("the job's own throughput table wins over TFLOPS", () => {
    // The table says FAST is only 2× SLOW: 5 h × 2.5 = 12.5 > 10 → SLOW wins.
    const j = job({resources: {accelerators: [request('SLOW or FAST', ['SLOW', 'FAST'], 1)]}, throughput: {SLOW: 1, FAST: 2}})
    const plan = planJob(input(j, [offer({acc: 'SLOW', od: 1}), offer({acc: 'FAST', od: 2.5})]))
    expect(plan.chosen?.accelerator?.name).to.equal('SLOW')
    close(plan.candidates[1].estimatedRunHours, 5)
    expect(plan.candidates[1].estimates.runHours.source).to.match(/throughput table/)
  })

  it('a CUDA-only job never gets an NPU, however cheap; [cuda, cann] may', () => {
    const any = request('any accelerator', null, 1)
    const offers = [
      offer({acc: 'Ascend910B', od: 0.1, provider: 'huaweicloud', region: 'cn-southwest-2'}),
      offer({acc: 'MLU370', od: 0.05}),
      offer({acc: 'H100', od: 4}),
    ]
    const cuda = planJob(
      input(job({resources: {accelerators: [any], runtimes: ['cuda']}, work: {reference: {name: 'H100', count: 1}, hours: 1}}), offers),
    )
    expect(cuda.candidates.map((c) => c.accelerator?.name)).to.deep.equal(['H100'])
    const runtimeGroups = cuda.excluded.filter((g) => g.reason === 'runtime-mismatch')
    expect(runtimeGroups.map((g) => g.subject).sort()).to.deep.equal(['Ascend910B', 'MLU370'])
    expect(runtimeGroups.find((g) => g.subject === 'Ascend910B')!.message).to.match(/cann.*cuda/)

    const both = planJob(
      input(
        job({resources: {accelerators: [any], runtimes: ['cuda', 'cann']}, work: {reference: {name: 'H100', count: 1}, hours: 1}}),
        offers,
      ),
    )
    // Ascend: 1 h × 989/320 = 3.09 h × 0.10 = 0.31 USD, far below H100's 4 USD.
    expect(both.chosen?.accelerator?.name).to.equal('Ascend910B')
    expect(both.candidates.some((c) => c.accelerator?.name === 'MLU370')).to.equal(false)
  })

  it('a tight deadline turns spot into on-demand; a loose one keeps spot', () => {
    // 10 h of work, checkpoints every 30 min, spot preempted 0.1/h, spot 1 USD/h, on-demand 3.
    // Spot: N = 0.1·10 / (1 − 0.1·(0.25 + 0.1)) = 1.0363; per preemption 8/60 + 0.1 + 0.25 h;
    // expected finish 8/60 + 10 + 1.0363·0.4833 = 10.634 h; p95 of Poisson(1.036) is 3 →
    // pessimistic 8/60 + 10 + 3·0.4833 = 11.583 h. Deadline 12 h with a 10% margin → 10.909 h:
    // expected fits, pessimistic does not → deadline-risk; on-demand 5/60 + 10 = 10.083 h fits.
    const base = {spot: 'auto' as const, checkpoint: {dir: '/ckpt', intervalSeconds: 1800, store: null}}
    const offers = [offer({acc: 'SLOW', od: 3, spot: 1, preemptionRatePerHour: 0.1})]
    const tight = planJob(input(job({...base, deadline: hoursFromNow(12)}), offers))
    expect(tight.chosen?.spot).to.equal(false)
    close(tight.chosen!.estimatedFinishHours, 5 / 60 + 10)
    const risk = tight.excluded.find((g) => g.reason === 'deadline-risk')
    expect(risk?.count).to.equal(1)
    expect(risk?.message).to.match(/11\.6 h exceeds 10\.9 h/)

    const loose = planJob(input(job({...base, deadline: hoursFromNow(20)}), offers))
    expect(loose.chosen?.spot).to.equal(true)
    // Paid: 10 h + N·(0.1 restore + 0.25 lost) = 10.3627 h at 1 USD.
    close(loose.chosen!.estimatedCostUsd, 10 + 1.0363 * 0.35, 1e-3)
    close(loose.chosen!.estimates.preemptions.value, 1.0363, 1e-3)
    close(loose.chosen!.estimatedFinishHours, 8 / 60 + 10 + 1.0363 * (8 / 60 + 0.35), 1e-3)
  })

  it('a Slurm partition with a 6-hour queue loses under time, wins under cost when the deadline allows', () => {
    // 4 h on SLOW either way. Slurm: 0.5 USD/h, Slurm's own estimate 360 min → finish 10 h,
    // cost 2 USD. Cloud: 2 USD/h, 5 min → finish 4.083 h, cost 8 USD.
    const slurm = offer({provider: 'slurm', region: 'local-cluster', instanceType: 'gpu', od: 0.5})
    const cloud = offer({provider: 'aws', region: 'us-east-1', od: 2})
    const queueEstimates = new Map([
      ['slurm/local-cluster/-/gpu', {minutes: 360, source: 'sbatch --test-only', confidence: 'high' as const}],
    ])
    const j = (objective: 'cost' | 'time', deadline: string | null) =>
      job({objective, deadline, work: {reference: {name: 'SLOW', count: 1}, hours: 4}})

    const time = planJob(input(j('time', hoursFromNow(24)), [slurm, cloud], {queueEstimates}))
    expect(time.chosen?.provider).to.equal('aws')
    close(time.chosen!.estimatedFinishHours, 4 + 5 / 60)

    const cost = planJob(input(j('cost', hoursFromNow(24)), [slurm, cloud], {queueEstimates}))
    expect(cost.chosen?.provider).to.equal('slurm')
    close(cost.chosen!.estimatedQueueHours, 6)
    close(cost.chosen!.estimatedCostUsd, 2)
    expect(cost.chosen!.estimates.queueHours.source).to.match(/provider: sbatch --test-only/)

    // Deadline 10 h (9.09 h with margin): Slurm's 10 h misses, cost falls back to the cloud.
    const tight = planJob(input(j('cost', hoursFromNow(10)), [slurm, cloud], {queueEstimates}))
    expect(tight.chosen?.provider).to.equal('aws')
    expect(tight.excluded.map((g) => g.reason)).to.include('deadline')
  })

  it('a sweep of 20 jobs against an offer with capacity 8 spills to the next offer', () => {
    const cheap = offer({region: 'us-east-1', od: 1, capacity: 8})
    const next = offer({region: 'us-west-2', od: 1.2, capacity: null})
    const jobs = Array.from({length: 20}, (_, i) => job({name: `sweep-${i}`, envs: {SEED: String(i)}}))
    const sweep = planSweep({
      jobs,
      offers: [next, cheap],
      accelerators: input(jobs[0], []).accelerators,
      now: NOW,
      enabledProviders: null,
      fx: {cnyPerUsd: 7.2},
    })
    const regions = sweep.assignments.map((a) => a.candidate?.region)
    expect(regions.filter((r) => r === 'us-east-1')).to.have.length(8)
    expect(regions.filter((r) => r === 'us-west-2')).to.have.length(12)
    // Input order decides who gets the cheap slots when nothing else differs.
    expect(regions.slice(0, 8).every((r) => r === 'us-east-1')).to.equal(true)
    expect(sweep.shapes).to.equal(1)
    expect(sweep.unassigned).to.equal(0)
    // 8 × 10 h × 1 + 12 × 10 h × 1.2 = 224 USD
    close(sweep.estimatedCostUsd, 224)
    expect(sweep.usage.find((u) => u.offerKey === 'aws/us-east-1/-/SLOWx1')).to.deep.include({instances: 8, jobs: 8, capacity: 8})
  })

  it('a sweep waits for a freed slot when every offer is full', () => {
    // One offer, capacity 8, 20 jobs of 10 h: three waves; the last starts after 20 h.
    const only = offer({od: 1, capacity: 8})
    const jobs = Array.from({length: 20}, (_, i) => job({name: `j${i}`}))
    const sweep = planSweep({
      jobs,
      offers: [only],
      accelerators: input(jobs[0], []).accelerators,
      now: NOW,
      enabledProviders: null,
      fx: {cnyPerUsd: 7.2},
    })
    const waits = sweep.assignments.map((a) => a.waitForSlotHours)
    const finish = 5 / 60 + 10
    expect(waits.filter((w) => w === 0)).to.have.length(8)
    expect(waits.filter((w) => Math.abs(w - finish) < 1e-3)).to.have.length(8)
    expect(waits.filter((w) => Math.abs(w - 2 * finish) < 1e-3)).to.have.length(4)
    close(sweep.makespanHours, 3 * finish)
    expect(sweep.usage[0].instances).to.equal(8)
  })

  it('equal inputs give identical output, whatever the offer order', () => {
    const offers = [
      offer({acc: 'SLOW', od: 1, region: 'a'}),
      offer({acc: 'SLOW', od: 1, region: 'b'}),
      offer({acc: 'FAST', od: 2.5, spot: 1, region: 'c'}),
      offer({acc: 'FAST', od: 3, spot: 1, region: 'd'}),
      offer({acc: 'H100', od: 9, region: 'e'}),
      offer({acc: 'Ascend910B', od: 0.1, region: 'f'}),
    ]
    const j = job({
      spot: 'auto',
      checkpoint: {dir: null, intervalSeconds: 600, store: null},
      resources: {accelerators: [request('SLOW/FAST', ['SLOW', 'FAST'], 1)]},
    })
    const a = planJob(input(j, offers))
    const b = planJob(input(j, offers))
    expect(JSON.stringify(a)).to.equal(JSON.stringify(b))
    const c = planJob(input(j, [...offers].reverse()))
    expect(c.candidates).to.deep.equal(a.candidates)
    // The two SLOW offers tie on every number: the offer key decides.
    expect(a.candidates.filter((x) => x.accelerator?.name === 'SLOW').map((x) => x.region)).to.deep.equal(['a', 'b'])
  })
})
