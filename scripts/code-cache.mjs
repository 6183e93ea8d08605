// Makes V8's code cache for the CLI bundle (dist/bundle/skyhop.v8-cache, read by bin/run.js):
// warm-up runs of representative commands, in a throwaway home, after each of which the CLI
// writes the cache of every function it compiled or took from the cache. Run by `npm run build` after the bundle and
// the oclif manifest, so the warm-up takes the same path as an installed CLI.
import {spawn, spawnSync} from 'node:child_process'
import {createServer} from 'node:net'
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
  await pgCodeCache()
} finally {
  rmSync(home, {recursive: true, force: true})
}

/**
 * The cache of the pg bundle (dist/bundle/pg.cjs), read by the PostgreSQL connection's worker
 * (src/state/pg-connect.ts): a `status` whose connection bin/run.js prestarts, to a port where
 * nothing listens (no server and no stand-in for one at build time). So loading pg and its
 * connection code come from the cache (what the login's messages compile is left to V8); the
 * command then exits 2 (STATE_UNAVAILABLE), as it should.
 */
async function pgCodeCache() {
  const pgCache = join(root, 'dist', 'bundle', 'pg.v8-cache')
  rmSync(pgCache, {force: true})
  // A port nothing listens on: taken by this process and closed again before the run.
  const port = await new Promise((resolve) => {
    const probe = createServer()
    probe.listen(0, '127.0.0.1', () => {
      const {port: free} = probe.address()
      probe.close(() => resolve(free))
    })
  })
  const url = `postgres://warm-up:warm-up@127.0.0.1:${port}/warm-up`
  const r = await new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, 'bin', 'run.js'), 'status'], {
      env: {...process.env, SKYHOP_HOME: home, SKYHOP_WRITE_CODE_CACHE: pgCache, SKYHOP_DATABASE_URL: url},
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (d) => (stderr += d))
    child.on('close', (status) => resolve({status, stderr}))
  })
  if (r.status !== 2 || !/STATE_UNAVAILABLE|connection refused/.test(r.stderr))
    throw new Error(`the pg warm-up run exited ${r.status}, not 2 with STATE_UNAVAILABLE: ${r.stderr}`)
  console.log(`pg code cache: ${(statSync(pgCache).size / 1024).toFixed(0)} KiB`)
}
