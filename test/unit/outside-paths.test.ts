// The product names the public source of a figure, never a path outside the project
// (issue 23: `cost` printed "assumed rate of ../shared/data/catalog/china.csv"). Scans what
// ships (src, schemas, bin, the bundled data, the README) for such paths.
import {expect} from 'chai'
import {readFileSync, readdirSync, statSync} from 'node:fs'
import {join, relative, resolve} from 'node:path'

import {bundledFx} from '../../src/catalog/fx.js'
import {PROVIDERS} from '../../src/catalog/providers.js'

const ROOT = resolve(import.meta.dirname, '..', '..')
const OUTSIDE = /\.\.\/shared\b|\/work\/shared\b|shared\/data\/|shared\/test-vectors/

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name)
    return statSync(p).isDirectory() ? files(p) : [p]
  })
}

describe('no path outside the project in the product', () => {
  it('src, schemas, bin, data/*.json and the README name no ../shared path', () => {
    const shipped = [
      ...files(join(ROOT, 'src')),
      ...files(join(ROOT, 'schemas')),
      ...files(join(ROOT, 'bin')),
      join(ROOT, 'data', 'accelerators.json'),
      join(ROOT, 'data', 'offers.json'),
      join(ROOT, 'README.md'),
    ]
    const hits = shipped.flatMap((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .flatMap((line, i) => (OUTSIDE.test(line) ? [`${relative(ROOT, f)}:${i + 1}: ${line.trim()}`] : [])),
    )
    expect(hits).to.deep.equal([])
  })

  it('the default exchange rate and the spot notices name public sources', () => {
    expect(bundledFx().source).to.match(/chinamoney\.com\.cn/)
    expect(bundledFx().source).not.to.match(/assumed|\.csv/)
    for (const p of PROVIDERS) expect(p.noticeSeconds.source ?? '', p.id).not.to.match(/\.md\b|\.csv\b/)
  })
})
