// The vendor tools that print a device table when run without arguments — Intel's xpu-smi
// (v2.0), Kunlunxin's xpu_smi, MetaX's mx-smi, Moore Threads' mthreads-gmi — read from their
// recorded real outputs (test/data/vendor-tools/, sources in test/data/SOURCES.md): as printed,
// for detecting this machine's accelerators, and as the runner sends them, for utilisation.
import {expect} from 'chai'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import {detectMachine, parseMthreadsGmi, parseMxSmi, parseXpuSmi} from '../../../src/providers/local/machine.js'
import {USAGE_PARSERS, parseSampleLine} from '../../../src/providers/usage-samples.js'

const DATA = join(import.meta.dirname, '..', '..', 'data', 'vendor-tools')
const recorded = (file: string) => readFileSync(join(DATA, file), 'utf8')

/** What the runner's sr_usage_tool keeps of a tool's output: no empty lines or borders, spaces squeezed. */
const asRunnerSends = (file: string): string[] =>
  recorded(file)
    .split('\n')
    .filter((l) => !/^[-+=|\s]*$/.test(l))
    .map((l) => l.trim().replace(/\s+/g, ' '))

describe('vendor tables: detecting this machine', () => {
  it("reads Intel's xpu-smi table: one Arc B580 with its memory", () => {
    expect(parseXpuSmi(recorded('xpu-smi-intel.txt'))).to.deep.equal([
      {vendor: 'intel', rawName: 'Intel(R) Arc(TM) B580', count: 1, memoryMiB: 12216, tool: 'xpu-smi'},
    ])
  })

  it("reads Kunlunxin's table: eight P800 by product name, not the L3 rows or the process table", () => {
    expect(parseXpuSmi(recorded('xpu-smi-kunlunxin.txt'), 'xpu_smi')).to.deep.equal([
      {vendor: 'kunlunxin', rawName: 'P800', count: 8, memoryMiB: 98304, tool: 'xpu_smi'},
    ])
  })

  it("reads MetaX's mx-smi table: eight C550 of 64 GiB", () => {
    expect(parseMxSmi(recorded('mx-smi.txt'))).to.deep.equal([
      {vendor: 'metax', rawName: 'MetaX C550', count: 8, memoryMiB: 65536, tool: 'mx-smi'},
    ])
  })

  it("reads Moore Threads' mthreads-gmi table: S5000 of 80 GiB, not the rows below each device", () => {
    expect(parseMthreadsGmi(recorded('mthreads-gmi.txt'))).to.deep.equal([
      {vendor: 'moorethreads', rawName: 'MTT S5000', count: 2, memoryMiB: 81920, tool: 'mthreads-gmi'},
    ])
  })

  it('finds no device in another tool’s table, so the probe reports it unreadable rather than guessing', async () => {
    expect(parseMxSmi(recorded('mthreads-gmi.txt'))).to.deep.equal([])
    expect(parseMthreadsGmi(recorded('mx-smi.txt'))).to.deep.equal([])
    // Each tool answered by another's output: installed, unreadable, nothing detected.
    const machine = await detectMachine(async (command) =>
      command === 'mx-smi' ? recorded('mthreads-gmi.txt') : command === 'mthreads-gmi' ? recorded('xpu-smi-intel.txt') : null,
    )
    expect(machine.accelerators).to.deep.equal([])
    expect(machine.unreadable).to.have.members(['mx-smi', 'mthreads-gmi'])
  })

  it('probes each tool with no arguments and reports what each found', async () => {
    const asked: string[] = []
    const outputs: Record<string, string> = {
      'xpu-smi': 'xpu-smi-intel.txt',
      xpu_smi: 'xpu-smi-kunlunxin.txt',
      'mx-smi': 'mx-smi.txt',
      'mthreads-gmi': 'mthreads-gmi.txt',
    }
    const machine = await detectMachine(async (command, args) => {
      if (!(command in outputs)) return null
      asked.push(`${command} ${args.join(' ')}`.trim())
      return recorded(outputs[command])
    })
    expect(asked.sort()).to.deep.equal(['mthreads-gmi', 'mx-smi', 'xpu-smi', 'xpu_smi'])
    expect(machine.accelerators.map((a) => `${a.vendor}:${a.rawName}x${a.count}`)).to.have.members([
      'intel:Intel(R) Arc(TM) B580x1',
      'kunlunxin:P800x8',
      'metax:MetaX C550x8',
      'moorethreads:MTT S5000x2',
    ])
    expect(machine.unreadable).to.deep.equal([])
  })
})

describe('vendor tables: utilisation samples', () => {
  it('reads xpu-smi (Intel): busy share and memory in use', () => {
    expect(USAGE_PARSERS['xpu-smi'](asRunnerSends('xpu-smi-intel.txt'))).to.deep.equal([
      {index: 0, busyPct: 0, memUsedMiB: 239, memTotalMiB: 12216},
    ])
  })

  it('reads xpu_smi (Kunlunxin): device memory, not the L3 cache row under it', () => {
    const xpus = USAGE_PARSERS.xpu_smi(asRunnerSends('xpu-smi-kunlunxin.txt'))
    expect(xpus).to.have.length(8)
    expect(xpus.map((x) => x.index)).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7])
    for (const x of xpus) expect(x).to.deep.include({busyPct: 0, memUsedMiB: 0, memTotalMiB: 98304})
  })

  it('reads mx-smi: GPU-Util on the name row, memory `used/total MiB` on the next', () => {
    const gpus = USAGE_PARSERS['mx-smi'](asRunnerSends('mx-smi.txt'))
    expect(gpus).to.have.length(8)
    expect(gpus[7]).to.deep.equal({index: 7, busyPct: 0, memUsedMiB: 858, memTotalMiB: 65536})
  })

  it('reads mthreads-gmi: memory `used(total)`', () => {
    expect(USAGE_PARSERS['mthreads-gmi'](asRunnerSends('mthreads-gmi.txt'))).to.deep.equal([
      {index: 0, busyPct: 0, memUsedMiB: 66641, memTotalMiB: 81920},
      {index: 1, busyPct: 0, memUsedMiB: 64889, memTotalMiB: 81920},
    ])
  })

  it('counts a sample line from the runner by the tool that answered', () => {
    const line = JSON.stringify({
      ts: '2026-01-01T00:00:00Z',
      cpu: 1,
      cores: 4,
      rssKB: 1024,
      memKB: 4096,
      tools: [{tool: 'mthreads-gmi', rc: 0, lines: asRunnerSends('mthreads-gmi.txt')}],
    })
    const sample = parseSampleLine(line)!
    expect(sample.tool).to.equal('mthreads-gmi')
    expect(sample.accelerators.map((a) => a.memUsedMiB)).to.deep.equal([66641, 64889])
    expect(sample.unreadable).to.deep.equal([])
  })
})
