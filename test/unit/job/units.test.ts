import {expect} from 'chai'

import {
  UnitError,
  parseCountRange,
  parseDeadline,
  parseDurationSeconds,
  parseMemoryRange,
  parseMoney,
  parseSizeAtLeast,
  parseSizeGB,
} from '../../../src/model/units.js'

describe('units', () => {
  it('parses durations', () => {
    expect(parseDurationSeconds('30s')).to.equal(30)
    expect(parseDurationSeconds('90m')).to.equal(5400)
    expect(parseDurationSeconds('36h')).to.equal(129_600)
    expect(parseDurationSeconds('2d')).to.equal(172_800)
    expect(parseDurationSeconds('1h30m')).to.equal(5400)
    expect(parseDurationSeconds('1.5h')).to.equal(5400)
    expect(() => parseDurationSeconds('30')).to.throw(UnitError, /no unit/)
    expect(() => parseDurationSeconds('3 parsecs')).to.throw(UnitError)
    expect(() => parseDurationSeconds('0s')).to.throw(UnitError, /greater than zero/)
  })

  it('parses sizes in decimal GB', () => {
    expect(parseSizeGB('80GB')).to.equal(80)
    expect(parseSizeGB('1TB')).to.equal(1000)
    expect(parseSizeGB('512MB')).to.equal(0.512)
    expect(parseSizeGB('1GiB')).to.equal(1.073742)
    expect(parseSizeGB(24)).to.equal(24)
    expect(parseSizeAtLeast('64GB+')).to.deep.equal({value: 64, atLeast: true})
    expect(() => parseSizeGB('64 bananas')).to.throw(UnitError, /not a size unit/)
  })

  it('parses count ranges', () => {
    expect(parseCountRange('8')).to.deep.equal({min: 8, max: 8})
    expect(parseCountRange(4)).to.deep.equal({min: 4, max: 4})
    expect(parseCountRange('2+')).to.deep.equal({min: 2, max: 4096})
    expect(parseCountRange('1..8')).to.deep.equal({min: 1, max: 8})
    expect(parseCountRange('..4')).to.deep.equal({min: 1, max: 4})
    expect(() => parseCountRange('0')).to.throw(UnitError)
    expect(() => parseCountRange('8..2')).to.throw(UnitError, /empty/)
  })

  it('parses memory ranges per device', () => {
    expect(parseMemoryRange('80GB')).to.deep.equal({min: 80, max: 80})
    expect(parseMemoryRange('40GB+')).to.deep.equal({min: 40})
    expect(parseMemoryRange('24GB..80GB')).to.deep.equal({min: 24, max: 80})
  })

  it('parses money with its currency', () => {
    expect(parseMoney('200USD')).to.deep.equal({amount: 200, currency: 'USD'})
    expect(parseMoney('1500 CNY')).to.deep.equal({amount: 1500, currency: 'CNY'})
    expect(parseMoney('$12.50')).to.deep.equal({amount: 12.5, currency: 'USD'})
    expect(parseMoney('¥800')).to.deep.equal({amount: 800, currency: 'CNY'})
    expect(parseMoney(3)).to.deep.equal({amount: 3, currency: 'USD'})
    expect(parseMoney({amount: 9, currency: 'CNY'})).to.deep.equal({amount: 9, currency: 'CNY'})
    expect(() => parseMoney('10EUR')).to.throw(UnitError, /EUR/)
    expect(() => parseMoney('$10USD')).to.throw(UnitError, /twice/)
  })

  it('parses deadlines as absolute times', () => {
    const now = new Date('2026-11-27T12:00:00Z')
    expect(parseDeadline('36h', now)).to.equal(Date.parse('2026-11-29T00:00:00Z'))
    expect(parseDeadline('2026-12-01T18:00:00+08:00', now)).to.equal(Date.parse('2026-12-01T10:00:00Z'))
    expect(parseDeadline('2026-12-01', now)).to.equal(Date.parse('2026-12-01T00:00:00Z'))
    expect(() => parseDeadline('2026-12-01T18:00', now)).to.throw(UnitError, /timezone/)
    // Found by the chaos suite at a quarter of its full size: these crashed the loader (RangeError from toISOString).
    expect(() => parseDeadline('2026-13-45', now)).to.throw(UnitError, /not a valid time/)
    expect(() => parseDeadline('99999999999h', now)).to.throw(UnitError, /not a valid time/)
  })
})
