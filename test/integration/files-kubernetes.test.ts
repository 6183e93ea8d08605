// files: and outputs: on Kubernetes, through the built CLI: fake API server (whose kubelet runs
// the pod's command on this machine) + a fake S3 checking SigV4 as the job's store. The plan
// puts the job on the cluster; the controller signs the attempt's list of transfers into the
// store; the pod's runner GETs it by its one signed URL, places a bucket object and a local
// file (packed into the store at launch, checked by sha256) before setup, and PUTs the
// output's archive after the run. Without a store, Kubernetes is excluded, saying why.
import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {FakeObjectStore} from '../fakes/fake-object-store.js'
import {s3Dialect} from '../fakes/fake-s3-dialect.js'
import {parseEnvelope, runCliAsync, tempHome, type CliResult} from '../helpers/cli.js'
import {KEY} from './aws-helpers.js'
import {CPU_NODE, kubeWorld, type KubeWorld} from './kubernetes-helpers.js'

const AWS = {
  AWS_ACCESS_KEY_ID: KEY.accessKeyId,
  AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey,
  AWS_SESSION_TOKEN: undefined,
  AWS_PROFILE: undefined,
  AWS_EC2_METADATA_DISABLED: 'true',
}

describe('files: and outputs: on Kubernetes, through the CLI (fake API server + fake S3)', function () {
  this.timeout(180_000)
  let w: KubeWorld
  let s3: FakeObjectStore
  let home: string
  let machine: string

  beforeEach(async () => {
    w = await kubeWorld({lab: {nodes: [CPU_NODE]}})
    s3 = new FakeObjectStore({dialect: s3Dialect({[KEY.accessKeyId]: KEY.secretAccessKey})})
    await s3.start()
    home = tempHome('skyhop-k8s-files-')
    machine = mkdtempSync(join(home, 'machine-'))
    mkdirSync(join(home, 'src'), {recursive: true})
    writeFileSync(join(home, 'src', 'vocab.txt'), 'a\nb\nc\n')
    s3.objects.set('datasets/nlp/weights.bin', {body: Buffer.from('W'.repeat(1000)), contentType: null, storedAt: new Date()})
  })
  afterEach(async () => {
    await w?.close()
    await s3?.stop()
  })

  const config = (store: boolean): string => {
    const file = join(home, 'config.yaml')
    writeFileSync(
      file,
      [
        'providers:',
        '  slurm: {enabled: false}',
        '  local: {enabled: false}',
        '  kubernetes:',
        '    schedule_wait: 1s',
        ...(store ? [`checkpoint_store: {url: s3://ckpt/runs, region: us-east-1, endpoint: "${s3.endpoint}"}`] : []),
        '',
      ].join('\n'),
    )
    return file
  }
  // Never spawnSync here: the fakes answer from this process's event loop.
  const cli = (args: string[], store: boolean): Promise<CliResult> =>
    runCliAsync(args, {
      home,
      env: {...AWS, SKYHOP_CONFIG: config(store), KUBECONFIG: w.kubeconfig, HOME: home, SKYHOP_LEASE_TTL_SECONDS: '2'},
    })
  const jobFile = (): string => {
    const m = machine
    const file = join(home, 'src', 'job.yaml')
    writeFileSync(
      file,
      [
        'name: k8s-files',
        'files:',
        `  ${m}/vocab.txt: ./vocab.txt`,
        `  ${m}/weights.bin: s3://datasets/nlp/weights.bin`,
        'outputs:',
        `  ${m}/results: store`,
        `setup: test -f ${m}/weights.bin && test -f ${m}/vocab.txt && echo setup-saw-files`,
        'run: |',
        `  wc -l < ${m}/vocab.txt; wc -c < ${m}/weights.bin`,
        `  mkdir -p ${m}/results && echo 0.92 > ${m}/results/score`,
        '',
      ].join('\n'),
    )
    return file
  }

  it('a pod gets a bucket object and a local file before setup and uploads its output after the run, all through the job store', async () => {
    const file = jobFile()
    const plan = await cli(['plan', file, '--json'], true)
    expect(plan.code, plan.stderr).to.equal(0)
    expect(parseEnvelope(plan.stdout).result.chosen).to.deep.include({provider: 'kubernetes', region: 'lab'})
    const r = await cli(['launch', file, '--yes', '--wait', '--json'], true)
    expect(r.code, r.stderr + r.stdout).to.equal(0)
    const job = parseEnvelope(r.stdout).result.job
    expect(job.state).to.equal('SUCCEEDED')
    const logs = await cli(['logs', 'k8s-files'], true)
    expect(logs.stdout).to.include('setup-saw-files')
    expect(logs.stdout).to.match(/^3$/m)
    expect(logs.stdout).to.match(/^1000$/m)
    // The output's archive, in the job's store, holds what the job wrote.
    const archive = s3.object('ckpt', `runs/${job.id}/outputs/results.tar`)
    expect(archive, [...s3.objects.keys()].join(' ')).to.not.equal(undefined)
    const out = mkdtempSync(join(home, 'untar-'))
    execFileSync('tar', ['-xf', '-', '-C', out], {input: archive!.body})
    expect(readFileSync(join(out, 'score'), 'utf8')).to.equal('0.92\n')
    // The plan and the launch HEADed the object once each (its size for the egress estimate),
    // the pod's runner GOT it once by a signed URL; the list and the local file's archive came
    // from the store by signed GETs too.
    const objectRequests = s3.requests.filter((q) => q.bucket === 'datasets').map((q) => `${q.method} ${q.status}`)
    expect(objectRequests).to.deep.equal(['HEAD 200', 'HEAD 200', 'GET 200'])
    const storeGets = s3.requests.filter((q) => q.bucket === 'ckpt' && q.method === 'GET' && q.status === 200).map((q) => q.key)
    expect(
      storeGets.some((k) => k.endsWith('/transfers')),
      storeGets.join(' '),
    ).to.equal(true)
    expect(
      storeGets.some((k) => /workdir/.test(k)),
      storeGets.join(' '),
    ).to.equal(true)
    // The pod spec carries the list's signed GET only: no key of the store.
    const pods = JSON.stringify([...w.fakes.lab.pods.values()].map((p) => p.spec))
    expect(pods).to.not.include(KEY.secretAccessKey)
  })

  it('without a store, Kubernetes is excluded for a job with files: or outputs:, saying why; nothing is launched there', async () => {
    const file = jobFile()
    const plan = await cli(['plan', file, '--json'], false)
    // The cluster is the only place enabled: nothing is feasible, and the exclusion is why.
    const env = parseEnvelope(plan.stdout)
    expect(plan.code, plan.stderr).to.equal(5)
    expect(env.error!.code).to.equal('NO_FEASIBLE_PLAN')
    const excluded = env.error!.details.excluded as Array<{reason: string; message: string}>
    const said = excluded.find((g) => g.reason === 'files-unsupported')
    expect(said, plan.stdout + plan.stderr).to.not.equal(undefined)
    expect(said!.message).to.match(
      /^kubernetes places files: copies and uploads outputs: only through the job's object store, and the job has none/,
    )
    const launch = await cli(['launch', file, '--yes', '--wait', '--json'], false)
    expect(launch.code, launch.stderr).to.equal(5)
    expect(w.fakes.lab.pods.size).to.equal(0)
  })
})
