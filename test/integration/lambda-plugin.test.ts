// The Lambda Cloud plugin's provider (plugins/lambda) against the fake Lambda API, through
// skyhop's provider contract kit (skyhop/provider runProviderContract), plus what the kit
// does not cover: the error document's mapping, the key file, idempotent launch by name.
import {expect} from 'chai'
import {mkdirSync, mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import * as kit from '../../src/provider.js'
import type {LaunchRequest} from '../../src/provider.js'
import {LambdaProvider, classify} from '../../plugins/lambda/src/lambda-provider.js'
import {lambdaCredentialsPresent, loadApiKey} from '../../plugins/lambda/src/credentials.js'
import {acceleratorOf} from '../../plugins/lambda/src/instance-types.js'
import {testJobSpec} from '../helpers/job-spec.js'
import {lambdaWorld, type LambdaWorld} from '../helpers/lambda-world.js'

let counter = 0
function request(run: string, overrides: Partial<LaunchRequest> = {}): LaunchRequest {
  counter += 1
  const attemptId = `a-${process.pid.toString(16)}x${counter}`
  return {
    jobId: 'j-lambda01',
    jobName: 'train',
    attemptId,
    attempt: 1,
    restartCount: 0,
    idempotencyKey: attemptId,
    spec: testJobSpec({name: 'lambda-test', run, recovery: {graceSeconds: 5}}),
    offer: {
      provider: 'lambda',
      region: 'us-east-1',
      zone: null,
      instanceType: 'cpu_4x_general',
      accelerator: null,
      vcpus: 4,
      memoryGiB: 16,
      price: {onDemand: 0.2, spot: null, currency: 'USD'},
      priceStatus: 'list',
      expectedQueueMinutes: null,
      preemptionRatePerHour: null,
      capacity: null,
      noticeSeconds: null,
      source: 'test',
      asOf: '2026-01-01',
      confidence: 'high',
    },
    spot: false,
    env: {SKYHOP_JOB_ID: 'j-lambda01'},
    checkpointDir: '/tmp/ckpt',
    checkpointSync: null,
    graceSeconds: 5,
    ...overrides,
  }
}

describe('lambda plugin provider (fake Lambda API)', function () {
  this.timeout(120_000)
  let world: LambdaWorld
  let provider: LambdaProvider
  const savedPath = process.env.PATH
  const savedHosts = process.env.FAKE_SSH_HOSTS

  beforeEach(async () => {
    world = await lambdaWorld()
    // The provider runs `ssh` from PATH, as installed: the fake one comes first.
    process.env.PATH = world.env.PATH
    process.env.FAKE_SSH_HOSTS = world.env.FAKE_SSH_HOSTS
    provider = new LambdaProvider(kit, {env: world.env, userHome: '/nonexistent', consolePollMs: 100, timeoutMs: 5000})
  })
  afterEach(async () => {
    process.env.PATH = savedPath
    if (savedHosts === undefined) delete process.env.FAKE_SSH_HOSTS
    else process.env.FAKE_SSH_HOSTS = savedHosts
    await world.stop()
  })

  it('passes the provider contract kit: launch, logs, idempotency, cancel, preempt notice, orphans, error mapping', async () => {
    const steps = await kit.runProviderContract({
      provider,
      request: (run) => request(run),
      failNextLaunch(category) {
        const error = {
          capacity: {status: 400, code: 'instance-operations/launch/insufficient-capacity', message: 'Not enough capacity'},
          quota: {status: 400, code: 'global/quota-exceeded', message: 'Quota exceeded'},
          auth: {status: 401, code: 'global/invalid-api-key', message: 'API key was invalid'},
        }[category]
        world.fake.inject({path: '/instance-operations/launch', ...error})
      },
      pollMs: 100,
    })
    expect(steps.filter((s) => s.skipped)).to.deep.equal([])
    expect(steps.map((s) => s.step)).to.include('preempt notice → PREEMPTED')
    // Every launch carried the boot script as user data and one SSH key, by name.
    const launches = world.fake.requests.filter((r) => r.path === '/instance-operations/launch')
    expect(launches.length).to.be.greaterThan(3)
    for (const l of launches) {
      const body = l.body as Record<string, unknown>
      expect(body.ssh_key_names).to.deep.equal(['laptop'])
      expect(String(body.user_data)).to.match(/^#!\/bin\/bash\n# skyhop boot script/)
    }
  })

  it('a real capacity refusal (no stock) is a capacity error scoped to the offer; quota blocks the provider', async () => {
    world.fake.options.stock['us-east-1'].gpu_1x_a10 = 0
    const r = request('true')
    const error = await provider.launch({...r, offer: {...r.offer, instanceType: 'gpu_1x_a10'}}).then(
      () => null,
      (e: unknown) => e as kit.ProviderError,
    )
    expect(error).to.be.instanceOf(kit.ProviderError)
    expect(error!.category).to.equal('capacity')
    expect(error!.scope).to.equal('offer')
    expect(error!.backendCode).to.equal('instance-operations/launch/insufficient-capacity')
    expect(classify('global/quota-exceeded', 400)).to.deep.equal({category: 'quota', scope: 'provider'})
    expect(classify('global/invalid-api-key', 401).category).to.equal('auth')
  })

  it('check() says a wrong key fails, without printing it', async () => {
    const bad = new LambdaProvider(kit, {
      env: {...world.env, LAMBDA_API_KEY: 'secret_wrong_key_42'},
      userHome: '/nonexistent',
      timeoutMs: 5000,
    })
    const result = await bad.check()
    expect(result.ok).to.equal(false)
    expect(result.message).to.contain('global/invalid-api-key')
    expect(result.message).not.to.contain('secret_wrong_key_42')
    expect((await provider.check()).ok).to.equal(true)
  })

  it('reads the key from ~/.lambda_cloud/lambda_keys when LAMBDA_API_KEY is unset', () => {
    const home = mkdtempSync(join(tmpdir(), 'skyhop-lambda-home-'))
    expect(lambdaCredentialsPresent({}, home)).to.equal(false)
    mkdirSync(join(home, '.lambda_cloud'))
    writeFileSync(join(home, '.lambda_cloud', 'lambda_keys'), 'api_key = secret_from_file\n')
    expect(lambdaCredentialsPresent({}, home)).to.equal(true)
    expect(loadApiKey({}, home)).to.deep.equal({key: 'secret_from_file', source: '~/.lambda_cloud/lambda_keys'})
  })

  it('with several SSH keys and none named, the launch says to set LAMBDA_SSH_KEY_NAME', async () => {
    world.fake.options.sshKeys.push('desktop')
    const error = await provider.launch(request('true')).then(
      () => null,
      (e: unknown) => e as kit.ProviderError,
    )
    expect(error?.category).to.equal('user')
    expect(error?.hint).to.contain('LAMBDA_SSH_KEY_NAME')
  })

  it('liveOffers: the types with capacity, one offer per region, at the API price and canonical accelerator', async () => {
    world.fake.options.stock['us-west-1'].gpu_1x_a10 = 0
    const offers = await provider.liveOffers()
    const a10 = offers.filter((o) => o.instanceType === 'gpu_1x_a10')
    expect(a10.map((o) => o.region)).to.deep.equal(['us-east-1'])
    expect(a10[0]).to.deep.include({
      accelerator: {name: 'A10', count: 1},
      vcpus: 30,
      memoryGiB: 200,
      price: {onDemand: 1.29, spot: null, currency: 'USD'},
    })
    expect(
      offers
        .filter((o) => o.instanceType === 'cpu_4x_general')
        .map((o) => o.region)
        .sort(),
    ).to.deep.equal(['us-east-1', 'us-west-1'])
    expect(acceleratorOf('gpu_8x_h100_sxm5', 8)).to.deep.equal({name: 'H100-80GB', count: 8})
    expect(acceleratorOf('cpu_4x_general', 0)).to.equal(null)
    expect(acceleratorOf('gpu_1x_mystery', 1)).to.equal(undefined)
  })
})
