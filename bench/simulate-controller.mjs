// The real controller and planner (`skyhop simulate --controller`, policy skyhop-controller,
// src/simulator/controller-run.ts) beside the mirrored `skyhop` policy, Greedy and Uniform
// Progress, on the Can't Be Late setting: 48 h of work in 60 h, k = 3 (spot 1, on-demand
// 3 USD/h), d = 0.2 h, AWS notice 120 s. Every figure comes from `skyhop simulate --json`
// run through bin/run.js, one process per scenario: on 1 zone (us-west-2b), 2 zones
// (us-west-2a+b) of availability/1-node/aws-10-26-2022 and the 9 zones of aws-02-15-2023.
// Baselines in the same run: bare `node -e 0`, and the same command without the controller
// (the three policies alone), so the controller's own cost per start is the difference.
// Run after `npm run build`: node bench/simulate-controller.mjs [seeds=50] [traces=../shared/data/traces]
// With --all: every scenario of bench/simulate.mjs instead (bench/trace-scenarios.mjs), one
// CLI run each with the four policies, `seeds` starts each (default 20 there), recorded as
// simulate-controller-all.
import {mkdirSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'

import {fmt, nodeBaseline, record, table} from './lib.mjs'
import {TRACES_DEFAULT, requireTraces, scenarioDir, simulateCli, traceScenarios, writeJob} from './trace-scenarios.mjs'

const argv = process.argv.slice(2).filter((a) => a !== '--all')
const allScenarios = process.argv.includes('--all')
const seeds = Number(argv[0] ?? (allScenarios ? 20 : 50))
if (!(Number.isInteger(seeds) && seeds >= 1)) {
  console.error(`bench/simulate-controller.mjs: seeds must be a whole number ≥ 1, got ${argv[0]}`)
  process.exit(2)
}
const traces = resolve(argv[1] ?? TRACES_DEFAULT)
const ONE = 'availability/1-node/aws-10-26-2022'
const NINE = 'availability/1-node/aws-02-15-2023'
requireTraces('simulate-controller.mjs', traces, allScenarios ? ['.'] : [ONE, NINE])

const tmp = mkdtempSync(join(tmpdir(), 'skyhop-bench-simc-'))
process.on('exit', () => rmSync(tmp, {recursive: true, force: true}))
const home = join(tmp, 'home')
mkdirSync(home)
const env = {...process.env, SKYHOP_HOME: home, NO_COLOR: '1'}
const MIRRORED = ['greedy', 'uniform-progress', 'skyhop']
const policyFlags = (names) => names.flatMap((n) => ['--policy', n])
const WITH_CONTROLLER = policyFlags([...MIRRORED, 'skyhop-controller'])

console.log('node -e 0 …')
const node = nodeBaseline(10)
if (allScenarios) {
  await everyScenario()
  process.exit(0)
}

const job = writeJob(tmp, {name: 'paper', accelerators: ['V100:1'], reference: 'V100:1', workHours: 48, deadlineHours: 60})
const common = ['--seeds', String(seeds), '--spot-price', '1', '--on-demand-price', '3', '--changeover', '0.2h']
const scenarios = [
  {name: '1 zone: us-west-2b V100 (aws-10-26-2022)', traces: join(traces, ONE), zones: ['us-west-2b']},
  {name: '2 zones: us-west-2a+b V100 (aws-10-26-2022)', traces: join(traces, ONE), zones: ['us-west-2a', 'us-west-2b']},
  {name: '9 zones V100 (aws-02-15-2023)', traces: join(traces, NINE), zones: []},
]
const rows = []
const runs = []
for (const s of scenarios) {
  const args = [job, '--traces', s.traces, ...s.zones.flatMap((z) => ['--zone', z]), ...common]
  console.log(`${s.name}: without the controller …`)
  const without = simulateCli([...args, ...policyFlags(MIRRORED)], env)
  console.log(`${s.name}: with the controller …`)
  const withController = simulateCli([...args, ...WITH_CONTROLLER], env)
  const r = withController.result
  runs.push({
    scenario: s.name,
    ms: withController.ms,
    rssMB: withController.rssMB,
    withoutMs: without.ms,
    withoutRssMB: without.rssMB,
    controllerMsPerStart: (withController.ms - without.ms) / seeds,
    overNode: withController.ms / node.ms,
  })
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
    })
}
const misses = rows.filter((r) => r.policy === 'skyhop-controller').reduce((a, r) => a + r.deadlineMisses, 0)
const md = [
  `Seeds: ${seeds} per scenario (same start offsets for every policy). Job: 48 h of V100 work, deadline 60 h (fraction 0.8), spot 1 / on-demand 3 USD/h, d = 0.2 h, AWS notice 120 s. Each scenario is one \`skyhop simulate --json --policy greedy --policy uniform-progress --policy skyhop --policy skyhop-controller\` through bin/run.js. Deadline misses by the real controller: ${misses}.`,
  '`unfinished` = runs where the controller ended the job FAILED and the simulator finished the rest on on-demand (counted in cost and in misses).',
  '',
  '| scenario | policy | cost/OD | misses | spot h | OD h | changeovers | preemptions | min slack h | unfinished | decision p50/p99 µs |',
  '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.scenario} | ${r.policy} | ${r.costRelativeToOnDemand.toFixed(3)} | ${r.deadlineMisses}/${r.runs} | ${r.spotHours.toFixed(1)} | ${r.onDemandHours.toFixed(1)} | ${r.changeovers.toFixed(1)} | ${r.preemptions.toFixed(1)} | ${r.minSlackHours.toFixed(2)} | ${r.unfinished} | ${r.p50us.toFixed(0)}/${r.p99us.toFixed(0)} |`,
  ),
  '',
  `Wall time and peak RSS of each CLI run, against bare \`node -e 0\` (${fmt(node.ms, 0)} ms, ${fmt(node.rssMB, 0)} MB) and the same command without the controller; the controller's cost per start is the difference over ${seeds} starts (its modules' load included):`,
  '',
  table(runs, [
    ['scenario', 'scenario'],
    ['with controller ms', 'ms', 0],
    ['× node', 'overNode', 1],
    ['peak RSS MB', 'rssMB', 0],
    ['without ms', 'withoutMs', 0],
    ['without RSS MB', 'withoutRssMB', 0],
    ['controller ms / start', 'controllerMsPerStart', 1],
  ]),
].join('\n')
console.log(md)
console.log(`recorded ${record('simulate-controller', {seeds, node, runs, rows}, md)[0]}`)

/** The controller beside Greedy, Uniform Progress and the mirrored policy on every scenario of bench/simulate.mjs, through the CLI. */
async function everyScenario() {
  const {scenarios} = await traceScenarios({tracesDir: traces, tmp})
  const rows = []
  const started = performance.now()
  for (const [i, sc] of scenarios.entries()) {
    console.log(`scenario ${i + 1}/${scenarios.length}: ${sc.set} ${sc.name} …`)
    const dir = scenarioDir(tmp, i, sc)
    const r = simulateCli([sc.jobFile, '--traces', dir, '--seeds', String(seeds), ...sc.priceFlags, ...WITH_CONTROLLER], env)
    const cost = Object.fromEntries(r.result.policies.map((p) => [p.name, p.costRelativeToOnDemand]))
    rows.push({
      set: sc.set,
      scenario: sc.name,
      zones: sc.zones,
      hetero: sc.hetero === true,
      cost,
      controllerMisses: r.result.policies.find((p) => p.name === 'skyhop-controller').deadlineMisses,
      ms: r.ms,
      rssMB: r.rssMB,
    })
  }
  const totalMs = performance.now() - started
  const best = (r) => Math.min(r.cost.greedy, r.cost['uniform-progress'])
  const single = rows.filter((r) => !r.hetero)
  const fewScarce = single.filter((r) => r.zones <= 4 && best(r) > 0.6)
  const atMost = (list) => list.filter((r) => r.cost['skyhop-controller'] <= best(r) + 1e-9).length
  const mean = (list, k) => list.reduce((a, r) => a + r.cost[k], 0) / Math.max(1, list.length)
  const f3 = (x) => x.toFixed(3)
  const summary = [
    `${scenarios.length} scenarios (those of bench/simulate.mjs), ${seeds} starts each, the same for every policy; one \`skyhop simulate --json\` through bin/run.js each, ${(totalMs / 1000).toFixed(0)} s in all (bare \`node -e 0\` ${fmt(node.ms, 0)} ms); peak RSS at most ${fmt(Math.max(...rows.map((r) => r.rssMB ?? 0)), 0)} MB.`,
    `Deadline misses by the real controller: ${rows.reduce((a, r) => a + r.controllerMisses, 0)}.`,
    `skyhop-controller at most min(Greedy, UP) in ${atMost(single)} of ${single.length} single-kind scenarios; where few zones (≤ 4) have scarce spot (min(Greedy, UP) > 0.6): ${atMost(fewScarce)} of ${fewScarce.length}.`,
    `Mean cost/OD over the single-kind scenarios: controller ${f3(mean(single, 'skyhop-controller'))}, mirrored skyhop ${f3(mean(single, 'skyhop'))}, Greedy ${f3(mean(single, 'greedy'))}, UP ${f3(mean(single, 'uniform-progress'))}.`,
  ]
  const lines = [
    '| set | scenario | zones | greedy | UP | skyhop (mirrored) | skyhop-controller | controller ≤ min(G, UP) | misses | wall ms | RSS MB |',
    '|---|---|---:|---:|---:|---:|---:|:---:|---:|---:|---:|',
    ...rows.map((r) => {
      const c = r.cost['skyhop-controller']
      return `| ${r.set} | ${r.scenario} | ${r.zones} | ${f3(r.cost.greedy)} | ${f3(r.cost['uniform-progress'])} | ${f3(r.cost.skyhop)} | ${f3(c)} | ${c <= best(r) + 1e-9 ? 'yes' : `no (+${(c - best(r)).toFixed(3)})`} | ${r.controllerMisses} | ${fmt(r.ms, 0)} | ${fmt(r.rssMB, 0)} |`
    }),
  ]
  console.log(summary.join('\n'))
  console.log(lines.join('\n'))
  const [json] = record(
    'simulate-controller-all',
    {seeds, node, rows, totalMs},
    [...summary.map((x) => `- ${x}`), '', 'Cost relative to on-demand only (mean over starts).', '', ...lines].join('\n'),
  )
  console.log(`recorded ${json}`)
}
