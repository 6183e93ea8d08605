// Properties over many random traces and jobs (fast-check): no safe policy ever misses a
// deadline — with one zone or several, accelerators of different speeds, notices or none,
// a changeover of zero or more than a tick; the work is always all done and paid for; and
// asking a policy only when something changes gives what asking it at every tick gives.
import {expect} from 'chai'
import fc from 'fast-check'

import {simulate} from '../../../src/simulator/engine.js'
import {POLICIES, UniformProgress} from '../../../src/simulator/policies.js'
import type {OnDemandOption, PolicySpec, Scenario, SpotMarket} from '../../../src/simulator/types.js'
import {setupOf} from './helpers.js'

// Fixed seed: CI must see the same cases every run. (An unseeded run once found a case where
// `everyTick` replay made no progress; the engine now fails such a run instead of hanging.
// Seeds 3 and 9 with 2000 runs found its cause, below: it is checked on every run.)
const SEED = 20261128

/** A bursty availability trace: a two-state Markov chain (spot runs and outages of random mean length). */
const traceArb = fc
  .record({
    ticks: fc.integer({min: 8, max: 400}),
    stayUp: fc.double({min: 0.3, max: 0.99, noNaN: true}),
    stayDown: fc.double({min: 0.2, max: 0.97, noNaN: true}),
    seed: fc.integer({min: 1, max: 2 ** 30}),
    max: fc.constantFrom(1, 1, 1, 4),
  })
  .map(({ticks, stayUp, stayDown, seed, max}) => {
    let a = seed
    const rand = () => {
      a = (Math.imul(a, 1103515245) + 12345) >>> 0
      return a / 4294967296
    }
    const data = new Uint16Array(ticks)
    let up = rand() < 0.5
    for (let i = 0; i < ticks; i++) {
      up = up ? rand() < stayUp : rand() >= stayDown
      data[i] = up ? (max === 1 ? 1 : 1 + Math.floor(rand() * max)) : 0
    }
    return data
  })

const REGIONS = ['us-east-1', 'us-east-2', 'us-west-2']

const scenarioArb: fc.Arbitrary<Scenario> = fc
  .record({
    traces: fc.array(traceArb, {minLength: 1, maxLength: 4}),
    speeds: fc.array(fc.constantFrom(1, 1, 0.5, 0.28), {minLength: 4, maxLength: 4}),
    spotPrices: fc.array(fc.double({min: 0.1, max: 2, noNaN: true}), {minLength: 4, maxLength: 4}),
    k: fc.double({min: 1.2, max: 8, noNaN: true}),
    gapHours: fc.constantFrom(1 / 12, 195 / 3600, 1 / 6, 0.5, 1),
    workHours: fc.double({min: 0.5, max: 20, noNaN: true}),
    fraction: fc.double({min: 0.2, max: 0.97, noNaN: true}),
    changeoverHours: fc.constantFrom(0, 0.05, 0.2, 0.5, 1.5),
    noticeHours: fc.constantFrom(0, 0, 1 / 30, 0.25),
    nodes: fc.constantFrom(1, 1, 2),
    start: fc.nat(),
    slowOnDemand: fc.boolean(),
  })
  .map((r) => {
    const spot: SpotMarket[] = r.traces.map((data, i) => ({
      zone: `${REGIONS[i % 3]}${'abcd'[i]}`,
      region: REGIONS[i % 3],
      provider: 'aws',
      label: r.speeds[i] === 1 ? 'v100' : 'k80',
      accelerator: r.speeds[i] === 1 ? 'V100-16GB' : 'K80',
      count: 1,
      speed: r.speeds[i],
      spotUsdPerHour: r.spotPrices[i],
      onDemandUsdPerHour: r.spotPrices[i] * r.k,
      data,
    }))
    const onDemand: OnDemandOption[] = [{label: 'fast', accelerator: 'V100-16GB', count: 1, speed: 1, usdPerHour: 3}]
    if (r.slowOnDemand) onDemand.push({label: 'slow', accelerator: 'K80', count: 1, speed: 0.28, usdPerHour: 0.9})
    // The deadline leaves at least one changeover of slack, so finishing on on-demand is possible.
    const deadlineHours = Math.max(r.workHours / r.fraction, r.workHours + r.changeoverHours + 0.01)
    return {
      workHours: r.workHours,
      deadlineHours,
      changeoverHours: r.changeoverHours,
      noticeHours: r.noticeHours,
      gapHours: r.gapHours,
      nodes: r.nodes,
      spot,
      onDemand,
      startTick: r.start % r.traces[0].length,
    }
  })

/** The other reading of Uniform Progress (spot before the hysteresis): no registered policy, but it must be as safe. */
const UP_SPOT_FIRST: PolicySpec = {
  name: 'uniform-progress, spot before the hysteresis',
  safe: true,
  omniscient: false,
  summary: '',
  create: (setup) => new UniformProgress(setup, {spotOverHysteresis: true}),
}
const SAFE = [...POLICIES.filter((p) => p.safe), UP_SPOT_FIRST]

/**
 * A changeover whose end (1/12 + 0.5 h) comes a rounding error after a tick boundary
 * (7 × 1/12 h): the engine used to ask Uniform Progress 'changeover-done' at that instant
 * until its step limit (fast-check seed 3, shrunk; engine.test.ts has the details).
 */
const CHANGEOVER_ON_A_TICK: Scenario = {
  workHours: 0.5,
  deadlineHours: 2.5,
  changeoverHours: 0.5,
  noticeHours: 0,
  gapHours: 1 / 12,
  nodes: 1,
  spot: [
    {
      zone: 'us-east-1a',
      region: 'us-east-1',
      provider: 'aws',
      label: 'v100',
      accelerator: 'V100-16GB',
      count: 1,
      speed: 1,
      spotUsdPerHour: 0.1,
      onDemandUsdPerHour: 0.12,
      data: Uint16Array.from([0, 1, 0, 1, 1, 1, 1, 1]),
    },
  ],
  onDemand: [{label: 'fast', accelerator: 'V100-16GB', count: 1, speed: 1, usdPerHour: 3}],
  startTick: 1,
}

describe('simulator properties', function () {
  this.timeout(120_000)

  it('no safe policy misses a deadline, and every run does all the work', () => {
    fc.assert(
      fc.property(scenarioArb, (sc) => {
        for (const spec of SAFE) {
          const r = simulate(sc, spec.create(setupOf(sc, spec.omniscient)))
          if (r.missed) throw new Error(`${spec.name} missed: finished at ${r.finishHours} > ${sc.deadlineHours}`)
          expect(r.unfinished, spec.name).to.equal(false)
          expect(r.spotWorkHours + r.onDemandWorkHours, spec.name).to.be.closeTo(sc.workHours, 1e-6)
          expect(r.costUsd, spec.name).to.be.greaterThan(0)
          expect(r.changeovers, spec.name).to.be.at.least(1)
        }
      }),
      {seed: SEED, numRuns: 200, examples: [[CHANGEOVER_ON_A_TICK]]},
    )
  })

  it('costs what its paid hours cost: on-demand only pays exactly for its work and one changeover', () => {
    fc.assert(
      fc.property(scenarioArb, (sc) => {
        const spec = POLICIES.find((p) => p.name === 'on-demand')!
        const r = simulate(sc, spec.create(setupOf(sc)))
        const o = sc.onDemand.find(
          (x) => sc.changeoverHours + sc.workHours / x.speed <= sc.deadlineHours + 1e-9 && x.usdPerHour / x.speed <= 3,
        )!
        expect(r.onDemandHours).to.be.closeTo(sc.changeoverHours + sc.workHours / o.speed, 1e-6)
        expect(r.costUsd).to.be.closeTo(r.onDemandHours * o.usdPerHour, 1e-6)
      }),
      {seed: SEED, numRuns: 100},
    )
  })

  it('asking only on changes decides like asking at every tick', () => {
    const same = POLICIES.filter((p) => ['greedy', 'uniform-progress', 'on-demand', 'omniscient', 'skyhop'].includes(p.name))
    fc.assert(
      fc.property(scenarioArb, (sc) => {
        for (const spec of same) {
          const a = simulate(sc, spec.create(setupOf(sc, spec.omniscient)))
          const b = simulate(sc, spec.create(setupOf(sc, spec.omniscient)), {everyTick: true})
          expect(b.missed, spec.name).to.equal(false)
          // The engine rounds a wake-up due "now" to 3.6 ms later, so equal up to a little;
          // skyhop also re-reads its learned estimates at every extra call, so only no misses.
          if (spec.name !== 'skyhop') expect(b.costUsd, spec.name).to.be.closeTo(a.costUsd, 1e-3 * a.costUsd + 0.05)
        }
      }),
      {seed: SEED, numRuns: 100, examples: [[CHANGEOVER_ON_A_TICK]]},
    )
  })
})
