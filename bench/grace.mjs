// Issue 6 benchmark, rewritten for issue 17 (the local variant went through
// provider.signal() in-process; it now drives the real runner as a user does, through the
// CLI). Over N interruption notices:
//   - notice → SIGTERM at the job: from starting `skyhop preempt JOB --grace 6s` (the
//     built CLI, bin/run.js) to the job's trap running (goal ≤ 1 s), against baselines
//     measured in the same run: a shell's `kill -TERM` straight to a bash process with the
//     same trap, and bare `node -e 0` (the CLI's own start is part of the path);
//   - the grace the job actually had: from its SIGTERM to the runner's SIGKILL, for a
//     job that ignores SIGTERM and so uses all of it (goal ≥ notice window − 5 s);
//   - the job's end → the next attempt's first line, relaunched by the job's own
//     controller (`skyhop launch --detach` started it).
// The Slurm variant (`slurm` as third argument, the cluster of scripts/slurm-up.sh) is
// unchanged: the notice goes through the Slurm provider's path (stop request + `scancel
// --signal=TERM` to the job's step), and relaunches go through sbatch into `high`.
// Run after `npm run build`: node bench/grace.mjs [notices=20] [graceSeconds=6] [local|slurm]
import {spawn} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'

import {BIN, median, nodeBaseline, percentile, record} from './lib.mjs'

const {register} = await import('tsx/esm/api')
register()
const {readEvents} = await import('../src/providers/attempt-dir.ts')
const {testJobSpec} = await import('../test/helpers/job-spec.ts')
const {isTerminal, pollUntil, waitForFile: waitFor} = await import('../test/helpers/wait.ts')

const notices = Number(process.argv[2] ?? 20)
const graceSeconds = Number(process.argv[3] ?? 6)
const backend = process.argv[4] ?? 'local'
if (!['local', 'slurm'].includes(backend)) throw new Error(`unknown backend ${backend}: use local or slurm`)
const home = mkdtempSync(join(tmpdir(), 'skyhop-bench-grace-'))

// The trap runs as soon as `wait` is interrupted; EPOCHREALTIME is CLOCK_REALTIME, as Date.now().
const TRAP = `trap 'printf %s "\${EPOCHREALTIME/./}" > "$SKYHOP_CHECKPOINT_DIR/term_at"' TERM`
const STUBBORN_JOB = `${TRAP}
echo first-line
touch "$SKYHOP_CHECKPOINT_DIR/ready"
while :; do sleep 0.05 & wait $!; done`

/** Waits for a file (with content, unless `empty`) and returns its content; 5 ms steps keep the timings fine-grained. */
const waitForFile = (path, {empty = false} = {}) => waitFor(path, {timeoutMs: 20_000, stepMs: 5, nonEmpty: !empty})

const termAtMs = (text) => Number(text.trim()) / 1000

function spec(run) {
  return testJobSpec({name: 'bench-grace', run, spot: 'spot', recovery: {maxRestarts: 100, graceSeconds}})
}

function request(i, attempt, run) {
  const attemptId = `n${i}-a${attempt}`
  return {
    jobId: `bench-${i}`,
    jobName: 'bench-grace',
    attemptId,
    attempt,
    restartCount: attempt - 1,
    idempotencyKey: attemptId,
    spec: spec(run),
    offer: backend === 'slurm' ? slurmOffer : {},
    spot: backend !== 'slurm',
    env: {},
    checkpointDir: join(home, 'ckpt', `${i}-${attempt}`),
    checkpointSync: null,
    graceSeconds,
  }
}

async function untilTerminal(provider, handle) {
  const result = await pollUntil(provider, handle, isTerminal, {timeoutMs: Infinity, stepMs: 20})
  return {result, at: Date.now()}
}

// Baseline: SIGTERM straight from node to a bash process with the same trap.
async function baseline(i) {
  const dir = join(home, 'baseline', String(i))
  const child = spawn('bash', ['-c', `mkdir -p "$SKYHOP_CHECKPOINT_DIR"; ${STUBBORN_JOB}`], {
    detached: true,
    stdio: 'ignore',
    env: {...process.env, SKYHOP_CHECKPOINT_DIR: dir},
  })
  await waitForFile(join(dir, 'ready'), {empty: true})
  const sentAt = Date.now()
  process.kill(child.pid, 'SIGTERM')
  const termAt = termAtMs(await waitForFile(join(dir, 'term_at')))
  process.kill(-child.pid, 'SIGKILL')
  return termAt - sentAt
}

// Baseline for the CLI path: a shell's `kill -TERM` straight to a bash process with the same trap.
async function shellBaseline(i) {
  const dir = join(home, 'baseline', String(i))
  const child = spawn('bash', ['-c', `mkdir -p "$SKYHOP_CHECKPOINT_DIR"; ${STUBBORN_JOB}`], {
    detached: true,
    stdio: 'ignore',
    env: {...process.env, SKYHOP_CHECKPOINT_DIR: dir},
  })
  await waitForFile(join(dir, 'ready'), {empty: true})
  const sentAt = Date.now()
  await new Promise((resolve) => spawn('bash', ['-c', 'kill -TERM "$1"', 'bash', String(child.pid)], {stdio: 'ignore'}).on('exit', resolve))
  const termAt = termAtMs(await waitForFile(join(dir, 'term_at')))
  process.kill(-child.pid, 'SIGKILL')
  return termAt - sentAt
}

const cliEnv = {...process.env, SKYHOP_HOME: home, CI: '1'}
function cli(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {env: cliEnv, stdio: ['ignore', 'pipe', 'pipe']})
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`skyhop ${args.join(' ')} exited ${code}: ${err.slice(0, 2000)}`)),
    )
  })
}

// One job file for every notice: attempt 1 ignores SIGTERM (so it uses all its grace) and
// says where its attempt directory is; attempt 2, the controller's relaunch, notes when it
// starts and ends.
const MARKS = join(home, 'marks')
function writeJob() {
  writeFileSync(join(home, 'config.yaml'), 'providers:\n  slurm: {enabled: false}\n')
  const run = `mark="$MARKS/$SKYHOP_JOB_ID"
mkdir -p "$mark"
if [ "$SKYHOP_ATTEMPT" = 1 ]; then
  trap 'printf %s "\${EPOCHREALTIME/./}" > "$mark/term_at"' TERM
  echo first-line
  dirname "$SKYHOP_PREEMPT_NOTICE" > "$mark/attempt-dir"
  touch "$mark/ready"
  while :; do sleep 0.05 & wait $!; done
else
  printf %s "\${EPOCHREALTIME/./}" > "$mark/next_at"
  echo first-line
fi`
  const yaml = `name: bench-grace\nrun: |\n${run
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n')}\nrecovery:\n  max_restarts: 3\n  grace: ${graceSeconds}s\n`
  writeFileSync(join(home, 'job.yaml'), yaml)
}

async function cliNotice(i) {
  const launched = JSON.parse(
    await cli(['launch', join(home, 'job.yaml'), '--yes', '--detach', '--json', '--provider', 'local', '--env', `MARKS=${MARKS}`]),
  )
  const jobId = launched.result.job?.id
  if (!jobId) throw new Error(`launch printed no job id: ${JSON.stringify(launched)}`)
  const mark = join(MARKS, jobId)
  await waitForFile(join(mark, 'ready'), {empty: true})
  const noticeAt = Date.now()
  const preempt = cli(['preempt', jobId, '--grace', `${graceSeconds}s`])
  const termAt = termAtMs(await waitForFile(join(mark, 'term_at')))
  await preempt
  const nextAt = termAtMs(await waitForFile(join(mark, 'next_at')))
  const attemptDir = readFileSync(join(mark, 'attempt-dir'), 'utf8').trim()
  const events = readEvents(attemptDir)
  const notice = events.find((e) => e.event === 'notice')
  const signal = events.find((e) => e.event === 'signal')
  const kill = events.find((e) => e.event === 'kill')
  const exit = events.find((e) => e.event === 'exit')
  if (!notice || !signal || !kill || !exit) throw new Error(`notice ${i}: attempt 1 events incomplete: ${JSON.stringify(events)}`)
  // The relaunched attempt's runner start, from its own events (the directory beside attempt 1's).
  const root = dirname(attemptDir)
  const nextDir = readdirSync(root)
    .map((name) => join(root, name))
    .find((d) => d !== attemptDir && existsSync(join(d, 'env')) && readFileSync(join(d, 'env'), 'utf8').includes(jobId))
  const nextStart = nextDir ? Date.parse(readEvents(nextDir).find((e) => e.event === 'runner-start').ts) : null
  return {
    noticeToTermMs: termAt - noticeAt,
    runnerNoticeToSignalMs: Date.parse(signal.ts) - Date.parse(notice.ts),
    graceReceivedS: (Date.parse(kill.ts) - termAt) / 1000,
    killBeforeDeadlineS: (Date.parse(notice.deadline) - Date.parse(kill.ts)) / 1000,
    exitToNextFirstLineMs: nextAt - Date.parse(exit.endedAt),
    relaunchToFirstLineMs: nextStart === null ? null : nextAt - nextStart,
  }
}

let provider
let slurmOffer
const rows = []
const base = []
let node = null
if (backend === 'slurm') {
  const {SlurmProvider} = await import('../src/providers/slurm/slurm-provider.ts')
  provider = new SlurmProvider({home})
  slurmOffer = (await provider.liveOffers()).find((o) => o.instanceType === 'high')
  if (!slurmOffer) throw new Error('the Slurm cluster has no `high` partition: run bash scripts/slurm-up.sh')
  for (let i = 1; i <= notices; i++) {
    base.push(await baseline(i))

    const first = request(i, 1, STUBBORN_JOB)
    const handle = await provider.launch(first)
    await waitForFile(join(first.checkpointDir, 'ready'), {empty: true})
    const noticeAt = Date.now()
    await provider.signal(handle, 'preempt', graceSeconds)
    const termAt = termAtMs(await waitForFile(join(first.checkpointDir, 'term_at')))
    const {result} = await untilTerminal(provider, handle)
    if (result.state !== 'PREEMPTED') throw new Error(`notice ${i}: expected PREEMPTED, got ${JSON.stringify(result)}`)

    // The controller's shortest path: relaunch at once, wait for the first line.
    const next = request(i, 2, 'echo first-line; sleep 0.2')
    const relaunchAt = Date.now()
    const handle2 = await provider.launch(next)
    let firstLineAt = null
    for await (const line of provider.logs(handle2, {follow: true})) {
      if (line === 'first-line') {
        firstLineAt = Date.now()
        break
      }
    }
    await untilTerminal(provider, handle2)

    const events = readEvents(handle.data.attemptDir)
    const notice = events.find((e) => e.event === 'notice')
    const signal = events.find((e) => e.event === 'signal')
    const kill = events.find((e) => e.event === 'kill')
    const exit = events.find((e) => e.event === 'exit')
    rows.push({
      noticeToTermMs: termAt - noticeAt,
      runnerNoticeToSignalMs: Date.parse(signal.ts) - Date.parse(notice.ts),
      graceReceivedS: (Date.parse(kill.ts) - termAt) / 1000,
      killBeforeDeadlineS: (Date.parse(notice.deadline) - Date.parse(kill.ts)) / 1000,
      exitToNextFirstLineMs: firstLineAt - Date.parse(exit.endedAt),
      relaunchToFirstLineMs: firstLineAt - relaunchAt,
    })
    process.stderr.write(
      `notice ${i}/${notices}: SIGTERM after ${(termAt - noticeAt).toFixed(1)} ms, grace ${rows.at(-1).graceReceivedS.toFixed(2)} s\n`,
    )
  }
} else {
  node = nodeBaseline(10)
  writeJob()
  for (let i = 1; i <= notices; i++) {
    base.push(await shellBaseline(i))
    rows.push(await cliNotice(i))
    process.stderr.write(
      `notice ${i}/${notices}: SIGTERM after ${rows.at(-1).noticeToTermMs.toFixed(1)} ms, grace ${rows.at(-1).graceReceivedS.toFixed(2)} s\n`,
    )
  }
}
rmSync(home, {recursive: true, force: true})

const stat = (xs, digits = 1) => ({
  min: +Math.min(...xs).toFixed(digits),
  median: +median(xs).toFixed(digits),
  p95: +percentile(xs, 95).toFixed(digits),
  max: +Math.max(...xs).toFixed(digits),
})
const col = (key) => rows.map((r) => r[key])
const summary = {
  baselineKillToTermMs: stat(base),
  noticeToTermMs: stat(col('noticeToTermMs')),
  runnerNoticeToSignalMs: stat(col('runnerNoticeToSignalMs')),
  graceReceivedS: stat(col('graceReceivedS'), 3),
  killBeforeDeadlineS: stat(col('killBeforeDeadlineS'), 3),
  exitToNextFirstLineMs: stat(col('exitToNextFirstLineMs')),
  relaunchToFirstLineMs: stat(col('relaunchToFirstLineMs').filter((x) => x !== null)),
}
const cliPath = backend !== 'slurm'
const goalNotice = summary.noticeToTermMs.max <= 1000
const goalGrace = summary.graceReceivedS.min >= graceSeconds - 5
const ratio = (summary.noticeToTermMs.median / summary.baselineKillToTermMs.median).toFixed(1)
const line = (name, s, unit) => `| ${name} | ${s.min} | ${s.median} | ${s.p95} | ${s.max} | ${unit} |`
const table = [
  '| measure | min | median | p95 | max | unit |',
  '|---|---:|---:|---:|---:|---|',
  cliPath
    ? line("baseline: a shell's kill -TERM → bash trap", summary.baselineKillToTermMs, 'ms')
    : line('baseline: node kill(SIGTERM) → bash trap', summary.baselineKillToTermMs, 'ms'),
  ...(cliPath ? [`| baseline: bare node -e 0 (median of 10) | | ${node.ms.toFixed(1)} | | | ms |`] : []),
  cliPath
    ? line(`notice (skyhop preempt JOB --grace ${graceSeconds}s) → SIGTERM trap in the job`, summary.noticeToTermMs, 'ms')
    : line('notice (provider.signal preempt) → SIGTERM trap in the job', summary.noticeToTermMs, 'ms'),
  line('runner: notice event → signal event', summary.runnerNoticeToSignalMs, 'ms'),
  line('grace the job had: its SIGTERM → SIGKILL', summary.graceReceivedS, 's'),
  line('SIGKILL sent before the deadline', summary.killBeforeDeadlineS, 's'),
  line(
    cliPath ? "job end → next attempt's start (relaunched by the job's controller)" : 'job end → next attempt first output line',
    summary.exitToNextFirstLineMs,
    'ms',
  ),
  line(
    cliPath ? "next attempt: runner start → the job's start" : 'relaunch call → next attempt first output line',
    summary.relaunchToFirstLineMs,
    'ms',
  ),
].join('\n')
const text = `${notices} notices on the ${backend === 'slurm' ? 'Slurm provider (real cluster, partition high)' : 'local provider'}, notice window ${graceSeconds} s, one after another.
Each job ignores SIGTERM, so it is killed at the deadline and uses all its grace.

${table}

- notice → SIGTERM: median ${ratio}× the direct-kill baseline${cliPath ? `, ${(summary.noticeToTermMs.median / node.ms).toFixed(1)}× bare node` : ''}; goal ≤ 1000 ms at max: ${goalNotice ? 'met' : 'NOT met'}.
- grace received: goal ≥ window − 5 s = ${graceSeconds - 5} s at min: ${goalGrace ? 'met' : 'NOT met'}. The runner kills
  min(1.5 s, a quarter of the window) before the deadline so that it can record the kill and the exit
  before a real host goes away.${backend === 'slurm' ? '\n- On Slurm the job step also gets SIGTERM from Slurm itself (scancel --signal=TERM signals the step); the trap time is the first of the two.' : ''}`
console.log(text)
const files = record(
  backend === 'slurm' ? 'grace-slurm' : 'grace',
  {backend, notices, graceSeconds, summary, baseline: base, nodeBaseline: node, rows},
  text,
)
console.log(`recorded: ${files.join(', ')}`)
