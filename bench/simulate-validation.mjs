// Issue 10 validation: the simulator against Can't Be Late (NSDI'24), and skyhop's policy
// against its goals, every figure from `skyhop simulate --json` run through bin/run.js as a
// user would (job files written to a temporary folder, prices and settings by flags).
// Writes bench/results/simulate-validation-<date>.md (and .json).
//  1. The paper's single-zone setting: job fraction 0.8 (48 h of work, deadline 60 h),
//     k = 3 (spot 1, on-demand 3 USD/h), d = 0.2 h, no notice, on each file of the 2-week
//     traces (availability/1-node/aws-10-26-2022), 300 random starts each; Greedy, Uniform
//     Progress and the omniscient plan beside the paper's Table 3. The first 13 days are a
//     copy of each file cut to its first 13 days, in the temporary folder.
//  2. skyhop: misses; all nine zones of the 2-month traces vs the ceiling 1 − 1/k; every pair
//     and triple of those zones (--zone) vs min(Greedy, UP); V100 + K80 vs ranking by hourly
//     price.
// The other reading of Uniform Progress's rules (spot before the hysteresis) is not a policy
// the CLI offers, so it is not measured here: test/unit/simulator/policies.test.ts pins
// where it departs from uniform-progress, properties.test.ts that it misses no deadline.
// Baseline in the same run: bare `node -e 0`, against which each CLI run's time is given.
// Run after `npm run build`: node bench/simulate-validation.mjs [seeds=300] [traces=../shared/data/traces]
import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {basename, join, resolve} from 'node:path'

import {fmt, median, nodeBaseline, record} from './lib.mjs'
import {HETERO_PRICE_FLAGS, TRACES_DEFAULT, readTraces, requireTraces, simulateCli, writeJob} from './trace-scenarios.mjs'

const seeds = Number(process.argv[2] ?? 300)
if (!(Number.isInteger(seeds) && seeds >= 1)) {
  console.error(`bench/simulate-validation.mjs: seeds must be a whole number ≥ 1, got ${process.argv[2]}`)
  process.exit(2)
}
const traces = resolve(process.argv[3] ?? TRACES_DEFAULT)
const TWO_WEEK = 'availability/1-node/aws-10-26-2022'
const TWO_MONTH = 'availability/1-node/aws-02-15-2023'
requireTraces('simulate-validation.mjs', traces, [TWO_WEEK, TWO_MONTH])

const tmp = mkdtempSync(join(tmpdir(), 'skyhop-bench-simv-'))
process.on('exit', () => rmSync(tmp, {recursive: true, force: true}))
const home = join(tmp, 'home')
mkdirSync(home)
const env = {...process.env, SKYHOP_HOME: home, NO_COLOR: '1'}

console.log('node -e 0 …')
const node = nodeBaseline(10)
const started = performance.now()

const PAPER = {greedy: {spot: 17.2, od: 30.8}, 'uniform-progress': {spot: 22.9, od: 25.1}, omniscient: {spot: 27.4, od: 20.7}}
const f1 = (x) => x.toFixed(1)
const f3 = (x) => x.toFixed(3)
const K_FLAGS = ['--spot-price', '1', '--on-demand-price', '3']

/** Every CLI run's wall time and peak RSS, for the summary. */
const cliRuns = []
/** `skyhop simulate JOB --traces TRACES ARGS --seeds N --changeover 0.2h --policy …`: the policies by name, and the result. */
function run(job, tracesPath, args, names) {
  const r = simulateCli(
    [job, '--traces', tracesPath, ...args, '--seeds', String(seeds), '--changeover', '0.2h', ...names.flatMap((n) => ['--policy', n])],
    env,
  )
  cliRuns.push({ms: r.ms, rssMB: r.rssMB})
  return {...Object.fromEntries(r.result.policies.map((p) => [p.name, p])), result: r.result}
}
/** The policies of a run without its result. */
const policiesOf = (r) => Object.fromEntries(Object.entries(r).filter(([k]) => k !== 'result'))

// ---- 1. the paper's setting ------------------------------------------------------------
const twoWeek = await readTraces(join(traces, TWO_WEEK))
const paperNames = ['greedy', 'uniform-progress', 'omniscient', 'skyhop']
// The README calls this set a 2-week (13-day) trace; the files hold 27 days. The first 13
// days are what the paper describes; the whole files are shown too.
const cutDir = join(tmp, 'first-13-days')
mkdirSync(cutDir)
const replay = (firstDays) =>
  twoWeek.map((t) => {
    const kind = `${t.accelerator}:${t.count}`
    const job = writeJob(tmp, {
      name: `${t.label}_${t.count}`,
      accelerators: [kind],
      reference: kind,
      throughput: {[t.accelerator]: 1},
      workHours: 48,
      deadlineHours: 60,
    })
    let file = t.file
    if (firstDays) {
      const doc = JSON.parse(readFileSync(t.file, 'utf8'))
      file = join(cutDir, basename(t.file))
      writeFileSync(file, JSON.stringify({...doc, data: doc.data.slice(0, (firstDays * 86400) / t.gapSeconds)}))
    }
    console.log(`paper setting: ${basename(t.file)}${firstDays ? `, first ${firstDays} days` : ''} …`)
    const r = run(job, file, [...K_FLAGS, '--notice', '0'], paperNames)
    return {file: `${t.zone}_${t.label}_${t.count}`, up: r.result.traces.markets[0].availability, r: policiesOf(r)}
  })
const perFile = replay(13)
const perFileAll = replay(null)
const mean = (rows, name, key) => rows.reduce((s, x) => s + x.r[name][key], 0) / rows.length
const v100 = perFile.filter((x) => x.file.endsWith('v100_1'))

const paperTable = [
  '| policy | paper spot / on-demand h | ours, first 13 days, all 8 files: spot / on-demand work h | paid h (spot / od) | cost / on-demand | ours, whole 27-day files | ours, 13 days, V100×1 files only | misses |',
  '|---|---|---|---|---:|---|---|---:|',
  ...paperNames.map((n) => {
    const p = PAPER[n]
    return `| ${n} | ${p ? `${p.spot} / ${p.od}` : '—'} | ${f1(mean(perFile, n, 'spotWorkHours'))} / ${f1(mean(perFile, n, 'onDemandWorkHours'))} | ${f1(mean(perFile, n, 'spotHours'))} / ${f1(mean(perFile, n, 'onDemandHours'))} | ${f3(mean(perFile, n, 'costRelativeToOnDemand'))} | ${f1(mean(perFileAll, n, 'spotWorkHours'))} / ${f1(mean(perFileAll, n, 'onDemandWorkHours'))} | ${f1(mean(v100, n, 'spotWorkHours'))} / ${f1(mean(v100, n, 'onDemandWorkHours'))} | ${perFile.reduce((s, x) => s + x.r[n].deadlineMisses, 0)} |`
  }),
]
const fileNames = ['greedy', 'uniform-progress', 'omniscient', 'skyhop']
const fileTable = [
  '| trace (first 13 days) | spot up | greedy spot/od | UP spot/od | omniscient spot/od | skyhop spot/od | cost: greedy / UP / omniscient / skyhop |',
  '|---|---:|---|---|---|---|---|',
  ...perFile.map(
    (x) =>
      `| ${x.file} | ${Math.round(x.up * 100)}% | ${fileNames.map((n) => `${f1(x.r[n].spotWorkHours)}/${f1(x.r[n].onDemandWorkHours)}`).join(' | ')} | ${fileNames.map((n) => f3(x.r[n].costRelativeToOnDemand)).join(' / ')} |`,
  ),
]
const gap = (n, key) => mean(perFile, n, key) - PAPER[n][key === 'spotWorkHours' ? 'spot' : 'od']
const signed = (x) => `${x >= 0 ? '+' : ''}${f1(x)}`

// ---- 2. skyhop's goals -------------------------------------------------------------------
const twoMonthDir = join(traces, TWO_MONTH)
const v100Job = writeJob(tmp, {name: 'v100', accelerators: ['V100:1'], reference: 'V100:1', workHours: 48, deadlineHours: 60})
const goalNames = ['greedy', 'uniform-progress', 'omniscient', 'skyhop']
console.log('nine zones …')
const nineRun = run(v100Job, twoMonthDir, [...K_FLAGS, '--notice', '2m'], goalNames)
const nine = policiesOf(nineRun)
const nineNoNotice = policiesOf(run(v100Job, twoMonthDir, [...K_FLAGS, '--notice', '0'], ['skyhop']))
const zones = nineRun.result.traces.markets.map((m) => m.zone)

const combos = []
for (let i = 0; i < zones.length; i++) for (let j = i + 1; j < zones.length; j++) combos.push([i, j])
for (let i = 0; i < zones.length; i++)
  for (let j = i + 1; j < zones.length; j++) for (let k = j + 1; k < zones.length; k++) combos.push([i, j, k])
const few = combos.map((c, n) => {
  if (n % 20 === 0) console.log(`zone pairs and triples: ${n + 1}–${Math.min(n + 20, combos.length)} of ${combos.length} …`)
  const r = run(
    v100Job,
    twoMonthDir,
    [...K_FLAGS, '--notice', '2m', ...c.flatMap((i) => ['--zone', zones[i]])],
    ['greedy', 'uniform-progress', 'skyhop'],
  )
  return {
    zones: c.map((i) => zones[i]).join(', '),
    n: c.length,
    greedy: r.greedy.costRelativeToOnDemand,
    up: r['uniform-progress'].costRelativeToOnDemand,
    skyhop: r.skyhop.costRelativeToOnDemand,
    misses: r.skyhop.deadlineMisses + r.greedy.deadlineMisses + r['uniform-progress'].deadlineMisses,
  }
})
const fewWins = few.filter((x) => x.skyhop <= Math.min(x.greedy, x.up) + 1e-9)
const fewWorst = [...few].sort((a, b) => b.skyhop - Math.min(b.greedy, b.up) - (a.skyhop - Math.min(a.greedy, a.up))).slice(0, 5)
const avgOf = (rows, key) => rows.reduce((s, x) => s + x[key], 0) / rows.length
const scarce = few.filter((x) => Math.min(x.greedy, x.up) > 0.6)

// Heterogeneous: V100 and K80, one device each, both zones of the 2-week set (the job asks
// for one device, so the CLI skips the 8-GPU files).
const heteroRuns = [40, 60, 100].map((deadline) => {
  console.log(`V100 + K80, deadline ${deadline} h …`)
  const job = writeJob(tmp, {
    name: 'hetero',
    accelerators: ['V100:1', 'K80:1'],
    reference: 'V100:1',
    throughput: {V100: 15.7, K80: 4.37},
    workHours: 24,
    deadlineHours: deadline,
  })
  const r = run(
    job,
    join(traces, TWO_WEEK),
    [...HETERO_PRICE_FLAGS, '--notice', '2m'],
    ['greedy', 'uniform-progress', 'omniscient', 'hourly-price', 'skyhop'],
  )
  return {deadline, markets: r.result.traces.markets, r: policiesOf(r)}
})
const heteroMarkets = heteroRuns[0].markets
const speedK80 = heteroMarkets.find((m) => m.label === 'k80').speed
const v100Spot = heteroMarkets.find((m) => m.label === 'v100').spotUsdPerHour
const k80Spot = heteroMarkets.find((m) => m.label === 'k80').spotUsdPerHour

const elapsed = (performance.now() - started) / 1000
const paperOrder = ['greedy', 'uniform-progress', 'omniscient']
  .map((n) => mean(perFile, n, 'spotWorkHours'))
  .every((x, i, xs) => i === 0 || xs[i - 1] < x)
const closerOn13 = Object.keys(PAPER).filter(
  (n) => Math.abs(gap(n, 'spotWorkHours')) < Math.abs(mean(perFileAll, n, 'spotWorkHours') - PAPER[n].spot),
)
const spreadOf = (n) => Math.max(...perFile.map((x) => x.r[n].spotWorkHours)) - Math.min(...perFile.map((x) => x.r[n].spotWorkHours))
const safeMissesOf = (policies) => Object.values(policies).reduce((n, p) => n + (p.safe ? p.deadlineMisses : 0), 0)
const safeMisses =
  [...perFile, ...perFileAll].reduce((n, x) => n + safeMissesOf(x.r), 0) +
  safeMissesOf(nine) +
  safeMissesOf(nineNoNotice) +
  few.reduce((n, x) => n + x.misses, 0) +
  heteroRuns.reduce((n, h) => n + safeMissesOf(h.r), 0)
const versusHourly = (r) => {
  const x = (1 - r.skyhop.costRelativeToOnDemand / r['hourly-price'].costRelativeToOnDemand) * 100
  return x >= 0 ? `${f1(x)}% cheaper` : `${f1(-x)}% dearer`
}
const runMs = cliRuns.map((r) => r.ms)
const peakRss = Math.max(...cliRuns.map((r) => r.rssMB ?? 0)) || null
const md = [
  `Seeds: ${seeds} random start offsets per scenario (the same for every policy). ${cliRuns.length} runs of \`skyhop simulate --json\` through bin/run.js, ${elapsed.toFixed(0)} s in all: median ${fmt(median(runMs), 0)} ms a run (${fmt(median(runMs) / node.ms, 1)} × bare \`node -e 0\`, ${fmt(node.ms, 0)} ms), longest ${fmt(Math.max(...runMs), 0)} ms; peak RSS at most ${fmt(peakRss, 0)} MB (node ${fmt(node.rssMB, 0)} MB).`,
  '',
  "## 1. Can't Be Late, single zone (Table 3)",
  '',
  "Setting: one job of 48 h of work with a deadline of 60 h (job fraction 0.8), k = 3 (spot 1, on-demand 3 USD/h), changeover d = 0.2 h, no preemption notice (the paper has none), on each of the 8 files of the 2-week traces (`availability/1-node/aws-10-26-2022`: us-west-2a/b × V100/K80 × 1/8 GPUs), each alone. Hours are work done on each market (they sum to 48, as the paper's do); paid hours add the changeovers.",
  '',
  ...paperTable,
  '',
  `How close, on the first 13 days: Greedy ${f1(mean(perFile, 'greedy', 'spotWorkHours'))} h of spot against the paper's 17.2 (${signed(gap('greedy', 'spotWorkHours'))} h), Uniform Progress ${f1(mean(perFile, 'uniform-progress', 'spotWorkHours'))} against 22.9 (${signed(gap('uniform-progress', 'spotWorkHours'))} h), the omniscient plan ${f1(mean(perFile, 'omniscient', 'spotWorkHours'))} against 27.4 (${signed(gap('omniscient', 'spotWorkHours'))} h). The order Greedy < UP < omniscient ${paperOrder ? 'is' : 'is not'} reproduced.`,
  '',
  'Why they differ:',
  `- The window. The README calls this set a 2-week (13-day) trace but its files hold 27 days; replaying the whole files moves every policy (column "whole 27-day files"); the first 13 days bring ${closerOn13.length === 0 ? 'none of them' : closerOn13.join(', ')} closer to the paper. The paper does not say which files, start times or how many starts make Table 3; we average ${seeds} random starts on each of the 8 files, and per file Greedy's spot hours spread over ${f1(spreadOf('greedy'))} h, UP's over ${f1(spreadOf('uniform-progress'))} h, the omniscient plan's over ${f1(spreadOf('omniscient'))} h (table below), against the differences to the paper above.`,
  `- Uniform Progress's rules leave one order open: on on-demand with spot available, does the hysteresis (stay until cp(t) ≥ ep(t + 2d)) or taking risks (spot whenever available) win? \`uniform-progress\` lets the hysteresis win, as the original simulator's \`keep_on_demand\` option does (${signed(gap('uniform-progress', 'spotWorkHours'))} h of spot against the paper). The other reading (spot first) is not a policy the CLI offers, so this benchmark, which runs only what a user can, does not measure it; test/unit/simulator/policies.test.ts pins where the two readings part, and properties.test.ts checks that the other one misses no deadline either.`,
  "- Decisions in continuous time. The paper's simulator decides once per 10-minute tick and rounds the safety net up to whole ticks (ceil((C + 2d)/gap) ≥ floor(R/gap)); ours fires at R = C + 2d exactly (Uniform Progress's straight line is still checked per tick). This moves a run by at most one tick of spot, 0.17 h.",
  "- The omniscient reference. The paper's is an exact optimum; ours is a hindsight plan in whole ticks found by Lagrangian relaxation plus a repair (policies.ts): achievable, so it can only find less spot than the true optimum.",
  '- We read 1 = available, as the public traces mean it (NOTES.md).',
  '',
  `skyhop on the same runs: ${f1(mean(perFile, 'skyhop', 'spotWorkHours'))} h of spot, cost ${f3(mean(perFile, 'skyhop', 'costRelativeToOnDemand'))} of on-demand against ${f3(Math.min(mean(perFile, 'greedy', 'costRelativeToOnDemand'), mean(perFile, 'uniform-progress', 'costRelativeToOnDemand')))} for the better of Greedy and UP; at most min(Greedy, UP) on ${perFile.filter((x) => x.r.skyhop.costRelativeToOnDemand <= Math.min(x.r.greedy.costRelativeToOnDemand, x.r['uniform-progress'].costRelativeToOnDemand) + 1e-9).length} of the 8 files (13 days) and ${perFileAll.filter((x) => x.r.skyhop.costRelativeToOnDemand <= Math.min(x.r.greedy.costRelativeToOnDemand, x.r['uniform-progress'].costRelativeToOnDemand) + 1e-9).length} of 8 (27 days).`,
  '',
  'Per file:',
  '',
  ...fileTable,
  '',
  "## 2. skyhop's policy against its goals",
  '',
  `**Deadlines.** ${safeMisses === 0 ? 'No safe policy missed a deadline here' : `Safe policies missed ${safeMisses} deadlines here`} (${[...perFile, ...perFileAll].reduce((n, x) => n + safeMissesOf(x.r), 0)} misses over the 8 single-zone files, ${safeMissesOf(nine) + safeMissesOf(nineNoNotice)} on nine zones, ${few.reduce((n, x) => n + x.misses, 0)} over the ${few.length} zone pairs and triples, ${heteroRuns.reduce((n, h) => n + safeMissesOf(h.r), 0)} heterogeneous); bench/simulate.mjs checks every shared trace and test/unit/simulator/properties.test.ts random ones.`,
  '',
  `**Nine zones (2-month traces, k = 3, 2-min notice).** Ceiling 1 − 1/k = 66.7% saved, i.e. cost ${f3(1 / 3)} of on-demand; goal: within 3 points (≤ ${f3(1 / 3 + 0.03)}). skyhop ${f3(nine.skyhop.costRelativeToOnDemand)} (${f1((1 - nine.skyhop.costRelativeToOnDemand) * 100)}% saved, ${f1((nine.skyhop.costRelativeToOnDemand - 1 / 3) * 100)} points from the ceiling; ${f3(nineNoNotice.skyhop.costRelativeToOnDemand)} without using notices), Greedy ${f3(nine.greedy.costRelativeToOnDemand)}, UP ${f3(nine['uniform-progress'].costRelativeToOnDemand)}, omniscient ${f3(nine.omniscient.costRelativeToOnDemand)}. What is left above 1/3 is changeovers: skyhop ${f1(nine.skyhop.changeovers)} per run (${f1(nine.skyhop.preemptions)} preemptions), Greedy ${f1(nine.greedy.changeovers)}, omniscient ${f1(nine.omniscient.changeovers)}.`,
  '',
  `**Few zones.** Every pair and triple of the nine zones (${few.length} sets, 2-min notice): skyhop at most min(Greedy, UP) in ${fewWins.length} of ${few.length}; mean cost skyhop ${f3(avgOf(few, 'skyhop'))}, Greedy ${f3(avgOf(few, 'greedy'))}, UP ${f3(avgOf(few, 'up'))}. Where spot is scarce (min(Greedy, UP) > 0.6: ${scarce.length} sets) skyhop ${f3(avgOf(scarce, 'skyhop'))}, Greedy ${f3(avgOf(scarce, 'greedy'))}, UP ${f3(avgOf(scarce, 'up'))}. The sets where it is worst against the better of the two:`,
  '',
  '| zones | greedy | UP | skyhop | skyhop − min |',
  '|---|---:|---:|---:|---:|',
  ...fewWorst.map(
    (x) =>
      `| ${x.zones} | ${f3(x.greedy)} | ${f3(x.up)} | ${f3(x.skyhop)} | ${(x.skyhop - Math.min(x.greedy, x.up) >= 0 ? '+' : '') + f3(x.skyhop - Math.min(x.greedy, x.up))} |`,
  ),
  '',
  `**Heterogeneous accelerators.** V100 and K80 traces of both zones of the 2-week set (${heteroMarkets.length} markets), 24 h of work on V100:1. Speeds: K80 = ${f3(speedK80)} of a V100 — the FP32 datasheet ratio (4.37 TFLOPS per K80 GPU against 15.7), given in the job's throughput table because the registry has no K80 figures; dense FP16 would make K80 far slower still. Prices: AWS p3.2xlarge 3.06 on-demand / 0.918 spot (the spot price in the preemption traces), p2.xlarge 0.90 / 0.27 (assumed 70% off, as V100). Per unit of work V100 spot (${f3(v100Spot)}) and K80 spot (${f3(k80Spot / speedK80)}) are close; by the hour K80 looks ${f1(v100Spot / k80Spot)} × cheaper.`,
  '',
  '| deadline | greedy | UP | omniscient | hourly-price | skyhop | skyhop vs hourly-price |',
  '|---:|---:|---:|---:|---:|---:|---:|',
  ...heteroRuns.map(
    (h) =>
      `| ${h.deadline} h | ${f3(h.r.greedy.costRelativeToOnDemand)} | ${f3(h.r['uniform-progress'].costRelativeToOnDemand)} | ${f3(h.r.omniscient.costRelativeToOnDemand)} | ${f3(h.r['hourly-price'].costRelativeToOnDemand)} | ${f3(h.r.skyhop.costRelativeToOnDemand)} | ${versusHourly(h.r)} |`,
  ),
  '',
  "`hourly-price` is skyhop's own policy with markets ranked by hourly price (SkyPilot's ranking): it takes K80 spot whenever there is any, which burns slack (a K80 hour does a quarter of a V100 hour's work) and, with a tight deadline, ends on V100 on-demand. Greedy and UP here already pick spot per unit of work (the simulator's shared helper), so they are not the hourly baseline.",
  '',
  'Cost is relative to on-demand only on the same start; hours are per run; the omniscient plan reads the future and is a reference only.',
]
const text = md.join('\n')
console.log(text)
const [json] = record(
  'simulate-validation',
  {
    seeds,
    node,
    cliRuns: {count: cliRuns.length, medianMs: median(runMs), maxMs: Math.max(...runMs), peakRssMB: peakRss, totalS: elapsed},
    first13Days: perFile.map((x) => ({file: x.file, availability: x.up, policies: x.r})),
    wholeFiles: perFileAll.map((x) => ({file: x.file, availability: x.up, policies: x.r})),
    nine,
    nineNoNotice,
    few,
    hetero: heteroRuns.map((h) => ({deadline: h.deadline, policies: h.r})),
  },
  text,
)
console.log(`recorded ${json}`)
