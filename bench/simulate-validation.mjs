// Issue 10 validation: the simulator against Can't Be Late (NSDI'24), and skyhop's policy
// against its goals. Writes bench/results/simulate-validation-<date>.md (and .json).
//  1. The paper's single-zone setting: job fraction 0.8 (48 h of work, deadline 60 h),
//     k = 3 (spot 1, on-demand 3 USD/h), d = 0.2 h, no notice, on each file of the 2-week
//     traces (availability/1-node/aws-10-26-2022), 300 random starts each; Greedy, Uniform
//     Progress and the omniscient plan beside the paper's Table 3.
//  2. skyhop: misses; all nine zones of the 2-month traces vs the ceiling 1 − 1/k; every pair
//     and triple of those zones vs min(Greedy, UP); V100 + K80 vs ranking by hourly price.
// Run after `npm run build`: node bench/simulate-validation.mjs [seeds=300]
import {join, resolve} from 'node:path'

import {record} from './lib.mjs'

const root = join(import.meta.dirname, '..')
const dist = (p) => join(root, 'dist', p)
const {loadRegistry} = await import(dist('catalog/accelerators.js'))
const {loadTraceDir} = await import(dist('simulator/traces.js'))
const {simulateMarkets} = await import(dist('simulator/run.js'))
const {findPolicy, UniformProgress} = await import(dist('simulator/policies.js'))
// The other reading of Uniform Progress's rules (spot before the hysteresis), for comparison.
const UP_SPOT_FIRST = {
  name: 'uniform-progress*',
  safe: true,
  omniscient: false,
  summary: '',
  create: (s) => new UniformProgress(s, {spotOverHysteresis: true}),
}

const seeds = Number(process.argv[2] ?? 300)
const traces = resolve(root, '..', 'shared', 'data', 'traces')
const registry = loadRegistry()
const started = performance.now()

const PAPER = {greedy: {spot: 17.2, od: 30.8}, 'uniform-progress': {spot: 22.9, od: 25.1}, omniscient: {spot: 27.4, od: 20.7}}
const policies = (...names) => names.map((n) => (n === UP_SPOT_FIRST.name ? UP_SPOT_FIRST : findPolicy(n)))
const f1 = (x) => x.toFixed(1)
const f3 = (x) => x.toFixed(3)

function market(t, options = {}) {
  return {
    zone: t.zone,
    region: t.region,
    provider: t.provider,
    label: t.label,
    accelerator: t.accelerator,
    count: t.count,
    speed: 1,
    spotUsdPerHour: 1,
    onDemandUsdPerHour: 3,
    data: t.data,
    ...options,
  }
}

function run(markets, gapSeconds, {work = 48, deadline = 60, notice = 0, names, onDemand} = {}) {
  const out = simulateMarkets({
    markets,
    onDemand: onDemand ?? [{label: 'od', accelerator: markets[0].accelerator, count: markets[0].count, speed: 1, usdPerHour: 3}],
    gapSeconds,
    workHours: work,
    deadlineHours: deadline,
    changeoverHours: 0.2,
    noticeSeconds: notice,
    nodes: 1,
    policies: policies(...names),
    seeds,
  })
  return Object.fromEntries(out.policies.map((p) => [p.name, p]))
}

// ---- 1. the paper's setting ------------------------------------------------------------
const twoWeek = loadTraceDir(join(traces, 'availability/1-node/aws-10-26-2022'), registry)
const paperNames = ['greedy', 'uniform-progress', 'uniform-progress*', 'omniscient', 'skyhop']
// The README calls this set a 2-week (13-day) trace; the files hold 27 days. The first 13
// days are what the paper describes; the whole files are shown too.
const FIRST_13_DAYS = (13 * 86400) / 600
function avail(t) {
  let n = 0
  for (const x of t.data) if (x > 0) n++
  return n / t.data.length
}
const replay = (window) =>
  twoWeek.map((t) => {
    const m = market(t, window ? {data: t.data.slice(0, window)} : {})
    return {file: `${t.zone}_${t.label}_${t.count}`, up: avail(m), r: run([m], t.gapSeconds, {names: paperNames})}
  })
const perFile = replay(FIRST_13_DAYS)
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
const twoMonth = loadTraceDir(join(traces, 'availability/1-node/aws-02-15-2023'), registry)
const goalNames = ['greedy', 'uniform-progress', 'omniscient', 'skyhop']
const nine = run(
  twoMonth.map((t) => market(t)),
  195,
  {names: goalNames, notice: 120},
)
const nineNoNotice = run(
  twoMonth.map((t) => market(t)),
  195,
  {names: ['skyhop'], notice: 0},
)

const combos = []
for (let i = 0; i < twoMonth.length; i++) for (let j = i + 1; j < twoMonth.length; j++) combos.push([i, j])
for (let i = 0; i < twoMonth.length; i++)
  for (let j = i + 1; j < twoMonth.length; j++) for (let k = j + 1; k < twoMonth.length; k++) combos.push([i, j, k])
const few = combos.map((c) => {
  const r = run(
    c.map((i) => market(twoMonth[i])),
    195,
    {names: ['greedy', 'uniform-progress', 'skyhop'], notice: 120},
  )
  return {
    zones: c.map((i) => twoMonth[i].zone).join(', '),
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

// Heterogeneous: V100 and K80, one device each, both zones of the 2-week set.
const hetero = twoWeek.filter((t) => t.count === 1)
const speedK80 = 4.37 / 15.7
const heteroMarkets = hetero.map((t) =>
  t.label === 'k80'
    ? market(t, {speed: speedK80, spotUsdPerHour: 0.27, onDemandUsdPerHour: 0.9})
    : market(t, {spotUsdPerHour: 0.918, onDemandUsdPerHour: 3.06}),
)
const heteroOd = [
  {label: 'v100_1', accelerator: 'V100-16GB', count: 1, speed: 1, usdPerHour: 3.06},
  {label: 'k80_1', accelerator: 'K80', count: 1, speed: speedK80, usdPerHour: 0.9},
]
const heteroRuns = [40, 60, 100].map((deadline) => ({
  deadline,
  r: run(heteroMarkets, 600, {
    work: 24,
    deadline,
    notice: 120,
    names: ['greedy', 'uniform-progress', 'omniscient', 'hourly-price', 'skyhop'],
    onDemand: heteroOd,
  }),
}))

const elapsed = (performance.now() - started) / 1000
const md = [
  `Seeds: ${seeds} random start offsets per scenario (the same for every policy). ${elapsed.toFixed(0)} s in all.`,
  '',
  "## 1. Can't Be Late, single zone (Table 3)",
  '',
  "Setting: one job of 48 h of work with a deadline of 60 h (job fraction 0.8), k = 3 (spot 1, on-demand 3 USD/h), changeover d = 0.2 h, no preemption notice (the paper has none), on each of the 8 files of the 2-week traces (`availability/1-node/aws-10-26-2022`: us-west-2a/b × V100/K80 × 1/8 GPUs), each alone. Hours are work done on each market (they sum to 48, as the paper's do); paid hours add the changeovers.",
  '',
  ...paperTable,
  '',
  `How close, on the first 13 days: Greedy ${f1(mean(perFile, 'greedy', 'spotWorkHours'))} h of spot against the paper's 17.2 (${signed(gap('greedy', 'spotWorkHours'))} h), Uniform Progress ${f1(mean(perFile, 'uniform-progress', 'spotWorkHours'))} against 22.9 (${signed(gap('uniform-progress', 'spotWorkHours'))} h), the omniscient plan ${f1(mean(perFile, 'omniscient', 'spotWorkHours'))} against 27.4 (${signed(gap('omniscient', 'spotWorkHours'))} h). The order Greedy < UP < omniscient is reproduced. \`uniform-progress*\` is the other reading of the paper's rules (see below): ${f1(mean(perFile, 'uniform-progress*', 'spotWorkHours'))} h, so the paper's 22.9 lies between the two readings.`,
  '',
  'Why they differ:',
  '- The window. The README calls this set a 2-week (13-day) trace but its files hold 27 days; replaying the whole files moves every policy (column "whole 27-day files"), the first 13 days bring Greedy and the omniscient plan closest. The paper does not say which files, start times or how many starts make Table 3; we average 300 random starts on each of the 8 files, and per file the results spread far more than the difference to the paper (table below).',
  "- Uniform Progress's rules leave one order open: on on-demand with spot available, does the hysteresis (stay until cp(t) ≥ ep(t + 2d)) or taking risks (spot whenever available) win? `uniform-progress` lets the hysteresis win, as the original simulator's `keep_on_demand` option does; `uniform-progress*` takes the spot. The paper's figure falls between them, so its runs may mix settings we cannot see.",
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
  `**Deadlines.** No safe policy missed a deadline here (${[...perFile, ...perFileAll].reduce((s, x) => s + Object.values(x.r).reduce((n, p) => n + p.deadlineMisses, 0), 0)} misses over the 8 single-zone files, ${Object.values(nine).reduce((n, p) => n + p.deadlineMisses, 0)} on nine zones, ${few.reduce((n, x) => n + x.misses, 0)} over the ${few.length} zone pairs and triples, ${heteroRuns.reduce(
    (n, h) =>
      n +
      Object.values(h.r)
        .filter((p) => p.safe)
        .reduce((m, p) => m + p.deadlineMisses, 0),
    0,
  )} heterogeneous); bench/simulate.mjs checks every shared trace and test/unit/simulator/properties.test.ts random ones.`,
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
  `**Heterogeneous accelerators.** V100 and K80 traces of both zones of the 2-week set (4 markets), 24 h of work on V100:1. Speeds: K80 = ${f3(speedK80)} of a V100 — the FP32 datasheet ratio (4.37 TFLOPS per K80 GPU against 15.7), given in the job's throughput table because the registry has no K80 figures; dense FP16 would make K80 far slower still. Prices: AWS p3.2xlarge 3.06 on-demand / 0.918 spot (the spot price in the preemption traces), p2.xlarge 0.90 / 0.27 (assumed 70% off, as V100). Per unit of work V100 spot (0.918) and K80 spot (0.97) are close; by the hour K80 looks 3.4 × cheaper.`,
  '',
  '| deadline | greedy | UP | omniscient | hourly-price | skyhop | skyhop vs hourly-price |',
  '|---:|---:|---:|---:|---:|---:|---:|',
  ...heteroRuns.map(
    (h) =>
      `| ${h.deadline} h | ${f3(h.r.greedy.costRelativeToOnDemand)} | ${f3(h.r['uniform-progress'].costRelativeToOnDemand)} | ${f3(h.r.omniscient.costRelativeToOnDemand)} | ${f3(h.r['hourly-price'].costRelativeToOnDemand)} | ${f3(h.r.skyhop.costRelativeToOnDemand)} | ${f1((1 - h.r.skyhop.costRelativeToOnDemand / h.r['hourly-price'].costRelativeToOnDemand) * 100)}% cheaper |`,
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
    first13Days: perFile.map((x) => ({file: x.file, availability: x.up, policies: x.r})),
    wholeFiles: perFileAll.map((x) => ({file: x.file, availability: x.up, policies: x.r})),
    nine,
    nineNoNotice,
    few,
    hetero: heteroRuns,
  },
  text,
)
console.log(`recorded ${json}`)
