// Issue 6 benchmark, local provider: over N interruption notices delivered with
// `provider.signal(handle, 'preempt', grace)` (the path `skyhop preempt` takes),
//   - notice → SIGTERM at the job: from the signal() call to the job's trap running
//     (goal ≤ 1 s), against a baseline measured in the same run: node sending SIGTERM
//     straight to a bash process with the same trap;
//   - the grace the job actually had: from its SIGTERM to the runner's SIGKILL, for a
//     job that ignores SIGTERM and so uses all of it (goal ≥ notice window − 5 s);
//   - the job's end → the next attempt's first output line, relaunched on the local
//     provider as soon as a poll shows PREEMPTED.
// The same on the real Slurm cluster (scripts/slurm-up.sh) with `slurm` as third argument:
// the notice goes through the Slurm provider's path (stop request + `scancel --signal=TERM`
// to the job's step), and relaunches go through sbatch into the `high` partition.
// Run: node bench/grace.mjs [notices=20] [graceSeconds=6] [local|slurm]
import {spawn} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {median, percentile, record} from './lib.mjs'

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

let provider
let slurmOffer
if (backend === 'slurm') {
  const {SlurmProvider} = await import('../src/providers/slurm/slurm-provider.ts')
  provider = new SlurmProvider({home})
  slurmOffer = (await provider.liveOffers()).find((o) => o.instanceType === 'high')
  if (!slurmOffer) throw new Error('the Slurm cluster has no `high` partition: run bash scripts/slurm-up.sh')
} else {
  const {LocalProvider} = await import('../src/providers/local/local-provider.ts')
  provider = new LocalProvider({home})
}
const rows = []
const base = []
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
  relaunchToFirstLineMs: stat(col('relaunchToFirstLineMs')),
}
const goalNotice = summary.noticeToTermMs.max <= 1000
const goalGrace = summary.graceReceivedS.min >= graceSeconds - 5
const ratio = (summary.noticeToTermMs.median / summary.baselineKillToTermMs.median).toFixed(1)
const line = (name, s, unit) => `| ${name} | ${s.min} | ${s.median} | ${s.p95} | ${s.max} | ${unit} |`
const table = [
  '| measure | min | median | p95 | max | unit |',
  '|---|---:|---:|---:|---:|---|',
  line('baseline: node kill(SIGTERM) → bash trap', summary.baselineKillToTermMs, 'ms'),
  line('notice (provider.signal preempt) → SIGTERM trap in the job', summary.noticeToTermMs, 'ms'),
  line('runner: notice event → signal event', summary.runnerNoticeToSignalMs, 'ms'),
  line('grace the job had: its SIGTERM → SIGKILL', summary.graceReceivedS, 's'),
  line('SIGKILL sent before the deadline', summary.killBeforeDeadlineS, 's'),
  line('job end → next attempt first output line', summary.exitToNextFirstLineMs, 'ms'),
  line('relaunch call → next attempt first output line', summary.relaunchToFirstLineMs, 'ms'),
].join('\n')
const text = `${notices} notices on the ${backend === 'slurm' ? 'Slurm provider (real cluster, partition high)' : 'local provider'}, notice window ${graceSeconds} s, one after another.
Each job ignores SIGTERM, so it is killed at the deadline and uses all its grace.

${table}

- notice → SIGTERM: median ${ratio}× the direct-kill baseline; goal ≤ 1000 ms at max: ${goalNotice ? 'met' : 'NOT met'}.
- grace received: goal ≥ window − 5 s = ${graceSeconds - 5} s at min: ${goalGrace ? 'met' : 'NOT met'}. The runner kills
  min(1.5 s, a quarter of the window) before the deadline so that it can record the kill and the exit
  before a real host goes away.${backend === 'slurm' ? '\n- On Slurm the job step also gets SIGTERM from Slurm itself (scancel --signal=TERM signals the step); the trap time is the first of the two.' : ''}`
console.log(text)
const files = record(backend === 'slurm' ? 'grace-slurm' : 'grace', {backend, notices, graceSeconds, summary, baseline: base, rows}, text)
console.log(`recorded: ${files.join(', ')}`)
