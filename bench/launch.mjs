// Issue 5 benchmark: time from `skyhop launch FILE --yes --wait` starting to the job's
// first output line on the local provider, against spawning the same command directly
// (bash -c RUN) in the same run. Goal: at most 300 ms added.
// Run after `npm run build`: node bench/launch.mjs [runs]
import {spawn} from 'node:child_process'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {median, percentile, record} from './lib.mjs'

const root = join(import.meta.dirname, '..')
const runs = Number(process.argv[2] ?? 20)
const home = mkdtempSync(join(tmpdir(), 'skyhop-bench-launch-'))
writeFileSync(join(home, 'config.yaml'), 'providers:\n  slurm: {enabled: false}\n')
const run = 'echo first-line'
const job = join(home, 'job.yaml')
writeFileSync(job, `name: bench\nrun: ${run}\n`)
const env = {...process.env, SKYHOP_HOME: home, CI: '1'}

function firstLine(cmd, args) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint()
    const child = spawn(cmd, args, {env, cwd: root, stdio: ['ignore', 'pipe', 'ignore']})
    let done = false
    child.stdout.on('data', (d) => {
      if (!done && d.toString().includes('first-line')) {
        done = true
        resolve(Number(process.hrtime.bigint() - t0) / 1e6)
      }
    })
    child.on('close', (code) => {
      if (!done) reject(new Error(`${cmd} exited ${code} before the first line`))
    })
  })
}

const direct = []
const viaSkyhop = []
for (let i = 0; i <= runs; i++) {
  const d = await firstLine('bash', ['-c', run])
  const s = await firstLine(process.execPath, [join(root, 'bin', 'run.js'), 'launch', job, '--yes', '--wait'])
  if (i > 0) {
    direct.push(d)
    viaSkyhop.push(s)
  }
}
const md = median(direct)
const ms = median(viaSkyhop)
const rows = [
  {case: 'bash -c "echo first-line" (direct)', medianMs: +md.toFixed(1), p90Ms: +percentile(direct, 90).toFixed(1)},
  {case: 'skyhop launch --yes --wait (local provider)', medianMs: +ms.toFixed(1), p90Ms: +percentile(viaSkyhop, 90).toFixed(1)},
]
const added = ms - md
const table = [
  '| case | median ms | p90 ms |',
  '|---|---:|---:|',
  ...rows.map((r) => `| ${r.case} | ${r.medianMs} | ${r.p90Ms} |`),
  '',
  `Added by skyhop (median): **${added.toFixed(0)} ms** (goal ≤ 300 ms: ${added <= 300 ? 'met' : 'NOT met'}); ratio ${(ms / md).toFixed(1)}×.`,
].join('\n')
console.log(table)
const files = record(
  'launch',
  {runs, rows, addedMs: +added.toFixed(1), goalMs: 300, met: added <= 300},
  `${runs} runs each after a warm-up; time to the job's first output line.\n\n${table}`,
)
console.log(`recorded: ${files.join(', ')}`)
