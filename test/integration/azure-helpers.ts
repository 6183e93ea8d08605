// Shared set-up for the Azure integration tests: a fake ARM with its identity platform
// (test/fakes/fake-azure-arm-server.ts), an AzureProvider pointed at it through
// AZURE_AUTHORITY_HOST and SKYHOP_AZURE_ARM_ENDPOINT with a service principal's
// environment, and requests.
import type {Offer} from '../../src/model/catalog.js'
import type {JobSpec} from '../../src/model/job-spec.js'
import {AzureProvider, type AzureProviderOptions} from '../../src/providers/azure/azure-provider.js'
import type {LaunchRequest} from '../../src/providers/provider.js'
import {FakeAzureArmServer, type FakeAzureOptions} from '../fakes/fake-azure-arm-server.js'
import {FAST_RETRY, startFakeCloud, type FakeCloudWorld} from '../helpers/fake-cloud-world.js'
import {testJobSpec} from '../helpers/job-spec.js'

export const AZ_SP = {
  tenantId: '72f988bf-0000-4000-8000-00000000fake',
  clientId: '00000000-1111-4222-8333-44444444fake',
  clientSecret: 'fake~AzureClientSecret.ForTests_000001',
}
export const AZ_SUB = '11111111-2222-4333-8444-55555555fake'
export const AZ_CPU = 'Standard_D2s_v5'
export const AZ_T4 = 'Standard_NC4as_T4_v3'

export function azureEnv(url: string, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    AZURE_AUTHORITY_HOST: url,
    SKYHOP_AZURE_ARM_ENDPOINT: url,
    AZURE_TENANT_ID: AZ_SP.tenantId,
    AZURE_CLIENT_ID: AZ_SP.clientId,
    AZURE_CLIENT_SECRET: AZ_SP.clientSecret,
    AZURE_SUBSCRIPTION_ID: AZ_SUB,
    ...overrides,
  }
}

export function azureJobSpec(run: string, overrides: Partial<JobSpec> = {}): JobSpec {
  return testJobSpec({name: 'azure-test', run, recovery: {graceSeconds: 5}, ...overrides})
}

export function azureOffer(overrides: Partial<Offer> = {}): Offer {
  return {
    provider: 'azure',
    region: 'eastus',
    zone: null,
    instanceType: AZ_T4,
    accelerator: {name: 'T4', count: 1},
    vcpus: 4,
    memoryGiB: 28,
    price: {onDemand: 0.526, spot: 0.0627, currency: 'USD'},
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
export function azureLaunchRequest(overrides: Partial<LaunchRequest> = {}): LaunchRequest {
  counter += 1
  const attemptId = overrides.attemptId ?? `a-${process.pid.toString(16)}${counter}`
  return {
    jobId: 'j-0123456789',
    jobName: 'train',
    attemptId,
    attempt: 1,
    restartCount: 0,
    idempotencyKey: attemptId,
    spec: azureJobSpec('echo hello'),
    offer: azureOffer(),
    spot: false,
    env: {SKYHOP_JOB_ID: 'j-0123456789'},
    checkpointDir: '/tmp/ckpt',
    checkpointSync: null,
    graceSeconds: 5,
    ...overrides,
  }
}

export function defaultAzureStock(): FakeAzureOptions['stock'] {
  return {eastus: {[AZ_T4]: 2, [AZ_CPU]: 10}, westus2: {[AZ_T4]: 2, [AZ_CPU]: 10}}
}

export const AZ_SIZES: FakeAzureOptions['sizes'] = {
  [AZ_T4]: {vcpus: 4, family: 'standardNCASv3_T4Family'},
  [AZ_CPU]: {vcpus: 2, family: 'standardDSv5Family'},
}

export interface AzureWorld extends FakeCloudWorld<FakeAzureArmServer> {
  provider: AzureProvider
  retries: Array<{action: string; reason: string; delayMs: number}>
  env: Record<string, string>
  another(options?: Partial<AzureProviderOptions>): AzureProvider
}

export async function azureWorld(
  fakeOptions: Partial<FakeAzureOptions> = {},
  providerOptions: Partial<AzureProviderOptions> = {},
  opts: {boot?: boolean} = {},
): Promise<AzureWorld> {
  const base = await startFakeCloud(
    (bootDir) =>
      new FakeAzureArmServer({
        subscriptionId: AZ_SUB,
        principals: [AZ_SP],
        stock: defaultAzureStock(),
        sizes: AZ_SIZES,
        ...(bootDir ? {bootDir} : {}),
        ...fakeOptions,
      }),
    {boot: opts.boot, bootPrefix: 'skyhop-fake-azure-', agent: {connect: {timeout: 2000}}},
  )
  const env = azureEnv(base.url)
  const retries: AzureWorld['retries'] = []
  const another = (options: Partial<AzureProviderOptions> = {}) =>
    new AzureProvider({
      env,
      dispatcher: base.agent,
      regions: ['eastus', 'westus2'],
      timeoutMs: 5000,
      retry: {...FAST_RETRY, maxRetryAfterMs: 5000},
      consoleGraceMs: 0,
      metadataBaseUrl: base.fake.metadataBaseTemplate,
      instancePollSeconds: 1,
      consolePollMs: 200,
      operationPollMs: 20,
      onRetry: (info) => retries.push({action: info.action, reason: info.reason, delayMs: info.delayMs}),
      ...options,
    })
  return {...base, provider: another(providerOptions), retries, env, another}
}
