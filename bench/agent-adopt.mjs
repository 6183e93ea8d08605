// Issue 22 benchmark: how long a job whose controller died waits for `skyhop agent` to adopt
// it (goal ≤ 2 × the lease period). Everything goes through the built CLI, as a user runs it:
// per round, a job is handed to agents (`launch --detach` with `agent: true` in the config),
// agent A claims it, agent B starts, A is SIGKILLed (so its lease is left to expire, as when a
// machine dies) and the time until B's `adopted` event is measured. Baselines in the same
// run: the lease period itself, and the time agent A took to claim the job when it was handed
// over with no lease to wait for (launch's exit → A's `adopted`).
// Run after `npm run build`: node bench/agent-adopt.mjs [rounds=10] [leaseSeconds=5]
//                            node bench/agent-adopt.mjs --quick   (2 rounds, 2 s lease)
import {spawn, spawnSync} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {BIN, median, record} from './lib.mjs'

const quick = process.argv.includes('--quick')
const positional = process.argv.slice(2).filter((a) => !a.startsWith('--'))
const rounds = quick ? 2 : Number(positional[0] ?? 10)
const leaseSeconds = quick ? 2 : Number(positional[1] ?? 5)
const home = mkdtempSync(join(tmpdir(), 'skyhop-bench-agent-'))
const config = join(home, 'config.yaml')
writeFileSync(config, 'providers:\n  slurm: {enabled: false}\nagent: true\n')
const jobFile = join(home, 'sleeper.yaml')
writeFileSync(jobFile, 'name: sleeper\nrun: sleep 600\n')
const env = {...process.env, SKYHOP_HOME: home, SKYHOP_CONFIG: config, SKYHOP_LEASE_TTL_SECONDS: String(leaseSeconds)}

function cli(args) {
  const r = spawnSync(process.execPath, [BIN, ...args], {env, encoding: 'utf8'})
  if (r.status !== 0) throw new Error(`skyhop ${args.join(' ')} exited ${r.status}: ${r.stderr.slice(0, 2000)}`)
  return r.stdout
}

/** An agent process whose JSON Lines events can be awaited. */
function agent() {
  const child = spawn(process.execPath, [BIN, 'agent', '--json'], {env, stdio: ['ignore', 'pipe', 'pipe']})
  const waiters = []
  let buffer = ''
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += d))
  child.stdout.on('data', (d) => {
    buffer += d
    let nl
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl)
      buffer = buffer.slice(nl + 1)
      if (!line.startsWith('{')) continue
      const event = JSON.parse(line)
      const at = performance.now()
      for (const w of [...waiters]) {
        if (w.match(event)) {
          waiters.splice(waiters.indexOf(w), 1)
          w.resolve(at)
        }
      }
    }
  })
  const exited = new Promise((resolve) => child.on('close', resolve))
  return {
    child,
    exited,
    /** Resolves with performance.now() of the first event matching. */
    when(match, timeoutMs = 120_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no matching agent event within ${timeoutMs} ms; stderr: ${stderr.slice(-2000)}`)),
          timeoutMs,
        )
        waiters.push({match, resolve: (at) => (clearTimeout(timer), resolve(at))})
      })
    },
  }
}

const rows = []
try {
  for (let i = 0; i < rounds; i++) {
    const a = agent()
    await a.when((e) => e.event === 'started')
    const launched = JSON.parse(cli(['launch', jobFile, '-y', '--detach', '--json', '--name', `sleeper-${i}`]))
    const handedAt = performance.now()
    const id = launched.result.job.id
    const claimedAt = await a.when((e) => e.event === 'adopted' && e.id === id)
    // The job's attempt must be running before A dies: then B adopts a live job, not a launch.
    await new Promise((r) => setTimeout(r, 500))
    const b = agent()
    await b.when((e) => e.event === 'started')
    // Let A renew its lease once more at a random point of the period, as a real death would.
    await new Promise((r) => setTimeout(r, Math.random() * leaseSeconds * 1000))
    const killedAt = performance.now()
    a.child.kill('SIGKILL')
    const adoptedAt = await b.when((e) => e.event === 'adopted' && e.id === id)
    await a.exited
    cli(['cancel', id, '--grace', '1s'])
    b.child.kill('SIGTERM')
    await b.exited
    const row = {round: i + 1, handoverMs: Math.round(claimedAt - handedAt), adoptMs: Math.round(adoptedAt - killedAt)}
    rows.push(row)
    console.log(`round ${row.round}: handover ${row.handoverMs} ms, adoption after SIGKILL ${row.adoptMs} ms`)
  }
} finally {
  rmSync(home, {recursive: true, force: true})
}

const leaseMs = leaseSeconds * 1000
const adopt = rows.map((r) => r.adoptMs)
const handover = rows.map((r) => r.handoverMs)
const summary = {
  leaseMs,
  adoptMs: {median: median(adopt), max: Math.max(...adopt)},
  handoverMs: {median: median(handover), max: Math.max(...handover)},
  adoptOverLease: {median: +(median(adopt) / leaseMs).toFixed(2), max: +(Math.max(...adopt) / leaseMs).toFixed(2)},
}
const goal = summary.adoptOverLease.max <= 2
const text = `Agent adoption (${rounds} rounds, lease ${leaseSeconds} s${quick ? ', --quick' : ''}): a job handed to agents, agent A claims it, agent B
starts, A is SIGKILLed, B's \`adopted\` event is timed from the kill.

| | median | max |
|---|---:|---:|
| handover: launch → A adopted (baseline: no lease to wait for) | ${summary.handoverMs.median} ms | ${summary.handoverMs.max} ms |
| SIGKILL of A → B adopted | ${summary.adoptMs.median} ms | ${summary.adoptMs.max} ms |
| ÷ lease period (${leaseMs} ms) | ${summary.adoptOverLease.median}× | ${summary.adoptOverLease.max}× |
| ÷ handover | ${(summary.adoptMs.median / summary.handoverMs.median).toFixed(1)}× | |

- Goal: adoption within 2 × the lease period at max: ${goal ? 'met' : 'NOT met'}. Expected: the rest of A's last lease
  (up to one period) plus one scan (a third of it), so at most about 1.33×, plus the CLI's own reaction.`
console.log(text)
const files = record(quick ? 'agent-adopt-quick' : 'agent-adopt', {rounds, leaseSeconds, quick, summary, rows}, text)
console.log(`recorded: ${files.join(', ')}`)
