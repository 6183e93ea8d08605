import {expect} from 'chai'

import {loadCatalog} from '../../../src/catalog/catalog.js'
import {checkProviders, checkRegions, parseAcceleratorFilter, parseMoney, queryOffers} from '../../../src/catalog/query.js'
import {searchOffers} from '../../../src/catalog/offer-search.js'
import {ExitCode, UsageError} from '../../../src/errors.js'
import {fixtureSnapshot} from './fixtures.js'

describe('catalog: offer queries', () => {
  const catalog = loadCatalog(fixtureSnapshot())
  const registry = catalog.registry
  const types = (q: Parameters<typeof queryOffers>[1]) =>
    queryOffers(catalog, q).offers.map((r) => `${r.offer.provider}:${r.offer.instanceType}:${r.offer.region}`)

  describe('parsing', () => {
    it('reads NAME, NAME:N, NAME:N+, NAME:A..B and comma-separated names', () => {
      expect(parseAcceleratorFilter('H100:8', registry)).to.deep.equal({names: ['H100-80GB'], count: {min: 8, max: 8}, text: 'H100:8'})
      expect(parseAcceleratorFilter('910b', registry)).to.deep.equal({names: ['Ascend910B'], count: null, text: '910b'})
      expect(parseAcceleratorFilter('A100:2+', registry).count).to.deep.equal({min: 2, max: Infinity})
      expect(parseAcceleratorFilter('L4:1..4', registry).count).to.deep.equal({min: 1, max: 4})
      expect(parseAcceleratorFilter('A100,A100-80GB:8', registry).names).to.deep.equal(['A100-40GB', 'A100-80GB'])
    })

    it('rejects unknown names with exit 2 and a suggestion', () => {
      try {
        parseAcceleratorFilter('H10O:8', registry)
        expect.fail('should throw')
      } catch (error) {
        expect(error).to.be.instanceOf(UsageError)
        const e = error as UsageError
        expect(e.exitCode).to.equal(ExitCode.usage)
        expect(e.code).to.equal('UNKNOWN_ACCELERATOR')
        expect(e.message).to.include('did you mean "H100-80GB"')
        expect(e.details).to.deep.equal({accelerator: 'H10O', suggestion: 'H100-80GB'})
      }
      for (const bad of ['H100:', 'H100:x', 'H100:0', 'H100:4..2', ':8'])
        expect(() => parseAcceleratorFilter(bad, registry), bad).to.throw(UsageError)
    })

    it('checks providers and regions with did-you-mean', () => {
      expect(checkProviders(['AWS', 'lambda'], catalog)).to.deep.equal(['aws', 'lambda'])
      expect(checkProviders(['tencentcloud'], catalog)).to.deep.equal(['tencentcloud'])
      expect(() => checkProviders(['awz'], catalog))
        .to.throw(UsageError, 'did you mean "aws"')
        .with.property('code', 'UNKNOWN_PROVIDER')
      expect(checkRegions(['us-east-1', 'aws/us-west-2'], catalog)).to.deep.equal(['us-east-1', 'aws/us-west-2'])
      expect(() => checkRegions(['us-est-1'], catalog))
        .to.throw(UsageError, 'did you mean "us-east-1"')
        .with.property('code', 'UNKNOWN_REGION')
    })

    it('reads prices with an optional currency', () => {
      expect(parseMoney('30')).to.deep.equal({amount: 30, currency: 'USD'})
      expect(parseMoney('$30.5')).to.deep.equal({amount: 30.5, currency: 'USD'})
      expect(parseMoney('200CNY')).to.deep.equal({amount: 200, currency: 'CNY'})
      expect(parseMoney('¥200')).to.deep.equal({amount: 200, currency: 'CNY'})
      expect(parseMoney('12 usd')).to.deep.equal({amount: 12, currency: 'USD'})
      for (const bad of ['', 'cheap', '30EUR', '-3']) expect(() => parseMoney(bad), bad).to.throw(UsageError)
    })
  })

  describe('filters', () => {
    it('by accelerator and exact count', () => {
      expect(types({accelerator: parseAcceleratorFilter('A100:8', registry)})).to.deep.equal([
        'lambda:gpu_8x_a100:us-east-1',
        'aws:p4d.24xlarge:us-east-1',
        'aws:p4d.24xlarge:us-west-2',
        'gcp:a2-highgpu-8g:us-central1',
      ])
    })

    it('by accelerator with any count, at least, or a range', () => {
      expect(queryOffers(catalog, {accelerator: parseAcceleratorFilter('A100', registry)}).total).to.equal(6)
      expect(queryOffers(catalog, {accelerator: parseAcceleratorFilter('A100:2+', registry)}).total).to.equal(4)
      expect(queryOffers(catalog, {accelerator: parseAcceleratorFilter('H100:1..4', registry)}).total).to.equal(1)
    })

    it('by provider', () => {
      expect(types({providers: ['lambda']})).to.deep.equal(['lambda:gpu_1x_a100:us-east-1', 'lambda:gpu_8x_a100:us-east-1'])
    })

    it('by region, plain or provider/region', () => {
      expect(queryOffers(catalog, {regions: ['us-east-1']}).total).to.equal(5)
      expect(types({regions: ['lambda/us-east-1']})).to.have.length(2)
    })

    it('by spot: only offers with a spot market, compared at spot', () => {
      const r = queryOffers(catalog, {accelerator: parseAcceleratorFilter('A100:8', registry), spot: true})
      expect(r.offers.map((o) => o.priceUsd)).to.deep.equal([8.19, 9.73, 14.4308])
    })

    it('by max price, in USD or converted from CNY', () => {
      expect(types({maxPrice: {amount: 2, currency: 'USD'}, accelerator: parseAcceleratorFilter('A100', registry)})).to.deep.equal([
        'lambda:gpu_1x_a100:us-east-1',
      ])
      // 16.4 CNY is 2.35 USD at 6.9858: under 20 CNY (2.86 USD), over 14 CNY (2.00 USD).
      expect(types({maxPrice: {amount: 20, currency: 'CNY'}, providers: ['aliyun']})).to.have.length(1)
      expect(types({maxPrice: {amount: 14, currency: 'CNY'}, providers: ['aliyun']})).to.have.length(0)
      // An unknown price never passes a limit.
      expect(types({maxPrice: {amount: 1000, currency: 'USD'}, providers: ['huaweicloud']})).to.have.length(0)
    })

    it('combines filters', () => {
      expect(
        types({
          accelerator: parseAcceleratorFilter('A100:8', registry),
          providers: ['aws'],
          regions: ['us-west-2'],
          spot: true,
          maxPrice: {amount: 10, currency: 'USD'},
        }),
      ).to.deep.equal(['aws:p4d.24xlarge:us-west-2'])
    })
  })

  describe('sorting', () => {
    it('by price, unknown prices last, CNY compared in USD', () => {
      const r = queryOffers(catalog, {accelerator: parseAcceleratorFilter('A100:1', registry), sort: 'price'})
      expect(r.offers.map((o) => o.offer.provider)).to.deep.equal(['lambda', 'aliyun'])
      expect(r.offers[1].priceUsd).to.be.closeTo(16.4 / 6.9858, 1e-9)
      const all = queryOffers(catalog, {sort: 'price'}).offers
      expect(all.at(-1)!.offer.provider).to.equal('huaweicloud')
    })

    it('by price per TFLOPS: work per dollar across accelerators', () => {
      const r = queryOffers(catalog, {providers: ['aws'], sort: 'price-per-tflops'})
      const per = r.offers.map((o) => o.usdPerTflops)
      expect(per).to.deep.equal([...per].sort((a, b) => a! - b!))
      // p5.48xlarge: 55.04 $/h over 8 x 989 TFLOPS, p5.4xlarge 6.88 over 1 x 989: the same
      // per TFLOPS, so the cheaper node comes first; p4d (21.96 over 8 x 312) after both.
      expect(r.offers.map((o) => o.offer.instanceType).slice(0, 3)).to.deep.equal(['p5.4xlarge', 'p5.48xlarge', 'p4d.24xlarge'])
      expect(r.offers[1].usdPerTflops).to.be.closeTo(55.04 / (8 * 989), 1e-12)
      // CPU offers have no TFLOPS and sort last.
      const withCpu = queryOffers(catalog, {providers: ['azure'], sort: 'price-per-tflops'}).offers
      expect(withCpu.at(-1)!.offer.instanceType).to.equal('Basic_A1')
      expect(withCpu.at(-1)!.usdPerTflops).to.equal(null)
    })

    it('limits after sorting and still counts all matches', () => {
      const r = queryOffers(catalog, {sort: 'price', limit: 2})
      expect(r.offers).to.have.length(2)
      expect(r.total).to.equal(11)
      expect(r.offers[0].offer.instanceType).to.equal('Basic_A1')
    })
  })

  it('searchOffers returns the query as it understood it', () => {
    const {home, snapshotFile} = fixtureSnapshot()
    void snapshotFile
    const r = searchOffers({home, accelerator: 'A100:8+', maxPrice: '100', spot: true})
    expect(r.query.accelerator).to.deep.equal({names: ['A100-40GB'], count: {min: 8, max: null}, text: 'A100:8+'})
    expect(r.query.maxPrice).to.deep.equal({amount: 100, currency: 'USD'})
    expect(r.fx).to.deep.include({cnyPerUsd: 6.9858, asOf: '2026-01-27'})
  })
})
