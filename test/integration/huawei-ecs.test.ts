// The Huawei Cloud ECS provider against the fake ECS/IMS/IAM (SDK-HMAC-SHA256 verified on
// every request): the create request (X-Client-Token, tags, metadata, spot market type),
// the project id through IAM, the error taxonomy of issue 8 in both of Huawei's error
// envelopes, synchronous and in the creation job, throttling, idempotency, reconciliation
// by tag, Ascend flavors with the CANN image and the runtime guard, and end to end with
// the real boot script and runner: success from the serial console, cancel through server
// metadata read by the guest, and a spot reclaim seen through the API. No network.
import {expect} from 'chai'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import {ProviderError} from '../../src/errors.js'
import {huaweiClientToken} from '../../src/clouds/huaweicloud/ecs-client.js'
import {HUAWEI_STOP_KEY, HUAWEI_TAGS, HuaweiProvider, parseNetworks} from '../../src/providers/huaweicloud/huawei-provider.js'
import type {LaunchRequest} from '../../src/providers/provider.js'
import type {LaunchHandle, PollResult} from '../../src/model/attempt.js'
import {launchError as failedLaunch} from '../helpers/fake-cloud-world.js'
import {isTerminal, pollUntil, until} from '../helpers/wait.js'
import {jobSpec} from './aws-helpers.js'
import {hwEnv, hwOffer, npuOffer, request, world, type World} from './huawei-helpers.js'
import {HW_IMAGES, HW_KEY, HW_NETWORKS, HW_PROJECTS} from './huawei-tencent-world.js'

const launchError = (w: World, r = request()): Promise<ProviderError> => failedLaunch(w.provider, r)

async function finalPoll(w: World, h: LaunchHandle): Promise<PollResult> {
  return pollUntil(w.provider, h, isTerminal, {timeoutMs: 40_000, stepMs: 200})
}

describe('Huawei Cloud ECS provider against the fake ECS', function () {
  this.timeout(90_000)
  let w: World
  afterEach(async () => w?.close())

  it('creates a spot server with X-Client-Token, tags, metadata, user data and marketType; the project id comes from IAM', async function () {
    w = await world()
    const r = request({spot: true, spec: jobSpec('true', {maxPrice: {amount: 9.5, currency: 'CNY'}})})
    const handle = await w.provider.launch(r)
    expect(handle).to.deep.include({provider: 'huaweicloud', region: 'cn-north-4', zone: 'cn-north-4a'})
    expect(w.fake.calls[0].action).to.equal('KeystoneListAuthProjects')
    const create = w.fake.calls.find((c) => c.action === 'CreatePostPaidServers')!
    expect(create.headers['x-client-token']).to.equal(huaweiClientToken(r.attemptId))
    expect(create.headers['x-project-id']).to.equal(HW_PROJECTS['cn-north-4'])
    const s = (create.body as {server: Record<string, any>}).server
    expect(s).to.deep.include({
      availability_zone: 'cn-north-4a',
      flavorRef: 'p2s.2xlarge.8',
      imageRef: HW_IMAGES['cn-north-4'][0].id,
      vpcid: '0a0a0a0a-0000-4000-8000-000000000001',
      count: 1,
    })
    expect(s.nics).to.deep.equal([{subnet_id: '0b0b0b0b-0000-4000-8000-000000000001'}])
    expect(s.extendparam).to.deep.equal({chargingMode: 'postPaid', regionID: 'cn-north-4', marketType: 'spot', spotPrice: '9.5000'})
    expect(s.server_tags).to.deep.include({key: HUAWEI_TAGS.attemptId, value: r.attemptId})
    expect(s.metadata[HUAWEI_TAGS.attemptId]).to.equal(r.attemptId)
    expect(Buffer.from(s.user_data, 'base64').toString('utf8')).to.match(/^#!\/bin\/bash\n/)
    expect((await w.provider.poll([handle])).get(handle.externalId)!.state).to.equal('RUNNING')
    await w.provider.cleanup(handle)
    await w.provider.cleanup(handle) // idempotent
    await until(
      async () => w.fake.live().length,
      (n) => n === 0,
    )
    expect((await w.provider.poll([handle])).get(handle.externalId)!.state).to.equal('PREEMPTED') // a spot server that vanished was reclaimed

    await w.provider.launch(request({offer: hwOffer({region: 'cn-east-3', zone: 'cn-east-3a'})}))
    const second = w.fake.calls.filter((c) => c.action === 'CreatePostPaidServers')[1]
    expect(second.region).to.equal('cn-east-3')
    const s2 = (second.body as {server: Record<string, any>}).server
    expect(s2.extendparam).to.deep.equal({chargingMode: 'postPaid', regionID: 'cn-east-3'})
    expect(s2.security_groups).to.deep.equal([{id: '0c0c0c0c-0000-4000-8000-000000000002'}])
    expect(w.fake.calls.filter((c) => c.action === 'KeystoneListAuthProjects')).to.have.length(1) // cached
  })

  it('uses configured project ids without asking IAM', async function () {
    w = await world({}, {}, false, {SKYHOP_HUAWEICLOUD_PROJECT_IDS: `cn-north-4=${HW_PROJECTS['cn-north-4']}`})
    await w.provider.launch(request())
    expect(w.fake.calls.map((c) => c.action)).not.to.include('KeystoneListAuthProjects')
  })

  it('boots Ascend flavors from the CANN image and refuses them to a CUDA-only job', async function () {
    w = await world()
    await w.provider.launch(
      request({
        offer: npuOffer(),
        spec: jobSpec('true', {
          resources: {accelerators: [], acceleratorOrder: 'any', runtimes: ['cann'], cpus: null, memoryGB: null, diskGB: null},
        }),
      }),
    )
    const s = (w.fake.calls.find((c) => c.action === 'CreatePostPaidServers')!.body as {server: Record<string, any>}).server
    expect(s.imageRef).to.equal(HW_IMAGES['cn-north-4'][1].id)
    expect(s.flavorRef).to.equal('modelarts.bm.snt9.xlarge.8')
    const e = await launchError(
      w,
      request({
        offer: npuOffer(),
        spec: jobSpec('true', {
          resources: {accelerators: [], acceleratorOrder: 'any', runtimes: ['cuda'], cpus: null, memoryGB: null, diskGB: null},
        }),
      }),
    )
    expect(e).to.include({category: 'unavailable', scope: 'offer', code: 'PROVIDER_RUNTIME_MISMATCH'})
    expect(w.fake.calls.filter((c) => c.action === 'CreatePostPaidServers')).to.have.length(1)
  })

  it('refuses a region without a configured network, and Ascend offers without a CANN image', async function () {
    w = await world({}, {networks: parseNetworks(HW_NETWORKS.split(',')[0])}, false, {SKYHOP_HUAWEICLOUD_NPU_IMAGE: ''})
    const e = await launchError(w, request({offer: hwOffer({region: 'cn-east-3', zone: 'cn-east-3a'})}))
    expect(e).to.include({category: 'unavailable', scope: 'region', code: 'PROVIDER_NOT_CONFIGURED'})
    const n = await launchError(w, request({offer: npuOffer()}))
    expect(n).to.include({category: 'unavailable', code: 'PROVIDER_NOT_CONFIGURED'})
    expect(n.hint).to.include('SKYHOP_HUAWEICLOUD_NPU_IMAGE')
  })

  describe('maps the Huawei errors of issue 8', function () {
    const cases: Array<{
      name: string
      code: string
      category: string
      scope: string
      setup: (w: World) => void
      req?: () => LaunchRequest
    }> = [
      {
        name: 'flavor out of capacity, reported by the creation job',
        code: 'Ecs.0319',
        category: 'capacity',
        scope: 'zone',
        setup: (w) => w.fake.setStock('cn-north-4', 'cn-north-4a', 'p2s.2xlarge.8', 0),
      },
      {
        name: 'flavor out of capacity, answered at once',
        code: 'Ecs.0319',
        category: 'capacity',
        scope: 'zone',
        setup: (w) => ((w.fake.options.capacityErrors = 'sync'), w.fake.setStock('cn-north-4', 'cn-north-4a', 'p2s.2xlarge.8', 0)),
      },
      {
        name: 'flavor not sold in the zone',
        code: 'Ecs.0029',
        category: 'capacity',
        scope: 'zone',
        setup: () => {},
        req: () => request({offer: hwOffer({instanceType: 'pi2.2xlarge.4'})}),
      },
      {
        name: 'ECS quota',
        code: 'Ecs.0001',
        category: 'quota',
        scope: 'region',
        setup: (w) => (w.fake.options.instanceQuota = {'cn-north-4': 0}),
      },
      {
        name: 'EVS quota in the job',
        code: 'Ecs.0021',
        category: 'quota',
        scope: 'region',
        setup: (w) => w.fake.inject({action: 'CreatePostPaidServers', code: 'Ecs.0021', inJob: true}),
      },
      {
        name: 'no permission or no balance',
        code: 'Ecs.0003',
        category: 'auth',
        scope: 'provider',
        setup: (w) => w.fake.inject({action: 'CreatePostPaidServers', code: 'Ecs.0003', status: 403}),
      },
      {
        name: 'IAM user denied by the gateway',
        code: 'APIGW.0302',
        category: 'auth',
        scope: 'provider',
        setup: (w) => w.fake.inject({action: 'CreatePostPaidServers', code: 'APIGW.0302'}),
      },
      {name: 'project of another region', code: 'Common.0013', category: 'auth', scope: 'region', setup: () => {}},
      {
        name: 'image gone',
        code: 'Ecs.0031',
        category: 'unavailable',
        scope: 'region',
        setup: () => {},
        req: () => request({spec: jobSpec('true', {image: '99999999-2222-4333-8444-555555555599'})}),
      },
      {
        name: 'invalid parameters',
        code: 'Ecs.0005',
        category: 'unavailable',
        scope: 'offer',
        setup: (w) => w.fake.inject({action: 'CreatePostPaidServers', code: 'Ecs.0005'}),
      },
    ]
    for (const c of cases) {
      it(`${c.name}: ${c.code} → ${c.category} / ${c.scope}, not retried`, async function () {
        const wrongProject: Record<string, string> =
          c.code === 'Common.0013' ? {SKYHOP_HUAWEICLOUD_PROJECT_IDS: `cn-north-4=${HW_PROJECTS['cn-east-3']}`} : {}
        w = await world({}, {}, false, wrongProject)
        c.setup(w)
        const e = await launchError(w, c.req?.())
        expect(e).to.include({provider: 'huaweicloud', category: c.category, scope: c.scope, backendCode: c.code})
        expect(w.retries).to.deep.equal([])
        expect(w.fake.live().filter((s) => s.status !== 'DELETED')).to.have.length(0)
      })
    }

    it('an unknown AK, a wrong SK and a stale clock fail the fake’s SDK-HMAC check (APIGW.0301); no secret is shown', async function () {
      w = await world()
      const cases: Array<[string, string, (() => Date) | undefined]> = [
        ['HWUNKNOWNAK000000001', 'unknown-huawei-secret-000000001', undefined],
        [HW_KEY.ak, 'wrong-huawei-secret-0000000000001', undefined],
        [HW_KEY.ak, HW_KEY.sk, () => new Date(Date.now() - 3_600_000)],
      ]
      for (const [ak, sk, now] of cases) {
        const p = new HuaweiProvider({
          env: {...hwEnv(w.fake.url), HUAWEICLOUD_SDK_AK: ak, HUAWEICLOUD_SDK_SK: sk},
          dispatcher: w.agent,
          now,
          retry: {retries: 1, baseDelayMs: 1, maxDelayMs: 1},
        })
        const e = (await p.launch(request()).catch((x: unknown) => x)) as ProviderError
        expect(e).to.include({category: 'auth', scope: 'provider', backendCode: 'APIGW.0301'})
        expect(JSON.stringify(e.toJSON()) + e.message).not.to.include(sk)
        const checked = await p.check()
        expect(checked).to.include({ok: false, source: 'environment (HUAWEICLOUD_SDK_AK)'})
        expect(checked.message).not.to.include(sk)
      }
    })

    it('retries APIGW.0308 throttling and 5xx with backoff, then reports transient', async function () {
      w = await world()
      w.fake.throttle(2, 'CreatePostPaidServers')
      w.fake.inject({action: 'CreatePostPaidServers', code: 'Ecs.1000', status: 500, message: 'Failed to access the OpenStack.'})
      await w.provider.launch(request())
      expect(w.retries).to.deep.equal(['APIGW.0308', 'APIGW.0308', 'Ecs.1000'])
      w.fake.throttle(10)
      const e = (await w.provider.listOwned().catch((x: unknown) => x)) as ProviderError
      expect(e).to.include({category: 'transient', backendCode: 'APIGW.0308'})
    })
  })

  it('is idempotent on X-Client-Token and finds its servers by tag across regions', async function () {
    w = await world()
    const r = request({offer: hwOffer({instanceType: 's6.large.2', accelerator: null})})
    const a = await w.provider.launch(r)
    const b = await w.provider.launch(r)
    expect(b.externalId).to.equal(a.externalId)
    expect(w.fake.live()).to.have.length(1)
    const c = await w.provider.launch(request({spot: true, offer: hwOffer({region: 'cn-east-3', zone: 'cn-east-3a'})}))
    const owned = await w.provider.listOwned()
    expect(owned.map((h) => h.externalId).sort()).to.deep.equal([a.externalId, c.externalId].sort())
    expect(owned.find((h) => h.externalId === c.externalId)).to.deep.include({region: 'cn-east-3', zone: 'cn-east-3a'})
    expect(owned.find((h) => h.externalId === c.externalId)!.data).to.deep.include({attemptId: c.data.attemptId, spot: true})
  })

  it('checks credentials and names the source', async function () {
    w = await world()
    expect(await w.provider.check()).to.deep.equal({
      provider: 'huaweicloud',
      ok: true,
      source: 'environment (HUAWEICLOUD_SDK_AK)',
      message: 'credentials work: 2 availability zones in cn-north-4',
    })
  })

  describe('end to end with the boot script and runner', function () {
    it('runs the job, reads its exit and output from the serial console; cleanup deletes the stopped server', async function () {
      w = await world({}, {}, true)
      const handle = await w.provider.launch(request({spec: jobSpec('echo "on ecs"; echo "second"; exit 0')}))
      const result = await finalPoll(w, handle)
      expect(result).to.include({state: 'SUCCEEDED', exitCode: 0})
      expect(w.fake.servers.get(handle.externalId)!.status).to.equal('SHUTOFF')
      const logs: string[] = []
      for await (const l of w.provider.logs(handle, {follow: false})) logs.push(l)
      expect(logs).to.deep.equal(['on ecs', 'second'])
      await w.provider.cleanup(handle)
      await until(
        async () => w.fake.live().length,
        (n) => n === 0,
      )
    })

    it('cancels through server metadata that the guest reads from the OpenStack metadata service', async function () {
      w = await world({}, {}, true)
      const handle = await w.provider.launch(
        request({spec: jobSpec('trap \'echo "stopping"; exit 0\' TERM; echo up; while true; do sleep 0.1; done')}),
      )
      await until(
        async () => w.fake.consoleOf(handle.externalId),
        (c) => c.includes('SKYHOP-LOG 1 up'),
        20_000,
        200,
      )
      await w.provider.signal(handle, 'cancel', 9)
      expect(w.fake.servers.get(handle.externalId)!.metadata[HUAWEI_STOP_KEY]).to.equal('cancel 9')
      const result = await finalPoll(w, handle)
      expect(result.state).to.equal('CANCELLED')
      expect(w.fake.consoleOf(handle.externalId)).to.match(/SKYHOP-LOG \d+ stopping/)
    })

    it('sees a spot reclaim through the API (no in-guest notice) and reports PREEMPTED', async function () {
      w = await world({}, {}, true)
      const handle = await w.provider.launch(request({spot: true, spec: jobSpec('echo busy; while true; do sleep 0.1; done')}))
      await until(
        async () => w.fake.consoleOf(handle.externalId),
        (c) => c.includes('SKYHOP-LOG 1 busy'),
        20_000,
        200,
      )
      w.fake.reclaimSpot(handle.externalId)
      const result = await finalPoll(w, handle)
      expect(result.state).to.equal('PREEMPTED')
      expect(w.fake.consoleOf(handle.externalId)).to.match(/huaweicloud: no documented in-guest spot reclaim endpoint/)
    })

    it('hands a graceful (ACPI) spot stop to the job as SIGTERM, which checkpoints', async function () {
      w = await world({}, {}, true)
      const handle = await w.provider.launch(
        request({spot: true, spec: jobSpec('trap \'echo "saved"; exit 0\' TERM; echo busy; while true; do sleep 0.1; done')}),
      )
      await until(
        async () => w.fake.consoleOf(handle.externalId),
        (c) => c.includes('SKYHOP-LOG 1 busy'),
        20_000,
        200,
      )
      const reclaimedAt = Date.now()
      w.fake.reclaimSpot(handle.externalId, {graceMs: 3000})
      const result = await finalPoll(w, handle)
      expect(result.state).to.equal('PREEMPTED')
      expect(Date.now() - reclaimedAt).to.be.at.least(2900) // RUNNING until ECS stops it at the deadline
      // The shutdown stops the console mirror with everything else; the runner outlives it
      // within the grace and the job's output stays in the attempt directory on disk.
      const attemptDir = join(w.bootDir!, handle.externalId, 'root', 'var', 'lib', 'skyhop', 'attempts', String(handle.data.attemptId))
      expect(readFileSync(join(attemptDir, 'output.log'), 'utf8')).to.match(/^busy\n(.*\n)?saved\n$/)
      expect(readFileSync(join(attemptDir, 'exit_code'), 'utf8').trim()).to.equal('0')
    })
  })
})
