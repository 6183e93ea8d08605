import {expect} from 'chai'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {createRegistry} from '../../../src/catalog/accelerators.js'
import {catalogDir, loadCatalog, refreshedFile} from '../../../src/catalog/catalog.js'
import {INTERCONNECT_TABLE, interconnectOf} from '../../../src/catalog/interconnect.js'
import {encodeBinary} from '../../../src/catalog/snapshot.js'
import {readCatalogFile} from '../../../src/catalog/user-file.js'
import {INTERCONNECT_KINDS, isFastFabric} from '../../../src/model/catalog.js'
import {offer} from './fixtures.js'
import {tempHome} from './helpers.js'

const registry = () =>
  createRegistry(JSON.parse(readFileSync(join(import.meta.dirname, '../../../data/accelerators.json'), 'utf8')).accelerators)

describe('catalog: inter-node fabric (interconnect)', () => {
  it('every row of the table names a known kind, a public source, and shapes no other row names', () => {
    const seen = new Set<string>()
    for (const row of INTERCONNECT_TABLE) {
      expect(INTERCONNECT_KINDS).to.include(row.kind)
      expect(row.source.length, row.instanceTypes.join()).to.be.greaterThan(20)
      if (row.gbps !== null) expect(row.gbps).to.be.greaterThan(0)
      for (const t of row.instanceTypes) {
        const key = `${row.provider}|${t}`
        expect(seen.has(key), key).to.equal(false)
        seen.add(key)
      }
    }
  })

  it('looks shapes up exactly: a p5.48xlarge has EFA, a p5.4xlarge is not documented', () => {
    expect(interconnectOf('aws', 'p5.48xlarge')).to.include({kind: 'efa', gbps: 3200})
    expect(interconnectOf('aws', 'p5.4xlarge')).to.equal(undefined)
    // p3dn.24xlarge: one EFA on its 100 Gbps; the other P3 sizes have ENA only.
    expect(interconnectOf('aws', 'p3dn.24xlarge')).to.include({kind: 'efa', gbps: 100})
    expect(interconnectOf('aws', 'p3.16xlarge')).to.include({kind: 'ethernet', gbps: 25})
    expect(interconnectOf('azure', 'Standard_ND96isr_H100_v5')).to.include({kind: 'infiniband', gbps: 3200})
    expect(interconnectOf('gcp', 'a2-highgpu-8g')).to.include({kind: 'ethernet', gbps: 100})
    expect(isFastFabric(interconnectOf('gcp', 'a2-highgpu-8g'))).to.equal(false)
    expect(isFastFabric(interconnectOf('gcp', 'a3-megagpu-8g'))).to.equal(true)
    expect(isFastFabric(undefined)).to.equal(false)
  })

  it('the bundled snapshot carries it on every offer of a documented shape, and only there', () => {
    const c = loadCatalog({home: tempHome()})
    const withFabric = c.offers.filter((o) => o.interconnect !== undefined)
    expect(withFabric.length).to.be.greaterThan(10)
    for (const o of c.offers) expect(o.interconnect, `${o.provider} ${o.instanceType}`).to.equal(interconnectOf(o.provider, o.instanceType))
    const p4d = c.offers.find((o) => o.provider === 'aws' && o.instanceType === 'p4d.24xlarge')
    expect(p4d?.interconnect).to.include({kind: 'efa', gbps: 400})
    const nd = c.offers.find((o) => o.instanceType === 'Standard_ND96asr_v4')
    expect(nd?.interconnect).to.include({kind: 'infiniband', gbps: 1600})
    const json = JSON.parse(readFileSync(join(import.meta.dirname, '../../../data/offers.json'), 'utf8')) as {generatedFrom: string[]}
    expect(json.generatedFrom.some((g) => g.startsWith('src/catalog/interconnect.ts'))).to.equal(true)
  })

  it('a refreshed provider file gets it too, without carrying it', () => {
    const home = tempHome()
    mkdirSync(catalogDir(home), {recursive: true})
    const offers = [
      offer({provider: 'aws', region: 'us-east-1', instanceType: 'p5.48xlarge', accelerator: {name: 'H100', count: 8}}),
      offer({provider: 'aws', region: 'us-east-1', instanceType: 'g5.xlarge', accelerator: {name: 'A10G', count: 1}}),
    ]
    const meta = {aws: {source: 'test', asOf: '2026-11-27', rows: 2, origin: 'refreshed' as const, fetchedAt: '2026-11-27T10:00:00.000Z'}}
    writeFileSync(refreshedFile(home, 'aws'), encodeBinary(offers, meta, []))
    const aws = loadCatalog({home}).offers.filter((o) => o.provider === 'aws')
    expect(aws.find((o) => o.instanceType === 'p5.48xlarge')?.interconnect?.kind).to.equal('efa')
    expect(aws.find((o) => o.instanceType === 'g5.xlarge')?.interconnect).to.equal(undefined)
  })

  it("a user's catalog file may state it, say null (unknown), or leave it to the table", () => {
    const home = tempHome()
    const file = join(home, 'cat.yaml')
    writeFileSync(
      file,
      [
        'offers:',
        '  - {provider: onprem, region: lab, instanceType: dgx, accelerator: {name: H100, count: 8}, vcpus: 112, memoryGiB: 2048,',
        '     price: {onDemand: 20, currency: USD}, interconnect: {kind: infiniband, gbps: 3200}}',
        '  - {provider: aws, region: us-east-1, instanceType: p5.48xlarge, accelerator: {name: H100, count: 8}, vcpus: 192, memoryGiB: 2048,',
        '     price: {onDemand: 50, currency: USD}}',
        '  - {provider: aws, region: us-west-2, instanceType: p5.48xlarge, accelerator: {name: H100, count: 8}, vcpus: 192, memoryGiB: 2048,',
        '     price: {onDemand: 50, currency: USD}, interconnect: null}',
      ].join('\n'),
    )
    const {offers} = readCatalogFile(file, registry())
    expect(offers[0].interconnect).to.deep.equal({kind: 'infiniband', gbps: 3200, source: offers[0].source})
    expect(offers[1].interconnect).to.include({kind: 'efa', gbps: 3200})
    expect(offers[2].interconnect).to.equal(undefined)
  })

  it('a bad kind in a catalog file is an error at its line', () => {
    const home = tempHome()
    const file = join(home, 'bad.yaml')
    writeFileSync(
      file,
      'offers:\n  - provider: onprem\n    region: lab\n    instanceType: dgx\n    vcpus: 1\n    memoryGiB: 1\n    price: {onDemand: 1, currency: USD}\n    interconnect: {kind: nvlink}\n',
    )
    expect(() => readCatalogFile(file, registry())).to.throw(/bad\.yaml:8/)
  })
})
