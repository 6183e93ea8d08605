// Issue 9 benchmark: sweeps of trivial jobs (`true`) on the local provider.
//  1. skyhop's own overhead per job: the sweep's wall time against the same jobs started
//     directly (bash -c true, the same number at once) in the same run, divided by the
//     number of jobs; and the CPU time of the skyhop process per job. Goal: under 50 ms.
//  2. backend polling calls per minute, for 100 and for 500 jobs. Goal: independent of
//     the number of jobs (one call per provider per poller tick, whatever is in flight).
// Run after `npm run build`: node bench/sweep.mjs [sizes, default 100,500] [max-parallel, default 8]
import {spawn, spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {median, percentile, record} from './lib.mjs'

const require = createRequire(import.meta.url)
const Database = require('better-sqlite3')
const root = join(import.meta.dirname, '..')
const bin = join(root, 'bin', 'run.js')
const sizes = (process.argv[2] ?? '100,500').split(',').map(Number)
const parallel = Number(process.argv[3] ?? 8)

/** The same jobs without skyhop: `bash -c true`, `parallel` at a time. */
function baseline(n) {
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

/** Per-job phases from the sweep's store, in ms. */
function phases(home) {
  const db = new Database(join(home, 'state.db'), {readonly: true})
  const rows = db.prepare('SELECT intent_at, launched_at, started_at, ended_at, released_at FROM attempts').all()
  db.close()
  const ms = (a, b) => Date.parse(b) - Date.parse(a)
  const col = (f) => rows.map(f).filter((x) => Number.isFinite(x))
  return {
    launchMs: median(col((r) => ms(r.intent_at, r.launched_at))),
    bootMs: median(col((r) => ms(r.launched_at, r.started_at))),
    runMs: median(col((r) => ms(r.started_at, r.ended_at))),
    detectAndReleaseMs: median(col((r) => ms(r.ended_at, r.released_at))),
    detectAndReleaseP90Ms: percentile(
      col((r) => ms(r.ended_at, r.released_at)),
      90,
    ),
  }
}

function sweep(n) {
  const home = mkdtempSync(join(tmpdir(), 'skyhop-bench-sweep-'))
  writeFileSync(join(home, 'config.yaml'), 'providers:\n  slurm: {enabled: false}\n')
  const job = join(home, 'job.yaml')
  writeFileSync(job, 'name: bench\nrun: "true"\n')
  const out = join(home, 'out.jsonl')
  const values = Array.from({length: n}, (_, i) => i + 1).join(',')
  // bash's `time` gives the CPU time of the skyhop process (its detached runners are not its children).
  const script = `TIMEFORMAT='%U %S'; time "${process.execPath}" "${bin}" sweep "${job}" --set i=${values} -y --wait --json --max-parallel ${parallel} > "${out}"`
  const t0 = process.hrtime.bigint()
  const r = spawnSync('bash', ['-c', script], {env: {...process.env, SKYHOP_HOME: home, CI: '1'}, encoding: 'utf8', maxBuffer: 1 << 26})
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6
  if (r.status !== 0) throw new Error(`sweep of ${n} exited ${r.status}: ${r.stderr.slice(-2000)}`)
  const [user, sys] = r.stderr.trim().split('\n').at(-1).split(' ').map(Number)
  const lines = readFileSync(out, 'utf8').trim().split('\n')
  const result = JSON.parse(lines.at(-1)).result
  if (result.sweep.counts.succeeded !== n) throw new Error(`only ${result.sweep.counts.succeeded} of ${n} jobs succeeded`)
  return {n, wallMs, cpuMs: (user + sys) * 1000, stats: result.stats, events: lines.length - 1, phases: phases(home)}
}

const rows = []
for (const n of sizes) {
  const base = await baseline(n)
  const s = sweep(n)
  const calls = Object.values(s.stats.pollCalls).reduce((a, b) => a + b, 0)
  rows.push({
    jobs: n,
    parallel,
    baselineWallMs: +base.toFixed(0),
    sweepWallMs: +s.wallMs.toFixed(0),
    overheadPerJobMs: +((s.wallMs - base) / n).toFixed(1),
    cpuPerJobMs: +(s.cpuMs / n).toFixed(1),
    pollCalls: calls,
    pollCallsPerMinute: s.stats.pollCallsPerMinute,
    pollCallsPerJob: +(calls / n).toFixed(2),
    events: s.events,
    ...Object.fromEntries(Object.entries(s.phases).map(([k, v]) => [k, +v.toFixed(1)])),
  })
  console.log(JSON.stringify(rows.at(-1)))
}

const worst = Math.max(...rows.map((r) => r.overheadPerJobMs))
const worstCpu = Math.max(...rows.map((r) => r.cpuPerJobMs))
const perMinute = rows.map((r) => r.pollCallsPerMinute)
const ratio = Math.max(...perMinute) / Math.min(...perMinute)
const sizeRatio = Math.max(...sizes) / Math.min(...sizes)
const table = [
  '| jobs | at once | `bash -c true` ×N (ms) | skyhop sweep (ms) | overhead per job (ms) | skyhop CPU per job (ms) | poll calls | calls/min | calls per job | launch (ms) | runner start (ms) | end → released (ms, p50/p90) |',
  '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.jobs} | ${r.parallel} | ${r.baselineWallMs} | ${r.sweepWallMs} | ${r.overheadPerJobMs} | ${r.cpuPerJobMs} | ${r.pollCalls} | ${r.pollCallsPerMinute} | ${r.pollCallsPerJob} | ${r.launchMs} | ${r.bootMs} | ${r.detectAndReleaseMs} / ${r.detectAndReleaseP90Ms} |`,
  ),
  '',
  `Overhead per job (sweep wall time minus the same jobs run directly, over the number of jobs; CLI start and planning included): worst **${worst} ms** (goal < 50 ms: ${worst < 50 ? 'met' : 'NOT met'}). skyhop's own CPU per job, worst: ${worstCpu} ms.`,
  `Backend poll calls per minute: ${perMinute.join(' vs ')} for ${sizes.join(' vs ')} jobs — ratio ${ratio.toFixed(2)} for ${sizeRatio}× the jobs (goal: independent of the number of jobs: ${ratio < 1.5 ? 'met' : 'NOT met'}). Calls grow with the sweep's duration, not with its jobs: each call polls every job in flight (up to ${parallel} here), where a poll per job would make up to ${parallel}× as many.`,
].join('\n')
console.log(table)
const files = record(
  'sweep',
  {
    parallel,
    rows,
    worstOverheadPerJobMs: worst,
    worstCpuPerJobMs: worstCpu,
    pollCallsPerMinuteRatio: +ratio.toFixed(2),
    goals: {overheadPerJobMs: 50, pollCallsIndependentOfJobs: true},
  },
  `Sweeps of trivial jobs (\`run: "true"\`) on the local provider, \`--max-parallel ${parallel}\`, \`--wait --json\`; the local poller ticks every 100 ms. One run per size; the baseline is measured in the same run just before each sweep.\n\n${table}\n\nPhases are medians from the sweep's state store: launch = intent recorded → the provider returned a handle (mostly the fork of the runner); runner start = launched → the job started; end → released = the job's end → the controller saw it, cleaned up and recorded the release (at most one poller tick plus the cleanup).`,
)
console.log(`recorded: ${files.join(', ')}`)
