// The real controller and planner (policy skyhop-controller, src/simulator/controller-run.ts)
// beside the mirrored `skyhop` policy, Greedy and Uniform Progress, on the Can't Be Late
// setting: 48 h of work in 60 h, k = 3 (spot 1, on-demand 3 USD/h), d = 0.2 h.
// Run after `npm run build`: node bench/simulate-controller.mjs [seeds=50] [traces=../shared/data/traces]
// With --all: every scenario of bench/simulate.mjs instead (bench/trace-scenarios.mjs),
// `seeds` starts each (default 20 there), recorded as simulate-controller-all.
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'

import {record} from './lib.mjs'
import {traceScenarios} from './trace-scenarios.mjs'

const root = join(import.meta.dirname, '..')
const {simulateFileAsync} = await import(join(root, 'dist', 'simulator', 'run.js'))
const argv = process.argv.slice(2).filter((a) => a !== '--all')
const allScenarios = process.argv.includes('--all')
const seeds = Number(argv[0] ?? (allScenarios ? 20 : 50))
const traces = resolve(argv[1] ?? join(root, '..', 'shared', 'data', 'traces'))
const tmp = mkdtempSync(join(tmpdir(), 'skyhop-bench-simc-'))
if (allScenarios) {
  await everyScenario()
  process.exit(0)
}
const file = join(tmp, 'job.yaml')
writeFileSync(file, 'name: paper\nresources: {accelerators: V100:1}\nwork: {reference: V100:1, hours: 48}\ndeadline: 60h\nrun: x\n')
const one = join(traces, 'availability/1-node')
const scenarios = [
  {name: '1 zone: us-west-2b V100 (aws-10-26-2022)', traces: join(one, 'aws-10-26-2022'), zones: ['us-west-2b']},
  {name: '2 zones: us-west-2a+b V100 (aws-10-26-2022)', traces: join(one, 'aws-10-26-2022'), zones: ['us-west-2a', 'us-west-2b']},
  {name: '9 zones V100 (aws-02-15-2023)', traces: join(one, 'aws-02-15-2023')},
]
const rows = []
for (const s of scenarios) {
  const t0 = performance.now()
  const r = await simulateFileAsync({
    file,
    traces: s.traces,
    zones: s.zones,
    home: tmp,
    seeds,
    spotPrice: ['1'],
    onDemandPrice: ['3'],
    now: new Date('2026-01-01T00:00:00Z'),
    policies: ['greedy', 'uniform-progress', 'skyhop', 'skyhop-controller'],
  })
  const ms = performance.now() - t0
  for (const p of r.policies)
    rows.push({
      scenario: s.name,
      policy: p.name,
      costRelativeToOnDemand: p.costRelativeToOnDemand,
      deadlineMisses: p.deadlineMisses,
      runs: p.runs,
      spotHours: p.spotHours,
      onDemandHours: p.onDemandHours,
      changeovers: p.changeovers,
      preemptions: p.preemptions,
      minSlackHours: p.slackHours.min,
      unfinished: p.unfinished,
      p50us: p.decisionLatencyUs.p50,
      p99us: p.decisionLatencyUs.p99,
      scenarioMs: ms,
    })
}
const md = [
  `Seeds: ${seeds} per scenario (same start offsets for every policy). Job: 48 h of V100 work, deadline 60 h (fraction 0.8), spot 1 / on-demand 3 USD/h, d = 0.2 h, AWS notice 120 s.`,
  '`unfinished` = runs where the controller ended the job FAILED and the simulator finished the rest on on-demand (counted in cost and in misses).',
  '',
  '| scenario | policy | cost/OD | misses | spot h | OD h | changeovers | preemptions | min slack h | unfinished | decision p50/p99 µs |',
  '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.scenario} | ${r.policy} | ${r.costRelativeToOnDemand.toFixed(3)} | ${r.deadlineMisses}/${r.runs} | ${r.spotHours.toFixed(1)} | ${r.onDemandHours.toFixed(1)} | ${r.changeovers.toFixed(1)} | ${r.preemptions.toFixed(1)} | ${r.minSlackHours.toFixed(2)} | ${r.unfinished} | ${r.p50us.toFixed(0)}/${r.p99us.toFixed(0)} |`,
  ),
].join('\n')
console.log(md)
console.log(record('simulate-controller', {seeds, rows}, md))

/** The controller beside Greedy, Uniform Progress and the mirrored policy on every scenario of bench/simulate.mjs. */
async function everyScenario() {
  const dist = (p) => join(root, 'dist', p)
  const {loadRegistry} = await import(dist('catalog/accelerators.js'))
  const {loadTraceDir} = await import(dist('simulator/traces.js'))
  const {buildMarkets, priceKey} = await import(dist('simulator/markets.js'))
  const {simulateMarkets, simulateControllerMarkets, defaultNoticeSeconds} = await import(dist('simulator/run.js'))
  const {POLICIES} = await import(dist('simulator/policies.js'))
  const {loadJobFile} = await import(dist('job/load.js'))
  const now = new Date('2026-01-01T00:00:00Z')
  const registry = loadRegistry()
  const {scenarios} = traceScenarios({tracesDir: traces, tmp, registry, now, loadTraceDir, loadJobFile, priceKey})
  const policies = POLICIES.filter((p) => ['greedy', 'uniform-progress', 'skyhop'].includes(p.name))
  const rows = []
  const started = performance.now()
  for (const sc of scenarios) {
    const m = buildMarkets({job: sc.spec, traces: sc.traces, registry, now, prices: sc.prices})
    const input = {
      markets: m.spot,
      onDemand: m.onDemand,
      gapSeconds: m.gapSeconds,
      workHours: m.workHours,
      deadlineHours: (Date.parse(sc.spec.deadline) - now.getTime()) / 3_600_000,
      changeoverHours: 0.2,
      noticeSeconds: defaultNoticeSeconds(m.spot),
      nodes: 1,
      policies,
      seeds,
    }
    const t0 = performance.now()
    const out = simulateMarkets(input)
    const controller = await simulateControllerMarkets({...input, job: sc.spec, registry}, out.startTicks, out.baseline)
    const cost = Object.fromEntries([...out.policies, controller.result].map((p) => [p.name, p.costRelativeToOnDemand]))
    const misses = controller.result.deadlineMisses
    rows.push({
      set: sc.set,
      scenario: sc.name,
      zones: sc.zones,
      hetero: sc.hetero === true,
      cost,
      controllerMisses: misses,
      ms: performance.now() - t0,
    })
  }
  const totalMs = performance.now() - started
  const best = (r) => Math.min(r.cost.greedy, r.cost['uniform-progress'])
  const single = rows.filter((r) => !r.hetero)
  const fewScarce = single.filter((r) => r.zones <= 4 && best(r) > 0.6)
  const atMost = (list) => list.filter((r) => r.cost['skyhop-controller'] <= best(r) + 1e-9).length
  const mean = (list, k) => list.reduce((a, r) => a + r.cost[k], 0) / Math.max(1, list.length)
  const fmt = (x) => x.toFixed(3)
  const summary = [
    `${scenarios.length} scenarios (those of bench/simulate.mjs), ${seeds} starts each, the same for every policy; ${(totalMs / 1000).toFixed(0)} s in all.`,
    `Deadline misses by the real controller: ${rows.reduce((a, r) => a + r.controllerMisses, 0)}.`,
    `skyhop-controller at most min(Greedy, UP) in ${atMost(single)} of ${single.length} single-kind scenarios; where few zones (≤ 4) have scarce spot (min(Greedy, UP) > 0.6): ${atMost(fewScarce)} of ${fewScarce.length}.`,
    `Mean cost/OD over the single-kind scenarios: controller ${fmt(mean(single, 'skyhop-controller'))}, mirrored skyhop ${fmt(mean(single, 'skyhop'))}, Greedy ${fmt(mean(single, 'greedy'))}, UP ${fmt(mean(single, 'uniform-progress'))}.`,
  ]
  const table = [
    '| set | scenario | zones | greedy | UP | skyhop (mirrored) | skyhop-controller | controller ≤ min(G, UP) | misses | ms |',
    '|---|---|---:|---:|---:|---:|---:|:---:|---:|---:|',
    ...rows.map((r) => {
      const c = r.cost['skyhop-controller']
      return `| ${r.set} | ${r.scenario} | ${r.zones} | ${fmt(r.cost.greedy)} | ${fmt(r.cost['uniform-progress'])} | ${fmt(r.cost.skyhop)} | ${fmt(c)} | ${c <= best(r) + 1e-9 ? 'yes' : `no (+${(c - best(r)).toFixed(3)})`} | ${r.controllerMisses} | ${r.ms.toFixed(0)} |`
    }),
  ]
  console.log(summary.join('\n'))
  console.log(table.join('\n'))
  console.log(
    record(
      'simulate-controller-all',
      {seeds, rows, totalMs},
      [...summary.map((x) => `- ${x}`), '', 'Cost relative to on-demand only (mean over starts).', '', ...table].join('\n'),
    ),
  )
}
