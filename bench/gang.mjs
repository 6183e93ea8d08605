// Issue 18 benchmark: multi-node jobs (gangs) through the built CLI, as a user runs them.
//   - launch → every rank's first output line: from starting `skyhop launch FILE --yes
//     --wait` (nodes: 1, 2, 4) to the moment the last rank printed its first line, each
//     rank stamping that moment (EPOCHREALTIME) beside the line; against, in the same run,
//     the same script started directly as N bash processes at once, and bare `node -e 0`.
//     Peak RSS of the launch process (GNU time).
//   - a notice to one rank → SIGTERM at every rank (goal ≤ 1 s): a gang of 4 launched with
//     `--detach`; one rank's runner gets SIGTERM, as a machine's reclaim would send it (its
//     pid from `skyhop status --json`); each rank's TERM trap stamps when it ran. Baseline:
//     a shell's `kill -TERM` to every one of N bash processes with the same trap.
// Local by default. With `--slurm` the launch figures are measured on Slurm too (the job is
// placed with `--provider slurm` on the gang-high partition of scripts/slurm-up.sh, 4 nodes);
// the notice figure stays local (a Slurm node's runner is not this machine's process to
// signal).
// Run after `npm run build`: node bench/gang.mjs [runs=10] [notices=10] [--slurm]
import {spawn} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {BIN, median, nodeBaseline, percentile, record, runOnce, table} from './lib.mjs'

const GOAL_NOTICE_MS = 1000
const args = process.argv.slice(2)
const slurm = args.includes('--slurm')
const [runs = 10, notices = 10] = args.filter((a) => !a.startsWith('--')).map(Number)
const SIZES = [1, 2, 4]

const home = mkdtempSync(join(tmpdir(), 'skyhop-bench-gang-'))
const MARKS = join(home, 'marks')
mkdirSync(MARKS)
// The local machine holds 4 ranks whatever its CPU count: the figure is skyhop's, not the cores'.
// On Slurm, the multi-node partition of scripts/slurm-up.sh (Hidden, so it is named).
const slurmConfig = slurm ? '{enabled: true, partitions: [gang-high]}' : '{enabled: false}'
writeFileSync(join(home, 'config.yaml'), `providers:\n  slurm: ${slurmConfig}\n  local: {max_nodes: 4}\n`)
const env = {...process.env, SKYHOP_HOME: home, SKYHOP_CONFIG: join(home, 'config.yaml'), CI: '1'}

const stamp = (name) => `printf %s "\${EPOCHREALTIME/./}" > "$MARKS/$RUN_ID/${name}-\${SKYHOP_NODE_RANK:-0}"`
const usOf = (path) => Number(readFileSync(path, 'utf8').trim()) / 1000

function jobFile(name, nodes, lines) {
  const file = join(home, `${name}-${nodes}.yaml`)
  const run = lines.map((l) => `  ${l}`).join('\n')
  writeFileSync(file, `name: ${name}\nnodes: ${nodes}\nrecovery: {grace: 20s, max_restarts: 3}\nrun: |\n${run}\n`)
  return file
}

async function waitForFiles(paths, timeoutMs = 60_000) {
  const end = Date.now() + timeoutMs
  while (!paths.every((p) => existsSync(p) && readFileSync(p, 'utf8').trim() !== '')) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${paths.filter((p) => !existsSync(p)).join(', ')}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

function cli(argv, extraEnv = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...argv], {env: {...env, ...extraEnv}, stdio: ['ignore', 'pipe', 'pipe']})
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`skyhop ${argv.join(' ')} exited ${code}: ${err.slice(0, 2000)}`)),
    )
  })
}

let runCounter = 0
const newRun = () => {
  const id = `r${++runCounter}`
  mkdirSync(join(MARKS, id))
  return id
}

// ---------------------------------------------------------------- launch → every rank's first line

const FIRST = [stamp('first'), 'echo first-line']

/** The script started directly: N bash processes at once, each its own rank. */
async function directFirstLines(nodes) {
  const id = newRun()
  const t0 = Date.now()
  const script = FIRST.join('\n')
  await Promise.all(
    Array.from(
      {length: nodes},
      (_, rank) =>
        new Promise((resolve) =>
          spawn('bash', ['-c', script], {env: {...env, MARKS, RUN_ID: id, SKYHOP_NODE_RANK: String(rank)}, stdio: 'ignore'}).on(
            'exit',
            resolve,
          ),
        ),
    ),
  )
  const stamps = Array.from({length: nodes}, (_, rank) => usOf(join(MARKS, id, `first-${rank}`)))
  return Math.max(...stamps) - t0
}

async function skyhopFirstLines(nodes, provider) {
  const id = newRun()
  const file = jobFile(`gang-first-${provider}`, nodes, FIRST)
  const t0 = Date.now()
  await cli(['launch', file, '--yes', '--wait', '--provider', provider, '--env', `MARKS=${MARKS}`, '--env', `RUN_ID=${id}`])
  const paths = Array.from({length: nodes}, (_, rank) => join(MARKS, id, `first-${rank}`))
  await waitForFiles(paths)
  return Math.max(...paths.map(usOf)) - t0
}

const launchRows = []
for (const provider of slurm ? ['local', 'slurm'] : ['local']) {
  for (const nodes of SIZES) {
    const direct = []
    const via = []
    let error = null
    try {
      for (let i = 0; i <= runs; i++) {
        const d = await directFirstLines(nodes)
        const s = await skyhopFirstLines(nodes, provider)
        if (i > 0) {
          direct.push(d)
          via.push(s)
        }
      }
    } catch (e) {
      error = e.message.split('\n')[0].slice(0, 300)
    }
    // Peak RSS of whole launch processes, apart from the timed runs.
    const rss = []
    if (error === null) {
      for (let i = 0; i < Math.min(runs, 3); i++) {
        const r = runOnce(
          process.execPath,
          [
            BIN,
            'launch',
            jobFile(`gang-first-${provider}`, nodes, FIRST),
            '--yes',
            '--wait',
            '--provider',
            provider,
            '--env',
            `MARKS=${MARKS}`,
            '--env',
            `RUN_ID=${newRun()}`,
          ],
          {env},
        )
        if (r.status !== 0) throw new Error(`launch exited ${r.status}: ${String(r.stderr).slice(0, 1000)}`)
        if (r.rssMB !== null) rss.push(r.rssMB)
      }
    }
    launchRows.push({
      provider,
      nodes,
      directMs: direct.length ? median(direct) : null,
      medianMs: via.length ? median(via) : null,
      p90Ms: via.length ? percentile(via, 90) : null,
      addedMs: via.length ? median(via) - median(direct) : null,
      rssMB: rss.length ? median(rss) : null,
      error,
    })
  }
}

// ---------------------------------------------------------------- notice to one rank → SIGTERM at every rank

const NOTICE_NODES = 4
const TRAPPED = [
  'if [ "$SKYHOP_ATTEMPT" = 1 ]; then',
  `  trap '${stamp('term')}; exit 0' TERM`,
  `  ${stamp('ready')}`,
  '  while :; do sleep 0.05 & wait $!; done',
  'fi',
]

/** A shell's kill -TERM to each of N bash processes with the same trap: the floor. */
async function directNotice(nodes) {
  const id = newRun()
  const script = TRAPPED.join('\n')
  const children = Array.from({length: nodes}, (_, rank) =>
    spawn('bash', ['-c', script], {
      env: {...env, MARKS, RUN_ID: id, SKYHOP_ATTEMPT: '1', SKYHOP_NODE_RANK: String(rank)},
      stdio: 'ignore',
      detached: true,
    }),
  )
  await waitForFiles(children.map((_, rank) => join(MARKS, id, `ready-${rank}`)))
  const sentAt = Date.now()
  await new Promise((resolve) =>
    spawn('bash', ['-c', 'kill -TERM "$@"', 'bash', ...children.map((c) => String(c.pid))], {stdio: 'ignore'}).on('exit', resolve),
  )
  const paths = children.map((_, rank) => join(MARKS, id, `term-${rank}`))
  await waitForFiles(paths)
  for (const c of children) {
    try {
      process.kill(-c.pid, 'SIGKILL')
    } catch {}
  }
  return Math.max(...paths.map(usOf)) - sentAt
}

async function gangNotice() {
  const id = newRun()
  const file = jobFile('gang-notice', NOTICE_NODES, TRAPPED)
  const launched = JSON.parse(
    await cli(['launch', file, '--yes', '--detach', '--json', '--provider', 'local', '--env', `MARKS=${MARKS}`, '--env', `RUN_ID=${id}`]),
  )
  const jobId = launched.result.job.id
  await waitForFiles(Array.from({length: NOTICE_NODES}, (_, rank) => join(MARKS, id, `ready-${rank}`)))
  const status = JSON.parse(await cli(['status', jobId, '--json'])).result.job
  const nodes = status.attemptsDetail[0].nodes
  if (!nodes || nodes.length !== NOTICE_NODES)
    throw new Error(`status shows no gang of ${NOTICE_NODES}: ${JSON.stringify(status.attemptsDetail[0])}`)
  // The last rank's runner alone hears the notice.
  const sentAt = Date.now()
  process.kill(Number(nodes[NOTICE_NODES - 1].externalId), 'SIGTERM')
  const paths = Array.from({length: NOTICE_NODES}, (_, rank) => join(MARKS, id, `term-${rank}`))
  await waitForFiles(paths)
  const perRank = paths.map((p) => usOf(p) - sentAt)
  return {
    everyRankMs: Math.max(...perRank),
    noticedRankMs: perRank[NOTICE_NODES - 1],
    spreadMs: Math.max(...perRank) - Math.min(...perRank),
  }
}

const directNotices = []
const gangNotices = []
for (let i = 0; i <= notices; i++) {
  const d = await directNotice(NOTICE_NODES)
  const g = await gangNotice()
  if (i > 0) {
    directNotices.push(d)
    gangNotices.push(g)
  }
}
const base = nodeBaseline(runs)

// ---------------------------------------------------------------- results

const launchTable = table(
  launchRows.map((r) => ({
    ...r,
    ratio: r.medianMs === null ? null : (r.medianMs / base.ms).toFixed(2) + '×',
    error: r.error ?? '',
  })),
  [
    ['provider', 'provider', 'text'],
    ['nodes', 'nodes', 0],
    ['direct bash ×N ms', 'directMs', 1],
    ['skyhop median ms', 'medianMs', 1],
    ['skyhop p90 ms', 'p90Ms', 1],
    ['added ms', 'addedMs', 1],
    ['÷ node -e 0', 'ratio', 'text'],
    ['peak RSS MB', 'rssMB', 1],
    ['error', 'error', 'text'],
  ],
)
const every = gangNotices.map((g) => g.everyRankMs)
const noticeRows = [
  {
    case: `kill -TERM to ${NOTICE_NODES} bash processes (direct), to the last trap`,
    medianMs: median(directNotices),
    p90Ms: percentile(directNotices, 90),
    maxMs: Math.max(...directNotices),
  },
  {case: 'noticed rank: SIGTERM to its runner → its trap', ...stats(gangNotices.map((g) => g.noticedRankMs))},
  {case: `every rank of ${NOTICE_NODES}: SIGTERM to one runner → the last trap`, ...stats(every)},
  {case: 'spread between the first and the last rank', ...stats(gangNotices.map((g) => g.spreadMs))},
]
function stats(xs) {
  return {medianMs: median(xs), p90Ms: percentile(xs, 90), maxMs: Math.max(...xs)}
}
const noticeTable = table(noticeRows, [
  ['case', 'case', 'text'],
  ['median ms', 'medianMs', 1],
  ['p90 ms', 'p90Ms', 1],
  ['max ms', 'maxMs', 1],
])
const met = Math.max(...every) <= GOAL_NOTICE_MS
const out = [
  `### Launch → every rank's first output line (\`skyhop launch --yes --wait\`, ${runs} runs each after a warm-up)`,
  '',
  launchTable,
  '',
  `Bare \`node -e 0\`: ${base.ms.toFixed(1)} ms, ${base.rssMB === null ? '?' : base.rssMB.toFixed(1)} MB.`,
  '',
  `### A notice to one rank → SIGTERM at every rank (local, gang of ${NOTICE_NODES}, ${notices} notices)`,
  '',
  noticeTable,
  '',
  `Every rank's SIGTERM within ${GOAL_NOTICE_MS} ms of the notice to one rank (max ${Math.max(...every).toFixed(0)} ms): goal ${met ? 'met' : 'NOT met'}.`,
].join('\n')
console.log(out)
const files = record(
  'gang',
  {runs, notices, slurm, launchRows, noticeRows, goalNoticeMs: GOAL_NOTICE_MS, met, nodeBaselineMs: base.ms},
  `Through the built CLI; each rank stamps its own first line and its TERM trap (EPOCHREALTIME).\n\n${out}`,
)
console.log(`recorded: ${files.join(', ')}`)
