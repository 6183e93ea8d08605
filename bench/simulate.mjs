// Issue 17 benchmark: `skyhop simulate` through the real CLI over the 45-day 9-zone trace set
// (availability/1-node/aws-02-15-2023: nine AWS zones, V100, 195-second ticks, 45.5 days),
// 300 seeds, every policy, a job over the whole 45 days (864 h of work in 1,080 h: the Can't
// Be Late job fraction 0.8, k = 3 with spot 1 and on-demand 3 USD/h, d = 0.2 h). Goal ≤ 30 s.
// Measured in the same run: bare `node -e 0`, and a bare replay — a node process that reads
// the same trace files and scans every seed's 45-day window tick by tick, with no policy.
// Then the same command with --threads 1, a scaling table (30 / 100 / 300 seeds; 1 / 3 / 9
// zones), and, unless --no-scenarios, every scenario of bench/trace-scenarios.mjs (each
// trace file alone, each set's files of one kind together, V100 + K80) through the CLI with
// the policies' costs, as before.
// Run after `npm run build`:
//   node bench/simulate.mjs [seeds=300] [traces=../shared/data/traces] [--runs N] [--no-scenarios]
import {mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {availableParallelism, tmpdir} from 'node:os'
import {join, resolve} from 'node:path'

import {ROOT, fmt, median, nodeBaseline, record, runOnce, table} from './lib.mjs'
import {requireTraces, scenarioDir, simulateCli, traceScenarios} from './trace-scenarios.mjs'

const argv = process.argv.slice(2)
const flag = (name) => argv.includes(name)
const option = (name, fallback) => {
  const i = argv.indexOf(name)
  return i >= 0 ? argv[i + 1] : fallback
}
const positional = argv.filter((a, i) => !a.startsWith('--') && !(i > 0 && argv[i - 1] === '--runs'))
const seeds = Number(positional[0] ?? 300)
const tracesRoot = resolve(positional[1] ?? join(ROOT, '..', 'shared', 'data', 'traces'))
const runs = Number(option('--runs', 1))
const machineCores = availableParallelism()
const SET = 'availability/1-node/aws-02-15-2023'
const setDir = join(tracesRoot, SET)
requireTraces('simulate.mjs', tracesRoot, [SET])

const tmp = mkdtempSync(join(tmpdir(), 'skyhop-bench-sim-'))
process.on('exit', () => rmSync(tmp, {recursive: true, force: true}))
const home = join(tmp, 'home')
mkdirSync(home)
const env = {...process.env, SKYHOP_HOME: home, NO_COLOR: '1'}

const GAP = 195
const DEADLINE_H = 1080
const WORK_H = 864
const job = join(tmp, 'job-45d.yaml')
writeFileSync(
  job,
  `name: bench-45d\nresources:\n  accelerators: [V100:1]\nwork:\n  reference: V100:1\n  hours: ${WORK_H}\nthroughput: {V100: 1}\ndeadline: ${DEADLINE_H}h\nrun: x\n`,
)
const PRICES = ['--spot-price', '1', '--on-demand-price', '3']
const zones = readdirSync(setDir)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => f.split('_')[0])

const simulate = (args) => simulateCli(args, env)

const main45 = (n, extra = []) => [job, '--traces', setDir, '--seeds', String(n), ...PRICES, ...extra]

// ---- baselines --------------------------------------------------------------------------
console.log('node -e 0 …')
const node = nodeBaseline(10)

// ---- the goal: 300 seeds × every policy × 45 days × 9 zones ---------------------------------
console.log(`skyhop simulate, ${seeds} seeds, 9 zones, 45 days …`)
const mains = Array.from({length: runs}, () => simulate(main45(seeds)))
const main = mains[0].result
const mainMs = median(mains.map((m) => m.ms))
const mainRss = Math.max(...mains.map((m) => m.rssMB ?? 0)) || null
const startTicks = main.settings.startTicks
const distinct = new Set(startTicks).size

// Bare replay: the same files read and every seed's window scanned, in a process of its own.
const startsFile = join(tmp, 'starts.json')
writeFileSync(startsFile, JSON.stringify(startTicks))
const bareScript = `
const fs = require('node:fs'), path = require('node:path')
const dir = process.argv[1], starts = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'))
const data = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort().map((f) => Uint16Array.from(JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')).data))
const window = Math.ceil(${DEADLINE_H} / (${GAP} / 3600))
let up = 0
for (const s of starts) for (const d of data) for (let k = 0; k < window; k++) up += d[(s + k) % d.length] > 0 ? 1 : 0
console.log(up)`
const bare = runOnce(process.execPath, ['-e', bareScript, setDir, startsFile])
if (bare.status !== 0) throw new Error(`bare replay failed: ${bare.stderr}`)

console.log('the same with --threads 1 …')
const single = simulate(main45(seeds, ['--threads', '1']))

// ---- scaling ----------------------------------------------------------------------------
const seedSteps = [...new Set([Math.max(1, Math.round(seeds / 10)), Math.max(1, Math.round(seeds / 3)), seeds])]
const seedRows = seedSteps.map((n) => {
  console.log(`scaling: ${n} seeds …`)
  const r = n === seeds ? {ms: mainMs, rssMB: mainRss, result: main} : simulate(main45(n))
  return row(`${n} seeds, 9 zones`, n, 9, r)
})
const zoneRows = [1, 3, 9].map((z) => {
  console.log(`scaling: ${z} zone(s) …`)
  const r =
    z === 9
      ? {ms: mainMs, rssMB: mainRss, result: main}
      : simulate(
          main45(
            seeds,
            zones.slice(0, z).flatMap((x) => ['--zone', x]),
          ),
        )
  return row(`${seeds} seeds, ${z} zone${z === 1 ? '' : 's'}`, seeds, z, r)
})

function row(what, n, z, r) {
  const starts = new Set(r.result.settings.startTicks).size
  const overNode = r.ms - node.ms
  return {
    what,
    seeds: n,
    zones: z,
    starts,
    ms: r.ms,
    overNodeMs: overNode,
    perStartMs: overNode / starts,
    perStartZoneMs: overNode / starts / z,
    rssMB: r.rssMB,
  }
}

// ---- every scenario through the CLI -------------------------------------------------------
const scenarioRows = []
if (!flag('--no-scenarios')) {
  const {scenarios} = await traceScenarios({tracesDir: tracesRoot, tmp})
  for (const [i, sc] of scenarios.entries()) {
    const dir = scenarioDir(tmp, i, sc)
    console.log(`scenario ${i + 1}/${scenarios.length}: ${sc.set} ${sc.name} …`)
    const r = simulate([sc.jobFile, '--traces', dir, '--seeds', String(seeds), ...sc.priceFlags])
    scenarioRows.push({
      set: sc.set,
      scenario: sc.name,
      zones: sc.zones,
      hetero: sc.hetero === true,
      ms: r.ms,
      rssMB: r.rssMB,
      result: r.result,
    })
  }
}

// ---- report -----------------------------------------------------------------------------
const by = (result, name) => result.policies.find((p) => p.name === name)
const misses = (result) => result.policies.filter((p) => p.safe && p.deadlineMisses > 0).map((p) => `${p.name} ${p.deadlineMisses}`)
const mainMisses = misses(main)
const summary = [
  `Goal: \`skyhop simulate\` over ${SET} (${zones.length} zones, ${main.traces.markets[0].ticks} ticks of ${GAP} s = ${fmt((main.traces.markets[0].ticks * GAP) / 86400, 1)} days), ${seeds} seeds, every policy (${main.policies.length}), ${WORK_H} h of work in ${DEADLINE_H} h, through bin/run.js: ${fmt(mainMs / 1000, 2)} s (goal ≤ 30 s${runs > 1 ? `; median of ${runs}: ${mains.map((m) => fmt(m.ms / 1000, 2)).join(', ')} s` : ''}), peak RSS ${fmt(mainRss, 0)} MB.`,
  `Baselines in the same run: \`node -e 0\` ${fmt(node.ms, 0)} ms, ${fmt(node.rssMB, 0)} MB (the simulate run is ${fmt(mainMs / node.ms, 0)} × it); a bare replay reading the same files and scanning every seed's window tick by tick ${fmt(bare.ms, 0)} ms, ${fmt(bare.rssMB, 0)} MB (simulate is ${fmt(mainMs / bare.ms, 1)} × it).`,
  `With --threads 1 (no worker threads): ${fmt(single.ms / 1000, 2)} s, ${fmt(single.rssMB, 0)} MB; the default run above replays over ${machineCores} worker threads (one per core), which take (policy, starts) tasks as they come free; on a busy machine they share what cores are left.`,
  `The ${seeds} seeds start at ${distinct} distinct ticks (a 45-day run fits ${main.traces.markets[0].ticks - Math.ceil(DEADLINE_H / (GAP / 3600)) + 1} start ticks in the traces); each distinct start is replayed once per policy.`,
  `Deadline misses by safe policies: ${mainMisses.length === 0 ? 'none' : mainMisses.join('; ')}.`,
]
const policyTable = table(
  main.policies.map((p) => ({
    name: p.name,
    cost: p.costRelativeToOnDemand,
    misses: p.deadlineMisses,
    spot: p.spotHours,
    od: p.onDemandHours,
    calls: p.decisionLatencyUs.calls,
    p50: p.decisionLatencyUs.p50,
    p99: p.decisionLatencyUs.p99,
  })),
  [
    ['policy', 'name'],
    ['cost / on-demand', 'cost', 3],
    ['deadline misses', 'misses', 0],
    ['spot h', 'spot', 1],
    ['on-demand h', 'od', 1],
    ['decide calls', 'calls', 0],
    ['p50 µs', 'p50', 2],
    ['p99 µs', 'p99', 1],
  ],
)
const scaleColumns = [
  ['run', 'what'],
  ['distinct starts', 'starts', 0],
  ['wall ms', 'ms', 0],
  ['ms over node', 'overNodeMs', 0],
  ['ms per start', 'perStartMs', 1],
  ['ms per start × zone', 'perStartZoneMs', 2],
  ['peak RSS MB', 'rssMB', 0],
]
const lines = [
  ...summary.map((s) => `- ${s}`),
  '',
  `The ${seeds}-seed run, per policy (cost relative to on-demand only on the same start, mean over seeds):`,
  '',
  policyTable,
  '',
  'Scaling in seeds (9 zones); time over bare node per distinct start should stay flat if growth is linear:',
  '',
  table(seedRows, scaleColumns),
  '',
  `Scaling in zones (${seeds} seeds); time per distinct start and zone should stay flat:`,
  '',
  table(zoneRows, scaleColumns),
]
if (scenarioRows.length > 0) {
  const f3 = (x) => x.toFixed(3)
  const homogeneous = scenarioRows.filter((r) => !r.hetero)
  const wins = homogeneous.filter(
    (r) =>
      by(r.result, 'skyhop').costRelativeToOnDemand <=
      Math.min(by(r.result, 'greedy').costRelativeToOnDemand, by(r.result, 'uniform-progress').costRelativeToOnDemand) + 1e-9,
  ).length
  const scenarioMisses = scenarioRows.flatMap((r) => misses(r.result).map((m) => `${r.scenario}: ${m}`))
  const totalMs = scenarioRows.reduce((s, r) => s + r.ms, 0)
  lines.push(
    '',
    `Every scenario of bench/trace-scenarios.mjs through the CLI, ${seeds} seeds each (each trace file alone, each set's files of one kind together, V100 + K80; 60 h deadlines, half the trace for sets shorter than 120 h): ${scenarioRows.length} runs of bin/run.js, ${fmt(totalMs / 1000, 1)} s in all. Deadline misses by safe policies: ${scenarioMisses.length === 0 ? 'none' : scenarioMisses.join('; ')}. skyhop at most min(Greedy, UP) in ${wins} of ${homogeneous.length} single-kind scenarios.`,
    '',
    '| set | scenario | zones | C/D h | on-demand | greedy | UP | omniscient | hourly-price | skyhop | skyhop ≤ min(G, UP) | wall ms | RSS MB |',
    '|---|---|---:|---|---:|---:|---:|---:|---:|---:|:---:|---:|---:|',
    ...scenarioRows.map((r) => {
      const c = (name) => by(r.result, name).costRelativeToOnDemand
      const best = Math.min(c('greedy'), c('uniform-progress'))
      const s = c('skyhop')
      return `| ${r.set} | ${r.scenario} | ${r.zones} | ${r.result.job.workHours}/${fmt(r.result.job.deadlineHours, 0)} | ${f3(c('on-demand'))} | ${f3(c('greedy'))} | ${f3(c('uniform-progress'))} | ${f3(c('omniscient'))} | ${f3(c('hourly-price'))} | ${f3(s)} | ${s <= best + 1e-9 ? 'yes' : `no (+${(s - best).toFixed(3)})`} | ${fmt(r.ms, 0)} | ${fmt(r.rssMB, 0)} |`
    }),
  )
}
console.log(lines.join('\n'))

const [json] = record(
  'simulate',
  {
    goalMs: 30_000,
    seeds,
    set: SET,
    job: {workHours: WORK_H, deadlineHours: DEADLINE_H},
    node,
    bareReplay: {ms: bare.ms, rssMB: bare.rssMB},
    main: {
      runs: mains.map((m) => ({ms: m.ms, rssMB: m.rssMB})),
      ms: mainMs,
      rssMB: mainRss,
      distinctStarts: distinct,
      policies: main.policies,
    },
    singleThread: {ms: single.ms, rssMB: single.rssMB},
    scalingSeeds: seedRows,
    scalingZones: zoneRows,
    scenarios: scenarioRows.map((r) => ({
      set: r.set,
      scenario: r.scenario,
      zones: r.zones,
      ms: r.ms,
      rssMB: r.rssMB,
      policies: r.result.policies,
    })),
  },
  lines.join('\n'),
)
console.log(`recorded ${json}`)
if (mainMs > 30_000 || mainMisses.length > 0) process.exitCode = 1
