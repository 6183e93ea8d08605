// Shared set-up for the GCP integration tests: a fake Compute Engine with its token
// endpoint (test/fakes/fake-gcp-compute-server.ts), a service-account key file whose
// token_uri points at it (a fresh RSA key pair per world, so the JWT signature is really
// checked), a GcpProvider pointed at the fake through SKYHOP_GCP_ENDPOINT, and requests.
import {generateKeyPairSync} from 'node:crypto'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import type {Offer} from '../../src/model/catalog.js'
import type {JobSpec} from '../../src/model/job-spec.js'
import {GcpProvider, type GcpProviderOptions} from '../../src/providers/gcp/gcp-provider.js'
import type {LaunchRequest} from '../../src/providers/provider.js'
import {FakeGcpComputeServer, type FakeGcpOptions} from '../fakes/fake-gcp-compute-server.js'
import {FAST_RETRY, startFakeCloud, type FakeCloudWorld} from '../helpers/fake-cloud-world.js'
import {testJobSpec} from '../helpers/job-spec.js'

export const GCP_PROJECT = 'skyhop-test-project'
export const GCP_SA = 'skyhop-launcher@skyhop-test-project.iam.gserviceaccount.com'
export const GCP_CPU = 'n2-standard-2'
export const GCP_T4 = 'n1-standard-4'
export const GCP_A100 = 'a2-highgpu-1g'

/** A service account's key pair: the private half for the key file, the public half for the fake. */
export function serviceAccountKeys(): {privateKeyPem: string; publicKeyPem: string} {
  const {privateKey, publicKey} = generateKeyPairSync('rsa', {modulusLength: 2048})
  return {
    privateKeyPem: privateKey.export({type: 'pkcs8', format: 'pem'}).toString(),
    publicKeyPem: publicKey.export({type: 'spki', format: 'pem'}).toString(),
  }
}

/** A service-account key file as the console downloads it, token_uri pointing at the fake. */
export function keyFile(dir: string, privateKeyPem: string, tokenUri: string, overrides: Record<string, unknown> = {}): string {
  const path = join(dir, 'key.json')
  writeFileSync(
    path,
    JSON.stringify({
      type: 'service_account',
      project_id: GCP_PROJECT,
      private_key_id: '0123456789abcdef0123456789abcdef01234567',
      private_key: privateKeyPem,
      client_email: GCP_SA,
      client_id: '100000000000000000001',
      auth_uri: 'https://accounts.google.com/o/oauth2/auth',
      token_uri: tokenUri,
      ...overrides,
    }),
  )
  return path
}

export function gcpJobSpec(run: string, overrides: Partial<JobSpec> = {}): JobSpec {
  return testJobSpec({name: 'gcp-test', run, recovery: {graceSeconds: 5}, ...overrides})
}

export function gcpOffer(overrides: Partial<Offer> = {}): Offer {
  return {
    provider: 'gcp',
    region: 'us-central1',
    zone: 'us-central1-a',
    instanceType: GCP_T4,
    accelerator: {name: 'T4', count: 1},
    vcpus: 4,
    memoryGiB: 15,
    price: {onDemand: 0.54, spot: 0.16, currency: 'USD'},
    priceStatus: 'list',
    expectedQueueMinutes: null,
    preemptionRatePerHour: null,
    capacity: null,
    noticeSeconds: 30,
    source: 'test',
    asOf: '2026-01-01',
    confidence: 'high',
    ...overrides,
  }
}

let counter = 0
export function gcpLaunchRequest(overrides: Partial<LaunchRequest> = {}): LaunchRequest {
  counter += 1
  const attemptId = overrides.attemptId ?? `a-${process.pid.toString(16)}${counter}`
  return {
    jobId: 'j-0123456789',
    jobName: 'train',
    attemptId,
    attempt: 1,
    restartCount: 0,
    idempotencyKey: attemptId,
    spec: gcpJobSpec('echo hello'),
    offer: gcpOffer(),
    spot: false,
    env: {SKYHOP_JOB_ID: 'j-0123456789'},
    checkpointDir: '/tmp/ckpt',
    checkpointSync: null,
    graceSeconds: 5,
    ...overrides,
  }
}

export interface GcpWorld extends FakeCloudWorld<FakeGcpComputeServer> {
  provider: GcpProvider
  retries: Array<{action: string; reason: string}>
  keyPath: string
  keys: {privateKeyPem: string; publicKeyPem: string}
  /** The environment the provider was given. */
  env: Record<string, string>
  /** A provider on the same fake with other options (or another environment). */
  another(options?: Partial<GcpProviderOptions>): GcpProvider
}

/** The fake's default world: us-central1 (zones a and b), europe-west4 (zone a). */
export function defaultGcpStock(): FakeGcpOptions['stock'] {
  return {
    'us-central1': {'us-central1-a': {[GCP_T4]: 2, [GCP_CPU]: 10, [GCP_A100]: 1}, 'us-central1-b': {[GCP_T4]: 2, [GCP_CPU]: 10}},
    'europe-west4': {'europe-west4-a': {[GCP_T4]: 2, [GCP_CPU]: 10}},
  }
}

export async function gcpWorld(
  fakeOptions: Partial<FakeGcpOptions> = {},
  providerOptions: Partial<GcpProviderOptions> = {},
  opts: {boot?: boolean} = {},
): Promise<GcpWorld> {
  const keys = serviceAccountKeys()
  const base = await startFakeCloud(
    (bootDir) =>
      new FakeGcpComputeServer({
        project: GCP_PROJECT,
        serviceAccounts: [{clientEmail: GCP_SA, publicKeyPem: keys.publicKeyPem}],
        stock: defaultGcpStock(),
        machineTypes: {[GCP_T4]: {vcpus: 4}, [GCP_CPU]: {vcpus: 2}, [GCP_A100]: {vcpus: 12, gpus: {metric: 'NVIDIA_A100_GPUS', count: 1}}},
        ...(bootDir ? {bootDir} : {}),
        ...fakeOptions,
      }),
    {boot: opts.boot, bootPrefix: 'skyhop-fake-gcp-', agent: {connect: {timeout: 2000}}},
  )
  const dir = mkdtempSync(join(tmpdir(), 'skyhop-gcp-key-'))
  const keyPath = keyFile(dir, keys.privateKeyPem, base.fake.tokenUri)
  const env = {SKYHOP_GCP_ENDPOINT: base.url, GOOGLE_APPLICATION_CREDENTIALS: keyPath}
  const retries: Array<{action: string; reason: string}> = []
  const another = (options: Partial<GcpProviderOptions> = {}) =>
    new GcpProvider({
      env,
      credentials: {homeDir: '/nonexistent'},
      dispatcher: base.agent,
      regions: ['us-central1', 'europe-west4'],
      timeoutMs: 5000,
      retry: FAST_RETRY,
      consoleGraceMs: 0,
      metadataBaseUrl: base.fake.metadataBaseTemplate,
      instancePollSeconds: 1,
      consolePollMs: 200,
      operationPollMs: 20,
      onRetry: (info) => retries.push({action: info.action, reason: info.reason}),
      ...options,
    })
  const provider = another(providerOptions)
  return {
    ...base,
    provider,
    retries,
    keyPath,
    keys,
    env,
    another,
    async close() {
      await base.close()
      rmSync(dir, {recursive: true, force: true})
    },
  }
}
