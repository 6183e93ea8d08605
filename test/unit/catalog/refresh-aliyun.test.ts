import {expect} from 'chai'
import {existsSync, readFileSync} from 'node:fs'
import {Agent} from 'undici'

import {loadCatalog, refreshedFile} from '../../../src/catalog/catalog.js'
import {ALIYUN_SOURCE, instancePrice, newestPerZone} from '../../../src/catalog/refresh/aliyun.js'
import {readRefreshState, refreshCatalog, type RefreshOptions} from '../../../src/catalog/refresh/index.js'
import {FakeAliyunEcsServer} from '../../fakes/fake-aliyun-ecs-server.js'
import {fixtureSnapshot, offer} from './fixtures.js'
import {schemaErrors} from './helpers.js'

const KEY = {accessKeyId: 'LTAI5tCatalogRefresh01', accessKeySecret: 'catalog-refresh-aliyun-secret-000000'}

const ROWS = [
  offer({
    provider: 'aliyun',
    region: 'cn-beijing',
    instanceType: 'ecs.gn7i-c8g1.2xlarge',
    accelerator: {name: 'A10', count: 1},
    vcpus: 8,
    memoryGiB: 30,
    price: {onDemand: 19, spot: null, currency: 'CNY'},
    priceStatus: 'estimate',
    confidence: 'low',
    notes: 'third-party estimate',
  }),
  offer({
    provider: 'aliyun',
    region: 'cn-beijing',
    instanceType: 'ecs.gn7-c12g1.3xlarge',
    accelerator: {name: 'A100-40GB', count: 1},
    vcpus: 12,
    price: {onDemand: 16.4, spot: null, currency: 'CNY'},
    priceStatus: 'estimate',
    confidence: 'low',
  }),
  offer({
    provider: 'aliyun',
    region: 'cn-hangzhou',
    instanceType: 'ecs.gn7i-c8g1.2xlarge',
    accelerator: {name: 'A10', count: 1},
    vcpus: 8,
    memoryGiB: 30,
    price: {onDemand: 19, spot: null, currency: 'CNY'},
    priceStatus: 'estimate',
    confidence: 'low',
  }),
  offer({provider: 'azure', region: 'eastus', instanceType: 'Basic_A1', price: {onDemand: 0.023, spot: null, currency: 'USD'}}),
]

/** Finds the fake's key, and never this machine's ~/.aliyun. */
function aliyunEnv(url: string, key: {accessKeyId: string; accessKeySecret: string} | null = KEY): Record<string, string> {
  return {
    SKYHOP_ALIYUN_ENDPOINT: url,
    HOME: '/nonexistent/home',
    ...(key ? {ALIBABA_CLOUD_ACCESS_KEY_ID: key.accessKeyId, ALIBABA_CLOUD_ACCESS_KEY_SECRET: key.accessKeySecret} : {}),
  }
}

describe('catalog refresh: Alibaba Cloud DescribePrice + DescribeSpotPriceHistory (against the local fake ECS)', () => {
  let fake: FakeAliyunEcsServer
  let url: string
  let dispatcher: Agent

  beforeEach(async () => {
    fake = new FakeAliyunEcsServer({
      keys: [KEY],
      stock: {
        'cn-beijing': {'cn-beijing-h': {'ecs.gn7i-c8g1.2xlarge': 1}, 'cn-beijing-i': {'ecs.gn7i-c8g1.2xlarge': 1}},
        'cn-hangzhou': {'cn-hangzhou-k': {'ecs.gn7i-c8g1.2xlarge': 1}},
      },
      // cn-beijing-i's spot price is the pay-as-you-go price: no spot market there.
      spotPrices: {'cn-beijing-h': {'ecs.gn7i-c8g1.2xlarge': 3.1}, 'cn-beijing-i': {'ecs.gn7i-c8g1.2xlarge': 12.5}},
      // ecs.gn7-c12g1.3xlarge is not priced: DescribePrice answers InvalidInstanceType.NotFound.
      prices: {'ecs.gn7i-c8g1.2xlarge': 12.5},
    })
    url = await fake.start()
    dispatcher = new Agent({connect: {timeout: 2000}})
  })
  afterEach(async () => {
    await dispatcher.close()
    await fake.stop()
  })

  function options(home: string, snapshotFile: string, extra: Partial<RefreshOptions> = {}): RefreshOptions {
    return {
      home,
      snapshotFile,
      dispatcher,
      providers: ['aliyun'],
      env: aliyunEnv(url),
      now: () => new Date('2026-11-27T10:00:00Z'),
      sleep: async () => {},
      timeoutMs: 2000,
      ...extra,
    }
  }

  it('prices the known types per region (CNY), spot per zone, and keeps a type it cannot price', async () => {
    const {home, snapshotFile} = fixtureSnapshot(ROWS)
    const report = await refreshCatalog(options(home, snapshotFile))
    expect(schemaErrors('catalog-refresh', report)).to.equal('')
    const [o] = report.outcomes
    expect(o, o.message).to.deep.include({provider: 'aliyun', status: 'refreshed', rows: 4, error: null})
    expect(o.source).to.equal(`${ALIYUN_SOURCE} (credentials: environment (ALIBABA_CLOUD_ACCESS_KEY_ID))`)
    expect(o.message).to.include(
      'kept the previous rows of ecs.gn7-c12g1.3xlarge in cn-beijing: DescribePrice failed (InvalidInstanceType.NotFound)',
    )

    const rows = loadCatalog({home, snapshotFile}).offers.filter((x) => x.provider === 'aliyun')
    const at = (region: string, type: string, zone: string | null) =>
      rows.find((x) => x.region === region && x.instanceType === type && x.zone === zone)!
    expect(at('cn-beijing', 'ecs.gn7i-c8g1.2xlarge', 'cn-beijing-h')).to.deep.include({
      price: {onDemand: 12.5, spot: 3.1, currency: 'CNY'},
      priceStatus: 'list',
      confidence: 'high',
      asOf: '2026-11-27',
      source: ALIYUN_SOURCE,
      accelerator: {name: 'A10', count: 1},
      vcpus: 8,
      memoryGiB: 30,
      noticeSeconds: 300,
    })
    // The snapshot's estimate note no longer applies to a price the API gave.
    expect(at('cn-beijing', 'ecs.gn7i-c8g1.2xlarge', 'cn-beijing-h').notes).to.equal(undefined)
    expect(at('cn-beijing', 'ecs.gn7i-c8g1.2xlarge', 'cn-beijing-i')).to.deep.include({
      price: {onDemand: 12.5, spot: null, currency: 'CNY'},
      notes: 'spot price equals pay-as-you-go: no spot market',
    })
    // No spot price reported in the region: one row for the region.
    expect(at('cn-hangzhou', 'ecs.gn7i-c8g1.2xlarge', null)).to.deep.include({
      price: {onDemand: 12.5, spot: null, currency: 'CNY'},
      notes: 'no spot price reported in the last three hours',
    })
    // Not priced: the old row, untouched.
    expect(at('cn-beijing', 'ecs.gn7-c12g1.3xlarge', null)).to.deep.include({
      price: {onDemand: 16.4, spot: null, currency: 'CNY'},
      priceStatus: 'estimate',
      asOf: '2026-01-01',
      source: 'test fixture',
    })
    expect(rows).to.have.length(4)

    // Every call was signed (the fake verifies ACS3) and asked for what the catalog compares.
    const prices = fake.calls.filter((c) => c.action === 'DescribePrice')
    expect(prices.map((c) => c.params.InstanceType).sort()).to.deep.equal([
      'ecs.gn7-c12g1.3xlarge',
      'ecs.gn7i-c8g1.2xlarge',
      'ecs.gn7i-c8g1.2xlarge',
    ])
    expect(prices[0].params).to.deep.include({ResourceType: 'instance', PriceUnit: 'Hour'})
    expect(
      fake.calls
        .filter((c) => c.action === 'DescribeSpotPriceHistory')
        .map((c) => c.params.RegionId)
        .sort(),
    ).to.deep.equal(['cn-beijing', 'cn-hangzhou'])
    expect(readRefreshState(home).providers.aliyun).to.deep.include({lastSuccess: '2026-11-27T10:00:00.000Z', lastRows: 4})

    // A second refresh starts from the first one's rows (per zone) and the snapshot's: same rows, new date.
    const again = await refreshCatalog(options(home, snapshotFile, {now: () => new Date('2026-11-28T10:00:00Z')}))
    expect(again.outcomes[0]).to.deep.include({status: 'refreshed', rows: 4})
    const second = loadCatalog({home, snapshotFile}).offers.filter((x) => x.provider === 'aliyun')
    expect(second.map((x) => [x.region, x.instanceType, x.zone, x.asOf])).to.deep.equal([
      ['cn-beijing', 'ecs.gn7-c12g1.3xlarge', null, '2026-01-01'],
      ['cn-beijing', 'ecs.gn7i-c8g1.2xlarge', 'cn-beijing-h', '2026-11-28'],
      ['cn-beijing', 'ecs.gn7i-c8g1.2xlarge', 'cn-beijing-i', '2026-11-28'],
      ['cn-hangzhou', 'ecs.gn7i-c8g1.2xlarge', null, '2026-11-28'],
    ])
  })

  it('retries throttling (Throttling.User) and reports each retry', async () => {
    const {home, snapshotFile} = fixtureSnapshot(ROWS)
    fake.throttle(2, 'DescribePrice')
    const retries: string[] = []
    const report = await refreshCatalog(options(home, snapshotFile, {onRetry: (p, e) => retries.push(`${p}: ${e.reason}`)}))
    expect(report.outcomes[0].status).to.equal('refreshed')
    expect(retries).to.deep.equal(['aliyun: DescribePrice Throttling.User', 'aliyun: DescribePrice Throttling.User'])
    expect(fake.calls.filter((c) => c.code === 'Throttling.User')).to.have.length(2)
  })

  it('fails as a whole on a refused key and keeps the bundled rows, then the last refresh, without printing the secret', async () => {
    const {home, snapshotFile} = fixtureSnapshot(ROWS)
    const wrong = {accessKeyId: KEY.accessKeyId, accessKeySecret: 'not-the-secret-of-this-key-000000000'}
    const first = await refreshCatalog(options(home, snapshotFile, {env: aliyunEnv(url, wrong)}))
    const o = first.outcomes[0]
    expect(o.status).to.equal('failed')
    expect(o.error).to.deep.include({code: 'PROVIDER_AUTH'})
    expect(o.error!.details).to.deep.include({backendCode: 'SignatureDoesNotMatch', category: 'auth'})
    expect(o.using).to.deep.equal({origin: 'bundled', asOf: '2026-01-01', fetchedAt: null, rows: 3})
    expect(o.message).to.match(/kept the bundled snapshot/)
    expect(existsSync(refreshedFile(home, 'aliyun'))).to.equal(false)
    expect(JSON.stringify(first)).to.not.include(wrong.accessKeySecret)
    // One failed call is enough: the other types are not asked about with a refused key.
    expect(fake.calls.filter((c) => c.code === 'SignatureDoesNotMatch').length).to.be.below(5)

    await refreshCatalog(options(home, snapshotFile))
    const good = readFileSync(refreshedFile(home, 'aliyun'))
    const later = await refreshCatalog(
      options(home, snapshotFile, {env: aliyunEnv(url, wrong), now: () => new Date('2026-11-28T10:00:00Z')}),
    )
    expect(later.outcomes[0].status).to.equal('failed')
    expect(later.outcomes[0].using).to.deep.include({origin: 'refreshed', fetchedAt: '2026-11-27T10:00:00.000Z', rows: 4})
    expect(readFileSync(refreshedFile(home, 'aliyun')).equals(good)).to.equal(true)
    expect(readRefreshState(home).providers.aliyun.lastSuccess).to.equal('2026-11-27T10:00:00.000Z')
  })

  it('keeps the last data when every type fails, with the API error', async () => {
    const {home, snapshotFile} = fixtureSnapshot(ROWS)
    fake.inject({action: 'DescribePrice', code: 'InvalidInstanceType.NotFound', times: 10})
    const report = await refreshCatalog(options(home, snapshotFile))
    expect(report.outcomes[0].status).to.equal('failed')
    expect(report.outcomes[0].error!.details).to.deep.include({backendCode: 'InvalidInstanceType.NotFound'})
    expect(
      loadCatalog({home, snapshotFile})
        .offers.filter((x) => x.provider === 'aliyun')
        .map((x) => x.source),
    ).to.deep.equal(['test fixture', 'test fixture', 'test fixture'])
  })

  it('without credentials: skipped in a run over every provider, a clear error when named', async () => {
    const {home, snapshotFile} = fixtureSnapshot(ROWS)
    const env = {
      ...aliyunEnv(url, null),
      SKYHOP_AZURE_ENDPOINT: 'http://127.0.0.1:9/none',
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/c',
      AWS_CONFIG_FILE: '/nonexistent/c',
    }
    const all = await refreshCatalog(options(home, snapshotFile, {providers: undefined, env, retry: {retries: 0}}))
    const aliyun = all.outcomes.find((x) => x.provider === 'aliyun')!
    expect(aliyun.status, aliyun.message).to.equal('skipped')
    expect(aliyun.message).to.match(/no aliyun credentials found; kept the bundled snapshot/)
    const named = await refreshCatalog(options(home, snapshotFile, {env: aliyunEnv(url, null)}))
    expect(named.outcomes[0].error).to.deep.include({code: 'PROVIDER_NO_CREDENTIALS'})
    expect(named.outcomes[0].error!.message).to.equal('aliyun: no credentials found (looked at: environment; ~/.aliyun/config.json)')
    expect(named.outcomes[0].error!.hint).to.match(/ALIBABA_CLOUD_ACCESS_KEY_ID/)
    expect(fake.calls).to.have.length(0)
  })

  it('reads the instance line of a DescribePrice answer, not the total with the system disk', () => {
    // The documented answer shape (ECS API reference, DescribePrice response example).
    const answer = {
      RequestId: 'A3DC3196-379B-4F32-A2C5-B937134FAD8A',
      PriceInfo: {
        Price: {
          OriginalPrice: 2.4,
          DiscountPrice: 0,
          TradePrice: 2.4,
          Currency: 'CNY',
          DetailInfos: {
            DetailInfo: [
              {Resource: 'instanceType', OriginalPrice: 2.1, DiscountPrice: 0, TradePrice: 2.1},
              {Resource: 'systemDisk', OriginalPrice: 0.3, DiscountPrice: 0, TradePrice: 0.3},
            ],
          },
        },
        Rules: {Rule: []},
      },
    }
    expect(instancePrice(answer)).to.deep.equal({amount: 2.1, currency: 'CNY'})
    expect(instancePrice({PriceInfo: {Price: {TradePrice: 0.52, Currency: 'USD'}}})).to.deep.equal({amount: 0.52, currency: 'USD'})
    expect(instancePrice({PriceInfo: {Price: {TradePrice: 0}}})).to.equal(null)
    expect(instancePrice({})).to.equal(null)
    const zones = newestPerZone([
      {zone: 'a', price: {amount: 1}, timestamp: '2026-11-27T08:00:00Z'},
      {zone: 'a', price: {amount: 2}, timestamp: '2026-11-27T09:00:00Z'},
      {zone: 'b', price: {amount: 3}, timestamp: '2026-11-27T07:00:00Z'},
      {zone: '', price: {amount: 4}, timestamp: '2026-11-27T07:00:00Z'},
    ])
    expect([...zones]).to.deep.equal([
      ['a', 2],
      ['b', 3],
    ])
  })
})
