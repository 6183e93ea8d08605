import {expect} from 'chai'
import {existsSync} from 'node:fs'
import {Agent} from 'undici'

import {loadCatalog, refreshedFile} from '../../../src/catalog/catalog.js'
import {refreshCatalog, type RefreshOptions} from '../../../src/catalog/refresh/index.js'
import {TENCENT_SOURCE} from '../../../src/catalog/refresh/tencent.js'
import {FakeTencentCvmServer} from '../../fakes/fake-tencent-cvm-server.js'
import {fixtureSnapshot, offer} from './fixtures.js'
import {schemaErrors} from './helpers.js'

const KEY = {secretId: 'AKIDcatalogRefreshTencent01', secretKey: 'catalog-refresh-tencent-secret-00000'}

const ROWS = [
  // Listed in a zone (the snapshot's intl doc price, USD).
  offer({
    provider: 'tencentcloud',
    region: 'ap-guangzhou',
    zone: 'ap-guangzhou-3',
    instanceType: 'GN7.2XLARGE32',
    accelerator: {name: 'T4', count: 1},
    vcpus: 8,
    memoryGiB: 32,
    price: {onDemand: 1.26, spot: null, currency: 'USD'},
  }),
  // A family, not an instance type: nothing to ask about.
  offer({
    provider: 'tencentcloud',
    region: 'ap-guangzhou',
    instanceType: 'GN10Xp.*',
    accelerator: {name: 'V100-32GB', count: 8},
    vcpus: 0,
    memoryGiB: 0,
    unknownFields: ['vcpus', 'memoryGiB'],
    price: {onDemand: null, spot: null, currency: 'USD'},
    priceStatus: 'unknown',
  }),
  offer({
    provider: 'tencentcloud',
    region: 'ap-guangzhou',
    instanceType: 'GN10Xp.*',
    accelerator: {name: 'V100-32GB', count: 1},
    vcpus: 0,
    memoryGiB: 0,
    unknownFields: ['vcpus', 'memoryGiB'],
    price: {onDemand: null, spot: null, currency: 'USD'},
    priceStatus: 'unknown',
  }),
  // Listed per region: asked about in every available zone of ap-shanghai.
  offer({
    provider: 'tencentcloud',
    region: 'ap-shanghai',
    instanceType: 'GN7.LARGE20',
    accelerator: {name: 'T4', count: 0.25},
    vcpus: 4,
    memoryGiB: 20,
    price: {onDemand: 0.49, spot: null, currency: 'USD'},
  }),
]

function tencentEnv(url: string, key: {secretId: string; secretKey: string} | null = KEY): Record<string, string> {
  return {
    SKYHOP_TENCENTCLOUD_ENDPOINT: url,
    HOME: '/nonexistent/home',
    ...(key ? {TENCENTCLOUD_SECRET_ID: key.secretId, TENCENTCLOUD_SECRET_KEY: key.secretKey} : {}),
  }
}

describe('catalog refresh: Tencent Cloud InquiryPriceRunInstances (against the local fake CVM)', () => {
  let fake: FakeTencentCvmServer
  let url: string
  let dispatcher: Agent

  beforeEach(async () => {
    fake = new FakeTencentCvmServer({
      keys: [KEY],
      stock: {
        'ap-guangzhou': {'ap-guangzhou-3': {'GN7.2XLARGE32': 1}, 'ap-guangzhou-4': {}},
        'ap-shanghai': {'ap-shanghai-2': {'GN7.LARGE20': 1}, 'ap-shanghai-3': {'GN7.LARGE20': 1}},
      },
      prices: {'GN7.2XLARGE32': 8.67, 'GN7.LARGE20': 3.41},
      spotPrices: {'ap-guangzhou-3': {'GN7.2XLARGE32': 2.6}, 'ap-shanghai-3': {'GN7.LARGE20': 3.41}},
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
      providers: ['tencentcloud'],
      env: tencentEnv(url),
      now: () => new Date('2026-11-27T10:00:00Z'),
      sleep: async () => {},
      timeoutMs: 2000,
      ...extra,
    }
  }

  it('prices each type per zone in CNY (China site), on-demand and spot, and keeps family rows', async () => {
    const {home, snapshotFile} = fixtureSnapshot(ROWS)
    const report = await refreshCatalog(options(home, snapshotFile))
    expect(schemaErrors('catalog-refresh', report)).to.equal('')
    const [o] = report.outcomes
    expect(o, o.message).to.deep.include({provider: 'tencentcloud', status: 'refreshed', rows: 5, error: null})
    expect(o.message).to.include('kept the previous rows of GN10Xp.* in ap-guangzhou: not a concrete instance type')

    const rows = loadCatalog({home, snapshotFile}).offers.filter((x) => x.provider === 'tencentcloud')
    const at = (type: string, zone: string | null) => rows.filter((x) => x.instanceType === type && x.zone === zone)
    expect(at('GN7.2XLARGE32', 'ap-guangzhou-3')[0]).to.deep.include({
      region: 'ap-guangzhou',
      price: {onDemand: 8.67, spot: 2.6, currency: 'CNY'},
      priceStatus: 'list',
      confidence: 'high',
      asOf: '2026-11-27',
      source: TENCENT_SOURCE,
      accelerator: {name: 'T4', count: 1},
      vcpus: 8,
      noticeSeconds: 120,
    })
    // Only the zone the catalog lists is asked about, though ap-guangzhou-4 exists.
    expect(rows.filter((x) => x.instanceType === 'GN7.2XLARGE32')).to.have.length(1)
    // A type listed per region: one row per available zone; no spot offering, or spot at the on-demand price, is no spot.
    expect(at('GN7.LARGE20', 'ap-shanghai-2')[0]).to.deep.include({
      price: {onDemand: 3.41, spot: null, currency: 'CNY'},
      notes: 'no spot offering in this zone',
    })
    expect(at('GN7.LARGE20', 'ap-shanghai-3')[0]).to.deep.include({
      price: {onDemand: 3.41, spot: null, currency: 'CNY'},
      notes: 'spot price equals on-demand: no spot market',
    })
    expect(at('GN7.LARGE20', 'ap-shanghai-2')[0].accelerator).to.deep.equal({name: 'T4', count: 0.25})
    // Family rows: as they were, both of them.
    expect(
      at('GN10Xp.*', null)
        .map((x) => [x.accelerator!.count, x.price.currency, x.source])
        .sort(),
    ).to.deep.equal([
      [1, 'USD', 'test fixture'],
      [8, 'USD', 'test fixture'],
    ])

    const inquiries = fake.calls.filter((c) => c.action === 'InquiryPriceRunInstances')
    expect(
      inquiries.map((c) => [c.params.InstanceType, (c.params.Placement as {Zone: string}).Zone, c.params.InstanceChargeType]).sort(),
    ).to.deep.equal(
      [
        ['GN7.2XLARGE32', 'ap-guangzhou-3', 'POSTPAID_BY_HOUR'],
        ['GN7.2XLARGE32', 'ap-guangzhou-3', 'SPOTPAID'],
        ['GN7.LARGE20', 'ap-shanghai-2', 'POSTPAID_BY_HOUR'],
        ['GN7.LARGE20', 'ap-shanghai-2', 'SPOTPAID'],
        ['GN7.LARGE20', 'ap-shanghai-3', 'POSTPAID_BY_HOUR'],
        ['GN7.LARGE20', 'ap-shanghai-3', 'SPOTPAID'],
      ].sort(),
    )
    // The image the price is asked with is the adapter's default, looked up per region.
    expect(inquiries.every((c) => c.params.ImageId === 'img-487zeit5')).to.equal(true)
    expect(fake.calls.filter((c) => c.action === 'DescribeZones').map((c) => c.region)).to.deep.equal(['ap-shanghai'])
  })

  it('retries RequestLimitExceeded and succeeds', async () => {
    const {home, snapshotFile} = fixtureSnapshot(ROWS)
    fake.throttle(3, 'InquiryPriceRunInstances')
    const retries: string[] = []
    const report = await refreshCatalog(options(home, snapshotFile, {onRetry: (p, e) => retries.push(`${p}: ${e.reason}`)}))
    expect(report.outcomes[0].status, report.outcomes[0].message).to.equal('refreshed')
    expect(report.outcomes[0].rows).to.equal(5)
    expect(retries).to.have.length(3)
    expect(retries.every((r) => r === 'tencentcloud: InquiryPriceRunInstances RequestLimitExceeded')).to.equal(true)
  })

  it('keeps the last good data when the key is refused, and says so', async () => {
    const {home, snapshotFile} = fixtureSnapshot(ROWS)
    const wrong = {secretId: KEY.secretId, secretKey: 'not-the-secret-key-of-this-id-000000'}
    const report = await refreshCatalog(options(home, snapshotFile, {env: tencentEnv(url, wrong)}))
    const [o] = report.outcomes
    expect(o.status).to.equal('failed')
    expect(o.error!.details).to.deep.include({backendCode: 'AuthFailure.SignatureFailure', category: 'auth'})
    expect(o.using).to.deep.equal({origin: 'bundled', asOf: '2026-01-01', fetchedAt: null, rows: 4})
    expect(o.message).to.match(/^refresh failed: .*; kept the bundled snapshot/)
    expect(JSON.stringify(report)).to.not.include(wrong.secretKey)
    expect(existsSync(refreshedFile(home, 'tencentcloud'))).to.equal(false)
  })

  it('keeps the row of a listed zone that cannot be priced, and prices the others', async () => {
    const inZone = (zone: string) => ({...ROWS[0], zone})
    const {home, snapshotFile} = fixtureSnapshot([inZone('ap-guangzhou-3'), inZone('ap-guangzhou-4')])
    fake.inject({
      action: 'InquiryPriceRunInstances',
      code: 'ResourceNotFound.InvalidZoneInstanceType',
      message: 'The instance type GN7.2XLARGE32 is not sold in ap-guangzhou-3.',
    })
    const report = await refreshCatalog(options(home, snapshotFile))
    const [o] = report.outcomes
    expect(o, o.message).to.deep.include({status: 'refreshed', rows: 2})
    expect(o.message).to.include('kept the previous rows of GN7.2XLARGE32 in ap-guangzhou-3: not sold in this zone now')
    const rows = loadCatalog({home, snapshotFile}).offers.filter((x) => x.provider === 'tencentcloud')
    expect(rows.map((x) => [x.zone, x.price.onDemand, x.price.currency, x.source]).sort()).to.deep.equal([
      ['ap-guangzhou-3', 1.26, 'USD', 'test fixture'],
      ['ap-guangzhou-4', 8.67, 'CNY', TENCENT_SOURCE],
    ])
  })

  it('keeps a type whose every zone fails, and fails when nothing could be priced', async () => {
    const {home, snapshotFile} = fixtureSnapshot(ROWS)
    fake.inject({
      action: 'InquiryPriceRunInstances',
      code: 'InvalidParameterValue',
      message: 'The value of InstanceType is invalid.',
      times: 100,
    })
    const report = await refreshCatalog(options(home, snapshotFile))
    const [o] = report.outcomes
    expect(o.status).to.equal('failed')
    expect(o.error!.details).to.deep.include({backendCode: 'InvalidParameterValue'})
    expect(loadCatalog({home, snapshotFile}).offers.filter((x) => x.provider === 'tencentcloud')).to.have.length(4)
  })

  it('without credentials, names where it looked', async () => {
    const {home, snapshotFile} = fixtureSnapshot(ROWS)
    const report = await refreshCatalog(options(home, snapshotFile, {env: tencentEnv(url, null)}))
    expect(report.outcomes[0].error).to.deep.include({
      code: 'PROVIDER_NO_CREDENTIALS',
      message:
        'tencentcloud: no credentials found (looked at: environment; profile default in ~/.tencentcloud/credentials; ~/.tccli/default.credential)',
    })
    expect(fake.calls).to.have.length(0)
  })
})
