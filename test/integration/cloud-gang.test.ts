// The controller with a multi-node job on the fake clouds (the real driveJob, store,
// replanner and AwsProvider; each instance's boot script and runner run locally): the gang
// is signed its objects in the job's store, launched all or nothing, fails over when a zone
// cannot hold it or a step after the launch fails, and leaves nothing running or billed.
import {expect} from 'chai'

import type {GangNode} from '../../src/model/attempt.js'
import {until} from '../helpers/wait.js'
import {AWS_TYPE, cloudJob, cloudWorld, type CloudWorld} from './cloud-world.js'

describe('controller on the fake clouds: multi-node gangs', function () {
  this.timeout(120_000)
  let w: CloudWorld
  afterEach(async () => w?.close())

  function attempts(jobId: string) {
    return w.store.listAttempts(jobId).map((a) => ({zone: a.zone, state: a.state}))
  }

  const report = 'echo "rank $SKYHOP_NODE_RANK of $SKYHOP_NUM_NODES peers $(echo $SKYHOP_NODE_IPS)"'

  it('a zone that cannot hold the whole gang is passed over; the next zone runs both nodes; nothing is left running', async () => {
    w = await cloudWorld({checkpointStore: true})
    w.ec2.setCapacity('us-east-1', 'us-east-1a', AWS_TYPE, 1)
    const {job} = await w.drive(cloudJob('gang', report, {nodes: 2}))
    expect(job.state).to.equal('SUCCEEDED')
    expect(attempts(job.id)).to.deep.equal([
      {zone: 'us-east-1a', state: 'FAILED'},
      {zone: 'us-east-1b', state: 'SUCCEEDED'},
    ])
    const failed = w.store.events(job.id).find((e) => e.kind === 'attempt-launch-failed')!
    expect(failed.data).to.deep.include({category: 'capacity', scope: 'zone', backendCode: 'InsufficientInstanceCapacity'})
    const ran = w.store.listAttempts(job.id)[1]
    const nodes = ran.handle!.data.nodes as GangNode[]
    expect(nodes).to.have.length(2)
    const ips = nodes.map((n) => n.ip).join(' ')
    const logs: string[] = []
    for await (const line of w.aws.logs(ran.handle!, {follow: false, node: 'all'})) logs.push(line)
    expect(logs.sort()).to.deep.equal([`[rank 0] rank 0 of 2 peers ${ips}`, `[rank 1] rank 1 of 2 peers ${ips}`])
    await until(
      async () => w.ec2.liveInstances().length,
      (n) => n === 0,
    )
    expect(w.ec2.placementGroups.size).to.equal(0)
  })

  it('a gang granted but failing after the launch is released and the next candidate runs it', async () => {
    w = await cloudWorld({checkpointStore: true})
    // Tagging the ranks fails once, in a way EC2 does not retry: the gang cannot be told apart.
    w.ec2.inject({action: 'CreateTags', code: 'InvalidParameterValue', message: 'injected'})
    const {job} = await w.drive(cloudJob('gang-rollback', report, {nodes: 2}))
    expect(job.state).to.equal('SUCCEEDED')
    expect(attempts(job.id).map((a) => a.state)).to.deep.equal(['FAILED', 'SUCCEEDED'])
    // Two nodes launched in each zone; the first two were terminated by the rollback.
    expect(w.ec2.instances.size).to.equal(4)
    await until(
      async () => w.ec2.liveInstances().length,
      (n) => n === 0,
    )
  })

  it('a multi-node cloud job without an object store ends with the error that says what to set', async () => {
    w = await cloudWorld()
    const {job} = await w.drive(cloudJob('gang-nostore', 'true', {nodes: 2}))
    expect(job.state).to.equal('FAILED')
    // Each cloud refused it for itself (a local or Slurm backend would still have been tried).
    const refused = w.store.events(job.id).filter((e) => e.kind === 'attempt-launch-failed')
    expect(refused.map((e) => [e.data.code, e.data.scope])).to.deep.equal([
      ['GANG_STORE_MISSING', 'provider'],
      ['GANG_STORE_MISSING', 'provider'],
    ])
    expect(job.reason).to.match(/needs an object store .*: set checkpoint\.store in the job file/)
    expect(w.ec2.actions()).to.not.include('RunInstances')
  })
})
