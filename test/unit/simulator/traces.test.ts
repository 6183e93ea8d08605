// Trace files: names → zone, region and kind; documents checked with every problem at its
// JSON path; folders read recursively; the shared Can't Be Late traces all load.
import {expect} from 'chai'
import {mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {loadRegistry} from '../../../src/catalog/accelerators.js'
import {InvalidFileError, UsageError} from '../../../src/errors.js'
import {loadTraceDir, parseTrace, parseTraceDocument, parseTraceName} from '../../../src/simulator/traces.js'
import {SHARED_TRACES, requireSharedTraces} from './helpers.js'

const registry = loadRegistry()

function issuesOf(fn: () => unknown): Array<{path: string; message: string}> {
  try {
    fn()
  } catch (error) {
    expect(error).to.be.instanceOf(InvalidFileError)
    return (error as InvalidFileError).issues
  }
  throw new Error('expected an InvalidFileError')
}

describe('simulator traces', () => {
  it('reads zone, region, provider, kind and count from file names', () => {
    expect(parseTraceName('x/us-west-2a_v100_1.json')).to.deep.equal({
      zone: 'us-west-2a',
      region: 'us-west-2',
      provider: 'aws',
      label: 'v100',
      count: 1,
    })
    expect(parseTraceName('us-east-1f_k80_8.json')).to.include({region: 'us-east-1', label: 'k80', count: 8})
    expect(parseTraceName('us-east-1b_intel_64.json')).to.include({label: 'intel', count: 64})
    expect(parseTraceName('us-central1-a_c3-88.json')).to.deep.equal({
      zone: 'us-central1-a',
      region: 'us-central1',
      provider: 'gcp',
      label: 'c3-88',
      count: 1,
    })
    for (const bad of [
      'v100.json',
      'us-west-2a.json',
      'us-west-2_v100_1.json',
      'us-west-2a_v100_0.json',
      'us-west-2a_v100_x.json',
      'a_b_c_d.json',
    ]) {
      expect(parseTraceName(bad), bad).to.equal(null)
    }
  })

  it('resolves the kind through the accelerator registry; anything else is a CPU instance', () => {
    const doc = JSON.stringify({metadata: {gap_seconds: 600}, data: [0, 1, 1]})
    expect(parseTrace('us-west-2a_v100_1.json', doc, registry)).to.include({accelerator: 'V100-16GB', gapSeconds: 600})
    expect(parseTrace('us-west-2a_k80_8.json', doc, registry)).to.include({accelerator: 'K80', count: 8})
    expect(parseTrace('us-east-1b_intel_64.json', doc, registry).accelerator).to.equal(null)
    expect([
      ...parseTrace('us-west-2a_v100_1.json', JSON.stringify({metadata: {gap_seconds: 300}, data: [0, 16, true, false]}), registry).data,
    ]).to.deep.equal([0, 16, 1, 0])
  })

  it('reports every problem of a document at its path', () => {
    expect(issuesOf(() => parseTraceDocument('t.json', [1, 2]))[0]).to.include({path: ''})
    const issues = issuesOf(() => parseTraceDocument('t.json', {metadata: {gap_seconds: -5}, data: [1, 'x', 0.5, -1]}))
    expect(issues.map((i) => i.path)).to.deep.equal(['/metadata/gap_seconds', '/data/1', '/data/2', '/data/3'])
    expect(issues[0].message).to.match(/positive number of seconds/)
    expect(issuesOf(() => parseTraceDocument('t.json', {data: []})).map((i) => i.path)).to.deep.equal(['/metadata', '/data'])
    expect(issuesOf(() => parseTraceDocument('t.json', {metadata: {}, data: [1]}))[0].message).to.match(/^missing/)
    const many = issuesOf(() => parseTraceDocument('t.json', {metadata: {gap_seconds: 1}, data: Array(20).fill('x')}))
    expect(many).to.have.length(6)
    expect(many[5]).to.include({path: '/data', message: '15 more bad data points'})
  })

  it('names the file in every error: bad name, bad JSON', () => {
    const e1 = issuesOf(() => parseTrace('/tmp/v100.json', '{}', registry))
    expect(e1[0].message).to.match(/ZONE_KIND\[_COUNT\]\.json/)
    let caught: unknown
    try {
      parseTrace('/tmp/us-west-2a_v100_1.json', '{"metadata":', registry)
    } catch (error) {
      caught = error
    }
    expect(caught).to.be.instanceOf(InvalidFileError)
    expect((caught as Error).message).to.match(/^\/tmp\/us-west-2a_v100_1\.json: not JSON/)
  })

  it('reads folders recursively, following links, and says so when there is nothing to read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'skyhop-traces-'))
    expect(() => loadTraceDir(join(dir, 'missing'), registry)).to.throw(UsageError, /does not exist/)
    expect(() => loadTraceDir(dir, registry)).to.throw(UsageError, /no trace files/)
    mkdirSync(join(dir, 'a'))
    writeFileSync(join(dir, 'a', 'us-west-2a_v100_1.json'), JSON.stringify({metadata: {gap_seconds: 60}, data: [1, 0]}))
    writeFileSync(join(dir, 'notes.md'), 'not a trace')
    const other = mkdtempSync(join(tmpdir(), 'skyhop-traces-'))
    writeFileSync(join(other, 'us-east-1a_v100_1.json'), JSON.stringify({metadata: {gap_seconds: 60}, data: [0, 1]}))
    symlinkSync(join(other, 'us-east-1a_v100_1.json'), join(dir, 'us-east-1a_v100_1.json'))
    expect(loadTraceDir(dir, registry).map((t) => t.zone)).to.deep.equal(['us-west-2a', 'us-east-1a'])
    expect(loadTraceDir(join(dir, 'a', 'us-west-2a_v100_1.json'), registry)).to.have.length(1)
  })

  describe("the shared Can't Be Late traces", () => {
    it('all load, with the tick each set documents', function () {
      requireSharedTraces(this)
      const traces = loadTraceDir(SHARED_TRACES, registry)
      const files = (d: string): number =>
        readdirSync(d, {withFileTypes: true}).reduce(
          (n, e) => n + (e.isDirectory() ? files(join(d, e.name)) : e.name.endsWith('.json') ? 1 : 0),
          0,
        )
      expect(traces).to.have.length(files(SHARED_TRACES))
      const gap = (part: string) => new Set(traces.filter((t) => t.file.includes(part)).map((t) => t.gapSeconds))
      expect([...gap('aws-10-26-2022')]).to.deep.equal([600])
      expect([...gap('aws-02-15-2023')]).to.deep.equal([195])
      expect(traces.filter((t) => t.file.includes('aws-02-15-2023'))).to.have.length(9)
      expect(traces.find((t) => t.zone === 'us-central1-a')).to.include({provider: 'gcp', region: 'us-central1', accelerator: null})
      expect(Math.max(...traces.filter((t) => t.file.includes('16-node')).flatMap((t) => [...t.data]))).to.equal(16)
    })
  })
})
