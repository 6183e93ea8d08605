// A two-cloud world for the controller's end-to-end tests: a fake EC2 (two zones in
// us-east-1, one in us-west-2) and a fake Alibaba ECS (cn-hangzhou), both running each
// instance's boot script locally as cloud-init would; the real AwsProvider and
// AliyunProvider pointed at them; a real SQLite store in a temporary home; a catalog file
// listing exactly the fakes' offers; and the real replanner over it. driveJob runs
// in-process, so a test can watch the blocked scopes the controller hands the planner.
import {execFileSync} from 'node:child_process'
import {mkdtempSync, readFileSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Agent} from 'undici'

import {AliyunProvider} from '../../src/providers/aliyun/aliyun-provider.js'
import {AwsProvider} from '../../src/providers/aws/aws-provider.js'
import {
  type AttemptHoldStore,
  CheckpointSigner,
  attemptHoldsFor,
  attemptObjectReaderFor,
  checkpointSyncFor,
} from '../../src/checkpoint/checkpoint-store.js'
import type {AttemptObjectReader} from '../../src/model/checkpoint.js'
import {HttpClient} from '../../src/http/client.js'
import {createDispatcher} from '../../src/http/dispatcher.js'
import type {Provider} from '../../src/providers/provider.js'
import type {Store} from '../../src/state/store.js'
import {FakeAliyunEcsServer} from '../fakes/fake-aliyun-ecs-server.js'
import {FakeEc2Server} from '../fakes/fake-ec2-server.js'
import {FakeObjectStore} from '../fakes/fake-object-store.js'
import {s3Dialect} from '../fakes/fake-s3-dialect.js'
import {FAST_RETRY} from '../helpers/fake-cloud-world.js'
import {jobDriver, onDemandJob, type JobDriver} from '../helpers/controller-world.js'
import {KEY as AWS_KEY} from './aws-helpers.js'

export const ALIYUN_KEY = {accessKeyId: 'LTAI5tFakeExample0001', accessKeySecret: 'fakeAliyunSecretForTests000001'}

export const AWS_TYPE = 'm5.large'
export const ALIYUN_TYPE = 'ecs.g7.large'

/** The offers the fakes sell, cheapest first: us-east-1a < us-east-1b < us-west-2a < cn-hangzhou-h. */
export function fakeOffers(): Array<Record<string, unknown>> {
  const aws = (region: string, zone: string, onDemand: number, spot: number) => ({
    provider: 'aws',
    region,
    zone,
    instanceType: AWS_TYPE,
    accelerator: null,
    vcpus: 2,
    memoryGiB: 8,
    price: {onDemand, spot, currency: 'USD'},
    source: 'fake-ec2 (tests)',
    asOf: '2026-01-01',
    confidence: 'high',
  })
  return [
    aws('us-east-1', 'us-east-1a', 0.096, 0.03),
    aws('us-east-1', 'us-east-1b', 0.097, 0.031),
    aws('us-west-2', 'us-west-2a', 0.098, 0.032),
    {
      provider: 'aliyun',
      region: 'cn-hangzhou',
      zone: 'cn-hangzhou-h',
      instanceType: ALIYUN_TYPE,
      accelerator: null,
      vcpus: 2,
      memoryGiB: 8,
      price: {onDemand: 1.5, spot: 0.5, currency: 'CNY'},
      source: 'fake-ecs (tests)',
      asOf: '2026-01-01',
      confidence: 'high',
    },
  ]
}

export const cloudJob = onDemandJob

export interface CloudWorld extends Omit<JobDriver, 'replan'> {
  home: string
  store: Store
  ec2: FakeEc2Server
  ecs: FakeAliyunEcsServer
  aws: AwsProvider
  aliyun: AliyunProvider
  providers: Map<string, Provider>
  /** The checkpoint store (a fake S3 bucket `ckpt`, prefix `runs`), when the world has one. */
  s3: FakeObjectStore | null
  /** The attempts' objects in that store (holds, secrets, shipped files), when the world has one. */
  attemptHolds: AttemptHoldStore | undefined
  close(): Promise<void>
}

/**
 * `checkpointStore`: jobs keep their checkpoints in a fake S3 bucket that checks SigV4
 * query signatures, signed with the AWS key; without it, an instance's checkpoints go
 * with the instance, as on a real cloud. `storeCredentialsExpire`: the key is a temporary
 * one that expires then. `pendingMs`: how long an EC2 instance stays pending before it boots.
 */
export async function cloudWorld(
  options: {checkpointStore?: boolean; storeCredentialsExpire?: string; pendingMs?: number} = {},
): Promise<CloudWorld> {
  const home = mkdtempSync(join(tmpdir(), 'skyhop-cloud-'))
  const ec2 = new FakeEc2Server({
    keys: [AWS_KEY],
    capacity: {
      'us-east-1': {'us-east-1a': {[AWS_TYPE]: 4}, 'us-east-1b': {[AWS_TYPE]: 4}},
      'us-west-2': {'us-west-2a': {[AWS_TYPE]: 4}},
    },
    spotPrices: {'us-east-1a': {[AWS_TYPE]: 0.03}, 'us-east-1b': {[AWS_TYPE]: 0.031}, 'us-west-2a': {[AWS_TYPE]: 0.032}},
    vcpus: {[AWS_TYPE]: 2},
    bootDir: join(home, 'fake-ec2'),
    // An EC2 instance boots (runs its user data) only once it leaves pending.
    ...(options.pendingMs === undefined ? {} : {pendingMs: options.pendingMs}),
  })
  const ecs = new FakeAliyunEcsServer({
    keys: [ALIYUN_KEY],
    stock: {'cn-hangzhou': {'cn-hangzhou-h': {[ALIYUN_TYPE]: 4}}},
    spotPrices: {'cn-hangzhou-h': {[ALIYUN_TYPE]: 0.5}},
    prices: {[ALIYUN_TYPE]: 1.5},
    bootDir: join(home, 'fake-ecs'),
  })
  const [ec2Url, ecsUrl] = await Promise.all([ec2.start(), ecs.start()])
  const agent = new Agent({connect: {timeout: 2000}})
  let s3: FakeObjectStore | null = null
  let checkpointSync
  let attemptHolds: AttemptHoldStore | undefined
  let attemptObjects: AttemptObjectReader | undefined
  if (options.checkpointStore) {
    s3 = new FakeObjectStore({dialect: s3Dialect({[AWS_KEY.accessKeyId]: AWS_KEY.secretAccessKey})})
    await s3.start()
    const signer = new CheckpointSigner({
      env: {
        AWS_ACCESS_KEY_ID: AWS_KEY.accessKeyId,
        AWS_SECRET_ACCESS_KEY: AWS_KEY.secretAccessKey,
        AWS_EC2_METADATA_DISABLED: 'true',
        // Temporary credentials: every URL they sign dies when they expire.
        ...(options.storeCredentialsExpire ? {AWS_CREDENTIAL_EXPIRATION: options.storeCredentialsExpire} : {}),
      },
      homeDir: '/nonexistent',
    })
    const config = {checkpointStore: {url: 's3://ckpt/runs', region: 'us-east-1', endpoint: s3.endpoint, syncIntervalSeconds: 1}}
    checkpointSync = checkpointSyncFor(config, signer)
    const client = new HttpClient({provider: 'aws', dispatcher: createDispatcher(), timeoutMs: 10_000, retry: {retries: 2}})
    attemptHolds = attemptHoldsFor(config, client, signer)
    // What attempts shipped to the store (their output.log and samples) is read back with it.
    attemptObjects = attemptObjectReaderFor(client, signer)
  }
  const aws = new AwsProvider({
    env: {
      AWS_ENDPOINT_URL_EC2: ec2Url,
      AWS_ACCESS_KEY_ID: AWS_KEY.accessKeyId,
      AWS_SECRET_ACCESS_KEY: AWS_KEY.secretAccessKey,
      AWS_EC2_METADATA_DISABLED: 'true',
    },
    credentials: {homeDir: '/nonexistent'},
    dispatcher: agent,
    regions: ['us-east-1', 'us-west-2'],
    timeoutMs: 5000,
    retry: FAST_RETRY,
    metadataBaseUrl: ec2.metadataBaseTemplate,
    instancePollSeconds: 1,
    consolePollMs: 200,
    consoleGraceMs: 20_000,
    attemptObjects,
  })
  const aliyun = new AliyunProvider({
    env: {
      SKYHOP_ALIYUN_ENDPOINT: ecsUrl,
      ALIBABA_CLOUD_ACCESS_KEY_ID: ALIYUN_KEY.accessKeyId,
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: ALIYUN_KEY.accessKeySecret,
    },
    credentials: {homeDir: '/nonexistent'},
    dispatcher: agent,
    regions: ['cn-hangzhou'],
    retry: FAST_RETRY,
    metadataBaseUrl: ecs.metadataBaseTemplate,
    instancePollSeconds: 1,
    consolePollMs: 200,
    consoleGraceMs: 20_000,
    attemptObjects,
  })
  const providers = new Map<string, Provider>([
    ['aws', aws],
    ['aliyun', aliyun],
  ])
  const {store, catalogFile, create, drive, driveExisting} = await jobDriver(home, providers, fakeOffers(), 'fake-offers.json', {
    checkpointSync,
    attemptHolds,
  })
  let closed = false
  return {
    home,
    store,
    ec2,
    ecs,
    aws,
    aliyun,
    providers,
    s3,
    attemptHolds,
    catalogFile,
    create,
    driveExisting,
    drive,
    async close() {
      if (closed) return
      closed = true
      store.close()
      await Promise.all([ec2.stop(), ecs.stop(), s3?.stop()])
      await agent.close()
      rmSync(home, {recursive: true, force: true})
    },
  }
}

/** The files of a job's checkpoint archive in the world's fake S3 bucket. */
export function storedCheckpoint(w: CloudWorld, jobId: string): Record<string, string> {
  const archive = w.s3?.object('ckpt', `runs/${jobId}/checkpoint.tar`)
  if (!archive) throw new Error(`no checkpoint archive for ${jobId} in the store`)
  const dir = mkdtempSync(join(w.home, 'untar-'))
  execFileSync('tar', ['-xf', '-', '-C', dir], {input: archive.body})
  return Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f), 'utf8')]))
}
