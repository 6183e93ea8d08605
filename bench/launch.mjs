// Issue 17 benchmark: time from `skyhop launch FILE --yes --wait` starting to the job's first
// output line on the local provider, against spawning the same command directly (bash -c RUN)
// and bare Node start, in the same run; peak RSS of the skyhop process. Goal: at most 150 ms
// added over the direct command.
// Run after `npm run build`: node bench/launch.mjs [runs]
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {BIN, median, nodeBaseline, percentile, record, runOnce, table, timeToOutput} from './lib.mjs'

const GOAL_MS = 150
const runs = Number(process.argv[2] ?? 20)
const home = mkdtempSync(join(tmpdir(), 'skyhop-bench-launch-'))
writeFileSync(join(home, 'config.yaml'), 'providers:\n  slurm: {enabled: false}\n')
const run = 'echo first-line'
const job = join(home, 'job.yaml')
writeFileSync(job, `name: bench\nrun: ${run}\n`)
const env = {...process.env, SKYHOP_HOME: home, CI: '1'}
const launchArgs = [BIN, 'launch', job, '--yes', '--wait']
const hasLine = (out) => out.includes('first-line')

const direct = []
const viaSkyhop = []
for (let i = 0; i <= runs; i++) {
  const d = await timeToOutput('bash', ['-c', run], hasLine, {env})
  const s = await timeToOutput(process.execPath, launchArgs, hasLine, {env})
  if (i > 0) {
    direct.push(d)
    viaSkyhop.push(s)
  }
}
// Peak RSS of whole launch processes (GNU time), measured apart from the timed runs.
const rss = []
for (let i = 0; i < Math.min(runs, 5); i++) {
  const r = runOnce(process.execPath, launchArgs, {env})
  if (r.status !== 0) throw new Error(`launch exited ${r.status}: ${String(r.stderr).slice(0, 1000)}`)
  if (r.rssMB !== null) rss.push(r.rssMB)
}
const base = nodeBaseline(runs)
const md = median(direct)
const ms = median(viaSkyhop)
const added = ms - md
const rows = [
  {case: 'node -e 0 (whole process)', medianMs: base.ms, p90Ms: null, rssMB: base.rssMB},
  {case: `bash -c "${run}" (direct, to its first line)`, medianMs: md, p90Ms: percentile(direct, 90), rssMB: null},
  {
    case: 'skyhop launch --yes --wait, local provider (to the first line)',
    medianMs: ms,
    p90Ms: percentile(viaSkyhop, 90),
    rssMB: rss.length ? median(rss) : null,
  },
]
const out = [
  table(rows, [
    ['case', 'case', 'text'],
    ['median ms', 'medianMs', 1],
    ['p90 ms', 'p90Ms', 1],
    ['peak RSS MB', 'rssMB', 1],
  ]),
  '',
  `Added by skyhop over the direct command (median): **${added.toFixed(0)} ms** (goal ≤ ${GOAL_MS} ms: ${added <= GOAL_MS ? 'met' : 'NOT met'}); that is ${(ms / base.ms).toFixed(2)}× a bare \`node -e 0\`.`,
].join('\n')
console.log(out)
const files = record(
  'launch',
  {runs, rows, addedMs: +added.toFixed(1), goalMs: GOAL_MS, met: added <= GOAL_MS, nodeBaselineMs: base.ms},
  `${runs} runs each after a warm-up, alternating; time to the job's first output line. Peak RSS from ${rss.length} separate whole runs.\n\n${out}`,
)
console.log(`recorded: ${files.join(', ')}`)
