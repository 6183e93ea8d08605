// `checkpoint.store` through the built CLI: launch signs URLs with the store cloud's
// credentials before recording anything, and a job on this machine restores from and
// saves to a fake S3 bucket that checks SigV4 signatures (the same path a cloud instance
// takes; here the attempts share the disk too, which the store must not rely on).
import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {FakeObjectStore} from '../fakes/fake-object-store.js'
import {s3Dialect} from '../fakes/fake-s3-dialect.js'
import {parseEnvelope, runCliAsync, tempHome} from '../helpers/cli.js'
import {stateDump} from '../helpers/pg-suite.js'
import {KEY} from './aws-helpers.js'

/** No AWS credentials anywhere: no env, no ~/.aws, no instance metadata. */
const NO_AWS = {
  AWS_ACCESS_KEY_ID: undefined,
  AWS_SECRET_ACCESS_KEY: undefined,
  AWS_SESSION_TOKEN: undefined,
  AWS_PROFILE: undefined,
  AWS_EC2_METADATA_DISABLED: 'true',
}

describe('checkpoint store through the CLI', function () {
  this.timeout(120_000)
  let store: FakeObjectStore
  let home: string

  beforeEach(async () => {
    store = new FakeObjectStore({dialect: s3Dialect({[KEY.accessKeyId]: KEY.secretAccessKey})})
    await store.start()
    home = tempHome()
  })
  afterEach(async () => {
    await store.stop()
    rmSync(home, {recursive: true, force: true})
  })

  function setup(job: string, storeYaml: string): {file: string; env: Record<string, string | undefined>} {
    const config = join(home, 'config.yaml')
    writeFileSync(config, `providers:\n  slurm: {enabled: false}\ncheckpoint_store: ${storeYaml}\n`)
    const file = join(home, 'job.yaml')
    writeFileSync(file, job)
    return {file, env: {...NO_AWS, SKYHOP_CONFIG: config, HOME: home}}
  }

  it('a store whose cloud has no credentials fails the launch with exit 4 before any job is recorded', async () => {
    const {file, env} = setup('name: nocreds\nrun: echo hi\n', `{url: s3://bkt/p, region: us-east-1, endpoint: "${store.endpoint}"}`)
    const r = await runCliAsync(['launch', file, '-y', '--wait', '--json'], {home, env})
    expect(r.code, r.stderr).to.equal(4)
    const error = parseEnvelope(r.stdout).error!
    expect(error.message).to.match(/^aws: checkpoint store s3:\/\/bkt\/p: /)
    const jobs = await runCliAsync(['status', '--json'], {home, env})
    expect(parseEnvelope(jobs.stdout).result.jobs).to.deep.equal([])
    expect(store.requests).to.deep.equal([])
  })

  it('a job on this machine looks for its archive in the store (none yet: 404) and saves its state there; no signature is kept', async () => {
    const {file, env} = setup(
      'name: counter\nrun: |\n  n=$(cat "$SKYHOP_CHECKPOINT_DIR/n" 2>/dev/null || echo 0)\n  echo "resumed at $n"\n  echo $((n + 1)) > "$SKYHOP_CHECKPOINT_DIR/n"\n',
      `{url: s3://bkt/team, region: us-east-1, endpoint: "${store.endpoint}"}`,
    )
    const withKey = {...env, AWS_ACCESS_KEY_ID: KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey}
    const first = await runCliAsync(['launch', file, '-y', '--wait', '--json'], {home, env: withKey})
    expect(first.code, first.stderr).to.equal(0)
    const jobId = parseEnvelope(first.stdout).result.job.id as string
    const archive = store.object('bkt', `team/${jobId}/checkpoint.tar`)!
    expect(archive, 'archive in the store').to.not.equal(undefined)
    const dir = mkdtempSync(join(home, 'untar-'))
    execFileSync('tar', ['-xf', '-', '-C', dir], {input: archive.body})
    expect(readFileSync(join(dir, 'n'), 'utf8')).to.equal('1\n')
    // Every request the store saw carried a signature it checked.
    expect(store.requests.map((q) => `${q.method} ${q.status}`)).to.deep.equal(['GET 404', 'PUT 200'])
    // The state store knows where the checkpoint is, never how to reach it.
    // The database and its write-ahead log, as bytes: whatever was written is in one of them.
    const dump = stateDump(home)
    expect(dump).to.include(`s3://bkt/team/${jobId}/checkpoint.tar`)
    expect(dump).to.not.match(/X-Amz-Signature/)
    expect(first.stdout + first.stderr).to.not.match(/X-Amz-Signature/)
  })

  it('check writes to the store and reads it back; a wrong key fails with exit 4 and the store code, no secret printed', async () => {
    const {env} = setup('name: unused\nrun: true\n', `{url: s3://bkt/team, region: us-east-1, endpoint: "${store.endpoint}"}`)
    const good = await runCliAsync(['check', '--json'], {
      home,
      env: {...env, AWS_ACCESS_KEY_ID: KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey},
    })
    const ok = parseEnvelope(good.stdout).result.checkpointStore
    expect(ok).to.deep.include({url: 's3://bkt/team', ok: true})
    expect(ok.source).to.match(/environment/)
    expect(store.object('bkt', 'team/.skyhop-check')).to.not.equal(undefined)
    const bad = await runCliAsync(['check', '--json'], {
      home,
      env: {...env, AWS_ACCESS_KEY_ID: KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: 'wrong-secret-key-123456'},
    })
    expect(bad.code).to.equal(4)
    const failed = parseEnvelope(bad.stdout).result.checkpointStore
    expect(failed.ok).to.equal(false)
    expect(failed.message).to.include('403')
    expect(bad.stdout + bad.stderr).to.not.include('wrong-secret-key-123456')
  })
})
