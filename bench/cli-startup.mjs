// Issue 2 benchmark: cold start of the CLI against bare Node start, in the same run.
// Goals: `--version` ≤ 3× `node -e 0`; `validate examples/*.yaml` ≤ 4×.
// Run after `npm run build`: node bench/cli-startup.mjs [runs]
import {readdirSync} from 'node:fs'
import {join} from 'node:path'

import {median, record, timeProcess} from './lib.mjs'

const root = join(import.meta.dirname, '..')
const runs = Number(process.argv[2] ?? 20)
const bin = join(root, 'bin', 'run.js')
const examples = readdirSync(join(root, 'examples'))
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => join('examples', f))
const env = {...process.env, SKYHOP_HOME: '/tmp/skyhop-bench-startup'}

const cases = [
  {name: 'node -e 0', args: ['-e', '0']},
  {name: 'skyhop --version', args: [bin, '--version'], goal: 3},
  {name: `skyhop validate examples/*.yaml (${examples.length} files)`, args: [bin, 'validate', ...examples], goal: 4},
  {name: 'skyhop --help', args: [bin, '--help']},
]
const rows = []
let baseline
for (const c of cases) {
  const t = timeProcess(process.execPath, c.args, {runs, env, cwd: root})
  const m = median(t)
  baseline ??= m
  rows.push({
    case: c.name,
    medianMs: +m.toFixed(1),
    ratio: +(m / baseline).toFixed(2),
    goalRatio: c.goal ?? null,
    met: c.goal ? m / baseline <= c.goal : null,
  })
}
const table = [
  '| case | median ms | × node -e 0 | goal | met |',
  '|---|---:|---:|---:|---|',
  ...rows.map((r) => `| ${r.case} | ${r.medianMs} | ${r.ratio} | ${r.goalRatio ?? ''} | ${r.met === null ? '' : r.met ? 'yes' : 'NO'} |`),
].join('\n')
console.log(table)
const files = record('cli-startup', {runs, rows}, `${runs} runs each, after one warm-up; wall time of a whole process.\n\n${table}`)
console.log(`recorded: ${files.join(', ')}`)
