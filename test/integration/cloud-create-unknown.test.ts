// A cloud create call whose answer never comes (RunInstances took effect behind a faulty
// endpoint, then the answer stalled or the connection dropped): the launch's outcome is
// unknown, not failed. The controller must find the instance by its tag (or by the same
// idempotency token) before it launches anything else, and adopt it, so the job runs once,
// even when the first look-up fails too.
import {expect} from 'chai'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {Store} from '../../src/state/store.js'
import {FakeEc2Server} from '../fakes/fake-ec2-server.js'
import {ec2Action, type Fault, type FaultCall, FakeFaultyEndpoint} from '../fakes/fake-faulty-endpoint.js'
import {parseEnvelope, runCliAsync, tempHome} from '../helpers/cli.js'
import {KEY} from './aws-helpers.js'
import {AWS_TYPE, fakeOffers} from './cloud-world.js'

describe('a cloud create whose answer never comes is reconciled, not re-launched (CLI, fake EC2)', function () {
  this.timeout(120_000)
  let home: string
  let fake: FakeEc2Server
  let proxy: FakeFaultyEndpoint | null = null

  beforeEach(async () => {
    home = tempHome('skyhop-create-unknown-')
    fake = new FakeEc2Server({
      keys: [KEY],
      capacity: {'us-east-1': {'us-east-1a': {[AWS_TYPE]: 4}, 'us-east-1b': {[AWS_TYPE]: 4}}, 'us-west-2': {'us-west-2a': {[AWS_TYPE]: 4}}},
      vcpus: {[AWS_TYPE]: 2},
      bootDir: join(home, 'fake-ec2'),
    })
    await fake.start()
  })
  afterEach(async () => {
    await proxy?.stop()
    proxy = null
    await fake.stop()
  })

  async function launchThrough(choose: (call: FaultCall) => Fault | null): Promise<{code: number; runs: string[]; jobId: string}> {
    proxy = new FakeFaultyEndpoint({upstream: fake.url, choose})
    const url = await proxy.start()
    const config = join(home, 'config.yaml')
    writeFileSync(config, 'providers:\n  slurm: {enabled: false}\n  local: {enabled: false}\n')
    writeFileSync(join(home, 'offers.json'), JSON.stringify({offers: fakeOffers().filter((o) => o.provider === 'aws')}))
    const runs = join(home, 'runs')
    const file = join(home, 'job.yaml')
    writeFileSync(
      file,
      `name: once\nspot: on-demand\nenvs:\n  RUNS: ${JSON.stringify(runs)}\nrun: |\n  echo "run $SKYHOP_ATTEMPT" >> "$RUNS"\n  sleep 2\n`,
    )
    const r = await runCliAsync(['launch', file, '--yes', '--wait', '--json', '--catalog', join(home, 'offers.json')], {
      home,
      env: {
        SKYHOP_CONFIG: config,
        SKYHOP_AWS_ENDPOINT: url,
        SKYHOP_CANDIDATE_TIMEOUT_SECONDS: '3',
        SKYHOP_LAUNCH_TIMEOUT_SECONDS: '60',
        AWS_ACCESS_KEY_ID: KEY.accessKeyId,
        AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey,
        AWS_REGION: 'us-east-1',
        AWS_EC2_METADATA_DISABLED: 'true',
        HOME: home,
      },
    })
    const jobId = r.stdout ? (parseEnvelope(r.stdout).result?.job?.id as string) : ''
    // Give a second instance, if one was launched, time to run its job.
    await new Promise((resolve) => setTimeout(resolve, 3000))
    return {code: r.code ?? -1, runs: existsSync(runs) ? readFileSync(runs, 'utf8').trim().split('\n') : [], jobId}
  }

  for (const fault of ['stall-after', 'drop-after'] as const) {
    it(`RunInstances took effect, its answer ${fault === 'stall-after' ? 'stalled mid-body' : 'was dropped'}: one instance, one run`, async () => {
      let creates = 0
      const r = await launchThrough((call) => (ec2Action(call) === 'RunInstances' && ++creates === 1 ? fault : null))
      expect(r.code).to.equal(0)
      expect(r.runs).to.deep.equal(['run 1'])
      expect([...fake.instances.values()].filter((i) => i.tags.get('skyhop:job-id') === r.jobId)).to.have.length(1)
    })
  }

  it('the look-up after the stalled create fails too: still one instance and one run', async () => {
    let creates = 0
    let looks = 0
    const r = await launchThrough((call) => {
      const action = ec2Action(call)
      if (action === 'RunInstances' && ++creates === 1) return 'stall-after'
      // Every DescribeInstances until the second create is black-holed: the tag look-up cannot answer.
      if (action === 'DescribeInstances' && creates === 1 && ++looks <= 3) return 'black-hole'
      return null
    })
    expect(r.code).to.equal(0)
    expect(r.runs).to.deep.equal(['run 1'])
    const store = Store.open(home)
    try {
      const attempts = store.listAttempts(r.jobId)
      expect(attempts.filter((a) => a.state === 'SUCCEEDED')).to.have.length(1)
    } finally {
      store.close()
    }
    expect([...fake.instances.values()].filter((i) => i.tags.get('skyhop:job-id') === r.jobId)).to.have.length(1)
  })
})
