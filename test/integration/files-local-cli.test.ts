// files: and outputs: through the built CLI, on this machine with a real runner process: a
// local file and a local directory copied into place before setup, an object of a fake S3
// bucket (checking SigV4) downloaded by a signed GET and checked against what launch found,
// and an output uploaded to the job's store after the run. Bad input fails before anything
// is recorded, with its exit code.
import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {basename, dirname, join, resolve} from 'node:path'

import {FakeObjectStore} from '../fakes/fake-object-store.js'
import {gcsDialect} from '../fakes/fake-gcs-dialect.js'
import {s3Dialect} from '../fakes/fake-s3-dialect.js'
import {readEvents} from '../../src/providers/attempt-dir.js'
import {parseEnvelope, runCliAsync, tempHome} from '../helpers/cli.js'
import {stateDump} from '../helpers/pg-suite.js'
import {ServiceStore} from '../../src/state/services.js'
import {Store} from '../../src/state/store.js'
import {KEY} from './aws-helpers.js'

const AWS = {
  AWS_ACCESS_KEY_ID: KEY.accessKeyId,
  AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey,
  AWS_SESSION_TOKEN: undefined,
  AWS_PROFILE: undefined,
  AWS_EC2_METADATA_DISABLED: 'true',
}

describe('files: and outputs: on this machine, through the CLI', function () {
  this.timeout(120_000)
  let store: FakeObjectStore
  let home: string
  let machine: string

  beforeEach(async () => {
    // Two keys a LIST page, so a prefix of a few objects is listed over several pages.
    store = new FakeObjectStore({dialect: s3Dialect({[KEY.accessKeyId]: KEY.secretAccessKey}), listPageSize: 2})
    await store.start()
    home = tempHome()
    // Where the job's files land: a path "on the machine", here under the test's home.
    machine = mkdtempSync(join(home, 'machine-'))
    mkdirSync(join(home, 'src', 'dataset'), {recursive: true})
    writeFileSync(join(home, 'src', 'vocab.txt'), 'a\nb\nc\n')
    writeFileSync(join(home, 'src', 'dataset', 'part-0'), 'x\n')
    writeFileSync(join(home, 'src', 'dataset', 'part-1'), 'y\n')
    store.objects.set('datasets/nlp/weights.bin', {body: Buffer.from('W'.repeat(1000)), contentType: null, storedAt: new Date()})
  })
  afterEach(async () => {
    await store.stop()
    rmSync(home, {recursive: true, force: true})
  })

  function setup(body: string): {file: string; env: Record<string, string | undefined>} {
    const config = join(home, 'config.yaml')
    writeFileSync(
      config,
      `providers:\n  slurm: {enabled: false}\ncheckpoint_store: {url: s3://ckpt/runs, region: us-east-1, endpoint: "${store.endpoint}"}\n`,
    )
    const file = join(home, 'src', 'job.yaml')
    writeFileSync(file, `name: files\n${body}`)
    return {file, env: {...AWS, SKYHOP_CONFIG: config, HOME: home}}
  }

  it('places local files, a local directory and a bucket object before setup, and uploads the output after the run', async () => {
    const m = machine
    const {file, env} = setup(
      [
        'files:',
        `  ${m}/vocab.txt: ./vocab.txt`,
        `  ${m}/data: dataset`,
        `  ${m}/weights.bin: s3://datasets/nlp/weights.bin`,
        'outputs:',
        `  ${m}/results: store`,
        `setup: test -f ${m}/weights.bin && echo setup-saw-weights`,
        'run: |',
        `  wc -l < ${m}/vocab.txt; ls ${m}/data | tr "\\n" " "; echo; wc -c < ${m}/weights.bin`,
        `  mkdir -p ${m}/results && echo 0.91 > ${m}/results/score`,
        '',
      ].join('\n'),
    )
    const r = await runCliAsync(['launch', file, '-y', '--provider', 'local', '--wait', '--json'], {home, env})
    expect(r.code, r.stderr + r.stdout).to.equal(0)
    const jobId = parseEnvelope(r.stdout).result.job.id as string
    const logs = await runCliAsync(['logs', jobId], {home, env})
    expect(logs.stdout).to.include('setup-saw-weights')
    expect(logs.stdout).to.match(/^3$/m)
    expect(logs.stdout).to.include('part-0 part-1')
    expect(logs.stdout).to.match(/^1000$/m)
    // Copies, not links: the job's machine path holds its own bytes.
    expect(readFileSync(join(m, 'vocab.txt'), 'utf8')).to.equal('a\nb\nc\n')
    expect(readdirSync(m).filter((f) => f.includes('skyhop-part'))).to.deep.equal([])
    // The output's archive in the job's store.
    const archive = store.object('ckpt', `runs/${jobId}/outputs/results.tar`)
    expect(archive, [...store.objects.keys()].join(' ')).to.not.equal(undefined)
    const out = mkdtempSync(join(home, 'untar-'))
    execFileSync('tar', ['-xf', '-', '-C', out], {input: archive!.body})
    expect(readFileSync(join(out, 'score'), 'utf8')).to.equal('0.91\n')
    // The launch HEADed the object once; the runner GOT it by a signed URL; nothing else read it.
    const objectRequests = store.requests.filter((q) => q.bucket === 'datasets').map((q) => `${q.method} ${q.status}`)
    expect(objectRequests).to.deep.equal(['HEAD 200', 'GET 200'])
    // The signed list stays in the attempt directory, readable by its owner only; the state store holds no signature.
    const dump = stateDump(home)
    expect(dump).to.not.include('X-Amz-Signature')
  })

  it('a local source that does not exist, a relative destination and an unknown scheme: exit 3 at their lines, nothing recorded', async () => {
    const {file, env} = setup(['files:', '  /tmp/x: ./nope', '  data: ./vocab.txt', '  /tmp/y: gcs://b/k', 'run: echo hi', ''].join('\n'))
    const r = await runCliAsync(['launch', file, '-y', '--provider', 'local', '--json'], {home, env})
    expect(r.code).to.equal(3)
    const message = parseEnvelope(r.stdout).error!.message
    expect(message).to.include('./nope does not exist')
    expect(message).to.include('"data" is relative')
    expect(message).to.include('"gcs://" is not a bucket URL')
    const jobs = await runCliAsync(['status', '--json'], {home, env})
    expect(parseEnvelope(jobs.stdout).result.jobs).to.deep.equal([])
  })

  it('each service replica gets its files: before setup (its own signed list); a service with outputs: is refused at its line (exit 3)', async () => {
    const m = machine
    // A replica's server: answers /health, and /f/NAME with the bytes of NAME under the machine path.
    const server = join(home, 'src', 'serve-files.mjs')
    writeFileSync(
      server,
      [
        "import {createServer} from 'node:http'",
        "import {readFileSync} from 'node:fs'",
        'createServer((req, res) => {',
        "  if (req.url === '/health') return res.end('ok')",
        '  try {',
        "    res.end(readFileSync(process.argv[2] + '/' + req.url.slice(3)))",
        '  } catch {',
        '    res.statusCode = 404',
        "    res.end('missing')",
        '  }',
        "}).listen(Number(process.env.PORT), '127.0.0.1')",
        '',
      ].join('\n'),
    )
    const service = [
      'files:',
      `  ${m}/vocab.txt: ./vocab.txt`,
      `  ${m}/weights.bin: s3://datasets/nlp/weights.bin`,
      'placement: {providers: [local]}',
      // setup refuses to start a replica whose files are not there yet.
      `setup: test -f ${m}/vocab.txt && test -f ${m}/weights.bin`,
      `run: exec node ${server} ${m}`,
      'service:',
      '  port: 8080',
      '  replicas: 2',
      '  readiness: {path: /health, initial_delay: 30s, timeout: 2s}',
      '',
    ]
    const {file, env} = setup(service.join('\n'))
    const up = await runCliAsync(['serve', 'up', file, '--json'], {home, env})
    try {
      expect(up.code, up.stderr + up.stdout).to.equal(0)
      const svc = parseEnvelope(up.stdout).result
      const ready = async (): Promise<number> => {
        const st = await runCliAsync(['serve', 'status', svc.id, '--json'], {home, env})
        return (parseEnvelope(st.stdout).result.services[0].replicas as Array<{state: string}>).filter((r) => r.state === 'READY').length
      }
      for (let i = 0; i < 60 && (await ready()) < 2; i++) await new Promise((r) => setTimeout(r, 500))
      expect(await ready()).to.equal(2)
      const vocab = await fetch(`${svc.endpoint}/f/vocab.txt`)
      expect(vocab.status).to.equal(200)
      expect(await vocab.text()).to.equal('a\nb\nc\n')
      const weights = await fetch(`${svc.endpoint}/f/weights.bin`)
      expect((await weights.arrayBuffer()).byteLength).to.equal(1000)
      // serve up HEADed the object once; each replica GOT it by its own signed URL (a GET cut
      // short on a loaded machine is tried again, so at least one each).
      const objectRequests = store.requests.filter((q) => q.bucket === 'datasets')
      expect(objectRequests.filter((q) => q.method === 'HEAD').map((q) => q.status)).to.deep.equal([200])
      // What it found weighs in the replicas' plans, as a job's data does.
      const state = Store.open(home)
      try {
        expect(new ServiceStore(state).getService(svc.id)!.spec.data).to.deep.equal([
          {uri: 's3://datasets/nlp/weights.bin', provider: 'aws', region: 'us-east-1', sizeGB: 1e-6},
        ])
      } finally {
        state.close()
      }
      expect(objectRequests.filter((q) => q.method === 'GET' && q.status === 200).length).to.be.at.least(2)
      // Each replica's list in its own attempt directory, readable by its owner only.
      const lists = execFileSync('find', [join(home, 'attempts'), '-name', 'transfers', '-perm', '600'], {encoding: 'utf8'})
        .trim()
        .split('\n')
        .filter(Boolean)
      const st = parseEnvelope((await runCliAsync(['serve', 'status', svc.id, '--json'], {home, env})).stdout).result.services[0]
      const replicaIds = (st.replicas as Array<{id: string}>).map((x) => x.id).sort()
      // A replica replaced on a loaded machine (seen in CI) leaves its own list too: every
      // current replica has one, and the checks below are of theirs.
      expect(lists.map((l) => basename(dirname(l)))).to.include.members(replicaIds)
      for (const l of lists.filter((x) => replicaIds.includes(basename(dirname(x))))) {
        expect(readFileSync(l, 'utf8')).to.match(/^get\t.*weights\.bin\t1000\t/m)
        // Its runner placed both before setup (file-fetch), then the server started.
        const events = readEvents(dirname(l)).map((e) => e.event)
        expect(
          events.filter((e) => e === 'file-fetch'),
          events.join(' '),
        ).to.have.length(2)
        expect(events.indexOf('file-fetch')).to.be.below(events.indexOf('setup-start'))
      }
    } finally {
      await runCliAsync(['serve', 'down', 'files', '--json'], {home, env})
    }
    // Outputs: refused where the file says them, before anything is recorded.
    const withOutputs = setup([...service.slice(0, 3), 'outputs:', `  ${m}/results: store`, ...service.slice(3)].join('\n'))
    const r = await runCliAsync(['serve', 'up', withOutputs.file, '--no-wait', '--json'], {home, env: withOutputs.env})
    expect(r.code, r.stderr).to.equal(3)
    const error = parseEnvelope(r.stdout).error!
    expect(error.message).to.match(/job\.yaml:6:3: \/outputs: a service cannot have outputs: its replicas run side by side until stopped/)
    const services = await runCliAsync(['serve', 'status', '--json'], {home, env})
    expect(parseEnvelope(services.stdout).result.services.map((x: {state: string}) => x.state)).to.deep.equal([])
  })

  it('a bucket object the store refuses (403) or fails (503) at launch: exit 4, nothing recorded; a missing one: exit 2', async () => {
    const {file, env} = setup([`files:`, `  ${machine}/w: s3://datasets/nlp/weights.bin`, 'run: echo hi', ''].join('\n'))
    for (const [status, code] of [
      [403, 'AccessDenied'],
      [503, 'ServiceUnavailable'],
    ] as const) {
      store.failNext(10, status, code, /weights/)
      const r = await runCliAsync(['launch', file, '-y', '--provider', 'local', '--json'], {home, env})
      expect(r.code, r.stderr).to.equal(4)
      expect(parseEnvelope(r.stdout).error!.code).to.equal('FILES_FETCH_FAILED')
      store.requests.length = 0
      ;(store as unknown as {faults: unknown[]}).faults.length = 0
    }
    store.objects.delete('datasets/nlp/weights.bin')
    const missing = await runCliAsync(['launch', file, '-y', '--provider', 'local', '--json'], {home, env})
    expect(missing.code).to.equal(2)
    expect(parseEnvelope(missing.stdout).error!.message).to.include('s3://datasets/nlp/weights.bin does not exist')
    const jobs = await runCliAsync(['status', '--json'], {home, env})
    expect(parseEnvelope(jobs.stdout).result.jobs).to.deep.equal([])
    expect(existsSync(join(machine, 'w'))).to.equal(false)
  })

  it('copies every object under a bucket prefix into the tree before setup; an empty prefix is exit 2 with nothing recorded', async () => {
    const put = (key: string, body: string) =>
      store.objects.set(`datasets/${key}`, {body: Buffer.from(body), contentType: null, storedAt: new Date()})
    put('shards/train-0.jsonl', '{"a":1}\n')
    put('shards/train-1.jsonl', '{"a":2}\n{"a":3}\n')
    put('shards/eval/eval-0.jsonl', '{"e":1}\n')
    put('shards/eval/', '')
    put('shards-v2/other', 'not under the prefix')
    const m = machine
    const {file, env} = setup(
      [
        'files:',
        `  ${m}/data: s3://datasets/shards/`,
        `setup: cat ${m}/data/eval/eval-0.jsonl`,
        `run: find ${m}/data -type f | sort; cat ${m}/data/*.jsonl | wc -l`,
        '',
      ].join('\n'),
    )
    const r = await runCliAsync(['launch', file, '-y', '--provider', 'local', '--wait', '--json'], {home, env})
    expect(r.code, r.stderr + r.stdout).to.equal(0)
    const jobId = parseEnvelope(r.stdout).result.job.id as string
    const logs = await runCliAsync(['logs', jobId], {home, env})
    expect(logs.stdout).to.include('{"e":1}')
    expect(logs.stdout).to.include([`${m}/data/eval/eval-0.jsonl`, `${m}/data/train-0.jsonl`, `${m}/data/train-1.jsonl`].join('\n'))
    expect(logs.stdout).to.match(/^3$/m)
    expect(readFileSync(join(m, 'data', 'train-1.jsonl'), 'utf8')).to.equal('{"a":2}\n{"a":3}\n')
    expect(existsSync(join(m, 'data', 'other'))).to.equal(false)
    // Listed at launch over two pages, once: before the plan, whose egress counted the bytes
    // (the job's data), then each object got once by its signed URL.
    expect(store.listed.map((p) => p.keys.length)).to.deep.equal([2, 2])
    const state = Store.open(home)
    try {
      expect(state.getJob(jobId)!.spec.data).to.deep.equal([
        {uri: 's3://datasets/shards/', provider: 'aws', region: 'us-east-1', sizeGB: 32e-9},
      ])
    } finally {
      state.close()
    }
    const gets = store.requests
      .filter((q) => q.bucket === 'datasets' && q.method === 'GET' && q.key !== '')
      .map((q) => `${q.key} ${q.status}`)
    expect(gets.sort()).to.deep.equal(['shards/eval/eval-0.jsonl 200', 'shards/train-0.jsonl 200', 'shards/train-1.jsonl 200'])

    const empty = setup(['files:', `  ${m}/none: s3://datasets/no-such-prefix/`, 'run: echo hi', ''].join('\n'))
    const before = await runCliAsync(['status', '--json'], {home, env})
    const e = await runCliAsync(['launch', empty.file, '-y', '--provider', 'local', '--json'], {home, env: empty.env})
    expect(e.code, e.stderr).to.equal(2)
    expect(parseEnvelope(e.stdout).error!.code).to.equal('FILES_PREFIX_EMPTY')
    expect(parseEnvelope(e.stdout).error!.message).to.equal(`files: ${m}/none: nothing under s3://datasets/no-such-prefix/ to copy`)
    const after = await runCliAsync(['status', '--json'], {home, env})
    expect(parseEnvelope(after.stdout).result.jobs).to.deep.equal(parseEnvelope(before.stdout).result.jobs)
  })

  it('copies a gs:// object and prefix and uploads an output to gs://, every URL a V4 URL the fake Cloud Storage verifies', async () => {
    // Google's published dummy service account signs; the fake holds its public half.
    const keyFile = resolve('test', 'data', 'signing', 'gcs-v4', 'service-account.json')
    const account = JSON.parse(readFileSync(keyFile, 'utf8')) as {client_email: string; private_key: string}
    const gcs = new FakeObjectStore({dialect: gcsDialect({[account.client_email]: account.private_key}), listPageSize: 2})
    await gcs.start()
    try {
      const put = (key: string, body: string) =>
        gcs.objects.set(`open-data/${key}`, {body: Buffer.from(body), contentType: null, storedAt: new Date()})
      put('models/w.bin', 'G'.repeat(300))
      put('shards/a.txt', 'a\n')
      put('shards/b/c.txt', 'c\n')
      put('shards/b/d.txt', 'd\n')
      const m = machine
      const {file, env} = setup(
        [
          'files:',
          `  ${m}/w.bin: {source: gs://open-data/models/w.bin, endpoint: "${gcs.endpoint}"}`,
          `  ${m}/shards: {source: gs://open-data/shards/, endpoint: "${gcs.endpoint}"}`,
          'outputs:',
          `  ${m}/results: {to: gs://open-data/runs/1, endpoint: "${gcs.endpoint}"}`,
          `run: wc -c < ${m}/w.bin; cat ${m}/shards/a.txt ${m}/shards/b/*.txt | tr -d "\\n"; echo; mkdir -p ${m}/results && echo ok > ${m}/results/r`,
          '',
        ].join('\n'),
      )
      const r = await runCliAsync(['launch', file, '-y', '--provider', 'local', '--wait', '--json'], {
        home,
        env: {...env, GOOGLE_APPLICATION_CREDENTIALS: keyFile},
      })
      expect(r.code, r.stderr + r.stdout).to.equal(0)
      const logs = await runCliAsync(['logs', parseEnvelope(r.stdout).result.job.id as string], {home, env})
      expect(logs.stdout).to.match(/^300$/m)
      expect(logs.stdout).to.match(/^acd$/m)
      // Every request the fake answered passed its signature check: none was refused.
      expect(gcs.requests.filter((q) => q.status >= 400)).to.deep.equal([])
      expect(gcs.requests.map((q) => q.method).sort()).to.deep.equal(['GET', 'GET', 'GET', 'GET', 'GET', 'GET', 'HEAD', 'PUT'])
      const archive = gcs.object('open-data', 'runs/1/results.tar')
      expect(archive, [...gcs.objects.keys()].join(' ')).to.not.equal(undefined)
      const out = mkdtempSync(join(home, 'untar-'))
      execFileSync('tar', ['-xf', '-', '-C', out], {input: archive!.body})
      expect(readFileSync(join(out, 'r'), 'utf8')).to.equal('ok\n')
    } finally {
      await gcs.stop()
    }
  })
  it("a 50 GB prefix in another region, as the store lists it, is the plan's egress; a store plan cannot ask is a note, not a guess", async () => {
    // Two objects the fake lists at 25 GB each without holding their bytes.
    for (const name of ['part-0000', 'part-0001'])
      store.objects.set(`corpus/shards/${name}`, {body: Buffer.alloc(0), contentType: null, storedAt: new Date(), size: 25e9})
    const {file, env} = setup(
      [
        'files:',
        `  ${machine}/shards: {source: s3://corpus/shards/, region: eu-west-1}`,
        'placement: {providers: [local]}',
        'run: ls',
        '',
      ].join('\n'),
    )
    const r = await runCliAsync(['plan', file, '--json'], {home, env})
    expect(r.code, r.stderr + r.stdout).to.equal(0)
    const chosen = parseEnvelope(r.stdout).result.chosen
    // This machine is not AWS: the bytes come over the internet at AWS's rate.
    const {EGRESS_PER_GB, TRANSFER_GBPS} = await import('../../src/planner/priors.js')
    expect(chosen.provider).to.equal('local')
    expect(chosen.estimates.egressCostUsd.value).to.be.closeTo(50 * EGRESS_PER_GB.aws.internet, 0.01)
    expect(chosen.estimates.transferHours.value).to.be.closeTo((50 * 8) / TRANSFER_GBPS.internet / 3600, 0.01)
    expect(chosen.estimates.egressCostUsd.source).to.include('50 GB from aws/eu-west-1')
    // One LIST page of the prefix, no GET of its objects.
    expect(store.requests.filter((q) => q.bucket === 'corpus').map((q) => `${q.method} ${q.key} ${q.status}`)).to.deep.equal(['GET  200'])

    // Without credentials for the bucket's store, the plan says it did not count the prefix.
    const offline = await runCliAsync(['plan', file, '--json'], {
      home,
      env: {...env, AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined},
    })
    expect(offline.code, offline.stderr + offline.stdout).to.equal(0)
    const result = parseEnvelope(offline.stdout).result
    expect(result.chosen.estimates.egressCostUsd.value).to.equal(0)
    const note = (result.assumptions as string[]).find((a) => a.includes('s3://corpus/shards/'))
    expect(note, result.assumptions.join('\n')).to.match(
      /files: .*\/shards: the size of s3:\/\/corpus\/shards\/ is not counted in the egress estimate \(looking it up failed: .*\); launch lists it before choosing an offer, or give the entry a size/,
    )
    expect(JSON.stringify(result)).to.not.match(/X-Amz-Signature/)
  })
  it("a sweep looks its files: object up once, before the plan, and every job's plan counts its bytes", async () => {
    const m = machine
    const {file, env} = setup(
      [
        'files:',
        `  ${m}/weights.bin: s3://datasets/nlp/weights.bin`,
        'placement: {providers: [local]}',
        'matrix: {lr: [1, 2]}',
        `run: wc -c < ${m}/weights.bin`,
        '',
      ].join('\n'),
    )
    const r = await runCliAsync(['sweep', file, '-y', '--wait', '--json'], {home, env})
    expect(r.code, r.stderr + r.stdout).to.equal(0)
    const result = JSON.parse(r.stdout.trim().split('\n').at(-1)!).result
    expect(result.sweep.counts).to.deep.include({succeeded: 2, failed: 0})
    // One HEAD for the sweep; each job GOT it by its own signed URL.
    const objectRequests = store.requests.filter((q) => q.bucket === 'datasets')
    expect(objectRequests.filter((q) => q.method === 'HEAD').map((q) => q.status)).to.deep.equal([200])
    expect(objectRequests.filter((q) => q.method === 'GET' && q.status === 200).length).to.be.at.least(2)
    const state = Store.open(home)
    try {
      for (const job of result.jobs as Array<{id: string}>)
        expect(state.getJob(job.id)!.spec.data).to.deep.equal([
          {uri: 's3://datasets/nlp/weights.bin', provider: 'aws', region: 'us-east-1', sizeGB: 1e-6},
        ])
    } finally {
      state.close()
    }
  })
})
