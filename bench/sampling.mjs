// Issue 25 benchmark: what the runner's utilisation sampler costs (docs/utilisation.md),
// through the real runner (src/runner/skyhop-runner.sh) started as the providers start it
// (an attempt directory written by the real writer, the runner in a session of its own), with
// a job that sleeps. Side by side for the same window:
//   - baseline: the runner with sampling off (sampleIntervalSeconds 0): its own loop;
//   - the default interval (10 s) on a machine without accelerator tools: /proc only;
//   - the default interval with fake nvidia-smi and npu-smi on PATH (test/fakes/fake-vendor-tool,
//     a bash script printing recorded real output: a stand-in at least as heavy as a real tool's
//     fork and exec, not the vendor's own tool, which this machine does not have).
// For each: CPU time of the runner and everything it forks (the job's process group excluded),
// per hour of job, as a share of one core (goal: ≤ 0.5% at the default interval, over the
// baseline), and the size of samples.jsonl per attempt-hour.
// Run: node bench/sampling.mjs [seconds=300] [intervalSeconds=10]
import {spawn, spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {ROOT, record, table} from './lib.mjs'

const {register} = await import('tsx/esm/api')
register()
const {runnerScriptPath, writeAttemptDir} = await import('../src/providers/attempt-dir.ts')

const seconds = Number(process.argv[2] ?? 300)
const interval = Number(process.argv[3] ?? 10)
const home = mkdtempSync(join(tmpdir(), 'skyhop-bench-sampling-'))
process.on('exit', () => rmSync(home, {recursive: true, force: true}))

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
async function until(what, probe, timeoutMs = 20_000) {
  const start = Date.now()
  for (;;) {
    if (probe()) return
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(20)
  }
}

const TICK = Number(spawnSync('getconf', ['CLK_TCK'], {encoding: 'utf8'}).stdout.trim()) || 100
/** utime+stime (and reaped children's) of the runner's tree outside the job's group, in ticks. */
function treeTicks(rootPid, jobPgid) {
  const procs = new Map()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    let stat
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8')
    } catch {
      continue
    }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    procs.set(Number(name), {ppid: Number(f[1]), pgrp: Number(f[2]), ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])})
  }
  let total = 0
  const stack = [rootPid]
  while (stack.length > 0) {
    const pid = stack.pop()
    const p = procs.get(pid)
    if (!p || p.pgrp === jobPgid) continue
    total += p.ticks
    for (const [child, c] of procs) if (c.ppid === pid) stack.push(child)
  }
  return total
}

function fakeTools() {
  const bin = join(home, 'tools')
  mkdirSync(bin, {recursive: true})
  for (const tool of ['nvidia-smi', 'npu-smi']) symlinkSync(join(ROOT, 'test', 'fakes', 'fake-vendor-tool'), join(bin, tool))
  return bin
}

function start(label, sampleIntervalSeconds, path) {
  const dir = join(home, label)
  writeAttemptDir(dir, {
    setup: null,
    run: 'touch "$SKYHOP_CHECKPOINT_DIR/ready"; exec sleep 3600',
    env: {SKYHOP_CHECKPOINT_DIR: dir},
    config: {
      graceSeconds: 5,
      signal: 'SIGTERM',
      workdir: join(dir, 'work'),
      noticeSources: [],
      pollIntervalSeconds: 1,
      sampleIntervalSeconds,
    },
  })
  const child = spawn('bash', [runnerScriptPath(), dir], {detached: true, stdio: 'ignore', env: {...process.env, PATH: path}})
  const done = new Promise((resolve) => child.on('exit', resolve))
  return {label, dir, child, done}
}

const tools = fakeTools()
const runs = [
  start('baseline (sampling off)', 0, process.env.PATH),
  start(`every ${interval} s, no accelerator tool`, interval, process.env.PATH),
  start(`every ${interval} s, nvidia-smi + npu-smi`, interval, `${tools}:${process.env.PATH}`),
]
for (const r of runs) {
  await until('the job', () => existsSync(join(r.dir, 'ready')) && existsSync(join(r.dir, 'job.pgid')))
  r.pgid = Number(readFileSync(join(r.dir, 'job.pgid'), 'utf8'))
}
await sleep(1000)
for (const r of runs) r.t0 = treeTicks(r.child.pid, r.pgid)
const processes = readdirSync('/proc').filter((n) => /^\d+$/.test(n)).length
process.stderr.write(`${runs.length} runners side by side for ${seconds} s (${processes} processes on this machine)…\n`)
const t0 = Date.now()
await sleep(seconds * 1000)
const elapsed = (Date.now() - t0) / 1000
const rows = []
for (const r of runs) {
  const cpu = (treeTicks(r.child.pid, r.pgid) - r.t0) / TICK
  const samples = join(r.dir, 'samples.jsonl')
  const bytes = existsSync(samples) ? statSync(samples).size : 0
  const lines = existsSync(samples) ? readFileSync(samples, 'utf8').split('\n').filter(Boolean).length : 0
  rows.push({
    runner: r.label,
    samples: lines,
    cpuSecondsPerHour: +((cpu / elapsed) * 3600).toFixed(2),
    percentOfCore: +((cpu / elapsed) * 100).toFixed(3),
    kbPerAttemptHour: +((bytes / elapsed) * 3.6).toFixed(1),
  })
  process.kill(-r.child.pid, 'SIGTERM')
  await r.done
}
const base = rows[0]
for (const r of rows) {
  r.overBaselinePercent = +(r.percentOfCore - base.percentOfCore).toFixed(3)
  r.ratio = base.cpuSecondsPerHour > 0 ? +(r.cpuSecondsPerHour / base.cpuSecondsPerHour).toFixed(2) : null
  r.goal = r === base ? null : r.overBaselinePercent <= 0.5
}
const text = `The runner with a sleeping job, three side by side for ${elapsed.toFixed(0)} s (${processes} processes on the machine: each sample
reads every /proc/PID/stat). CPU of the runner and all it forks (the job's process group excluded), per hour of job;
baseline: the same runner with sampling off. The vendor tools are test/fakes/fake-vendor-tool (bash printing recorded output).

${table(rows, [
  ['runner', 'runner', 'text'],
  ['samples', 'samples', 0],
  ['CPU s / job-hour', 'cpuSecondsPerHour', 2],
  ['% of one core', 'percentOfCore', 3],
  ['over baseline, % of a core', 'overBaselinePercent', 3],
  ['ratio to baseline', 'ratio', 2],
  ['≤ 0.5% over baseline', 'goal'],
  ['samples KB / attempt-hour', 'kbPerAttemptHour', 1],
])}`
console.log(text)
const files = record('sampling', {seconds: elapsed, intervalSeconds: interval, processes, rows}, text)
console.log(`\nwritten: ${files.join(', ')}`)
