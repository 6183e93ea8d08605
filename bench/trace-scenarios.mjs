// What the simulate benchmarks (bench/simulate.mjs, bench/simulate-controller.mjs,
// bench/simulate-validation.mjs) share: the check that the spot traces are there, job files
// written as a user would write them, one `skyhop simulate --json` run through bin/run.js,
// and the scenarios: every trace file in the shared folder alone (one zone), each set's files
// of one kind together (all its zones), and for sets with both V100 and K80 traces the two
// together (heterogeneous accelerators). The job is the Can't Be Late setting: job fraction
// 0.8, k = 3 (spot 1, on-demand 3 USD/h), 48 h of work in 60 h, shortened to half the trace
// for sets shorter than 120 h. Only the enumeration of the trace files reads them in this
// process (through the built trace reader, so a file's kind is the one the CLI sees); every
// figure comes from the CLI.
import {existsSync, mkdirSync, symlinkSync, writeFileSync} from 'node:fs'
import {basename, dirname, join, relative} from 'node:path'

import {BIN, ROOT, runOnce} from './lib.mjs'

export const TRACES_DEFAULT = join(ROOT, '..', 'shared', 'data', 'traces')

/**
 * Exits 0 with a message (a benchmark without its data is skipped, not failed) when any of
 * `sets` is missing under `tracesRoot`; exits 2 when dist/ is not built.
 */
export function requireTraces(script, tracesRoot, sets) {
  const missing = sets.filter((s) => !existsSync(join(tracesRoot, s)))
  if (missing.length > 0) {
    console.error(
      `bench/${script}: skipped: the spot traces are missing (no ${missing.map((s) => join(tracesRoot, s)).join(', ')}).\n` +
        "Give the folder of the Can't Be Late traces (github.com/skypilot-org/spot-traces) as an argument, e.g.\n" +
        `  node bench/${script} … /path/to/spot-traces`,
    )
    process.exit(0)
  }
  if (!existsSync(join(ROOT, 'dist', 'simulator', 'replay-worker.js'))) {
    console.error(`bench/${script}: dist/ is missing or stale; run \`npm run build\` first`)
    process.exit(2)
  }
}

/**
 * Writes a job file and returns its path: `accelerators` like ['V100:1'] (none: a 1-CPU job),
 * `reference` the work's reference, `throughput` like {V100: 1}.
 */
export function writeJob(dir, {name = 'bench', accelerators = null, reference, throughput, workHours, deadlineHours}) {
  const file = join(dir, `job-${name.replace(/[^a-z0-9]/gi, '')}-${workHours}-${deadlineHours}.yaml`)
  const lines = [`name: ${name.replace(/[^a-z0-9._-]/gi, '-')}`]
  if (accelerators) lines.push('resources:', `  accelerators: [${accelerators.join(', ')}]`)
  else lines.push('resources:', '  cpus: 1')
  lines.push('work:')
  if (accelerators && reference) lines.push(`  reference: ${reference}`)
  lines.push(`  hours: ${workHours}`)
  if (throughput)
    lines.push(
      `throughput: {${Object.entries(throughput)
        .map(([k, v]) => `${k}: ${v}`)
        .join(', ')}}`,
    )
  lines.push(`deadline: ${deadlineHours}h`, 'run: x', '')
  writeFileSync(file, lines.join('\n'))
  return file
}

/**
 * One `skyhop simulate ARGS --json` through bin/run.js: {ms, rssMB, result}. Throws with the
 * command's output when it fails.
 */
export function simulateCli(args, env) {
  const r = runOnce(process.execPath, [BIN, 'simulate', ...args, '--json'], {env})
  if (r.status !== 0)
    throw new Error(
      `skyhop simulate ${args.join(' ')} exited ${r.status}: ${String(r.stderr).slice(0, 2000)}${String(r.stdout).slice(0, 2000)}`,
    )
  return {ms: r.ms, rssMB: r.rssMB, result: JSON.parse(r.stdout).result}
}

/** The traces under `dir` as the CLI reads them: [{file, zone, label, count, accelerator, gapSeconds, data}]. */
export async function readTraces(dir) {
  const {loadRegistry} = await import(join(ROOT, 'dist', 'catalog', 'accelerators.js'))
  const {loadTraceDir} = await import(join(ROOT, 'dist', 'simulator', 'traces.js'))
  return loadTraceDir(dir, loadRegistry())
}

/** A folder of links to exactly this scenario's trace files, for `--traces`. */
export function scenarioDir(tmp, i, scenario) {
  const dir = join(tmp, `scenario-${i}`)
  mkdirSync(dir)
  for (const t of scenario.traces) symlinkSync(t.file, join(dir, basename(t.file)))
  return dir
}

const PRICE_FLAGS = ['--spot-price', '1', '--on-demand-price', '3']

/** Every scenario under `tracesDir`: [{set, name, zones, jobFile, priceFlags, traces, hetero?}]. */
export async function traceScenarios({tracesDir, tmp}) {
  const all = await readTraces(tracesDir)
  const sets = new Map()
  for (const t of all) {
    const set = relative(tracesDir, dirname(t.file))
    if (!sets.has(set)) sets.set(set, [])
    sets.get(set).push(t)
  }

  const scenarios = []
  for (const [set, traces] of [...sets].sort()) {
    const hours = Math.min(...traces.map((t) => (t.data.length * t.gapSeconds) / 3600))
    const deadline = Math.min(60, Math.floor(hours / 2))
    const work = Math.round(deadline * 0.8 * 100) / 100
    const kinds = new Map()
    for (const t of traces) {
      const key = `${t.label}_${t.count}`
      if (!kinds.has(key)) kinds.set(key, [])
      kinds.get(key).push(t)
    }
    for (const [key, group] of kinds) {
      const t0 = group[0]
      const acc = t0.accelerator ? `${t0.accelerator}:${t0.count}` : null
      const jobFile = writeJob(tmp, {
        name: key,
        accelerators: acc ? [acc] : null,
        reference: acc,
        throughput: t0.accelerator ? {[t0.accelerator]: 1} : undefined,
        workHours: work,
        deadlineHours: deadline,
      })
      for (const t of group)
        scenarios.push({set, name: `${basename(t.file, '.json')}`, zones: 1, jobFile, priceFlags: PRICE_FLAGS, traces: [t]})
      if (group.length > 1)
        scenarios.push({set, name: `${key} × ${group.length} zones`, zones: group.length, jobFile, priceFlags: PRICE_FLAGS, traces: group})
    }
    // Heterogeneous: V100 and K80 (one device each) together; speeds from the FP32 datasheet
    // ratio (the registry has no K80 figures), prices from AWS p3.2xlarge / p2.xlarge.
    const v100 = traces.filter((t) => t.label === 'v100' && t.count === 1)
    const k80 = traces.filter((t) => t.label === 'k80' && t.count === 1)
    if (v100.length > 0 && k80.length > 0) {
      scenarios.push({
        set,
        name: 'V100 + K80, 24 V100-hours in 40 h',
        zones: v100.length + k80.length,
        jobFile: writeJob(tmp, {
          name: 'hetero',
          accelerators: ['V100:1', 'K80:1'],
          reference: 'V100:1',
          throughput: {V100: 15.7, K80: 4.37},
          workHours: 24,
          deadlineHours: 40,
        }),
        priceFlags: HETERO_PRICE_FLAGS,
        traces: [...v100, ...k80],
        hetero: true,
      })
    }
  }
  return {all, sets, scenarios}
}

/** AWS p3.2xlarge (V100) and p2.xlarge (K80): on-demand list prices, spot 70% off (V100's in the preemption traces). */
export const HETERO_PRICE_FLAGS = [
  '--spot-price',
  'V100=0.918',
  '--spot-price',
  'K80=0.27',
  '--on-demand-price',
  'V100=3.06',
  '--on-demand-price',
  'K80=0.9',
]
