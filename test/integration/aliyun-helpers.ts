// Shared set-up for the Alibaba Cloud integration tests: a fake ECS (test/fakes/fake-aliyun-ecs-server.ts)
// with two zones in cn-hangzhou and one in cn-beijing, an AliyunProvider pointed at it, and requests.
import {AliyunProvider, type AliyunProviderOptions} from '../../src/providers/aliyun/aliyun-provider.js'
import type {LaunchRequest} from '../../src/providers/provider.js'
import {FakeAliyunEcsServer, type FakeAliyunOptions} from '../fakes/fake-aliyun-ecs-server.js'
import {FAST_RETRY, startFakeCloud, type FakeCloudWorld} from '../helpers/fake-cloud-world.js'
import {launchRequest as awsRequest, offer as awsOffer} from './aws-helpers.js'

export const KEY = {accessKeyId: 'LTAI5tFakeExample0001', accessKeySecret: 'fakeAliyunSecretForTests000001'}

export function offer(overrides: Parameters<typeof awsOffer>[0] = {}) {
  return awsOffer({
    provider: 'aliyun',
    region: 'cn-hangzhou',
    zone: 'cn-hangzhou-h',
    instanceType: 'ecs.gn7i-c8g1.2xlarge',
    price: {onDemand: 11.2, spot: 2.5, currency: 'CNY'},
    ...overrides,
  })
}

export function request(overrides: Partial<LaunchRequest> = {}): LaunchRequest {
  return awsRequest({offer: offer(), ...overrides})
}

export interface World extends FakeCloudWorld<FakeAliyunEcsServer> {
  provider: AliyunProvider
  retries: string[]
}

export async function world(
  fakeOptions: Partial<FakeAliyunOptions> = {},
  providerOptions: Partial<AliyunProviderOptions> = {},
  boot = false,
): Promise<World> {
  const base = await startFakeCloud(
    (bootDir) =>
      new FakeAliyunEcsServer({
        keys: [KEY],
        stock: {
          'cn-hangzhou': {'cn-hangzhou-h': {'ecs.gn7i-c8g1.2xlarge': 2, 'ecs.g7.large': 5}, 'cn-hangzhou-i': {'ecs.gn7i-c8g1.2xlarge': 1}},
          'cn-beijing': {'cn-beijing-l': {'ecs.gn7i-c8g1.2xlarge': 1}},
        },
        spotPrices: {'cn-hangzhou-h': {'ecs.gn7i-c8g1.2xlarge': 2.6}, 'cn-hangzhou-i': {'ecs.gn7i-c8g1.2xlarge': 2.9}},
        prices: {'ecs.gn7i-c8g1.2xlarge': 11.2},
        ...(bootDir ? {bootDir} : {}),
        ...fakeOptions,
      }),
    {boot, bootPrefix: 'skyhop-fake-ecs-'},
  )
  const retries: string[] = []
  const provider = new AliyunProvider({
    env: {
      SKYHOP_ALIYUN_ENDPOINT: base.url,
      ALIBABA_CLOUD_ACCESS_KEY_ID: KEY.accessKeyId,
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: KEY.accessKeySecret,
    },
    credentials: {homeDir: '/nonexistent'},
    dispatcher: base.agent,
    regions: ['cn-hangzhou', 'cn-beijing'],
    retry: FAST_RETRY,
    metadataBaseUrl: base.fake.metadataBaseTemplate,
    instancePollSeconds: 1,
    consolePollMs: 200,
    consoleGraceMs: 20_000,
    onRetry: (i) => retries.push(i.reason),
    ...providerOptions,
  })
  return {...base, provider, retries}
}
