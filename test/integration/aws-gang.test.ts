// AWS gangs (nodes > 1) on the fake EC2, each instance's boot script and the real runner run
// locally as cloud-init would: one RunInstances for the whole gang in a cluster placement
// group, rank tags, the rank list and peer list through a fake S3 bucket, every node's
// runner.conf and contract variables, per-node polls and logs, rollback when a later step
// fails, and a spot notice on one node that ends as the gang's preemption.
import {expect} from 'chai'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {gunzipSync} from 'node:zlib'

import type {GangNode, LaunchHandle, PollResult} from '../../src/model/attempt.js'
import {AWS_TAGS, placementGroupName} from '../../src/providers/aws/aws-provider.js'
import {parseConsole} from '../../src/providers/vm/console-channel.js'
import {launchError} from '../helpers/fake-cloud-world.js'
import {startGangStore, type GangStore} from '../helpers/gang-store.js'
import {isTerminal, pollUntil, until} from '../helpers/wait.js'
import {jobSpec, launchRequest, world, type World} from './aws-helpers.js'

function gunzipIfPacked(data: Buffer): string {
  return (data[0] === 0x1f && data[1] === 0x8b ? gunzipSync(data) : data).toString('utf8')
}

async function collect(iter: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = []
  for await (const line of iter) out.push(line)
  return out
}

const REPORT = 'echo "rank $SKYHOP_NODE_RANK of $SKYHOP_NUM_NODES head $SKYHOP_HEAD_IP peers $(echo $SKYHOP_NODE_IPS)"'

describe('AWS gangs on the fake EC2: one call, placement, ranks, peers, rollback, gang notice', function () {
  this.timeout(90_000)
  let w: World
  let store: GangStore
  beforeEach(async function () {
    store = await startGangStore()
  })
  afterEach(async function () {
    await w?.close()
    await store?.stop()
  })

  async function gangRequest(run: string, overrides: Parameters<typeof launchRequest>[0] = {}) {
    const request = launchRequest({spec: jobSpec(run, {nodes: 2}), ...overrides})
    return {...request, gang: await store.sign(request.jobId, request.attemptId)}
  }

  const finalPoll = (handle: LaunchHandle): Promise<PollResult> =>
    pollUntil(w.provider, handle, isTerminal, {timeoutMs: 60_000, stepMs: 200})

  it('launches two nodes in one RunInstances in a cluster placement group; each runs with its rank and the same peers', async function () {
    w = await world({}, {consoleGraceMs: 20_000}, {boot: true})
    const request = await gangRequest(REPORT)
    const handle = await w.provider.launch(request)

    const runs = w.fake.calls.filter((c) => c.action === 'RunInstances')
    expect(runs).to.have.length(1)
    const p = runs[0].params
    expect([p.MinCount, p.MaxCount]).to.deep.equal(['2', '2'])
    expect(p.ClientToken).to.equal(request.attemptId)
    expect(p['Placement.GroupName']).to.equal(placementGroupName(request.attemptId))
    const created = w.fake.calls.find((c) => c.action === 'CreatePlacementGroup')!
    expect(created.params).to.include({GroupName: placementGroupName(request.attemptId), Strategy: 'cluster'})

    const nodes = handle.data.nodes as GangNode[]
    expect(nodes.map((n) => n.rank)).to.deep.equal([0, 1])
    expect(handle.externalId).to.equal(nodes[0].externalId)
    for (const n of nodes) {
      const instance = w.fake.instances.get(n.externalId)!
      expect(instance.tags.get(AWS_TAGS.nodeRank)).to.equal(String(n.rank))
      expect(instance.tags.get(AWS_TAGS.attemptId)).to.equal(request.attemptId)
      expect(instance.zone).to.equal('us-east-1a')
      expect(n.ip).to.equal(instance.privateIp)
    }
    // One user data for every node, without the runner: the nodes fetched it from the store.
    const userData = gunzipIfPacked(Buffer.from(p.UserData, 'base64'))
    expect(userData).to.include(request.gang.runner.getUrl).and.not.include("sk_file 'skyhop-runner.sh'")
    expect(store.s3.object('gangs', `runs/${request.jobId}/gangs/${request.attemptId}/skyhop-runner.sh`)).to.not.equal(undefined)
    const ips = nodes.map((n) => n.ip).join(' ')
    expect(store.objects(request.jobId, request.attemptId)).to.deep.include({
      nodeIds: `${nodes.map((n) => n.externalId).join(' ')}\n`,
      nodeIps: `${ips}\n`,
    })

    const result = await finalPoll(handle)
    expect(result).to.include({state: 'SUCCEEDED', exitCode: 0})
    expect(result.nodes!.map((n) => [n.rank, n.state, n.exitCode])).to.deep.equal([
      [0, 'SUCCEEDED', 0],
      [1, 'SUCCEEDED', 0],
    ])
    const line = (rank: number) => `rank ${rank} of 2 head ${nodes[0].ip} peers ${ips}`
    expect(await collect(w.provider.logs(handle, {follow: false}))).to.deep.equal([line(0)])
    expect(await collect(w.provider.logs(handle, {follow: false, node: 1}))).to.deep.equal([line(1)])
    expect((await collect(w.provider.logs(handle, {follow: false, node: 'all'}))).sort()).to.deep.equal([
      `[rank 0] ${line(0)}`,
      `[rank 1] ${line(1)}`,
    ])
    // Every node got the same user data; the runner.conf on each says where the peers are.
    for (const n of nodes) {
      const dir = join(w.bootDir!, n.externalId, 'root', 'var/lib/skyhop/attempts', request.attemptId)
      const conf = readFileSync(join(dir, 'runner.conf'), 'utf8')
      expect(conf).to.include("numNodes='2'")
      expect(conf).to.include(`nodeIpsUrl='${request.gang.nodeIps.getUrl}'`)
      expect(conf).to.include(`gangNoticePutUrl='${request.gang.notice.putUrl}'`)
      expect(readFileSync(join(dir, `node-${n.rank}`, 'exit_code'), 'utf8').trim()).to.equal('0')
    }

    await w.provider.cleanup(handle)
    expect(w.fake.liveInstances()).to.have.length(0)
    expect(w.fake.placementGroups.size).to.equal(0)
  })

  it('refuses a gang without an object store, saying what to set, before anything is launched', async function () {
    w = await world()
    const error = await launchError(w.provider, launchRequest({spec: jobSpec('true', {nodes: 2})}))
    expect(error).to.include({category: 'unavailable', scope: 'provider', code: 'GANG_STORE_MISSING'})
    expect(error.message).to.match(/needs an object store .*: set checkpoint\.store in the job file/)
    expect(w.fake.actions()).to.not.include('RunInstances')
  })

  it('one node short of capacity: nothing is granted, the error blocks the zone, the placement group is gone', async function () {
    w = await world()
    w.fake.setCapacity('us-east-1', 'us-east-1a', 'g5.xlarge', 1)
    const error = await launchError(w.provider, await gangRequest('true'))
    expect(error).to.include({category: 'capacity', scope: 'zone', backendCode: 'InsufficientInstanceCapacity'})
    expect(w.fake.liveInstances()).to.have.length(0)
    expect(w.fake.placementGroups.size).to.equal(0)
  })

  it('a step after the launch failing (the peer list refused by the store) terminates every node granted', async function () {
    w = await world()
    store.s3.failNext(1, 403, 'AccessDenied', /\/node-ids$/)
    const request = await gangRequest('true')
    const error = await launchError(w.provider, request)
    expect(error.category).to.equal('auth')
    expect(w.fake.instances.size).to.equal(2)
    await until(
      async () => w.fake.liveInstances().length,
      (n) => n === 0,
    )
    expect(w.fake.actions()).to.include('TerminateInstances')
    expect(w.fake.placementGroups.size).to.equal(0)
    // No secret of the signed URLs in what the controller records.
    expect(JSON.stringify(error.toJSON())).to.not.include('X-Amz-Signature')
  })

  it('a store that keeps failing after the launch: the gang is released and the offer given up for now, never retried on the same token', async function () {
    w = await world()
    store.s3.failNext(10, 503, 'SlowDown', /\/node-(ids|ips)$/)
    const error = await launchError(w.provider, await gangRequest('true'))
    expect(error).to.include({category: 'unavailable', scope: 'offer'})
    expect(error.message).to.match(/the gang was released$/)
    await until(
      async () => w.fake.liveInstances().length,
      (n) => n === 0,
    )
  })

  it('polls, signals and lists a gang as one attempt', async function () {
    w = await world()
    const request = await gangRequest('true')
    const handle = await w.provider.launch(request)
    const nodes = handle.data.nodes as GangNode[]
    await until(
      async () => (await w.provider.poll([handle])).get(handle.externalId)!,
      (r) => r.state === 'RUNNING' && r.nodes?.length === 2,
    )
    const owned = await w.provider.listOwned({attemptId: request.attemptId, regions: ['us-east-1']})
    expect(owned).to.have.length(1)
    expect(owned[0].externalId).to.equal(handle.externalId)
    expect((owned[0].data.nodes as GangNode[]).map((n) => [n.rank, n.externalId])).to.deep.equal(nodes.map((n) => [n.rank, n.externalId]))
    await w.provider.signal(handle, 'cancel', 9)
    for (const n of nodes) expect(w.fake.instances.get(n.externalId)!.tags.get(AWS_TAGS.stopRequest)).to.equal('cancel 9')
    // One node gone without a word (no exit line, not stopped by us) loses the gang at once.
    const gone = w.fake.instances.get(nodes[1].externalId)!
    gone.tags.delete(AWS_TAGS.stopRequest)
    gone.state = 'terminated'
    const lost = (await w.provider.poll([handle])).get(handle.externalId)!
    expect(lost.state).to.equal('LOST')
    expect(lost.nodes!.map((n) => n.state)).to.deep.equal(['RUNNING', 'LOST'])
    await w.provider.cleanup(handle)
    expect(w.fake.liveInstances()).to.have.length(0)
  })

  it('a spot notice on one node reaches the other through the store: both stop with the same deadline, the gang is PREEMPTED', async function () {
    w = await world({}, {consoleGraceMs: 20_000}, {boot: true})
    const run =
      'trap \'echo "rank $SKYHOP_NODE_RANK saving, deadline $(cat "$SKYHOP_PREEMPT_NOTICE")"; exit 0\' TERM; echo "rank $SKYHOP_NODE_RANK working"; while true; do sleep 0.1; done'
    const request = await gangRequest(run, {spot: true})
    const handle = await w.provider.launch(request)
    const nodes = handle.data.nodes as GangNode[]
    await until(
      () => collect(w.provider.logs(handle, {follow: false, node: 'all'})),
      (l) => l.length === 2,
      30_000,
      200,
    )
    w.fake.interruptSpot(nodes[1].externalId, 20_000)
    const result = await finalPoll(handle)
    expect(result.state).to.equal('PREEMPTED')
    expect(result.nodes!.map((n) => n.state)).to.deep.equal(['PREEMPTED', 'PREEMPTED'])
    // Only node 1 was told by EC2; node 0 heard it from the gang, with the same deadline.
    expect(w.fake.instances.get(nodes[0].externalId)!.spotAction).to.equal(null)
    expect(store.objects(request.jobId, request.attemptId).notice).to.be.a('string')
    const saved = (await collect(w.provider.logs(handle, {follow: false, node: 'all'}))).filter((l) => l.includes('saving'))
    expect(saved).to.have.length(2)
    const deadlines = new Set(saved.map((l) => /deadline (.*)$/.exec(l)![1]))
    expect(deadlines.size).to.equal(1)
    // The head signalled its job within about a poll interval (1 s) and a GET of the worker's notice.
    const signalled = (id: string) => Date.parse(parseConsole(w.fake.consoleOf(id)).events.find((e) => e.event === 'signal')!.ts)
    const lag = signalled(nodes[0].externalId) - signalled(nodes[1].externalId)
    expect(lag).to.be.lessThan(2500)
    await w.provider.cleanup(handle)
  })
})
