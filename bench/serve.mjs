// Issue 20 benchmark: `skyhop serve`, through the built CLI as a user runs it.
//   - load balancer overhead: autocannon at a fixed rate (default 1,000 requests/s) against
//     the endpoint `serve up` printed (one replica of the example model server, answering at
//     once), against the baseline measured in the same run: the same load straight at that
//     replica's own address. Goal: ≤ 1 ms added at p50, ≤ 5 ms at p99.
//   - failed requests during a preemption: a steady load of POSTs (never retried by the
//     balancer) on a two-replica service while `skyhop serve preempt` gives one replica a
//     notice. Goal: 0 failed, and the replacement ready before the notice ends.
// Run after `npm run build`: node bench/serve.mjs [rate=1000] [seconds=10] [graceSeconds=5]
import {spawn} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import autocannon from 'autocannon'

import {BIN, ROOT, record, table} from './lib.mjs'

const rate = Number(process.argv[2] ?? 1000)
const seconds = Number(process.argv[3] ?? 10)
const graceSeconds = Number(process.argv[4] ?? 5)
const home = mkdtempSync(join(tmpdir(), 'skyhop-bench-serve-'))
const config = join(home, 'config.yaml')
writeFileSync(config, 'providers:\n  slurm: {enabled: false}\n')
const env = {...process.env, SKYHOP_HOME: home, SKYHOP_CONFIG: config}

/** `skyhop ARGS --json` without blocking this process (autocannon runs in it). */
function cli(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args, '--json'], {env, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe']})
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    child.on('close', (code) => {
      let envelope = null
      try {
        envelope = JSON.parse(out)
      } catch {
        // not JSON: the error below says what the command printed
      }
      if (code !== 0 || !envelope?.ok) reject(new Error(`skyhop ${args.join(' ')} exited ${code}: ${err}${out}`))
      else resolve(envelope.result)
    })
  })
}

function serviceFile(name, replicas) {
  const file = join(home, `${name}.yaml`)
  writeFileSync(
    file,
    `name: ${name}\nworkdir: ${join(ROOT, 'examples', 'model-server')}\nenvs: {DELAY_MS: "0", LOAD_MS: "0", STOP_IDLE_MS: "500"}\n` +
      `run: exec node server.mjs\nservice:\n  port: 8080\n  readiness: {path: /health, timeout: 2s}\n  replicas: ${replicas}\n`,
  )
  return file
}

/** Latencies in ms as autocannon reports them (HDR histogram, µs resolution). */
async function load(options) {
  const r = await autocannon({connections: 32, duration: seconds, ...options})
  return {
    requests: r.requests.total,
    ratePerSecond: r.requests.average,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    failed: r.errors + r.non2xx + r.timeouts,
  }
}

const rows = []
const results = {rate, seconds, graceSeconds}
try {
  // ---- overhead ------------------------------------------------------------------
  const one = await cli(['serve', 'up', serviceFile('bench-one', 1)])
  const replica = one.replicas[0].address
  await load({url: `${replica}/`, overallRate: rate, duration: 2}) // warm-up, both paths
  await load({url: `${one.endpoint}/`, overallRate: rate, duration: 2})
  const direct = await load({url: `${replica}/`, overallRate: rate})
  const proxied = await load({url: `${one.endpoint}/`, overallRate: rate})
  await cli(['serve', 'down', 'bench-one'])
  results.overhead = {direct, proxied, addedP50Ms: proxied.p50Ms - direct.p50Ms, addedP99Ms: proxied.p99Ms - direct.p99Ms}
  rows.push(
    {
      what: `direct to the replica, ${rate} req/s (baseline)`,
      p50: direct.p50Ms,
      p99: direct.p99Ms,
      rate: direct.ratePerSecond,
      failed: direct.failed,
      ratio: '1.00',
    },
    {
      what: `through the load balancer, ${rate} req/s`,
      p50: proxied.p50Ms,
      p99: proxied.p99Ms,
      rate: proxied.ratePerSecond,
      failed: proxied.failed,
      ratio: (proxied.p50Ms / Math.max(direct.p50Ms, 0.001)).toFixed(2),
    },
  )

  // ---- a preemption under load -----------------------------------------------------
  const two = await cli(['serve', 'up', serviceFile('bench-two', 2)])
  const steady = load({
    url: `${two.endpoint}/v1/completions`,
    method: 'POST',
    headers: {'content-type': 'application/json'},
    body: JSON.stringify({prompt: 'a b c', max_tokens: 4}),
    overallRate: Math.max(10, Math.round(rate / 4)),
  })
  await new Promise((r) => setTimeout(r, (seconds * 1000) / 3))
  const noticeAt = Date.now()
  const preempted = await cli(['serve', 'preempt', 'bench-two', '--grace', `${graceSeconds}s`])
  const during = await steady
  const status = await cli(['serve', 'status', 'bench-two'])
  const replacement = status.services[0].replicas.find((r) => r.n > 2 && r.state === 'READY')
  await cli(['serve', 'down', 'bench-two'])
  results.preemption = {
    replica: preempted.replica,
    ...during,
    replacementReady: replacement !== undefined,
    noticeAt: new Date(noticeAt).toISOString(),
  }
  rows.push({
    what: `POSTs while replica ${preempted.replica} gets a ${graceSeconds} s notice`,
    p50: during.p50Ms,
    p99: during.p99Ms,
    rate: during.ratePerSecond,
    failed: during.failed,
    ratio: replacement ? 'replacement ready' : 'NO replacement',
  })
} finally {
  // A run that failed half way must leave no service behind: its replicas and controller
  // would outlive the home removed next.
  for (const name of ['bench-one', 'bench-two']) await cli(['serve', 'down', name]).catch(() => undefined)
  rmSync(home, {recursive: true, force: true})
}

const columns = [
  ['what', 'what', 'text'],
  ['p50 ms', 'p50', 2],
  ['p99 ms', 'p99', 2],
  ['req/s', 'rate', 0],
  ['failed', 'failed', 0],
  ['p50 ratio / note', 'ratio', 'text'],
]
const text = table(rows, columns)
const verdict =
  `added by the load balancer: p50 ${results.overhead.addedP50Ms.toFixed(2)} ms (goal ≤ 1), p99 ${results.overhead.addedP99Ms.toFixed(2)} ms (goal ≤ 5); ` +
  `failed during the preemption: ${results.preemption.failed} (goal 0)`
console.log(text)
console.log(verdict)
const files = record('serve', results, `${text}\n\n${verdict}`)
console.log(`results: ${files.join(', ')}`)
