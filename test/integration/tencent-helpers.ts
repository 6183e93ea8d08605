// Shared set-up for the Tencent Cloud integration tests: a fake CVM/TAT (test/fakes/fake-tencent-cvm-server.ts)
// with two zones in ap-guangzhou and one in ap-shanghai, a TencentProvider pointed at it, and requests.
import type {LaunchRequest} from '../../src/providers/provider.js'
import {TencentProvider, type TencentProviderOptions} from '../../src/providers/tencentcloud/tencent-provider.js'
import {FakeTencentCvmServer, type FakeTencentOptions} from '../fakes/fake-tencent-cvm-server.js'
import {FAST_RETRY, startFakeCloud, type FakeCloudWorld} from '../helpers/fake-cloud-world.js'
import {launchRequest as baseRequest, offer as baseOffer} from './aws-helpers.js'
import {TC_KEY} from './huawei-tencent-world.js'

export function tcOffer(overrides: Parameters<typeof baseOffer>[0] = {}) {
  return baseOffer({
    provider: 'tencentcloud',
    region: 'ap-guangzhou',
    zone: 'ap-guangzhou-3',
    instanceType: 'GN7.2XLARGE32',
    accelerator: {name: 'T4', count: 1},
    price: {onDemand: 9.07, spot: 2.8, currency: 'CNY'},
    noticeSeconds: 120,
    ...overrides,
  })
}

export function request(overrides: Partial<LaunchRequest> = {}): LaunchRequest {
  return baseRequest({offer: tcOffer(), ...overrides})
}

export interface World extends FakeCloudWorld<FakeTencentCvmServer> {
  provider: TencentProvider
  retries: string[]
}

export async function world(
  fakeOptions: Partial<FakeTencentOptions> = {},
  providerOptions: Partial<TencentProviderOptions> = {},
  boot = false,
): Promise<World> {
  const base = await startFakeCloud(
    (bootDir) =>
      new FakeTencentCvmServer({
        keys: [TC_KEY],
        stock: {
          'ap-guangzhou': {'ap-guangzhou-3': {'GN7.2XLARGE32': 2, 'S5.MEDIUM4': 5}, 'ap-guangzhou-4': {'GN7.2XLARGE32': 1}},
          'ap-shanghai': {'ap-shanghai-2': {'GN7.2XLARGE32': 1}},
        },
        spotPrices: {'ap-guangzhou-3': {'GN7.2XLARGE32': 2.72}, 'ap-guangzhou-4': {'GN7.2XLARGE32': 2.9}},
        prices: {'GN7.2XLARGE32': 9.07, 'S5.MEDIUM4': 0.52},
        ...(bootDir ? {bootDir} : {}),
        ...fakeOptions,
      }),
    {boot, bootPrefix: 'skyhop-fake-cvm-'},
  )
  const retries: string[] = []
  const provider = new TencentProvider({
    env: {SKYHOP_TENCENTCLOUD_ENDPOINT: base.url, TENCENTCLOUD_SECRET_ID: TC_KEY.secretId, TENCENTCLOUD_SECRET_KEY: TC_KEY.secretKey},
    credentials: {homeDir: '/nonexistent'},
    dispatcher: base.agent,
    regions: ['ap-guangzhou', 'ap-shanghai'],
    retry: FAST_RETRY,
    metadataBaseUrl: base.fake.metadataBaseTemplate,
    instancePollSeconds: 1,
    statusIntervalMs: 300,
    lingerSeconds: 20,
    consolePollMs: 200,
    consoleGraceMs: 20_000,
    onRetry: (i) => retries.push(i.reason),
    ...providerOptions,
  })
  return {...base, provider, retries}
}
