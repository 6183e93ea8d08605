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

  async function launchThrough(
    choose: (call: FaultCall) => Fault | null,
    seconds = 2,
  ): Promise<{code: number; runs: string[]; jobId: string; env: Record<string, string>}> {
    proxy = new FakeFaultyEndpoint({upstream: fake.url, choose})
    const url = await proxy.start()
    const config = join(home, 'config.yaml')
    writeFileSync(config, 'providers:\n  slurm: {enabled: false}\n  local: {enabled: false}\n')
    writeFileSync(join(home, 'offers.json'), JSON.stringify({offers: fakeOffers().filter((o) => o.provider === 'aws')}))
    const runs = join(home, 'runs')
    const file = join(home, 'job.yaml')
    writeFileSync(
      file,
      `name: once\nspot: on-demand\nenvs:\n  RUNS: ${JSON.stringify(runs)}\nrun: |\n  echo "run $SKYHOP_ATTEMPT" >> "$RUNS"\n  sleep ${seconds}\n`,
    )
    const env = {
      SKYHOP_CONFIG: config,
      SKYHOP_AWS_ENDPOINT: url,
      SKYHOP_CANDIDATE_TIMEOUT_SECONDS: '3',
      SKYHOP_LAUNCH_TIMEOUT_SECONDS: '60',
      AWS_ACCESS_KEY_ID: KEY.accessKeyId,
      AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey,
      AWS_REGION: 'us-east-1',
      AWS_EC2_METADATA_DISABLED: 'true',
      HOME: home,
    }
    const r = await runCliAsync(['launch', file, '--yes', '--wait', '--json', '--catalog', join(home, 'offers.json')], {home, env})
    const jobId = r.stdout ? (parseEnvelope(r.stdout).result?.job?.id as string) : ''
    // Give a second instance, if one was launched, time to run its job.
    await new Promise((resolve) => setTimeout(resolve, 3000))
    return {code: r.code ?? -1, runs: existsSync(runs) ? readFileSync(runs, 'utf8').trim().split('\n') : [], jobId, env}
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

  it('a create still unknown when the round gives up, whose instance did start, is stopped by `recover` once EC2 answers again', async () => {
    // RunInstances takes effect (its job runs 2 minutes) but its answer stalls; every later call is black-holed while
    // the job is being launched, so the outcome stays unknown past the bound: the attempt is
    // FAILED, AWS is passed over, and with no other provider the job fails. Its controller's
    // last look-up is black-holed too. Then EC2 answers again and `recover` finds the instance.
    let creates = 0
    let faulty = true
    const r = await launchThrough((call) => {
      const action = ec2Action(call)
      if (action === 'RunInstances' && ++creates === 1) return 'stall-after'
      return faulty && (action === 'RunInstances' || action === 'DescribeInstances') ? 'black-hole' : null
    }, 120)
    faulty = false
    expect(r.code, 'the job failed: its only provider was passed over').to.not.equal(0)
    const mine = () => [...fake.instances.values()].filter((i) => i.tags.get('skyhop:job-id') === r.jobId)
    expect(mine()).to.have.length(1)
    expect(mine()[0].state).to.not.equal('terminated')
    const store = Store.open(home)
    try {
      const [attempt] = store.listAttempts(r.jobId)
      expect(attempt.state).to.equal('FAILED')
      expect(attempt.reason).to.match(/whether the instance was created is unknown/)
      const rec = await runCliAsync(['recover', '--json'], {home, env: r.env})
      expect(rec.code, rec.stderr).to.equal(0)
      const actions = parseEnvelope(rec.stdout).result.actions as Array<{step: string; attemptId: string; ok: boolean}>
      expect(actions.filter((a) => a.step === 'stop-unknown-create')).to.deep.equal([
        {...actions.find((a) => a.step === 'stop-unknown-create'), attemptId: attempt.id, ok: true},
      ])
      const until = Date.now() + 10_000
      while (!['shutting-down', 'terminated'].includes(mine()[0].state) && Date.now() < until)
        await new Promise((res) => setTimeout(res, 100))
      expect(['shutting-down', 'terminated']).to.include(mine()[0].state)
      const settled = store.events(r.jobId).filter((e) => e.kind === 'attempt-unknown-create-settled')
      expect(settled.map((e) => [e.attemptId, e.data.found])).to.deep.equal([[attempt.id, true]])
      // Settled once: a second recover has nothing to look up.
      const again = await runCliAsync(['recover', '--json'], {home, env: r.env})
      expect((parseEnvelope(again.stdout).result.actions as Array<{step: string}>).map((a) => a.step)).to.not.include('stop-unknown-create')
    } finally {
      store.close()
    }
  })
})
