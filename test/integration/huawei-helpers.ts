// Shared set-up for the Huawei Cloud integration tests: a fake ECS (test/fakes/fake-huawei-ecs-server.ts)
// with two zones in cn-north-4 and one in cn-east-3, a HuaweiProvider pointed at it, and requests.
import {HuaweiProvider, type HuaweiProviderOptions} from '../../src/providers/huaweicloud/huawei-provider.js'
import type {LaunchRequest} from '../../src/providers/provider.js'
import {FakeHuaweiEcsServer, type FakeHuaweiOptions} from '../fakes/fake-huawei-ecs-server.js'
import {FAST_RETRY, startFakeCloud, type FakeCloudWorld} from '../helpers/fake-cloud-world.js'
import {launchRequest as baseRequest, offer as baseOffer} from './aws-helpers.js'
import {HW_IMAGES, HW_KEY, HW_NETWORKS, HW_PROJECTS} from './huawei-tencent-world.js'

export function hwOffer(overrides: Parameters<typeof baseOffer>[0] = {}) {
  return baseOffer({
    provider: 'huaweicloud',
    region: 'cn-north-4',
    zone: 'cn-north-4a',
    instanceType: 'p2s.2xlarge.8',
    accelerator: {name: 'V100-32GB', count: 1},
    price: {onDemand: 24.1, spot: 7.2, currency: 'CNY'},
    noticeSeconds: 0,
    ...overrides,
  })
}

export function npuOffer(overrides: Parameters<typeof baseOffer>[0] = {}) {
  return hwOffer({
    instanceType: 'modelarts.bm.snt9.xlarge.8',
    accelerator: {name: 'Ascend910B', count: 8},
    vcpus: 192,
    memoryGiB: 768,
    price: {onDemand: 180, spot: null, currency: 'CNY'},
    ...overrides,
  })
}

export function request(overrides: Partial<LaunchRequest> = {}): LaunchRequest {
  return baseRequest({offer: hwOffer(), ...overrides})
}

export interface World extends FakeCloudWorld<FakeHuaweiEcsServer> {
  provider: HuaweiProvider
  retries: string[]
}

export function hwEnv(url: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    SKYHOP_HUAWEICLOUD_ENDPOINT: `${url}/{region}`,
    HUAWEICLOUD_SDK_AK: HW_KEY.ak,
    HUAWEICLOUD_SDK_SK: HW_KEY.sk,
    SKYHOP_HUAWEICLOUD_NETWORKS: HW_NETWORKS,
    SKYHOP_HUAWEICLOUD_NPU_IMAGE: 'EulerOS 2.0 Ascend CANN 8.0 torch_npu',
    ...extra,
  }
}

export function hwFakeOptions(extra: Partial<FakeHuaweiOptions> = {}): FakeHuaweiOptions {
  return {
    keys: [HW_KEY],
    projects: HW_PROJECTS,
    stock: {
      'cn-north-4': {
        'cn-north-4a': {'p2s.2xlarge.8': 2, 's6.large.2': 5, 'modelarts.bm.snt9.xlarge.8': 1},
        'cn-north-4b': {'p2s.2xlarge.8': 1},
      },
      'cn-east-3': {'cn-east-3a': {'p2s.2xlarge.8': 1, 'modelarts.bm.snt9.xlarge.8': 1}},
    },
    images: HW_IMAGES,
    ...extra,
  }
}

export async function world(
  fakeOptions: Partial<FakeHuaweiOptions> = {},
  providerOptions: Partial<HuaweiProviderOptions> = {},
  boot = false,
  envExtra: Record<string, string> = {},
): Promise<World> {
  const base = await startFakeCloud((bootDir) => new FakeHuaweiEcsServer(hwFakeOptions({...(bootDir ? {bootDir} : {}), ...fakeOptions})), {
    boot,
    bootPrefix: 'skyhop-fake-hwecs-',
  })
  const retries: string[] = []
  const provider = new HuaweiProvider({
    env: hwEnv(base.url, envExtra),
    dispatcher: base.agent,
    regions: ['cn-north-4', 'cn-east-3'],
    retry: FAST_RETRY,
    metadataBaseUrl: base.fake.metadataBaseTemplate,
    instancePollSeconds: 1,
    jobPollMs: 20,
    launchWaitMs: 10_000,
    consolePollMs: 200,
    consoleGraceMs: 20_000,
    onRetry: (i) => retries.push(i.reason),
    ...providerOptions,
  })
  return {...base, provider, retries}
}
