// The catalog must stay queryable in well under a second at 100k+ rows (issue 3): a
// generated AWS-per-zone-sized refreshed file, loaded and queried in this process.
import {expect} from 'chai'
import {mkdirSync, writeFileSync} from 'node:fs'

import {catalogDir, loadCatalog, refreshedFile} from '../../../src/catalog/catalog.js'
import {parseAcceleratorFilter, queryOffers} from '../../../src/catalog/query.js'
import {encodeBinary} from '../../../src/catalog/snapshot.js'
import type {Offer} from '../../../src/model/catalog.js'
import {tempHome} from './helpers.js'

const SHAPES: Array<[string, string | null, number]> = [
  ['p4d.24xlarge', 'A100-40GB', 8],
  ['p4de.24xlarge', 'A100-80GB', 8],
  ['p5.48xlarge', 'H100-80GB', 8],
  ['g5.xlarge', 'A10G', 1],
  ['g6.2xlarge', 'L4', 1],
  ['m5.large', null, 0],
]

export function generatedOffers(n: number): Offer[] {
  const out: Offer[] = []
  for (let i = 0; i < n; i++) {
    const [type, acc, count] = SHAPES[i % SHAPES.length]
    const r = Math.floor(i / SHAPES.length)
    out.push({
      provider: 'aws',
      region: `gen-region-${r % 30}`,
      zone: `gen-zone-${r}`,
      instanceType: `${type}.g${r % 50}`,
      accelerator: acc ? {name: acc, count} : null,
      vcpus: 96,
      memoryGiB: 1152,
      price: {onDemand: 10 + (i % 997) / 10, spot: 3 + (i % 113) / 10, currency: 'USD'},
      priceStatus: 'list',
      expectedQueueMinutes: null,
      preemptionRatePerHour: null,
      capacity: null,
      noticeSeconds: 120,
      source: 'generated for the performance test',
      asOf: '2026-11-27',
      confidence: 'high',
    })
  }
  return out
}

describe('catalog: performance at 120k rows', function () {
  this.timeout(60_000)
  const home = tempHome()
  before(() => {
    const offers = generatedOffers(120_000)
    mkdirSync(catalogDir(home), {recursive: true})
    writeFileSync(
      refreshedFile(home, 'aws'),
      encodeBinary(
        offers,
        {aws: {source: 'generated', asOf: '2026-11-27', rows: offers.length, origin: 'refreshed', fetchedAt: '2026-11-27T00:00:00Z'}},
        [],
      ),
    )
  })

  it('loads and answers an accelerator query in well under a second', () => {
    const times: number[] = []
    let total = 0
    for (let k = 0; k < 3; k++) {
      const t = performance.now()
      const catalog = loadCatalog({home})
      const r = queryOffers(catalog, {accelerator: parseAcceleratorFilter('A100:8', catalog.registry), sort: 'price', limit: 100})
      times.push(performance.now() - t)
      total = r.total
    }
    expect(total).to.be.greaterThan(20_000)
    const best = Math.min(...times)
    console.log(`      load + query of ${(120_000).toLocaleString()} rows: ${times.map((t) => t.toFixed(0)).join(', ')} ms`)
    expect(best).to.be.below(500)
  })

  it('materializes every offer for the planner in under a second', () => {
    const t = performance.now()
    const catalog = loadCatalog({home})
    expect(catalog.offers.length).to.be.greaterThan(120_000)
    expect(performance.now() - t).to.be.below(1000)
  })
})
