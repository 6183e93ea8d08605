// Alibaba Cloud gangs (nodes > 1) on the fake ECS, each instance's boot script and the real
// runner run locally as cloud-init would: one RunInstances (Amount = MinAmount = 2) in a
// LowLatency deployment set, rank tags, the rank and peer lists through a fake OSS bucket, per
// node polls and logs, no stock for the whole gang, and a spot reclaim notice on one node
// that ends as the gang's preemption.
import {expect} from 'chai'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import type {GangNode, LaunchHandle, PollResult} from '../../src/model/attempt.js'
import {ALIYUN_TAGS} from '../../src/providers/aliyun/aliyun-provider.js'
import {launchError} from '../helpers/fake-cloud-world.js'
import {startGangStore, type GangStore} from '../helpers/gang-store.js'
import {isTerminal, pollUntil, until} from '../helpers/wait.js'
import {jobSpec} from './aws-helpers.js'
import {offer, request, world, type World} from './aliyun-helpers.js'

async function collect(iter: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = []
  for await (const line of iter) out.push(line)
  return out
}

describe('Alibaba Cloud gangs on the fake ECS: one call, deployment set, ranks, peers, gang notice', function () {
  this.timeout(90_000)
  let w: World
  let store: GangStore
  beforeEach(async function () {
    // The job's store on Alibaba's own OSS, whose V1 signatures cover the PUTs' content type.
    store = await startGangStore('oss')
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

  it('creates both nodes in one RunInstances in a LowLatency deployment set; each runs with its rank and the same peers', async function () {
    w = await world({}, {}, true)
    const r = await gangRequest('echo "rank $SKYHOP_NODE_RANK of $SKYHOP_NUM_NODES peers $(echo $SKYHOP_NODE_IPS)"')
    const handle = await w.provider.launch(r)
    const runs = w.fake.calls.filter((c) => c.action === 'RunInstances')
    expect(runs).to.have.length(1)
    expect(runs[0].params).to.include({Amount: '2', MinAmount: '2', ClientToken: r.attemptId})
    const [set] = [...w.fake.deploymentSets.values()]
    expect(set.strategy).to.equal('LowLatency')
    expect(runs[0].params.DeploymentSetId).to.equal(set.id)

    const nodes = handle.data.nodes as GangNode[]
    expect(nodes.map((n) => n.rank)).to.deep.equal([0, 1])
    for (const n of nodes) {
      const instance = w.fake.instances.get(n.externalId)!
      expect(instance.tags.get(ALIYUN_TAGS.nodeRank)).to.equal(String(n.rank))
      expect(instance.deploymentSetId).to.equal(set.id)
      expect(n.ip).to.equal(instance.privateIp)
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

    await w.provider.cleanup(handle)
    expect(w.fake.live()).to.have.length(0)
    expect(w.fake.deploymentSets.size).to.equal(0)
  })

  it('no stock for the whole gang: nothing is created, the zone is blocked, the deployment set is gone', async function () {
    w = await world()
    w.fake.setStock('cn-hangzhou', 'cn-hangzhou-h', 'ecs.gn7i-c8g1.2xlarge', 1)
    const error = await launchError(w.provider, await gangRequest('true'))
    expect(error).to.include({category: 'capacity', backendCode: 'OperationDenied.NoStock'})
    expect(w.fake.live()).to.have.length(0)
    expect(w.fake.deploymentSets.size).to.equal(0)
  })

  it('a zone-less offer: ECS picks the zone, both nodes are in it, and the handle names it', async function () {
    w = await world()
    const handle = await w.provider.launch(await gangRequest('true', {offer: offer({zone: null})}))
    const runs = w.fake.calls.filter((c) => c.action === 'RunInstances')
    expect(runs[0].params.ZoneId).to.equal(undefined)
    const zones = (handle.data.nodes as GangNode[]).map((n) => w.fake.instances.get(n.externalId)!.zone)
    // cn-hangzhou-h is the zone with stock for two.
    expect(zones).to.deep.equal(['cn-hangzhou-h', 'cn-hangzhou-h'])
    expect(handle.zone).to.equal('cn-hangzhou-h')
    await w.provider.cleanup(handle)
  })

  for (const [what, fault, code, words] of [
    [
      'a node in another zone',
      {zone: 'cn-hangzhou-i'},
      'GANG_ZONE_SPLIT',
      /not placed in one zone \(cn-hangzhou-h\): .* in cn-hangzhou-h, .* in cn-hangzhou-i; released them/,
    ],
    [
      'a node outside the deployment set',
      {outsideSet: true},
      'GANG_OUTSIDE_DEPLOYMENT_SET',
      /are not in its deployment set ds-.*; released them/,
    ],
  ] as const) {
    it(`${what}: the gang is released whole, its deployment set deleted, and the offer given up for now`, async function () {
      w = await world()
      w.fake.misplaceNext(fault)
      const error = await launchError(w.provider, await gangRequest('true'))
      expect(error).to.include({category: 'unavailable', code, scope: 'offer'})
      expect(error.message).to.match(words)
      expect(w.fake.instances.size).to.equal(2)
      expect(w.fake.live()).to.have.length(0)
      expect(w.fake.deploymentSets.size).to.equal(0)
    })
  }

  it('fewer nodes granted than asked (MinAmount not honoured): the ones granted are released, the zone blocked', async function () {
    w = await world()
    w.fake.misplaceNext({grant: 1})
    const error = await launchError(w.provider, await gangRequest('true'))
    expect(error).to.include({category: 'capacity', code: 'GANG_PARTIAL_CAPACITY', scope: 'zone'})
    expect(error.message).to.include('only 1 of 2 nodes were granted in cn-hangzhou-h; released them')
    expect(w.fake.instances.size).to.equal(1)
    expect(w.fake.live()).to.have.length(0)
    expect(w.fake.deploymentSets.size).to.equal(0)
  })

  it('a step after the launch failing (tagging the ranks) releases every node created', async function () {
    w = await world()
    w.fake.inject({action: 'TagResources', code: 'InvalidParameter', message: 'injected'})
    const error = await launchError(w.provider, await gangRequest('true'))
    expect(error.backendCode).to.equal('InvalidParameter')
    expect(w.fake.instances.size).to.equal(2)
    expect(w.fake.live()).to.have.length(0)
    expect(w.fake.deploymentSets.size).to.equal(0)
  })

  it('cancels every node through Cloud Assistant (each runner keeps its pid in node-<rank>/); listOwned finds the gang whole', async function () {
    w = await world({}, {}, true)
    const run =
      'trap \'echo "rank $SKYHOP_NODE_RANK stopping"; exit 0\' TERM; echo "rank $SKYHOP_NODE_RANK up"; while true; do sleep 0.1; done'
    const r = await gangRequest(run)
    const handle = await w.provider.launch(r)
    await until(
      () => collect(w.provider.logs(handle, {follow: false, node: 'all'})),
      (l) => l.length === 2,
      30_000,
      200,
    )
    await w.provider.signal(handle, 'cancel', 5)
    const result = await finalPoll(handle)
    expect(result.state).to.equal('CANCELLED')
    expect(result.nodes!.map((n) => n.state)).to.deep.equal(['CANCELLED', 'CANCELLED'])
    expect((await collect(w.provider.logs(handle, {follow: false, node: 'all'}))).filter((l) => l.includes('stopping'))).to.have.length(2)
    const [owned] = await w.provider.listOwned({attemptId: r.attemptId})
    expect((owned.data.nodes as GangNode[]).map((n) => n.externalId)).to.deep.equal(
      (handle.data.nodes as GangNode[]).map((n) => n.externalId),
    )
    // What an orphan sweep does with what it found: every node and the deployment set go.
    await w.provider.cleanup(owned)
    expect(w.fake.live()).to.have.length(0)
    expect(w.fake.deploymentSets.size).to.equal(0)
  })

  it('a reclaim notice on one node reaches the other through the store: both stop with one deadline, the gang is PREEMPTED', async function () {
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
    w.fake.reclaimSpot(nodes[1].externalId, 20_000)
    const result = await finalPoll(handle)
    expect(result.state).to.equal('PREEMPTED')
    expect(result.nodes!.map((n) => n.state)).to.deep.equal(['PREEMPTED', 'PREEMPTED'])
    expect(w.fake.instances.get(nodes[0].externalId)!.terminationTime).to.equal(null)
    const saved = (await collect(w.provider.logs(handle, {follow: false, node: 'all'}))).filter((l) => l.includes('saving'))
    expect(saved).to.have.length(2)
    expect(new Set(saved.map((l) => /deadline (.*)$/.exec(l)![1])).size).to.equal(1)
    await w.provider.cleanup(handle)
    expect(w.fake.live()).to.have.length(0)
  })
})
