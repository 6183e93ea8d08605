// `skyhop catalog refresh` and `catalog status` in real processes, the refresh pointed
// at the local fake Azure Retail Prices server through SKYHOP_AZURE_ENDPOINT.
import {expect} from 'chai'

import {type FakeAzurePrices, startFakeAzurePrices, vmItem} from '../fakes/fake-azure-prices.js'
import {startFakeAwsPrices} from '../fakes/fake-aws-prices.js'
import {FakeEc2Server} from '../fakes/fake-ec2-server.js'
import {parseEnvelope, runCli, runCliAsync, tempHome} from '../helpers/cli.js'
import {schemaErrors} from '../unit/catalog/helpers.js'

describe('skyhop catalog refresh / status', () => {
  let fake: FakeAzurePrices
  beforeEach(async () => {
    fake = await startFakeAzurePrices({
      items: [
        vmItem('Standard_ND96isr_H100_v5', 'eastus', 98.32),
        vmItem('Standard_ND96isr_H100_v5', 'eastus', 39.5, {spot: true}),
        vmItem('Standard_NC24ads_A100_v4', 'westeurope', 4.1),
      ],
      pageSize: 2,
    })
  })
  afterEach(async () => fake.close())

  it('refreshes Azure, then status and offers show the refreshed prices', async () => {
    const home = tempHome()
    const env = {SKYHOP_AZURE_ENDPOINT: fake.endpoint}
    const r = await runCliAsync(['catalog', 'refresh', '--provider', 'azure', '--json'], {home, env})
    expect(r.code, r.stderr + r.stdout).to.equal(0)
    const report = parseEnvelope(r.stdout).result
    expect(schemaErrors('catalog-refresh', report)).to.equal('')
    expect(report.outcomes).to.have.length(1)
    expect(report.outcomes[0]).to.deep.include({provider: 'azure', status: 'refreshed', rows: 2})

    const s = runCli(['catalog', 'status', '--json'], {home})
    expect(s.code, s.stderr).to.equal(0)
    const status = parseEnvelope(s.stdout).result
    expect(schemaErrors('catalog-status', status)).to.equal('')
    const azure = status.providers.find((p: {provider: string}) => p.provider === 'azure')
    expect(azure).to.deep.include({origin: 'refreshed', rows: 2, refreshSupported: true})
    expect(azure.lastRefresh).to.deep.include({ok: true, error: null})
    expect(azure.ageSeconds).to.be.below(600)

    const o = parseEnvelope(runCli(['offers', '--provider', 'azure', '--accelerator', 'H100:8', '--json'], {home}).stdout).result
    expect(o.offers).to.have.length(1)
    // ND96isr_H100_v5: eight H100s, whatever the catalog said.
    expect(o.offers[0].offer).to.deep.include({
      instanceType: 'Standard_ND96isr_H100_v5',
      accelerator: {name: 'H100-80GB', count: 8},
      price: {onDemand: 98.32, spot: 39.5, currency: 'USD'},
    })
  })

  it('keeps the last good data when the provider fails, says so, and exits 4', async () => {
    const home = tempHome()
    fake.failAlways({kind: 'status', status: 503})
    const r = await runCliAsync(['catalog', 'refresh', '--provider', 'azure', '--timeout', '2'], {
      home,
      env: {SKYHOP_AZURE_ENDPOINT: fake.endpoint},
    })
    expect(r.code).to.equal(4)
    expect(r.stdout).to.match(/azure\s+failed\s+bundled/)
    expect(r.stdout).to.include('kept the bundled snapshot')
    expect(r.stderr).to.include('error[CATALOG_REFRESH_FAILED]')
    expect(r.stderr).to.match(/azure: HTTP 503; retrying in/)
    // The endpoint's query string never reaches the output.
    expect(r.stdout + r.stderr).to.not.include('$filter')
    const status = runCli(['catalog', 'status'], {home})
    expect(status.stdout).to.match(/azure\s+bundled\s+\d+.*FAILED \(PROVIDER_HTTP\)/)
    expect(status.stdout).to.include('azure: last refresh failed')
  })

  it('refuses a provider without a live refresh (exit 4) and an unknown one (exit 2)', () => {
    const home = tempHome()
    const gcp = runCli(['catalog', 'refresh', '--provider', 'gcp', '--json'], {home})
    expect(gcp.code).to.equal(4)
    expect(parseEnvelope(gcp.stdout).error!.code).to.equal('PROVIDER_NOT_SUPPORTED')
    const typo = runCli(['catalog', 'refresh', '--provider', 'azur'], {home})
    expect(typo.code).to.equal(2)
    expect(typo.stderr).to.include('did you mean "azure"')
  })

  it('refreshes AWS spot and on-demand prices with signed EC2 and Price List calls', async () => {
    const key = {accessKeyId: 'AKIDCATALOGCMDTEST01', secretAccessKey: 'catalog-command-test-secret-0000000000000'}
    // Zones of two regions the bundled snapshot prices p3.2xlarge in.
    const ec2 = new FakeEc2Server({
      keys: [key],
      capacity: {'us-east-1': {'us-east-1a': {'p3.2xlarge': 1}}, 'us-west-2': {'us-west-2b': {'p3.2xlarge': 1}}},
      spotPrices: {'us-east-1a': {'p3.2xlarge': 0.9}, 'us-west-2b': {'p3.2xlarge': 0.95}},
    })
    const url = await ec2.start()
    const pricing = await startFakeAwsPrices({
      keys: [key],
      products: [{instanceType: 'p3.2xlarge', regionCode: 'us-east-1', usdPerHour: 3.1}],
    })
    try {
      const home = tempHome()
      const env = {
        SKYHOP_AWS_ENDPOINT: url,
        SKYHOP_AWS_PRICING_ENDPOINT: pricing.url,
        AWS_ACCESS_KEY_ID: key.accessKeyId,
        AWS_SECRET_ACCESS_KEY: key.secretAccessKey,
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/c',
        AWS_CONFIG_FILE: '/nonexistent/c',
      }
      const r = await runCliAsync(['catalog', 'refresh', '--provider', 'aws', '--json'], {home, env})
      // Regions where the fake has no zones report no spot prices: on-demand rows only.
      expect(r.code, r.stderr + r.stdout).to.equal(0)
      const outcome = parseEnvelope(r.stdout).result.outcomes[0]
      expect(outcome).to.deep.include({provider: 'aws', status: 'refreshed'})
      expect(r.stdout).to.not.include(key.secretAccessKey)
      const o = parseEnvelope(
        runCli(['offers', '--provider', 'aws', '--accelerator', 'V100:1', '--region', 'us-east-1', '--spot', '--json'], {home}).stdout,
      ).result
      expect(
        o.offers.map((x: {offer: {zone: string; price: {onDemand: number; spot: number}}}) => [
          x.offer.zone,
          x.offer.price.onDemand,
          x.offer.price.spot,
        ]),
      ).to.deep.equal([['us-east-1a', 3.1, 0.9]])
    } finally {
      await ec2.stop()
      await pricing.close()
    }
  })

  it('status lists every provider of the bundled snapshot', () => {
    const s = runCli(['catalog', 'status', '--json'])
    expect(s.code, s.stderr).to.equal(0)
    const providers = parseEnvelope(s.stdout).result.providers.map((p: {provider: string}) => p.provider)
    expect(providers).to.include.members(['aws', 'gcp', 'azure', 'aliyun', 'huaweicloud', 'tencentcloud'])
  })
})
