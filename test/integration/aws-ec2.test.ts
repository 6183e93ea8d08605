// The AWS provider against the fake EC2 (wire format, SigV4 verified on every request):
// launch → describe → terminate, the request it sends, every mapped error with its
// category and scope, throttling retried, idempotent ClientToken, reconciliation by tag,
// and no secret in any error. Nothing here touches the network.
import {expect} from 'chai'
import {gunzipSync} from 'node:zlib'

import {ProviderError} from '../../src/errors.js'
import {AWS_TAGS, AwsProvider, clientTokenFor} from '../../src/providers/aws/aws-provider.js'
import {ec2Endpoint} from '../../src/clouds/aws/endpoints.js'
import {redact, registerSecret} from '../../src/util/redact.js'
import {launchError as failedLaunch} from '../helpers/fake-cloud-world.js'
import {until} from '../helpers/wait.js'
import {KEY, jobSpec, launchRequest, offer, world, type World} from './aws-helpers.js'

const launchError = (w: World, request = launchRequest()): Promise<ProviderError> => failedLaunch(w.provider, request)

describe('AWS EC2 provider against the fake EC2', function () {
  let w: World
  afterEach(async function () {
    await w?.close()
  })

  it('launches, describes and terminates an instance', async function () {
    w = await world()
    const request = launchRequest()
    const handle = await w.provider.launch(request)
    expect(handle).to.deep.include({provider: 'aws', region: 'us-east-1', zone: 'us-east-1a'})
    expect(handle.externalId).to.match(/^i-[0-9a-f]{17}$/)

    const first = (await w.provider.poll([handle])).get(handle.externalId)!
    expect(first.state).to.be.oneOf(['PROVISIONING', 'RUNNING'])
    await until(
      async () => (await w.provider.poll([handle])).get(handle.externalId)!.state,
      (s) => s === 'RUNNING',
    )

    await w.provider.cleanup(handle)
    await until(
      async () => w.fake.instances.get(handle.externalId)!.state,
      (s) => s === 'terminated',
    )
    // Ended by us, with no console exit line: not a success.
    const last = (await w.provider.poll([handle])).get(handle.externalId)!
    expect(last.state).to.equal('LOST')
    await w.provider.cleanup(handle) // idempotent
    expect(w.fake.actions()).to.include.members([
      'DescribeImages',
      'RunInstances',
      'DescribeInstances',
      'TerminateInstances',
      'GetConsoleOutput',
    ])
  })

  it('sends ClientToken, tags, self-termination, IMDS settings and the boot script', async function () {
    w = await world()
    const request = launchRequest({spec: jobSpec('python train.py', {resources: {...jobSpec('').resources, diskGB: 200}})})
    await w.provider.launch(request)
    const run = w.fake.calls.find((c) => c.action === 'RunInstances')!
    const p = run.params
    expect(p.ClientToken).to.equal(request.attemptId)
    expect(p.InstanceType).to.equal('g5.xlarge')
    expect(p['Placement.AvailabilityZone']).to.equal('us-east-1a')
    // The newest NVIDIA deep learning image of the region.
    expect(p.ImageId).to.equal('ami-0dla000000000002')
    expect(p.InstanceInitiatedShutdownBehavior).to.equal('terminate')
    expect(p['MetadataOptions.HttpTokens']).to.equal('required')
    expect(p['MetadataOptions.InstanceMetadataTags']).to.equal('enabled')
    expect(p['BlockDeviceMapping.1.DeviceName']).to.equal('/dev/sda1')
    expect(p['BlockDeviceMapping.1.Ebs.VolumeSize']).to.equal('200')
    expect(p['InstanceMarketOptions.MarketType']).to.equal(undefined)
    const tags = Object.fromEntries([1, 2, 3, 4].map((n) => [p[`TagSpecification.1.Tag.${n}.Key`], p[`TagSpecification.1.Tag.${n}.Value`]]))
    expect(tags).to.deep.include({[AWS_TAGS.jobId]: 'job-1', [AWS_TAGS.attemptId]: request.attemptId, [AWS_TAGS.jobName]: 'train'})
    expect(p['TagSpecification.2.ResourceType']).to.equal('volume')
    let userData = Buffer.from(p.UserData, 'base64')
    if (userData[0] === 0x1f) userData = gunzipSync(userData)
    const script = userData.toString('utf8')
    expect(script.startsWith('#!/bin/bash\n')).to.equal(true)
    // The runner travels in the user data: packed when the script fits as written, as text in
    // user data gzipped whole when it does not.
    expect(script).to.match(/sk_(file|text) 'skyhop-runner\.sh'/)
    expect(script).to.include('tags/instance/skyhop:stop-request')
    expect(script).to.include('shutdown -h now')
  })

  it('launches spot with the job’s max price, and maps SpotMaxPriceTooLow to the offer', async function () {
    w = await world()
    const spec = jobSpec('true', {maxPrice: {amount: 0.6, currency: 'USD'}})
    await w.provider.launch(launchRequest({spot: true, spec}))
    const p = w.fake.calls.find((c) => c.action === 'RunInstances')!.params
    expect(p['InstanceMarketOptions.MarketType']).to.equal('spot')
    expect(p['InstanceMarketOptions.SpotOptions.MaxPrice']).to.equal('0.6000')
    expect(p['InstanceMarketOptions.SpotOptions.InstanceInterruptionBehavior']).to.equal('terminate')

    const low = await launchError(w, launchRequest({spot: true, spec: jobSpec('true', {maxPrice: {amount: 0.2, currency: 'USD'}})}))
    expect(low).to.include({category: 'capacity', scope: 'offer', backendCode: 'SpotMaxPriceTooLow'})
  })

  describe('maps every EC2 error of issue 7 onto the taxonomy', function () {
    const cases: Array<{
      code: string
      category: string
      scope: string
      setup: (w: World) => void
      request?: () => ReturnType<typeof launchRequest>
    }> = [
      {
        code: 'InsufficientInstanceCapacity',
        category: 'capacity',
        scope: 'zone',
        setup: (w) => w.fake.setCapacity('us-east-1', 'us-east-1a', 'g5.xlarge', 0),
      },
      {
        code: 'InsufficientHostCapacity',
        category: 'capacity',
        scope: 'zone',
        setup: (w) => w.fake.inject({action: 'RunInstances', code: 'InsufficientHostCapacity', status: 500}),
      },
      {
        code: 'Unsupported',
        category: 'capacity',
        scope: 'zone',
        setup: () => {},
        request: () => launchRequest({offer: offer({instanceType: 'p5.48xlarge'})}),
      },
      {
        code: 'SpotMaxPriceTooLow',
        category: 'capacity',
        scope: 'offer',
        setup: () => {},
        request: () => launchRequest({spot: true, spec: jobSpec('true', {maxPrice: {amount: 0.1, currency: 'USD'}})}),
      },
      {
        code: 'MaxSpotInstanceCountExceeded',
        category: 'quota',
        scope: 'region',
        setup: (w) => (w.fake.options.quotas = {'us-east-1': {spotInstances: 0}}),
        request: () => launchRequest({spot: true}),
      },
      {code: 'VcpuLimitExceeded', category: 'quota', scope: 'region', setup: (w) => (w.fake.options.quotas = {'us-east-1': {vcpus: 2}})},
      {
        code: 'InstanceLimitExceeded',
        category: 'quota',
        scope: 'region',
        setup: (w) => (w.fake.options.quotas = {'us-east-1': {instances: 0}}),
      },
      {
        code: 'AuthFailure',
        category: 'auth',
        scope: 'provider',
        setup: (w) => w.fake.inject({code: 'AuthFailure', message: 'AWS was not able to validate the provided access credentials'}),
      },
      {code: 'UnauthorizedOperation', category: 'auth', scope: 'provider', setup: (w) => (w.fake.options.deniedActions = ['RunInstances'])},
      {code: 'OptInRequired', category: 'auth', scope: 'provider', setup: (w) => (w.fake.options.optInRequiredRegions = ['us-east-1'])},
    ]
    for (const c of cases) {
      it(`${c.code} → ${c.category} / ${c.scope}, not retried`, async function () {
        w = await world()
        c.setup(w)
        const error = await launchError(w, c.request?.())
        expect(error.category).to.equal(c.category)
        expect(error.scope).to.equal(c.scope)
        expect(error.backendCode).to.equal(c.code)
        expect(error.provider).to.equal('aws')
        expect(error.toJSON().details).to.deep.include({category: c.category, scope: c.scope, backendCode: c.code, region: 'us-east-1'})
        expect(w.retries, 'a non-transient error is not retried').to.deep.equal([])
        expect(w.fake.calls.filter((x) => x.code === c.code)).to.have.length(1)
      })
    }

    it('a wrong secret fails the fake’s SigV4 check: auth / provider, secret not shown', async function () {
      w = await world()
      w.provider = new AwsProvider({
        env: {
          AWS_ENDPOINT_URL_EC2: w.fake.url,
          AWS_ACCESS_KEY_ID: KEY.accessKeyId,
          AWS_SECRET_ACCESS_KEY: 'the-wrong-secret-for-this-key-000',
          AWS_EC2_METADATA_DISABLED: 'true',
        },
        dispatcher: w.agent,
        retry: {retries: 2, baseDelayMs: 1, maxDelayMs: 2},
      })
      const error = await launchError(w)
      expect(error).to.include({category: 'auth', scope: 'provider', backendCode: 'AuthFailure'})
      expect(w.fake.calls.map((c) => c.code)).to.deep.equal(['AuthFailure'])
      const text = JSON.stringify(error.toJSON()) + error.message + String(error.hint)
      expect(text).not.to.include('the-wrong-secret-for-this-key-000')
    })

    it('a clock more than five minutes off is reported as such', async function () {
      w = await world({}, {now: () => new Date(Date.now() - 10 * 60_000)})
      const error = await launchError(w)
      expect(error).to.include({category: 'auth', backendCode: 'RequestExpired'})
      expect(error.hint).to.match(/clock/)
    })
  })

  it('retries throttling and 5xx with backoff, and gives up as transient', async function () {
    w = await world()
    w.fake.throttle(2, 'RunInstances')
    w.fake.inject({action: 'RunInstances', code: 'InternalError', status: 500, message: 'An internal error has occurred'})
    const handle = await w.provider.launch(launchRequest())
    expect(handle.externalId).to.match(/^i-/)
    expect(w.retries.map((r) => r.reason)).to.deep.equal(['RequestLimitExceeded', 'RequestLimitExceeded', 'InternalError'])
    expect(w.fake.liveInstances()).to.have.length(1)

    w.fake.throttle(10, 'DescribeInstances')
    const error = (await w.provider.poll([handle]).catch((e: unknown) => e)) as ProviderError
    expect(error).to.be.instanceOf(ProviderError)
    expect(error).to.include({category: 'transient', scope: 'none', backendCode: 'RequestLimitExceeded'})
  })

  it('is idempotent: the same key returns the same instance, across provider instances too', async function () {
    w = await world()
    const request = launchRequest()
    const a = await w.provider.launch(request)
    const b = await w.provider.launch(request)
    // A second process (a controller restarted after a crash) retries the same attempt.
    const again = new AwsProvider({
      env: {
        AWS_ENDPOINT_URL_EC2: w.fake.url,
        AWS_ACCESS_KEY_ID: KEY.accessKeyId,
        AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey,
        AWS_EC2_METADATA_DISABLED: 'true',
      },
      dispatcher: w.agent,
      metadataBaseUrl: w.fake.metadataBaseTemplate,
      instancePollSeconds: 1,
    })
    const c = await again.launch(request)
    expect(b.externalId).to.equal(a.externalId)
    expect(c.externalId).to.equal(a.externalId)
    expect(w.fake.liveInstances()).to.have.length(1)
    expect(w.fake.calls.filter((x) => x.action === 'RunInstances')).to.have.length(3)
    // Keys too long for EC2's 64 characters are hashed, deterministically.
    expect(clientTokenFor('k'.repeat(100)))
      .to.equal(clientTokenFor('k'.repeat(100)))
      .and.to.have.length(64)
  })

  it('finds owned instances by tag across regions and pages, and polls a batch in one call per region', async function () {
    w = await world({pageSize: 2})
    const handles = []
    for (let n = 0; n < 3; n++)
      handles.push(
        await w.provider.launch(launchRequest({offer: offer({zone: 'us-east-1b', instanceType: 'm5.large', accelerator: null})})),
      )
    handles.push(await w.provider.launch(launchRequest({offer: offer({region: 'us-west-2', zone: 'us-west-2a'})})))
    const owned = await w.provider.listOwned()
    expect(owned.map((h) => h.externalId).sort()).to.deep.equal(handles.map((h) => h.externalId).sort())
    expect(owned.every((h) => typeof h.data.attemptId === 'string')).to.equal(true)

    const before = w.fake.calls.filter((c) => c.action === 'DescribeInstances').length
    const ghost = {...handles[0], externalId: 'i-00000000000000000'}
    const polled = await w.provider.poll([...handles, ghost])
    expect(polled.get(ghost.externalId)!.state).to.equal('LOST')
    expect(polled.size).to.equal(5)
    // us-east-1 (3 instances, 2 pages) + us-west-2.
    expect(w.fake.calls.filter((c) => c.action === 'DescribeInstances').length - before).to.equal(3)

    for (const h of handles) await w.provider.cleanup(h)
    await until(
      () => w.provider.listOwned(),
      (o) => o.length === 0,
    )
  })

  it('reads spot prices as money in USD', async function () {
    w = await world()
    const prices = await w.provider.spotPrices('us-east-1', ['g5.xlarge'])
    expect(prices.map((p) => [p.zone, p.price])).to.deep.equal([
      ['us-east-1a', {amount: 0.45, currency: 'USD'}],
      ['us-east-1b', {amount: 0.5, currency: 'USD'}],
    ])
  })

  it('check names the source and never the secret', async function () {
    w = await world()
    const ok = await w.provider.check()
    expect(ok).to.deep.equal({
      provider: 'aws',
      ok: true,
      source: 'environment (AWS_ACCESS_KEY_ID)',
      message: 'credentials work: 2 availability zones in us-east-1',
    })
    const bad = new AwsProvider({
      env: {
        AWS_ENDPOINT_URL_EC2: w.fake.url,
        AWS_ACCESS_KEY_ID: 'AKIANOTKNOWN00000001',
        AWS_SECRET_ACCESS_KEY: 'not-known-secret-0001',
        AWS_EC2_METADATA_DISABLED: 'true',
      },
      dispatcher: w.agent,
    })
    const result = await bad.check()
    expect(result.ok).to.equal(false)
    expect(result.source).to.equal('environment (AWS_ACCESS_KEY_ID)')
    expect(result.message).to.include('AuthFailure')
    expect(JSON.stringify(result)).not.to.include('not-known-secret-0001')
  })

  it('keeps job secrets that AWS echoes back out of error messages', async function () {
    w = await world()
    const secret = 'hf_jobSecretTokenValue0123456789'
    registerSecret(secret) // as the controller does for the job's secrets
    w.fake.inject({
      action: 'RunInstances',
      code: 'InvalidParameterValue',
      message: `Value (export HF_TOKEN='${secret}') for parameter userData is invalid`,
    })
    const error = await launchError(w, launchRequest({env: {HF_TOKEN: secret}}))
    expect(error).to.include({category: 'unavailable', scope: 'offer', backendCode: 'InvalidParameterValue'})
    const text = error.message + JSON.stringify(error.toJSON())
    expect(text).not.to.include(secret)
    expect(text).to.include('***')
    expect(redact(`x ${KEY.secretAccessKey} y`)).to.equal('x *** y')
  })

  it('resolves the EC2 endpoint the standard way', function () {
    expect(ec2Endpoint('us-east-1', {}).url).to.equal('https://ec2.us-east-1.amazonaws.com/')
    expect(ec2Endpoint('cn-north-1', {}).url).to.equal('https://ec2.cn-north-1.amazonaws.com.cn/')
    expect(ec2Endpoint('us-east-1', {AWS_ENDPOINT_URL: 'http://a:1'}).source).to.equal('AWS_ENDPOINT_URL')
    expect(ec2Endpoint('us-east-1', {AWS_ENDPOINT_URL: 'http://a:1', AWS_ENDPOINT_URL_EC2: 'http://b:2'})).to.deep.equal({
      url: 'http://b:2/',
      source: 'AWS_ENDPOINT_URL_EC2',
    })
    expect(ec2Endpoint('us-east-1', {AWS_ENDPOINT_URL_EC2: 'http://b:2', SKYHOP_AWS_ENDPOINT: 'http://c:3'}).source).to.equal(
      'SKYHOP_AWS_ENDPOINT',
    )
    expect(ec2Endpoint('us-east-1', {AWS_ENDPOINT_URL_EC2: 'http://b:2', AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true'}).source).to.equal(
      'default',
    )
    expect(() => ec2Endpoint('us-east-1', {SKYHOP_AWS_ENDPOINT: 'ftp://x'})).to.throw(/http/)
  })
})
