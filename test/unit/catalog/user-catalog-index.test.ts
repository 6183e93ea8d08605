// A large user catalog file (`--catalog FILE`) is read and checked once, then planned from
// an index in the skyhop home; an edit of the file makes a new one, and problems in a large
// JSON file are still reported at FILE:LINE:COL.
import {expect} from 'chai'
import {appendFileSync, existsSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {INDEXED_FROM_BYTES, loadCatalog, userCatalogIndexFile} from '../../../src/catalog/catalog.js'
import {InvalidFileError} from '../../../src/errors.js'
import {tempHome} from './helpers.js'

const ACCS = ['H100', 'A100-80GB', '910B', null]

/** A JSON catalog of at least `bytes` bytes; one offer per line. */
function bigCatalog(file: string, bytes: number, patch: (line: string, i: number) => string = (l) => l): number {
  const lines: string[] = []
  let size = 0
  for (let i = 0; size < bytes; i++) {
    const acc = ACCS[i % ACCS.length]
    const o = {
      provider: ['aws', 'onprem', 'aliyun'][i % 3],
      region: `r${i % 17}`,
      instanceType: `type-${i}`,
      ...(acc ? {accelerator: {name: acc, count: 1 + (i % 8)}} : {}),
      vcpus: 16,
      memoryGiB: 128,
      price: {onDemand: 1 + (i % 97) / 10, ...(i % 2 ? {spot: 0.5} : {}), currency: i % 3 === 2 ? 'CNY' : 'USD'},
    }
    const line = patch(JSON.stringify(o), i)
    lines.push(line)
    size += line.length + 2
  }
  writeFileSync(file, `{"offers": [\n${lines.join(',\n')}\n]}\n`)
  return lines.length
}

describe('catalog: large user catalog files', () => {
  it('plans from an index after the first read, with the same offers in the same order', () => {
    const home = tempHome()
    const file = join(home, 'inventory.json')
    const n = bigCatalog(file, INDEXED_FROM_BYTES + 1024)
    const index = userCatalogIndexFile(home, file)
    expect(existsSync(index)).to.equal(false)
    const first = loadCatalog({home, catalogFile: file})
    expect(existsSync(index), 'the first read leaves an index').to.equal(true)
    const before = statSync(index).mtimeMs
    const second = loadCatalog({home, catalogFile: file})
    expect(statSync(index).mtimeMs, 'the second read uses it as it is').to.equal(before)
    expect(second.offers.length).to.equal(n)
    expect(second.offers).to.deep.equal(first.offers)
    expect(second.sources).to.deep.equal(first.sources)
    expect(second.sources.map((s) => [s.provider, s.origin, s.file])).to.deep.equal([
      ['aliyun', 'file', file],
      ['aws', 'file', file],
      ['onprem', 'file', file],
    ])
    const a = first.index()
    const b = second.index()
    expect([...b.groupSizes()]).to.deep.equal([...a.groupSizes()])
    expect(b.group('H100-80GB')).to.deep.equal(a.group('H100-80GB'))
  })

  it('reads the file again, and indexes it anew, when it changes', () => {
    const home = tempHome()
    const file = join(home, 'inventory.json')
    const n = bigCatalog(file, INDEXED_FROM_BYTES + 1024)
    loadCatalog({home, catalogFile: file})
    const text = readFileSync(file, 'utf8')
    const extra = JSON.stringify({
      provider: 'onprem',
      region: 'new',
      instanceType: 'added',
      vcpus: 4,
      memoryGiB: 8,
      price: {onDemand: 1, currency: 'USD'},
    })
    writeFileSync(file, text.replace('\n]}\n', `,\n${extra}\n]}\n`))
    const c = loadCatalog({home, catalogFile: file})
    expect(c.offers.length).to.equal(n + 1)
    expect(c.offers.some((o) => o.instanceType === 'added')).to.equal(true)
  })

  it('reports a problem deep in a large JSON file at its line and column', () => {
    const home = tempHome()
    const file = join(home, 'inventory.json')
    bigCatalog(file, 2 * 1024 * 1024, (line, i) => (i === 5000 ? line.replace('"H100"', '"H1OO"') : line))
    let error: unknown
    try {
      loadCatalog({home, catalogFile: file})
    } catch (e) {
      error = e
    }
    expect(error).to.be.instanceOf(InvalidFileError)
    const issue = (error as InvalidFileError).issues[0]
    expect(issue).to.include({file, line: 5002, path: '/offers/5000/accelerator/name'})
    expect(issue.message).to.match(/unknown accelerator "H1OO"/)
  })

  it('refuses a YAML file over 64 MiB with a message that says to write it as JSON', function () {
    this.timeout(30_000)
    const home = tempHome()
    const file = join(home, 'inventory.yaml')
    writeFileSync(file, 'offers:\n')
    const line = '  - {provider: aws, region: r, instanceType: t, vcpus: 1, memoryGiB: 1, price: {onDemand: 1, currency: USD}}\n'
    const chunk = line.repeat(10_000)
    while (statSync(file).size <= 64 * 1024 * 1024) appendFileSync(file, chunk)
    expect(() => loadCatalog({home, catalogFile: file})).to.throw(
      /YAML catalog file must be under 64 MiB \(write a larger catalog as JSON\)/,
    )
  })
})
