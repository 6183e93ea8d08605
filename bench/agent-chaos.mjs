// Issue 22's agent run at its full size: three `skyhop agent` processes of the built CLI drive
// 200 short jobs of two users, half on the local provider and half on the Slurm cluster of
// scripts/slurm-up.sh, while they are SIGKILLed at random moments and restarted — on SQLite
// and on PostgreSQL. It runs the suite's own test (test/integration/agent.test.ts, which CI
// runs at 24 local jobs) with SKYHOP_AGENT_TEST_JOBS=200 and SKYHOP_AGENT_TEST_SLURM=1, and
// records what it printed: jobs finished, agents killed, and its verdict (0 lost, 0 run
// twice, 0 left holding a lock). Baseline, measured in the same run: one clean
// `launch --wait` of the same kind of job on the local provider, so the wall time per job
// under chaos reads as a ratio to an untroubled one.
// Run after `npm run build`, scripts/slurm-up.sh and scripts/postgres-up.sh:
//   node bench/agent-chaos.mjs [jobs=200]
import {spawnSync} from 'node:child_process'
import {createRequire} from 'node:module'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {BIN, ROOT, median, record} from './lib.mjs'

const jobs = Number(process.argv[2] ?? 200)
const work = mkdtempSync(join(tmpdir(), 'skyhop-bench-agent-chaos-'))
const databaseUrl = process.env.SKYHOP_TEST_DATABASE_URL || 'postgres://skyhop:skyhop@127.0.0.1:5432/skyhop'

function baseline(runs = 3) {
  writeFileSync(join(work, 'config.yaml'), 'providers:\n  slurm: {enabled: false}\n')
  const file = join(work, 'job.yaml')
  writeFileSync(file, 'name: base\nrun: sleep 2\n')
  const ms = []
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now()
    const r = spawnSync(process.execPath, [BIN, 'launch', file, '--yes', '--wait', '--json'], {
      env: {...process.env, SKYHOP_HOME: join(work, 'baseline'), SKYHOP_CONFIG: join(work, 'config.yaml')},
      encoding: 'utf8',
    })
    if (r.status !== 0) throw new Error(`baseline launch failed: ${r.stderr}`)
    ms.push(performance.now() - t0)
  }
  return median(ms)
}

/** A database of its own for the PostgreSQL run, through the pg driver skyhop ships with. */
async function scratchDatabase() {
  const pg = createRequire(import.meta.url)('pg')
  const name = `skyhop_bench_agent_${process.pid}`
  const admin = new pg.Client({connectionString: databaseUrl})
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  const url = new URL(databaseUrl)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    drop: async () => {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await admin.end()
    },
  }
}

function runTest(engine, env) {
  const t0 = performance.now()
  const r = spawnSync(
    process.execPath,
    [join(ROOT, 'node_modules', 'mocha', 'bin', 'mocha.js'), 'test/integration/agent.test.ts', '-g', 'three agents', '--timeout', '0'],
    {cwd: ROOT, env: {...process.env, ...env, SKYHOP_AGENT_TEST_JOBS: String(jobs), SKYHOP_AGENT_TEST_SLURM: '1'}, encoding: 'utf8'},
  )
  const wallMs = performance.now() - t0
  const out = `${r.stdout}\n${r.stderr}`
  process.stdout.write(out)
  const head = out.match(/(\d+) jobs \(half on Slurm\), chaos seed (\d+)/)
  const tail = out.match(/(\d+) agents killed; (\d+)\/(\d+) jobs succeeded in (\d+) s on ([a-z ]+)/)
  const failure = r.status === 0 ? null : (out.match(/\n\s+1\) [\s\S]{0,1500}/)?.[0].trim() ?? `mocha exit ${r.status}`)
  return {
    engine,
    mochaExit: r.status,
    seed: head ? Number(head[2]) : null,
    kills: tail ? Number(tail[1]) : null,
    succeeded: tail ? Number(tail[2]) : null,
    jobs: tail ? Number(tail[3]) : jobs,
    chaosSeconds: tail ? Number(tail[4]) : null,
    providers: tail ? tail[5].trim() : null,
    wallMs,
    failure,
  }
}

let database
try {
  const baseMs = baseline()
  const runs = [runTest('SQLite', {SKYHOP_DATABASE_URL: ''})]
  database = await scratchDatabase()
  runs.push(runTest('PostgreSQL', {SKYHOP_DATABASE_URL: database.url}))
  const rows = runs.map((x) => {
    const perJob = x.chaosSeconds === null ? null : (x.chaosSeconds * 1000) / x.jobs
    return {...x, perJobMs: perJob, ratio: perJob === null ? null : perJob / baseMs}
  })
  const md = [
    `${jobs} short jobs (sleep 1–3 s) of two users, half on local and half on Slurm, driven by three agents`,
    'SIGKILLed at random moments (every 0.3–1.5 s) and restarted; lease 2 s. The verdict is the test’s:',
    'every job SUCCEEDED, each started exactly once, none ran twice at once, no lock left, both owners recorded.',
    '',
    '| engine | seed | agents killed | jobs succeeded | providers | chaos wall | per job | ÷ clean launch --wait | verdict |',
    '|---|---:|---:|---:|---|---:|---:|---:|---|',
    ...rows.map(
      (x) =>
        `| ${x.engine} | ${x.seed ?? '–'} | ${x.kills ?? '–'} | ${x.succeeded ?? '–'}/${x.jobs} | ${x.providers ?? '–'} | ${x.chaosSeconds ?? '–'} s | ${x.perJobMs === null ? '–' : `${(x.perJobMs / 1000).toFixed(2)} s`} | ${x.ratio === null ? '–' : `${x.ratio.toFixed(2)}×`} | ${x.mochaExit === 0 ? 'pass' : 'FAIL'} |`,
    ),
    '',
    `Baseline (same run): a clean \`launch --wait\` of a 2 s job on local, median of 3: ${(baseMs / 1000).toFixed(2)} s. Jobs run several at a time, so the time per job under chaos can be below it.`,
    ...rows.filter((x) => x.failure).map((x) => `\n${x.engine} failed:\n\n\`\`\`\n${x.failure}\n\`\`\``),
  ].join('\n')
  const paths = record('agent-chaos', {jobs, baselineMs: baseMs, runs: rows}, md)
  console.log(`recorded ${paths.join(', ')}`)
  process.exitCode = rows.every((x) => x.mochaExit === 0) ? 0 : 1
} finally {
  await database?.drop()
  rmSync(work, {recursive: true, force: true})
}
