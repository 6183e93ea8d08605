// The Azure provider against the fake ARM (service-principal token, ARM's wire format,
// Azure-AsyncOperation polling): launch → run customData → poll → boot diagnostics log →
// delete the resource group; the VM it asks for (Spot with eviction policy and max price,
// boot diagnostics, tags, throwaway SSH key); every mapped error with its category and
// scope; throttling retried after Retry-After; idempotent names; ownership by tagged
// resource groups; a Spot eviction noticed through Scheduled Events; cancel; check; and
// the credential errors. Nothing here touches the network.
import {expect} from 'chai'

import {ProviderError} from '../../src/errors.js'
import {AZURE_TAGS, AzureProvider, resourceGroupFor, vmNameFor} from '../../src/providers/azure/azure-provider.js'
import {launchError} from '../helpers/fake-cloud-world.js'
import {until} from '../helpers/wait.js'
import {
  AZ_CPU,
  AZ_SP,
  AZ_SUB,
  azureEnv,
  azureJobSpec,
  azureLaunchRequest,
  azureOffer,
  azureWorld,
  type AzureWorld,
} from './azure-helpers.js'

async function collect(iter: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = []
  for await (const line of iter) out.push(line)
  return out
}

const cpuOffer = (overrides = {}) => azureOffer({instanceType: AZ_CPU, accelerator: null, vcpus: 2, memoryGiB: 8, ...overrides})

describe('Azure provider against the fake ARM', function () {
  this.timeout(60_000)
  let w: AzureWorld
  afterEach(async function () {
    await w?.close()
  })

  it('launches in a resource group of its own, runs customData, reads the serial log, and deletes the group', async function () {
    w = await azureWorld({}, {}, {boot: true})
    const request = azureLaunchRequest({offer: cpuOffer(), spec: azureJobSpec('echo "hello from azure"; echo second line')})
    const handle = await w.provider.launch(request)
    expect(handle).to.deep.include({provider: 'azure', region: 'eastus', externalId: vmNameFor(request.attemptId)})
    expect(handle.data.resourceGroup).to.equal(resourceGroupFor(request.attemptId))
    const end = await until(
      async () => (await w.provider.poll([handle])).get(handle.externalId)!,
      (p) => p.state === 'SUCCEEDED',
      30_000,
      200,
    )
    expect(end.exitCode).to.equal(0)
    // Powered off from the guest: stopped but still allocated (and billed) until skyhop deletes the group.
    expect(w.fake.live()[0].powerState).to.equal('stopped')
    expect(await collect(w.provider.logs(handle, {follow: false}))).to.deep.equal(['hello from azure', 'second line'])
    await w.provider.cleanup(handle)
    await until(
      async () => w.fake.groups.size + w.fake.live().length,
      (n) => n === 0,
    )
    await w.provider.cleanup(handle) // idempotent
    expect(w.fake.tokenRequests).to.deep.equal([{clientId: AZ_SP.clientId, ok: true}])
    expect(w.fake.calls.map((c) => c.action)).to.include.members([
      'resourceGroups.createOrUpdate',
      'virtualNetworks.createOrUpdate',
      'virtualMachines.createOrUpdate',
      'operations.get',
      'virtualMachines.get',
      'virtualMachines.retrieveBootDiagnosticsData',
      'resourceGroups.delete',
    ])
  })

  it('asks for a Spot VM with eviction policy Delete and the job’s max price, boot diagnostics and tags', async function () {
    w = await azureWorld()
    const request = azureLaunchRequest({spot: true, spec: azureJobSpec('python train.py', {maxPrice: {amount: 0.2, currency: 'USD'}})})
    await w.provider.launch(request)
    const put = w.fake.calls.find((c) => c.action === 'virtualMachines.createOrUpdate')!
    const body = put.body as Record<string, any>
    expect(put.path).to.equal(
      `/resourceGroups/${resourceGroupFor(request.attemptId)}/providers/Microsoft.Compute/virtualMachines/${vmNameFor(request.attemptId)}`,
    )
    expect(body.location).to.equal('eastus')
    expect(body.tags).to.deep.equal({
      [AZURE_TAGS.jobId]: 'j-0123456789',
      [AZURE_TAGS.attemptId]: request.attemptId,
      [AZURE_TAGS.jobName]: 'train',
      [AZURE_TAGS.spot]: 'true',
    })
    expect(body.properties).to.deep.include({priority: 'Spot', evictionPolicy: 'Delete', billingProfile: {maxPrice: 0.2}})
    expect(body.properties.hardwareProfile).to.deep.equal({vmSize: 'Standard_NC4as_T4_v3'})
    expect(body.properties.diagnosticsProfile).to.deep.equal({bootDiagnostics: {enabled: true}})
    expect(body.properties.storageProfile.imageReference).to.deep.equal({
      publisher: 'microsoft-dsvm',
      offer: 'ubuntu-hpc',
      sku: '2204',
      version: 'latest',
    })
    expect(body.properties.storageProfile.osDisk.deleteOption).to.equal('Delete')
    expect(body.properties.osProfile.linuxConfiguration.disablePasswordAuthentication).to.equal(true)
    expect(body.properties.osProfile.linuxConfiguration.ssh.publicKeys[0].keyData).to.match(
      /^ssh-rsa AAAAB3NzaC1yc2E[A-Za-z0-9+/=]+ skyhop-no-login$/,
    )
    const nic = body.properties.networkProfile.networkInterfaceConfigurations[0].properties
    expect(nic.deleteOption).to.equal('Delete')
    expect(nic.ipConfigurations[0].properties.subnet.id).to.equal(
      `/subscriptions/${AZ_SUB}/resourceGroups/${resourceGroupFor(request.attemptId)}/providers/Microsoft.Network/virtualNetworks/skyhop-vnet/subnets/default`,
    )
    const script = Buffer.from(body.properties.osProfile.customData as string, 'base64')
    expect(script[0] === 0x1f || script.toString('utf8').startsWith('#!/bin/bash\n')).to.equal(true)
    // Without a USD max price: up to the on-demand price (-1).
    await w.provider.launch(azureLaunchRequest({spot: true, offer: cpuOffer()}))
    const second = w.fake.calls.filter((c) => c.action === 'virtualMachines.createOrUpdate')[1].body as Record<string, any>
    expect(second.properties.billingProfile).to.deep.equal({maxPrice: -1})
  })

  describe('maps ARM errors onto the taxonomy', function () {
    const cases: Array<{
      code: string
      category: string
      scope: string
      setup: (w: AzureWorld) => void
      request?: () => ReturnType<typeof azureLaunchRequest>
    }> = [
      {
        code: 'SkuNotAvailable',
        category: 'capacity',
        scope: 'offer',
        setup: () => {},
        request: () => azureLaunchRequest({offer: azureOffer({region: 'westeurope'})}),
      },
      {code: 'AllocationFailed', category: 'capacity', scope: 'offer', setup: (w) => w.fake.setStock('eastus', 'Standard_NC4as_T4_v3', 0)},
      {
        code: 'OverconstrainedAllocationRequest',
        category: 'capacity',
        scope: 'offer',
        setup: (w) =>
          w.fake.inject({
            inOperation: true,
            status: 200,
            code: 'OverconstrainedAllocationRequest',
            message:
              'Allocation failed. VM(s) with the following constraints cannot be allocated, because the condition is too restrictive.',
          }),
      },
      {
        code: 'OperationNotAllowed',
        category: 'quota',
        scope: 'region',
        setup: (w) => (w.fake.options.quotas = {eastus: {standardNCASv3_T4Family: 0}}),
      },
      {
        code: 'AuthorizationFailed',
        category: 'auth',
        scope: 'provider',
        setup: (w) => (w.fake.options.deniedActions = ['Microsoft.Compute/virtualMachines/write']),
      },
      {
        code: 'MissingSubscriptionRegistration',
        category: 'auth',
        scope: 'provider',
        setup: (w) =>
          w.fake.inject({
            action: 'virtualNetworks.createOrUpdate',
            status: 409,
            code: 'MissingSubscriptionRegistration',
            message: "The subscription is not registered to use namespace 'Microsoft.Network'.",
          }),
      },
    ]
    for (const c of cases) {
      it(`${c.code} → ${c.category} / ${c.scope}, not retried, nothing left behind`, async function () {
        w = await azureWorld()
        c.setup(w)
        const error = await launchError(w.provider, c.request?.() ?? azureLaunchRequest())
        expect(error).to.include({category: c.category, scope: c.scope, backendCode: c.code, provider: 'azure'})
        expect(w.retries).to.deep.equal([])
        // The failed launch's group was deleted with it.
        await until(
          async () => w.fake.groups.size,
          (n) => n === 0,
        )
      })
    }

    it('a subscription without the GPU family quota says which family and what is needed', async function () {
      w = await azureWorld({quotas: {eastus: {standardNCASv3_T4Family: 0}}})
      const error = await launchError(w.provider, azureLaunchRequest())
      expect(error.message).to.match(/exceeding approved standardNCASv3_T4 Family Cores quota.*Location: eastus, Current Limit: 0/)
      expect(error.hint).to.match(/vCPU quota for this VM family/)
      // Spot counts against the subscription's low-priority cores instead.
      w.fake.options.quotas = {eastus: {lowPriorityCores: 2}}
      const spot = await launchError(w.provider, azureLaunchRequest({spot: true}))
      expect(spot).to.include({category: 'quota', scope: 'region'})
      expect(spot.message).to.include('LowPriorityCores quota')
    })

    it('a wrong client secret: auth, invalid_client with its AADSTS code, the secret never shown', async function () {
      w = await azureWorld()
      const bad = new AzureProvider({
        env: azureEnv(w.url, {AZURE_CLIENT_SECRET: 'the-wrong-secret-000'}),
        dispatcher: w.agent,
        retry: {retries: 0},
      })
      const error = await launchError(bad, azureLaunchRequest())
      expect(error).to.include({category: 'auth', code: 'PROVIDER_BAD_CREDENTIALS', backendCode: 'invalid_client'})
      expect(error.message).to.include('AADSTS7000215: Invalid client secret provided')
      expect(error.message).not.to.include('Trace ID')
      expect(error.hint).to.match(/client secret/)
      expect(JSON.stringify(error.toJSON()) + error.message).not.to.include('the-wrong-secret-000')
      const unknownTenant = new AzureProvider({env: azureEnv(w.url, {AZURE_TENANT_ID: 'no-such-tenant'}), dispatcher: w.agent})
      expect((await unknownTenant.check()).message).to.include('AADSTS90002')
      const noEnv = new AzureProvider({env: {AZURE_CLIENT_ID: 'x'}, dispatcher: w.agent})
      const missing = await noEnv.check()
      expect(missing.ok).to.equal(false)
      expect(missing.message).to.include('AZURE_TENANT_ID, AZURE_CLIENT_SECRET not set')
      expect(w.fake.calls).to.deep.equal([])
    })
  })

  it('retries throttling after ARM’s Retry-After, and 5xx, then gives up as transient', async function () {
    w = await azureWorld()
    w.fake.throttle(2, 'virtualMachines.createOrUpdate', 1)
    w.fake.inject({
      action: 'virtualMachines.createOrUpdate',
      status: 503,
      code: 'ServiceUnavailable',
      message: 'The service is unavailable.',
    })
    const handle = await w.provider.launch(azureLaunchRequest({offer: cpuOffer()}))
    expect(w.retries.map((r) => r.reason)).to.deep.equal(['TooManyRequests', 'TooManyRequests', 'ServiceUnavailable'])
    // The throttled tries waited what ARM asked (1 s), not the test's millisecond backoff.
    expect(w.retries.slice(0, 2).map((r) => r.delayMs)).to.deep.equal([1000, 1000])
    expect(w.fake.live()).to.have.length(1)
    w.fake.throttle(10, 'virtualMachines.get', 0)
    const error = (await w.provider.poll([handle]).catch((e: unknown) => e)) as ProviderError
    expect(error).to.be.instanceOf(ProviderError)
    expect(error).to.include({category: 'transient', scope: 'none', backendCode: 'TooManyRequests'})
  })

  it('is idempotent: the same attempt meets its own VM, from this provider or another', async function () {
    w = await azureWorld()
    const request = azureLaunchRequest({offer: cpuOffer()})
    const a = await w.provider.launch(request)
    const b = await w.provider.launch(request)
    const c = await w.another().launch(request)
    expect([b.externalId, c.externalId]).to.deep.equal([a.externalId, a.externalId])
    expect(w.fake.live()).to.have.length(1)
    expect(w.fake.calls.filter((x) => x.action === 'virtualMachines.createOrUpdate')).to.have.length(1)
  })

  it('finds owned attempts by their tagged resource groups, and a deleted one as LOST', async function () {
    w = await azureWorld()
    const h1 = await w.provider.launch(azureLaunchRequest({offer: cpuOffer()}))
    const h2 = await w.provider.launch(azureLaunchRequest({offer: cpuOffer({region: 'westus2'})}))
    const owned = await w.provider.listOwned()
    expect(owned.map((h) => [h.externalId, h.region, h.data.resourceGroup]).sort()).to.deep.equal(
      [
        [h1.externalId, 'eastus', h1.data.resourceGroup],
        [h2.externalId, 'westus2', h2.data.resourceGroup],
      ].sort(),
    )
    expect(owned.find((h) => h.externalId === h2.externalId)!.data).to.deep.include({
      attemptId: h2.data.attemptId,
      jobId: 'j-0123456789',
      spot: false,
    })
    expect((await w.provider.listOwned({attemptId: String(h1.data.attemptId)})).map((h) => h.externalId)).to.deep.equal([h1.externalId])
    await w.provider.cleanup(h1)
    await until(
      async () => (await w.provider.listOwned()).map((h) => h.externalId),
      (ids) => ids.length === 1 && ids[0] === h2.externalId,
    )
    expect((await w.provider.poll([h1])).get(h1.externalId)).to.deep.include({state: 'LOST'})
  })

  it('a Spot VM’s job hears the eviction through Scheduled Events and checkpoints before NotBefore; the deleted VM polls PREEMPTED', async function () {
    w = await azureWorld({}, {}, {boot: true})
    const run = ['trap \'echo "checkpointed at notice"; exit 0\' TERM', 'echo working', 'while true; do sleep 0.1; done'].join('\n')
    const handle = await w.provider.launch(azureLaunchRequest({spot: true, offer: cpuOffer(), spec: azureJobSpec(run)}))
    await until(
      async () => w.fake.consoleOf(handle.externalId),
      (c) => c.includes('SKYHOP-LOG 1 working'),
      30_000,
      100,
    )
    w.fake.evict(handle.externalId, 5000)
    const console = await until(
      async () => w.fake.consoleOf(handle.externalId),
      (c) => c.includes('SKYHOP-EXIT'),
      15_000,
      100,
    )
    expect(console).to.match(/"event":"notice".*EventType=Preempt NotBefore=/)
    expect(console).to.match(/SKYHOP-LOG \d+ checkpointed at notice/)
    const polled = await until(
      async () => (await w.provider.poll([handle])).get(handle.externalId)!,
      (p) => p.state === 'PREEMPTED' && w.fake.live().length === 0,
      15_000,
      200,
    )
    expect(polled.reason).to.match(/evicted/)
  })

  it('cancel reaches the job through the VM tag in IMDS, and the attempt ends CANCELLED', async function () {
    w = await azureWorld({}, {}, {boot: true})
    const handle = await w.provider.launch(azureLaunchRequest({offer: cpuOffer(), spec: azureJobSpec('echo up; sleep 60')}))
    await until(
      async () => w.fake.consoleOf(handle.externalId),
      (c) => c.includes('SKYHOP-LOG 1 up'),
      30_000,
      100,
    )
    await w.provider.signal(handle, 'cancel', 5)
    expect(w.fake.live()[0].tags[AZURE_TAGS.stopRequest]).to.equal('cancel 5')
    const end = await until(
      async () => (await w.provider.poll([handle])).get(handle.externalId)!,
      (p) => p.state === 'CANCELLED',
      20_000,
      200,
    )
    expect(end.exitCode).to.not.equal(0)
  })

  it('check names the service principal and never the secret', async function () {
    w = await azureWorld()
    const ok = await w.provider.check()
    expect(ok).to.deep.equal({
      provider: 'azure',
      ok: true,
      source: `environment (AZURE_CLIENT_ID ${AZ_SP.clientId})`,
      message: 'credentials work: 2 locations in the subscription',
    })
    expect(JSON.stringify(ok)).not.to.include(AZ_SP.clientSecret)
  })
})
