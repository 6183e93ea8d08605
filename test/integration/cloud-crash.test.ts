// The built CLI against the fake EC2, as a user would run it: AWS credentials and
// SKYHOP_AWS_ENDPOINT in the environment, a catalog file listing the fake's offers, Slurm
// and the local machine disabled. A detached controller is killed with SIGKILL right after
// its RunInstances request reached EC2 (the fake holds the answer), and `skyhop recover`
// reconciles by tag: no second instance, nothing left running unowned. Then `skyhop down
// --orphans` finds a stray tagged instance and terminates it; and `skyhop check` reports
// where the credentials came from and whether they work, never the secret.
import {expect} from 'chai'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {AwsProvider} from '../../src/providers/aws/aws-provider.js'
import {Store} from '../../src/state/store.js'
import {FakeEc2Server} from '../fakes/fake-ec2-server.js'
import {type CliResult, parseEnvelope, runCliAsync, tempHome} from '../helpers/cli.js'
import {sleep, until} from '../helpers/wait.js'
import {KEY, launchRequest, offer} from './aws-helpers.js'
import {AWS_TYPE, cloudJob, fakeOffers} from './cloud-world.js'

describe('the CLI on the fake EC2: check, SIGKILL between "requested" and "recorded", recover, down --orphans', function () {
  this.timeout(120_000)
  let home: string
  let fake: FakeEc2Server
  let env: Record<string, string>

  beforeEach(async () => {
    home = tempHome('skyhop-cloud-cli-')
    fake = new FakeEc2Server({
      keys: [KEY],
      capacity: {'us-east-1': {'us-east-1a': {[AWS_TYPE]: 4}, 'us-east-1b': {[AWS_TYPE]: 4}}, 'us-west-2': {'us-west-2a': {[AWS_TYPE]: 4}}},
      vcpus: {[AWS_TYPE]: 2},
      bootDir: join(home, 'fake-ec2'),
    })
    const url = await fake.start()
    const config = join(home, 'config.yaml')
    writeFileSync(config, 'providers:\n  slurm: {enabled: false}\n  local: {enabled: false}\n')
    writeFileSync(join(home, 'offers.json'), JSON.stringify({offers: fakeOffers().filter((o) => o.provider === 'aws')}))
    env = {
      SKYHOP_CONFIG: config,
      SKYHOP_LEASE_TTL_SECONDS: '2',
      SKYHOP_AWS_ENDPOINT: url,
      AWS_ACCESS_KEY_ID: KEY.accessKeyId,
      AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey,
      AWS_REGION: 'us-east-1',
      AWS_EC2_METADATA_DISABLED: 'true',
      // No ~/.aws or ~/.aliyun of the machine running the tests.
      HOME: home,
    }
  })
  afterEach(async () => fake?.stop())

  // Never spawnSync here: the fake answers from this process's event loop.
  const cli = (args: string[], extraEnv: Record<string, string> = {}): Promise<CliResult> =>
    runCliAsync(args, {home, env: {...env, ...extraEnv}})

  it('skyhop check: AWS enabled from the environment or a profile, the call works, no secret printed; exit 4 on a refused key', async () => {
    const byName = (stdout: string) =>
      Object.fromEntries(
        (
          parseEnvelope(stdout).result.providers as Array<{
            provider: string
            enabled: boolean
            ok: boolean
            source: string | null
            message: string
          }>
        ).map((p) => [p.provider, p]),
      )
    const ok = await cli(['check', '--json'])
    expect(ok.code, ok.stderr).to.equal(0)
    expect(byName(ok.stdout).aws).to.deep.equal({
      provider: 'aws',
      enabled: true,
      adapter: true,
      ok: true,
      source: 'environment (AWS_ACCESS_KEY_ID)',
      message: 'credentials work: 2 availability zones in us-east-1',
    })
    expect(ok.stdout).not.to.include(KEY.secretAccessKey)

    // A named profile in ~/.aws/credentials (HOME is this test's home).
    mkdirSync(join(home, '.aws'))
    writeFileSync(
      join(home, '.aws', 'credentials'),
      `[prod]\naws_access_key_id = ${KEY.accessKeyId}\naws_secret_access_key = ${KEY.secretAccessKey}\n`,
    )
    const profile = await cli(['check', '--json'], {AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_PROFILE: 'prod'})
    expect(profile.code, profile.stderr).to.equal(0)
    expect(byName(profile.stdout).aws).to.deep.include({enabled: true, ok: true})
    expect(byName(profile.stdout).aws.source).to.match(/^profile prod/)

    const human = await cli(['check'], {AWS_SECRET_ACCESS_KEY: 'refused-secret-key-000000000000000000000'})
    expect(human.code).to.equal(4)
    expect(human.stdout).to.match(/aws\s+yes\s+FAILED\s+environment \(AWS_ACCESS_KEY_ID\)\s+.*AuthFailure/)
    expect(human.stdout + human.stderr).not.to.include('refused-secret-key')
  })

  it('recover adopts the instance the killed controller launched, by its tag; it runs once and is released', async () => {
    const file = join(home, 'job.yaml')
    // Each instance has a disk of its own; RUNS is a path on this host all of them can see.
    const runs = join(home, 'runs')
    writeFileSync(
      file,
      `name: durable\nspot: on-demand\nenvs:\n  RUNS: ${JSON.stringify(runs)}\nrun: |\n  echo "run $SKYHOP_ATTEMPT" >> "$RUNS"\n  sleep 6\n  echo done\n`,
    )
    fake.holdResponses('RunInstances')
    const launched = await cli(['launch', file, '--yes', '--catalog', join(home, 'offers.json'), '--json'])
    expect(launched.code, launched.stderr).to.equal(0)
    const jobId = parseEnvelope(launched.stdout).result.job.id as string
    // The detached controller's RunInstances reached EC2; the answer is held. Kill it now.
    await fake.nextHeld()
    const store = Store.open(home)
    try {
      const owner = store.getJob(jobId)!.leaseOwner!
      const pid = Number(owner.split(':')[1])
      expect(pid).to.be.greaterThan(0)
      process.kill(pid, 'SIGKILL')
      const [attempt] = store.listAttempts(jobId)
      expect(attempt.state).to.equal('REQUESTED')
      expect(attempt.handle).to.equal(null)
      expect(fake.instances.size).to.equal(1)
      const instance = [...fake.instances.values()][0]
      expect(instance.tags.get('skyhop:attempt-id')).to.equal(attempt.id)

      await sleep(2500) // the lease expires
      const rec = await cli(['recover', '--json'])
      expect(rec.code, rec.stderr).to.equal(0)
      expect(parseEnvelope(rec.stdout).result.restarted).to.deep.equal([jobId])
      await until(
        async () => store.getJob(jobId)!.state,
        (s) => s === 'SUCCEEDED',
        60_000,
        250,
      )

      const attempts = store.listAttempts(jobId)
      expect(attempts).to.have.length(1)
      expect(attempts[0]).to.include({id: attempt.id, state: 'SUCCEEDED', exitCode: 0})
      expect(attempts[0].handle!.externalId).to.equal(instance.id)
      const reconciled = store.events(jobId).find((e) => e.kind === 'attempt-reconciled')
      expect(reconciled?.data).to.include({externalId: instance.id, foundBy: 'tag'})
      // One RunInstances in all, one run of the job, and the instance released.
      expect(fake.actions().filter((a) => a === 'RunInstances')).to.have.length(1)
      expect(fake.instances.size).to.equal(1)
      expect(readFileSync(runs, 'utf8').trim().split('\n')).to.deep.equal(['run 1'])
      await until(
        async () => fake.liveInstances().length,
        (n) => n === 0,
      )
      expect(attempts[0].releasedAt).to.be.a('string')
      const logs = await cli(['logs', jobId])
      expect(logs.stdout.trim()).to.equal('done')
    } finally {
      store.close()
    }
    const orphans = await cli(['down', '--orphans', '--json'])
    expect(orphans.code, orphans.stderr).to.equal(0)
    expect(parseEnvelope(orphans.stdout).result.orphans).to.deep.equal([])
  })

  it('down --orphans lists a stray tagged instance (in the regions it is told), asks, and terminates it', async () => {
    // An instance with skyhop's tags that this home never recorded, in a region it never used.
    const aws = new AwsProvider({
      env: {SKYHOP_AWS_ENDPOINT: fake.url, AWS_ACCESS_KEY_ID: KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey},
      credentials: {homeDir: '/nonexistent'},
    })
    const stray = await aws.launch(
      launchRequest({
        jobId: 'j-gone',
        attemptId: 'a-gone000001',
        idempotencyKey: 'a-gone000001',
        offer: offer({region: 'us-west-2', zone: 'us-west-2a', instanceType: AWS_TYPE}),
        spec: cloudJob('gone', 'sleep 60'),
      }),
    )
    await aws.close()

    const defaultRegion = await cli(['down', '--orphans', '--dry-run', '--json'])
    expect(defaultRegion.code, defaultRegion.stderr).to.equal(0)
    expect(parseEnvelope(defaultRegion.stdout).result.orphans).to.deep.equal([])

    const dry = await cli(['down', '--orphans', '--region', 'us-west-2', '--dry-run', '--json'])
    expect(dry.code, dry.stderr).to.equal(0)
    const listed = parseEnvelope(dry.stdout).result
    expect(listed.orphans).to.have.length(1)
    expect(listed.orphans[0]).to.include({
      provider: 'aws',
      externalId: stray.externalId,
      region: 'us-west-2',
      jobId: 'j-gone',
      attemptId: 'a-gone000001',
      reason: 'unknown-attempt',
    })
    expect(listed.scanned).to.deep.equal([{provider: 'aws', regions: ['us-west-2'], tagged: 1, unidentified: 0, error: null}])

    // Without a terminal, terminating needs --yes.
    const refused = await cli(['down', '--orphans', '--region', 'us-west-2'])
    expect(refused.code).to.equal(2)
    expect(refused.stderr).to.include('--yes')
    expect(fake.instances.get(stray.externalId)!.state).to.equal('running')

    const human = await cli(['down', '--orphans', '--region', 'us-west-2', '--yes'])
    expect(human.code, human.stderr).to.equal(0)
    expect(human.stdout).to.include(`terminated aws ${stray.externalId} (us-west-2, job j-gone)`)
    await until(
      async () => fake.instances.get(stray.externalId)!.state,
      (s) => s === 'terminated',
    )

    // A wrong key: the scan fails, exit 4, the reason says so (and no secret is printed).
    const broken = await cli(['down', '--orphans', '--json'], {AWS_SECRET_ACCESS_KEY: 'not-the-secret-0000000000000000000000000'})
    expect(broken.code, broken.stdout + broken.stderr).to.equal(4)
    const scan = parseEnvelope(broken.stdout).result.scanned[0]
    expect(scan.error).to.match(/AuthFailure|validate/)
    expect(broken.stdout + broken.stderr).not.to.include('not-the-secret')
  })
})
