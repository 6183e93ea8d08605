// Issue 17 benchmark: whole CLI processes against bare Node start, in the same run, with
// peak RSS. Goals (× `node -e 0`): cold `plan examples/train-gpu.yaml` ≤ 3 (with Slurm
// enabled as `sinfo` on PATH makes it here: no config, a fresh home per run, so no cached
// Slurm answers), `offers --all --json` to a pipe ≤ 3; `--help` is reported (oclif loads
// fully); `--version` is answered before oclif loads and says nothing about start-up.
// Run after `npm run build`: node bench/cli-startup.mjs [runs]
import {mkdtempSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {BIN, ROOT, median, nodeBaseline, record, runOnce, table} from './lib.mjs'

const runs = Number(process.argv[2] ?? 15)
const examples = readdirSync(join(ROOT, 'examples'))
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => join('examples', f))

/** `runs` runs (after one warm-up), each in a fresh SKYHOP_HOME: nothing cached from the run before. */
function measure(args, expectCode = 0) {
  const times = []
  const rss = []
  for (let i = 0; i <= runs; i++) {
    const home = mkdtempSync(join(tmpdir(), 'skyhop-bench-startup-'))
    const r = runOnce(process.execPath, [BIN, ...args], {env: {...process.env, SKYHOP_HOME: home}})
    rmSync(home, {recursive: true, force: true})
    if (r.status !== expectCode) throw new Error(`skyhop ${args.join(' ')} exited ${r.status}: ${String(r.stderr).slice(0, 1000)}`)
    if (i === 0) continue
    times.push(r.ms)
    if (r.rssMB !== null) rss.push(r.rssMB)
  }
  return {ms: median(times), rssMB: rss.length ? median(rss) : null}
}

const cases = [
  {name: 'skyhop --version (answered before oclif loads)', args: ['--version']},
  {name: 'skyhop --help', args: ['--help']},
  {name: `skyhop validate examples/*.yaml (${examples.length} files)`, args: ['validate', ...examples], goal: 4},
  {
    name: 'cold skyhop plan examples/train-gpu.yaml --all-providers (Slurm enabled)',
    args: ['plan', 'examples/train-gpu.yaml', '--all-providers'],
    goal: 3,
  },
  {
    name: 'cold skyhop plan examples/train-gpu.yaml (enabled providers only: exits 5)',
    args: ['plan', 'examples/train-gpu.yaml'],
    code: 5,
    goal: 3,
  },
  {name: 'skyhop offers --all --json, piped', args: ['offers', '--all', '--json'], goal: 3},
]
const base = nodeBaseline(runs)
const rows = [{case: 'node -e 0', medianMs: base.ms, rssMB: base.rssMB, ratio: 1}]
for (const c of cases) {
  const m = measure(c.args, c.code ?? 0)
  const ratio = m.ms / base.ms
  rows.push({case: c.name, medianMs: m.ms, rssMB: m.rssMB, ratio, goal: c.goal ?? null, met: c.goal ? ratio <= c.goal : null})
  console.log(JSON.stringify(rows.at(-1)))
}
const md = table(rows, [
  ['case', 'case', 'text'],
  ['median ms', 'medianMs', 1],
  ['peak RSS MB', 'rssMB', 1],
  ['× node -e 0', 'ratio', 2],
  ['goal ×', 'goal', 0],
  ['met', 'met', 'text'],
])
console.log(md)
const files = record(
  'cli-startup',
  {runs, rows},
  `${runs} runs each after one warm-up, each in a fresh SKYHOP_HOME; wall time of a whole process (\`node bin/run.js …\`) and its peak RSS (GNU time); \`node -e 0\` measured in the same run.\n\n${md}`,
)
console.log(`recorded: ${files.join(', ')}`)
