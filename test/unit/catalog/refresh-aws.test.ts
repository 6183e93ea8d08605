import {expect} from 'chai'
import {Agent} from 'undici'

import {loadCatalog} from '../../../src/catalog/catalog.js'
import {latestPrices, regionOffers, knownByRegion} from '../../../src/catalog/refresh/aws.js'
import {refreshCatalog, type RefreshOptions} from '../../../src/catalog/refresh/index.js'
import {FakeEc2Server} from '../../fakes/fake-ec2-server.js'
import {fixtureSnapshot} from './fixtures.js'

const KEY = {accessKeyId: 'AKIDCATALOGTEST0001', secretAccessKey: 'catalog-test-secret-key-0000000000000000'}

/** AWS settings that find the fake's key and never look at this machine's files or metadata. */
function awsEnv(url: string, withKey = true): Record<string, string> {
  return {
    SKYHOP_AWS_ENDPOINT: url,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
    AWS_CONFIG_FILE: '/nonexistent/config',
    ...(withKey ? {AWS_ACCESS_KEY_ID: KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey} : {}),
  }
}

describe('catalog refresh: AWS spot prices (against the local fake EC2)', () => {
  let fake: FakeEc2Server
  let url: string
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
    dispatcher = new Agent({connect: {timeout: 2000}})
  })
  afterEach(async () => {
    await dispatcher.close()
    await fake.stop()
  })

  function options(home: string, snapshotFile: string, extra: Partial<RefreshOptions> = {}): RefreshOptions {
    return {home, snapshotFile, dispatcher, env: awsEnv(url), now: () => new Date('2026-11-27T10:00:00Z'), sleep: async () => {}, ...extra}
  }

  it('prices each zone at its current spot price and keeps the known on-demand price and shape', async () => {
    const {home, snapshotFile} = fixtureSnapshot()
    const report = await refreshCatalog(options(home, snapshotFile, {providers: ['aws']}))
    const aws = report.outcomes[0]
    expect(aws, aws.message).to.deep.include({provider: 'aws', status: 'refreshed', requests: 2})
    const offers = loadCatalog({home, snapshotFile}).offers.filter((o) => o.provider === 'aws')
    const at = (type: string, zone: string | null) => offers.find((o) => o.instanceType === type && o.zone === zone)!
    expect(at('p4d.24xlarge', 'us-east-1a')).to.deep.include({region: 'us-east-1', price: {onDemand: 21.96, spot: 7.5, currency: 'USD'}, accelerator: {name: 'A100-40GB', count: 8}, asOf: '2026-11-27', noticeSeconds: 120})
    expect(at('p4d.24xlarge', 'us-east-1b').price.spot).to.equal(8.25)
    expect(at('p4d.24xlarge', 'us-west-2a').price.spot).to.equal(9.1)
    // Spot at the on-demand price is no spot market.
    expect(at('p5.48xlarge', 'us-east-1a').price.spot).to.equal(null)
    expect(at('p5.48xlarge', 'us-east-1a').notes).to.match(/no spot market/)
    // No spot price reported: one region-level row with on-demand only.
    expect(at('p5.4xlarge', null)).to.deep.include({price: {onDemand: 6.88, spot: null, currency: 'USD'}})
    for (const o of offers) expect(o.source).to.match(/^AWS EC2 DescribeSpotPriceHistory \(spot\); on-demand from test fixture/)
    // Every call was SigV4-signed with the key (the fake verifies signatures).
    const actions = fake.calls.map((c) => c.action)
    expect(actions.filter((a) => a === 'DescribeSpotPriceHistory')).to.have.length(2)
  })

  it('is skipped without credentials unless asked for by name', async () => {
    const {home, snapshotFile} = fixtureSnapshot()
    const all = await refreshCatalog(options(home, snapshotFile, {env: {...awsEnv(url, false), SKYHOP_AZURE_ENDPOINT: 'http://127.0.0.1:9/none'}, retry: {retries: 0}}))
    const aws = all.outcomes.find((o) => o.provider === 'aws')!
    expect(aws.status, aws.message).to.equal('skipped')
    expect(aws.using.origin).to.equal('bundled')
    const named = await refreshCatalog(options(home, snapshotFile, {providers: ['aws'], env: awsEnv(url, false)}))
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
