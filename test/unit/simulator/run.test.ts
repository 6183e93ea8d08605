// From job file and traces to markets and results: which traces a job can use and how fast
// (the planner's scaling), prices from flags or the catalog, the seeded start offsets, the
// summary per policy; and the whole service on the shared traces.
import {expect} from 'chai'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {loadRegistry} from '../../../src/catalog/accelerators.js'
import type {Offer} from '../../../src/model/catalog.js'
import {UsageError} from '../../../src/errors.js'
import {buildMarkets, catalogPrice} from '../../../src/simulator/markets.js'
import {POLICIES} from '../../../src/simulator/policies.js'
import {defaultNoticeSeconds, parsePrices, selectPolicies, simulateFile, simulateMarkets} from '../../../src/simulator/run.js'
import {parseTrace} from '../../../src/simulator/traces.js'
import type {Trace} from '../../../src/simulator/types.js'
import {loadJobFile} from '../../../src/job/load.js'
import {OD, SHARED_TRACES, market, requireSharedTraces} from './helpers.js'

const registry = loadRegistry()
const NOW = new Date('2026-01-01T00:00:00Z')

function jobFile(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'skyhop-sim-'))
  const file = join(dir, 'job.yaml')
  writeFileSync(file, yaml)
  return file
}

function trace(name: string, data: number[], gap = 600): Trace {
  return parseTrace(name, JSON.stringify({metadata: {gap_seconds: gap}, data}), registry)
}

const HETERO = `name: hetero
resources:
  accelerators: [V100:1, K80:1]
work:
  reference: V100:1
  hours: 10
throughput: {V100: 15.7, K80: 4.37}
deadline: 48h
run: python train.py
`
const noPrices = {spot: new Map<string, number>(), onDemand: new Map<string, number>()}

describe('simulator markets and runs', () => {
  it("keeps the traces the job can use, at the planner's relative speed, and says why it skips the rest", () => {
    const {spec} = loadJobFile(jobFile(HETERO), {now: NOW})
    const traces = [
      trace('us-west-2a_v100_1.json', [1]),
      trace('us-west-2a_k80_1.json', [1]),
      trace('us-west-2b_v100_8.json', [1]),
      trace('us-east-1b_intel_64.json', [1]),
    ]
    const m = buildMarkets({
      job: spec,
      traces,
      registry,
      now: NOW,
      prices: {
        spot: parsePrices('--spot-price', ['V100=0.918', 'K80=0.27']),
        onDemand: parsePrices('--on-demand-price', ['3.06', 'k80=0.9']),
      },
    })
    expect(m.spot.map((x) => [x.zone, x.label])).to.deep.equal([
      ['us-west-2a', 'v100'],
      ['us-west-2a', 'k80'],
    ])
    expect(m.spot[1].speed).to.be.closeTo(4.37 / 15.7, 1e-12)
    expect(m.spot[1]).to.include({spotUsdPerHour: 0.27, onDemandUsdPerHour: 0.9})
    expect(m.spot[0]).to.include({spotUsdPerHour: 0.918, onDemandUsdPerHour: 3.06, speed: 1})
    expect(m.onDemand.map((o) => o.label)).to.deep.equal(['v100_1', 'k80_1'])
    expect(m.skipped.map((s) => s.reason)).to.deep.equal([
      '8 × V100-16GB per node is not a count the job asks for',
      '"intel" is not an accelerator the job asks for',
    ])
    expect(m.workHours).to.equal(10)
  })

  it('multiplies prices by the nodes and counts spot only with enough instances', () => {
    const {spec} = loadJobFile(jobFile(HETERO.replace('name: hetero', 'name: hetero\nnodes: 4')), {now: NOW})
    const m = buildMarkets({
      job: spec,
      traces: [trace('us-west-2a_v100_1.json', [4])],
      registry,
      now: NOW,
      prices: {spot: parsePrices('x', ['1']), onDemand: parsePrices('x', ['3'])},
    })
    expect(m.spot[0]).to.include({spotUsdPerHour: 4, onDemandUsdPerHour: 12})
  })

  it("takes prices from the catalog: cheapest instance type, median spot over the region's zones", () => {
    const offer = (zone: string, type: string, od: number, spot: number | null): Offer =>
      ({
        provider: 'aws',
        region: 'us-west-2',
        zone,
        instanceType: type,
        accelerator: {name: 'V100-16GB', count: 1},
        vcpus: 8,
        memoryGiB: 61,
        price: {onDemand: od, spot, currency: 'USD'},
        priceStatus: 'list',
        source: 'test',
        asOf: '2026-01-01',
      }) as Offer
    const offers = [
      offer('usw2-az1', 'p3.2xlarge', 3.06, 0.6),
      offer('usw2-az2', 'p3.2xlarge', 3.06, 0.5),
      offer('usw2-az3', 'p3.2xlarge', 3.06, 0.9),
      offer('usw2-az1', 'p3.big', 9, 0.1),
    ]
    const p = catalogPrice({offers, cnyPerUsd: 7.2}, trace('us-west-2a_v100_1.json', [1]))
    expect(p).to.include({spot: 0.6, onDemand: 3.06})
    expect(catalogPrice({offers, cnyPerUsd: 7.2}, trace('us-east-1a_v100_1.json', [1]))).to.equal(null)
    const {spec} = loadJobFile(jobFile(HETERO), {now: NOW})
    expect(() =>
      buildMarkets({
        job: spec,
        traces: [trace('us-west-2a_k80_1.json', [1])],
        registry,
        now: NOW,
        prices: noPrices,
        catalog: () => ({offers, cnyPerUsd: 7.2}),
      }),
    ).to.throw(UsageError, /no catalog price for K80×1 in aws\/us-west-2; give --spot-price and --on-demand-price/)
    const m = buildMarkets({
      job: spec,
      traces: [trace('us-west-2a_v100_1.json', [1])],
      registry,
      now: NOW,
      prices: {spot: new Map(), onDemand: parsePrices('x', ['2'])},
      catalog: () => ({offers, cnyPerUsd: 7.2}),
    })
    expect(m.spot[0]).to.include({spotUsdPerHour: 0.6, onDemandUsdPerHour: 2})
  })

  it('refuses what cannot be simulated: no work, nothing fits, mixed ticks, unknown zones', () => {
    const noWork = loadJobFile(jobFile('name: x\nresources: {accelerators: V100:1}\ndeadline: 10h\nrun: x\n'), {now: NOW}).spec
    const traces = [trace('us-west-2a_v100_1.json', [1])]
    const prices = {spot: parsePrices('x', ['1']), onDemand: parsePrices('x', ['3'])}
    expect(() => buildMarkets({job: noWork, traces, registry, now: NOW, prices})).to.throw(UsageError, /work\.hours/)
    const {spec} = loadJobFile(jobFile(HETERO), {now: NOW})
    expect(() => buildMarkets({job: spec, traces: [trace('us-west-2a_a100_1.json', [1])], registry, now: NOW, prices})).to.throw(
      UsageError,
      /none of the 1 traces fits job hetero/,
    )
    expect(() =>
      buildMarkets({job: spec, traces: [...traces, trace('us-west-2b_v100_1.json', [1], 195)], registry, now: NOW, prices}),
    ).to.throw(UsageError, /different ticks \(600 s, 195 s\)/)
    expect(() => buildMarkets({job: spec, traces, registry, now: NOW, prices, zones: ['us-west-2z']})).to.throw(
      UsageError,
      /no trace for zone us-west-2z \(did you mean us-west-2a\?\)/,
    )
  })

  it('parses prices and policies, with clear errors', () => {
    expect([...parsePrices('--spot-price', ['0.9', 'K80=0.27,V100 = $0.918'])]).to.deep.equal([
      ['*', 0.9],
      ['k80', 0.27],
      ['v100', 0.918],
    ])
    expect(() => parsePrices('--spot-price', ['K80=free'])).to.throw(UsageError, /--spot-price "K80=free"/)
    expect(() => parsePrices('--spot-price', ['-1'])).to.throw(UsageError)
    expect(selectPolicies(undefined)).to.have.length(POLICIES.length)
    expect(selectPolicies(['greedy,up', 'skyhop', 'greedy']).map((p) => p.name)).to.deep.equal(['greedy', 'uniform-progress', 'skyhop'])
    expect(() => selectPolicies(['greedyy'])).to.throw(UsageError, /unknown policy "greedyy"/)
  })

  it("uses the providers' notices: AWS 2 min, GCP 30 s, the shorter when mixed", () => {
    expect(defaultNoticeSeconds([market('1')])).to.equal(120)
    expect(defaultNoticeSeconds([market('1'), market('1', {provider: 'gcp'})])).to.equal(30)
  })

  it('replays every policy from the same seeded offsets, inside the traces, and summarises', () => {
    const data = Array.from({length: 200}, (_, i) => (Math.floor(i / 7) % 3 === 0 ? 0 : 1))
    const input = {
      markets: [market(data)],
      onDemand: [OD],
      gapSeconds: 3600,
      workHours: 20,
      deadlineHours: 30,
      changeoverHours: 0.2,
      noticeSeconds: 0,
      nodes: 1,
      policies: POLICIES,
      seeds: 25,
    }
    const a = simulateMarkets(input)
    const b = simulateMarkets(input)
    expect(a.startTicks).to.deep.equal(b.startTicks)
    expect(new Set(a.startTicks).size).to.be.greaterThan(10)
    expect(a.startTicks.every((s) => s >= 0 && s <= 200 - 30)).to.equal(true)
    expect(a.wrapped).to.equal(false)
    expect(a.onDemandBaselineUsd).to.be.closeTo(20.2 * 3, 1e-9)
    const by = Object.fromEntries(a.policies.map((p) => [p.name, p]))
    expect(by['on-demand']).to.include({costRelativeToOnDemand: 1, deadlineMisses: 0, runs: 25})
    for (const p of a.policies) {
      expect(p.costUsd, `${p.name} is deterministic`).to.equal(b.policies.find((x) => x.name === p.name)!.costUsd)
      expect(p.decisionLatencyUs.calls).to.equal(a.outcomes.get(p.name)!.reduce((n, r) => n + r.decisions, 0))
      if (p.safe) expect(p.deadlineMisses, p.name).to.equal(0)
    }
    expect(by.omniscient.costRelativeToOnDemand).to.be.lessThan(by.greedy.costRelativeToOnDemand)
    expect(simulateMarkets({...input, deadlineHours: 400}).wrapped).to.equal(true)
  })

  describe('on the shared traces', function () {
    this.timeout(120_000)

    it('meets every deadline with the safe policies, single zone and all nine zones', function () {
      requireSharedTraces(this)
      const file = jobFile('name: paper\nresources: {accelerators: V100:1}\nwork: {reference: V100:1, hours: 48}\ndeadline: 60h\nrun: x\n')
      const run = (traces: string, zones?: string[]) =>
        simulateFile({
          file,
          traces,
          home: mkdtempSync(join(tmpdir(), 'skyhop-home-')),
          seeds: 40,
          spotPrice: ['1'],
          onDemandPrice: ['3'],
          zones,
          now: NOW,
        })
      const single = run(join(SHARED_TRACES, 'availability/1-node/aws-10-26-2022'), ['us-west-2b'])
      const nine = run(join(SHARED_TRACES, 'availability/1-node/aws-02-15-2023'))
      expect(nine.traces.markets).to.have.length(9)
      for (const r of [single, nine]) {
        for (const p of r.policies) if (p.safe) expect(p.deadlineMisses, `${p.name} on ${r.traces.path}`).to.equal(0)
        expect(r.job).to.include({workHours: 48, deadlineHours: 60, jobFraction: 0.8})
      }
      const cost = (r: typeof nine, name: string) => r.policies.find((p) => p.name === name)!.costRelativeToOnDemand
      // Nine zones: within 3 points of the ceiling 1/k = 1/3 of on-demand.
      expect(cost(nine, 'skyhop')).to.be.lessThan(1 / 3 + 0.03)
      expect(cost(single, 'skyhop')).to.be.lessThan(Math.min(cost(single, 'greedy'), cost(single, 'uniform-progress')))
    })
  })
})
