#!/usr/bin/env node
// The suite `npm test` runs after the build and lint (and so CI): every test file on SQLite,
// the default engine, and again with the state on PostgreSQL (SKYHOP_TEST_ENGINE=postgres,
// test/helpers/pg-suite.ts). One after the other the two passes take about an hour here,
// while the suite mostly waits (for processes, Slurm, containers, timers: a whole PostgreSQL
// pass used 27% of one core over its 33 minutes). So the work is cut into batches that two
// workers take from one queue, each batch one mocha run of some files on one engine:
//   - the cluster batch: the files that use the machine-wide services, which they cannot
//     share with a test running at the same time: the Slurm cluster (tests wait for it to be
//     idle, fill its nodes, preempt on its one-node partitions), podman and docker. A file
//     belongs here when it imports, itself or through the test modules it imports,
//     test/helpers/slurm.ts, podman.ts or docker.ts (found from the sources, never listed by
//     hand). Its runs (one per engine) never run at the same time as each other;
//   - the other files, dealt round-robin into REST_BATCHES batches per engine, so that each
//     mixes quick unit files with slow integration ones.
// The longest batches go first (the cluster's), so the workers end close together. Each
// line of output is tagged with its batch and engine; each failed run's failures are printed
// again at the end, with a table of the runs. Exit status 1 when any run failed.
// Usage: node scripts/test-suite.mjs [--engines sqlite,postgres] [--jobs 2] [--lanes] (--lanes: print the batches)
import {spawn} from 'node:child_process'
import {readdirSync, readFileSync} from 'node:fs'
import {dirname, join, relative, resolve} from 'node:path'

const ROOT = resolve(import.meta.dirname, '..')
const TEST = join(ROOT, 'test')
/** The helpers of the machine-wide services. */
const SHARED_SERVICES = ['slurm.ts', 'podman.ts', 'docker.ts'].map((f) => join(TEST, 'helpers', f))

function walk(dir) {
  return readdirSync(dir, {withFileTypes: true}).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]))
}

/** The test modules (under test/) a file imports, by relative specifier. */
function localImports(file) {
  const text = readFileSync(file, 'utf8')
  const found = []
  for (const m of text.matchAll(/(?:from|import\()\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
    const target = resolve(dirname(file), m[1].replace(/\.js$/, '.ts'))
    if (target.startsWith(TEST + '/')) found.push(target)
  }
  return found
}

const usesShared = new Map()
/** Whether a test module reaches a machine-wide service's helper, through any chain of test modules. */
function reachesShared(file, seen = new Set()) {
  if (usesShared.has(file)) return usesShared.get(file)
  if (SHARED_SERVICES.includes(file)) return true
  if (seen.has(file)) return false
  seen.add(file)
  let imports = []
  try {
    imports = localImports(file)
  } catch {
    imports = []
  }
  const result = imports.some((f) => reachesShared(f, seen))
  usesShared.set(file, result)
  return result
}

function lanes() {
  const files = walk(TEST)
    .filter((f) => f.endsWith('.test.ts'))
    .sort()
  const cluster = files.filter((f) => reachesShared(f))
  const rest = files.filter((f) => !cluster.includes(f))
  return {cluster, rest}
}

const args = process.argv.slice(2)
const split = lanes()
const enginesArg = args[args.indexOf('--engines') + 1]
const engines = args.includes('--engines') ? enginesArg.split(',') : ['sqlite', 'postgres']
for (const e of engines) if (e !== 'sqlite' && e !== 'postgres') throw new Error(`--engines: sqlite or postgres, not "${e}"`)

const MOCHA = join(ROOT, 'node_modules', '.bin', 'mocha')

/** One mocha run of a lane's files on one engine; its output streamed with a tag, kept for the summary. */
function runMocha(lane, engine, files) {
  const tag = `[${lane}/${engine}]`
  const started = Date.now()
  return new Promise((done) => {
    const env = {...process.env, SKYHOP_TEST_ENGINE: engine}
    const child = spawn(
      MOCHA,
      files.map((f) => relative(ROOT, f)),
      {cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe']},
    )
    const lines = []
    for (const stream of [child.stdout, child.stderr]) {
      let rest = ''
      stream.setEncoding('utf8')
      stream.on('data', (chunk) => {
        const parts = (rest + chunk).split('\n')
        rest = parts.pop()
        for (const line of parts) {
          lines.push(line)
          process.stdout.write(`${tag} ${line}\n`)
        }
      })
      stream.on('end', () => {
        if (rest !== '') {
          lines.push(rest)
          process.stdout.write(`${tag} ${rest}\n`)
        }
      })
    }
    child.on('close', (code, signal) => {
      done({lane, engine, files: files.length, code: code ?? 1, signal, ms: Date.now() - started, lines})
    })
  })
}

/** How many batches the files outside the cluster batch are dealt into, per engine. */
const REST_BATCHES = 6
// Two: the suite waits far more than it computes (27% of one core per pass). Three took 22
// minutes in all here, but each of two runs had one test of a fake cloud's gang fail that waits
// for slow-booting nodes; two workers take about 35.
const jobsArg = args.includes('--jobs') ? Number(args[args.indexOf('--jobs') + 1]) : 2
if (!Number.isInteger(jobsArg) || jobsArg < 1) throw new Error(`--jobs: a whole number ≥ 1, not "${args[args.indexOf('--jobs') + 1]}"`)

const queue = []
for (const engine of engines) queue.push({lane: 'cluster', engine, files: split.cluster, exclusive: true})
for (const engine of engines) {
  for (let b = 0; b < REST_BATCHES; b++) {
    const files = split.rest.filter((_, i) => i % REST_BATCHES === b)
    if (files.length > 0) queue.push({lane: `rest-${b + 1}`, engine, files, exclusive: false})
  }
}

if (args.includes('--lanes')) {
  for (const job of queue) {
    console.log(`${job.lane}/${job.engine}${job.exclusive ? ' (never beside the other cluster run)' : ''}: ${job.files.length} files`)
    for (const f of job.files) console.log(`  ${relative(ROOT, f)}`)
  }
  process.exit(0)
}

const results = []
let exclusiveRunning = false
/** Workers waiting for the running cluster batch to end. */
const waiting = []
/** One worker: takes the next batch it may run (a cluster batch only while no other runs), until none is left. */
async function worker() {
  for (;;) {
    const i = queue.findIndex((job) => !job.exclusive || !exclusiveRunning)
    if (i < 0) {
      if (queue.length === 0) return
      // Only a cluster batch is left and the other worker runs one: wait for it.
      await new Promise((resolve) => waiting.push(resolve))
      continue
    }
    const [job] = queue.splice(i, 1)
    if (job.exclusive) exclusiveRunning = true
    results.push(await runMocha(job.lane, job.engine, job.files))
    if (job.exclusive) {
      exclusiveRunning = false
      for (const resume of waiting.splice(0)) resume()
    }
  }
}
await Promise.all(Array.from({length: jobsArg}, () => worker()))

const count = (lines, word) => {
  const line = lines.find((l) => new RegExp(`^\\s+\\d+ ${word}`).test(l))
  return line ? Number(line.trim().split(' ')[0]) : 0
}
let failed = false
for (const r of results) {
  if (r.code === 0) continue
  failed = true
  const from = r.lines.findIndex((l) => /^\s+\d+ failing/.test(l))
  console.log(`\n===== ${r.lane} on ${r.engine}: exit ${r.code}${r.signal ? ` (${r.signal})` : ''} =====`)
  console.log((from >= 0 ? r.lines.slice(from) : r.lines.slice(-80)).join('\n'))
}
console.log('\nbatch     engine    files  passing  failing  pending  minutes')
for (const r of results) {
  const cells = [
    r.lane.padEnd(9),
    r.engine.padEnd(8),
    String(r.files).padStart(6),
    String(count(r.lines, 'passing')).padStart(8),
    String(count(r.lines, 'failing')).padStart(8),
    String(count(r.lines, 'pending')).padStart(8),
    (r.ms / 60_000).toFixed(1).padStart(8),
  ]
  console.log(cells.join(' '))
}
process.exit(failed ? 1 : 0)
