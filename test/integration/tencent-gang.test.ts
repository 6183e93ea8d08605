// Tencent Cloud gangs (nodes > 1) on the fake CVM/TAT, each instance's boot script and the
// real runner run locally as cloud-init would: one RunInstances (InstanceCount = 2) in a
// placement group, the launch waiting for every node, rank names, the rank and peer lists
// through a fake S3 bucket, per-node polls and logs through TAT, a partial grant (one node
// LAUNCH_FAILED) rolled back, and a spot reclaim on one node ending as the gang's preemption.
import {expect} from 'chai'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import type {GangNode, LaunchHandle, PollResult} from '../../src/model/attempt.js'
import {launchError} from '../helpers/fake-cloud-world.js'
import {startGangStore, type GangStore} from '../helpers/gang-store.js'
import {isTerminal, pollUntil, until} from '../helpers/wait.js'
import {jobSpec} from './aws-helpers.js'
import {request, world, type World} from './tencent-helpers.js'

async function collect(iter: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = []
  for await (const line of iter) out.push(line)
  return out
}

describe('Tencent Cloud gangs on the fake CVM: one call, placement group, ranks, peers, partial grant, gang notice', function () {
  this.timeout(120_000)
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

  it('launches both nodes in one RunInstances in a placement group; each runs with its rank and the same peers', async function () {
    w = await world({}, {}, true)
    const r = await gangRequest('echo "rank $SKYHOP_NODE_RANK of $SKYHOP_NUM_NODES peers $(echo $SKYHOP_NODE_IPS)"')
    const handle = await w.provider.launch(r)
    const runs = w.fake.calls.filter((c) => c.action === 'RunInstances')
    expect(runs).to.have.length(1)
    const [group] = [...w.fake.placementGroups.values()]
    expect(group.type).to.equal('HOST')
    expect(runs[0].params).to.deep.include({InstanceCount: 2, ClientToken: r.attemptId, DisasterRecoverGroupIds: [group.id]})

    const nodes = handle.data.nodes as GangNode[]
    expect(nodes.map((n) => n.rank)).to.deep.equal([0, 1])
    for (const n of nodes) {
      const instance = w.fake.instances.get(n.externalId)!
      expect(instance.name).to.match(new RegExp(`-rank${n.rank}$`))
      expect(instance.placementGroupId).to.equal(group.id)
      expect(n.ip).to.equal(instance.privateIp)
    }
    const ips = nodes.map((n) => n.ip).join(' ')
    expect(store.objects(r.jobId, r.attemptId).nodeIds).to.equal(`${nodes.map((n) => n.externalId).join(' ')}\n`)

    const result = await finalPoll(handle)
    expect(result).to.include({state: 'SUCCEEDED', exitCode: 0})
    expect(result.nodes!.map((n) => n.state)).to.deep.equal(['SUCCEEDED', 'SUCCEEDED'])
    expect(await collect(w.provider.logs(handle, {follow: false, node: 1}))).to.deep.equal([`rank 1 of 2 peers ${ips}`])
    const conf = readFileSync(join(w.bootDir!, nodes[0].externalId, 'root', 'var/lib/skyhop/attempts', r.attemptId, 'runner.conf'), 'utf8')
    expect(conf).to.include("numNodes='2'").and.include(`gangNoticeGetUrl='${r.gang.notice.getUrl}'`)

    const owned = await w.provider.listOwned({attemptId: r.attemptId})
    expect(owned).to.have.length(1)
    expect((owned[0].data.nodes as GangNode[]).map((n) => n.externalId)).to.deep.equal(nodes.map((n) => n.externalId))

    await w.provider.cleanup(handle)
    await until(
      async () => w.fake.live().length,
      (n) => n === 0,
    )
    expect(w.fake.placementGroups.size).to.equal(0)
  })

  it('one node of two granted (the other LAUNCH_FAILED): the granted one is terminated, the zone blocked for capacity', async function () {
    w = await world()
    w.fake.setStock('ap-guangzhou', 'ap-guangzhou-3', 'GN7.2XLARGE32', 1)
    const error = await launchError(w.provider, await gangRequest('true'))
    expect(error).to.include({category: 'capacity', scope: 'zone', code: 'GANG_PARTIAL_CAPACITY'})
    expect(error.message).to.include('only 1 of 2 nodes')
    expect(w.fake.instances.size).to.equal(2)
    await until(
      async () => w.fake.live().length,
      (n) => n === 0,
    )
    expect(w.fake.placementGroups.size).to.equal(0)
  })

  it('a reclaim notice on one node reaches the other through the store: the gang is PREEMPTED with one deadline', async function () {
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
      300,
    )
    w.fake.reclaimSpot(nodes[1].externalId, 20_000)
    const result = await finalPoll(handle)
    expect(result.state).to.equal('PREEMPTED')
    expect(result.nodes!.map((n) => n.state)).to.deep.equal(['PREEMPTED', 'PREEMPTED'])
    expect(w.fake.instances.get(nodes[0].externalId)!.terminationTime).to.equal(null)
    const saved = (await collect(w.provider.logs(handle, {follow: false, node: 'all'}))).filter((l) => l.includes('saving'))
    expect(saved).to.have.length(2)
    expect(new Set(saved.map((l) => /deadline (.*)$/.exec(l)![1])).size).to.equal(1)
    await w.provider.cleanup(handle)
  })
})
