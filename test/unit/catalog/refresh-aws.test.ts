import {expect} from 'chai'
import {Agent} from 'undici'

import {loadCatalog} from '../../../src/catalog/catalog.js'
import {latestPrices, regionOffers, knownByRegion} from '../../../src/catalog/refresh/aws.js'
import {refreshCatalog, type RefreshOptions} from '../../../src/catalog/refresh/index.js'
import {type FakeAwsPrices, startFakeAwsPrices} from '../../fakes/fake-aws-prices.js'
import {FakeEc2Server} from '../../fakes/fake-ec2-server.js'
import {getProductsBody, onDemandByRegion} from '../../../src/catalog/refresh/aws-pricelist.js'
import {fixtureSnapshot} from './fixtures.js'

const KEY = {accessKeyId: 'AKIDCATALOGTEST0001', secretAccessKey: 'catalog-test-secret-key-0000000000000000'}

/** AWS settings that find the fakes' key and never look at this machine's files or metadata. */
function awsEnv(url: string, pricingUrl: string, withKey = true): Record<string, string> {
  return {
    SKYHOP_AWS_ENDPOINT: url,
    SKYHOP_AWS_PRICING_ENDPOINT: pricingUrl,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
    AWS_CONFIG_FILE: '/nonexistent/config',
    // Runs over every provider look for Alibaba and Tencent profile files under HOME.
    HOME: '/nonexistent/home',
    ...(withKey ? {AWS_ACCESS_KEY_ID: KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey} : {}),
  }
}

describe('catalog refresh: AWS spot prices (against the local fake EC2)', () => {
  let fake: FakeEc2Server
  let url: string
  let prices: FakeAwsPrices
  let dispatcher: Agent

  beforeEach(async () => {
    fake = new FakeEc2Server({
      keys: [KEY],
      capacity: {
        'us-east-1': {'us-east-1a': {'p4d.24xlarge': 1, 'p5.48xlarge': 1}, 'us-east-1b': {'p4d.24xlarge': 1}},
        'us-west-2': {'us-west-2a': {'p4d.24xlarge': 1}},
      },
      spotPrices: {
        'us-east-1a': {'p4d.24xlarge': 7.5, 'p5.48xlarge': 55.04},
        'us-east-1b': {'p4d.24xlarge': 8.25},
        'us-west-2a': {'p4d.24xlarge': 9.1},
      },
    })
    url = await fake.start()
    prices = await startFakeAwsPrices({
      keys: [KEY],
      // p4d's on-demand price moved since the snapshot; p5.4xlarge is not in the list.
      products: [
        {instanceType: 'p4d.24xlarge', regionCode: 'us-east-1', usdPerHour: 20.5},
        {instanceType: 'p4d.24xlarge', regionCode: 'us-west-2', usdPerHour: 20.6},
        {instanceType: 'p4d.24xlarge', regionCode: 'us-east-1', usdPerHour: 99, operatingSystem: 'Windows'},
        {instanceType: 'p5.48xlarge', regionCode: 'us-east-1', usdPerHour: 55.04},
      ],
      pageSize: 1,
    })
    dispatcher = new Agent({connect: {timeout: 2000}})
  })
  afterEach(async () => {
    await dispatcher.close()
    await fake.stop()
    await prices.close()
  })

  function options(home: string, snapshotFile: string, extra: Partial<RefreshOptions> = {}): RefreshOptions {
    return {
      home,
      snapshotFile,
      dispatcher,
      env: awsEnv(url, prices.url),
      now: () => new Date('2026-11-27T10:00:00Z'),
      sleep: async () => {},
      ...extra,
    }
  }

  it('prices each zone at its current spot price and keeps the known on-demand price and shape', async () => {
    const {home, snapshotFile} = fixtureSnapshot()
    const report = await refreshCatalog(options(home, snapshotFile, {providers: ['aws']}))
    const aws = report.outcomes[0]
    // Three GetProducts queries (one per known type) and one DescribeSpotPriceHistory per region.
    expect(aws, aws.message).to.deep.include({provider: 'aws', status: 'refreshed', requests: 5})
    const offers = loadCatalog({home, snapshotFile}).offers.filter((o) => o.provider === 'aws')
    const at = (type: string, zone: string | null) => offers.find((o) => o.instanceType === type && o.zone === zone)!
    expect(at('p4d.24xlarge', 'us-east-1a')).to.deep.include({
      region: 'us-east-1',
      price: {onDemand: 20.5, spot: 7.5, currency: 'USD'},
      accelerator: {name: 'A100-40GB', count: 8},
      asOf: '2026-11-27',
      noticeSeconds: 120,
    })
    expect(at('p4d.24xlarge', 'us-east-1a').source).to.equal('AWS Price List GetProducts (on-demand) + EC2 DescribeSpotPriceHistory (spot)')
    expect(at('p4d.24xlarge', 'us-east-1b').price.spot).to.equal(8.25)
    expect(at('p4d.24xlarge', 'us-west-2a').price).to.deep.equal({onDemand: 20.6, spot: 9.1, currency: 'USD'})
    // Spot at the on-demand price is no spot market.
    expect(at('p5.48xlarge', 'us-east-1a').price.spot).to.equal(null)
    expect(at('p5.48xlarge', 'us-east-1a').notes).to.match(/no spot market/)
    // No spot price reported and not in the price list: on-demand kept from the catalog.
    expect(at('p5.4xlarge', null)).to.deep.include({
      price: {onDemand: 6.88, spot: null, currency: 'USD'},
      source: 'AWS EC2 DescribeSpotPriceHistory (spot); on-demand from test fixture',
    })
    expect(at('p5.4xlarge', null).notes).to.match(/on-demand price as of 2026-01-01; no spot price reported/)
    // The price list was asked for Linux, shared tenancy, no pre-installed software, paging through.
    expect(prices.requests.every((r) => r.status === 200)).to.equal(true)
    expect(prices.requests[0].filters).to.deep.include({Field: 'operatingSystem', Value: 'Linux'})
    // Every call was SigV4-signed with the key (the fake verifies signatures).
    const actions = fake.calls.map((c) => c.action)
    expect(actions.filter((a) => a === 'DescribeSpotPriceHistory')).to.have.length(2)
  })

  it('is skipped without credentials unless asked for by name', async () => {
    const {home, snapshotFile} = fixtureSnapshot()
    const all = await refreshCatalog(
      options(home, snapshotFile, {
        env: {...awsEnv(url, prices.url, false), SKYHOP_AZURE_ENDPOINT: 'http://127.0.0.1:9/none'},
        retry: {retries: 0},
      }),
    )
    const aws = all.outcomes.find((o) => o.provider === 'aws')!
    expect(aws.status, aws.message).to.equal('skipped')
    expect(aws.using.origin).to.equal('bundled')
    const named = await refreshCatalog(options(home, snapshotFile, {providers: ['aws'], env: awsEnv(url, prices.url, false)}))
    expect(named.outcomes[0].status).to.equal('failed')
    expect(named.outcomes[0].error!.code).to.equal('PROVIDER_NO_CREDENTIALS')
  })

  it('keeps the previous prices of a region that refuses, and fails only when all do', async () => {
    const {home, snapshotFile} = fixtureSnapshot()
    fake.options.optInRequiredRegions = ['us-west-2']
    const report = await refreshCatalog(options(home, snapshotFile, {providers: ['aws']}))
    expect(report.outcomes[0].status).to.equal('refreshed')
    expect(report.outcomes[0].message).to.match(/us-west-2: .*kept its previous prices/)
    const west = loadCatalog({home, snapshotFile}).offers.filter((o) => o.provider === 'aws' && o.region === 'us-west-2')
    expect(west.map((o) => [o.zone, o.price.spot, o.source])).to.deep.equal([[null, 9.73, 'test fixture']])
  })

  it("keeps the catalog's on-demand prices when the price list refuses, and retries its throttling", async () => {
    const {home, snapshotFile} = fixtureSnapshot()
    prices.throttle(2)
    const first = await refreshCatalog(options(home, snapshotFile, {providers: ['aws']}))
    expect(first.outcomes[0].status).to.equal('refreshed')
    expect(prices.requests.slice(0, 2).map((r) => r.status)).to.deep.equal([400, 400])
    prices.denyAll(true)
    const denied = await refreshCatalog(options(home, snapshotFile, {providers: ['aws']}))
    expect(denied.outcomes[0].status).to.equal('refreshed')
    expect(denied.outcomes[0].message).to.match(/price list: .*HTTP 400.*on-demand prices kept from the catalog/)
    const p4d = loadCatalog({home, snapshotFile}).offers.find(
      (o) => o.provider === 'aws' && o.instanceType === 'p4d.24xlarge' && o.zone === 'us-east-1a',
    )!
    // The last refresh's price list value (20.5) is what the catalog knew.
    expect(p4d.price).to.deep.equal({onDemand: 20.5, spot: 7.5, currency: 'USD'})
  })

  it('reads GetProducts documents', () => {
    const body = JSON.parse(getProductsBody('p5.48xlarge', 'tok'))
    expect(body).to.deep.include({ServiceCode: 'AmazonEC2', NextToken: 'tok', FormatVersion: 'aws_v1'})
    const doc = (region: string, usd: string, unit = 'Hrs') =>
      JSON.stringify({
        product: {attributes: {regionCode: region}},
        terms: {OnDemand: {a: {priceDimensions: {b: {unit, pricePerUnit: {USD: usd}}}}}},
      })
    const m = onDemandByRegion([
      doc('us-east-1', '55.0400000'),
      doc('eu-west-1', '0.0000000'),
      doc('us-west-2', '3', 'Quantity'),
      'not json',
    ])
    expect([...m]).to.deep.equal([['us-east-1', 55.04]])
  })

  it('picks the newest price per zone', () => {
    const latest = latestPrices([
      {instanceType: 't', zone: 'a', price: 1, timestamp: '2026-01-01T00:00:00Z'},
      {instanceType: 't', zone: 'a', price: 2, timestamp: '2026-01-02T00:00:00Z'},
      {instanceType: 't', zone: 'b', price: 3, timestamp: '2026-01-01T00:00:00Z'},
    ])
    expect([...latest.values()].map((p) => p.price)).to.deep.equal([2, 3])
    const known = knownByRegion([])
    expect(known.size).to.equal(0)
    expect(regionOffers('r', new Map(), [], '2026-01-01')).to.deep.equal([])
  })
})
