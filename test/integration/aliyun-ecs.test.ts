// The Alibaba Cloud ECS provider against the fake ECS (ACS3 verified on every request):
// the RunInstances request, the error taxonomy of issue 8, throttling, idempotency,
// reconciliation by tag, prices in CNY, and end to end with the real boot script and
// runner: success (and the stopped instance deleted), cancel through Cloud Assistant,
// and a spot reclaim announced on the metadata endpoint. Nothing touches the network.
import {expect} from 'chai'
import {ProviderError} from '../../src/errors.js'
import {ALIYUN_TAGS, AliyunProvider} from '../../src/providers/aliyun/aliyun-provider.js'
import type {LaunchRequest} from '../../src/providers/provider.js'
import type {LaunchHandle, PollResult} from '../../src/model/attempt.js'
import {launchError as failedLaunch} from '../helpers/fake-cloud-world.js'
import {isTerminal, pollUntil, until} from '../helpers/wait.js'
import {jobSpec} from './aws-helpers.js'
import {KEY, offer, request, world, type World} from './aliyun-helpers.js'

const launchError = (w: World, r = request()): Promise<ProviderError> => failedLaunch(w.provider, r)

async function finalPoll(w: World, h: LaunchHandle): Promise<PollResult> {
  return pollUntil(w.provider, h, isTerminal, {timeoutMs: 30_000, stepMs: 200})
}

describe('Alibaba Cloud ECS provider against the fake ECS', function () {
  this.timeout(60_000)
  let w: World
  afterEach(async () => w?.close())

  it('launches with ClientToken, tags, user data and spot strategy, then deletes', async function () {
    w = await world()
    const r = request({spot: true, spec: jobSpec('true', {maxPrice: {amount: 3, currency: 'CNY'}})})
    const handle = await w.provider.launch(r)
    expect(handle).to.deep.include({provider: 'aliyun', region: 'cn-hangzhou', zone: 'cn-hangzhou-h'})
    const p = w.fake.calls.find((c) => c.action === 'RunInstances')!.params
    expect(p).to.include({
      RegionId: 'cn-hangzhou',
      ZoneId: 'cn-hangzhou-h',
      ClientToken: r.attemptId,
      ImageFamily: 'acs:ubuntu_22_04_x64',
      SpotStrategy: 'SpotWithPriceLimit',
      SpotPriceLimit: '3.0000',
      SpotDuration: '1',
      InstanceChargeType: 'PostPaid',
    })
    expect(p['Tag.2.Key']).to.equal(ALIYUN_TAGS.attemptId)
    expect(Buffer.from(p.UserData, 'base64').toString('utf8')).to.match(/^#!\/bin\/bash\n/)
    await until(
      async () => (await w.provider.poll([handle])).get(handle.externalId)!.state,
      (s) => s === 'RUNNING',
    )
    await w.provider.cleanup(handle)
    await w.provider.cleanup(handle) // idempotent
    expect(w.fake.live()).to.have.length(0)
    const gone = (await w.provider.poll([handle])).get(handle.externalId)!
    expect(gone.state).to.equal('PREEMPTED') // a spot instance that vanished was reclaimed or released

    await w.provider.launch(request())
    expect(w.fake.calls.filter((c) => c.action === 'RunInstances')[1].params.SpotStrategy).to.equal('NoSpot')
  })

  describe('maps the ECS errors of issue 8', function () {
    const cases: Array<{
      name: string
      code: string
      category: string
      scope: string
      setup: (w: World) => void
      req?: () => LaunchRequest
    }> = [
      {
        name: 'out of stock',
        code: 'OperationDenied.NoStock',
        category: 'capacity',
        scope: 'zone',
        setup: (w) => w.fake.setStock('cn-hangzhou', 'cn-hangzhou-h', 'ecs.gn7i-c8g1.2xlarge', 0),
      },
      {
        name: 'type not sold in the zone',
        code: 'InvalidInstanceType.ZoneNotSupported',
        category: 'capacity',
        scope: 'zone',
        setup: () => {},
        req: () => request({offer: offer({instanceType: 'ecs.gn8v.4xlarge'})}),
      },
      {
        name: 'spot limit below the price',
        code: 'InvalidSpotPriceLimit.LowerThanPublicPrice',
        category: 'capacity',
        scope: 'offer',
        setup: () => {},
        req: () => request({spot: true, spec: jobSpec('true', {maxPrice: {amount: 1, currency: 'CNY'}})}),
      },
      {
        name: 'quota',
        code: 'QuotaExceed.ElasticQuota',
        category: 'quota',
        scope: 'region',
        setup: (w) => (w.fake.options.instanceQuota = {'cn-hangzhou': 0}),
      },
      {
        name: 'RAM permission',
        code: 'Forbidden.RAM',
        category: 'auth',
        scope: 'provider',
        setup: (w) =>
          w.fake.inject({
            code: 'Forbidden.RAM',
            message: 'User not authorized to operate on the specified resource, or this API does not support RAM.',
          }),
      },
      {
        name: 'inactive key',
        code: 'InvalidAccessKeyId.Inactive',
        category: 'auth',
        scope: 'provider',
        setup: (w) => w.fake.inject({code: 'InvalidAccessKeyId.Inactive', message: 'Specified access key is disabled.'}),
      },
    ]
    for (const c of cases) {
      it(`${c.name}: ${c.code} → ${c.category} / ${c.scope}`, async function () {
        w = await world()
        c.setup(w)
        const e = await launchError(w, c.req?.())
        expect(e).to.include({provider: 'aliyun', category: c.category, scope: c.scope, backendCode: c.code})
        expect(w.retries).to.deep.equal([])
      })
    }

    it('an unknown key and a wrong secret fail the fake’s ACS3 check: auth / provider, no secret shown', async function () {
      w = await world()
      for (const [id, secret, code] of [
        ['LTAI5tUnknownKey00001', 'unknown-aliyun-secret-0001', 'InvalidAccessKeyId.NotFound'],
        [KEY.accessKeyId, 'wrong-aliyun-secret-000001', 'SignatureDoesNotMatch'],
      ]) {
        const p = new AliyunProvider({
          env: {SKYHOP_ALIYUN_ENDPOINT: w.fake.url, ALIBABA_CLOUD_ACCESS_KEY_ID: id, ALIBABA_CLOUD_ACCESS_KEY_SECRET: secret},
          dispatcher: w.agent,
          retry: {retries: 1, baseDelayMs: 1, maxDelayMs: 1},
        })
        const e = (await p.launch(request()).catch((x: unknown) => x)) as ProviderError
        expect(e).to.include({category: 'auth', scope: 'provider', backendCode: code})
        expect(JSON.stringify(e.toJSON()) + e.message).not.to.include(secret)
        const checked = await p.check()
        expect(checked).to.include({ok: false, source: 'environment (ALIBABA_CLOUD_ACCESS_KEY_ID)'})
      }
    })

    it('retries Throttling and ServiceUnavailable, then reports transient', async function () {
      w = await world()
      w.fake.throttle(2, 'RunInstances')
      w.fake.inject({
        action: 'RunInstances',
        code: 'ServiceUnavailable',
        message: 'The request has failed due to a temporary failure of the server.',
      })
      await w.provider.launch(request())
      expect(w.retries).to.deep.equal(['Throttling.User', 'Throttling.User', 'ServiceUnavailable'])
      w.fake.throttle(10)
      const e = (await w.provider.listOwned().catch((x: unknown) => x)) as ProviderError
      expect(e).to.include({category: 'transient', backendCode: 'Throttling.User'})
    })
  })

  it('is idempotent on ClientToken and finds its instances by tag, page by page', async function () {
    w = await world({pageSize: 1})
    const r = request({offer: offer({instanceType: 'ecs.g7.large', accelerator: null})})
    const a = await w.provider.launch(r)
    const b = await w.provider.launch(r)
    expect(b.externalId).to.equal(a.externalId)
    const c = await w.provider.launch(request({offer: offer({region: 'cn-beijing', zone: 'cn-beijing-l'})}))
    const owned = await w.provider.listOwned()
    expect(owned.map((h) => h.externalId).sort()).to.deep.equal([a.externalId, c.externalId].sort())
    expect(owned.find((h) => h.externalId === c.externalId)!.data.attemptId).to.be.a('string')
  })

  it('reads spot and pay-as-you-go prices in CNY, and checks credentials', async function () {
    w = await world()
    const spot = await w.provider.spotPrices('cn-hangzhou', 'ecs.gn7i-c8g1.2xlarge')
    expect(spot.map((p) => [p.zone, p.price])).to.deep.equal([
      ['cn-hangzhou-h', {amount: 2.6, currency: 'CNY'}],
      ['cn-hangzhou-i', {amount: 2.9, currency: 'CNY'}],
    ])
    expect(await w.provider.onDemandPrice('cn-hangzhou', 'ecs.gn7i-c8g1.2xlarge')).to.deep.equal({amount: 11.2, currency: 'CNY'})
    expect(await w.provider.check()).to.deep.equal({
      provider: 'aliyun',
      ok: true,
      source: 'environment (ALIBABA_CLOUD_ACCESS_KEY_ID)',
      message: 'credentials work: 2 zones in cn-hangzhou',
    })
  })

  describe('end to end with the boot script and runner', function () {
    it('runs the job; the stopped instance is deleted by cleanup', async function () {
      w = await world({}, {}, true)
      const handle = await w.provider.launch(request({spec: jobSpec('echo "on ecs"; exit 0')}))
      const result = await finalPoll(w, handle)
      expect(result).to.include({state: 'SUCCEEDED', exitCode: 0})
      const logs: string[] = []
      for await (const l of w.provider.logs(handle, {follow: false})) logs.push(l)
      expect(logs).to.deep.equal(['on ecs'])
      expect(w.fake.instances.get(handle.externalId)!.status).to.equal('Stopped')
      await w.provider.cleanup(handle)
      expect(w.fake.live()).to.have.length(0)
    })

    it('cancels through Cloud Assistant with the grace the caller gave', async function () {
      w = await world({}, {}, true)
      const handle = await w.provider.launch(
        request({spec: jobSpec('trap \'echo "stopping"; exit 0\' TERM; echo up; while true; do sleep 0.1; done')}),
      )
      await until(
        async () => {
          const out: string[] = []
          for await (const l of w.provider.logs(handle, {follow: false})) out.push(l)
          return out
        },
        (l) => l.includes('up'),
        20_000,
        200,
      )
      await w.provider.signal(handle, 'cancel', 9)
      expect(w.fake.instances.get(handle.externalId)!.commands[0]).to.include("'cancel 9'")
      const result = await finalPoll(w, handle)
      expect(result.state).to.equal('CANCELLED')
    })

    it('turns a spot reclaim notice on the metadata endpoint into PREEMPTED', async function () {
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
      w.fake.reclaimSpot(handle.externalId, 6000)
      const result = await finalPoll(w, handle)
      expect(result.state).to.equal('PREEMPTED')
      const consoleText = w.fake.consoleOf(handle.externalId)
      expect(consoleText, consoleText).to.match(/SKYHOP-LOG \d+ saved/)
    })
  })
})
