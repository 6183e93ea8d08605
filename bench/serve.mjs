// Issue 20 benchmark: `skyhop serve`, through the built CLI as a user runs it.
//   - load balancer overhead: autocannon at a fixed rate (default 1,000 requests/s) against
//     the endpoint `serve up` printed (one replica of the example model server, answering at
//     once), against the baseline measured in the same run: the same load straight at that
//     replica's own address. Rounds interleave direct, through the balancer on its own
//     thread (the default), and through a balancer in the controller's thread
//     (SKYHOP_BALANCER_THREAD=0, a second service), so drift in the machine's load hits
//     every path alike; medians over rounds. Goal: ≤ 1 ms added at p50, ≤ 5 ms at p99.
//   - failed requests during a preemption: a steady load of POSTs (never retried by the
//     balancer) on a two-replica service while `skyhop serve preempt` gives one replica a
//     notice. Goal: 0 failed, and the replacement ready before the notice ends.
//   - the trace replay: `skyhop simulate --service` on the 9-zone traces (availability/1-node/
//     aws-02-15-2023 in ../shared/data/traces; skipped with a message when absent): 4 V100
//     replicas, base_on_demand 1, spread over zones, from 50 starts of 7 days, startup 2 min
//     and 30 s. Goal: ≥ 99.9% of the time at target with cost ≤ 50% of all on-demand.
//     The replay's numbers depend on the traces and the policy, not on the machine's load:
//     `--replay-only` runs it alone (recorded as serve-replay-DATE), for a machine too busy
//     for the latency parts to mean anything.
// Run after `npm run build`: node bench/serve.mjs [--replay-only] [rate=1000] [seconds=10] [graceSeconds=5] [rounds=3]
import {spawn} from 'node:child_process'
import {existsSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {loadavg, tmpdir} from 'node:os'
import {join} from 'node:path'

import autocannon from 'autocannon'

import {BIN, ROOT, median, record, table} from './lib.mjs'

const replayOnly = process.argv.includes('--replay-only')
const positional = process.argv.slice(2).filter((a) => !a.startsWith('--'))
const rate = Number(positional[0] ?? 1000)
const seconds = Number(positional[1] ?? 10)
const graceSeconds = Number(positional[2] ?? 5)
const rounds = Number(positional[3] ?? 3)
const TRACES = join(ROOT, '..', 'shared', 'data', 'traces', 'availability', '1-node', 'aws-02-15-2023')
const home = mkdtempSync(join(tmpdir(), 'skyhop-bench-serve-'))
const config = join(home, 'config.yaml')
writeFileSync(config, 'providers:\n  slurm: {enabled: false}\n')
const env = {...process.env, SKYHOP_HOME: home, SKYHOP_CONFIG: config}

/** `skyhop ARGS --json` without blocking this process (autocannon runs in it). */
function cli(args, extraEnv = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args, '--json'], {
      env: {...env, ...extraEnv},
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
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

/** The load balancer's overhead and a preemption under load: both depend on the machine's load. */
async function latencyParts() {
  // ---- overhead ------------------------------------------------------------------
  const one = await cli(['serve', 'up', serviceFile('bench-one', 1)])
  const inline = await cli(['serve', 'up', serviceFile('bench-inline', 1)], {SKYHOP_BALANCER_THREAD: '0'})
  const replica = one.replicas[0].address
  const paths = {
    direct: `${replica}/`,
    thread: `${one.endpoint}/`,
    inline: `${inline.endpoint}/`,
  }
  for (const url of Object.values(paths)) await load({url, overallRate: rate, duration: 2}) // warm-up
  const runs = {direct: [], thread: [], inline: []}
  for (let i = 0; i < rounds; i++) for (const [name, url] of Object.entries(paths)) runs[name].push(await load({url, overallRate: rate}))
  await cli(['serve', 'down', 'bench-one'])
  await cli(['serve', 'down', 'bench-inline'])
  const summary = (xs) => ({
    p50Ms: median(xs.map((x) => x.p50Ms)),
    p99Ms: median(xs.map((x) => x.p99Ms)),
    ratePerSecond: median(xs.map((x) => x.ratePerSecond)),
    failed: xs.reduce((n, x) => n + x.failed, 0),
    rounds: xs,
  })
  const direct = summary(runs.direct)
  const proxied = summary(runs.thread)
  const inThread = summary(runs.inline)
  results.overhead = {
    direct,
    proxied,
    inControllerThread: inThread,
    addedP50Ms: proxied.p50Ms - direct.p50Ms,
    addedP99Ms: proxied.p99Ms - direct.p99Ms,
    inControllerThreadAddedP50Ms: inThread.p50Ms - direct.p50Ms,
    inControllerThreadAddedP99Ms: inThread.p99Ms - direct.p99Ms,
  }
  const ratio = (x) =>
    `p50 ${(x.p50Ms / Math.max(direct.p50Ms, 0.001)).toFixed(2)}, p99 ${(x.p99Ms / Math.max(direct.p99Ms, 0.001)).toFixed(2)}`
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
      what: `through the load balancer (own thread), ${rate} req/s`,
      p50: proxied.p50Ms,
      p99: proxied.p99Ms,
      rate: proxied.ratePerSecond,
      failed: proxied.failed,
      ratio: ratio(proxied),
    },
    {
      what: `through the load balancer in the controller's thread, ${rate} req/s`,
      p50: inThread.p50Ms,
      p99: inThread.p99Ms,
      rate: inThread.ratePerSecond,
      failed: inThread.failed,
      ratio: ratio(inThread),
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
}

const rows = []
const results = replayOnly
  ? {replayOnly, loadAverageAtStart: loadavg()}
  : {rate, seconds, graceSeconds, rounds, loadAverageAtStart: loadavg()}
const names = replayOnly ? [] : ['bench-one', 'bench-inline', 'bench-two']
try {
  if (!replayOnly) await latencyParts()
  // ---- the trace replay --------------------------------------------------------------
  if (existsSync(TRACES)) {
    const file = join(home, 'llm.yaml')
    writeFileSync(
      file,
      'name: llm\nresources:\n  accelerators: V100:1\nrun: exec serve\nspot: auto\nservice:\n  port: 8080\n  replicas: 4\n  spot: {base_on_demand: 1, spread: zones}\n',
    )
    results.replay = []
    for (const startup of ['2m', '30s']) {
      // AWS p3.2xlarge (1 × V100) in us-east-1: on-demand 3.06, spot 0.918 USD/h (docs/simulator.md).
      const args = ['simulate', file, '--service', '--traces', TRACES, '--spot-price', '0.918', '--on-demand-price', '3.06']
      const r = await cli([...args, '--seeds', '50', '--duration', '7d', '--startup', startup])
      results.replay.push({startup, settings: r.settings, service: r.service, policies: r.policies})
      for (const p of r.policies) {
        rows.push({
          what: `replay ${r.traces.zones.length} zones, ${r.service.target} × ${r.service.configuration}, startup ${startup}, notice ${r.settings.noticeSeconds}s, drain window ${r.settings.drainWindowSeconds}s: ${p.name}`,
          p50: null,
          p99: null,
          rate: null,
          failed: null,
          ratio: `at target ${(p.availabilityAtTarget.mean * 100).toFixed(3)}% (worst ${(p.availabilityAtTarget.min * 100).toFixed(2)}%), ≥ 1 ${(p.availabilityAtOne.mean * 100).toFixed(3)}%, cost ${p.costRelativeToOnDemand.toFixed(3)} of on-demand`,
        })
      }
    }
  } else {
    results.replay = {skipped: `the spot traces are not at ${TRACES}`}
    console.log(`trace replay skipped: the spot traces are not at ${TRACES}`)
  }
} finally {
  // A run that failed half way must leave no service behind: its replicas and controller
  // would outlive the home removed next.
  for (const name of names) await cli(['serve', 'down', name]).catch(() => undefined)
  rmSync(home, {recursive: true, force: true})
}

const columns = [
  ['what', 'what', 'text'],
  ['p50 ms', 'p50', 2],
  ['p99 ms', 'p99', 2],
  ['req/s', 'rate', 0],
  ['failed', 'failed', 0],
  ['ratio to direct / note', 'ratio', 'text'],
]
const text = table(rows, columns)
const sky = Array.isArray(results.replay)
  ? results.replay.map((r) => ({startup: r.startup, p: r.policies.find((p) => p.name === 'skyhop')}))
  : []
const verdict =
  (replayOnly
    ? 'replay only (no latency parts)'
    : `added by the load balancer (own thread): p50 ${results.overhead.addedP50Ms.toFixed(2)} ms (goal ≤ 1), p99 ${results.overhead.addedP99Ms.toFixed(2)} ms (goal ≤ 5); ` +
      `in the controller's thread: p50 ${results.overhead.inControllerThreadAddedP50Ms.toFixed(2)} ms, p99 ${results.overhead.inControllerThreadAddedP99Ms.toFixed(2)} ms; ` +
      `failed during the preemption: ${results.preemption.failed} (goal 0)`) +
  sky
    .map(
      ({startup, p}) =>
        `; replay skyhop, startup ${startup}: ${(p.availabilityAtTarget.mean * 100).toFixed(3)}% at target (worst run ${(p.availabilityAtTarget.min * 100).toFixed(2)}%; goal ≥ 99.9%), cost ${p.costRelativeToOnDemand.toFixed(3)} (goal ≤ 0.5)`,
    )
    .join('') +
  `; load average at start ${results.loadAverageAtStart.map((x) => x.toFixed(1)).join(' ')}`
console.log(text)
console.log(verdict)
const files = record(replayOnly ? 'serve-replay' : 'serve', results, `${text}\n\n${verdict}`)
console.log(`results: ${files.join(', ')}`)
