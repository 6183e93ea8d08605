import {expect} from 'chai'

import {readFileSync} from 'node:fs'

import {bundledFx, fxFor, fxFromEnv} from '../../../src/catalog/fx.js'
import {amountInUsd, convert, formatMoney, toUsd} from '../../../src/model/currency.js'

const DEFAULT_FX = bundledFx()
const fx = DEFAULT_FX

describe('catalog: currency', () => {
  it('passes USD through and converts CNY at the dated public rate of data/fx.json', () => {
    const file = JSON.parse(readFileSync(new URL('../../../data/fx.json', import.meta.url), 'utf8')) as Record<string, unknown>
    expect(toUsd({amount: 12.5, currency: 'USD'}, fx)).to.deep.equal({amount: 12.5, currency: 'USD'})
    // CFETS central parity of 2026-01-27: 100 USD = 698.58 CNY.
    expect(DEFAULT_FX).to.deep.equal({cnyPerUsd: 6.9858, asOf: '2026-01-27', source: file.source})
    expect(DEFAULT_FX.source)
      .to.match(/CFETS/)
      .and.match(/chinamoney\.com\.cn/)
      .and.match(/698\.58/)
    expect(DEFAULT_FX.source).not.to.match(/assum|\.csv|\.\.\//i)
    expect(toUsd({amount: 698.58, currency: 'CNY'}, fx).amount).to.be.closeTo(100, 1e-9)
  })

  it('takes an override rate, from the caller or SKYHOP_FX_CNY_PER_USD', () => {
    const seven = {cnyPerUsd: 7, source: 'test', asOf: '2026-01-01'}
    expect(toUsd({amount: 70, currency: 'CNY'}, seven).amount).to.equal(10)
    const env = fxFromEnv({SKYHOP_FX_CNY_PER_USD: '6.5'}, new Date('2026-03-04T00:00:00Z'))
    expect(env).to.deep.equal({cnyPerUsd: 6.5, source: 'SKYHOP_FX_CNY_PER_USD', asOf: '2026-03-04'})
    for (const bad of ['', 'abc', '-1', '0']) expect(fxFromEnv({SKYHOP_FX_CNY_PER_USD: bad})).to.equal(DEFAULT_FX)
    expect(fxFromEnv({})).to.equal(DEFAULT_FX)
  })

  it('takes the config rate over the environment, with its own date and source, else dated today', () => {
    const today = new Date('2026-12-07T10:00:00Z')
    const env = {SKYHOP_FX_CNY_PER_USD: '6.5'}
    expect(fxFor({cnyPerUsd: null, asOf: null, source: null}, env, today)).to.deep.equal({
      cnyPerUsd: 6.5,
      source: 'SKYHOP_FX_CNY_PER_USD',
      asOf: '2026-12-07',
    })
    expect(fxFor({cnyPerUsd: 7.1, asOf: '2026-11-30', source: 'ECB reference rates'}, env, today)).to.deep.equal({
      cnyPerUsd: 7.1,
      source: 'ECB reference rates',
      asOf: '2026-11-30',
    })
    // Never the bundled rate's date beside a rate that is not the bundled one.
    expect(fxFor({cnyPerUsd: 7.1, asOf: null, source: null}, {}, today)).to.deep.equal({
      cnyPerUsd: 7.1,
      source: 'config fx.cny_per_usd',
      asOf: '2026-12-07',
    })
    expect(fxFor({cnyPerUsd: null}, {}, today)).to.equal(DEFAULT_FX)
  })

  it('converts between currencies without changing the input', () => {
    const m = {amount: 10, currency: 'USD' as const}
    expect(convert(m, 'CNY', fx)).to.deep.equal({amount: 69.858, currency: 'CNY'})
    expect(amountInUsd(69.858, 'CNY', fx)).to.be.closeTo(10, 1e-9)
    expect(m).to.deep.equal({amount: 10, currency: 'USD'})
    expect(convert(m, 'USD', fx)).to.equal(m)
  })

  it('formats with the currency symbol and enough digits for small prices', () => {
    expect(formatMoney({amount: 15.92, currency: 'USD'})).to.equal('$15.92')
    expect(formatMoney({amount: 19, currency: 'CNY'})).to.equal('¥19.00')
    expect(formatMoney({amount: 0.0126, currency: 'USD'})).to.equal('$0.0126')
  })
})
