// Issue 17 benchmark: a cloud's interruption notice → SIGTERM at the job, through the real
// runner (src/runner/skyhop-runner.sh) started as the providers start it (an attempt
// directory written by the real writer, the runner in a session of its own), against a
// fake metadata endpoint per cloud (test/fakes/fake-metadata-server.ts, each cloud's wire
// format, GCP's hanging GET included). For each cloud:
//   - latency: the endpoint flips to "terminate" at a random moment within the poll cycle;
//     from the flip to the job's SIGTERM trap (EPOCHREALTIME, CLOCK_REALTIME as Date.now());
//   - baseline, same run: a shell that curls the same endpoint (already flipped, with the
//     cloud's headers and a token already in hand) and then `kill -TERM`s a sleeping job
//     with the same trap: the time to see the notice and signal, with nothing in between;
//   - idle cost: CPU time of the runner and its pollers (and anything they fork; the job's
//     process group excluded) over a window of idle polling, from /proc/<pid>/stat, beside
//     a runner with no notice source (the runner's own loop).
// Run: node bench/notice.mjs [trials=20] [idleSeconds=60]
import {spawn, spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readdirSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {fmt, median, percentile, record, table} from './lib.mjs'

const {register} = await import('tsx/esm/api')
register()
const {runnerScriptPath, writeAttemptDir} = await import('../src/providers/attempt-dir.ts')
const {startFakeMetadataServer} = await import('../test/fakes/fake-metadata-server.ts')

const trials = Number(process.argv[2] ?? 20)
const idleSeconds = Number(process.argv[3] ?? 60)
const POLL_SECONDS = 1 // the providers' default
const CLOUDS = ['aws', 'gcp', 'azure', 'aliyun', 'tencentcloud']
const home = mkdtempSync(join(tmpdir(), 'skyhop-bench-notice-'))
process.on('exit', () => rmSync(home, {recursive: true, force: true}))

// The trap runs as soon as `wait` is interrupted.
const JOB = `trap 'printf %s "\${EPOCHREALTIME/./}" > "$SKYHOP_CHECKPOINT_DIR/term_at"; kill $! 2>/dev/null; exit 0' TERM
touch "$SKYHOP_CHECKPOINT_DIR/ready"
sleep 3600 & wait $!`

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
async function until(what, probe, timeoutMs = 20_000) {
  const start = Date.now()
  for (;;) {
    const value = probe()
    if (value) return value
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(2)
  }
}
const termAt = (dir) => Number(readFileSync(join(dir, 'term_at'), 'utf8').trim()) / 1000

let seq = 0
function attempt(sources) {
  const root = join(home, String(++seq))
  const dir = join(root, 'attempt')
  const ckpt = join(root, 'ckpt')
  writeAttemptDir(dir, {
    setup: null,
    run: JOB,
    env: {SKYHOP_CHECKPOINT_DIR: ckpt, SKYHOP_PREEMPT_NOTICE: join(root, 'notice')},
    config: {graceSeconds: 30, signal: 'SIGTERM', workdir: join(root, 'work'), noticeSources: sources, pollIntervalSeconds: POLL_SECONDS},
  })
  spawnSync('mkdir', ['-p', ckpt])
  // As a provider starts it: a session of its own.
  const child = spawn('bash', [runnerScriptPath(), dir], {detached: true, stdio: 'ignore'})
  const done = new Promise((resolve) => child.on('exit', (code) => resolve(code)))
  return {dir, ckpt, child, done}
}

/** Polling has begun: two GETs answered, or GCP's hanging GET waiting. */
const armed = (server) => (server.cloud === 'gcp' ? server.hangingGets > 0 : server.requests.filter((r) => r.method === 'GET').length >= 2)

async function trial(cloud) {
  const server = await startFakeMetadataServer(cloud)
  try {
    const run = attempt([`${cloud}=${server.url}`])
    await until('the job', () => existsSync(join(run.ckpt, 'ready')))
    await until('polling', () => armed(server))
    // A random moment within the poll cycle.
    await sleep(Math.random() * POLL_SECONDS * 1000)
    const flipAt = server.interrupt(new Date(Date.now() + 120_000))
    await until('SIGTERM at the job', () => existsSync(join(run.ckpt, 'term_at')))
    const code = await run.done
    if (code !== 0) throw new Error(`${cloud}: the runner exited ${code}`)
    return termAt(run.ckpt) - flipAt
  } finally {
    await server.close()
  }
}

// The direct path: curl the flipped endpoint, then kill -TERM the sleeping job.
const NOTICE_PATH = {
  aws: '/latest/meta-data/spot/instance-action',
  gcp: '/computeMetadata/v1/instance/preempted',
  azure: '/metadata/scheduledevents?api-version=2020-07-01',
  aliyun: '/latest/meta-data/instance/spot/termination-time',
  tencentcloud: '/latest/meta-data/spot/termination-time',
}
async function headersFor(cloud, server) {
  const token = async (ttlHeader) =>
    (await fetch(`${server.url}/latest/api/token`, {method: 'PUT', headers: {[ttlHeader]: '21600'}})).text()
  if (cloud === 'aws') return ['-H', `X-aws-ec2-metadata-token: ${await token('X-aws-ec2-metadata-token-ttl-seconds')}`]
  if (cloud === 'aliyun') return ['-H', `X-aliyun-ecs-metadata-token: ${await token('X-aliyun-ecs-metadata-token-ttl-seconds')}`]
  if (cloud === 'gcp') return ['-H', 'Metadata-Flavor: Google']
  if (cloud === 'azure') return ['-H', 'Metadata: true']
  return []
}
async function baseline(cloud, runs) {
  const server = await startFakeMetadataServer(cloud)
  const out = []
  try {
    server.interrupt(new Date(Date.now() + 120_000))
    const headers = await headersFor(cloud, server)
    for (let i = 0; i < runs; i++) {
      const ckpt = join(home, `base-${cloud}-${i}`)
      const job = spawn('bash', ['-c', `mkdir -p "$SKYHOP_CHECKPOINT_DIR"; ${JOB}`], {
        detached: true,
        stdio: 'ignore',
        env: {...process.env, SKYHOP_CHECKPOINT_DIR: ckpt},
      })
      await until('the job', () => existsSync(join(ckpt, 'ready')))
      const shell = spawn(
        'bash',
        [
          '-c',
          'pid=$1; shift; t0=${EPOCHREALTIME/./}; curl -sf --noproxy "*" "$@" >/dev/null && kill -TERM "$pid"; echo "$t0"',
          'bash',
          String(job.pid),
          ...headers,
          '--',
          `${server.url}${NOTICE_PATH[cloud]}`,
        ],
        {stdio: ['ignore', 'pipe', 'inherit']},
      )
      let t0 = ''
      shell.stdout.on('data', (d) => (t0 += d))
      await new Promise((resolve) => shell.on('exit', resolve))
      await until('SIGTERM at the job', () => existsSync(join(ckpt, 'term_at')))
      out.push(termAt(ckpt) - Number(t0.trim()) / 1000)
    }
  } finally {
    await server.close()
  }
  return out
}

// CPU time (utime+stime, and that of reaped children) of the runner and its descendants
// outside the job's process group, in clock ticks.
const TICK = Number(spawnSync('getconf', ['CLK_TCK'], {encoding: 'utf8'}).stdout.trim()) || 100
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
    // after "pid (comm) ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime
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

async function idleCost() {
  const runs = []
  for (const cloud of [null, ...CLOUDS]) {
    const server = cloud ? await startFakeMetadataServer(cloud) : null
    const run = attempt(cloud ? [`${cloud}=${server.url}`] : [])
    runs.push({cloud: cloud ?? 'none', server, run})
  }
  for (const r of runs) {
    await until('the job', () => existsSync(join(r.run.ckpt, 'ready')))
    r.pgid = Number(readFileSync(join(r.run.dir, 'job.pgid'), 'utf8'))
  }
  // Past start-up (token, first requests): the steady state.
  await sleep(2000)
  for (const r of runs) {
    r.t0 = treeTicks(r.run.child.pid, r.pgid)
    r.req0 = r.server?.requests.length ?? 0
  }
  const start = Date.now()
  await sleep(idleSeconds * 1000)
  const seconds = (Date.now() - start) / 1000
  const rows = []
  for (const r of runs) {
    const cpuSeconds = (treeTicks(r.run.child.pid, r.pgid) - r.t0) / TICK
    const requests = (r.server?.requests.length ?? 0) - r.req0
    rows.push({
      cloud: r.cloud,
      seconds: +seconds.toFixed(1),
      cpuSecondsPerMinute: +((cpuSeconds / seconds) * 60).toFixed(3),
      percentOfCore: +((cpuSeconds / seconds) * 100).toFixed(2),
      requestsPerMinute: +((requests / seconds) * 60).toFixed(1),
    })
    process.kill(-r.run.child.pid, 'SIGTERM')
    await r.run.done
    await r.server?.close()
  }
  return rows
}

process.stderr.write(`idle polling, ${idleSeconds} s, every cloud at once…\n`)
const idle = await idleCost()

process.stderr.write(`${trials} notices per cloud (the clouds side by side)…\n`)
const latencies = Object.fromEntries(
  await Promise.all(
    CLOUDS.map(async (cloud) => {
      const xs = []
      for (let i = 0; i < trials; i++) xs.push(await trial(cloud))
      process.stderr.write(`${cloud}: ${xs.map((x) => x.toFixed(0)).join(' ')}\n`)
      return [cloud, xs]
    }),
  ),
)
process.stderr.write('baseline: curl + kill -TERM…\n')
const base = {}
for (const cloud of CLOUDS) base[cloud] = await baseline(cloud, trials)

const stat = (xs) => ({median: +median(xs).toFixed(1), p90: +percentile(xs, 90).toFixed(1), max: +Math.max(...xs).toFixed(1)})
const rows = CLOUDS.map((cloud) => {
  const s = stat(latencies[cloud])
  const b = stat(base[cloud])
  return {
    cloud,
    mechanism: cloud === 'gcp' ? 'hanging GET (wait_for_change)' : `${POLL_SECONDS} s poll`,
    trials: latencies[cloud].length,
    ...s,
    baselineMedian: b.median,
    baselineMax: b.max,
    ratio: +(s.median / b.median).toFixed(1),
    goal: s.max <= 1000,
  }
})
const allMet = rows.every((r) => r.goal)
const text = `Notice → SIGTERM at the job through the real runner, ${trials} trials per cloud (the five clouds run side by side), the endpoint
flipped at a random moment within the ${POLL_SECONDS} s poll cycle. Baseline: a shell's \`curl\` of the flipped endpoint, then \`kill -TERM\`.

${table(rows, [
  ['cloud', 'cloud', 'text'],
  ['mechanism', 'mechanism', 'text'],
  ['trials', 'trials', 0],
  ['median ms', 'median', 1],
  ['p90 ms', 'p90', 1],
  ['max ms', 'max', 1],
  ['baseline median ms', 'baselineMedian', 1],
  ['baseline max ms', 'baselineMax', 1],
  ['median / baseline', 'ratio', 1],
  ['max ≤ 1000 ms', 'goal'],
])}

Goal ≤ 1000 ms at max on every cloud: ${allMet ? 'met' : 'NOT met'}.

Idle cost: CPU time of the runner and its pollers (their children included, the job's process group excluded) over ${fmt(idle[0].seconds, 0)} s of
idle polling, all runners at once; \`none\` is a runner with no notice source (its own loop).

${table(idle, [
  ['cloud', 'cloud', 'text'],
  ['CPU s / min', 'cpuSecondsPerMinute', 3],
  ['% of one core', 'percentOfCore', 2],
  ['requests / min', 'requestsPerMinute', 1],
])}`
console.log(text)
const files = record('notice', {trials, idleSeconds, pollIntervalSeconds: POLL_SECONDS, rows, idle, latencies, baseline: base}, text)
console.log(`recorded: ${files.join(', ')}`)
