// Issue 17 benchmark: `skyhop plan` at catalog scale, through the real CLI as a user runs
// it, beside bare `node -e 0` measured in the same run.
//   - refreshed provider files (as `catalog refresh` leaves them) of 10k / 100k / 1M offers;
//   - a user catalog file (`--catalog user.json`) of the same offers: the first run reads and
//     checks it and keeps an index in the skyhop home, later runs plan from the index.
// Goals (2-core machine): ≤ 1 s and ≤ 300 MB peak RSS at 1M offers, for the user catalog
// from the second run; time growing at most linearly with the offers.
// Jobs: examples/train-gpu.yaml (H100/A100/Ascend ×8: three accelerator groups of ~60) and a
// broad job (any NVIDIA or Huawei accelerator with 40 GB+, 1–8 of them: about a third of the
// catalog), both with --all-providers so every offer is a candidate. Slurm is disabled in the
// bench homes: the Slurm query on plan is bench/cli-startup.mjs's row.
// Run after `npm run build`: node bench/plan.mjs [runs=5] [sizes=10000,100000,1000000]
import {rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {scaleHome} from './catalog-gen.mjs'
import {BIN, ROOT, fmt, measureProcess, median, nodeBaseline, record, runOnce, table} from './lib.mjs'

const runs = Number(process.argv[2] ?? 5)
const sizes = (process.argv[3] ?? '10000,100000,1000000').split(',').map(Number)
const GOAL_MS = 1000
const GOAL_MB = 300

const train = join(ROOT, 'examples', 'train-gpu.yaml')
const broad = join(ROOT, 'bench', 'tmp', 'broad-job.yaml')
writeFileSync(
  broad,
  'name: broad\nresources:\n  accelerators: {vendor: [nvidia, huawei], memory: 40GB+, count: 1..8}\nspot: auto\nwork:\n  reference: A100-80GB:8\n  hours: 12\nrun: python train.py\n',
)

const base = nodeBaseline(10)
console.log(`node -e 0: ${fmt(base.ms)} ms, ${fmt(base.rssMB)} MB`)
const rows = []
const generation = []

function measure(label, n, args, home, {goal = false} = {}) {
  const {times, rss} = measureProcess(process.execPath, [BIN, ...args], {runs, env: {...process.env, SKYHOP_HOME: home}})
  const ms = median(times)
  const mb = median(rss)
  const row = {
    case: label,
    offers: n,
    medianMs: +ms.toFixed(1),
    minMs: +Math.min(...times).toFixed(1),
    maxMs: +Math.max(...times).toFixed(1),
    ratio: +(ms / base.ms).toFixed(2),
    peakRssMB: +mb.toFixed(1),
    goal: goal ? `≤ ${GOAL_MS} ms, ≤ ${GOAL_MB} MB` : '',
    met: goal ? ms <= GOAL_MS && mb <= GOAL_MB : null,
  }
  rows.push(row)
  console.log(`${label} @ ${n}: ${row.medianMs} ms (${row.ratio}×), ${row.peakRssMB} MB`)
  return row
}

for (const n of sizes) {
  const {home, userFile, generatedMs} = scaleHome(n)
  generation.push({offers: n, generatedMs: Math.round(generatedMs)})
  const atGoal = n >= 1_000_000
  measure('plan train-gpu.yaml, refreshed files', n, ['plan', train, '--all-providers'], home, {goal: atGoal})
  measure('plan broad job, refreshed files', n, ['plan', broad, '--all-providers'], home)
  // The user catalog: the first run reads, checks and indexes the file; then the index serves.
  rmSync(join(home, 'cache'), {recursive: true, force: true})
  const first = runOnce(process.execPath, [BIN, 'plan', train, '--all-providers', '--catalog', userFile], {
    env: {...process.env, SKYHOP_HOME: home},
  })
  if (first.status !== 0) throw new Error(`first --catalog run exited ${first.status}: ${String(first.stderr).slice(0, 2000)}`)
  rows.push({
    case: 'plan train-gpu.yaml --catalog user.json, first run (reads, checks, indexes)',
    offers: n,
    medianMs: +first.ms.toFixed(1),
    minMs: null,
    maxMs: null,
    ratio: +(first.ms / base.ms).toFixed(2),
    peakRssMB: +first.rssMB.toFixed(1),
    goal: '',
    met: null,
  })
  measure('plan train-gpu.yaml --catalog user.json, later runs', n, ['plan', train, '--all-providers', '--catalog', userFile], home, {
    goal: atGoal,
  })
}

// Growth: each size's time above bare node start, per 1k offers, and against the size before.
const scaling = []
for (const label of [...new Set(rows.map((r) => r.case))]) {
  const series = rows.filter((r) => r.case === label)
  series.forEach((r, i) => {
    const above = r.medianMs - base.ms
    const prev = i > 0 ? series[i - 1] : null
    scaling.push({
      case: label,
      offers: r.offers,
      aboveNodeMs: +above.toFixed(1),
      usPerOffer: +((above * 1000) / r.offers).toFixed(3),
      growth: prev ? `${(above / (prev.medianMs - base.ms)).toFixed(2)}× for ${(r.offers / prev.offers).toFixed(0)}× offers` : '',
      peakRssMB: r.peakRssMB,
    })
  })
}

const main = table(rows, [
  ['case', 'case'],
  ['offers', 'offers', 0],
  ['median ms', 'medianMs', 1],
  ['min ms', 'minMs', 1],
  ['max ms', 'maxMs', 1],
  ['× node -e 0', 'ratio', 2],
  ['peak RSS MB', 'peakRssMB', 1],
  ['goal', 'goal'],
  ['met', 'met'],
])
const growth = table(scaling, [
  ['case', 'case'],
  ['offers', 'offers', 0],
  ['ms above node start', 'aboveNodeMs', 1],
  ['µs per offer', 'usPerOffer', 3],
  ['growth', 'growth'],
  ['peak RSS MB', 'peakRssMB', 1],
])
const md = [
  `Bare \`node -e 0\`: ${fmt(base.ms)} ms, ${fmt(base.rssMB)} MB peak RSS (median of 10, same run). Each CLI row: median of ${runs} runs after a warm-up; peak RSS from GNU time.`,
  `Catalogs: ${generation.map((g) => `${g.offers.toLocaleString('en-US')} offers${g.generatedMs ? ` generated in ${g.generatedMs} ms` : ' (reused from bench/tmp)'}`).join('; ')} — seeded, every registry accelerator and CPU-only, 6 providers × 40 regions × 3 zones.`,
  '',
  main,
  '',
  'Growth with the catalog (time above bare node start):',
  '',
  growth,
].join('\n')
console.log(md)
const files = record('plan', {runs, baseline: base, rows, scaling, generation}, md)
console.log(`recorded: ${files.join(', ')}`)
