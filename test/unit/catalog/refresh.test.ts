import {expect} from 'chai'
import {existsSync, readFileSync} from 'node:fs'
import {Agent} from 'undici'

import {loadCatalog, refreshedFile} from '../../../src/catalog/catalog.js'
import {azureFilter, classifyItem, collectPrices} from '../../../src/catalog/refresh/azure.js'
import {readRefreshState, refreshCatalog, type RefreshOptions} from '../../../src/catalog/refresh/index.js'
import {catalogStatus} from '../../../src/catalog/status.js'
import {ProviderError, UsageError} from '../../../src/errors.js'
import {type FakeAzurePrices, parseFilter, startFakeAzurePrices, vmItem} from '../../fakes/fake-azure-prices.js'
import {fixtureSnapshot} from './fixtures.js'
import {schemaErrors} from './helpers.js'

describe('catalog refresh: Azure Retail Prices (against a local fake)', () => {
  let fake: FakeAzurePrices
  let dispatcher: Agent
  const items = () => [
    vmItem('Standard_NC24ads_A100_v4', 'eastus', 3.673),
    vmItem('Standard_NC24ads_A100_v4', 'eastus', 0.5, {spot: true}),
    vmItem('Standard_NC24ads_A100_v4', 'eastus', 0.4, {lowPriority: true}),
    vmItem('Standard_NC24ads_A100_v4', 'eastus', 4.8, {windows: true}),
    vmItem('Standard_NC24ads_A100_v4', 'westeurope', 4.1),
    vmItem('Standard_NC24ads_A100_v4', 'westeurope', 4.1, {spot: true}),
    vmItem('Standard_NC24ads_A100_v4', 'westus2', 3.5, {since: '2024-01-01T00:00:00Z'}),
    vmItem('Standard_NC24ads_A100_v4', 'westus2', 3.6, {since: '2025-06-01T00:00:00Z'}),
    vmItem('Basic_A1', 'eastus', 0.023),
    vmItem('Standard_D2s_v5', 'eastus', 0.096),
  ]

  beforeEach(async () => {
    fake = await startFakeAzurePrices({items: items(), pageSize: 3})
    dispatcher = new Agent({connect: {timeout: 2000}})
  })
  afterEach(async () => {
    await dispatcher.close()
    await fake.close()
  })

  function options(home: string, snapshotFile: string, extra: Partial<RefreshOptions> = {}): RefreshOptions {
    return {
      home,
      snapshotFile,
      dispatcher,
      // AWS, Alibaba, Huawei and Tencent are refreshed too when no provider is named: give
      // them no credentials to find (HOME hides profile files), no metadata to ask.
      env: {
        SKYHOP_AZURE_ENDPOINT: fake.endpoint,
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/c',
        AWS_CONFIG_FILE: '/nonexistent/c',
        HOME: '/nonexistent/home',
      },
      now: () => new Date('2026-11-27T10:00:00Z'),
      sleep: async () => {},
      timeoutMs: 2000,
      ...extra,
    }
  }

  it('pages through NextPageLink, keeps Linux pay-as-you-go and spot, and writes the provider file', async () => {
    const {home, snapshotFile} = fixtureSnapshot()
    const report = await refreshCatalog(options(home, snapshotFile, {providers: ['azure']}))
    expect(schemaErrors('catalog-refresh', report)).to.equal('')
    const [o] = report.outcomes
    expect(o).to.deep.include({provider: 'azure', status: 'refreshed', rows: 4, error: null, fetchedAt: '2026-11-27T10:00:00.000Z'})
    expect(o.endpoint).to.equal(fake.endpoint)
    // One query for the two known SKUs; 8 matching items over pages of 3.
    expect(o.requests).to.equal(3)
    expect(fake.requests[0].filter).to.equal(azureFilter(['Basic_A1', 'Standard_NC24ads_A100_v4']))
    expect(fake.requests.slice(1).every((r) => r.url.includes('%24skip=') || r.url.includes('$skip='))).to.equal(true)

    const c = loadCatalog({home, snapshotFile})
    const azure = c.offers.filter((x) => x.provider === 'azure')
    const by = (sku: string, region: string) => azure.find((x) => x.instanceType === sku && x.region === region)!
    expect(by('Standard_NC24ads_A100_v4', 'eastus')).to.deep.include({
      price: {onDemand: 3.673, spot: 0.5, currency: 'USD'},
      accelerator: {name: 'A100-80GB', count: 1},
      vcpus: 8,
      asOf: '2026-11-27',
      noticeSeconds: 30,
      priceStatus: 'list',
    })
    // Spot equal to on-demand: no spot market.
    expect(by('Standard_NC24ads_A100_v4', 'westeurope').price.spot).to.equal(null)
    // The newest meter wins.
    expect(by('Standard_NC24ads_A100_v4', 'westus2').price.onDemand).to.equal(3.6)
    // A SKU whose shape the catalog does not know is not invented.
    expect(azure.some((x) => x.instanceType === 'Standard_D2s_v5')).to.equal(false)
    expect(c.sources.find((s) => s.provider === 'azure')).to.deep.include({origin: 'refreshed', rows: 4})

    const state = readRefreshState(home).providers.azure
    expect(state).to.deep.include({
      lastAttempt: '2026-11-27T10:00:00.000Z',
      lastSuccess: '2026-11-27T10:00:00.000Z',
      lastError: null,
      lastRows: 4,
    })
  })

  it('retries throttling and server errors, then succeeds', async () => {
    const {home, snapshotFile} = fixtureSnapshot()
    fake.queueFaults({kind: 'status', status: 429, retryAfter: '1'}, {kind: 'status', status: 503})
    const retries: string[] = []
    const report = await refreshCatalog(options(home, snapshotFile, {onRetry: (p, e) => retries.push(`${p}: ${e.reason}`)}))
    expect(report.outcomes.find((o) => o.provider === 'azure')!.status).to.equal('refreshed')
    expect(retries).to.deep.equal(['azure: throttled (HTTP 429)', 'azure: HTTP 503'])
  })

  it('keeps the bundled snapshot when the refresh fails, and says so', async () => {
    const {home, snapshotFile} = fixtureSnapshot()
    fake.failAlways({kind: 'status', status: 500})
    const report = await refreshCatalog(options(home, snapshotFile, {retry: {retries: 1}}))
    const azure = report.outcomes.find((o) => o.provider === 'azure')!
    expect(azure.status).to.equal('failed')
    expect(azure.error!.code).to.equal('PROVIDER_HTTP')
    expect(azure.using).to.deep.equal({origin: 'bundled', asOf: '2026-01-01', fetchedAt: null, rows: 2})
    expect(azure.message).to.match(/kept the bundled snapshot/)
    expect(existsSync(refreshedFile(home, 'azure'))).to.equal(false)
    expect(schemaErrors('catalog-refresh', report)).to.equal('')
    const status = catalogStatus({home, snapshotFile})
    expect(status.providers.find((p) => p.provider === 'azure')!.lastRefresh).to.deep.include({ok: false})
  })

  it('keeps the last good refresh when a later one fails', async () => {
    const {home, snapshotFile} = fixtureSnapshot()
    await refreshCatalog(options(home, snapshotFile))
    const before = readFileSync(refreshedFile(home, 'azure'))
    fake.failAlways({kind: 'garbage'})
    const report = await refreshCatalog(options(home, snapshotFile, {now: () => new Date('2026-11-28T10:00:00Z')}))
    const azure = report.outcomes.find((o) => o.provider === 'azure')!
    expect(azure.status).to.equal('failed')
    expect(azure.error!.message).to.match(/not JSON/)
    expect(azure.using).to.deep.include({origin: 'refreshed', fetchedAt: '2026-11-27T10:00:00.000Z', rows: 4})
    expect(readFileSync(refreshedFile(home, 'azure')).equals(before)).to.equal(true)
    const state = readRefreshState(home).providers.azure
    expect(state.lastSuccess).to.equal('2026-11-27T10:00:00.000Z')
    expect(state.lastAttempt).to.equal('2026-11-28T10:00:00.000Z')
  })

  it('treats an empty answer as a failure rather than wiping the provider', async () => {
    const {home, snapshotFile} = fixtureSnapshot()
    fake.setItems([])
    const report = await refreshCatalog(options(home, snapshotFile))
    const azure = report.outcomes.find((o) => o.provider === 'azure')!
    expect(azure.status).to.equal('failed')
    expect(azure.error!.code).to.equal('PROVIDER_BAD_RESPONSE')
    expect(loadCatalog({home, snapshotFile}).offers.filter((o) => o.provider === 'azure')).to.have.length(2)
  })

  it('reports providers without a live refresh, and refuses them by name', async () => {
    const {home, snapshotFile} = fixtureSnapshot()
    const report = await refreshCatalog(options(home, snapshotFile))
    const gcp = report.outcomes.find((o) => o.provider === 'gcp')!
    expect(gcp).to.deep.include({status: 'unsupported', error: null})
    expect(gcp.using.origin).to.equal('bundled')
    for (const p of ['aws', 'aliyun', 'huaweicloud', 'tencentcloud'])
      expect(report.outcomes.find((o) => o.provider === p)!.status, p).to.equal('skipped')
    const err = await refreshCatalog(options(home, snapshotFile, {providers: ['gcp']})).catch((e: unknown) => e)
    expect(err).to.be.instanceOf(ProviderError)
    expect((err as ProviderError).code).to.equal('PROVIDER_NOT_SUPPORTED')
    const typo = await refreshCatalog(options(home, snapshotFile, {providers: ['azuer']})).catch((e: unknown) => e)
    expect(typo).to.be.instanceOf(UsageError)
    expect((typo as UsageError).message).to.include('did you mean "azure"')
  })

  it('classifies meters the way the price list names them', () => {
    expect(classifyItem(vmItem('Standard_NC6s_v3', 'eastus', 3.06))).to.equal('onDemand')
    expect(classifyItem(vmItem('Standard_NC6s_v3', 'eastus', 0.4, {spot: true}))).to.equal('spot')
    expect(classifyItem(vmItem('Standard_NC6s_v3', 'eastus', 0.6, {lowPriority: true}))).to.equal(null)
    expect(classifyItem(vmItem('Standard_NC6s_v3', 'eastus', 4, {windows: true}))).to.equal(null)
    expect(classifyItem({...vmItem('Standard_NC6s_v3', 'eastus', 4), type: 'Reservation', unitOfMeasure: '1 Hour'})).to.equal(null)
    expect(classifyItem(vmItem('Standard_NC6s_v3', 'eastus', 4, {currency: 'EUR'}))).to.equal(null)
    const p = collectPrices([vmItem('A', 'r', 2), vmItem('A', 'r', 1, {spot: true})])
    expect(p.get('A|r')).to.deep.include({onDemand: 2, spot: 1})
  })

  it('the fake filters like OData', () => {
    const pred = parseFilter("serviceName eq 'Virtual Machines' and (armSkuName eq 'A' or armSkuName eq 'B''s')")
    expect(pred({serviceName: 'Virtual Machines', armSkuName: "B's"})).to.equal(true)
    expect(pred({serviceName: 'Virtual Machines', armSkuName: 'C'})).to.equal(false)
  })
})
