// Each policy's decisions pinned on small hand-made traces: C = 4 h of work, D = 8 h,
// d = 0.5 h, ticks of 1 h, spot 1 USD/h and on-demand 3 USD/h unless a test says otherwise.
import {expect} from 'chai'

import {simulate} from '../../../src/simulator/engine.js'
import {SkyhopPolicy, UniformProgress, findPolicy, hindsightPlan} from '../../../src/simulator/policies.js'
import type {Target} from '../../../src/simulator/types.js'
import {OD, market, scenario, setupOf, switches, trace, view} from './helpers.js'

const make = (name: string, sc: ReturnType<typeof scenario>) => findPolicy(name)!.create(setupOf(sc, findPolicy(name)!.omniscient))
const idle: Target = {kind: 'idle'}
const od: Target = {kind: 'on-demand', option: 0}

describe('simulator policies', () => {
  describe('greedy', () => {
    it('waits without spot, then the safety net fires exactly when R(t) = C(t) + 2d, and it stays on on-demand', () => {
      const sc = scenario([market('0000000000')])
      const {outcome, steps} = trace(sc, make('greedy', sc))
      // R = 8 − t, C = 4, 2d = 1: the net fires at t = 3; on-demand from 3.5 to 7.5.
      expect(switches(steps)).to.deep.equal(['3→od:0'])
      expect(outcome).to.include({finishHours: 7.5, costUsd: 13.5, missed: false})
    })

    it('decides on the documented condition: idle at R = C + 2d + 0.01, on-demand at R = C + 2d', () => {
      const sc = scenario([market('0')])
      const p = make('greedy', sc)
      const before = p.decide(view({now: 2.99, available: [false]}))
      expect(before.target).to.deep.equal(idle)
      expect(before.wakeAt).to.be.closeTo(3, 1e-12)
      expect(make('greedy', sc).decide(view({now: 3, available: [false]})).target).to.deep.equal(od)
      // With spot available it no longer starts spot at R = C + 2d: a preemption could not be absorbed.
      expect(make('greedy', sc).decide(view({now: 3, available: [true]})).target).to.deep.equal(od)
      expect(make('greedy', sc).decide(view({now: 2.99, available: [true]})).target).to.deep.equal({kind: 'spot', market: 0})
    })

    it('uses spot whenever there is some and ignores later spot once on on-demand', () => {
      const sc = scenario([market('0000011111')])
      const {steps, outcome} = trace(sc, make('greedy', sc))
      expect(switches(steps)).to.deep.equal(['3→od:0'])
      expect(outcome.spotHours).to.equal(0)
      const sc2 = scenario([market('0011111111')])
      expect(switches(trace(sc2, make('greedy', sc2)).steps)).to.deep.equal(['2→spot:0'])
    })
  })

  describe('uniform-progress', () => {
    it('goes on-demand when behind t·C/D, keeps it until cp(t) ≥ ep(t + 2d), and the net ends it', () => {
      const sc = scenario([market('0000000000')])
      const {outcome, steps} = trace(sc, make('uniform-progress', sc))
      // f = C/D = 0.5. Behind at once (cp = 0 = ep(0)): on-demand, working from 0.5; cp = t − 0.5
      // reaches ep(t + 1) = (t + 1)/2 at t = 2 → idle; behind again at t = 3 (cp 1.5 = ep(3));
      // working from 3.5, caught up at t = 5 (cp 3 = ep(6)); at t = 6 R = C + 2d: the net.
      expect(switches(steps)).to.deep.equal(['0→od:0', '2→idle', '3→od:0', '5→idle', '6→od:0'])
      expect(outcome).to.include({finishHours: 7.5, changeovers: 3, missed: false})
      expect(outcome.costUsd).to.be.closeTo(5.5 * 3, 1e-9)
    })

    it('keeps on-demand over available spot until the hysteresis is met, then takes the risk', () => {
      const sc = scenario([market('0111111111')])
      const {steps, outcome} = trace(sc, make('uniform-progress', sc))
      // At t = 1 cp = 0.5 < ep(2) = 1: stays; at t = 2 cp = 1.5 = ep(3): spot, running from 2.5.
      expect(switches(steps)).to.deep.equal(['0→od:0', '2→spot:0'])
      expect(outcome.finishHours).to.equal(5)
    })

    // The other reading of the paper's rules (spotOverHysteresis), which the validation
    // benchmark once compared in process: taking spot comes before the hysteresis. Not a
    // registered policy, so the benchmark (CLI only) no longer measures it; this pins where
    // the two readings part (properties.test.ts checks it never misses a deadline).
    it('read with spot before the hysteresis, leaves on-demand for spot at once and still meets the deadline', () => {
      const spotFirst = (sc: ReturnType<typeof scenario>) => new UniformProgress(setupOf(sc), {spotOverHysteresis: true})
      const sc = scenario([market('0111111111')])
      // At t = 1 cp = 0.5 < ep(2) = 1: the hysteresis reading stays (test above), this one takes the spot.
      const {steps, outcome} = trace(sc, spotFirst(sc))
      expect(switches(steps)).to.deep.equal(['0→od:0', '1→spot:0'])
      expect(outcome).to.include({finishHours: 5, spotWorkHours: 3.5, missed: false})
      expect(outcome.spotWorkHours).to.be.greaterThan(trace(sc, make('uniform-progress', sc)).outcome.spotWorkHours)
      // Without spot there is nothing to take: both readings decide alike, the net included.
      const none = scenario([market('0000000000')])
      expect(switches(trace(none, spotFirst(none)).steps)).to.deep.equal(switches(trace(none, make('uniform-progress', none)).steps))
    })

    it('stays on spot until preempted even when behind', () => {
      const sc = scenario([market('1110000000')], {workHours: 6, deadlineHours: 10})
      const {steps} = trace(sc, make('uniform-progress', sc))
      expect(switches(steps)[0]).to.equal('0→spot:0')
      expect(steps.filter((s) => s.current === 'spot:0').every((s) => s.decision === 'spot:0')).to.equal(true)
    })
  })

  describe('skyhop', () => {
    const two = () => [
      market('1100000000', {zone: 'us-west-2a', region: 'us-west-2'}),
      market('1111111111', {zone: 'us-west-2b', region: 'us-west-2'}),
      market('1111111111', {zone: 'us-east-1a', region: 'us-east-1'}),
    ]

    it('moves to another region after a preemption (eager-next-region)', () => {
      const sc = scenario(two())
      const {steps} = trace(sc, make('skyhop', sc))
      expect(switches(steps)).to.deep.equal(['0→spot:0', '2→spot:2'])
    })

    it('launches the replacement on the notice, so its changeover overlaps the old instance', () => {
      const sc = scenario(two(), {noticeHours: 0.1})
      const withNotice = simulate(sc, make('skyhop', sc))
      const sc0 = scenario(two())
      const without = simulate(sc0, make('skyhop', sc0))
      expect(without.finishHours).to.equal(5)
      expect(withNotice.finishHours).to.be.closeTo(4.9, 1e-9)
      expect(withNotice.costUsd).to.be.closeTo(without.costUsd, 1e-9)
    })

    it('waits without spot while it has spare slack, where Uniform Progress pays for on-demand at once', () => {
      const sc = scenario([market('0000000000')], {deadlineHours: 40})
      expect(make('skyhop', sc).decide(view({deadline: 40, available: [false]})).target).to.deep.equal(idle)
      expect(make('uniform-progress', sc).decide(view({deadline: 40, available: [false]})).target).to.deep.equal(od)
    })

    it('never misses on a trace without spot: the safety net', () => {
      const sc = scenario([market('0000000000')])
      const r = simulate(sc, make('skyhop', sc))
      expect(r.missed).to.equal(false)
      expect(r.onDemandWorkHours).to.equal(4)
    })

    it('learns which zone keeps its spot and starts there', () => {
      const markets = [
        market('1010101010101010', {zone: 'us-east-1a', region: 'us-east-1'}),
        market('1111111111111111', {zone: 'us-east-1b', region: 'us-east-1'}),
      ]
      const sc = scenario(markets, {gapHours: 0.5, deadlineHours: 100})
      const p = new SkyhopPolicy(setupOf(sc))
      // Watch both zones for 7 h without running (as the engine would call on each change).
      for (let k = 0; k < 14; k++)
        p.decide(view({now: k * 0.5, deadline: 100, current: {kind: 'on-demand', option: 0}, available: [k % 2 === 0, true]}))
      expect(p.rate(0)).to.be.greaterThan(p.rate(1))
      expect(p.score(0, 7)).to.be.greaterThan(p.score(1, 7))
      expect(p.decide(view({now: 7, deadline: 100, available: [true, true]})).target).to.deep.equal({kind: 'spot', market: 1})
    })

    it('leaves on-demand for spot only when the useful run pays for the two changeovers with a premium of 1.5', () => {
      // Fresh policy, deadline 40 h: spot's residual run is the prior's 2.5 h, so its useful
      // run after d = 0.5 h is 2.5²/3 = 2.083 h, and the slack the moves cost is worth
      // 2d × 0.1 × (3 − spot). At spot 1.7 USD/h the gain 1.3 × 2.083 = 2.71 beats the bare
      // changeovers 0.5 × (1.7 + 3) + 0.13 = 2.48 but not 1.5 × 2.35 + 0.13 = 3.66: it stays.
      // At spot 1 USD/h the gain 4.17 beats 1.5 × 2 + 0.2 = 3.2: it leaves.
      const onDemand = view({deadline: 40, current: od, available: [true]})
      const at = (spotUsdPerHour: number) =>
        make('skyhop', scenario([market('1111', {spotUsdPerHour})], {deadlineHours: 40})).decide(onDemand).target
      expect(at(1.7)).to.deep.equal(od)
      expect(at(1)).to.deep.equal({kind: 'spot', market: 0})
    })

    it('compares accelerators by work done, where hourly-price compares $/h', () => {
      const markets = [
        market('1111', {zone: 'us-west-2a', label: 'k80', accelerator: 'K80', speed: 0.25, spotUsdPerHour: 0.3, onDemandUsdPerHour: 0.9}),
        market('1111', {zone: 'us-west-2b', speed: 1, spotUsdPerHour: 0.9, onDemandUsdPerHour: 3}),
      ]
      const sc = {
        ...scenario(markets, {deadlineHours: 40}),
        onDemand: [OD, {label: 'k80_1', accelerator: 'K80', count: 1, speed: 0.25, usdPerHour: 0.9}],
      }
      const v = view({deadline: 40, available: [true, true]})
      expect(make('skyhop', sc).decide(v).target).to.deep.equal({kind: 'spot', market: 1})
      expect(make('hourly-price', sc).decide(v).target).to.deep.equal({kind: 'spot', market: 0})
    })
  })

  describe('omniscient', () => {
    it('plans the cheapest whole-tick schedule knowing the future', () => {
      const sc = scenario([market('00001111')])
      // Spot from tick 4 gives 3.5 h of work by the deadline; one on-demand tick (0.5 h
      // changeover + 0.5 h of work) makes up the rest: 3 + 4 = 7 USD, done exactly at 8.
      const plan = hindsightPlan(setupOf(sc, true))
      expect([...plan].filter((c) => c === 1)).to.have.length(1)
      expect([...plan.slice(4)]).to.deep.equal([0, 0, 0, 0])
      const r = simulate(sc, make('omniscient', sc))
      expect(r).to.include({costUsd: 7, missed: false, finishHours: 8})
    })

    it('falls back to on-demand when even all spot cannot make it', () => {
      const sc = scenario([market('00000000')])
      expect(simulate(sc, make('omniscient', sc))).to.include({costUsd: 13.5, missed: false})
    })
  })

  it('spot-only never pays for on-demand and so can miss', () => {
    const sc = scenario([market('0000000011111111')])
    const r = simulate(sc, make('spot', sc))
    expect(r).to.include({onDemandHours: 0, missed: true, finishHours: 12.5})
    expect(findPolicy('spot')!.safe).to.equal(false)
  })

  it('finds policies by name and alias', () => {
    expect(findPolicy('UP')!.name).to.equal('uniform-progress')
    expect(findPolicy('od')!.name).to.equal('on-demand')
    expect(findPolicy('nope')).to.equal(undefined)
  })
})
