// The Kubernetes provider against fake API servers whose kubelet runs each pod's command on
// this machine: offers from nodes and their device plugins' labels, a pod that really runs
// the boot script and the runner, the pod spec it sends, every mapped error with its category
// and scope, an eviction with grace, and the orphan listing by labels.
import {expect} from 'chai'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {ProviderError} from '../../src/errors.js'
import {LABELS} from '../../src/clouds/kubernetes/api.js'
import {FINALIZER, KubernetesProvider, RELEASED_ANNOTATION, podName} from '../../src/providers/kubernetes/kubernetes-provider.js'
import type {Offer} from '../../src/model/catalog.js'
import {launchError} from '../helpers/fake-cloud-world.js'
import {until} from '../helpers/wait.js'
import {ASCEND_NODE, CPU_NODE, H100_NODE, TOKEN, kubeRequest, kubeWorld, spec, type KubeWorld} from './kubernetes-helpers.js'

const gpuSpec = (run: string) =>
  spec(run, {resources: {accelerators: [{names: ['H100-80GB'], vendors: null, memoryGB: null, count: {min: 2, max: 2}, text: 'H100:2'}]}})

async function offerOf(w: KubeWorld, predicate: (o: Offer) => boolean): Promise<Offer> {
  const offers = await w.provider.liveOffers()
  const found = offers.find(predicate)
  expect(found, JSON.stringify(offers.map((o) => [o.region, o.instanceType, o.accelerator]))).to.not.equal(undefined)
  return found!
}

describe('Kubernetes provider against a fake API server', function () {
  this.timeout(60_000)
  let w: KubeWorld
  afterEach(async () => w?.close())

  it('reads offers from the nodes: NVIDIA by gpu.product, Ascend 910B by the device plugin labels, CPU; contexts are regions', async () => {
    w = await kubeWorld({
      lab: {nodes: [H100_NODE, {...H100_NODE, name: 'gpu-2'}, ASCEND_NODE, CPU_NODE, {...CPU_NODE, name: 'down', ready: false}]},
    })
    const offers = await w.provider.liveOffers()
    const brief = offers.map(
      (o) => `${o.region} ${o.instanceType} ${o.accelerator ? `${o.accelerator.name}:${o.accelerator.count}` : 'cpu'} cap=${o.capacity}`,
    )
    expect(brief).to.include.members([
      'lab h100-80gb-x8.1x H100-80GB:1 cap=16',
      'lab h100-80gb-x8.8x H100-80GB:8 cap=2',
      'lab ascend910b-x8.8x Ascend910B:8 cap=1',
      'lab cpu cpu cap=1',
    ])
    const h100 = offers.find((o) => o.instanceType === 'h100-80gb-x8.8x')!
    expect(h100).to.deep.include({provider: 'kubernetes', zone: null, vcpus: 96, priceStatus: 'estimate'})
    expect(h100.price).to.deep.equal({onDemand: 0, spot: null, currency: 'USD'})
    expect(Math.round(h100.memoryGiB)).to.equal(1007)
  })

  it('prices offers per accelerator-hour from the config when given', async () => {
    w = await kubeWorld({lab: {nodes: [H100_NODE]}}, {pricePerHourUsd: {lab: 1.5}})
    const o = await offerOf(w, (x) => x.accelerator?.count === 4)
    expect(o.price.onDemand).to.equal(6)
    expect(o.priceStatus).to.equal('list')
  })

  it('launches a pod that runs the job through the runner, reads its log and exit, then releases it', async () => {
    w = await kubeWorld({lab: {nodes: [H100_NODE, CPU_NODE]}})
    const offer = await offerOf(w, (o) => o.accelerator?.count === 2)
    const request = kubeRequest(offer, gpuSpec('echo "hello from $SKYHOP_JOB_ID"; echo "greeting: $GREETING"; exit 3'), {graceSeconds: 7})
    const handle = await w.provider.launch(request)
    expect(handle).to.deep.include({provider: 'kubernetes', region: 'lab', externalId: podName(request.attemptId)})
    const pod = w.fakes.lab.pods.get(handle.externalId)!
    // The pod spec: device requests = limits, the pool's selector and taint, the grace, labels, finalizer.
    const c = pod.spec.containers[0]
    expect(c.resources).to.deep.equal({requests: {'nvidia.com/gpu': '2'}, limits: {'nvidia.com/gpu': '2'}})
    expect(pod.spec.nodeSelector).to.deep.equal({'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3'})
    expect(pod.spec.tolerations).to.deep.equal([{key: 'nvidia.com/gpu', operator: 'Equal', value: 'present', effect: 'NoSchedule'}])
    expect(pod.spec.terminationGracePeriodSeconds).to.equal(12)
    expect(pod.spec.restartPolicy).to.equal('Never')
    expect(pod.spec.nodeName).to.equal('gpu-1')
    expect(pod.metadata.labels).to.deep.equal({
      [LABELS.managed]: 'skyhop',
      [LABELS.job]: 'j-0123456789',
      [LABELS.attempt]: request.attemptId,
    })
    expect(pod.metadata.finalizers).to.deep.equal([FINALIZER])
    expect(c.image).to.equal('docker.io/library/ubuntu:24.04')

    const end = await until(
      async () => (await w.provider.poll([handle])).get(handle.externalId)!,
      (p) => p.state === 'FAILED',
    )
    expect(end.exitCode).to.equal(3)
    const lines: string[] = []
    for await (const line of w.provider.logs(handle, {follow: false})) lines.push(line)
    expect(lines).to.deep.equal(['hello from j-0123456789', "greeting: it's $HOME; `x`"])
    // The termination message holds the runner's exit, for after the log is gone.
    expect(w.fakes.lab.pods.get(handle.externalId)!.status.containerStatuses![0].state.terminated).to.deep.include({
      exitCode: 3,
      message: 'SKYHOP-EXIT 3 3\n',
    })

    // Released: an ended pod holds nothing; it is kept, without the finalizer, for its log.
    await w.provider.cleanup(handle)
    const kept = w.fakes.lab.pods.get(handle.externalId)!
    expect(kept.metadata.finalizers).to.deep.equal([])
    expect(kept.metadata.annotations![RELEASED_ANNOTATION]).to.be.a('string')
    const again: string[] = []
    for await (const line of w.provider.logs(handle, {follow: false})) again.push(line)
    expect(again).to.deep.equal(lines)
    expect(await w.provider.listOwned()).to.deep.equal([])
    await w.provider.cleanup(handle) // idempotent
  })

  it('deletes released pods a day after their release, at the next cleanup', async () => {
    let clock = Date.parse('2026-01-01T00:00:00Z')
    w = await kubeWorld({lab: {nodes: [CPU_NODE]}}, {now: () => new Date(clock)})
    const offer = await offerOf(w, (o) => o.accelerator === null)
    const old = await w.provider.launch(kubeRequest(offer, spec('echo old')))
    const fresh = await w.provider.launch(kubeRequest(offer, spec('echo fresh')))
    for (const h of [old, fresh])
      await until(
        async () => (await w.provider.poll([h])).get(h.externalId)!.state,
        (s) => s === 'SUCCEEDED',
      )
    await w.provider.cleanup(old)
    clock += 25 * 3600_000
    await w.provider.cleanup(fresh)
    expect([...w.fakes.lab.pods.keys()]).to.deep.equal([fresh.externalId])
  })

  it("keeps the job's secrets out of the pod spec: a Secret owned by the pod, referenced by the container's env", async () => {
    w = await kubeWorld({lab: {nodes: [CPU_NODE]}})
    const offer = await offerOf(w, (o) => o.accelerator === null)
    const token = 'hf_s3cr3t-value-0123456789'
    // As the controller gives them: in LaunchRequest.secrets, never in env; and no store here.
    const request = kubeRequest(offer, spec('[ "$HF_TOKEN" = hf_s3cr3t-value-0123456789 ] && echo token-ok', {secrets: ['HF_TOKEN']}), {
      env: {SKYHOP_JOB_ID: 'j-0123456789'},
      secrets: {HF_TOKEN: token},
    })
    const handle = await w.provider.launch(request)
    const pod = w.fakes.lab.pods.get(handle.externalId)!
    const podJson = JSON.stringify(pod)
    expect(podJson).to.not.include(token)
    expect(podJson).to.not.include(Buffer.from(token).toString('base64'))
    expect(pod.spec.containers[0].env).to.deep.include({
      name: 'HF_TOKEN',
      valueFrom: {secretKeyRef: {name: handle.externalId, key: 'HF_TOKEN'}},
    })
    const secret = w.fakes.lab.secrets.get(`ml/${handle.externalId}`)!
    expect(secret.metadata.ownerReferences).to.deep.include({apiVersion: 'v1', kind: 'Pod', name: handle.externalId, uid: pod.metadata.uid})
    await until(
      async () => (await w.provider.poll([handle])).get(handle.externalId)!.state,
      (st) => st === 'SUCCEEDED',
    )
    const lines: string[] = []
    for await (const line of w.provider.logs(handle, {follow: false})) lines.push(line)
    expect(lines).to.deep.equal(['token-ok'])
    // Nor is it in the attempt directory's env file on the node.
    const envFile = readFileSync(join(w.fakes.lab.podRoot(handle.externalId), 'var/lib/skyhop/attempts', request.attemptId, 'env'), 'utf8')
    expect(envFile).to.not.include(token)
    await w.provider.cleanup(handle)
    expect(w.fakes.lab.secrets.size).to.equal(0)
  })

  it('logs --follow streams a running pod\u2019s output through the log API to its end, each line once', async () => {
    w = await kubeWorld({lab: {nodes: [CPU_NODE]}})
    const offer = await offerOf(w, (o) => o.accelerator === null)
    const handle = await w.provider.launch(kubeRequest(offer, spec('for i in 1 2 3 4 5; do echo "line $i"; sleep 0.4; done')))
    const lines: string[] = []
    for await (const line of w.provider.logs(handle, {follow: true})) lines.push(line)
    expect(lines).to.deep.equal(['line 1', 'line 2', 'line 3', 'line 4', 'line 5'])
    // After the first full read, only the tail is asked for.
    const reads = w.fakes.lab.requests.filter((r) => r.path.endsWith('/log')).map((r) => r.query)
    expect(reads[0]).to.equal('')
    expect(reads.slice(1)).to.include('?tailLines=5000')
  })

  it('a retried launch adopts the pod it already made (409 AlreadyExists), never a second one', async () => {
    w = await kubeWorld({lab: {nodes: [CPU_NODE]}})
    const offer = await offerOf(w, (o) => o.accelerator === null)
    const request = kubeRequest(offer, spec('sleep 2'))
    const a = await w.provider.launch(request)
    const b = await w.provider.launch(request)
    expect(b.externalId).to.equal(a.externalId)
    expect(w.fakes.lab.pods.size).to.equal(1)
    expect(w.fakes.lab.requests.filter((r) => r.method === 'POST').length).to.equal(2)
  })

  it('a pod that cannot be scheduled fails the launch as capacity (scope offer) and leaves nothing behind', async () => {
    w = await kubeWorld({lab: {nodes: [H100_NODE]}})
    const offer = await offerOf(w, (o) => o.accelerator?.count === 8)
    // Another tenant holds six of the eight GPUs.
    const hog = kubeRequest(offer, spec('sleep 30'))
    await w.provider.launch({...hog, offer: {...offer, instanceType: 'h100-80gb-x8.4x', accelerator: {name: 'H100-80GB', count: 6}}})
    const error = await launchError(w.provider, kubeRequest(offer, spec('echo never')))
    expect(error).to.include({category: 'capacity', scope: 'offer', code: 'KUBERNETES_UNSCHEDULABLE', backendCode: 'Unschedulable'})
    expect(error.message).to.match(/0\/1 nodes are available: 1 Insufficient nvidia.com\/gpu/)
    expect([...w.fakes.lab.pods.keys()]).to.have.length(1)
  })

  it('a ResourceQuota refusal (403 exceeded quota) is a quota error of the context', async () => {
    w = await kubeWorld({lab: {nodes: [H100_NODE], quotas: {'ml/gpu-quota': {'requests.nvidia.com/gpu': '4'}}}})
    const offer = await offerOf(w, (o) => o.accelerator?.count === 8)
    const error = await launchError(w.provider, kubeRequest(offer, spec('echo x')))
    expect(error).to.include({category: 'quota', scope: 'region', backendCode: 'ExceededQuota'})
    expect(error.message).to.match(
      /context lab: POST \/api\/v1\/namespaces\/ml\/pods: HTTP 403 Forbidden: .*exceeded quota: gpu-quota, requested: requests.nvidia.com\/gpu=8/,
    )
  })

  it('refused credentials are an auth error of the context, and the token never appears', async () => {
    w = await kubeWorld({lab: {nodes: [CPU_NODE], kubeconfigToken: 'not-the-token-9876543210'}})
    const error = await w.provider.liveOffers().then(
      () => null,
      (e: unknown) => e as ProviderError,
    )
    expect(error).to.be.instanceOf(ProviderError)
    expect(error).to.include({category: 'auth', scope: 'region', backendCode: 'Unauthorized'})
    expect(error!.message).to.match(/context lab: GET \/api\/v1\/nodes: HTTP 401 Unauthorized/)
    expect(JSON.stringify(error!.toJSON())).to.not.include('not-the-token')
    const check = await w.provider.check()
    expect(check.ok).to.equal(false)
    expect(check.message).to.match(/401 Unauthorized/)
    expect(check.message + check.source).to.not.include('not-the-token')
  })

  it('a context that does not answer is unavailable for that region; the other context still gives offers', async () => {
    w = await kubeWorld({up: {nodes: [H100_NODE]}, down: {nodes: [H100_NODE]}})
    await w.fakes.down.stop()
    const offers = await w.provider.liveOffers()
    expect(new Set(offers.map((o) => o.region))).to.deep.equal(new Set(['up']))
    const error = await w.provider.listOwned({regions: ['down']}).then(
      () => null,
      (e: unknown) => e as ProviderError,
    )
    expect(error).to.include({category: 'unavailable', scope: 'region'})
    expect(error!.message).to.match(/context down: GET \/api\/v1\/namespaces\/ml\/pods: the API server at 127\.0\.0\.1:\d+ did not answer/)
    const check = await w.provider.check()
    expect(check.ok).to.equal(false)
    expect(check.message).to.match(/^up: v1\.31\.0-fake answers, 1 nodes, 1 with accelerators; context down: .*did not answer/)
  })

  it('a kubeconfig that does not parse is the provider\u2019s error, with file:line:col, blocking the provider only', async () => {
    w = await kubeWorld({lab: {nodes: [CPU_NODE]}})
    writeFileSync(w.kubeconfig, 'apiVersion: v1\nclusters:\n- name: lab\n  cluster: {server: "http://x\n')
    const provider = new KubernetesProvider({env: {KUBECONFIG: w.kubeconfig}, home: w.dir, dispatcher: w.agent})
    const error = await provider.liveOffers().then(
      () => null,
      (e: unknown) => e as ProviderError,
    )
    expect(error).to.include({category: 'unavailable', scope: 'provider', code: 'KUBECONFIG_INVALID', exitCode: 4})
    expect(error!.message).to.match(/^kubernetes: kubeconfig: /)
    expect(error!.message).to.match(
      new RegExp(`${w.kubeconfig.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:5:1: YAML syntax error: Missing closing "quote`),
    )
    expect((await provider.check()).message).to.match(/YAML syntax error/)
  })

  it('a context naming a cluster no file defines says which, where', async () => {
    w = await kubeWorld({lab: {nodes: [CPU_NODE]}})
    const text = readFileSync(w.kubeconfig, 'utf8').replace('    cluster: lab\n', '    cluster: lba\n')
    writeFileSync(w.kubeconfig, text)
    const provider = new KubernetesProvider({env: {KUBECONFIG: w.kubeconfig}, home: w.dir, dispatcher: w.agent})
    const check = await provider.check()
    expect(check.ok).to.equal(false)
    expect(check.message).to.match(
      /config:\d+:\d+: \/contexts\/0\/context\/cluster: context "lab" names cluster "lba", which no kubeconfig file defines/,
    )
  })

  it('a cluster without any accelerator device plugin gives CPU offers only, and check says so', async () => {
    w = await kubeWorld({lab: {nodes: [CPU_NODE, {...CPU_NODE, name: 'cpu-2'}]}})
    const offers = await w.provider.liveOffers()
    expect(offers.map((o) => o.accelerator)).to.deep.equal([null])
    const check = await w.provider.check()
    expect(check.ok).to.equal(true)
    expect(check.message).to.match(
      /lab: v1\.31\.0-fake answers, 2 nodes, no accelerator device plugin on any node \(looked for nvidia\.com\/gpu, amd\.com\/gpu, huawei\.com\/Ascend910/,
    )
    expect(check.source).to.equal(`${w.kubeconfig} (token)`)
  })

  it('a GPU node whose model no label names is left out, and check says why', async () => {
    const bare = {name: 'mystery', allocatable: {cpu: '32', memory: '128Gi', 'nvidia.com/gpu': '4'}}
    w = await kubeWorld({lab: {nodes: [bare, CPU_NODE]}})
    const offers = await w.provider.liveOffers()
    expect(offers.map((o) => [o.instanceType, o.vcpus])).to.deep.equal([['cpu', 8]])
    const check = await w.provider.check()
    expect(check.message).to.match(
      /1 with accelerators; 1 left out, their accelerator model unknown \(mystery: nvidia.com\/gpu without a model label skyhop knows; label the node skyhop\.dev\/accelerator=MODEL\)/,
    )
  })

  it('an eviction delivers SIGTERM through the runner with the grace; the attempt ends PREEMPTED', async () => {
    w = await kubeWorld({lab: {nodes: [CPU_NODE]}})
    const offer = await offerOf(w, (o) => o.accelerator === null)
    const run = 'trap \'echo "got TERM, checkpointing"; sleep 1; echo saved; exit 0\' TERM; echo started; while :; do sleep 0.2; done'
    const handle = await w.provider.launch(kubeRequest(offer, spec(run), {graceSeconds: 6}))
    await until(
      async () => w.fakes.lab.log(handle.externalId),
      (log) => log.includes('SKYHOP-LOG 1 started'),
    )
    const t0 = Date.now()
    w.fakes.lab.evict(handle.externalId)
    const end = await until(
      async () => (await w.provider.poll([handle])).get(handle.externalId)!,
      (p) => p.state !== 'RUNNING',
    )
    expect(end.state).to.equal('PREEMPTED')
    expect(end.exitCode).to.equal(0)
    expect(Date.now() - t0).to.be.lessThan(6000)
    const lines: string[] = []
    for await (const line of w.provider.logs(handle, {follow: false})) lines.push(line)
    // (bash may also report its `sleep` Terminated: the job's whole process group gets the signal.)
    expect(lines.filter((l) => l !== 'Terminated')).to.deep.equal(['started', 'got TERM, checkpointing', 'saved'])
    // The finalizer kept the pod's record until cleanup.
    expect(w.fakes.lab.pods.get(handle.externalId)!.metadata.deletionTimestamp).to.be.a('string')
    await w.provider.cleanup(handle)
    expect(w.fakes.lab.pods.has(handle.externalId)).to.equal(false)
  })

  it('cancel annotates and deletes the pod; the attempt ends CANCELLED', async () => {
    w = await kubeWorld({lab: {nodes: [CPU_NODE]}})
    const offer = await offerOf(w, (o) => o.accelerator === null)
    const handle = await w.provider.launch(kubeRequest(offer, spec('echo up; sleep 60')))
    await until(
      async () => w.fakes.lab.log(handle.externalId),
      (log) => log.includes('SKYHOP-LOG 1 up'),
    )
    await w.provider.signal(handle, 'cancel', 2)
    const end = await until(
      async () => (await w.provider.poll([handle])).get(handle.externalId)!,
      (p) => p.state !== 'RUNNING',
    )
    expect(end.state).to.equal('CANCELLED')
    const del = w.fakes.lab.requests.find((r) => r.method === 'DELETE')!
    expect(del.body).to.deep.include({gracePeriodSeconds: 7})
  })

  it('with Kueue: the pod waits gated for admission, PENDING with the Workload\u2019s words and its queue position, then runs', async () => {
    w = await kubeWorld({lab: {nodes: [CPU_NODE], kueue: {localQueues: {'team-a': 'gpu-cq'}}}}, {localQueues: {lab: 'team-a'}})
    const offer = await offerOf(w, (o) => o.accelerator === null)
    const first = await w.provider.launch(kubeRequest(offer, spec('echo first')))
    const second = await w.provider.launch(kubeRequest(offer, spec('echo second')))
    const pod = w.fakes.lab.pods.get(second.externalId)!
    expect(pod.metadata.labels).to.deep.include({'kueue.x-k8s.io/queue-name': 'team-a'})
    const polled = await w.provider.poll([first, second])
    expect(polled.get(second.externalId)).to.deep.include({state: 'PENDING'})
    expect(polled.get(second.externalId)!.reason).to.equal(
      "Kueue: waiting for admission in LocalQueue team-a; position 2 in its ClusterQueue; couldn't assign flavors to pod set main: insufficient unused quota in cohort for ClusterQueue gpu-cq",
    )
    expect(polled.get(first.externalId)!.reason).to.match(/position 1 in its ClusterQueue/)
    w.fakes.lab.admit(second.externalId)
    await until(
      async () => (await w.provider.poll([second])).get(second.externalId)!.state,
      (st) => st === 'SUCCEEDED',
    )
    expect((await w.provider.poll([first])).get(first.externalId)!.state).to.equal('PENDING')
  })

  it('skyhop preempt goes through the Eviction API with the grace asked; the attempt ends PREEMPTED', async () => {
    w = await kubeWorld({lab: {nodes: [CPU_NODE]}})
    const offer = await offerOf(w, (o) => o.accelerator === null)
    const run = 'trap \'echo "notice: $(cat "$SKYHOP_PREEMPT_NOTICE")"; exit 0\' TERM; echo up; while :; do sleep 0.2; done'
    const handle = await w.provider.launch(kubeRequest(offer, spec(run), {graceSeconds: 30}))
    await until(
      async () => w.fakes.lab.log(handle.externalId),
      (log) => log.includes('SKYHOP-LOG 1 up'),
    )
    await w.provider.signal(handle, 'preempt', 3)
    const eviction = w.fakes.lab.requests.find((r) => r.path.endsWith('/eviction'))!
    expect(eviction.body).to.deep.include({kind: 'Eviction', deleteOptions: {gracePeriodSeconds: 8}})
    const end = await until(
      async () => (await w.provider.poll([handle])).get(handle.externalId)!,
      (p) => p.state !== 'RUNNING',
    )
    expect(end.state).to.equal('PREEMPTED')
    const lines: string[] = []
    for await (const line of w.provider.logs(handle, {follow: false})) lines.push(line)
    // (bash may report its `sleep` Terminated: the job's whole process group gets the signal.)
    const said = lines.filter((l) => l !== 'Terminated')
    expect(said[0]).to.equal('up')
    expect(said[1]).to.match(/^notice: \d{4}-\d\d-\d\dT/)
  })

  it('lists its pods by label for the orphan sweep, in every context, and only what it owns', async () => {
    w = await kubeWorld({a: {nodes: [CPU_NODE]}, b: {nodes: [CPU_NODE]}})
    const offers = await w.provider.liveOffers()
    const one = await w.provider.launch(
      kubeRequest(
        offers.find((o) => o.region === 'a')!,
        spec('sleep 30'),
      ),
    )
    const two = await w.provider.launch(
      kubeRequest(
        offers.find((o) => o.region === 'b')!,
        spec('sleep 30'),
      ),
    )
    const owned = await w.provider.listOwned()
    expect(owned.map((h) => `${h.region}/${h.externalId}`).sort()).to.deep.equal([`a/${one.externalId}`, `b/${two.externalId}`])
    expect(owned.find((h) => h.region === 'a')!.data).to.deep.include({attemptId: one.data.attemptId, jobId: 'j-0123456789'})
    const mine = await w.provider.listOwned({attemptId: String(two.data.attemptId)})
    expect(mine.map((h) => h.externalId)).to.deep.equal([two.externalId])
    for (const h of owned) await w.provider.cleanup(h)
    // Pods being deleted without skyhop's finalizer are on their way out: not held any more.
    expect(await w.provider.listOwned()).to.deep.equal([])
    expect(TOKEN).to.be.a('string')
  })
})
