// Shared set-up for the AWS integration tests: a fake EC2 (test/fakes/fake-ec2-server.ts),
// an AwsProvider pointed at it through the documented endpoint override, and requests.
import type {Offer} from '../../src/model/catalog.js'
import {AwsProvider, type AwsProviderOptions} from '../../src/providers/aws/aws-provider.js'
import type {LaunchRequest} from '../../src/providers/provider.js'
import type {JobSpec} from '../../src/model/job-spec.js'
import {FakeEc2Server, type FakeEc2Options} from '../fakes/fake-ec2-server.js'
import {FAST_RETRY, startFakeCloud, type FakeCloudWorld} from '../helpers/fake-cloud-world.js'
import {testJobSpec} from '../helpers/job-spec.js'

export const KEY = {accessKeyId: 'AKIAFAKEEXAMPLE00001', secretAccessKey: 'fake/Secret+Key/ForTests0000000000000001'}

export function jobSpec(run: string, overrides: Partial<JobSpec> = {}): JobSpec {
  return testJobSpec({name: 'aws-test', run, recovery: {graceSeconds: 5}, ...overrides})
}

export function offer(overrides: Partial<Offer> = {}): Offer {
  return {
    provider: 'aws',
    region: 'us-east-1',
    zone: 'us-east-1a',
    instanceType: 'g5.xlarge',
    accelerator: {name: 'A10G', count: 1},
    vcpus: 4,
    memoryGiB: 16,
    price: {onDemand: 1.006, spot: 0.4, currency: 'USD'},
    priceStatus: 'list',
    expectedQueueMinutes: null,
    preemptionRatePerHour: null,
    capacity: null,
    noticeSeconds: 120,
    source: 'test',
    asOf: '2024-06-01',
    confidence: 'high',
    ...overrides,
  }
}

let counter = 0
export function launchRequest(overrides: Partial<LaunchRequest> = {}): LaunchRequest {
  counter += 1
  const attemptId = overrides.attemptId ?? `att-${process.pid}-${counter}`
  return {
    jobId: 'job-1',
    jobName: 'train',
    attemptId,
    attempt: 1,
    restartCount: 0,
    idempotencyKey: attemptId,
    spec: jobSpec('echo hello'),
    offer: offer(),
    spot: false,
    env: {SKYHOP_JOB_ID: 'job-1'},
    checkpointDir: '/tmp/ckpt',
    checkpointSync: null,
    graceSeconds: 5,
    ...overrides,
  }
}

export interface World extends FakeCloudWorld<FakeEc2Server> {
  provider: AwsProvider
  retries: Array<{action: string; reason: string}>
}

/** A fake EC2 with two zones in us-east-1 and one in us-west-2, and a provider on it. */
export async function world(
  fakeOptions: Partial<FakeEc2Options> = {},
  providerOptions: Partial<AwsProviderOptions> = {},
  opts: {boot?: boolean} = {},
): Promise<World> {
  const base = await startFakeCloud(
    (bootDir) =>
      new FakeEc2Server({
        keys: [KEY],
        capacity: {
          'us-east-1': {'us-east-1a': {'g5.xlarge': 2, 'm5.large': 10}, 'us-east-1b': {'g5.xlarge': 2, 'm5.large': 10}},
          'us-west-2': {'us-west-2a': {'g5.xlarge': 2}},
        },
        spotPrices: {'us-east-1a': {'g5.xlarge': 0.45}, 'us-east-1b': {'g5.xlarge': 0.5}},
        vcpus: {'g5.xlarge': 4, 'm5.large': 2},
        ...(bootDir ? {bootDir} : {}),
        ...fakeOptions,
      }),
    {boot: opts.boot, bootPrefix: 'skyhop-fake-ec2-', agent: {connect: {timeout: 2000}}},
  )
  const retries: Array<{action: string; reason: string}> = []
  const provider = new AwsProvider({
    env: {
      AWS_ENDPOINT_URL_EC2: base.url,
      AWS_ACCESS_KEY_ID: KEY.accessKeyId,
      AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey,
      AWS_EC2_METADATA_DISABLED: 'true',
    },
    credentials: {homeDir: '/nonexistent'},
    dispatcher: base.agent,
    regions: ['us-east-1', 'us-west-2'],
    timeoutMs: 5000,
    retry: FAST_RETRY,
    consoleGraceMs: 0,
    metadataBaseUrl: base.fake.metadataBaseTemplate,
    instancePollSeconds: 1,
    consolePollMs: 200,
    onRetry: (info) => retries.push({action: info.action, reason: info.reason}),
    ...providerOptions,
  })
  return {...base, provider, retries}
}
