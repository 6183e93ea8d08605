// Issue 6 benchmark, the checkpoint store: what carrying SKYHOP_CHECKPOINT_DIR through an
// object store costs an attempt. A local fake S3 that checks SigV4 signatures stands in
// for the bucket (the network is not measured: it is the same for any tool).
//   - save: the runner's last copy when the job exits (tar + signed PUT), from
//     its own checkpoint-save event, against the direct command in the same run:
//     `tar -cf` then `curl -T` of the same directory to a URL signed the same way;
//   - restore: the runner's checkpoint-restore (signed GET + untar) against
//     `curl -o` then `tar -xf`;
//   - per-attempt overhead with nothing to copy: a trivial job's runner wall time with a
//     store (one GET answered 404) against without one.
// Checkpoints are random bytes (model weights barely compress) of each size.
// Run: node bench/checkpoint-store.mjs [runs=5] [sizesMB=1,64,256]
import {execFile} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'

import {median, record} from './lib.mjs'

const {register} = await import('tsx/esm/api')
register()
const {readEvents, runnerScriptPath, writeAttemptDir} = await import('../src/providers/attempt-dir.ts')
const {presignS3} = await import('../src/clouds/aws/s3-presign.ts')
const {FakeObjectStore} = await import('../test/fakes/fake-object-store.ts')
const {s3Dialect} = await import('../test/fakes/fake-s3-dialect.ts')

const runs = Number(process.argv[2] ?? 5)
const sizes = (process.argv[3] ?? '1,64,256').split(',').map(Number)
const KEY = {accessKeyId: 'AKIDBENCHEXAMPLE0001', secretAccessKey: 'benchSecretKeyForTheFakeStore0000001'}
const root = mkdtempSync(join(tmpdir(), 'skyhop-bench-ckpt-'))
const store = new FakeObjectStore({dialect: s3Dialect({[KEY.accessKeyId]: KEY.secretAccessKey})})
await store.start()

function url(method, key) {
  return presignS3(
    {method, bucket: 'bench', key, region: 'us-east-1', endpoint: store.endpoint, expiresSeconds: 3600, now: new Date()},
    KEY,
  )
}

// Every process runs asynchronously: the fake store answers from this process's event loop.
const exec = promisify(execFile)

let n = 0
/** Runs the runner once on a fresh attempt dir; returns its wall ms and events. */
async function runner(run, ckptDir, sync) {
  const dir = join(root, `attempt-${++n}`)
  writeAttemptDir(dir, {
    setup: null,
    run,
    env: {SKYHOP_CHECKPOINT_DIR: ckptDir},
    config: {graceSeconds: 30, signal: 'SIGTERM', workdir: join(dir, 'work'), noticeSources: [], pollIntervalSeconds: 5, ...(sync ?? {})},
  })
  const t0 = process.hrtime.bigint()
  await exec('bash', [runnerScriptPath(), dir])
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  return {ms, events: readEvents(dir)}
}

async function timed(fn) {
  const t0 = process.hrtime.bigint()
  await fn()
  return Number(process.hrtime.bigint() - t0) / 1e6
}

const rows = []
for (const mb of sizes) {
  const save = []
  const saveDirect = []
  const restore = []
  const restoreDirect = []
  for (let i = 0; i < runs; i++) {
    const key = `ckpt-${mb}-${i}/checkpoint.tar`
    const src = join(root, `src-${mb}-${i}`)
    mkdirSync(src)
    writeFileSync(join(src, 'weights.bin'), randomBytes(mb * 2 ** 20))
    // The runner: a job that leaves the directory as it is; its exit copy is the save.
    const saved = await runner('true', src, {checkpointPut: url('PUT', key), checkpointSyncSeconds: 0})
    const ev = saved.events.find((e) => e.event === 'checkpoint-save')
    if (!ev?.ok) throw new Error(`save failed: ${JSON.stringify(ev)}`)
    save.push(ev.seconds * 1000)
    // Direct: the same two steps by hand.
    const archive = join(root, `direct-${mb}-${i}.tar.gz`)
    const directKey = `direct-${mb}-${i}/checkpoint.tar`
    saveDirect.push(
      await timed(async () => {
        await exec('tar', ['-cf', archive, '-C', src, '.'])
        await exec('curl', [
          '-sS',
          '-f',
          '-T',
          archive,
          '-H',
          'Content-Type: application/octet-stream',
          '-H',
          'Expect:',
          '-o',
          '/dev/null',
          url('PUT', directKey),
        ])
      }),
    )
    // Restore into an empty directory, by the runner and by hand.
    const restored = await runner('true', join(root, `dst-${mb}-${i}`), {checkpointGet: url('GET', key)})
    const rev = restored.events.find((e) => e.event === 'checkpoint-restore')
    if (!rev?.found) throw new Error(`restore failed: ${JSON.stringify(rev)}`)
    restore.push(rev.seconds * 1000)
    const dst = join(root, `direct-dst-${mb}-${i}`)
    mkdirSync(dst)
    restoreDirect.push(
      await timed(async () => {
        await exec('curl', ['-sS', '-f', '-o', archive, url('GET', directKey)])
        await exec('tar', ['-xf', archive, '-C', dst])
      }),
    )
    rmSync(src, {recursive: true, force: true})
    rmSync(dst, {recursive: true, force: true})
    rmSync(join(root, `dst-${mb}-${i}`), {recursive: true, force: true})
    store.objects.clear()
  }
  rows.push({mb, save: median(save), saveDirect: median(saveDirect), restore: median(restore), restoreDirect: median(restoreDirect)})
  console.log(
    `${mb} MB: save ${median(save).toFixed(0)} ms (direct ${median(saveDirect).toFixed(0)}), restore ${median(restore).toFixed(0)} ms (direct ${median(restoreDirect).toFixed(0)})`,
  )
}

// Per-attempt overhead with nothing to copy.
const empty = join(root, 'empty')
mkdirSync(empty)
const plain = []
const withStore = []
for (let i = 0; i < Math.max(10, runs); i++) {
  plain.push((await runner('true', empty)).ms)
  withStore.push(
    (await runner('true', empty, {checkpointGet: url('GET', 'none/checkpoint.tar'), checkpointPut: url('PUT', 'none/checkpoint.tar')})).ms,
  )
}
await store.stop()
rmSync(root, {recursive: true, force: true})

const overhead = {plainMs: median(plain), withStoreMs: median(withStore)}
console.log(`trivial attempt: ${overhead.withStoreMs.toFixed(0)} ms with a store, ${overhead.plainMs.toFixed(0)} ms without`)
const table = [
  '| checkpoint | runner save | direct tar+curl | ratio | runner restore | direct curl+untar | ratio |',
  '|---|---|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.mb} MB | ${r.save.toFixed(0)} ms | ${r.saveDirect.toFixed(0)} ms | ${(r.save / r.saveDirect).toFixed(2)} | ${r.restore.toFixed(0)} ms | ${r.restoreDirect.toFixed(0)} ms | ${(r.restore / r.restoreDirect).toFixed(2)} |`,
  ),
].join('\n')
const md = `Runner copies of SKYHOP_CHECKPOINT_DIR through a local fake S3 that checks SigV4 signatures (\`node bench/checkpoint-store.mjs ${runs} ${sizes.join(',')}\`), medians of ${runs} runs each; random bytes (model weights barely compress, so the archive is a plain tar). The direct command does the same steps by hand in the same run.

${table}

Per attempt with nothing to copy (one GET answered 404, nothing changed so no PUT): runner wall time ${overhead.withStoreMs.toFixed(0)} ms with a store, ${overhead.plainMs.toFixed(0)} ms without (${(overhead.withStoreMs - overhead.plainMs).toFixed(0)} ms more).

What this means for a notice: the runner's last copy happens after the job exits, inside the grace; at the save rates above, the upload is the part of the grace a job must leave (the runner keeps up to 30 s, at most a quarter of the grace, after a SIGKILL for it).`
console.log(record('checkpoint-store', {runs, sizes, rows, overhead}, md).join('\n'))
