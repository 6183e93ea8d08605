// Config `fx`: a rate of the user's with the date and source shown beside converted figures.
import {expect} from 'chai'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {loadConfig} from '../../src/config.js'
import {InvalidFileError} from '../../src/errors.js'

describe('config: fx', () => {
  let home: string
  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'skyhop-config-fx-'))
  })
  afterEach(() => rmSync(home, {recursive: true, force: true}))

  it('has no rate of its own by default', () => {
    expect(loadConfig(home).fx).to.deep.equal({cnyPerUsd: null, asOf: null, source: null})
  })

  it('reads cny_per_usd with its as_of and source', () => {
    writeFileSync(join(home, 'config.yaml'), 'fx: {cny_per_usd: 7.05, as_of: 2026-12-04, source: "our bank"}\n')
    expect(loadConfig(home).fx).to.deep.equal({cnyPerUsd: 7.05, asOf: '2026-12-04', source: 'our bank'})
  })

  it('refuses a date that is not one, and a date or source without a rate, at their fields', () => {
    writeFileSync(join(home, 'config.yaml'), 'fx: {cny_per_usd: 7.05, as_of: last week}\n')
    expect(() => loadConfig(home)).to.throw(InvalidFileError, /\/fx\/as_of/)
    writeFileSync(join(home, 'config.yaml'), 'fx: {as_of: 2026-12-04}\n')
    expect(() => loadConfig(home)).to.throw(InvalidFileError, /cny_per_usd/)
    writeFileSync(join(home, 'config.yaml'), 'fx: {cny_per_usd: 0}\n')
    expect(() => loadConfig(home)).to.throw(InvalidFileError, /\/fx\/cny_per_usd/)
  })
})
