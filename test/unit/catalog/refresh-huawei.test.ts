import {expect} from 'chai'
import {existsSync} from 'node:fs'
import {Agent} from 'undici'

import {loadCatalog, refreshedFile} from '../../../src/catalog/catalog.js'
import {bssBase, HUAWEI_SOURCE, notAnEcsFlavor, ratingPrice, ratingRequest} from '../../../src/catalog/refresh/huawei.js'
import {refreshCatalog, type RefreshOptions} from '../../../src/catalog/refresh/index.js'
import {FakeHuaweiBss} from '../../fakes/fake-huawei-bss-prices.js'
import {fixtureSnapshot, offer} from './fixtures.js'
import {schemaErrors} from './helpers.js'

const KEY = {ak: 'HPUACATALOGREFRESH01', sk: 'catalog-refresh-huawei-secret-key-000000'}
const DOMAIN = '0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e'
const PROJECTS = {'cn-north-4': '0a1b2c3d4e5f60718293a4b5c6d7e8f9', 'cn-east-3': '1a2b3c4d5e6f70819203a4b5c6d7e8f9'}

const ROWS = [
  offer({
    provider: 'huaweicloud',
    region: 'cn-north-4',
    instanceType: 'p2s.2xlarge.8',
    accelerator: {name: 'V100-32GB', count: 1},
    vcpus: 8,
    memoryGiB: 64,
    price: {onDemand: null, spot: null, currency: 'CNY'},
    priceStatus: 'unknown',
  }),
  offer({
    provider: 'huaweicloud',
    region: 'cn-east-3',
    instanceType: 'p2s.2xlarge.8',
    accelerator: {name: 'V100-32GB', count: 1},
    vcpus: 8,
    memoryGiB: 64,
    price: {onDemand: 30, spot: 9, currency: 'CNY'},
  }),
  // An ECS flavor BSS does not know here: CBC.99006006.
  offer({
    provider: 'huaweicloud',
    region: 'cn-north-4',
    instanceType: 'kat1.8xlarge',
    accelerator: {name: 'Ascend910', count: 8},
    vcpus: 192,
    memoryGiB: 768,
    price: {onDemand: null, spot: null, currency: 'CNY'},
    priceStatus: 'unknown',
  }),
  // ModelArts flavors: not ECS, never asked about.
  offer({
    provider: 'huaweicloud',
    region: 'cn-north-4',
    instanceType: 'Snt9B',
    accelerator: {name: 'Ascend910B', count: 8},
    vcpus: 0,
    memoryGiB: 0,
    unknownFields: ['vcpus', 'memoryGiB'],
    price: {onDemand: null, spot: null, currency: 'CNY'},
    priceStatus: 'unknown',
  }),
  offer({
    provider: 'huaweicloud',
    region: 'cn-east-3',
    instanceType: 'modelarts.bm.snt9.xlarge.8',
    accelerator: {name: 'Ascend910', count: 8},
    vcpus: 192,
    memoryGiB: 768,
    price: {onDemand: null, spot: null, currency: 'CNY'},
    priceStatus: 'unknown',
  }),
]

function huaweiEnv(url: string, extra: Record<string, string> = {}, key: {ak: string; sk: string} | null = KEY): Record<string, string> {
  return {SKYHOP_HUAWEICLOUD_ENDPOINT: url, ...(key ? {HUAWEICLOUD_SDK_AK: key.ak, HUAWEICLOUD_SDK_SK: key.sk} : {}), ...extra}
}

describe('catalog refresh: Huawei Cloud BSS ListOnDemandResourceRatings (against a local fake)', () => {
  let fake: FakeHuaweiBss
  let url: string
  let dispatcher: Agent

  beforeEach(async () => {
    fake = new FakeHuaweiBss({
      keys: [KEY],
      domainId: DOMAIN,
      projects: PROJECTS,
      prices: {'cn-north-4': {'p2s.2xlarge.8': 28.5}, 'cn-east-3': {'p2s.2xlarge.8': 27.9}},
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
      providers: ['huaweicloud'],
      env: huaweiEnv(url),
      now: () => new Date('2026-11-27T10:00:00Z'),
      sleep: async () => {},
      timeoutMs: 2000,
      ...extra,
    }
  }

  it('prices the ECS flavors per region in CNY, finds the account and a project through IAM, and keeps the rest', async () => {
    const {home, snapshotFile} = fixtureSnapshot(ROWS)
    const report = await refreshCatalog(options(home, snapshotFile))
    expect(schemaErrors('catalog-refresh', report)).to.equal('')
    const [o] = report.outcomes
    expect(o, o.message).to.deep.include({provider: 'huaweicloud', status: 'refreshed', rows: 5, error: null})
    expect(o.endpoint).to.equal(`${url}/`)
    expect(o.message).to.include('kept the previous rows of kat1.8xlarge in cn-north-4: ListOnDemandResourceRatings failed (CBC.99006006)')
    expect(o.message).to.include(
      'kept the previous rows of modelarts.bm.snt9.xlarge.8 in cn-east-3: a ModelArts resource flavor, not an ECS flavor',
    )
    expect(o.message).to.include('kept the previous rows of Snt9B in cn-north-4: not an ECS flavor name')

    const rows = loadCatalog({home, snapshotFile}).offers.filter((x) => x.provider === 'huaweicloud')
    const at = (region: string, type: string) => rows.find((x) => x.region === region && x.instanceType === type)!
    expect(at('cn-north-4', 'p2s.2xlarge.8')).to.deep.include({
      zone: null,
      price: {onDemand: 28.5, spot: null, currency: 'CNY'},
      priceStatus: 'list',
      confidence: 'high',
      asOf: '2026-11-27',
      source: HUAWEI_SOURCE,
      accelerator: {name: 'V100-32GB', count: 1},
      notes: 'BSS quotes no spot prices',
      noticeSeconds: 0,
    })
    // A spot price the catalog had stays, dated, since BSS has none.
    expect(at('cn-east-3', 'p2s.2xlarge.8')).to.deep.include({
      price: {onDemand: 27.9, spot: 9, currency: 'CNY'},
      notes: 'spot price as of 2026-01-01 (BSS quotes no spot prices)',
    })
    expect(at('cn-north-4', 'Snt9B')).to.deep.include({source: 'test fixture', priceStatus: 'unknown'})
    expect(rows).to.have.length(5)

    // IAM first (the account id and a project), then one signed inquiry per ECS flavor.
    expect(fake.calls.filter((c) => c.action !== 'ListOnDemandResourceRatings').map((c) => c.action)).to.deep.equal([
      'KeystoneListAuthDomains',
      'KeystoneListAuthProjects',
    ])
    const bss = fake.bssCalls()
    expect(bss).to.have.length(3)
    expect(bss.every((c) => c.headers['x-domain-id'] === DOMAIN)).to.equal(true)
    const body = bss.find((c) => c.status === 200 && JSON.stringify(c.body).includes('cn-north-4'))!.body
    expect(body).to.deep.equal(ratingRequest(PROJECTS['cn-north-4'], 'p2s.2xlarge.8', 'cn-north-4'))
  })

  it('uses the configured account and project ids without asking IAM', async () => {
    const {home, snapshotFile} = fixtureSnapshot(ROWS)
    const env = huaweiEnv(url, {HUAWEICLOUD_SDK_DOMAIN_ID: DOMAIN, HUAWEICLOUD_SDK_PROJECT_ID: PROJECTS['cn-east-3']})
    const report = await refreshCatalog(options(home, snapshotFile, {env}))
    expect(report.outcomes[0].status, report.outcomes[0].message).to.equal('refreshed')
    expect(fake.calls.map((c) => c.action).every((a) => a === 'ListOnDemandResourceRatings')).to.equal(true)
    expect(fake.bssCalls().every((c) => (c.body as {project_id: string}).project_id === PROJECTS['cn-east-3'])).to.equal(true)
  })

  it('retries BSS flow control (HTTP 429 CBC.0250) and reports each retry', async () => {
    const {home, snapshotFile} = fixtureSnapshot(ROWS)
    fake.throttle(2)
    const retries: string[] = []
    const report = await refreshCatalog(options(home, snapshotFile, {onRetry: (p, e) => retries.push(`${p}: ${e.reason}`)}))
    expect(report.outcomes[0].status, report.outcomes[0].message).to.equal('refreshed')
    expect(retries).to.deep.equal(['huaweicloud: throttled (HTTP 429)', 'huaweicloud: throttled (HTTP 429)'])
    expect(fake.bssCalls().filter((c) => c.code === 'CBC.0250')).to.have.length(2)
  })

  it('keeps the bundled data when BSS refuses the account (CBC.0151), and says so', async () => {
    const {home, snapshotFile} = fixtureSnapshot(ROWS)
    fake.denyAll()
    const report = await refreshCatalog(options(home, snapshotFile))
    const [o] = report.outcomes
    expect(o.status).to.equal('failed')
    expect(o.error).to.deep.include({code: 'PROVIDER_AUTH'})
    expect(o.error!.details).to.deep.include({backendCode: 'CBC.0151', category: 'auth', scope: 'provider'})
    expect(o.error!.hint).to.match(/Billing Center/)
    expect(o.using).to.deep.equal({origin: 'bundled', asOf: '2026-01-01', fetchedAt: null, rows: 5})
    expect(o.message).to.match(/kept the bundled snapshot/)
    expect(existsSync(refreshedFile(home, 'huaweicloud'))).to.equal(false)
    // A refusal of the account stops the run: no inquiry after the first refused one per worker.
    expect(fake.bssCalls().length).to.be.at.most(2)
  })

  it('fails on a bad signature without printing the secret', async () => {
    const {home, snapshotFile} = fixtureSnapshot(ROWS)
    const wrong = {ak: KEY.ak, sk: 'not-the-secret-key-of-this-ak-0000000000'}
    const report = await refreshCatalog(
      options(home, snapshotFile, {
        env: huaweiEnv(url, {HUAWEICLOUD_SDK_DOMAIN_ID: DOMAIN, HUAWEICLOUD_SDK_PROJECT_ID: PROJECTS['cn-north-4']}, wrong),
      }),
    )
    const [o] = report.outcomes
    expect(o.status).to.equal('failed')
    expect(o.error!.details).to.deep.include({backendCode: 'APIGW.0301'})
    expect(JSON.stringify(report)).to.not.include(wrong.sk)
  })

  it('fails, keeping the data, when no row is an ECS flavor (the bundled snapshot lists ModelArts flavors)', async () => {
    const {home, snapshotFile} = fixtureSnapshot(ROWS.slice(3))
    const report = await refreshCatalog(options(home, snapshotFile))
    const [o] = report.outcomes
    expect(o.status).to.equal('failed')
    expect(o.error!.message).to.match(/none of the catalog's Huawei Cloud rows is an ECS flavor BSS can price/)
    expect(o.using.origin).to.equal('bundled')
    expect(fake.calls).to.have.length(0)
  })

  it('without credentials, says which variables it looked for', async () => {
    const {home, snapshotFile} = fixtureSnapshot(ROWS)
    const report = await refreshCatalog(options(home, snapshotFile, {env: huaweiEnv(url, {}, null)}))
    expect(report.outcomes[0].error).to.deep.include({
      code: 'PROVIDER_NO_CREDENTIALS',
      message: 'huaweicloud: no credentials found (looked at: environment (HUAWEICLOUD_SDK_AK))',
    })
    expect(report.outcomes[0].error!.hint).to.match(/HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK/)
  })

  it('reads the documented answer and builds the documented request', () => {
    expect(
      ratingPrice({
        amount: 28.5,
        official_website_amount: 30,
        discount_amount: 1.5,
        measure_id: 1,
        currency: 'CNY',
        product_rating_results: [{id: '1', amount: 28.5}],
      }),
    ).to.deep.equal({amount: 28.5, currency: 'CNY'})
    // measure_id 3: fen, a hundredth of a yuan; an empty currency is CNY.
    expect(ratingPrice({amount: 2850, measure_id: 3, currency: ''})).to.deep.equal({amount: 28.5, currency: 'CNY'})
    expect(ratingPrice({amount: 3.9, measure_id: 1, currency: 'USD'})).to.deep.equal({amount: 3.9, currency: 'USD'})
    expect(ratingPrice({amount: 1, measure_id: 1, currency: 'EUR'})).to.match(/EUR/)
    expect(ratingPrice({amount: 1, measure_id: 7})).to.match(/measure_id 7/)
    expect(ratingPrice({measure_id: 1})).to.match(/no amount/)
    expect(ratingRequest('p', 'c6.large.2', 'cn-north-4')).to.deep.include({project_id: 'p'})
    expect((ratingRequest('p', 'c6.large.2', 'cn-north-4').product_infos as Array<Record<string, unknown>>)[0]).to.deep.include({
      resource_spec: 'c6.large.2.linux',
      usage_measure_id: 4,
      usage_value: 1,
      usage_factor: 'Duration',
    })
    expect(notAnEcsFlavor('p2s.2xlarge.8')).to.equal(null)
    expect(notAnEcsFlavor('kat2ne.48xlarge.8.313t')).to.equal(null)
    expect(notAnEcsFlavor('Snt9B23')).to.match(/not an ECS flavor/)
    expect(notAnEcsFlavor('modelarts.bm.snt9.xlarge.8')).to.match(/ModelArts/)
    expect(bssBase('https://{service}.example.test/{region}/', 'cn-north-4')).to.equal('https://bss.example.test/cn-north-4')
  })
})
