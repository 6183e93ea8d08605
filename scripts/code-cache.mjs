// Makes V8's code cache for the CLI bundle (dist/bundle/skyhop.v8-cache, read by bin/run.js):
// warm-up runs of representative commands, in a throwaway home, after each of which the CLI
// writes the cache of every function it compiled or took from the cache. Run by `npm run build` after the bundle and
// the oclif manifest, so the warm-up takes the same path as an installed CLI.
import {spawnSync} from 'node:child_process'
import {mkdtempSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

const root = join(import.meta.dirname, '..')
const cacheFile = join(root, 'dist', 'bundle', 'skyhop.v8-cache')
rmSync(cacheFile, {force: true})
const home = mkdtempSync(join(tmpdir(), 'skyhop-code-cache-'))
try {
  // Planning across the whole catalog touches most of what a start runs: oclif, the job file
  // (YAML, schema), the catalog and the planner. Slurm is left out: no cluster queries.
  writeFileSync(join(home, 'config.yaml'), 'providers:\n  slurm: {enabled: false}\n')
  // Then a `launch --wait` on the local provider, started from the first run's cache: it adds
  // what a launch compiles besides (the store, the controller, the local provider, the log
  // stream), and what it loaded from the cache stays in the cache it writes.
  writeFileSync(join(home, 'job.yaml'), 'name: warm-up\nrun: echo warm-up\n')
  const runs = [
    ['plan', join(root, 'examples', 'train-gpu.yaml'), '--all-providers'],
    ['launch', join(home, 'job.yaml'), '--yes', '--wait'],
  ]
  for (const args of runs) {
    const r = spawnSync(process.execPath, [join(root, 'bin', 'run.js'), ...args], {
      env: {...process.env, SKYHOP_HOME: home, SKYHOP_WRITE_CODE_CACHE: cacheFile, SKYHOP_DATABASE_URL: ''},
      encoding: 'utf8',
    })
    if (r.status !== 0) throw new Error(`the warm-up run \`${args[0]}\` exited ${r.status}: ${r.stderr}`)
  }
  console.log(`code cache: ${(statSync(cacheFile).size / 1024).toFixed(0)} KiB`)
} finally {
  rmSync(home, {recursive: true, force: true})
}
