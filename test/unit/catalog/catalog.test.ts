import {expect} from 'chai'
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {catalogDir, loadCatalog, refreshedFile} from '../../../src/catalog/catalog.js'
import {encodeBinary} from '../../../src/catalog/snapshot.js'
import {catalogStatus} from '../../../src/catalog/status.js'
import {ExitCode, InvalidFileError} from '../../../src/errors.js'
import {FIXTURE, fixtureSnapshot, offer} from './fixtures.js'
import {tempHome} from './helpers.js'

function writeRefreshed(
  home: string,
  provider: string,
  offers = [
    offer({
      provider,
      region: 'westeurope',
      instanceType: 'Standard_NC4as_T4_v3',
      accelerator: {name: 'T4', count: 1},
      price: {onDemand: 0.6, spot: 0.07, currency: 'USD'},
      asOf: '2026-11-27',
    }),
  ],
) {
  mkdirSync(catalogDir(home), {recursive: true})
  const meta = {
    [provider]: {
      source: 'Azure Retail Prices API test',
      asOf: '2026-11-27',
      rows: offers.length,
      origin: 'refreshed' as const,
      fetchedAt: '2026-11-27T10:00:00.000Z',
    },
  }
  writeFileSync(refreshedFile(home, provider), encodeBinary(offers, meta, []))
}

function write(home: string, name: string, text: string): string {
  const file = join(home, name)
  writeFileSync(file, text)
  return file
}

function issuesOf(fn: () => unknown): InvalidFileError {
  try {
    fn()
  } catch (error) {
    expect(error).to.be.instanceOf(InvalidFileError)
    return error as InvalidFileError
  }
  throw new Error('expected an InvalidFileError')
}

describe('catalog: loading', () => {
  it('loads the bundled snapshot with one source per provider', () => {
    const c = loadCatalog({home: tempHome()})
    expect(c.offers.length).to.be.greaterThan(500)
    expect(c.sources.every((s) => s.origin === 'bundled')).to.equal(true)
    expect(c.sources.map((s) => s.provider)).to.include.members(['aws', 'gcp', 'azure', 'aliyun', 'huaweicloud', 'tencentcloud'])
    expect(c.warnings).to.deep.equal([])
  })

  it('replaces a provider wholesale with its refreshed file', () => {
    const {home, snapshotFile} = fixtureSnapshot()
    writeRefreshed(home, 'azure')
    const c = loadCatalog({home, snapshotFile})
    const azure = c.offers.filter((o) => o.provider === 'azure')
    expect(azure.map((o) => o.instanceType)).to.deep.equal(['Standard_NC4as_T4_v3'])
    expect(c.offers.filter((o) => o.provider === 'aws')).to.have.length(4)
    const src = c.sources.find((s) => s.provider === 'azure')!
    expect(src).to.deep.include({origin: 'refreshed', rows: 1, fetchedAt: '2026-11-27T10:00:00.000Z', asOf: '2026-11-27'})
  })

  it('ignores a damaged refreshed file, keeps the bundled rows and says so', () => {
    const {home, snapshotFile} = fixtureSnapshot()
    mkdirSync(catalogDir(home), {recursive: true})
    writeFileSync(
      refreshedFile(home, 'azure'),
      encodeBinary(FIXTURE, {azure: {source: 's', asOf: '2026-01-01', rows: 1, origin: 'refreshed'}}, []).subarray(0, 200),
    )
    const c = loadCatalog({home, snapshotFile})
    expect(c.offers.filter((o) => o.provider === 'azure')).to.have.length(2)
    expect(c.warnings).to.have.length(1)
    expect(c.warnings[0]).to.match(/ignored .*azure\.offers\.bin: .*truncated.*; using the bundled azure offers/)
  })

  describe('user catalog files', () => {
    const yaml = `# negotiated and private offers
offers:
  - provider: onprem
    region: lab-1
    instanceType: atlas-800t-a2
    accelerator: {name: 910B, count: 8}
    vcpus: 192
    memoryGiB: 1024
    price: {onDemand: 0, currency: CNY}
    expectedQueueMinutes: 45
  - provider: aws
    region: us-east-1
    instanceType: p4d.24xlarge
    accelerator: {name: A100, count: 8}
    vcpus: 96
    memoryGiB: 1152
    price: {onDemand: 15.5, spot: 7.0, currency: USD}
    source: enterprise agreement 2026
    asOf: '2026-10-01'
`

    it("--catalog uses exactly the file's offers, names resolved through the registry", () => {
      const home = tempHome()
      const file = write(home, 'mine.yaml', yaml)
      const c = loadCatalog({home, catalogFile: file})
      expect(c.offers).to.have.length(2)
      expect(c.offers[0]).to.deep.include({
        provider: 'onprem',
        accelerator: {name: 'Ascend910B', count: 8},
        priceStatus: 'list',
        expectedQueueMinutes: 45,
        confidence: 'high',
      })
      expect(c.offers[0].source).to.equal(`file:${file}`)
      expect(c.offers[0].asOf).to.match(/^\d{4}-\d{2}-\d{2}$/)
      expect(c.offers[1]).to.deep.include({
        source: 'enterprise agreement 2026',
        asOf: '2026-10-01',
        price: {onDemand: 15.5, spot: 7, currency: 'USD'},
      })
      expect(c.sources.map((s) => [s.provider, s.origin])).to.deep.equal([
        ['aws', 'file'],
        ['onprem', 'file'],
      ])
    })

    it('reads the same offers from JSON', () => {
      const home = tempHome()
      const asJson = JSON.stringify({
        offers: [
          {
            provider: 'onprem',
            region: 'lab-1',
            instanceType: 'x',
            accelerator: null,
            vcpus: 4,
            memoryGiB: 8,
            price: {onDemand: 0.1, currency: 'USD'},
          },
        ],
      })
      const c = loadCatalog({home, catalogFile: write(home, 'mine.json', asJson)})
      expect(c.offers[0]).to.deep.include({accelerator: null, vcpus: 4, price: {onDemand: 0.1, spot: null, currency: 'USD'}})
    })

    it('a merge file replaces matching offers and adds new ones', () => {
      const {home, snapshotFile} = fixtureSnapshot()
      const file = write(home, 'merge.yaml', yaml)
      const c = loadCatalog({home, snapshotFile, mergeFile: file})
      const p4d = c.offers.filter((o) => o.provider === 'aws' && o.instanceType === 'p4d.24xlarge' && o.region === 'us-east-1')
      expect(p4d).to.have.length(1)
      expect(p4d[0].price.onDemand).to.equal(15.5)
      expect(c.offers).to.have.length(FIXTURE.length + 1)
      expect(c.warnings[0]).to.match(/replaced 1 offer/)
    })

    it('reports every problem at file:line:col with the field path (CATALOG_FILE_INVALID, exit 3)', () => {
      const home = tempHome()
      const file = write(
        home,
        'bad.yaml',
        `offers:
  - provider: aws
    region: us-east-1
    instanceType: p5.48xlarge
    accelerator: {name: H10O, count: 8}
    vcpus: 192
    memoryGiB: 2048
    price: {onDemand: 55.04, currency: USD}
  - provider: aws
    regoin: us-east-1
    instanceType: x
    vcpus: -1
    memoryGiB: 1
    price: {onDemand: 1, currency: EUR}
`,
      )
      const schemaError = issuesOf(() => loadCatalog({home, catalogFile: file}))
      expect(schemaError.code).to.equal('CATALOG_FILE_INVALID')
      expect(schemaError.exitCode).to.equal(ExitCode.invalidJobFile)
      const text = schemaError.issues.map((i) => `${i.line}:${i.column} ${i.path} ${i.message}${i.suggestion ? ` (${i.suggestion})` : ''}`)
      expect(text).to.include.members(['10:5 /offers/1/regoin unknown key "regoin" (region)', '12:12 /offers/1/vcpus must be >= 0, got -1'])
      expect(text.some((t) => t.startsWith('14:') && t.includes('/offers/1/price/currency') && t.includes('EUR'))).to.equal(true)
      expect(text.some((t) => t.includes('/offers/1/region') && t.includes('missing required key'))).to.equal(true)

      // Once the shape is right, names are checked against the registry.
      const named = write(
        home,
        'names.yaml',
        `offers:\n  - provider: aws\n    region: us-east-1\n    instanceType: p5.48xlarge\n    accelerator: {name: H10O, count: 8}\n    vcpus: 192\n    memoryGiB: 2048\n    price: {onDemand: 55.04, currency: USD}\n`,
      )
      const nameError = issuesOf(() => loadCatalog({home, catalogFile: named}))
      expect(nameError.issues).to.have.length(1)
      expect(nameError.issues[0]).to.deep.include({line: 5, column: 25, path: '/offers/0/accelerator/name', suggestion: 'H100-80GB'})
      expect(nameError.message).to.equal(
        `${named}:5:25: /offers/0/accelerator/name: unknown accelerator "H10O"; see \`skyhop accelerators\` for the list (did you mean "H100-80GB"?)`,
      )
    })

    it('reports YAML syntax errors, duplicates, a missing file and an empty file', () => {
      const home = tempHome()
      const syntax = issuesOf(() => loadCatalog({home, catalogFile: write(home, 's.yaml', 'offers:\n  - provider: [aws\n')}))
      expect(syntax.issues[0].message).to.match(/YAML syntax error/)
      expect(syntax.issues[0].line).to.be.a('number')
      const dupKey = issuesOf(() => loadCatalog({home, catalogFile: write(home, 'd.yaml', 'offers: []\noffers: []\n')}))
      expect(dupKey.issues[0].line).to.equal(2)
      const offerYaml = `  - {provider: aws, region: r, instanceType: t, vcpus: 1, memoryGiB: 1, price: {onDemand: 1, currency: USD}}\n`
      const dupOffer = issuesOf(() => loadCatalog({home, catalogFile: write(home, 'o.yaml', `offers:\n${offerYaml}${offerYaml}`)}))
      expect(dupOffer.issues[0]).to.deep.include({line: 3, path: '/offers/1'})
      expect(issuesOf(() => loadCatalog({home, catalogFile: join(home, 'nope.yaml')})).issues[0].message).to.equal('no such file')
      expect(issuesOf(() => loadCatalog({home, catalogFile: write(home, 'e.yaml', '\n')})).issues[0].message).to.match(/empty/)
    })
  })

  it('status shows origin, age from the refresh, rows and the last attempt', () => {
    const {home, snapshotFile} = fixtureSnapshot()
    writeRefreshed(home, 'azure')
    const s = catalogStatus({home, snapshotFile, now: new Date('2026-11-27T12:00:00Z')})
    const azure = s.providers.find((p) => p.provider === 'azure')!
    expect(azure).to.deep.include({origin: 'refreshed', rows: 1, ageSeconds: 7200, refreshSupported: true, lastRefresh: null})
    const aws = s.providers.find((p) => p.provider === 'aws')!
    expect(aws).to.deep.include({origin: 'bundled', rows: 4, asOf: '2026-01-01', refreshSupported: true})
    expect(s.providers.find((p) => p.provider === 'gcp')!.refreshSupported).to.equal(false)
    expect(aws.ageSeconds).to.equal(Math.round((Date.parse('2026-11-27T12:00:00Z') - Date.parse('2026-01-01T00:00:00Z')) / 1000))
    expect(s.totalRows).to.equal(FIXTURE.length - 2 + 1)
  })
})
