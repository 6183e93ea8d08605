// A cloud gang's objects in the job's store (the rank list, the peer list, the notice, the
// runner its nodes fetch: vm/gang.ts) live as long as the attempt and no longer: whoever
// releases the attempt (its controller, `cancel`, `recover`, a failed launch's rollback)
// deletes them, as it does the secrets object. On the fake EC2 with the fake S3 store.
import {expect} from 'chai'

import {releaseIdle} from '../../src/controller/idle.js'
import {cancelJob} from '../../src/services/cancel.js'
import {stopAndRelease} from '../../src/services/orphans.js'
import {recoverJobs} from '../../src/services/recover.js'
import {until} from '../helpers/wait.js'
import {AWS_TYPE, cloudJob, cloudWorld, type CloudWorld} from './cloud-world.js'

const GANG_NAMES = ['node-ids', 'node-ips', 'notice', 'skyhop-runner.sh']

describe('a cloud gang’s objects in the store go with its attempt (fake EC2, fake S3)', function () {
  this.timeout(120_000)
  let w: CloudWorld | null = null
  afterEach(async () => {
    await w?.close()
    w = null
  })

  /** The keys left under the attempt's gangs/ folder, by name. */
  function left(world: CloudWorld, jobId: string, attemptId: string): string[] {
    const prefix = `ckpt/runs/${jobId}/gangs/${attemptId}/`
    return [...world.s3!.objects.keys()]
      .filter((k) => k.startsWith(prefix))
      .map((k) => k.slice(prefix.length))
      .sort()
  }

  /** Each gang object's requests, `METHOD STATUS` in order. */
  function calls(world: CloudWorld, jobId: string, attemptId: string, name: string): string[] {
    const key = `runs/${jobId}/gangs/${attemptId}/${name}`
    return world.s3!.requests.filter((r) => r.key === key).map((r) => `${r.method} ${r.status}`)
  }

  it('a gang that ran: its controller deletes the rank and peer lists, the notice and the runner once it released the nodes', async () => {
    w = await cloudWorld({checkpointStore: true})
    const {job} = await w.drive(cloudJob('gang-objects', 'echo "rank $SKYHOP_NODE_RANK"', {nodes: 2}))
    expect(job.state, job.reason ?? '').to.equal('SUCCEEDED')
    const [attempt] = w.store.listAttempts(job.id)
    expect(attempt.releasedAt, 'released').to.not.equal(null)
    // Written at the launch, read by both nodes, deleted at the release.
    expect(calls(w, job.id, attempt.id, 'node-ips')[0]).to.equal('PUT 200')
    expect(calls(w, job.id, attempt.id, 'node-ips').filter((c) => c === 'GET 200').length).to.be.at.least(2)
    for (const name of GANG_NAMES) expect(calls(w, job.id, attempt.id, name).at(-1), name).to.equal('DELETE 204')
    expect(left(w, job.id, attempt.id)).to.deep.equal([])
    expect(w.store.events(job.id).map((e) => e.kind)).to.not.include('gang-objects-delete-failed')
  })

  it('a gang one node short of capacity: the failed attempt’s runner object goes with it, and the next candidate’s gang runs', async () => {
    w = await cloudWorld({checkpointStore: true})
    w.ec2.setCapacity('us-east-1', 'us-east-1a', AWS_TYPE, 1)
    const {job} = await w.drive(cloudJob('gang-short', 'true', {nodes: 2}))
    expect(job.state, job.reason ?? '').to.equal('SUCCEEDED')
    const [failed, ran] = w.store.listAttempts(job.id)
    expect([failed.zone, failed.state, ran.state]).to.deep.equal(['us-east-1a', 'FAILED', 'SUCCEEDED'])
    // The runner was written before the launch the zone refused.
    expect(calls(w, job.id, failed.id, 'skyhop-runner.sh')).to.deep.equal(['PUT 200', 'DELETE 204'])
    expect(left(w, job.id, failed.id)).to.deep.equal([])
    expect(left(w, job.id, ran.id)).to.deep.equal([])
  })

  /** A 2-node gang whose nodes stay pending (never boot), once its lists are in the store. */
  async function unbootedGang(name: string, signal: AbortSignal) {
    w = await cloudWorld({checkpointStore: true, pendingMs: 600_000})
    const world = w
    const job = world.create(cloudJob(name, 'true', {nodes: 2}))
    const driving = world.driveExisting(job.id, {signal})
    const attempt = await until(
      async () => world.store.listAttempts(job.id).find((a) => a.handle !== null),
      (a) => a !== undefined,
      30_000,
      100,
    )
    expect(left(world, job.id, attempt!.id)).to.deep.equal(['node-ids', 'node-ips', 'skyhop-runner.sh'])
    return {world, job, attempt: attempt!, driving}
  }

  it('cancel: the gang is released and its objects deleted', async () => {
    const abort = new AbortController()
    const {world, job, attempt, driving} = await unbootedGang('gang-cancel', abort.signal)
    const result = await cancelJob(world.store, world.providers, job.id, {graceSeconds: 30, attemptHolds: world.attemptHolds})
    expect(result.signalled).to.deep.equal([attempt.id])
    expect(world.store.listAttempts(job.id)[0].releasedAt, 'released').to.not.equal(null)
    for (const node of world.ec2.instances.values()) expect(node.state).to.be.oneOf(['shutting-down', 'terminated'])
    expect(left(world, job.id, attempt.id)).to.deep.equal([])
    for (const name of GANG_NAMES) expect(calls(world, job.id, attempt.id, name).at(-1), name).to.equal('DELETE 204')
    abort.abort()
    await driving
  })

  it('recover: a gang of a job that ended without its controller is released and its objects deleted', async () => {
    const abort = new AbortController()
    const {world, job, attempt, driving} = await unbootedGang('gang-recover', abort.signal)
    abort.abort()
    await driving
    world.store.setJobState(job.id, 'CANCELLED', {kind: 'cancel-requested', data: {graceSeconds: 1}}, {reason: 'cancelled by user'})
    expect(left(world, job.id, attempt.id)).to.have.length(3)
    const result = await recoverJobs({
      store: world.store,
      providers: world.providers,
      home: world.home,
      spawn: () => undefined,
      attemptHolds: world.attemptHolds,
    })
    expect(result.actions.filter((a) => a.step === 'stop-attempt').map((a) => a.ok)).to.deep.equal([true])
    expect(left(world, job.id, attempt.id)).to.deep.equal([])
  })

  it('a release that failed keeps them for the running nodes; the idle guard that releases the gang later deletes them', async () => {
    w = await cloudWorld({checkpointStore: true})
    // The controller's release fails (its retries too): the nodes may still run, so the objects stay.
    w.ec2.inject({action: 'TerminateInstances', code: 'InternalError', status: 500, times: 1000})
    const {job} = await w.drive(cloudJob('gang-idle', 'true', {nodes: 2}))
    expect(job.state, job.reason ?? '').to.equal('SUCCEEDED')
    const [attempt] = w.store.listAttempts(job.id)
    expect(attempt.releasedAt).to.equal(null)
    expect(left(w, job.id, attempt.id)).to.deep.equal(['node-ids', 'node-ips', 'skyhop-runner.sh'])
    w.ec2.clearInjections()
    const released = await releaseIdle({
      store: w.store,
      providers: w.providers,
      now: new Date(Date.now() + 3_600_000),
      attemptHolds: w.attemptHolds,
    })
    expect(released.map((r) => r.attemptId)).to.deep.equal([attempt.id])
    expect(left(w, job.id, attempt.id)).to.deep.equal([])
  })

  it('down JOB: an ended gang whose release had failed is released and its objects deleted', async () => {
    w = await cloudWorld({checkpointStore: true})
    w.ec2.inject({action: 'TerminateInstances', code: 'InternalError', status: 500, times: 1000})
    const {job} = await w.drive(cloudJob('gang-down', 'true', {nodes: 2}))
    expect(job.state, job.reason ?? '').to.equal('SUCCEEDED')
    const [attempt] = w.store.listAttempts(job.id)
    expect(left(w, job.id, attempt.id)).to.have.length(3)
    w.ec2.clearInjections()
    const result = await stopAndRelease({
      store: w.store,
      providers: w.providers,
      ref: job.id,
      graceSeconds: 1,
      attemptHolds: w.attemptHolds,
    })
    expect(result).to.deep.include({cancelled: false, released: [attempt.id], releaseFailed: []})
    expect(left(w, job.id, attempt.id)).to.deep.equal([])
  })

  it('a store refusing the DELETE: the attempt still ends released, and an event says the objects were left', async () => {
    w = await cloudWorld({checkpointStore: true})
    // Every DELETE of the peer list is refused; the other objects still go.
    w.s3!.failNext(100, 403, 'AccessDenied', /\/gangs\/.*\/node-ips$/, 'DELETE')
    const {job} = await w.drive(cloudJob('gang-delete-refused', 'true', {nodes: 2}))
    expect(job.state, job.reason ?? '').to.equal('SUCCEEDED')
    const [attempt] = w.store.listAttempts(job.id)
    expect(attempt.releasedAt, 'released').to.not.equal(null)
    const events = w.store.events(job.id).filter((e) => e.kind === 'gang-objects-delete-failed')
    expect(events).to.have.length(1)
    expect(JSON.stringify(events[0].data)).to.include('403')
    expect(JSON.stringify(events[0].data)).to.not.match(/X-Amz-Signature/)
    expect(left(w, job.id, attempt.id)).to.deep.equal(['node-ips'])
  })
})
