// The built CLI against cloud endpoints that do not answer: `check` comes back within its
// ~10 s per provider (checked at once), and `launch --wait` gives each candidate its budget
// and the launch its bound, with what happened recorded as events of the job. Against the
// fake EC2, throttled RunInstances calls are retried, and each retry is a `launch-retry`
// event in the store, which `status` shows.
import {expect} from 'chai'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {Store} from '../../src/state/store.js'
import {FakeBlackHole} from '../fakes/fake-black-hole.js'
import {FakeEc2Server} from '../fakes/fake-ec2-server.js'
import {parseEnvelope, runCliAsync, tempHome} from '../helpers/cli.js'
import {KEY} from './aws-helpers.js'
import {AWS_TYPE, fakeOffers} from './cloud-world.js'

describe('deadlines: check and launch against endpoints that do not answer (CLI)', function () {
  this.timeout(120_000)
  let home: string
  let env: Record<string, string>
  const hole = new FakeBlackHole()
  let holeUrl: string

  before(async () => {
    holeUrl = await hole.start()
  })
  after(async () => hole.stop())

  beforeEach(() => {
    home = tempHome('skyhop-deadlines-')
    const config = join(home, 'config.yaml')
    writeFileSync(config, 'providers:\n  slurm: {enabled: false}\n  local: {enabled: false}\n')
    writeFileSync(join(home, 'offers.json'), JSON.stringify({offers: fakeOffers().filter((o) => o.provider === 'aws')}))
    env = {
      SKYHOP_CONFIG: config,
      AWS_ACCESS_KEY_ID: KEY.accessKeyId,
      AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey,
      AWS_REGION: 'us-east-1',
      AWS_EC2_METADATA_DISABLED: 'true',
      HOME: home,
    }
  })

  it('check answers within ~10 s when the EC2 endpoint accepts and never answers, and says which deadline passed', async () => {
    const t0 = Date.now()
    const r = await runCliAsync(['check', '--json'], {home, env: {...env, SKYHOP_AWS_ENDPOINT: holeUrl}})
    const ms = Date.now() - t0
    expect(r.code, r.stderr).to.equal(4)
    expect(ms).to.be.lessThan(16_000)
    const aws = parseEnvelope(r.stdout).result.providers.find((p: {provider: string}) => p.provider === 'aws')
    expect(aws).to.include({enabled: true, ok: false})
    expect(aws.message).to.include('the deadline of check of aws (10 s) passed')
    expect(r.stdout).not.to.include(KEY.secretAccessKey)
  })

  it('launch --wait gives each candidate its budget and stops at the launch bound, recording why', async () => {
    const file = join(home, 'job.yaml')
    writeFileSync(file, 'name: silent\nspot: on-demand\nrun: echo never\n')
    const t0 = Date.now()
    const r = await runCliAsync(['launch', file, '--yes', '--wait', '--json', '--catalog', join(home, 'offers.json')], {
      home,
      env: {...env, SKYHOP_AWS_ENDPOINT: holeUrl, SKYHOP_CANDIDATE_TIMEOUT_SECONDS: '2', SKYHOP_LAUNCH_TIMEOUT_SECONDS: '5'},
    })
    const ms = Date.now() - t0
    expect(r.code, r.stderr).to.equal(4)
    // The bound: the launch's 5 s, a candidate's 2 s beyond it at most, its tag lookup's 2 s, and start-up.
    expect(ms).to.be.lessThan(20_000)
    const store = Store.open(home)
    try {
      const [job] = store.listJobs()
      const failed = store.events(job.id).filter((e) => e.kind === 'attempt-launch-failed')
      expect(failed.length).to.be.within(1, 3)
      const attempts = store.listAttempts(job.id)
      expect(attempts.map((a) => a.state)).to.deep.equal(failed.map(() => 'FAILED'))
      expect(attempts[0].reason, attempts[0].reason ?? '').to.match(
        /DescribeImages in us-east-1: no answer from 127\.0\.0\.1:\d+: the deadline of the launch on aws\/us-east-1\/us-east-1\w [\w.]+ \(2 s\) passed/,
      )
    } finally {
      store.close()
    }
  })

  it('each retry of a launch call is an event of the job (status shows it), and the launch goes on', async () => {
    const fake = new FakeEc2Server({
      keys: [KEY],
      capacity: {'us-east-1': {'us-east-1a': {[AWS_TYPE]: 4}, 'us-east-1b': {[AWS_TYPE]: 4}}, 'us-west-2': {'us-west-2a': {[AWS_TYPE]: 4}}},
      vcpus: {[AWS_TYPE]: 2},
      bootDir: join(home, 'fake-ec2'),
    })
    const url = await fake.start()
    try {
      fake.throttle(2, 'RunInstances')
      const file = join(home, 'job.yaml')
      writeFileSync(file, 'name: throttled\nspot: on-demand\nrun: echo ran\n')
      const r = await runCliAsync(['launch', file, '--yes', '--wait', '--json', '--catalog', join(home, 'offers.json')], {
        home,
        env: {...env, SKYHOP_AWS_ENDPOINT: url},
      })
      expect(r.code, r.stderr).to.equal(0)
      const jobId = parseEnvelope(r.stdout).result.job.id as string
      const status = await runCliAsync(['status', jobId], {home, env: {...env, SKYHOP_AWS_ENDPOINT: url}})
      expect(status.stdout).to.include('launch-retry')
      const store = Store.open(home)
      try {
        const retries = store.events(jobId).filter((e) => e.kind === 'launch-retry')
        expect(retries).to.have.length(2)
        expect(retries[0].data).to.include({attempt: 1})
        expect(String(retries[0].data.reason)).to.include('RequestLimitExceeded')
        expect(String(retries[0].data.candidate)).to.match(/^aws\/us-east-1/)
      } finally {
        store.close()
      }
    } finally {
      await fake.stop()
    }
  })
})
