// A world of the two Chinese clouds for the controller's end-to-end tests: a fake Tencent
// CVM/TAT (ap-guangzhou with two zones, ap-shanghai) and a fake Huawei ECS (cn-north-4
// with two zones, cn-east-3), both running each instance's boot script locally as
// cloud-init would; the real TencentProvider and HuaweiProvider pointed at them; a real
// SQLite store in a temporary home; a catalog file listing exactly the fakes' offers; and
// the real replanner over it (src/services/planning.ts). driveJob runs in-process, so a
// test sees every block list the controller hands the planner.
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Agent} from 'undici'

import type {Replanner} from '../../src/planner/replanner.js'
import {HuaweiProvider} from '../../src/providers/huaweicloud/huawei-provider.js'
import type {Provider} from '../../src/providers/provider.js'
import {TencentProvider} from '../../src/providers/tencentcloud/tencent-provider.js'
import type {JobSpec} from '../../src/model/job-spec.js'
import type {Store} from '../../src/state/store.js'
import {CheckpointSigner, attemptHoldsFor, checkpointSyncFor} from '../../src/checkpoint/checkpoint-store.js'
import {HttpClient} from '../../src/http/client.js'
import {createDispatcher} from '../../src/http/dispatcher.js'
import {cosDialect} from '../fakes/fake-cos-dialect.js'
import {FakeHuaweiEcsServer} from '../fakes/fake-huawei-ecs-server.js'
import {FakeObjectStore} from '../fakes/fake-object-store.js'
import {obsDialect} from '../fakes/fake-obs-dialect.js'
import {FakeTencentCvmServer} from '../fakes/fake-tencent-cvm-server.js'
import {FAST_RETRY} from '../helpers/fake-cloud-world.js'
import {jobDriver, onDemandJob, type DriveResult} from '../helpers/controller-world.js'

// Credentials and account layout the fakes and the tests share (fake values, never real).
export const TC_KEY = {secretId: 'AKIDfakeTencentExample0001', secretKey: 'fakeTencentSecretKeyForTests0001'}
export const HW_KEY = {ak: 'HWFAKEAKEXAMPLE00001', sk: 'fakeHuaweiSecretKeyForTests00000000001'}
export const HW_PROJECTS = {'cn-north-4': '0a1b2c3d4e5f60718293a4b5c6d7e8f9', 'cn-east-3': 'f9e8d7c6b5a4938271605f4e3d2c1b0a'}
export const HW_NETWORKS =
  'cn-north-4=0a0a0a0a-0000-4000-8000-000000000001/0b0b0b0b-0000-4000-8000-000000000001,cn-east-3=0a0a0a0a-0000-4000-8000-000000000002/0b0b0b0b-0000-4000-8000-000000000002/0c0c0c0c-0000-4000-8000-000000000002'
export const HW_IMAGES = {
  'cn-north-4': [
    {id: '11111111-2222-4333-8444-555555555501', name: 'Ubuntu 22.04 server 64bit'},
    {id: '11111111-2222-4333-8444-555555555502', name: 'EulerOS 2.0 Ascend CANN 8.0 torch_npu'},
  ],
  'cn-east-3': [
    {id: '11111111-2222-4333-8444-555555555503', name: 'Ubuntu 22.04 server 64bit'},
    {id: '11111111-2222-4333-8444-555555555504', name: 'EulerOS 2.0 Ascend CANN 8.0 torch_npu'},
  ],
}

export const TC_CPU = 'S5.MEDIUM4'
export const TC_GPU = 'GN7.2XLARGE32'
export const HW_CPU = 's6.large.2'
export const HW_GPU = 'p2s.2xlarge.8'
export const HW_NPU = 'modelarts.bm.snt9.xlarge.8'
export const NPU_IMAGE = 'EulerOS 2.0 Ascend CANN 8.0 torch_npu'

type RawOffer = Record<string, unknown>

function offer(
  provider: string,
  region: string,
  zone: string,
  instanceType: string,
  onDemand: number,
  spot: number | null,
  extra: RawOffer = {},
): RawOffer {
  return {
    provider,
    region,
    zone,
    instanceType,
    accelerator: null,
    vcpus: 2,
    memoryGiB: 4,
    price: {onDemand, spot, currency: 'CNY'},
    source: `fake-${provider} (tests)`,
    asOf: '2026-01-01',
    confidence: 'high',
    ...extra,
  }
}

/** CPU offers, cheapest first: Tencent gz-3 < gz-4 < sh-2 < Huawei n4a < n4b < e3a. */
export function cpuOffers(): RawOffer[] {
  return [
    offer('tencentcloud', 'ap-guangzhou', 'ap-guangzhou-3', TC_CPU, 0.5, 0.1),
    offer('tencentcloud', 'ap-guangzhou', 'ap-guangzhou-4', TC_CPU, 0.51, 0.11),
    offer('tencentcloud', 'ap-shanghai', 'ap-shanghai-2', TC_CPU, 0.52, 0.12),
    offer('huaweicloud', 'cn-north-4', 'cn-north-4a', HW_CPU, 0.6, 0.2),
    offer('huaweicloud', 'cn-north-4', 'cn-north-4b', HW_CPU, 0.61, 0.21),
    offer('huaweicloud', 'cn-east-3', 'cn-east-3a', HW_CPU, 0.62, 0.22),
  ]
}

/** Accelerator offers: CUDA GPUs on both clouds, cheap; Ascend 910B on Huawei, dear. */
export function acceleratorOffers(): RawOffer[] {
  const gpu = (count: number) => ({accelerator: {name: 'T4', count}, vcpus: 8, memoryGiB: 32})
  return [
    offer('tencentcloud', 'ap-guangzhou', 'ap-guangzhou-3', TC_GPU, 9.07, 2.72, gpu(1)),
    offer('huaweicloud', 'cn-north-4', 'cn-north-4a', HW_GPU, 10, 3, {...gpu(1), accelerator: {name: 'V100-32GB', count: 1}}),
    offer('huaweicloud', 'cn-north-4', 'cn-north-4a', HW_NPU, 150, null, {
      accelerator: {name: 'Ascend910B', count: 8},
      vcpus: 192,
      memoryGiB: 768,
    }),
    offer('huaweicloud', 'cn-east-3', 'cn-east-3a', HW_NPU, 155, null, {
      accelerator: {name: 'Ascend910B', count: 8},
      vcpus: 192,
      memoryGiB: 768,
    }),
  ]
}

export const chinaJob = onDemandJob

export interface ChinaWorld {
  home: string
  store: Store
  cvm: FakeTencentCvmServer
  ecs: FakeHuaweiEcsServer
  tencent: TencentProvider
  huawei: HuaweiProvider
  catalogFile: string
  /** Environment for the built CLI pointed at the fakes (the registry reads it). */
  cliEnv: Record<string, string>
  drive(spec: JobSpec): Promise<DriveResult>
  /** Drives a job already in the store (e.g. after a simulated controller crash). */
  driveExisting(jobId: string): Promise<DriveResult>
  replan: Replanner
  /** The checkpoint store's bucket, when the world has one. */
  objectStore: FakeObjectStore | null
  close(): Promise<void>
}

/**
 * `checkpointStore`: jobs keep their checkpoints in a fake Tencent COS or Huawei OBS bucket
 * that checks its cloud's URL signatures; without it, an instance's checkpoints go with it.
 */
export async function chinaWorld(
  offers: RawOffer[] = [...cpuOffers(), ...acceleratorOffers()],
  options: {checkpointStore?: 'cos' | 'obs'} = {},
): Promise<ChinaWorld> {
  const home = mkdtempSync(join(tmpdir(), 'skyhop-china-'))
  let objectStore: FakeObjectStore | null = null
  let checkpointSync
  let attemptHolds
  if (options.checkpointStore) {
    const cos = options.checkpointStore === 'cos'
    objectStore = new FakeObjectStore({
      dialect: cos ? cosDialect({[TC_KEY.secretId]: TC_KEY.secretKey}) : obsDialect({[HW_KEY.ak]: HW_KEY.sk}),
    })
    await objectStore.start()
    const signer = new CheckpointSigner({
      env: cos
        ? {TENCENTCLOUD_SECRET_ID: TC_KEY.secretId, TENCENTCLOUD_SECRET_KEY: TC_KEY.secretKey}
        : {HUAWEICLOUD_SDK_AK: HW_KEY.ak, HUAWEICLOUD_SDK_SK: HW_KEY.sk},
      homeDir: '/nonexistent',
    })
    const url = cos ? 'cos://ckpt-1250000000/runs' : 'obs://ckpt/runs'
    const config = {
      checkpointStore: {url, region: cos ? 'ap-guangzhou' : 'cn-north-4', endpoint: objectStore.endpoint, syncIntervalSeconds: 1},
    }
    checkpointSync = checkpointSyncFor(config, signer)
    // Held attempts' go objects and a gang's shared objects live in the same store.
    attemptHolds = attemptHoldsFor(
      config,
      new HttpClient({
        provider: cos ? 'tencentcloud' : 'huaweicloud',
        dispatcher: createDispatcher(),
        timeoutMs: 10_000,
        retry: {retries: 2},
      }),
      signer,
    )
  }
  const cvm = new FakeTencentCvmServer({
    keys: [TC_KEY],
    stock: {
      'ap-guangzhou': {'ap-guangzhou-3': {[TC_CPU]: 4, [TC_GPU]: 2}, 'ap-guangzhou-4': {[TC_CPU]: 4}},
      'ap-shanghai': {'ap-shanghai-2': {[TC_CPU]: 4}},
    },
    spotPrices: {'ap-guangzhou-3': {[TC_CPU]: 0.1, [TC_GPU]: 2.72}, 'ap-guangzhou-4': {[TC_CPU]: 0.11}, 'ap-shanghai-2': {[TC_CPU]: 0.12}},
    prices: {[TC_CPU]: 0.5, [TC_GPU]: 9.07},
    bootDir: join(home, 'fake-cvm'),
  })
  const ecs = new FakeHuaweiEcsServer({
    keys: [HW_KEY],
    projects: HW_PROJECTS,
    stock: {
      'cn-north-4': {'cn-north-4a': {[HW_CPU]: 4, [HW_GPU]: 2, [HW_NPU]: 1}, 'cn-north-4b': {[HW_CPU]: 4}},
      'cn-east-3': {'cn-east-3a': {[HW_CPU]: 4, [HW_NPU]: 1}},
    },
    images: HW_IMAGES,
    bootDir: join(home, 'fake-ecs'),
  })
  const [cvmUrl] = await Promise.all([cvm.start(), ecs.start()]) // Huawei is reached through ecs.endpointTemplate
  const agent = new Agent({connect: {timeout: 2000}})
  const cliEnv: Record<string, string> = {
    SKYHOP_TENCENTCLOUD_ENDPOINT: cvmUrl,
    TENCENTCLOUD_SECRET_ID: TC_KEY.secretId,
    TENCENTCLOUD_SECRET_KEY: TC_KEY.secretKey,
    SKYHOP_TENCENTCLOUD_REGIONS: 'ap-guangzhou,ap-shanghai',
    SKYHOP_TENCENTCLOUD_METADATA_URL: cvm.metadataBaseTemplate,
    SKYHOP_HUAWEICLOUD_ENDPOINT: ecs.endpointTemplate,
    HUAWEICLOUD_SDK_AK: HW_KEY.ak,
    HUAWEICLOUD_SDK_SK: HW_KEY.sk,
    SKYHOP_HUAWEICLOUD_REGIONS: 'cn-north-4,cn-east-3',
    SKYHOP_HUAWEICLOUD_NETWORKS: HW_NETWORKS,
    SKYHOP_HUAWEICLOUD_NPU_IMAGE: NPU_IMAGE,
    SKYHOP_HUAWEICLOUD_METADATA_URL: ecs.metadataBaseTemplate,
  }
  const tencent = new TencentProvider({
    env: cliEnv,
    credentials: {homeDir: '/nonexistent'},
    dispatcher: agent,
    retry: FAST_RETRY,
    instancePollSeconds: 1,
    statusIntervalMs: 300,
    lingerSeconds: 30,
    consolePollMs: 200,
    consoleGraceMs: 20_000,
  })
  const huawei = new HuaweiProvider({
    env: cliEnv,
    dispatcher: agent,
    retry: FAST_RETRY,
    instancePollSeconds: 1,
    jobPollMs: 50,
    launchWaitMs: 10_000,
    consolePollMs: 200,
    consoleGraceMs: 20_000,
  })
  const providers = new Map<string, Provider>([
    ['tencentcloud', tencent],
    ['huaweicloud', huawei],
  ])
  const {store, catalogFile, replan, drive, driveExisting} = await jobDriver(home, providers, offers, 'fake-china-offers.json', {
    checkpointSync,
    attemptHolds,
  })

  let closed = false
  return {
    home,
    store,
    cvm,
    ecs,
    tencent,
    huawei,
    catalogFile,
    cliEnv,
    drive,
    driveExisting,
    replan,
    objectStore,
    async close() {
      if (closed) return
      closed = true
      store.close()
      await Promise.all([cvm.stop(), ecs.stop(), objectStore?.stop()])
      await agent.close()
      rmSync(home, {recursive: true, force: true})
    },
  }
}
