// Huawei Cloud gangs (nodes > 1) on the fake ECS, each server's boot script and the real
// runner run locally as cloud-init would: one creation request (count = 2) in an
// anti-affinity server group, the creation job followed to the end, rank tags, the rank and
// peer lists through a fake S3 bucket, per-node polls and logs, a batch short of stock
// rolled back, and a preempt stop request on one node ending as the gang's preemption.
import {expect} from 'chai'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import type {GangNode, LaunchHandle, PollResult} from '../../src/model/attempt.js'
import {HUAWEI_STOP_KEY, HUAWEI_TAGS} from '../../src/providers/huaweicloud/huawei-provider.js'
import {launchError} from '../helpers/fake-cloud-world.js'
import {startGangStore, type GangStore} from '../helpers/gang-store.js'
import {isTerminal, pollUntil, until} from '../helpers/wait.js'
import {jobSpec} from './aws-helpers.js'
import {request, world, type World} from './huawei-helpers.js'

async function collect(iter: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = []
  for await (const line of iter) out.push(line)
  return out
}

describe('Huawei Cloud gangs on the fake ECS: one request, server group, ranks, peers, partial batch, gang notice', function () {
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

  async function gangRequest(run: string, overrides: Parameters<typeof request>[0] = {}) {
    const r = request({spec: jobSpec(run, {nodes: 2}), ...overrides})
    return {...r, gang: await store.sign(r.jobId, r.attemptId)}
  }

  const finalPoll = (handle: LaunchHandle): Promise<PollResult> =>
    pollUntil(w.provider, handle, isTerminal, {timeoutMs: 60_000, stepMs: 200})

  it('creates both servers in one request in a server group; each runs with its rank and the same peers', async function () {
    w = await world({}, {}, true)
    const r = await gangRequest('echo "rank $SKYHOP_NODE_RANK of $SKYHOP_NUM_NODES peers $(echo $SKYHOP_NODE_IPS)"')
    const handle = await w.provider.launch(r)
    const creates = w.fake.calls.filter((c) => c.action === 'CreatePostPaidServers')
    expect(creates).to.have.length(1)
    const server = (creates[0].body as {server: Record<string, unknown>}).server
    const [group] = [...w.fake.serverGroups.values()]
    expect(group.policies).to.deep.equal(['anti-affinity'])
    expect(server).to.deep.include({count: 2, 'os:scheduler_hints': {group: group.id}})

    const nodes = handle.data.nodes as GangNode[]
    expect(nodes.map((n) => n.rank)).to.deep.equal([0, 1])
    for (const n of nodes) {
      const s = w.fake.servers.get(n.externalId)!
      expect(s.tags).to.deep.include({key: HUAWEI_TAGS.nodeRank, value: String(n.rank)})
      expect(s.serverGroupId).to.equal(group.id)
      expect(n.ip).to.equal(s.privateIp)
    }
    const ips = nodes.map((n) => n.ip).join(' ')
    expect(store.objects(r.jobId, r.attemptId).nodeIps).to.equal(`${ips}\n`)

    const result = await finalPoll(handle)
    expect(result).to.include({state: 'SUCCEEDED', exitCode: 0})
    expect(result.nodes!.map((n) => n.state)).to.deep.equal(['SUCCEEDED', 'SUCCEEDED'])
    expect((await collect(w.provider.logs(handle, {follow: false, node: 'all'}))).sort()).to.deep.equal([
      `[rank 0] rank 0 of 2 peers ${ips}`,
      `[rank 1] rank 1 of 2 peers ${ips}`,
    ])
    const conf = readFileSync(join(w.bootDir!, nodes[1].externalId, 'root', 'var/lib/skyhop/attempts', r.attemptId, 'runner.conf'), 'utf8')
    expect(conf).to.include("numNodes='2'").and.include(`nodeIpsUrl='${r.gang.nodeIps.getUrl}'`)

    const owned = await w.provider.listOwned({attemptId: r.attemptId})
    expect(owned).to.have.length(1)
    expect(owned[0].data).to.deep.include({serverGroupId: group.id})
    await w.provider.cleanup(handle)
    await until(
      async () => w.fake.live().length,
      (n) => n === 0,
    )
    expect(w.fake.serverGroups.size).to.equal(0)
  })

  it('a retried launch (same token) gets the same gang in the same server group, nothing more', async function () {
    w = await world()
    const r = await gangRequest('true')
    const first = await w.provider.launch(r)
    const again = await w.provider.launch(r)
    expect(again.data.nodes).to.deep.equal(first.data.nodes)
    expect(w.fake.serverGroups.size).to.equal(1)
    expect(w.fake.live()).to.have.length(2)
    await w.provider.cleanup(again)
    expect(w.fake.serverGroups.size).to.equal(0)
  })

  it('a batch short of stock (one server built, one sub-job failed) is deleted and fails as capacity of the zone', async function () {
    w = await world()
    w.fake.setStock('cn-north-4', 'cn-north-4a', 'p2s.2xlarge.8', 1)
    const error = await launchError(w.provider, await gangRequest('true'))
    expect(error).to.include({category: 'capacity', scope: 'zone', code: 'GANG_PARTIAL_CAPACITY', backendCode: 'Ecs.0319'})
    expect(w.fake.servers.size).to.equal(1)
    await until(
      async () => w.fake.live().length,
      (n) => n === 0,
    )
    expect(w.fake.serverGroups.size).to.equal(0)
  })

  it('a preempt request on one node reaches the other through the store: the gang is PREEMPTED with one deadline', async function () {
    w = await world({}, {}, true)
    const run =
      'trap \'echo "rank $SKYHOP_NODE_RANK saving, deadline $(cat "$SKYHOP_PREEMPT_NOTICE")"; exit 0\' TERM; echo "rank $SKYHOP_NODE_RANK working"; while true; do sleep 0.1; done'
    const r = await gangRequest(run, {spot: true})
    const handle = await w.provider.launch(r)
    const nodes = handle.data.nodes as GangNode[]
    await until(
      () => collect(w.provider.logs(handle, {follow: false, node: 'all'})),
      (l) => l.length === 2,
      30_000,
      200,
    )
    // Only node 1 is asked to stop, as a reclaim seen by one guest would be.
    w.fake.servers.get(nodes[1].externalId)!.metadata[HUAWEI_STOP_KEY] = 'preempt 20'
    const result = await finalPoll(handle)
    expect(result.state).to.equal('PREEMPTED')
    expect(result.nodes!.map((n) => n.state)).to.deep.equal(['PREEMPTED', 'PREEMPTED'])
    expect(w.fake.servers.get(nodes[0].externalId)!.metadata[HUAWEI_STOP_KEY]).to.equal(undefined)
    const saved = (await collect(w.provider.logs(handle, {follow: false, node: 'all'}))).filter((l) => l.includes('saving'))
    expect(saved).to.have.length(2)
    expect(new Set(saved.map((l) => /deadline (.*)$/.exec(l)![1])).size).to.equal(1)
    await w.provider.cleanup(handle)
  })
})
