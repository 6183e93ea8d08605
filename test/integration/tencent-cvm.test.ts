// The Tencent Cloud CVM provider against the fake CVM/TAT (TC3 verified on every request):
// the RunInstances request, the error taxonomy of issue 8, throttling, idempotency,
// reconciliation by tag, InquiryPriceRunInstances in CNY, and end to end with the real
// boot script and runner: success read back through TAT (and the stopped instance
// terminated), cancel through TAT, and a spot reclaim announced on the metadata endpoint
// in UTC+8. Nothing touches the network.
import {expect} from 'chai'
import {gunzipSync} from 'node:zlib'
import {ProviderError} from '../../src/errors.js'
import type {LaunchRequest} from '../../src/providers/provider.js'
import type {LaunchHandle, PollResult} from '../../src/model/attempt.js'
import {TENCENT_TAGS, TencentProvider} from '../../src/providers/tencentcloud/tencent-provider.js'
import {redact} from '../../src/util/redact.js'
import {beijingWallTime} from '../fakes/fake-tencent-cvm-server.js'
import {launchError as failedLaunch} from '../helpers/fake-cloud-world.js'
import {isTerminal, pollUntil, until} from '../helpers/wait.js'
import {jobSpec} from './aws-helpers.js'
import {TC_KEY} from './huawei-tencent-world.js'
import {request, tcOffer, world, type World} from './tencent-helpers.js'

const launchError = (w: World, r = request()): Promise<ProviderError> => failedLaunch(w.provider, r)

async function finalPoll(w: World, h: LaunchHandle): Promise<PollResult> {
  return pollUntil(w.provider, h, isTerminal, {timeoutMs: 40_000, stepMs: 200})
}

async function readLogs(w: World, h: LaunchHandle): Promise<string[]> {
  const out: string[] = []
  for await (const l of w.provider.logs(h, {follow: false})) out.push(l)
  return out
}

describe('Tencent Cloud CVM provider against the fake CVM', function () {
  this.timeout(90_000)
  let w: World
  afterEach(async () => w?.close())

  it('launches spot with ClientToken, tags, user data and InstanceMarketOptions; on-demand as POSTPAID_BY_HOUR', async function () {
    w = await world()
    const r = request({spot: true, spec: jobSpec('true', {maxPrice: {amount: 3, currency: 'CNY'}})})
    const handle = await w.provider.launch(r)
    expect(handle).to.deep.include({provider: 'tencentcloud', region: 'ap-guangzhou', zone: 'ap-guangzhou-3'})
    const p = w.fake.calls.find((c) => c.action === 'RunInstances')!.params as Record<string, any>
    expect(p).to.deep.include({
      ClientToken: r.attemptId,
      InstanceChargeType: 'SPOTPAID',
      ImageId: 'img-487zeit5',
      InstanceType: 'GN7.2XLARGE32',
      InstanceCount: 1,
    })
    expect(p.Placement).to.deep.equal({Zone: 'ap-guangzhou-3'})
    expect(p.InstanceMarketOptions).to.deep.equal({MarketType: 'spot', SpotOptions: {MaxPrice: '3.0000', SpotInstanceType: 'one-time'}})
    expect(p.TagSpecification[0].Tags).to.deep.include({Key: TENCENT_TAGS.attemptId, Value: r.attemptId})
    // Over CVM's 16 KB the script goes gzipped, which cloud-init unpacks itself.
    const userData = Buffer.from(p.UserData, 'base64')
    expect(userData.length).to.be.at.most(16 * 1024)
    const script = userData[0] === 0x1f && userData[1] === 0x8b ? gunzipSync(userData) : userData
    expect(script.toString('utf8')).to.match(/^#!\/bin\/bash\n/)
    const call = w.fake.calls.find((c) => c.action === 'RunInstances')!
    expect(call.region).to.equal('ap-guangzhou')
    await until(
      async () => (await w.provider.poll([handle])).get(handle.externalId)!.state,
      (s) => s === 'RUNNING',
    )
    await w.provider.cleanup(handle)
    await w.provider.cleanup(handle) // idempotent
    await until(
      async () => w.fake.live().length,
      (n) => n === 0,
    )
    expect((await w.provider.poll([handle])).get(handle.externalId)!.state).to.equal('PREEMPTED') // a spot instance that vanished was reclaimed

    await w.provider.launch(request())
    const second = w.fake.calls.filter((c) => c.action === 'RunInstances')[1].params as Record<string, any>
    expect(second.InstanceChargeType).to.equal('POSTPAID_BY_HOUR')
    expect(second.InstanceMarketOptions).to.equal(undefined)
  })

  it('bids the on-demand price when the job has no max price in the offer’s currency', async function () {
    w = await world()
    await w.provider.launch(request({spot: true, spec: jobSpec('true', {maxPrice: {amount: 1, currency: 'USD'}})}))
    const p = w.fake.calls.find((c) => c.action === 'RunInstances')!.params as Record<string, any>
    expect(p.InstanceMarketOptions.SpotOptions.MaxPrice).to.equal('9.0700')
  })

  describe('maps the CVM errors of issue 8', function () {
    const cases: Array<{
      name: string
      code: string
      category: string
      scope: string
      setup: (w: World) => void
      req?: () => LaunchRequest
    }> = [
      {
        name: 'no stock of the type',
        code: 'ResourceInsufficient.SpecifiedInstanceType',
        category: 'capacity',
        scope: 'zone',
        setup: (w) => w.fake.setStock('ap-guangzhou', 'ap-guangzhou-3', 'GN7.2XLARGE32', 0),
      },
      {
        name: 'zone sold out',
        code: 'ResourceInsufficient.ZoneSoldOutForSpecifiedInstance',
        category: 'capacity',
        scope: 'zone',
        setup: (w) => w.fake.inject({action: 'RunInstances', code: 'ResourceInsufficient.ZoneSoldOutForSpecifiedInstance'}),
      },
      {
        name: 'type sold out',
        code: 'ResourcesSoldOut.SpecifiedInstanceType',
        category: 'capacity',
        scope: 'zone',
        setup: (w) => w.fake.inject({action: 'RunInstances', code: 'ResourcesSoldOut.SpecifiedInstanceType'}),
      },
      {
        name: 'type not sold in the zone',
        code: 'ResourceNotFound.InvalidZoneInstanceType',
        category: 'capacity',
        scope: 'zone',
        setup: () => {},
        req: () => request({offer: tcOffer({instanceType: 'GT4.41XLARGE948'})}),
      },
      {
        name: 'bid below the spot price',
        code: 'InvalidParameterValue.InsufficientPrice',
        category: 'capacity',
        scope: 'offer',
        setup: () => {},
        req: () => request({spot: true, spec: jobSpec('true', {maxPrice: {amount: 1, currency: 'CNY'}})}),
      },
      {
        name: 'instance quota',
        code: 'LimitExceeded.InstanceQuota',
        category: 'quota',
        scope: 'region',
        setup: (w) => (w.fake.options.instanceQuota = {'ap-guangzhou': 0}),
      },
      {
        name: 'vCPU quota',
        code: 'LimitExceeded.CvmInstanceQuota',
        category: 'quota',
        scope: 'region',
        setup: (w) => w.fake.inject({action: 'RunInstances', code: 'LimitExceeded.CvmInstanceQuota'}),
      },
      {
        name: 'CAM permission',
        code: 'AuthFailure.UnauthorizedOperation',
        category: 'auth',
        scope: 'provider',
        setup: (w) => w.fake.inject({code: 'AuthFailure.UnauthorizedOperation', message: 'The request is not authorized.'}),
      },
      {
        name: 'balance',
        code: 'InvalidAccount.InsufficientBalance',
        category: 'auth',
        scope: 'provider',
        setup: (w) => w.fake.inject({action: 'RunInstances', code: 'InvalidAccount.InsufficientBalance'}),
      },
      {
        name: 'missing image',
        code: 'InvalidImageId.NotFound',
        category: 'unavailable',
        scope: 'region',
        setup: () => {},
        req: () => request({spec: jobSpec('true', {image: 'img-nothere1'})}),
      },
    ]
    for (const c of cases) {
      it(`${c.name}: ${c.code} → ${c.category} / ${c.scope}, not retried`, async function () {
        w = await world()
        c.setup(w)
        const e = await launchError(w, c.req?.())
        expect(e).to.include({provider: 'tencentcloud', category: c.category, scope: c.scope, backendCode: c.code})
        expect(w.retries).to.deep.equal([])
      })
    }

    it('an unknown SecretId, a wrong key and a stale clock fail the fake’s TC3 check; no secret is shown', async function () {
      w = await world()
      const cases: Array<[string, string, string, (() => Date) | undefined]> = [
        ['AKIDunknownTencent000001', 'unknown-tencent-secret-0001', 'AuthFailure.SecretIdNotFound', undefined],
        [TC_KEY.secretId, 'wrong-tencent-secret-000001', 'AuthFailure.SignatureFailure', undefined],
        [TC_KEY.secretId, TC_KEY.secretKey, 'AuthFailure.SignatureExpire', () => new Date(Date.now() - 3_600_000)],
      ]
      for (const [id, secret, code, now] of cases) {
        const p = new TencentProvider({
          env: {SKYHOP_TENCENTCLOUD_ENDPOINT: w.fake.url, TENCENTCLOUD_SECRET_ID: id, TENCENTCLOUD_SECRET_KEY: secret},
          dispatcher: w.agent,
          now,
          retry: {retries: 1, baseDelayMs: 1, maxDelayMs: 1},
        })
        const e = (await p.launch(request()).catch((x: unknown) => x)) as ProviderError
        expect(e).to.include({category: 'auth', scope: 'provider', backendCode: code})
        expect(JSON.stringify(e.toJSON()) + e.message).not.to.include(secret)
        const checked = await p.check()
        expect(checked).to.include({ok: false, source: 'environment (TENCENTCLOUD_SECRET_ID)'})
        expect(checked.message).not.to.include(secret)
      }
    })

    it('retries RequestLimitExceeded and InternalError with backoff, then reports transient', async function () {
      w = await world()
      w.fake.throttle(2, 'RunInstances')
      w.fake.inject({action: 'RunInstances', code: 'InternalError', message: 'An internal error has occurred.'})
      await w.provider.launch(request())
      expect(w.retries).to.deep.equal(['RequestLimitExceeded', 'RequestLimitExceeded', 'InternalError'])
      w.fake.throttle(10)
      const e = (await w.provider.listOwned().catch((x: unknown) => x)) as ProviderError
      expect(e).to.include({category: 'transient', backendCode: 'RequestLimitExceeded'})
    })
  })

  it('is idempotent on ClientToken and finds its instances by tag, page by page, across regions', async function () {
    w = await world({pageSize: 1})
    const r = request({offer: tcOffer({instanceType: 'S5.MEDIUM4', accelerator: null})})
    const a = await w.provider.launch(r)
    const b = await w.provider.launch(r)
    expect(b.externalId).to.equal(a.externalId)
    const c = await w.provider.launch(request({offer: tcOffer({region: 'ap-shanghai', zone: 'ap-shanghai-2'})}))
    const owned = await w.provider.listOwned()
    expect(owned.map((h) => h.externalId).sort()).to.deep.equal([a.externalId, c.externalId].sort())
    expect(owned.find((h) => h.externalId === c.externalId)!.region).to.equal('ap-shanghai')
    const polled = await w.provider.poll([a, c])
    expect([...polled.keys()].sort()).to.deep.equal([a.externalId, c.externalId].sort())
  })

  it('polls a batch with one DescribeInstances, one TAT RunCommand and one DescribeInvocationTasks per region', async function () {
    w = await world({}, {statusIntervalMs: 0}, true)
    const handles: LaunchHandle[] = []
    for (let i = 0; i < 3; i++)
      handles.push(
        await w.provider.launch(request({offer: tcOffer({instanceType: 'S5.MEDIUM4', accelerator: null}), spec: jobSpec('sleep 30')})),
      )
    await until(
      async () => [...(await w.provider.poll(handles)).values()].map((r) => r.state),
      (s) => s.every((x) => x === 'RUNNING'),
    )
    const before = w.fake.calls.length
    await w.provider.poll(handles)
    await new Promise((r) => setTimeout(r, 300))
    await w.provider.poll(handles)
    const actions = w.fake.calls.slice(before).map((c) => c.action)
    const count = (a: string) => actions.filter((x) => x === a).length
    expect(count('DescribeInstances')).to.equal(2)
    expect(count('RunCommand')).to.be.at.most(2)
    expect(count('DescribeInvocationTasks')).to.be.at.most(2)
    const run = w.fake.calls.slice(before).find((c) => c.action === 'RunCommand')!
    expect((run.params.InstanceIds as string[]).sort()).to.deep.equal(handles.map((h) => h.externalId).sort())
  })

  it('quotes on-demand and spot prices in CNY with InquiryPriceRunInstances, and checks credentials', async function () {
    w = await world()
    expect(await w.provider.price('ap-guangzhou', 'ap-guangzhou-3', 'GN7.2XLARGE32')).to.deep.equal({amount: 9.07, currency: 'CNY'})
    expect(await w.provider.price('ap-guangzhou', 'ap-guangzhou-3', 'GN7.2XLARGE32', 'spot')).to.deep.equal({amount: 2.72, currency: 'CNY'})
    expect(await w.provider.check()).to.deep.equal({
      provider: 'tencentcloud',
      ok: true,
      source: 'environment (TENCENTCLOUD_SECRET_ID)',
      message: 'credentials work: 2 zones in ap-guangzhou',
    })
    const intl = new TencentProvider({endpoint: 'https://cvm.intl.tencentcloudapi.com/', env: {}})
    expect(intl.currency()).to.equal('USD')
  })

  it('serves termination-time in UTC+8 wall time', function () {
    expect(beijingWallTime(Date.parse('2018-08-18T04:05:33Z'))).to.equal('2018-08-18 12:05:33')
  })

  describe('end to end with the boot script and runner', function () {
    it('runs the job and reads its exit and output through TAT; cleanup terminates the lingering instance', async function () {
      w = await world({}, {}, true)
      const handle = await w.provider.launch(request({spec: jobSpec('echo "on cvm"; echo "line two"; exit 0')}))
      const result = await finalPoll(w, handle)
      expect(result).to.include({state: 'SUCCEEDED', exitCode: 0})
      expect(w.fake.instances.get(handle.externalId)!.state).to.equal('RUNNING') // lingering so TAT can still read it
      expect(await readLogs(w, handle)).to.deep.equal(['on cvm', 'line two'])
      const reads = w.fake.calls.filter((c) => c.action === 'RunCommand').length
      expect(reads).to.be.greaterThan(0)
      await w.provider.cleanup(handle)
      await until(
        async () => w.fake.live().length,
        (n) => n === 0,
      )
    })

    it('reports a failing job as FAILED with its exit code', async function () {
      w = await world({}, {}, true)
      const handle = await w.provider.launch(request({spec: jobSpec('echo broken >&2; exit 3')}))
      expect(await finalPoll(w, handle)).to.include({state: 'FAILED', exitCode: 3})
    })

    it('cancels through TAT with the grace the caller gave', async function () {
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
      expect(w.fake.instances.get(handle.externalId)!.commands.some((c) => c.includes("'cancel 9'"))).to.equal(true)
      const result = await finalPoll(w, handle)
      expect(result.state).to.equal('CANCELLED')
      expect(await readLogs(w, handle)).to.include('stopping')
    })

    it('turns a spot reclaim announced on the metadata endpoint (UTC+8) into PREEMPTED after the job checkpointed', async function () {
      w = await world({}, {}, true)
      const handle = await w.provider.launch(
        request({
          spot: true,
          spec: jobSpec('trap \'echo "saved at $(date +%s)"; exit 0\' TERM; echo busy; while true; do sleep 0.1; done'),
        }),
      )
      await until(
        async () => w.fake.consoleOf(handle.externalId),
        (c) => c.includes('SKYHOP-LOG 1 busy'),
        20_000,
        200,
      )
      w.fake.reclaimSpot(handle.externalId, 8000)
      const result = await finalPoll(w, handle)
      expect(result.state).to.equal('PREEMPTED')
      const consoleText = w.fake.consoleOf(handle.externalId)
      expect(consoleText, consoleText).to.match(/SKYHOP-LOG \d+ saved at/)
      expect(consoleText).to.match(/SKYHOP-EV \{[^\n]*"event":"notice"[^\n]*"source":"tencentcloud"/)
      expect(redact(consoleText)).to.equal(consoleText)
    })
  })
})
