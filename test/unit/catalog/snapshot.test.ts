import {expect} from 'chai'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import {bundledSnapshotPath, readSnapshot} from '../../../src/catalog/catalog.js'
import {buildFromSources, serializeRegistry, serializeSnapshot} from '../../../src/catalog/build/inputs.js'
import {decodeRows, decodeTable, encodeBinary, encodeSnapshot, parseOffersFile} from '../../../src/catalog/snapshot.js'
import type {Offer} from '../../../src/model/catalog.js'
import {CATALOG_SOURCES, ROOT, schemaErrors} from './helpers.js'

const REQUIRED_PROVIDERS = ['aws', 'gcp', 'azure', 'aliyun', 'huaweicloud', 'tencentcloud']

describe('catalog: bundled snapshot', () => {
  const file = readSnapshot(bundledSnapshotPath())
  const offers = decodeTable(file.table)

  it('validates, offer by offer, against schemas/catalog.schema.json', () => {
    expect(schemaErrors('catalog', {offers})).to.equal('')
  })

  it('covers the required providers, each row with source, as-of and confidence', () => {
    for (const p of REQUIRED_PROVIDERS)
      expect(
        offers.some((o) => o.provider === p),
        p,
      ).to.equal(true)
    for (const p of ['lambda', 'nebius', 'oci', 'runpod'])
      expect(
        offers.some((o) => o.provider === p),
        p,
      ).to.equal(true)
    for (const o of offers) {
      expect(o.source).to.be.a('string').and.not.equal('')
      expect(o.asOf).to.match(/^\d{4}-\d{2}-\d{2}$/)
      expect(['high', 'medium', 'low']).to.include(o.confidence)
      if (o.priceStatus === 'unknown') expect([o.price.onDemand, o.price.spot]).to.deep.equal([null, null])
    }
    const meta = Object.values(file.providers)
    expect(meta.reduce((n, m) => n + m.rows, 0)).to.equal(offers.length)
  })

  it('names only accelerators the registry knows, by canonical name', async () => {
    const {loadRegistry} = await import('../../../src/catalog/accelerators.js')
    const registry = loadRegistry()
    for (const o of offers) if (o.accelerator) expect(registry.resolve(o.accelerator.name)?.name).to.equal(o.accelerator.name)
  })

  it('round-trips through the JSON rows and the binary columns', () => {
    const sample: Offer[] = offers.filter((_, i) => i % 7 === 0)
    const again = encodeSnapshot(sample, {}, [])
    expect(decodeRows(again.strings, again.rows)).to.deep.equal(sample)
    const meta = {
      aws: {source: 's', asOf: '2026-01-01', rows: sample.length, origin: 'refreshed' as const, fetchedAt: '2026-01-01T00:00:00Z'},
    }
    const bin = encodeBinary(sample, meta, ['x'])
    const back = parseOffersFile(bin)
    // The binary form stores rows grouped by provider and accelerator, groups in order of
    // first appearance and rows in their order within a group.
    const key = (o: Offer) => `${o.provider}|${o.accelerator?.name ?? ''}`
    const firstSeen = [...new Set(sample.map(key))]
    const grouped = firstSeen.flatMap((k) => sample.filter((o) => key(o) === k))
    expect(grouped).to.not.deep.equal(sample)
    expect(decodeTable(back.table)).to.deep.equal(grouped)
    expect(back.providers).to.deep.equal(meta)
    // Misaligned in memory (as a pooled Buffer may be) reads the same.
    const shifted = Buffer.concat([Buffer.alloc(3), bin]).subarray(3)
    expect(decodeTable(parseOffersFile(shifted).table)).to.deep.equal(grouped)
  })

  it('refuses a truncated or damaged binary file', () => {
    const bin = encodeBinary(offers.slice(0, 10), {}, [])
    expect(() => parseOffersFile(bin.subarray(0, bin.length - 8))).to.throw(/truncated or damaged/)
    expect(() => parseOffersFile(bin.subarray(0, 10))).to.throw(/truncated/)
    expect(() => parseOffersFile(Buffer.from('{"format": "other"}'))).to.throw(/not a skyhop offers file/)
  })

  it('is what scripts/build-catalog.ts makes from data/sources today', () => {
    const built = buildFromSources(CATALOG_SOURCES)
    expect(
      serializeSnapshot(built.snapshot) === readFileSync(join(ROOT, 'data/offers.json'), 'utf8'),
      'data/offers.json is stale: run npx tsx scripts/build-catalog.ts',
    ).to.equal(true)
    expect(
      serializeRegistry(built.registry) === readFileSync(join(ROOT, 'data/accelerators.json'), 'utf8'),
      'data/accelerators.json is stale',
    ).to.equal(true)
    // Every skipped source row says why.
    for (const s of built.skipped) expect(s.reason).to.not.equal('')
  })
})
