// The planner's view of a catalog (Catalog.index) is counted from the columns and decodes
// a group only when asked: it must hold exactly what indexing the materialized offers
// would, in the same order, whatever mix of snapshot, refreshed files and live offers.
import {expect} from 'chai'
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {catalogDir, loadCatalog, refreshedFile} from '../../../src/catalog/catalog.js'
import {encodeBinary, encodeSnapshot, openOffersFile, parseOffersFile, tableFromRows, tableRow} from '../../../src/catalog/snapshot.js'
import {indexOffers, type Offer, type OfferIndex} from '../../../src/model/catalog.js'
import {offer} from './fixtures.js'
import {tempHome} from './helpers.js'

const ACCS = [null, 'H100-80GB', 'A100-80GB', 'Ascend-910B', 'L4']
const PROVIDERS = ['aws', 'gcp', 'aliyun', 'huaweicloud']

function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function randomOffers(n: number, seed: number, providers = PROVIDERS): Offer[] {
  const r = rng(seed)
  return Array.from({length: n}, (_, i) => {
    const acc = ACCS[Math.floor(r() * ACCS.length)]
    return offer({
      provider: providers[Math.floor(r() * providers.length)],
      region: `r${Math.floor(r() * 5)}`,
      zone: r() < 0.5 ? null : `z${i % 3}`,
      instanceType: `t${seed}-${i}`,
      accelerator: acc === null ? null : {name: acc, count: 1 + Math.floor(r() * 8)},
      price: {onDemand: r() < 0.9 ? 1 + r() : null, spot: r() < 0.5 ? r() : null, currency: 'USD'},
      ...(r() < 0.2 ? {notes: 'a note'} : {}),
    })
  })
}

function contents(index: OfferIndex): Array<[string, number, Offer[], Offer]> {
  return [...index.groupSizes()].map(([name, size]) => [name, size, [...index.group(name)], index.first(name)])
}

function world(seed: number) {
  const home = tempHome()
  const snapshot = randomOffers(300, seed)
  const snapshotFile = join(home, 'offers.json')
  const meta = (p: string, rows: number) => ({source: 'test', asOf: '2026-01-01', rows, origin: 'bundled' as const})
  writeFileSync(snapshotFile, JSON.stringify(encodeSnapshot(snapshot, Object.fromEntries(PROVIDERS.map((p) => [p, meta(p, 1)])), [])))
  mkdirSync(catalogDir(home), {recursive: true})
  // A refreshed file replaces its provider's snapshot rows; rows of other providers in it are ignored.
  const refreshed = randomOffers(200, seed + 1, ['gcp', 'aws'])
  writeFileSync(refreshedFile(home, 'gcp'), encodeBinary(refreshed, {gcp: {...meta('gcp', 1), origin: 'refreshed'}}, []))
  return {home, snapshotFile}
}

describe('catalog: the planner index', () => {
  for (const seed of [1, 2, 3]) {
    it(`holds what indexing the materialized offers holds, in the same order (seed ${seed})`, () => {
      const {home, snapshotFile} = world(seed)
      const lazy = loadCatalog({home, snapshotFile})
      const eager = loadCatalog({home, snapshotFile})
      const live = randomOffers(20, seed + 7, ['aliyun'])
      const without = new Set(['aliyun'])
      const expected = indexOffers([...eager.offers.filter((o) => !without.has(o.provider)), ...live])
      // Regions of the file segments come from their region column alone.
      const pairs = (list: Array<{provider: string; region: string}>) => list.map((r) => `${r.provider}/${r.region}`).sort()
      expect(pairs(lazy.regions())).to.deep.equal([...new Set(pairs(eager.offers.map((o) => ({provider: o.provider, region: o.region}))))])
      const got = lazy.index({without, add: live})
      expect(got.size).to.equal(expected.size)
      expect(contents(got)).to.deep.equal(contents(expected))
      // Once materialized, the catalog answers from its objects: the same again.
      expect(contents(eager.index({without, add: live}))).to.deep.equal(contents(expected))
    })
  }

  it('counts groups without decoding them, and decodes a group once', () => {
    const {home, snapshotFile} = world(4)
    const index = loadCatalog({home, snapshotFile}).index()
    const [name] = [...index.groupSizes().keys()]
    expect(index.group(name)).to.equal(index.group(name))
    expect(index.group('no-such-accelerator')).to.deep.equal([])
  })

  it('leaves out every row of a provider named in `without`, even with no live offers to add', () => {
    const {home, snapshotFile} = world(5)
    const index = loadCatalog({home, snapshotFile}).index({without: new Set(['aws', 'gcp'])})
    const providers = new Set(contents(index).flatMap(([, , offers]) => offers.map((o) => o.provider)))
    expect([...providers].sort()).to.deep.equal(['aliyun', 'huaweicloud'])
  })
})

/** A refreshed file as skyhop wrote it before format 2: the strings in the JSON header, rows as given. */
function formatOneFile(offers: Offer[], provider: string): Buffer {
  const snap = encodeSnapshot(offers, {}, [])
  const table = tableFromRows(snap.strings, snap.rows)
  const meta = {[provider]: {source: 'old refresh', asOf: '2026-01-01', rows: offers.length, origin: 'refreshed'}}
  const header = Buffer.from(
    JSON.stringify({format: 'skyhop-offers-bin/1', generatedFrom: [], providers: meta, strings: snap.strings, n: table.n}),
  )
  const len = Buffer.alloc(4)
  len.writeUInt32LE(header.length)
  const pad = (n: number) => Buffer.alloc((8 - (n % 8)) % 8)
  const head = Buffer.concat([Buffer.from('SKYOFB1\n', 'latin1'), len, header])
  const ints = Buffer.concat(table.ids.map((a) => Buffer.from(a.buffer)))
  const nums = Buffer.concat(table.nums.map((a) => Buffer.from(a.buffer)))
  return Buffer.concat([head, pad(head.length), ints, pad(ints.length), nums])
}

describe('catalog: binary offers files read by group', () => {
  it('reads each group from disk as the whole file decodes it', () => {
    const offers = randomOffers(500, 11)
    const file = join(tempHome(), 'x.offers.bin')
    writeFileSync(file, encodeBinary(offers, {}, []))
    const reader = openOffersFile(file)!
    const whole = parseOffersFile(encodeBinary(offers, {}, [])).table
    expect(reader.n).to.equal(500)
    expect(reader.runs.reduce((n, r) => n + r.count, 0)).to.equal(500)
    for (const run of reader.runs) {
      const part = reader.read(run.start, run.count)
      for (let i = 0; i < run.count; i++) {
        const o = tableRow(part, i)
        expect(o).to.deep.equal(tableRow(whole, run.start + i))
        expect([o.provider, o.accelerator?.name ?? null]).to.deep.equal([run.provider, run.accelerator])
      }
    }
  })

  it('still reads a refreshed file of format 1, whole', () => {
    const home = tempHome()
    mkdirSync(catalogDir(home), {recursive: true})
    const offers = randomOffers(50, 12, ['gcp'])
    writeFileSync(refreshedFile(home, 'gcp'), formatOneFile(offers, 'gcp'))
    const c = loadCatalog({home})
    expect(c.warnings).to.deep.equal([])
    expect(c.select({providers: new Set(['gcp'])})).to.deep.equal(offers)
    expect(c.sources.find((x) => x.provider === 'gcp')).to.include({origin: 'refreshed', rows: 50})
  })

  it('leaves out a damaged file with a warning and keeps the bundled offers of its provider', () => {
    const home = tempHome()
    mkdirSync(catalogDir(home), {recursive: true})
    const bin = encodeBinary(randomOffers(50, 13, ['gcp']), {gcp: {source: 's', asOf: '2026-01-01', rows: 50, origin: 'refreshed'}}, [])
    // The header's group list no longer covers the rows.
    const damaged = Buffer.from(bin.toString('latin1').replace('"runs":[[', '"runs":[[0,0,1,1],['), 'latin1')
    const fixed = Buffer.alloc(4)
    fixed.writeUInt32LE(bin.readUInt32LE(8) + (damaged.length - bin.length))
    fixed.copy(damaged, 8)
    writeFileSync(refreshedFile(home, 'gcp'), damaged)
    const c = loadCatalog({home})
    expect(c.warnings.join('\n')).to.match(/ignored .*gcp\.offers\.bin: .*using the bundled gcp offers/)
    expect(c.sources.find((x) => x.provider === 'gcp')?.origin).to.equal('bundled')
  })
})
