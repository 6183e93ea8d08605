// Runs the benchmarks one after another (`npm run bench`, after a build), each in its own
// process with its default arguments, and says which failed. Names on the command line run
// just those: `npm run bench -- plan simulate`. Each records its own results with the date
// in bench/results/. The Slurm variant of the grace benchmark needs the cluster of
// scripts/slurm-up.sh: `node bench/grace.mjs 20 6 slurm`; the gang benchmark's Slurm rows
// need a multi-node cluster: `node bench/gang.mjs 10 10 --slurm`.
import {spawnSync} from 'node:child_process'
import {existsSync} from 'node:fs'
import {join} from 'node:path'

const ALL = [
  'cli-startup',
  'plan',
  'offers',
  'launch',
  'gang',
  'grace',
  'notice',
  'sampling',
  'checkpoint-store',
  'workdir',
  'sweep',
  'simulate',
  'simulate-validation',
  'simulate-controller',
  'serve',
  'agent-adopt',
]
const names = process.argv.length > 2 ? process.argv.slice(2) : ALL
const unknown = names.filter((n) => !existsSync(join(import.meta.dirname, `${n}.mjs`)))
if (unknown.length > 0) {
  console.error(`unknown benchmark: ${unknown.join(', ')} (known: ${ALL.join(', ')})`)
  process.exit(2)
}
const failed = []
for (const name of names) {
  console.log(`\n=== bench/${name}.mjs`)
  const r = spawnSync(process.execPath, [join(import.meta.dirname, `${name}.mjs`)], {stdio: 'inherit'})
  if (r.status !== 0) failed.push(`${name} (${r.status ?? r.signal})`)
}
if (failed.length > 0) {
  console.error(`\nfailed: ${failed.join(', ')}`)
  process.exit(1)
}
