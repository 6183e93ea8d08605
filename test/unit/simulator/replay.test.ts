// The simulator's fast paths give the answers of the plain ones: the change indexes against
// a tick scan, the engine's step to the next change of any zone against a look at every
// zone, the hindsight DP with compact trails against its original (reference-hindsight.ts)
// on random markets, and seeds that share a start tick replayed once yet counted per seed. (The replay over
// worker threads needs the built worker: test/commands/simulate.test.ts compares it.)
import {expect} from 'chai'

import {changeDistances, nextChangeOfAny, simulate} from '../../../src/simulator/engine.js'
import {POLICIES, hindsightPlan} from '../../../src/simulator/policies.js'
import {BASELINE_POLICY, distinctStarts, startTicksOf} from '../../../src/simulator/replay.js'
import {type MarketsInput, simulateMarkets} from '../../../src/simulator/run.js'
import {rng} from '../../../src/simulator/stats.js'
import type {OnDemandOption, PolicySetup, SpotMarket} from '../../../src/simulator/types.js'
import {market} from './helpers.js'
import {referenceHindsightPlan} from './reference-hindsight.js'

/** 0/1 availability in runs of random length (mean `run` ticks), up a fraction `up` of the time. */
function pattern(next: () => number, ticks: number, up: number, run: number): number[] {
  const out: number[] = []
  let on = next() < up
  while (out.length < ticks) {
    const len = 1 + Math.floor(next() * 2 * run * (on ? up : 1 - up) * 2)
    for (let i = 0; i < len && out.length < ticks; i++) out.push(on ? 1 : 0)
    on = !on
  }
  return out
}

function randomMarkets(next: () => number, zones: number, ticks: number, identical: boolean): SpotMarket[] {
  return Array.from({length: zones}, (_, z) =>
    market(pattern(next, ticks, 0.2 + 0.7 * next(), 2 + 20 * next()), {
      zone: `us-west-2${'abcdefgh'[z]}`,
      speed: identical ? 1 : [1, 1, 0.5, 2][Math.floor(next() * 4)],
      spotUsdPerHour: identical ? 1 : [1, 1, 0.9, 0.3, 2.5][Math.floor(next() * 5)],
    }),
  )
}

function randomOnDemand(next: () => number): OnDemandOption[] {
  const one: OnDemandOption = {label: 'v100_1', accelerator: 'V100-16GB', count: 1, speed: 1, usdPerHour: 3}
  return next() < 0.6 ? [one] : [one, {label: 'k80_1', accelerator: 'K80', count: 1, speed: 0.3, usdPerHour: 0.9}]
}

/** Ticks from tick i of a circular series until its availability for `nodes` differs, by walking it; null when it never does. */
function scan(data: Uint16Array, nodes: number, i: number): number | null {
  const n = data.length
  for (let k = 1; k <= n; k++) if (data[(i + k) % n] >= nodes !== data[i] >= nodes) return k
  return null
}

describe('simulator fast paths', () => {
  it('the change indexes give what walking the series gives, on random series', () => {
    const next = rng(3)
    for (let c = 0; c < 60; c++) {
      const zones = 1 + Math.floor(next() * 4)
      const length = 1 + Math.floor(next() * 300)
      const nodes = 1 + Math.floor(next() * 3)
      // Counts 0..4 in runs, some series constant.
      const series = Array.from({length: zones}, () => {
        const constant = next() < 0.15
        const out = new Uint16Array(length)
        let v = Math.floor(next() * 5)
        for (let i = 0; i < length; i++) {
          if (!constant && next() < 0.2) v = Math.floor(next() * 5)
          out[i] = v
        }
        return out
      })
      const changes = series.map((d) => changeDistances(d, nodes))
      const any = nextChangeOfAny(changes)!
      for (let i = 0; i < length; i++) {
        let least: number | null = null
        series.forEach((d, z) => {
          const k = scan(d, nodes, i)
          // A series that never changes is "never": beyond any run.
          if (k === null) expect(changes[z][i]).to.be.greaterThan(1e8)
          else expect(changes[z][i], `case ${c} zone ${z} tick ${i}`).to.equal(k)
          if (k !== null && (least === null || k < least)) least = k
        })
        if (least === null) expect(any[i]).to.be.greaterThan(1e8)
        else expect(any[i], `case ${c} tick ${i}`).to.equal(least)
      }
    }
    expect(nextChangeOfAny([])).to.equal(null)
    expect(nextChangeOfAny([new Int32Array(3), new Int32Array(4)])).to.equal(null)
  })

  it("the engine's step to the next change of any zone replays what a look at every zone replays", () => {
    const next = rng(11)
    for (let c = 0; c < 40; c++) {
      const markets = randomMarkets(next, 1 + Math.floor(next() * 5), 300 + Math.floor(next() * 200), next() < 0.3)
      const changes = markets.map((m) => changeDistances(m.data, 1))
      const base = {
        workHours: 10 + 20 * next(),
        deadlineHours: 40,
        changeoverHours: [0, 0.2][c % 2],
        noticeHours: [0, 2 / 60][Math.floor(c / 2) % 2],
        gapHours: 0.25,
        nodes: 1,
        spot: markets,
        onDemand: randomOnDemand(next),
        startTick: Math.floor(next() * 300),
        changes,
      }
      for (const spec of POLICIES) {
        const setup = {
          ...base,
          markets,
          future: (z: number, k: number) => markets[z].data[(base.startTick + k) % markets[z].data.length] >= 1,
        }
        const indexed = simulate({...base, anyChange: nextChangeOfAny(changes)}, spec.create(setup))
        const looked = simulate({...base, anyChange: null}, spec.create(setup))
        expect(indexed, `case ${c} ${spec.name}`).to.deep.equal(looked)
      }
    }
  })

  it('the hindsight DP plans exactly what the original DP plans, on random markets', function () {
    this.timeout(60_000)
    const next = rng(17)
    let idle = 0
    let spot = 0
    let onDemand = 0
    for (let i = 0; i < 120; i++) {
      // Fine ticks (several per planning step), 5-minute and longer ticks; no changeover, a
      // short one, and one of several steps.
      const gapHours = [30 / 3600, 195 / 3600, 0.1, 0.25][i % 4]
      const changeoverHours = [0, 0.05, 0.2, 0.7][Math.floor(i / 4) % 4]
      const deadlineHours = 4 + Math.floor(next() * 60)
      const ticks = Math.ceil(deadlineHours / gapHours) + 50
      const markets = randomMarkets(next, 1 + Math.floor(next() * 5), ticks, next() < 0.4)
      const onDemand_ = randomOnDemand(next)
      const start = Math.floor(next() * 50)
      const setup: PolicySetup = {
        markets,
        onDemand: onDemand_,
        workHours: deadlineHours * (0.1 + 0.85 * next()),
        deadlineHours,
        changeoverHours,
        noticeHours: 0,
        gapHours,
        future: (z, k) => markets[z].data[(start + k) % markets[z].data.length] >= 1,
      }
      const fast = hindsightPlan(setup)
      const reference = referenceHindsightPlan(setup)
      expect([...fast], `case ${i}`).to.deep.equal([...reference])
      for (const c of fast) {
        if (c < 0) idle++
        else if (c < markets.length) spot++
        else onDemand++
      }
    }
    // The cases exercised every kind of step.
    expect(idle).to.be.greaterThan(0)
    expect(spot).to.be.greaterThan(0)
    expect(onDemand).to.be.greaterThan(0)
  })

  const next = rng(5)
  const markets = randomMarkets(next, 3, 400, false)
  const input: MarketsInput = {
    markets,
    onDemand: [{label: 'v100_1', accelerator: 'V100-16GB', count: 1, speed: 1, usdPerHour: 3}],
    gapSeconds: 600,
    workHours: 40,
    deadlineHours: 60,
    changeoverHours: 0.2,
    noticeSeconds: 120,
    nodes: 1,
    policies: POLICIES,
    seeds: 60,
  }

  it('replays a start tick that several seeds share once, and reports every seed as if run alone', () => {
    const {startTicks} = startTicksOf(input)
    const starts = distinctStarts(startTicks)
    // 60 seeds over the 41 ticks a 60-hour run can start at in 400 ten-minute ticks: some repeat.
    expect(starts.length).to.be.lessThan(startTicks.length)
    const out = simulateMarkets(input)
    const alone = (spec: (typeof POLICIES)[number], s: number) => {
      const sc = {
        workHours: input.workHours,
        deadlineHours: input.deadlineHours,
        changeoverHours: input.changeoverHours,
        noticeHours: input.noticeSeconds / 3600,
        gapHours: input.gapSeconds / 3600,
        nodes: 1,
        spot: markets,
        onDemand: input.onDemand,
        startTick: s,
      }
      const future = spec.omniscient ? {future: (z: number, k: number) => markets[z].data[(s + k) % markets[z].data.length] >= 1} : {}
      return simulate(sc, spec.create({...sc, markets, ...future}))
    }
    expect(out.baseline).to.deep.equal(startTicks.map((s) => alone(BASELINE_POLICY, s).costUsd))
    for (const spec of POLICIES) {
      const runs = startTicks.map((s) => alone(spec, s))
      expect(out.outcomes.get(spec.name), spec.name).to.deep.equal(runs)
      const result = out.policies.find((p) => p.name === spec.name)!
      expect(result.decisionLatencyUs.calls, spec.name).to.equal(runs.reduce((n, r) => n + r.decisions, 0))
    }
  })
})
