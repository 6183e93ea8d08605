// Issue 17 benchmark: sweeps of trivial jobs (`run: "true"`) on the local provider, through
// `skyhop sweep … --wait --json`.
//  1. Overhead per job at --max-parallel 1, for 10 / 100 / 1,000 jobs: the sweep's wall time
//     minus N direct `bash -c true` spawns (one after another, measured in the same run just
//     before), over N. Goal ≤ 30 ms. The scaling table shows whether it stays flat.
//  2. Throughput at --max-parallel 8 (jobs per second of wall time, the direct spawns 8 at a
//     time beside it): reported, not divided as if the jobs ran one after another.
// Backend poll calls are reported per job and per minute (one call per tick for every job in flight).
// Run after `npm run build`: node bench/sweep.mjs [sizes, default 10,100,1000] [parallel size, default 200]
import {spawn, spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {BIN, record, table} from './lib.mjs'

const GOAL_MS = 30
const sizes = (process.argv[2] ?? '10,100,1000').split(',').map(Number)
const parallelSize = Number(process.argv[3] ?? 200)

/** N `bash -c true`, `parallel` at a time: wall ms. */
function direct(n, parallel) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint()
    let started = 0
    let done = 0
    const next = () => {
      if (started >= n) return
      started++
      spawn('bash', ['-c', 'true'], {stdio: 'ignore'}).on('close', () => {
        done++
        if (done === n) resolve(Number(process.hrtime.bigint() - t0) / 1e6)
        else next()
      })
    }
    for (let i = 0; i < Math.min(parallel, n); i++) next()
  })
}

function sweep(n, parallel) {
  const home = mkdtempSync(join(tmpdir(), 'skyhop-bench-sweep-'))
  writeFileSync(join(home, 'config.yaml'), 'providers:\n  slurm: {enabled: false}\n')
  const job = join(home, 'job.yaml')
  writeFileSync(job, 'name: bench\nrun: "true"\n')
  const out = join(home, 'out.jsonl')
  const values = Array.from({length: n}, (_, i) => i + 1).join(',')
  // GNU time: the skyhop process's CPU time and peak RSS (its detached runners are not its children).
  const script = `/usr/bin/time -f '%U %S %M' -o "${home}/time" "${process.execPath}" "${BIN}" sweep "${job}" --set i=${values} -y --wait --json --max-parallel ${parallel} > "${out}"`
  const t0 = process.hrtime.bigint()
  const r = spawnSync('bash', ['-c', script], {env: {...process.env, SKYHOP_HOME: home, CI: '1'}, encoding: 'utf8', maxBuffer: 1 << 26})
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6
  if (r.status !== 0)
    throw new Error(`sweep of ${n} exited ${r.status}: ${r.stderr.slice(-2000)} ${readFileSync(out, 'utf8').slice(-2000)}`)
  const [user, sys, rssKB] = readFileSync(join(home, 'time'), 'utf8').trim().split('\n').at(-1).split(' ').map(Number)
  const result = JSON.parse(readFileSync(out, 'utf8').trim().split('\n').at(-1)).result
  if (result.sweep.counts.succeeded !== n) throw new Error(`only ${result.sweep.counts.succeeded} of ${n} jobs succeeded`)
  const calls = Object.values(result.stats.pollCalls).reduce((a, b) => a + b, 0)
  return {wallMs, cpuMs: (user + sys) * 1000, rssMB: rssKB / 1024, calls, callsPerMinute: result.stats.pollCallsPerMinute}
}

const serial = []
for (const n of sizes) {
  const base = await direct(n, 1)
  const s = sweep(n, 1)
  serial.push({
    jobs: n,
    directMs: base,
    sweepMs: s.wallMs,
    overheadPerJobMs: (s.wallMs - base) / n,
    cpuPerJobMs: s.cpuMs / n,
    rssMB: s.rssMB,
    pollCalls: s.calls,
    callsPerJob: s.calls / n,
    callsPerMinute: s.callsPerMinute,
  })
  console.log(JSON.stringify(serial.at(-1)))
}
const base8 = await direct(parallelSize, 8)
const s8 = sweep(parallelSize, 8)
const parallel = {
  jobs: parallelSize,
  directMs: base8,
  sweepMs: s8.wallMs,
  directJobsPerS: parallelSize / (base8 / 1000),
  sweepJobsPerS: parallelSize / (s8.wallMs / 1000),
  cpuPerJobMs: s8.cpuMs / parallelSize,
  rssMB: s8.rssMB,
  pollCalls: s8.calls,
  callsPerMinute: s8.callsPerMinute,
}
console.log(JSON.stringify(parallel))

const worst = Math.max(...serial.map((r) => r.overheadPerJobMs))
const md = [
  '### --max-parallel 1: overhead per job',
  '',
  table(serial, [
    ['jobs', 'jobs', 0],
    ['`bash -c true` ×N, one after another (ms)', 'directMs', 0],
    ['skyhop sweep (ms)', 'sweepMs', 0],
    ['overhead per job (ms)', 'overheadPerJobMs', 1],
    ['skyhop CPU per job (ms)', 'cpuPerJobMs', 1],
    ['peak RSS MB', 'rssMB', 1],
    ['poll calls', 'pollCalls', 0],
    ['calls per job', 'callsPerJob', 2],
    ['calls/min', 'callsPerMinute', 0],
  ]),
  '',
  `Overhead per job (sweep wall time, CLI start and planning included, minus the direct spawns, over N): worst **${worst.toFixed(1)} ms** (goal ≤ ${GOAL_MS} ms: ${worst <= GOAL_MS ? 'met' : 'NOT met'}).`,
  '',
  '### --max-parallel 8: throughput',
  '',
  table(
    [parallel],
    [
      ['jobs', 'jobs', 0],
      ['`bash -c true` 8 at a time (ms)', 'directMs', 0],
      ['skyhop sweep (ms)', 'sweepMs', 0],
      ['direct jobs/s', 'directJobsPerS', 0],
      ['skyhop jobs/s', 'sweepJobsPerS', 1],
      ['skyhop CPU per job (ms)', 'cpuPerJobMs', 1],
      ['peak RSS MB', 'rssMB', 1],
      ['poll calls', 'pollCalls', 0],
      ['calls/min', 'callsPerMinute', 0],
    ],
  ),
].join('\n')
console.log(md)
const files = record(
  'sweep',
  {serial, parallel, worstOverheadPerJobMs: +worst.toFixed(1), goalMs: GOAL_MS, met: worst <= GOAL_MS},
  `Sweeps of trivial jobs (\`run: "true"\`) on the local provider through \`skyhop sweep … --wait --json\`; one run per size, each beside its direct baseline measured just before it in the same run.\n\n${md}`,
)
console.log(`recorded: ${files.join(', ')}`)
