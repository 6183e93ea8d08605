// The controller with a multi-node job on the fake clouds (the real driveJob, store,
// replanner and AwsProvider; each instance's boot script and runner run locally): the gang
// is signed its objects in the job's store, launched all or nothing, fails over when a zone
// cannot hold it or a step after the launch fails, and leaves nothing running or billed.
import {expect} from 'chai'

import type {GangNode} from '../../src/model/attempt.js'
import {parseConsole} from '../../src/providers/vm/console-channel.js'
import {until} from '../helpers/wait.js'
import {AWS_TYPE, cloudJob, cloudWorld, type CloudWorld} from './cloud-world.js'
import {chinaJob, chinaWorld, cpuOffers, HW_CPU, TC_CPU, type ChinaWorld} from './huawei-tencent-world.js'

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

  it('a spot notice to one worker is the gang’s: the head checkpoints, the whole gang is relaunched elsewhere and resumes', async () => {
    w = await cloudWorld({checkpointStore: true})
    // Long enough (12 s) that the notice lands mid-run even when a loaded machine reports "running" late.
    const steps = 60
    // Both ranks step together; the head keeps the record (and the runner saves rank 0's directory).
    const run = [
      'f="$SKYHOP_CHECKPOINT_DIR/step"; mkdir -p "$SKYHOP_CHECKPOINT_DIR"',
      'i=$(cat "$f" 2>/dev/null || echo 0)',
      'echo "rank $SKYHOP_NODE_RANK attempt $SKYHOP_ATTEMPT resumes at $i"',
      'trap \'echo "$i" > "$f"; echo "rank $SKYHOP_NODE_RANK saved $i"; exit 0\' TERM',
      `while [ "$i" -lt ${steps} ]; do i=$((i+1)); [ "$SKYHOP_NODE_RANK" = 0 ] && echo "step $i" >> "$SKYHOP_CHECKPOINT_DIR/work.log"; sleep 0.2; done`,
      'echo "rank $SKYHOP_NODE_RANK finished at $i"',
    ].join('\n')
    const spec = cloudJob('gang-spot', run, {
      nodes: 2,
      spot: 'spot',
      recovery: {
        strategy: 'eager-next-region',
        maxRestarts: 2,
        restartOnExitCodes: [],
        maxRestartsOnErrors: 0,
        graceSeconds: 5,
        signal: 'SIGTERM',
      },
    })
    let worker: string | null = null
    let gang1: GangNode[] = []
    let atRelaunch: string[] | null = null
    const {job} = await w.drive(spec, {
      onEvent: (e) => {
        // The first gang's instances, as EC2 has them when the second gang is being launched.
        if (e.kind === 'launching' && worker && atRelaunch === null) atRelaunch = gang1.map((n) => w.ec2.instances.get(n.externalId)!.state)
        if (e.kind !== 'running' || worker) return
        gang1 = w.store.getAttempt(e.attemptId!)!.handle!.data.nodes as GangNode[]
        worker = gang1[1].externalId
        setTimeout(() => w.ec2.interruptSpot(worker!, 8000), 1500)
      },
    })
    expect(job.state).to.equal('SUCCEEDED')
    const all = w.store.listAttempts(job.id)
    expect(all.map((a) => [a.region, a.state])).to.deep.equal([
      ['us-east-1', 'PREEMPTED'],
      ['us-west-2', 'SUCCEEDED'],
    ])
    // The head was not interrupted by EC2: it heard the worker's notice through the store.
    const firstNodes = all[0].handle!.data.nodes as GangNode[]
    const head = parseConsole(w.ec2.consoleOf(firstNodes[0].externalId))
    expect(w.ec2.instances.get(firstNodes[0].externalId)!.spotAction).to.equal(null)
    expect(head.events.find((e) => e.event === 'notice')).to.deep.include({source: 'gang'})
    const saved = Number(/^rank 0 saved (\d+)$/.exec(head.logs.map((l) => l.line).find((l) => l.startsWith('rank 0 saved'))!)![1])
    expect(saved).to.be.greaterThan(0)
    // The whole gang came back, both ranks from the head's checkpoint, and finished.
    const second: string[] = []
    for await (const line of w.aws.logs(all[1].handle!, {follow: false, node: 'all'})) second.push(line)
    expect(second).to.include.members([
      `[rank 0] rank 0 attempt 2 resumes at ${saved}`,
      `[rank 1] rank 1 attempt 2 resumes at ${saved}`,
      `[rank 0] rank 0 finished at ${steps}`,
      `[rank 1] rank 1 finished at ${steps}`,
    ])
    // Never two live gangs: the first gang's instances were gone before the second was asked for.
    expect(atRelaunch).to.not.equal(null)
    for (const state of atRelaunch!) expect(state).to.be.oneOf(['shutting-down', 'terminated'])
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

  describe('on Tencent Cloud and Huawei Cloud, the store on their own COS and OBS', function () {
    let c: ChinaWorld
    afterEach(async () => c?.close())

    it('Tencent: a zone that grants one node of two (LAUNCH_FAILED) is rolled back and the next zone runs the gang', async () => {
      c = await chinaWorld(cpuOffers(), {checkpointStore: 'cos'})
      c.cvm.setStock('ap-guangzhou', 'ap-guangzhou-3', TC_CPU, 1)
      const {job} = await c.drive(
        chinaJob('tc-gang', report, {
          nodes: 2,
          placement: {providers: {allow: ['tencentcloud'], deny: []}, regions: {allow: null, deny: []}},
        }),
      )
      expect(job.state).to.equal('SUCCEEDED')
      const all = c.store.listAttempts(job.id)
      expect(all.map((a) => [a.zone, a.state])).to.deep.equal([
        ['ap-guangzhou-3', 'FAILED'],
        ['ap-guangzhou-4', 'SUCCEEDED'],
      ])
      const failed = c.store.events(job.id).find((e) => e.kind === 'attempt-launch-failed')!
      expect(failed.data).to.deep.include({code: 'GANG_PARTIAL_CAPACITY', category: 'capacity', scope: 'zone'})
      // Both ranks ran (Tencent's logs go with the terminated instances; the store kept the exit).
      const nodes = all[1].handle!.data.nodes as GangNode[]
      expect(new Set(nodes.map((n) => n.ip)).size).to.equal(2)
      expect(all[1].exitCode).to.equal(0)
      await until(
        async () => c.cvm.live().length,
        (n) => n === 0,
      )
      expect(c.cvm.placementGroups.size).to.equal(0)
    })

    it('Huawei: a batch short of stock is deleted and the next zone runs the gang', async () => {
      c = await chinaWorld(cpuOffers(), {checkpointStore: 'obs'})
      c.ecs.setStock('cn-north-4', 'cn-north-4a', HW_CPU, 1)
      const {job} = await c.drive(
        chinaJob('hw-gang', report, {
          nodes: 2,
          placement: {providers: {allow: ['huaweicloud'], deny: []}, regions: {allow: null, deny: []}},
        }),
      )
      expect(job.state).to.equal('SUCCEEDED')
      expect(c.store.listAttempts(job.id).map((a) => [a.zone, a.state])).to.deep.equal([
        ['cn-north-4a', 'FAILED'],
        ['cn-north-4b', 'SUCCEEDED'],
      ])
      const failed = c.store.events(job.id).find((e) => e.kind === 'attempt-launch-failed')!
      expect(failed.data).to.deep.include({code: 'GANG_PARTIAL_CAPACITY', category: 'capacity', scope: 'zone', backendCode: 'Ecs.0319'})
      await until(
        async () => c.ecs.live().length,
        (n) => n === 0,
      )
      expect(c.ecs.serverGroups.size).to.equal(0)
    })
  })
})
