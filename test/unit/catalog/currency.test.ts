import {expect} from 'chai'

import {amountInUsd, convert, DEFAULT_FX, formatMoney, fxFromEnv, toUsd} from '../../../src/model/currency.js'

describe('catalog: currency', () => {
  it('passes USD through and converts CNY with the documented default rate', () => {
    expect(toUsd({amount: 12.5, currency: 'USD'})).to.deep.equal({amount: 12.5, currency: 'USD'})
    expect(DEFAULT_FX.cnyPerUsd).to.equal(7.2)
    expect(DEFAULT_FX.source).to.match(/tencentcloud\.com\/pricing\/cvm/)
    expect(DEFAULT_FX.asOf).to.match(/^\d{4}-\d{2}-\d{2}$/)
    expect(toUsd({amount: 72, currency: 'CNY'})).to.deep.equal({amount: 10, currency: 'USD'})
  })

  it('round-trips the Tencent rows derived with the same rate', () => {
    // china.csv: GN7.2XLARGE32 lists 1.26 USD and 9.07 CNY (derived at 7.2).
    expect(amountInUsd(9.07, 'CNY')).to.be.closeTo(1.26, 0.005)
  })

  it('takes an override rate, from the caller or SKYHOP_FX_CNY_PER_USD', () => {
    const fx = {cnyPerUsd: 7, source: 'test', asOf: '2026-01-01'}
    expect(toUsd({amount: 70, currency: 'CNY'}, fx).amount).to.equal(10)
    const env = fxFromEnv({SKYHOP_FX_CNY_PER_USD: '6.5'}, new Date('2026-03-04T00:00:00Z'))
    expect(env).to.deep.equal({cnyPerUsd: 6.5, source: 'SKYHOP_FX_CNY_PER_USD', asOf: '2026-03-04'})
    for (const bad of ['', 'abc', '-1', '0']) expect(fxFromEnv({SKYHOP_FX_CNY_PER_USD: bad})).to.equal(DEFAULT_FX)
    expect(fxFromEnv({})).to.equal(DEFAULT_FX)
  })

  it('converts between currencies without changing the input', () => {
    const m = {amount: 10, currency: 'USD' as const}
    expect(convert(m, 'CNY')).to.deep.equal({amount: 72, currency: 'CNY'})
    expect(m).to.deep.equal({amount: 10, currency: 'USD'})
    expect(convert(m, 'USD')).to.equal(m)
  })

  it('formats with the currency symbol and enough digits for small prices', () => {
    expect(formatMoney({amount: 15.92, currency: 'USD'})).to.equal('$15.92')
    expect(formatMoney({amount: 19, currency: 'CNY'})).to.equal('¥19.00')
    expect(formatMoney({amount: 0.0126, currency: 'USD'})).to.equal('$0.0126')
  })
})
