// The real controller and planner (policy skyhop-controller, src/simulator/controller-run.ts)
// beside the mirrored `skyhop` policy, Greedy and Uniform Progress, on the Can't Be Late
// setting: 48 h of work in 60 h, k = 3 (spot 1, on-demand 3 USD/h), d = 0.2 h.
// Run after `npm run build`: node bench/simulate-controller.mjs [seeds=50] [traces=../shared/data/traces]
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'

import {record} from './lib.mjs'

const root = join(import.meta.dirname, '..')
const {simulateFileAsync} = await import(join(root, 'dist', 'simulator', 'run.js'))
const seeds = Number(process.argv[2] ?? 50)
const traces = resolve(process.argv[3] ?? join(root, '..', 'shared', 'data', 'traces'))
const tmp = mkdtempSync(join(tmpdir(), 'skyhop-bench-simc-'))
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
  const r = await simulateFileAsync({file, traces: s.traces, zones: s.zones, home: tmp, seeds, spotPrice: ['1'], onDemandPrice: ['3'], now: new Date('2026-01-01T00:00:00Z'), policies: ['greedy', 'uniform-progress', 'skyhop', 'skyhop-controller']})
  const ms = performance.now() - t0
  for (const p of r.policies) rows.push({scenario: s.name, policy: p.name, costRelativeToOnDemand: p.costRelativeToOnDemand, deadlineMisses: p.deadlineMisses, runs: p.runs, spotHours: p.spotHours, onDemandHours: p.onDemandHours, changeovers: p.changeovers, preemptions: p.preemptions, minSlackHours: p.slackHours.min, unfinished: p.unfinished, p50us: p.decisionLatencyUs.p50, p99us: p.decisionLatencyUs.p99, scenarioMs: ms})
}
const md = [
  `Seeds: ${seeds} per scenario (same start offsets for every policy). Job: 48 h of V100 work, deadline 60 h (fraction 0.8), spot 1 / on-demand 3 USD/h, d = 0.2 h, AWS notice 120 s.`,
  '`unfinished` = runs where the controller ended the job FAILED and the simulator finished the rest on on-demand (counted in cost and in misses).',
  '',
  '| scenario | policy | cost/OD | misses | spot h | OD h | changeovers | preemptions | min slack h | unfinished | decision p50/p99 µs |',
  '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map((r) => `| ${r.scenario} | ${r.policy} | ${r.costRelativeToOnDemand.toFixed(3)} | ${r.deadlineMisses}/${r.runs} | ${r.spotHours.toFixed(1)} | ${r.onDemandHours.toFixed(1)} | ${r.changeovers.toFixed(1)} | ${r.preemptions.toFixed(1)} | ${r.minSlackHours.toFixed(2)} | ${r.unfinished} | ${r.p50us.toFixed(0)}/${r.p99us.toFixed(0)} |`),
].join('\n')
console.log(md)
console.log(record('simulate-controller', {seeds, rows}, md))
