// GCP gangs (nodes > 1) on the fake Compute Engine, each instance's startup script and the
// real runner run locally: one instances.bulkInsert for the whole gang (count = minCount),
// names in rank order, each node finding its rank by its own name from the metadata server
// (no cloud-init on Google's images), the rank list and peer list through a fake S3 bucket,
// per-node polls and logs, all or nothing when the zone is short, rollback when a later step
// fails, and a spot preemption of one node that ends as the gang's.
import {expect} from 'chai'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import type {GangNode, LaunchHandle, PollResult} from '../../src/model/attempt.js'
import {gangNameFor} from '../../src/providers/gcp/gcp-provider.js'
import {launchError} from '../helpers/fake-cloud-world.js'
import {startGangStore, type GangStore} from '../helpers/gang-store.js'
import {isTerminal, pollUntil, until} from '../helpers/wait.js'
import {GCP_CPU, gcpJobSpec, gcpLaunchRequest, gcpOffer, gcpWorld, type GcpWorld} from './gcp-helpers.js'

async function collect(iter: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = []
  for await (const line of iter) out.push(line)
  return out
}

const REPORT = 'echo "rank $SKYHOP_NODE_RANK of $SKYHOP_NUM_NODES head $SKYHOP_HEAD_IP peers $(echo $SKYHOP_NODE_IPS)"'
const cpuOffer = (overrides = {}) => gcpOffer({instanceType: GCP_CPU, accelerator: null, vcpus: 2, memoryGiB: 8, ...overrides})

describe('GCP gangs on the fake Compute Engine: one bulkInsert, ranks by name, peers, rollback, gang notice', function () {
  this.timeout(90_000)
  let w: GcpWorld
  let store: GangStore
  beforeEach(async function () {
    store = await startGangStore()
  })
  afterEach(async function () {
    await w?.close()
    await store?.stop()
  })

  async function gangRequest(run: string, overrides: Parameters<typeof gcpLaunchRequest>[0] = {}) {
    const request = gcpLaunchRequest({spec: gcpJobSpec(run, {nodes: 2}), offer: cpuOffer(), ...overrides})
    return {...request, gang: await store.sign(request.jobId, request.attemptId)}
  }

  const finalPoll = (handle: LaunchHandle): Promise<PollResult> =>
    pollUntil(w.provider, handle, isTerminal, {timeoutMs: 60_000, stepMs: 200})

  it('launches two nodes in one bulkInsert; each finds its rank by its name and runs with the same peers', async function () {
    w = await gcpWorld({}, {consoleGraceMs: 20_000}, {boot: true})
    const request = await gangRequest(REPORT)
    const handle = await w.provider.launch(request)

    const bulk = w.fake.calls.filter((c) => c.action === 'instances.bulkInsert')
    expect(bulk).to.have.length(1)
    const body = bulk[0].body as Record<string, any>
    expect(body).to.deep.include({count: 2, minCount: 2, namePattern: `${gangNameFor(request.attemptId)}-#`})
    expect(body.instanceProperties.machineType).to.equal(GCP_CPU)
    expect(body.instanceProperties.labels['skyhop-nodes']).to.equal('2')
    const script = (body.instanceProperties.metadata.items as Array<{key: string; value: string}>).find(
      (i) => i.key === 'startup-script',
    )!.value
    // No runner in the startup script: the nodes fetch it from the store; the rank comes from the metadata server.
    expect(script).to.include(request.gang.runner.getUrl).and.not.include("sk_file 'skyhop-runner.sh'")
    expect(script).to.include('computeMetadata/v1/instance/name')

    const nodes = handle.data.nodes as GangNode[]
    expect(nodes.map((n) => [n.rank, n.externalId])).to.deep.equal([
      [0, `${gangNameFor(request.attemptId)}-1`],
      [1, `${gangNameFor(request.attemptId)}-2`],
    ])
    for (const n of nodes) expect(n.ip).to.equal(w.fake.byName(n.externalId)!.privateIp)
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
    for (const n of nodes) {
      const id = w.fake.byName(n.externalId)!.id
      const dir = join(w.bootDir!, id, 'root', 'var/lib/skyhop/attempts', request.attemptId)
      expect(readFileSync(join(dir, 'runner.conf'), 'utf8')).to.include("numNodes='2'")
      expect(readFileSync(join(dir, `node-${n.rank}`, 'exit_code'), 'utf8').trim()).to.equal('0')
    }
    const owned = await w.provider.listOwned({attemptId: request.attemptId})
    expect(owned).to.have.length(1)
    expect((owned[0].data.nodes as GangNode[]).map((n) => [n.rank, n.externalId])).to.deep.equal(nodes.map((n) => [n.rank, n.externalId]))
    await w.provider.cleanup(handle)
    await until(
      async () => w.fake.live().length,
      (n) => n === 0,
    )
  })

  it('a zone one node short grants nothing (minCount); a region-only offer moves to the next zone', async function () {
    w = await gcpWorld()
    w.fake.setStock('us-central1', 'us-central1-a', GCP_CPU, 1)
    const error = await launchError(w.provider, await gangRequest('true'))
    expect(error).to.include({category: 'capacity', scope: 'zone', backendCode: 'ZONE_RESOURCE_POOL_EXHAUSTED'})
    expect(w.fake.live()).to.have.length(0)
    const handle = await w.provider.launch(await gangRequest('true', {offer: cpuOffer({zone: null})}))
    expect(handle.zone).to.equal('us-central1-b')
    expect((handle.data.nodes as GangNode[]).length).to.equal(2)
  })

  it('a step after the launch failing (the peer list refused by the store) deletes every node', async function () {
    w = await gcpWorld()
    store.s3.failNext(1, 403, 'AccessDenied', /\/node-ids$/)
    const error = await launchError(w.provider, await gangRequest('true'))
    expect(error.category).to.equal('auth')
    expect(w.fake.instances.size).to.equal(2)
    await until(
      async () => w.fake.live().length,
      (n) => n === 0,
    )
  })

  it('a spot preemption of one node reaches the other through the store: the gang is PREEMPTED', async function () {
    w = await gcpWorld({}, {consoleGraceMs: 20_000}, {boot: true})
    const run =
      'trap \'echo "rank $SKYHOP_NODE_RANK saving"; exit 0\' TERM; echo "rank $SKYHOP_NODE_RANK working"; while true; do sleep 0.1; done'
    const request = await gangRequest(run, {spot: true})
    const handle = await w.provider.launch(request)
    const nodes = handle.data.nodes as GangNode[]
    // Both ranks booted (bash, the runner and the rank list fetched from the store) and working:
    // 60 s for a loaded machine, and on a timeout each node's state and console say where it stuck.
    await until(
      () => collect(w.provider.logs(handle, {follow: false, node: 'all'})),
      (l) => l.length === 2,
      60_000,
      200,
    ).catch((error: Error) => {
      const seen = nodes.map((n) => {
        const i = w.fake.byName(n.externalId)
        return `${n.externalId}: ${i?.status ?? 'unknown'}, console: ${w.fake.consoleOf(n.externalId).slice(-1500)}`
      })
      throw new Error(`${error.message}\n${seen.join('\n')}`)
    })
    w.fake.preempt(nodes[1].externalId, 20_000)
    const result = await finalPoll(handle)
    expect(result.state).to.equal('PREEMPTED')
    expect(result.nodes!.map((n) => n.state)).to.deep.equal(['PREEMPTED', 'PREEMPTED'])
    // Only node 1 was preempted by Compute Engine; node 0 heard it from the gang's notice object.
    expect(w.fake.byName(nodes[0].externalId)!.preempted).to.equal(false)
    expect(store.objects(request.jobId, request.attemptId).notice).to.be.a('string')
    const saved = (await collect(w.provider.logs(handle, {follow: false, node: 'all'}))).filter((l) => l.includes('saving'))
    expect(saved.sort()).to.deep.equal(['[rank 0] rank 0 saving', '[rank 1] rank 1 saving'])
    await w.provider.cleanup(handle)
  })
})
