// The GCP provider against the fake Compute Engine (OAuth JWT signatures checked, the REST
// v1 wire format, operations): launch → run the startup script → poll → logs → delete; the
// instance it asks for (requestId, labels, startup-script, spot scheduling, GPUs); zone
// failover inside a region; every mapped error with its category and scope; throttling
// retried; idempotent by requestId and by name; ownership by label; a spot preemption
// noticed through the metadata server's hanging GET; cancel; check; and the credential
// sources. Nothing here touches the network.
import {expect} from 'chai'
import {mkdtempSync, rmSync, writeFileSync, mkdirSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Agent} from 'undici'

import {ProviderError} from '../../src/errors.js'
import {loadGcpCredentials} from '../../src/clouds/gcp/credentials.js'
import {requestIdFor} from '../../src/clouds/gcp/compute-client.js'
import {GCP_LABELS, instanceNameFor, labelValue} from '../../src/providers/gcp/gcp-provider.js'
import {launchError} from '../helpers/fake-cloud-world.js'
import {until} from '../helpers/wait.js'
import {GCP_A100, GCP_CPU, GCP_PROJECT, gcpJobSpec, gcpLaunchRequest, gcpOffer, gcpWorld, keyFile, type GcpWorld} from './gcp-helpers.js'

async function collect(iter: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = []
  for await (const line of iter) out.push(line)
  return out
}

const cpuOffer = (overrides = {}) => gcpOffer({instanceType: GCP_CPU, accelerator: null, vcpus: 2, memoryGiB: 8, ...overrides})

describe('GCP Compute Engine provider against the fake Compute Engine', function () {
  this.timeout(60_000)
  let w: GcpWorld
  afterEach(async function () {
    await w?.close()
  })

  it('launches, runs the startup script, reads its serial output, and deletes the instance', async function () {
    w = await gcpWorld({}, {}, {boot: true})
    const request = gcpLaunchRequest({offer: cpuOffer(), spec: gcpJobSpec('echo "hello from gce"; echo second line')})
    const handle = await w.provider.launch(request)
    expect(handle).to.deep.include({
      provider: 'gcp',
      region: 'us-central1',
      zone: 'us-central1-a',
      externalId: instanceNameFor(request.attemptId),
    })
    const end = await until(
      async () => (await w.provider.poll([handle])).get(handle.externalId)!,
      (p) => p.state === 'SUCCEEDED',
      30_000,
      200,
    )
    expect(end.exitCode).to.equal(0)
    // The VM powered itself off: TERMINATED, its serial output still there.
    expect(w.fake.byName(handle.externalId)!.status).to.equal('TERMINATED')
    expect(await collect(w.provider.logs(handle, {follow: false}))).to.deep.equal(['hello from gce', 'second line'])
    await w.provider.cleanup(handle)
    await until(
      async () => w.fake.live().length,
      (n) => n === 0,
    )
    await w.provider.cleanup(handle) // idempotent: already gone
    // A token was asked for once, with the Compute Engine scope, through a signed JWT.
    expect(w.fake.tokenRequests).to.deep.equal([
      {grantType: 'urn:ietf:params:oauth:grant-type:jwt-bearer', scope: 'https://www.googleapis.com/auth/compute', ok: true},
    ])
  })

  it('asks for the instance with requestId, labels, the startup script, spot scheduling and N1 GPUs', async function () {
    w = await gcpWorld()
    const request = gcpLaunchRequest({
      spot: true,
      spec: gcpJobSpec('python train.py', {resources: {...gcpJobSpec('').resources, diskGB: 200}}),
    })
    await w.provider.launch(request)
    const insert = w.fake.calls.find((c) => c.action === 'instances.insert')!
    expect(insert.path).to.equal('zones/us-central1-a/instances')
    expect(insert.query.requestId).to.equal(requestIdFor(`${request.attemptId}/us-central1-a`))
    expect(insert.query.requestId).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    const body = insert.body as Record<string, any>
    expect(body.name).to.equal(instanceNameFor(request.attemptId))
    expect(body.machineType).to.equal('zones/us-central1-a/machineTypes/n1-standard-4')
    expect(body.labels).to.deep.equal({
      [GCP_LABELS.jobId]: 'j-0123456789',
      [GCP_LABELS.attemptId]: request.attemptId,
      [GCP_LABELS.jobName]: 'train',
    })
    expect(body.scheduling).to.deep.equal({
      provisioningModel: 'SPOT',
      instanceTerminationAction: 'DELETE',
      onHostMaintenance: 'TERMINATE',
      automaticRestart: false,
    })
    expect(body.guestAccelerators).to.deep.equal([
      {acceleratorType: 'zones/us-central1-a/acceleratorTypes/nvidia-tesla-t4', acceleratorCount: 1},
    ])
    expect(body.disks[0].initializeParams.diskSizeGb).to.equal('200')
    expect(body.disks[0].initializeParams.sourceImage).to.match(/deeplearning-platform-release/)
    const items = Object.fromEntries((body.metadata.items as Array<{key: string; value: string}>).map((i) => [i.key, i.value]))
    expect(items['skyhop-attempt-id']).to.equal(request.attemptId)
    expect(items['startup-script'].startsWith('#!/bin/bash\n')).to.equal(true)
    expect(items['startup-script']).to.include('computeMetadata/v1/instance/attributes/skyhop-stop-request')
    expect(items['startup-script']).to.include("sk_file 'skyhop-runner.sh'")

    // An accelerator-optimised type carries its GPUs: no guestAccelerators, and on-demand GPUs stop for maintenance.
    await w.provider.launch(gcpLaunchRequest({offer: gcpOffer({instanceType: GCP_A100, accelerator: {name: 'A100-40GB', count: 1}})}))
    const a2 = w.fake.calls.filter((c) => c.action === 'instances.insert')[1].body as Record<string, any>
    expect(a2.guestAccelerators).to.equal(undefined)
    expect(a2.scheduling).to.deep.equal({provisioningModel: 'STANDARD', onHostMaintenance: 'TERMINATE', automaticRestart: false})
    // Label values are lower case; the exact attempt id is in the metadata.
    expect(labelValue('A-Mixed.Case')).to.equal('a-mixed_case')
    expect(instanceNameFor('A_1')).to.match(/^skyhop-a-1-[0-9a-f]{10}$/)
  })

  it('tries the next zone of the region on ZONE_RESOURCE_POOL_EXHAUSTED, and fails the region when none has room', async function () {
    w = await gcpWorld()
    w.fake.setStock('us-central1', 'us-central1-a', GCP_CPU, 0)
    const handle = await w.provider.launch(gcpLaunchRequest({offer: cpuOffer({zone: null})}))
    expect(handle.zone).to.equal('us-central1-b')
    expect(w.fake.calls.filter((c) => c.action === 'instances.insert').map((c) => [c.path, c.code])).to.deep.equal([
      ['zones/us-central1-a/instances', 'ZONE_RESOURCE_POOL_EXHAUSTED'],
      ['zones/us-central1-b/instances', null],
    ])
    w.fake.setStock('us-central1', 'us-central1-b', GCP_CPU, 0)
    const error = await launchError(w.provider, gcpLaunchRequest({offer: cpuOffer({zone: null})}))
    expect(error).to.include({category: 'capacity', scope: 'region', backendCode: 'ZONE_RESOURCE_POOL_EXHAUSTED'})
    expect(error.message).to.match(/no zone of us-central1 could take n2-standard-2/)
  })

  describe('maps Compute Engine errors onto the taxonomy', function () {
    const cases: Array<{
      code: string
      category: string
      scope: string
      setup: (w: GcpWorld) => void
      offer?: () => ReturnType<typeof gcpOffer>
    }> = [
      {
        code: 'ZONE_RESOURCE_POOL_EXHAUSTED',
        category: 'capacity',
        scope: 'zone',
        setup: (w) => w.fake.setStock('us-central1', 'us-central1-a', 'n1-standard-4', 0),
      },
      {
        code: 'QUOTA_EXCEEDED',
        category: 'quota',
        scope: 'region',
        setup: (w) => (w.fake.options.quotas = {'us-central1': {NVIDIA_T4_GPUS: 0}}),
      },
      {code: 'QUOTA_EXCEEDED', category: 'quota', scope: 'region', setup: (w) => (w.fake.options.quotas = {'us-central1': {CPUS: 2}})},
      {
        // The project-wide GPU quota: every region would answer the same.
        code: 'QUOTA_EXCEEDED',
        category: 'quota',
        scope: 'provider',
        setup: (w) =>
          w.fake.inject({
            action: 'instances.insert',
            inOperation: true,
            status: 200,
            reason: 'QUOTA_EXCEEDED',
            message: "Quota 'GPUS_ALL_REGIONS' exceeded.  Limit: 1.0 globally.",
          }),
      },
      {
        code: 'forbidden',
        category: 'auth',
        scope: 'provider',
        setup: (w) => (w.fake.options.deniedPermissions = ['compute.instances.create']),
      },
      {
        code: 'accessNotConfigured',
        category: 'auth',
        scope: 'provider',
        setup: (w) =>
          w.fake.inject({
            status: 403,
            reason: 'accessNotConfigured',
            message: 'Compute Engine API has not been used in project 1234 before or it is disabled.',
          }),
      },
      {
        code: 'ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS',
        category: 'capacity',
        scope: 'zone',
        setup: (w) =>
          w.fake.inject({
            action: 'instances.insert',
            inOperation: true,
            status: 200,
            reason: 'ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS',
            message: "The zone 'projects/p/zones/us-central1-a' does not have enough resources available to fulfill the request.",
          }),
      },
    ]
    for (const c of cases) {
      it(`${c.code} → ${c.category} / ${c.scope}, not retried`, async function () {
        w = await gcpWorld()
        c.setup(w)
        const error = await launchError(w.provider, gcpLaunchRequest())
        expect(error).to.include({category: c.category, scope: c.scope, backendCode: c.code, provider: 'gcp'})
        expect(error.toJSON().details).to.deep.include({region: 'us-central1', zone: 'us-central1-a'})
        expect(w.retries).to.deep.equal([])
        expect(w.fake.live()).to.have.length(0)
      })
    }

    it('a key whose token lacks the Compute Engine scope: auth / provider, saying which scope', async function () {
      w = await gcpWorld()
      const narrow = w.another({credentials: {homeDir: '/nonexistent', scopes: ['https://www.googleapis.com/auth/devstorage.read_only']}})
      const error = await launchError(narrow, gcpLaunchRequest())
      expect(error).to.include({category: 'auth', scope: 'provider', backendCode: 'insufficientPermissions'})
      expect(error.hint).to.match(/compute.*cloud-platform.*scope/)
      const check = await narrow.check()
      expect(check.ok).to.equal(false)
      expect(check.message).to.match(/insufficient authentication scopes.*\(the token lacks the Compute Engine scope/)
    })

    it('a key the token endpoint does not know (wrong private key): auth, invalid_grant, no secret shown', async function () {
      w = await gcpWorld()
      const other = (await import('./gcp-helpers.js')).serviceAccountKeys()
      const dir = mkdtempSync(join(tmpdir(), 'skyhop-gcp-bad-'))
      try {
        const path = keyFile(dir, other.privateKeyPem, w.fake.tokenUri)
        const bad = w.another({env: {...w.env, GOOGLE_APPLICATION_CREDENTIALS: path}})
        const error = await launchError(bad, gcpLaunchRequest())
        expect(error).to.include({category: 'auth', code: 'PROVIDER_BAD_CREDENTIALS', backendCode: 'invalid_grant'})
        expect(error.message).to.include('Invalid JWT Signature')
        const text = JSON.stringify(error.toJSON()) + error.message + String(error.hint)
        expect(text).not.to.include(other.privateKeyPem.split('\n')[1])
        expect(w.fake.calls).to.deep.equal([])
      } finally {
        rmSync(dir, {recursive: true, force: true})
      }
    })

    it('refuses a Cloud TPU offer, a gang too large and a gang without a store, without calling the API', async function () {
      w = await gcpWorld()
      const tpu = await launchError(
        w.provider,
        gcpLaunchRequest({offer: gcpOffer({instanceType: 'tpu-v5litepod-1', accelerator: {name: 'TPU-v5e', count: 1}})}),
      )
      expect(tpu).to.include({category: 'unavailable', scope: 'offer', code: 'PROVIDER_OFFER_UNSUPPORTED'})
      const large = await launchError(w.provider, gcpLaunchRequest({spec: gcpJobSpec('true', {nodes: 65})}))
      expect(large.code).to.equal('GANG_TOO_LARGE')
      const noStore = await launchError(w.provider, gcpLaunchRequest({spec: gcpJobSpec('true', {nodes: 2})}))
      expect(noStore).to.include({code: 'GANG_STORE_MISSING', category: 'unavailable', scope: 'provider'})
      expect(w.fake.calls.filter((c) => c.action === 'instances.insert')).to.deep.equal([])
    })
  })

  it('retries rate limits (403 rateLimitExceeded, 429) and 5xx, and gives up as transient', async function () {
    w = await gcpWorld()
    w.fake.throttle(2, 'instances.insert')
    w.fake.inject({action: 'instances.insert', status: 503, reason: 'backendError', message: 'Backend Error'})
    const handle = await w.provider.launch(gcpLaunchRequest({offer: cpuOffer()}))
    expect(w.retries.map((r) => r.reason)).to.deep.equal(['rateLimitExceeded', 'rateLimitExceeded', 'backendError'])
    expect(w.fake.live()).to.have.length(1)
    // 429 RESOURCE_EXHAUSTED past the retries: transient, so the controller waits and tries again.
    w.fake.inject({action: 'instances.get', status: 429, reason: 'RESOURCE_EXHAUSTED', message: 'Too many requests', times: 10})
    const error = (await w.provider.poll([handle]).catch((e: unknown) => e)) as ProviderError
    expect(error).to.be.instanceOf(ProviderError)
    expect(error).to.include({category: 'transient', scope: 'none', backendCode: 'RESOURCE_EXHAUSTED'})
  })

  it('an insert whose operation failed for a passing reason is tried again under a requestId of its own', async function () {
    w = await gcpWorld()
    w.fake.inject({
      action: 'instances.insert',
      inOperation: true,
      status: 200,
      reason: 'backendError',
      message: 'Internal error. Please try again.',
    })
    const request = gcpLaunchRequest({offer: cpuOffer()})
    const handle = await w.provider.launch(request)
    const inserts = w.fake.calls.filter((c) => c.action === 'instances.insert')
    expect(inserts.map((c) => c.code)).to.deep.equal(['backendError', null])
    expect(inserts[1].query.requestId).to.equal(requestIdFor(`${request.attemptId}/us-central1-a/1`))
    expect(w.fake.live().map((i) => i.name)).to.deep.equal([handle.externalId])
  })

  it('is idempotent: the same attempt gets the same instance, by requestId and, from another process, by name', async function () {
    w = await gcpWorld()
    const request = gcpLaunchRequest({offer: cpuOffer()})
    const a = await w.provider.launch(request)
    const b = await w.provider.launch(request)
    const c = await w.another().launch(request)
    expect([b.externalId, c.externalId]).to.deep.equal([a.externalId, a.externalId])
    expect(w.fake.live()).to.have.length(1)
    expect(w.fake.calls.filter((x) => x.action === 'instances.insert')).to.have.length(3)
    // The requestId's hour has passed (the fake forgets it): the name is taken, by this attempt, and adopted.
    ;(w.fake as unknown as {requestIds: Map<string, string>}).requestIds.clear()
    const d = await w.provider.launch(request)
    expect(d.externalId).to.equal(a.externalId)
    expect(w.fake.calls.filter((x) => x.action === 'instances.insert').at(-1)!.code).to.equal('alreadyExists')
    expect(w.fake.live()).to.have.length(1)
  })

  it('finds owned instances by label across zones, one attempt by its id, and a deleted one as LOST', async function () {
    w = await gcpWorld()
    const h1 = await w.provider.launch(gcpLaunchRequest({offer: cpuOffer()}))
    const h2 = await w.provider.launch(gcpLaunchRequest({offer: cpuOffer({region: 'europe-west4', zone: 'europe-west4-a'})}))
    const owned = await w.provider.listOwned()
    expect(owned.map((h) => [h.externalId, h.region, h.zone]).sort()).to.deep.equal(
      [
        [h1.externalId, 'us-central1', 'us-central1-a'],
        [h2.externalId, 'europe-west4', 'europe-west4-a'],
      ].sort(),
    )
    expect(owned.find((h) => h.externalId === h1.externalId)!.data).to.deep.include({attemptId: h1.data.attemptId, jobId: 'j-0123456789'})
    const one = await w.provider.listOwned({attemptId: String(h2.data.attemptId)})
    expect(one.map((h) => h.externalId)).to.deep.equal([h2.externalId])
    expect(w.fake.calls.filter((c) => c.action === 'instances.aggregatedList').at(-1)!.query.filter).to.equal(
      `labels.skyhop-attempt-id = "${h2.data.attemptId}"`,
    )
    await w.provider.cleanup(h1)
    await until(
      async () => (await w.provider.listOwned()).map((h) => h.externalId),
      (ids) => ids.length === 1 && ids[0] === h2.externalId,
    )
    const gone = (await w.provider.poll([h1])).get(h1.externalId)!
    expect(gone).to.deep.include({state: 'LOST', reason: 'Compute Engine no longer knows this instance'})
  })

  it('a spot VM’s job hears the preemption through the metadata server and checkpoints within the 30 s; the deleted VM polls PREEMPTED', async function () {
    w = await gcpWorld({}, {}, {boot: true})
    const run = ['trap \'echo "checkpointed at notice"; exit 0\' TERM', 'echo working', 'while true; do sleep 0.1; done'].join('\n')
    const handle = await w.provider.launch(gcpLaunchRequest({spot: true, offer: cpuOffer(), spec: gcpJobSpec(run)}))
    await until(
      async () => w.fake.consoleOf(handle.externalId),
      (c) => c.includes('SKYHOP-LOG 1 working'),
      30_000,
      100,
    )
    // The runner holds a hanging GET on instance/preempted (wait_for_change with the value's ETag).
    await until(
      async () => (w.fake as unknown as {waiters: Set<unknown>}).waiters.size,
      (n) => n > 0,
      10_000,
      50,
    )
    w.fake.preempt(handle.externalId, 4000)
    const console = await until(
      async () => w.fake.consoleOf(handle.externalId),
      (c) => c.includes('SKYHOP-EXIT'),
      15_000,
      100,
    )
    expect(console).to.match(/"event":"notice".*preempted=TRUE \(wait_for_change\)/)
    expect(console).to.match(/SKYHOP-LOG \d+ checkpointed at notice/)
    const polled = await until(
      async () => (await w.provider.poll([handle])).get(handle.externalId)!,
      (p) => p.state === 'PREEMPTED' && !w.fake.byName(handle.externalId),
      15_000,
      200,
    )
    expect(polled.reason).to.match(/preempted by Compute Engine/)
  })

  it('cancel reaches the job through the metadata item, and the attempt ends CANCELLED', async function () {
    w = await gcpWorld({}, {}, {boot: true})
    const handle = await w.provider.launch(gcpLaunchRequest({offer: cpuOffer(), spec: gcpJobSpec('echo up; sleep 60')}))
    await until(
      async () => w.fake.consoleOf(handle.externalId),
      (c) => c.includes('SKYHOP-LOG 1 up'),
      30_000,
      100,
    )
    await w.provider.signal(handle, 'cancel', 5)
    expect(w.fake.byName(handle.externalId)!.metadata.find((m) => m.key === 'skyhop-stop-request')!.value).to.equal('cancel 5')
    const end = await until(
      async () => (await w.provider.poll([handle])).get(handle.externalId)!,
      (p) => p.state === 'CANCELLED',
      20_000,
      200,
    )
    expect(end.exitCode).to.not.equal(0)
  })

  it('check names the service account and never the key', async function () {
    w = await gcpWorld()
    const ok = await w.provider.check()
    expect(ok).to.deep.equal({
      provider: 'gcp',
      ok: true,
      source: `GOOGLE_APPLICATION_CREDENTIALS: service account skyhop-launcher@${GCP_PROJECT}.iam.gserviceaccount.com`,
      message: 'credentials work: 2 zones in us-central1',
    })
    expect(JSON.stringify(ok)).not.to.include('PRIVATE KEY')
  })

  describe('credential sources', function () {
    let home: string
    let agent: Agent
    beforeEach(() => {
      home = mkdtempSync(join(tmpdir(), 'skyhop-gcp-home-'))
      agent = new Agent()
    })
    afterEach(async () => {
      rmSync(home, {recursive: true, force: true})
      await agent.close()
    })

    it('reads gcloud’s ADC file (authorized user) and exchanges its refresh token', async function () {
      w = await gcpWorld({refreshTokens: ['1//fake-refresh-token']})
      mkdirSync(join(home, '.config/gcloud'), {recursive: true})
      writeFileSync(
        join(home, '.config/gcloud/application_default_credentials.json'),
        JSON.stringify({
          type: 'authorized_user',
          client_id: '764086051850-fake.apps.googleusercontent.com',
          client_secret: 'd-FL95Q19q7MQmFpd7hHD0Ty',
          refresh_token: '1//fake-refresh-token',
          quota_project_id: GCP_PROJECT,
          token_uri: w.fake.tokenUri,
        }),
      )
      const loaded = await loadGcpCredentials({env: {}, homeDir: home, dispatcher: agent})
      expect(loaded.source).to.equal('gcloud ADC (~/.config/gcloud/application_default_credentials.json): authorized user')
      expect(loaded.credentials.project).to.equal(GCP_PROJECT)
      expect(loaded.expiresAt).to.be.a('string')
    })

    it('takes the VM’s service account from the metadata server (GCE_METADATA_HOST), and says when its scopes fall short', async function () {
      w = await gcpWorld()
      const host = w.url.replace(/^http:\/\//, '')
      const vm = w.another({env: {SKYHOP_GCP_ENDPOINT: w.url, GCE_METADATA_HOST: host}})
      expect(await vm.check()).to.deep.include({ok: true, source: 'metadata server (the VM’s service account)'})
      // A VM created with the default access scopes (storage read-only, logging…): Compute Engine refuses its token.
      w.fake.hostScopes = ['https://www.googleapis.com/auth/devstorage.read_only']
      const narrow = await w.another({env: {SKYHOP_GCP_ENDPOINT: w.url, GCE_METADATA_HOST: host}}).check()
      expect(narrow.ok).to.equal(false)
      expect(narrow.message).to.include('insufficientPermissions')
    })

    it('says where it looked when nothing is found, and names a missing key file', async function () {
      const none = await loadGcpCredentials({env: {}, homeDir: home, dispatcher: agent}).catch((e: unknown) => e as ProviderError)
      expect(none).to.include({code: 'PROVIDER_NO_CREDENTIALS', category: 'auth'})
      expect((none as ProviderError).message).to.include('GOOGLE_APPLICATION_CREDENTIALS')
      const missing = await loadGcpCredentials({
        env: {GOOGLE_APPLICATION_CREDENTIALS: '/nope/key.json'},
        homeDir: home,
        dispatcher: agent,
      }).catch((e: unknown) => e as ProviderError)
      expect(missing).to.include({code: 'PROVIDER_BAD_CREDENTIALS'})
      expect((missing as ProviderError).message).to.include('GOOGLE_APPLICATION_CREDENTIALS (/nope/key.json): no such file')
      writeFileSync(join(home, 'k.json'), '{"type": "external_account"}')
      const wrong = await loadGcpCredentials({
        env: {GOOGLE_APPLICATION_CREDENTIALS: join(home, 'k.json')},
        homeDir: home,
        dispatcher: agent,
      }).catch((e: unknown) => e as ProviderError)
      expect((wrong as ProviderError).message).to.match(/type "external_account" is not supported/)
    })
  })
})
