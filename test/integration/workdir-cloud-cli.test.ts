// A workdir bound for AWS through the built CLI (bin/run.js), against a fake S3 that checks
// SigV4 and a fake EC2 without capacity (each launch ends at once: nothing runs). The first
// launch packs and PUTs the archive; an unchanged re-launch from the same home finds it by
// the fingerprint cache and only asks the store (HEAD). That re-launch is a short-lived
// command with one HTTP exchange: V8 must not optimize undici's WebAssembly parser there (a
// TurboFan compile that Node waited for before exiting, ~100 ms on every such command).
// Run `npm run build` first. The fakes live in this process, so the CLI runs async.
import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {FakeEc2Server} from '../fakes/fake-ec2-server.js'
import {FakeObjectStore} from '../fakes/fake-object-store.js'
import {s3Dialect} from '../fakes/fake-s3-dialect.js'
import {BIN, ROOT, type CliResult} from '../helpers/cli.js'
import {KEY as AWS_KEY} from './aws-helpers.js'
import {AWS_TYPE, fakeOffers} from './cloud-world.js'

describe('skyhop CLI: an unchanged workdir re-launch on AWS (fake EC2 + fake S3)', function () {
  this.timeout(180_000)
  let home: string
  let ec2: FakeEc2Server
  let s3: FakeObjectStore

  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'skyhop-workdir-cli-'))
    ec2 = new FakeEc2Server({
      keys: [AWS_KEY],
      capacity: {'us-east-1': {'us-east-1a': {[AWS_TYPE]: 0}}},
      vcpus: {[AWS_TYPE]: 2},
      bootDir: join(home, 'fake-ec2'),
    })
    s3 = new FakeObjectStore({dialect: s3Dialect({[AWS_KEY.accessKeyId]: AWS_KEY.secretAccessKey})})
  })
  afterEach(async () => {
    await Promise.all([ec2?.stop(), s3?.stop()])
    rmSync(home, {recursive: true, force: true})
  })

  /** `node [nodeArgs] bin/run.js args` with the fakes' environment. */
  function cli(args: string[], env: Record<string, string>, nodeArgs: string[] = []): Promise<CliResult> {
    const child = spawn(process.execPath, [...nodeArgs, BIN, ...args], {
      cwd: ROOT,
      env: {...process.env, ...env, SKYHOP_HOME: home, SKYHOP_DATABASE_URL: ''},
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    return new Promise((resolve) => child.on('close', (code) => resolve({code, stdout, stderr})))
  }

  it('uploads once, then only asks the store, without optimizing the HTTP parser before exiting', async () => {
    const [s3Url, ec2Url] = await Promise.all([s3.start(), ec2.start()])
    const catalog = join(home, 'offers.json')
    writeFileSync(catalog, JSON.stringify({offers: fakeOffers().filter((o) => o.zone === 'us-east-1a' && o.instanceType === AWS_TYPE)}))
    const config = join(home, 'config.yaml')
    writeFileSync(
      config,
      `providers:\n  slurm: {enabled: false}\n  local: {enabled: false}\ncheckpoint_store: {url: "s3://ckpt/runs", region: us-east-1, endpoint: "${s3Url}"}\n`,
    )
    const code = join(home, 'project', 'code')
    for (let d = 0; d < 5; d++) {
      mkdirSync(join(code, `d${d}`), {recursive: true})
      for (let f = 0; f < 20; f++) writeFileSync(join(code, `d${d}`, `f${f}.py`), `print(${d * 20 + f})\n`)
    }
    const file = join(home, 'project', 'job.yaml')
    writeFileSync(file, 'name: wd\nspot: on-demand\nworkdir: ./code\nrun: python d0/f0.py\n')
    const userHome = mkdtempSync(join(home, 'user-'))
    const env = {
      HOME: userHome,
      SKYHOP_CONFIG: config,
      AWS_ENDPOINT_URL_EC2: ec2Url,
      AWS_ACCESS_KEY_ID: AWS_KEY.accessKeyId,
      AWS_SECRET_ACCESS_KEY: AWS_KEY.secretAccessKey,
      AWS_REGION: 'us-east-1',
      AWS_EC2_METADATA_DISABLED: 'true',
    }
    const args = ['launch', file, '--catalog', catalog, '--provider', 'aws', '--wait', '--yes']
    const workdirRequests = () => s3.requests.filter((r) => r.key.startsWith('runs/workdirs/')).map((r) => `${r.method} ${r.status}`)

    // No capacity anywhere: the job fails (exit 4) once its workdir is in the store.
    const first = await cli(args, env)
    expect(first.code, first.stderr).to.equal(4)
    expect(workdirRequests()).to.deep.equal(['HEAD 404', 'PUT 200'])

    const again = await cli(args, env, ['--trace-wasm-compilation-times'])
    expect(again.code, again.stderr).to.equal(4)
    expect(workdirRequests()).to.deep.equal(['HEAD 404', 'PUT 200', 'HEAD 200'])
    // The parser was compiled (the CLI did parse responses), by Liftoff alone.
    const compiled = (again.stdout + again.stderr).split('\n').filter((l) => /^Compiled function .* using /.test(l))
    expect(
      compiled.some((l) => l.includes('using Liftoff')),
      'no wasm compiled: did the CLI make no HTTP call?',
    ).to.equal(true)
    expect(compiled.filter((l) => !l.includes('using Liftoff'))).to.deep.equal([])
  })
})
