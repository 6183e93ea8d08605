// Issue 22 benchmark: state shared by a team in one PostgreSQL (docs/state.md), through the
// built CLI as the team would use it, with the same figures on SQLite (the embedded
// default, one home shared by the clients) measured in the same run as the baseline.
//  1. Launches per second from 4 concurrent clients: each runs `launch job.yaml -y --wait`
//     of a trivial job (`run: "true"`) on the local provider, one after another, all four
//     at once; launches finished per second of wall time.
//  2. `status --all-users` with 10,000 jobs in the store (each with one attempt): p50 and p99
//     of the whole command (goal p99 ≤ 300 ms), beside `node -e 0`.
//  3. The bridge alone (in-process, not through the CLI): one indexed read (`getJob`) and
//     one write transaction (`addEvent`) per call, PostgreSQL over SQLite: what each statement
//     costs.
// Needs the server of scripts/postgres-up.sh (or SKYHOP_BENCH_DATABASE_URL / SKYHOP_TEST_DATABASE_URL,
// a role that may create databases); makes its own database and drops it. Run after
// `npm run build`: node bench/team.mjs [--quick]  (quick: 1,000 jobs, fewer launches and runs)
import {mkdtempSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {loadavg, tmpdir} from 'node:os'
import {join} from 'node:path'

import {BIN, fmt, machine, measureProcess, median, nodeBaseline, percentile, record, runOnce, table} from './lib.mjs'
import {Store} from '../dist/state/store.js'

const require = createRequire(import.meta.url)
const pg = require('pg')

const quick = process.argv.includes('--quick')
const CLIENTS = 4
const LAUNCHES_PER_CLIENT = quick ? 3 : 15
const JOBS = quick ? 1_000 : 10_000
const STATUS_RUNS = quick ? 10 : 50
const BRIDGE_CALLS = quick ? 500 : 5_000
const GOAL_P99_MS = 300
const BASE_URL =
  process.env.SKYHOP_BENCH_DATABASE_URL || process.env.SKYHOP_TEST_DATABASE_URL || 'postgres://skyhop:skyhop@127.0.0.1:5432/skyhop'

async function admin(sql) {
  const client = new pg.Client({connectionString: BASE_URL, connectionTimeoutMillis: 5000})
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

function databaseUrl(name) {
  const u = new URL(BASE_URL)
  u.pathname = `/${name}`
  return u.toString()
}

/** A home (config: local only) and the environment that points the CLI at `url` (null: SQLite in the home). */
function world(url) {
  const home = mkdtempSync(join(tmpdir(), 'skyhop-bench-team-'))
  writeFileSync(join(home, 'config.yaml'), 'providers:\n  slurm: {enabled: false}\n')
  writeFileSync(join(home, 'job.yaml'), 'name: team\nrun: "true"\n')
  const env = {...process.env, SKYHOP_HOME: home, CI: '1'}
  if (url) env.SKYHOP_DATABASE_URL = url
  else delete env.SKYHOP_DATABASE_URL
  return {home, env, url}
}

/** CLIENTS processes, each launching LAUNCHES_PER_CLIENT jobs one after another: launches per second. */
async function launches(w) {
  const {spawn} = await import('node:child_process')
  const client = () =>
    new Promise((resolve, reject) => {
      const script = `for i in $(seq 1 ${LAUNCHES_PER_CLIENT}); do "${process.execPath}" "${BIN}" launch "${w.home}/job.yaml" -y --wait >/dev/null || exit 1; done`
      const child = spawn('bash', ['-c', script], {env: w.env, stdio: ['ignore', 'ignore', 'pipe']})
      let err = ''
      child.stderr.on('data', (d) => (err += d))
      child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`a client's launch failed: ${err.slice(-2000)}`))))
    })
  const t0 = process.hrtime.bigint()
  await Promise.all(Array.from({length: CLIENTS}, client))
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  const n = CLIENTS * LAUNCHES_PER_CLIENT
  return {launches: n, seconds, perSecond: n / seconds}
}

/** JOBS jobs with one ended attempt each, written through the store (one transaction per 1,000). */
function seed(w) {
  const store = Store.open(w.home, {databaseUrl: w.url})
  const spec = {name: 'seeded', run: 'true', resources: {}}
  for (let done = 0; done < JOBS; done += 1000) {
    store.transaction(() => {
      for (let i = done; i < Math.min(JOBS, done + 1000); i++) {
        const job = store.createJob({name: `seeded-${i}`, file: null, spec})
        const a = store.recordAttemptIntent({
          jobId: job.id,
          provider: 'local',
          region: 'local',
          zone: null,
          instanceType: 'local',
          accelerator: null,
          acceleratorCount: null,
          spot: false,
          pricePerHour: 0,
          currency: 'USD',
          onDemandPricePerHour: 0,
        })
        store.updateAttempt(a.id, {state: 'SUCCEEDED', exitCode: 0, endedAt: new Date().toISOString()})
        store.setJobState(job.id, 'SUCCEEDED', {kind: 'job-succeeded'}, {exitCode: 0})
      }
    })
  }
  return store
}

function statusTimes(w) {
  const {times} = measureProcess(process.execPath, [BIN, 'status', '--all-users'], {runs: STATUS_RUNS, env: w.env})
  return {p50: median(times), p99: percentile(times, 99), max: Math.max(...times)}
}

function bridge(store) {
  const id = store.listJobs({limit: 1})[0].id
  let t0 = process.hrtime.bigint()
  for (let i = 0; i < BRIDGE_CALLS; i++) store.getJob(id)
  const readUs = Number(process.hrtime.bigint() - t0) / 1e3 / BRIDGE_CALLS
  t0 = process.hrtime.bigint()
  for (let i = 0; i < BRIDGE_CALLS / 10; i++) store.addEvent(id, null, 'bench', {i})
  const writeUs = Number(process.hrtime.bigint() - t0) / 1e3 / (BRIDGE_CALLS / 10)
  return {readUs, writeUs}
}

const name = `skyhop_bench_${process.pid}`
try {
  await admin(`CREATE DATABASE ${name}`)
} catch (error) {
  console.error(`team: no PostgreSQL at ${BASE_URL.replace(/:[^:@/]*@/, ':***@')} (${error.message}); run \`bash scripts/postgres-up.sh\``)
  process.exit(1)
}
try {
  const node = nodeBaseline(quick ? 5 : 10)
  const pgWorld = world(databaseUrl(name))
  const sqliteWorld = world(null)
  // Warm: the first launch of each world migrates its store.
  for (const w of [pgWorld, sqliteWorld]) {
    const r = runOnce(process.execPath, [BIN, 'launch', join(w.home, 'job.yaml'), '-y', '--wait'], {env: w.env})
    if (r.status !== 0) throw new Error(`warm-up launch failed: ${r.stderr}`)
  }

  console.log(`launches: ${CLIENTS} clients × ${LAUNCHES_PER_CLIENT}`)
  const launchRows = []
  for (const [engine, w] of [
    ['sqlite', sqliteWorld],
    ['postgres', pgWorld],
  ]) {
    launchRows.push({engine, ...(await launches(w))})
  }
  launchRows.forEach((r) => (r.vsSqlite = r.perSecond / launchRows[0].perSecond))

  console.log(`seeding ${JOBS} jobs into each store`)
  const statusRows = []
  const bridgeRows = []
  for (const [engine, w] of [
    ['sqlite', sqliteWorld],
    ['postgres', pgWorld],
  ]) {
    const t0 = Date.now()
    const store = seed(w)
    const seedSeconds = (Date.now() - t0) / 1000
    bridgeRows.push({engine, ...bridge(store)})
    store.close()
    const s = statusTimes(w)
    statusRows.push({
      engine,
      jobs: JOBS + 1 + CLIENTS * LAUNCHES_PER_CLIENT,
      seedSeconds,
      ...s,
      vsNode: s.p99 / node.ms,
      goal: s.p99 <= GOAL_P99_MS,
    })
  }
  bridgeRows.forEach((r) => {
    r.readVsSqlite = r.readUs / bridgeRows[0].readUs
    r.writeVsSqlite = r.writeUs / bridgeRows[0].writeUs
  })

  const launchTable = table(launchRows, [
    ['engine', 'engine', 'text'],
    ['launches', 'launches', 0],
    ['wall s', 'seconds', 2],
    ['launches/s', 'perSecond', 2],
    ['× sqlite', 'vsSqlite', 2],
  ])
  const statusTable = table(statusRows, [
    ['engine', 'engine', 'text'],
    ['jobs', 'jobs', 0],
    ['seed s', 'seedSeconds', 1],
    ['p50 ms', 'p50', 0],
    ['p99 ms', 'p99', 0],
    ['p99 × node -e 0', 'vsNode', 1],
    [`p99 ≤ ${GOAL_P99_MS} ms`, 'goal'],
  ])
  const bridgeTable = table(bridgeRows, [
    ['engine', 'engine', 'text'],
    ['getJob µs', 'readUs', 0],
    ['addEvent µs', 'writeUs', 0],
    ['read × sqlite', 'readVsSqlite', 1],
    ['write × sqlite', 'writeVsSqlite', 1],
  ])
  const markdown = [
    `${quick ? 'Quick run. ' : ''}${CLIENTS} concurrent clients, ${LAUNCHES_PER_CLIENT} \`launch -y --wait\` each (\`run: "true"\`, local provider):`,
    '',
    launchTable,
    '',
    `\`status --all-users\` (${STATUS_RUNS} runs; \`node -e 0\`: ${fmt(node.ms)} ms; load average ${loadavg()[0].toFixed(1)} at the end):`,
    '',
    statusTable,
    '',
    `The store in-process, ${BRIDGE_CALLS} reads and ${BRIDGE_CALLS / 10} writes:`,
    '',
    bridgeTable,
  ].join('\n')
  console.log(markdown)
  const files = record(
    quick ? 'team-quick' : 'team',
    {quick, clients: CLIENTS, node, launches: launchRows, status: statusRows, bridge: bridgeRows, machine: machine()},
    markdown,
  )
  console.log(`\nwrote ${files.join(', ')}`)
} finally {
  await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
}
