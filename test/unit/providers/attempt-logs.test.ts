// Reading runners' output.log files as lines (src/providers/attempt-logs.ts): which files a
// rank or `all` means, the rank prefix, and following files that are still being written.
import {expect} from 'chai'
import {appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {ProviderError} from '../../../src/errors.js'
import {followLogFiles, logSources} from '../../../src/providers/attempt-logs.js'

describe('attempt logs', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'skyhop-logs-'))
  })
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  it('names the files: the attempt’s own for one node, node-<rank>/ for a gang, a prefix only for several', () => {
    expect(logSources('slurm', dir, 1, undefined)).to.deep.equal([{path: join(dir, 'output.log'), prefix: ''}])
    expect(logSources('slurm', dir, 1, 'all')).to.deep.equal([{path: join(dir, 'output.log'), prefix: ''}])
    expect(logSources('slurm', dir, 3, 2)).to.deep.equal([{path: join(dir, 'node-2', 'output.log'), prefix: ''}])
    expect(logSources('slurm', dir, 2, 'all').map((s) => s.prefix)).to.deep.equal(['[rank 0] ', '[rank 1] '])
    for (const [nodes, node, hint] of [
      [2, 2, /ranks are 0 to 1/],
      [1, 1, /one node: rank 0/],
      [2, -1, /ranks are 0 to 1/],
    ] as const) {
      const e = (() => {
        try {
          logSources('slurm', dir, nodes, node)
        } catch (error) {
          return error as ProviderError
        }
      })()
      expect(e).to.be.instanceOf(ProviderError)
      expect(e!.category).to.equal('user')
      expect(e!.hint).to.match(hint)
    }
  })

  it('reads every rank’s lines in order with its prefix, and a last line without a newline', async () => {
    for (const rank of [0, 1]) mkdirSync(join(dir, `node-${rank}`))
    writeFileSync(join(dir, 'node-0', 'output.log'), 'a\nb\n')
    writeFileSync(join(dir, 'node-1', 'output.log'), 'x\ny')
    const lines: string[] = []
    for await (const l of followLogFiles(logSources('slurm', dir, 2, 'all'), {follow: false, ended: () => true})) lines.push(l)
    expect(lines).to.deep.equal(['[rank 0] a', '[rank 0] b', '[rank 1] x', '[rank 1] y'])
  })

  it('follows files that appear and grow until the writers are done, then reads what is left', async () => {
    const sources = [{path: join(dir, 'late.log'), prefix: ''}]
    let done = false
    const lines: string[] = []
    const reading = (async () => {
      for await (const l of followLogFiles(sources, {follow: true, ended: () => done, idleMs: () => 5})) lines.push(l)
    })()
    await new Promise((r) => setTimeout(r, 30))
    writeFileSync(join(dir, 'late.log'), 'one\ntw')
    await new Promise((r) => setTimeout(r, 30))
    appendFileSync(join(dir, 'late.log'), 'o\nthree')
    done = true
    await reading
    expect(lines).to.deep.equal(['one', 'two', 'three'])
  })

  it('stops when its signal aborts', async () => {
    const controller = new AbortController()
    const lines: string[] = []
    const reading = (async () => {
      for await (const l of followLogFiles([{path: join(dir, 'never.log'), prefix: ''}], {
        follow: true,
        signal: controller.signal,
        ended: () => false,
        idleMs: () => 1000,
      }))
        lines.push(l)
    })()
    setTimeout(() => controller.abort(), 20)
    const started = Date.now()
    await reading
    expect(Date.now() - started).to.be.lessThan(500)
    expect(lines).to.deep.equal([])
  })

  it('with wakeOnChange reads a line when it is written, not a poll later, and still stops on its signal', async () => {
    const path = join(dir, 'output.log')
    const controller = new AbortController()
    const seen: {line: string; ms: number}[] = []
    let written = 0
    // A poll of 10 s: only the change can bring the line within the test's time.
    const reading = (async () => {
      for await (const line of followLogFiles([{path, prefix: ''}], {
        follow: true,
        signal: controller.signal,
        ended: () => false,
        idleMs: () => 10_000,
        wakeOnChange: true,
      }))
        seen.push({line, ms: Date.now() - written})
    })()
    await new Promise((r) => setTimeout(r, 50))
    written = Date.now()
    writeFileSync(path, 'first\n')
    await new Promise((r) => setTimeout(r, 200))
    written = Date.now()
    appendFileSync(path, 'second\n')
    await new Promise((r) => setTimeout(r, 200))
    controller.abort()
    await reading
    expect(seen.map((s) => s.line)).to.deep.equal(['first', 'second'])
    for (const s of seen) expect(s.ms).to.be.lessThan(150)
  })
})
