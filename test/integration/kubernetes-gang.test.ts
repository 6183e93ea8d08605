// A multi-node gang on Kubernetes: one pod per node, each running the boot script and the
// runner, finding its rank by its name in the gang's rank list and its peers in the job's
// object store (a fake S3 bucket checking the real signatures), as a cloud gang does. A gang
// without a store is refused so the controller can try local or Slurm; one that does not fit
// leaves no pod behind.
import {expect} from 'chai'

import {CheckpointSigner, attemptHoldsFor, attemptObjectReaderFor} from '../../src/checkpoint/checkpoint-store.js'
import {ProviderError} from '../../src/errors.js'
import {HttpClient} from '../../src/http/client.js'
import {createDispatcher} from '../../src/http/dispatcher.js'
import {NO_USAGE, addSamples, parseSamples, summaryOf} from '../../src/providers/usage-samples.js'
import {FakeObjectStore} from '../fakes/fake-object-store.js'
import {s3Dialect} from '../fakes/fake-s3-dialect.js'
import type {Offer} from '../../src/model/catalog.js'
import {launchError} from '../helpers/fake-cloud-world.js'
import {type GangStore, startGangStore} from '../helpers/gang-store.js'
import {until} from '../helpers/wait.js'
import {H100_NODE, kubeRequest, kubeWorld, spec, type KubeWorld} from './kubernetes-helpers.js'

const STORE_KEY = {accessKeyId: 'AKIAFAKESTORE0000002', secretAccessKey: 'fake/Store+Key/ForTests00000000000000002'}

describe('Kubernetes gangs (one pod per node, peers through the job store)', function () {
  this.timeout(90_000)
  let w: KubeWorld
  let store: GangStore
  let stopS3: (() => Promise<void>) | null = null
  afterEach(async () => {
    await w?.close()
    await store?.stop()
    await stopS3?.()
    stopS3 = null
  })

  const offer8 = async (): Promise<Offer> => (await w.provider.liveOffers()).find((o) => o.accelerator?.count === 8)!

  it('launches a 2-node gang: every pod runs its rank with the contract variables; the gang ends SUCCEEDED', async () => {
    w = await kubeWorld({lab: {nodes: [H100_NODE, {...H100_NODE, name: 'gpu-2'}]}})
    store = await startGangStore()
    const offer = await offer8()
    expect(offer.maxNodes).to.equal(2)
    const run = 'echo "rank $SKYHOP_NODE_RANK of $SKYHOP_NUM_NODES head $SKYHOP_HEAD_IP"'
    const request = kubeRequest(offer, spec(run, {nodes: 2}))
    const handle = await w.provider.launch({...request, gang: await store.sign(request.jobId, request.attemptId)})
    const names = (handle.data.nodes as Array<{rank: number; externalId: string; ip: string}>).map(
      (n) => `${n.rank}:${n.externalId}:${n.ip}`,
    )
    expect(names).to.deep.equal([`0:${handle.externalId}:127.0.0.1`, `1:${handle.externalId.replace(/-r0$/, '-r1')}:127.0.0.1`])
    expect(store.objects(request.jobId, request.attemptId).nodeIds).to.equal(
      `${handle.externalId} ${handle.externalId.replace(/-r0$/, '-r1')}\n`,
    )
    const pods = [...w.fakes.lab.pods.values()]
    expect(pods.map((p) => p.metadata.labels!['skyhop.dev/node-rank']).sort()).to.deep.equal(['0', '1'])
    expect(new Set(pods.map((p) => p.spec.nodeName))).to.deep.equal(new Set(['gpu-1', 'gpu-2']))
    const end = await until(
      async () => (await w.provider.poll([handle])).get(handle.externalId)!,
      (p) => p.state !== 'RUNNING' && p.state !== 'PROVISIONING' && p.state !== 'PENDING',
      60_000,
    )
    expect(end.state, JSON.stringify(end)).to.equal('SUCCEEDED')
    expect(end.nodes!.map((n) => n.state)).to.deep.equal(['SUCCEEDED', 'SUCCEEDED'])
    const lines: string[] = []
    for await (const line of w.provider.logs(handle, {follow: false, node: 'all'})) lines.push(line)
    expect(lines.sort()).to.deep.equal(['[rank 0] rank 0 of 2 head 127.0.0.1', '[rank 1] rank 1 of 2 head 127.0.0.1'])
    // The orphan listing sees the gang as one attempt.
    const owned = await w.provider.listOwned()
    expect(owned).to.have.length(1)
    expect((owned[0].data.nodes as unknown[]).length).to.equal(2)
    await w.provider.cleanup(handle)
    expect(await w.provider.listOwned()).to.deep.equal([])
  })

  it('every pod ships its samples to the job store: the provider reads each rank’s, the working rank the busy one', async () => {
    const s3 = new FakeObjectStore({dialect: s3Dialect({[STORE_KEY.accessKeyId]: STORE_KEY.secretAccessKey})})
    await s3.start()
    stopS3 = () => s3.stop()
    const signer = new CheckpointSigner({
      env: {AWS_ACCESS_KEY_ID: STORE_KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: STORE_KEY.secretAccessKey, AWS_EC2_METADATA_DISABLED: 'true'},
      homeDir: '/nonexistent',
    })
    const client = new HttpClient({provider: 'aws', dispatcher: createDispatcher(), timeoutMs: 10_000, retry: {retries: 2}})
    const holds = attemptHoldsFor(
      {checkpointStore: {url: 's3://ckpt/runs', region: 'us-east-1', endpoint: s3.endpoint, syncIntervalSeconds: null}},
      client,
      signer,
    )
    w = await kubeWorld(
      {lab: {nodes: [H100_NODE, {...H100_NODE, name: 'gpu-2'}]}},
      {attemptObjects: attemptObjectReaderFor(client, signer)},
    )
    expect(w.provider.shipsAttemptFiles).to.equal(true)
    const run =
      'if [ "$SKYHOP_NODE_RANK" = 1 ]; then end=$((SECONDS+5)); while ((SECONDS<end)); do :; done; else sleep 5; fi; echo "rank $SKYHOP_NODE_RANK done"'
    const request = kubeRequest(await offer8(), spec(run, {nodes: 2, usage: {sampleIntervalSeconds: 0.5, idle: null}}))
    const job = {id: request.jobId, spec: request.spec}
    const handle = await w.provider.launch({
      ...request,
      gang: (await holds.gangObjects!(job, request.attemptId))!,
      ship: (await holds.shipObjects!(job, request.attemptId))!,
    })
    const end = await until(
      async () => (await w.provider.poll([handle])).get(handle.externalId)!,
      (p) => p.state !== 'RUNNING' && p.state !== 'PROVISIONING' && p.state !== 'PENDING',
      60_000,
    )
    expect(end.state, JSON.stringify(end)).to.equal('SUCCEEDED')
    const prefix = `runs/${request.jobId}/attempts/${request.attemptId}/`
    const keys = [...s3.objects.keys()].filter((k) => k.startsWith(`ckpt/${prefix}`)).map((k) => k.slice(`ckpt/${prefix}`.length))
    expect(keys.sort()).to.include.members(['node-1/samples-0000.jsonl', 'samples-0000.jsonl', 'ship-urls'])
    const busy: number[] = []
    for (const rank of [0, 1]) {
      const got = await w.provider.usageSamples(handle, 0, rank)
      expect(got, `rank ${rank}'s samples`).to.not.equal(null)
      const samples = parseSamples(got!.text)
      expect(samples.length, `rank ${rank}'s samples`).to.be.greaterThan(2)
      busy.push(summaryOf(addSamples(NO_USAGE, samples))!.cpuBusy)
    }
    // The busy loop's rank is the busy one (0 for the sleeping head; above it even on a loaded machine).
    expect(busy[1]).to.be.greaterThan(busy[0] + 0.02)
    // Read from where the last read ended: nothing new once the gang has ended.
    const head = (await w.provider.usageSamples(handle, 0, 0))!
    expect(await w.provider.usageSamples(handle, head.offset, 0)).to.deep.include({text: ''})
    // The head's output.log went to the store too: `logs` reads it once the pods are gone.
    await w.provider.cleanup(handle)
    for (const n of handle.data.nodes as Array<{externalId: string}>) w.fakes.lab.pods.delete(n.externalId)
    const lines: string[] = []
    for await (const line of w.provider.logs(handle, {follow: false})) lines.push(line)
    expect(lines).to.deep.equal(['rank 0 done'])
  })

  it('refuses a gang without an object store (the controller then tries local or Slurm)', async () => {
    w = await kubeWorld({lab: {nodes: [H100_NODE]}})
    const error = await launchError(w.provider, kubeRequest(await offer8(), spec('echo x', {nodes: 2})))
    expect(error).to.be.instanceOf(ProviderError)
    expect(error).to.include({code: 'GANG_STORE_MISSING', category: 'unavailable', scope: 'provider'})
    expect(w.fakes.lab.pods.size).to.equal(0)
  })

  it('a gang that does not fit fails as capacity and leaves no pod behind', async () => {
    w = await kubeWorld({lab: {nodes: [H100_NODE]}})
    store = await startGangStore()
    const request = kubeRequest(await offer8(), spec('echo x', {nodes: 2}))
    const error = await launchError(w.provider, {...request, gang: await store.sign(request.jobId, request.attemptId)})
    expect(error).to.include({category: 'capacity', code: 'KUBERNETES_UNSCHEDULABLE'})
    await until(
      async () => [...w.fakes.lab.pods.values()].filter((p) => (p.metadata.finalizers ?? []).length > 0).length,
      (n) => n === 0,
    )
  })
})
