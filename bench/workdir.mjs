// Issue 19 benchmark, the workdir on a cloud: what `skyhop launch --yes --detach` of a job
// with a large `workdir:` costs, through the built CLI as a user runs it, against a fake EC2
// (no capacity: the detached controller's launch fails at once, so no instance runs while
// the next launch is timed) and a fake S3 that checks SigV4 signatures and counts PUTs.
//   - first launch: pack (tar, ignore files, sha256), HEAD, PUT of the archive;
//   - unchanged re-launch (same home): the fingerprint cache and one HEAD, no PUT. Goal: 0
//     bytes uploaded and at most 200 ms added over the same launch without a workdir;
//   - re-launch from another home (no cache): packed and hashed again, HEAD, no PUT;
//   - baseline, same run and same directory: GNU `tar -cf` then `curl -T` to a URL signed
//     the same way; and the launch of the same job without a workdir.
// Files are random bytes (code and data in a workdir barely compress; the archive is not
// compressed anyway), spread over 100 directories.
// Run after `npm run build`: node bench/workdir.mjs [files=10000] [totalMB=1024] [runs=3]
import {execFile} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'

import {BIN, fmt, median, record, table} from './lib.mjs'

const {register} = await import('tsx/esm/api')
register()
const {presignS3} = await import('../src/clouds/aws/s3-presign.ts')
const {FakeObjectStore} = await import('../test/fakes/fake-object-store.ts')
const {s3Dialect} = await import('../test/fakes/fake-s3-dialect.ts')
const {FakeEc2Server} = await import('../test/fakes/fake-ec2-server.ts')

const GOAL_ADDED_MS = 200
const files = Number(process.argv[2] ?? 10_000)
const totalMB = Number(process.argv[3] ?? 1024)
const runs = Number(process.argv[4] ?? 3)
const KEY = {accessKeyId: 'AKIDBENCHEXAMPLE0001', secretAccessKey: 'benchSecretKeyForTheFakeStore0000001'}
const TYPE = 'm5.large'

const root = mkdtempSync(join(tmpdir(), 'skyhop-bench-workdir-'))
const store = new FakeObjectStore({dialect: s3Dialect({[KEY.accessKeyId]: KEY.secretAccessKey})})
const ec2 = new FakeEc2Server({
  keys: [KEY],
  capacity: {'us-east-1': {'us-east-1a': {[TYPE]: 0}}},
  vcpus: {[TYPE]: 2},
  bootDir: join(root, 'ec2'),
})
const [storeUrl, ec2Url] = await Promise.all([store.start(), ec2.start()])

// The workdir: `files` files of random bytes in 100 directories, plus what its ignore files leave out.
const code = join(root, 'code')
const perFile = Math.max(1, Math.floor((totalMB * 2 ** 20) / files))
for (let i = 0; i < files; i++) {
  const dir = join(code, `d${i % 100}`)
  if (i < 100) mkdirSync(dir, {recursive: true})
  writeFileSync(join(dir, `f${i}.bin`), randomBytes(perFile))
}
mkdirSync(join(code, 'outputs'))
writeFileSync(join(code, 'outputs', 'ignored.ckpt'), randomBytes(2 ** 20))
writeFileSync(join(code, '.gitignore'), '*.log\n')
writeFileSync(join(code, '.skyhopignore'), 'outputs/\n')

const catalog = join(root, 'offers.json')
writeFileSync(
  catalog,
  JSON.stringify({
    offers: [
      {
        provider: 'aws',
        region: 'us-east-1',
        zone: 'us-east-1a',
        instanceType: TYPE,
        accelerator: null,
        vcpus: 2,
        memoryGiB: 8,
        price: {onDemand: 0.096, spot: 0.03, currency: 'USD'},
        source: 'fake-ec2 (bench)',
        asOf: '2026-01-01',
        confidence: 'high',
      },
    ],
  }),
)
const withWorkdir = join(root, 'job.yaml')
writeFileSync(withWorkdir, 'name: wd\nworkdir: ./code\nrun: python train.py\n')
const withoutWorkdir = join(root, 'job-none.yaml')
writeFileSync(withoutWorkdir, 'name: wd\nrun: python train.py\n')

const exec = promisify(execFile)

/** A fresh skyhop home whose config puts the checkpoint store (and so the workdir) at `prefix` of the fake S3. */
function home(prefix) {
  const dir = mkdtempSync(join(root, 'home-'))
  writeFileSync(
    join(dir, 'config.yaml'),
    `providers:\n  local: {enabled: false}\n  slurm: {enabled: false}\ncheckpoint_store: {url: "s3://bench/${prefix}", region: us-east-1, endpoint: "${storeUrl}"}\n`,
  )
  return dir
}

/** One `launch --yes --detach` through the CLI; its wall ms and the bytes it PUT to the store. */
async function launch(skyhopHome, file) {
  const env = {
    ...process.env,
    SKYHOP_HOME: skyhopHome,
    CI: '1',
    HOME: skyhopHome,
    AWS_ACCESS_KEY_ID: KEY.accessKeyId,
    AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey,
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL_EC2: ec2Url,
    AWS_EC2_METADATA_DISABLED: 'true',
  }
  const puts = store.requests.filter((r) => r.method === 'PUT' && r.key.includes('/workdirs/')).length
  const before = storedBytes()
  const t0 = process.hrtime.bigint()
  const {stdout} = await exec(process.execPath, [BIN, 'launch', file, '--yes', '--detach', '--provider', 'aws', '--catalog', catalog], {
    env,
  }).catch((error) => {
    throw new Error(`launch failed: ${String(error.stderr ?? error.message).slice(0, 2000)}`)
  })
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  const id = /\((j-[0-9a-f]+)\)/.exec(stdout)?.[1]
  if (id === undefined) throw new Error(`launch printed no job id: ${stdout.slice(0, 500)}`)
  launched.push({env, id})
  const newPuts = store.requests.filter((r) => r.method === 'PUT' && r.key.includes('/workdirs/')).length - puts
  return {ms, puts: newPuts, bytes: storedBytes() - before}
}

/** Every job the runs launched: its detached controller is stopped before the fakes go. */
const launched = []

/**
 * Cancels the launched jobs that have not ended (their controllers would otherwise retry
 * against fakes that are gone, outliving the bench), outside any timed part.
 */
async function cancelLaunched() {
  for (const {env, id} of launched.splice(0)) {
    await exec(process.execPath, [BIN, 'cancel', id, '--grace', '1s'], {env}).catch(() => undefined)
  }
}

function storedBytes() {
  let n = 0
  for (const [key, o] of store.objects) if (key.includes('/workdirs/')) n += o.body.length
  return n
}

/** The baseline: GNU tar of the same directory, then curl -T to a presigned PUT. */
async function direct(i) {
  const tar = join(root, `direct-${i}.tar`)
  const url = presignS3(
    {
      method: 'PUT',
      bucket: 'bench',
      key: `direct/${i}.tar`,
      region: 'us-east-1',
      endpoint: storeUrl,
      expiresSeconds: 3600,
      now: new Date(),
    },
    KEY,
  )
  const t0 = process.hrtime.bigint()
  await exec('tar', ['-cf', tar, '-C', code, '--exclude=outputs', '.'])
  const t1 = process.hrtime.bigint()
  await exec('curl', ['-sSf', '-T', tar, '-H', 'Expect:', url])
  const t2 = process.hrtime.bigint()
  rmSync(tar)
  store.objects.delete(`bench/direct/${i}.tar`)
  return {tarMs: Number(t1 - t0) / 1e6, uploadMs: Number(t2 - t1) / 1e6, ms: Number(t2 - t0) / 1e6}
}

const samples = {first: [], again: [], cold: [], none: [], direct: []}
let archiveBytes = 0
try {
  for (let i = 0; i < runs; i++) {
    const h = home(`run-${i}`)
    const first = await launch(h, withWorkdir)
    archiveBytes = first.bytes
    samples.first.push(first)
    // The launch without a workdir and the unchanged re-launch are timed side by side, in the
    // same home, once the first launch's gigabyte is written back (sync), and in alternating
    // order: the same state of the machine for both, so their difference is the workdir's.
    // (Timed before the first launch, the baseline missed the writeback the re-launch met.)
    await exec('sync')
    for (const which of i % 2 === 0 ? ['none', 'again'] : ['again', 'none'])
      samples[which].push(await launch(h, which === 'none' ? withoutWorkdir : withWorkdir))
    samples.cold.push(await launch(home(`run-${i}`), withWorkdir))
    samples.direct.push(await direct(i))
    await cancelLaunched()
    // Keep the fake store's memory to one archive at a time.
    for (const key of [...store.objects.keys()]) if (key.includes('/workdirs/')) store.objects.delete(key)
  }
} finally {
  await cancelLaunched()
  await Promise.all([store.stop(), ec2.stop()])
  rmSync(root, {recursive: true, force: true})
}

const med = (xs, f) => median(xs.map(f))
const none = med(samples.none, (s) => s.ms)
const rows = [
  {case: 'launch, no workdir', ms: none, added: 0, puts: med(samples.none, (s) => s.puts), bytes: med(samples.none, (s) => s.bytes)},
  ...[
    ['first launch (pack, HEAD, PUT)', samples.first],
    ['unchanged re-launch (cache, HEAD)', samples.again],
    ['re-launch, no cache (pack, HEAD)', samples.cold],
  ].map(([name, xs]) => {
    const ms = med(xs, (s) => s.ms)
    return {case: name, ms, added: ms - none, puts: med(xs, (s) => s.puts), bytes: med(xs, (s) => s.bytes)}
  }),
  {case: 'baseline: tar -cf + curl -T', ms: med(samples.direct, (s) => s.ms), added: null, puts: 1, bytes: archiveBytes},
]
const againAdded = rows[2].added
const goalMet = rows[2].bytes === 0 && rows[2].puts === 0 && againAdded <= GOAL_ADDED_MS
const markdown = [
  `Workdir: ${files} files, ${fmt((files * perFile) / 2 ** 20, 0)} MiB of random bytes (archive ${fmt(archiveBytes / 1e6, 1)} MB), ${runs} runs each, medians.`,
  `Each case is \`skyhop launch --yes --detach --provider aws\` through the built CLI against a fake EC2 and a fake S3 (SigV4 checked).`,
  '',
  table(rows, [
    ['case', 'case', 'text'],
    ['ms', 'ms', 0],
    ['added over no workdir, ms', 'added', 0],
    ['PUTs', 'puts', 0],
    ['bytes uploaded', 'bytes', 0],
  ]),
  '',
  `First launch vs tar + curl of the same directory: ${fmt(rows[1].ms / rows[4].ms, 2)}×.`,
  `Goal (unchanged re-launch uploads 0 bytes and adds ≤ ${GOAL_ADDED_MS} ms): ${goalMet ? 'met' : 'NOT met'} (${fmt(againAdded, 0)} ms, ${rows[2].bytes} bytes).`,
].join('\n')
console.log(markdown)
const paths = record('workdir', {files, totalMB, runs, archiveBytes, rows, samples, goal: {addedMs: GOAL_ADDED_MS, met: goalMet}}, markdown)
console.log(`\nwrote ${paths.join(', ')}`)
