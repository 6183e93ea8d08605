// Issue 3 and 17 benchmark: `skyhop offers` through the real CLI, on the bundled catalog and
// on refreshed provider files of 10k / 100k / 1M offers, beside bare `node -e 0` measured in
// the same run. Cases: a filtered query as a user types it (`--accelerator A100:8 --json`,
// the 100 cheapest), the same as a table, and `--all --json` over the whole catalog piped to a
// consumer (the bundled catalog only: over 1M offers that is a 400 MB dump, not a query).
// Goals (2-core machine): the bundled query ≤ 300 ms; `--all --json` ≤ 3× node; a query at
// 1M offers ≤ 1 s and ≤ 300 MB peak RSS.
// Run after `npm run build`: node bench/offers.mjs [runs=10] [sizes=10000,100000,1000000]
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {scaleHome} from './catalog-gen.mjs'
import {BIN, fmt, measureProcess, median, nodeBaseline, percentile, record, table} from './lib.mjs'

const runs = Number(process.argv[2] ?? 10)
const sizes = (process.argv[3] ?? '10000,100000,1000000').split(',').map(Number)

const bundledHome = mkdtempSync(join(tmpdir(), 'skyhop-bench-offers-'))
writeFileSync(join(bundledHome, 'config.yaml'), 'providers:\n  slurm: {enabled: false}\n')

const base = nodeBaseline(10)
console.log(`node -e 0: ${fmt(base.ms)} ms, ${fmt(base.rssMB)} MB`)
const rows = []

function measure(label, catalog, args, home, goal) {
  const {times, rss} = measureProcess(process.execPath, [BIN, ...args], {runs, env: {...process.env, SKYHOP_HOME: home}})
  const ms = median(times)
  const mb = median(rss)
  const met =
    goal === undefined
      ? null
      : (goal.ms === undefined || ms <= goal.ms) &&
        (goal.ratio === undefined || ms / base.ms <= goal.ratio) &&
        (goal.mb === undefined || mb <= goal.mb)
  const row = {
    case: label,
    catalog,
    medianMs: +ms.toFixed(1),
    p90Ms: +percentile(times, 90).toFixed(1),
    ratio: +(ms / base.ms).toFixed(2),
    peakRssMB: +mb.toFixed(1),
    goal:
      goal === undefined
        ? ''
        : [goal.ms && `≤ ${goal.ms} ms`, goal.ratio && `≤ ${goal.ratio}× node`, goal.mb && `≤ ${goal.mb} MB`].filter(Boolean).join(', '),
    met,
  }
  rows.push(row)
  console.log(`${label} (${catalog}): ${row.medianMs} ms (${row.ratio}×), ${row.peakRssMB} MB`)
}

measure('offers --accelerator A100:8 --json', 'bundled', ['offers', '--accelerator', 'A100:8', '--json'], bundledHome, {ms: 300})
measure('offers --all --json, piped', 'bundled', ['offers', '--all', '--json'], bundledHome, {ratio: 3})
for (const n of sizes) {
  const {home} = scaleHome(n)
  const label = `refreshed, ${n.toLocaleString('en-US')} offers`
  const goal = n >= 1_000_000 ? {ms: 1000, mb: 300} : undefined
  measure('offers --accelerator A100:8 --json', label, ['offers', '--accelerator', 'A100:8', '--json'], home, goal)
  measure('offers --accelerator H100 (table, 100 cheapest)', label, ['offers', '--accelerator', 'H100'], home, goal)
}

const md = [
  `Bare \`node -e 0\`: ${fmt(base.ms)} ms, ${fmt(base.rssMB)} MB peak RSS (median of 10, same run). Each row: median of ${runs} runs after a warm-up, stdout piped; peak RSS from GNU time.`,
  'Refreshed catalogs: seeded offers over every registry accelerator and CPU-only, 6 providers × 40 regions × 3 zones, written as `catalog refresh` writes them (bench/catalog-gen.mjs).',
  '',
  table(rows, [
    ['case', 'case'],
    ['catalog', 'catalog'],
    ['median ms', 'medianMs', 1],
    ['p90 ms', 'p90Ms', 1],
    ['× node -e 0', 'ratio', 2],
    ['peak RSS MB', 'peakRssMB', 1],
    ['goal', 'goal'],
    ['met', 'met'],
  ]),
].join('\n')
console.log(md)
const files = record('offers', {runs, baseline: base, rows}, md)
console.log(`recorded: ${files.join(', ')}`)
