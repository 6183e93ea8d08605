// A world for the controller's end-to-end tests on Google Cloud and Azure: a fake Compute
// Engine (us-central1 with two zones, europe-west4), a fake ARM (eastus, westus2) and, as
// the cloud a job can always move to, the fake EC2 (us-east-1); each runs its instances'
// boot scripts locally; the real GcpProvider, AzureProvider and AwsProvider pointed at
// them; a real SQLite store in a temporary home; a catalog file listing exactly the fakes'
// offers; the real replanner over it; and, when asked, a checkpoint store (a fake S3
// bucket checking SigV4 query signatures).
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Agent} from 'undici'

import {CheckpointSigner, attemptHoldsFor, checkpointSyncFor} from '../../src/checkpoint/checkpoint-store.js'
import {HttpClient} from '../../src/http/client.js'
import {createDispatcher} from '../../src/http/dispatcher.js'
import {AwsProvider} from '../../src/providers/aws/aws-provider.js'
import {AzureProvider} from '../../src/providers/azure/azure-provider.js'
import {GcpProvider} from '../../src/providers/gcp/gcp-provider.js'
import type {Provider} from '../../src/providers/provider.js'
import type {Store} from '../../src/state/store.js'
import {FakeAzureArmServer} from '../fakes/fake-azure-arm-server.js'
import {FakeEc2Server} from '../fakes/fake-ec2-server.js'
import {FakeGcpComputeServer} from '../fakes/fake-gcp-compute-server.js'
import {FakeObjectStore} from '../fakes/fake-object-store.js'
import {s3Dialect} from '../fakes/fake-s3-dialect.js'
import {FAST_RETRY} from '../helpers/fake-cloud-world.js'
import {jobDriver, type JobDriver} from '../helpers/controller-world.js'
import {KEY as AWS_KEY} from './aws-helpers.js'
import {AZ_CPU, AZ_SIZES, AZ_SP, AZ_SUB, azureEnv} from './azure-helpers.js'
import {GCP_CPU, GCP_PROJECT, GCP_SA, keyFile, serviceAccountKeys} from './gcp-helpers.js'

export const AWS_TYPE = 'm5.large'

type RawOffer = Record<string, unknown>

function offer(provider: string, region: string, zone: string | null, instanceType: string, onDemand: number, spot: number): RawOffer {
  return {
    provider,
    region,
    zone,
    instanceType,
    accelerator: null,
    vcpus: 2,
    memoryGiB: 8,
    price: {onDemand, spot, currency: 'USD'},
    source: `fake-${provider} (tests)`,
    asOf: '2026-01-01',
    confidence: 'high',
  }
}

/**
 * Cheapest first: GCP us-central1-a < us-central1-b < europe-west4-a < Azure eastus <
 * westus2 < AWS us-east-1a. Azure's offers name no zone, as the bundled catalog's do.
 */
export function gcpWorldOffers(): RawOffer[] {
  return [
    offer('gcp', 'us-central1', 'us-central1-a', GCP_CPU, 0.09, 0.02),
    offer('gcp', 'us-central1', 'us-central1-b', GCP_CPU, 0.091, 0.021),
    offer('gcp', 'europe-west4', 'europe-west4-a', GCP_CPU, 0.093, 0.022),
    offer('azure', 'eastus', null, AZ_CPU, 0.094, 0.023),
    offer('azure', 'westus2', null, AZ_CPU, 0.095, 0.024),
    offer('aws', 'us-east-1', 'us-east-1a', AWS_TYPE, 0.096, 0.03),
  ]
}

export interface GcpControllerWorld extends JobDriver {
  home: string
  store: Store
  gce: FakeGcpComputeServer
  arm: FakeAzureArmServer
  ec2: FakeEc2Server
  gcp: GcpProvider
  azure: AzureProvider
  aws: AwsProvider
  providers: Map<string, Provider>
  s3: FakeObjectStore | null
  /** Environment for the built CLI pointed at the GCP and Azure fakes (the registry reads it). */
  cliEnv: Record<string, string>
  close(): Promise<void>
}

export async function gcpControllerWorld(options: {checkpointStore?: boolean; offers?: RawOffer[]} = {}): Promise<GcpControllerWorld> {
  const home = mkdtempSync(join(tmpdir(), 'skyhop-gcpw-'))
  const keys = serviceAccountKeys()
  const gce = new FakeGcpComputeServer({
    project: GCP_PROJECT,
    serviceAccounts: [{clientEmail: GCP_SA, publicKeyPem: keys.publicKeyPem}],
    stock: {
      'us-central1': {'us-central1-a': {[GCP_CPU]: 4}, 'us-central1-b': {[GCP_CPU]: 4}},
      'europe-west4': {'europe-west4-a': {[GCP_CPU]: 4}},
    },
    machineTypes: {[GCP_CPU]: {vcpus: 2}},
    bootDir: join(home, 'fake-gce'),
  })
  const ec2 = new FakeEc2Server({
    keys: [AWS_KEY],
    capacity: {'us-east-1': {'us-east-1a': {[AWS_TYPE]: 4}}},
    spotPrices: {'us-east-1a': {[AWS_TYPE]: 0.03}},
    vcpus: {[AWS_TYPE]: 2},
    bootDir: join(home, 'fake-ec2'),
  })
  const arm = new FakeAzureArmServer({
    subscriptionId: AZ_SUB,
    principals: [AZ_SP],
    stock: {eastus: {[AZ_CPU]: 4}, westus2: {[AZ_CPU]: 4}},
    sizes: AZ_SIZES,
    bootDir: join(home, 'fake-arm'),
  })
  const [gceUrl, armUrl, ec2Url] = await Promise.all([gce.start(), arm.start(), ec2.start()])
  const agent = new Agent({connect: {timeout: 2000}})
  const keyPath = keyFile(home, keys.privateKeyPem, gce.tokenUri)
  const gcp = new GcpProvider({
    env: {SKYHOP_GCP_ENDPOINT: gceUrl, GOOGLE_APPLICATION_CREDENTIALS: keyPath},
    credentials: {homeDir: '/nonexistent'},
    dispatcher: agent,
    regions: ['us-central1', 'europe-west4'],
    timeoutMs: 5000,
    retry: FAST_RETRY,
    metadataBaseUrl: gce.metadataBaseTemplate,
    instancePollSeconds: 1,
    consolePollMs: 200,
    consoleGraceMs: 20_000,
    operationPollMs: 20,
  })
  const azure = new AzureProvider({
    env: azureEnv(armUrl),
    dispatcher: agent,
    regions: ['eastus', 'westus2'],
    timeoutMs: 5000,
    retry: {...FAST_RETRY, maxRetryAfterMs: 5000},
    metadataBaseUrl: arm.metadataBaseTemplate,
    instancePollSeconds: 1,
    consolePollMs: 200,
    consoleGraceMs: 20_000,
    operationPollMs: 20,
  })
  const aws = new AwsProvider({
    env: {
      AWS_ENDPOINT_URL_EC2: ec2Url,
      AWS_ACCESS_KEY_ID: AWS_KEY.accessKeyId,
      AWS_SECRET_ACCESS_KEY: AWS_KEY.secretAccessKey,
      AWS_EC2_METADATA_DISABLED: 'true',
    },
    credentials: {homeDir: '/nonexistent'},
    dispatcher: agent,
    regions: ['us-east-1'],
    timeoutMs: 5000,
    retry: FAST_RETRY,
    metadataBaseUrl: ec2.metadataBaseTemplate,
    instancePollSeconds: 1,
    consolePollMs: 200,
    consoleGraceMs: 20_000,
  })
  const providers = new Map<string, Provider>([
    ['gcp', gcp],
    ['azure', azure],
    ['aws', aws],
  ])
  let s3: FakeObjectStore | null = null
  let checkpointSync
  let attemptHolds
  if (options.checkpointStore) {
    s3 = new FakeObjectStore({dialect: s3Dialect({[AWS_KEY.accessKeyId]: AWS_KEY.secretAccessKey})})
    await s3.start()
    const signer = new CheckpointSigner({
      env: {AWS_ACCESS_KEY_ID: AWS_KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: AWS_KEY.secretAccessKey, AWS_EC2_METADATA_DISABLED: 'true'},
      homeDir: '/nonexistent',
    })
    const config = {checkpointStore: {url: 's3://ckpt/runs', region: 'us-east-1', endpoint: s3.endpoint, syncIntervalSeconds: 1}}
    checkpointSync = checkpointSyncFor(config, signer)
    attemptHolds = attemptHoldsFor(
      config,
      new HttpClient({provider: 'aws', dispatcher: createDispatcher(), timeoutMs: 10_000, retry: {retries: 2}}),
      signer,
    )
  }
  const {store, catalogFile, replan, create, drive, driveExisting} = await jobDriver(
    home,
    providers,
    options.offers ?? gcpWorldOffers(),
    'fake-gcp-offers.json',
    {checkpointSync, attemptHolds},
  )
  const cliEnv: Record<string, string> = {
    SKYHOP_GCP_ENDPOINT: gceUrl,
    GOOGLE_APPLICATION_CREDENTIALS: keyPath,
    SKYHOP_GCP_REGIONS: 'us-central1,europe-west4',
    SKYHOP_GCP_METADATA_URL: gce.metadataBaseTemplate,
    ...azureEnv(armUrl),
    SKYHOP_AZURE_REGIONS: 'eastus,westus2',
    SKYHOP_AZURE_METADATA_URL: arm.metadataBaseTemplate,
  }
  let closed = false
  return {
    cliEnv,
    home,
    store,
    gce,
    arm,
    ec2,
    gcp,
    azure,
    aws,
    providers,
    s3,
    catalogFile,
    replan,
    create,
    drive,
    driveExisting,
    async close() {
      if (closed) return
      closed = true
      store.close()
      await Promise.all([gce.stop(), arm.stop(), ec2.stop(), s3?.stop()])
      await agent.close()
      rmSync(home, {recursive: true, force: true})
    },
  }
}
