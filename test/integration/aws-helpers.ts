// Shared set-up for the AWS integration tests: a fake EC2 (test/fakes/fake-ec2-server.ts),
// an AwsProvider pointed at it through the documented endpoint override, and requests.
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Agent} from 'undici'

import type {Offer} from '../../src/catalog/types.js'
import {AwsProvider, type AwsProviderOptions} from '../../src/providers/aws/aws-provider.js'
import type {LaunchRequest} from '../../src/providers/provider.js'
import type {JobSpec} from '../../src/spec/job-spec.js'
import {FakeEc2Server, type FakeEc2Options} from '../fakes/fake-ec2-server.js'
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
    graceSeconds: 5,
    ...overrides,
  }
}

export interface World {
  fake: FakeEc2Server
  provider: AwsProvider
  agent: Agent
  retries: Array<{action: string; reason: string}>
  bootDir: string | null
  close(): Promise<void>
}

/** A fake EC2 with two zones in us-east-1 and one in us-west-2, and a provider on it. */
export async function world(
  fakeOptions: Partial<FakeEc2Options> = {},
  providerOptions: Partial<AwsProviderOptions> = {},
  opts: {boot?: boolean} = {},
): Promise<World> {
  const bootDir = opts.boot ? mkdtempSync(join(tmpdir(), 'skyhop-fake-ec2-')) : null
  const fake = new FakeEc2Server({
    keys: [KEY],
    capacity: {
      'us-east-1': {'us-east-1a': {'g5.xlarge': 2, 'm5.large': 10}, 'us-east-1b': {'g5.xlarge': 2, 'm5.large': 10}},
      'us-west-2': {'us-west-2a': {'g5.xlarge': 2}},
    },
    spotPrices: {'us-east-1a': {'g5.xlarge': 0.45}, 'us-east-1b': {'g5.xlarge': 0.5}},
    vcpus: {'g5.xlarge': 4, 'm5.large': 2},
    ...(bootDir ? {bootDir} : {}),
    ...fakeOptions,
  })
  const url = await fake.start()
  const agent = new Agent({connect: {timeout: 2000}})
  const retries: Array<{action: string; reason: string}> = []
  let closed = false
  const provider = new AwsProvider({
    env: {AWS_ENDPOINT_URL_EC2: url, AWS_ACCESS_KEY_ID: KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey, AWS_EC2_METADATA_DISABLED: 'true'},
    credentials: {homeDir: '/nonexistent'},
    dispatcher: agent,
    regions: ['us-east-1', 'us-west-2'],
    timeoutMs: 5000,
    retry: {attempts: 4, baseDelayMs: 1, maxDelayMs: 5},
    consoleGraceMs: 0,
    metadataBaseUrl: fake.metadataBaseTemplate,
    instancePollSeconds: 1,
    consolePollMs: 200,
    onRetry: (info) => retries.push({action: info.action, reason: info.reason}),
    ...providerOptions,
  })
  return {
    fake,
    provider,
    agent,
    retries,
    bootDir,
    async close() {
      if (closed) return
      closed = true
      await fake.stop()
      await agent.close()
      if (bootDir) rmSync(bootDir, {recursive: true, force: true})
    },
  }
}
