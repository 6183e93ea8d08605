// Issue 24's chaos suite at its full sizes, with the figures recorded: 10,000 generated job
// files, 100 + 50 + 20 kill -9 (controller, runner, both) over local, Slurm and the fake EC2,
// 50 concurrent launches with 10 concurrent recovers, 40 jobs through faulty endpoints, a
// secret scan after each. It runs the suite itself (test/chaos, mocha, as CI does at small
// sizes) with SKYHOP_CHAOS_SCALE=full and reads the figures it writes. Baseline, measured in
// the same run: one clean `launch --wait` of the same kind of job on the local provider (no
// kill), so the wall time per killed-and-recovered job reads as a ratio to an untroubled one.
// Run after `npm run build` (and scripts/slurm-up.sh for the Slurm kills):
//   node bench/chaos.mjs            full sizes (about an hour on 2 cores)
//   node bench/chaos.mjs --quick    CI sizes (a few minutes): shows the script works
import {spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {BIN, ROOT, median, record} from './lib.mjs'

const quick = process.argv.includes('--quick')
// SKYHOP_CHAOS_FACTOR scales every size (test/chaos/figures.ts): said in the results and their name.
const factor = Number(process.env.SKYHOP_CHAOS_FACTOR) > 0 ? Number(process.env.SKYHOP_CHAOS_FACTOR) : null
const scaleName = `${quick ? 'CI (--quick)' : 'full'}${factor === null ? '' : ` × ${factor}`}`
const work = mkdtempSync(join(tmpdir(), 'skyhop-bench-chaos-'))

function baseline(runs = 3) {
  const home = join(work, 'baseline')
  writeFileSync(join(work, 'config.yaml'), 'providers:\n  slurm: {enabled: false}\n')
  const file = join(work, 'job.yaml')
  writeFileSync(
    file,
    `name: base\nenvs:\n  MARKS: ${JSON.stringify(join(work, 'marks'))}\nrun: |\n  echo start >> "$MARKS"\n  sleep 2\n  echo end >> "$MARKS"\n`,
  )
  const ms = []
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now()
    const r = spawnSync(process.execPath, [BIN, 'launch', file, '--yes', '--wait', '--json'], {
      env: {...process.env, SKYHOP_HOME: home, SKYHOP_CONFIG: join(work, 'config.yaml')},
      encoding: 'utf8',
    })
    if (r.status !== 0) throw new Error(`baseline launch failed: ${r.stderr}`)
    ms.push(performance.now() - t0)
  }
  return median(ms)
}

try {
  const baseMs = baseline()
  const resultsFile = join(work, 'figures.json')
  const t0 = performance.now()
  const r = spawnSync(
    process.execPath,
    [join(ROOT, 'node_modules', 'mocha', 'bin', 'mocha.js'), 'test/chaos/*.test.ts', '--timeout', '0'],
    {
      cwd: ROOT,
      env: {...process.env, SKYHOP_CHAOS_SCALE: quick ? 'ci' : 'full', SKYHOP_CHAOS_RESULTS: resultsFile},
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  )
  const wallMs = performance.now() - t0
  const out = JSON.parse(readFileSync(resultsFile, 'utf8'))
  const f = out.figures
  const jobs = (f.kills?.total ?? 0) + (f.concurrency?.launches ?? 0) + (f.endpoints?.jobs ?? 0)
  const perJobMs = jobs > 0 ? wallMs / jobs : null
  const rows = [
    [
      'job files',
      `${f.files?.total ?? 0} (${f.files?.viaCli ?? 0} via the CLI)`,
      `${f.files?.uncaught ?? '–'} uncaught, ${f.files?.wrongExit ?? '–'} wrong exits, ${f.files?.unlocated ?? '–'} unlocated; slowest ${f.files?.slowestMs ?? '–'} ms`,
    ],
    [
      'kills',
      `${f.kills?.total ?? 0} (controller ${f.kills?.controller ?? 0}, runner ${f.kills?.runner ?? 0}, both ${f.kills?.both ?? 0}; ${JSON.stringify(f.kills?.byProvider ?? {})})`,
      `${f.kills?.lost ?? '–'} lost, ${f.kills?.reruns ?? '–'} reruns, ${f.kills?.orphans ?? '–'} orphans, ${f.kills?.doubleLive ?? '–'} double live`,
    ],
    [
      'concurrency',
      `${f.concurrency?.launches ?? 0} launches, ${f.concurrency?.recovers ?? 0} recovers`,
      `${f.concurrency?.lost ?? '–'} lost, ${f.concurrency?.duplicates ?? '–'} duplicates`,
    ],
    [
      'endpoints',
      `${f.endpoints?.jobs ?? 0} jobs, ${f.endpoints?.faultsDealt ?? 0} faults dealt`,
      `${f.endpoints?.outOfBound ?? '–'} past bound, ${f.endpoints?.ranTwice ?? '–'} ran twice; worst ${Math.round((f.endpoints?.worstMs ?? 0) / 1000)} s of ${(f.endpoints?.boundMs ?? 0) / 1000} s`,
    ],
    ['secrets', `${f.secrets?.scans ?? 0} scans`, `${f.secrets?.leaks ?? '–'} leaks`],
  ]
  const ratio = perJobMs === null ? null : perJobMs / baseMs
  console.log(`\n${out.line}`)
  console.log(
    `wall ${(wallMs / 1000).toFixed(0)} s; ${jobs} jobs under chaos, ${perJobMs === null ? '–' : (perJobMs / 1000).toFixed(1)} s of suite per job vs ${(baseMs / 1000).toFixed(1)} s for a clean launch --wait (${ratio === null ? '–' : ratio.toFixed(2)}×)`,
  )
  const md = [
    `Scale: ${scaleName}; seed ${out.seed}; mocha exit ${r.status}.`,
    '',
    `\`${out.line}\``,
    '',
    '| scenario | size | figures |',
    '|---|---|---|',
    ...rows.map((row) => `| ${row.join(' | ')} |`),
    '',
    `Wall time ${(wallMs / 1000).toFixed(0)} s: ${jobs} jobs under chaos, ${perJobMs === null ? '–' : (perJobMs / 1000).toFixed(1)} s of suite per job; baseline (same run): a clean \`launch --wait\` of a 2 s job on local, median of 3: ${(baseMs / 1000).toFixed(1)} s (ratio ${ratio === null ? '–' : ratio.toFixed(2)}×).`,
  ].join('\n')
  const paths = record(
    `${quick ? 'chaos-quick' : 'chaos'}${factor === null ? '' : `-x${factor}`}`,
    {
      scale: out.scale,
      factor,
      seed: out.seed,
      figures: f,
      line: out.line,
      wallMs,
      baselineMs: baseMs,
      perJobMs,
      ratio,
      mochaExit: r.status,
    },
    md,
  )
  console.log(`recorded ${paths.join(', ')}`)
  process.exitCode = r.status ?? 1
} finally {
  rmSync(work, {recursive: true, force: true})
}
