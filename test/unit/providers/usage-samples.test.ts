// The vendor tools' recorded real output (test/data/vendor-tools/, sources in
// test/data/SOURCES.md), as the runner hands it over (table borders dropped, spaces
// squeezed), through the parsers; and samples.jsonl lines, good and bad, summarised.
import {expect} from 'chai'
import {appendFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {readSamplesFile} from '../../../src/providers/attempt-dir.js'
import {
  addSamples,
  gangSummaryOf,
  idleTail,
  mergeTotals,
  NO_USAGE,
  parseIxsmiQuery,
  parseNpuSmiInfo,
  parseNvidiaQuery,
  parseRocmSmiJson,
  parseSampleLine,
  parseSamples,
  summarizeSamples,
  summaryOf,
} from '../../../src/providers/usage-samples.js'

const DATA = join(import.meta.dirname, '..', '..', 'data', 'vendor-tools')

/** What the runner's sr_usage_tool keeps of a tool's output. */
function asRunnerSends(file: string): string[] {
  return readFileSync(join(DATA, file), 'utf8')
    .split('\n')
    .filter((l) => !/^[-+=|\s]*$/.test(l))
    .map((l) => l.trim().replace(/\s+/g, ' '))
}

describe('usage samples: vendor tools', () => {
  it('reads nvidia-smi query CSV', () => {
    expect(parseNvidiaQuery(asRunnerSends('nvidia-smi-query.txt'))).to.deep.equal([
      {index: 0, busyPct: 15, memUsedMiB: 2079, memTotalMiB: 6144},
    ])
  })

  it('reads [N/A] fields of nvidia-smi as unknown, not as zero', () => {
    expect(parseNvidiaQuery(['0, [N/A], 100, 81559'])).to.deep.equal([{index: 0, busyPct: null, memUsedMiB: 100, memTotalMiB: 81559}])
  })

  it('reads ixsmi query CSV with units', () => {
    expect(parseIxsmiQuery(asRunnerSends('ixsmi-query-units.txt'))).to.deep.equal([
      {index: 0, busyPct: 0, memUsedMiB: 116, memTotalMiB: 16384},
      {index: 1, busyPct: 0, memUsedMiB: 27996, memTotalMiB: 32768},
    ])
  })

  it('reads npu-smi info: 8 idle 910 NPUs, HBM as their memory, not the process table', () => {
    const npus = parseNpuSmiInfo(asRunnerSends('npu-smi-info.txt'))
    expect(npus).to.have.length(8)
    expect(npus[0]).to.deep.equal({index: 0, busyPct: 0, memUsedMiB: 0, memTotalMiB: 32768})
    expect(npus.map((n) => n.index)).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7])
  })

  it('reads rocm-smi and hy-smi JSON', () => {
    const [amd] = parseRocmSmiJson(asRunnerSends('rocm-smi-json.txt'))
    expect(amd.busyPct).to.equal(100)
    expect(amd.memUsedMiB).to.be.closeTo(11077, 0.5)
    expect(amd.memTotalMiB).to.be.closeTo(16368, 0.5)
    expect(parseRocmSmiJson(asRunnerSends('hy-smi-json.txt'))).to.deep.equal([{index: 0, busyPct: 0, memUsedMiB: 2, memTotalMiB: 65520}])
  })
})

describe('usage samples: lines and summaries', () => {
  const line = (ts: string, cpu: number, tools: unknown[]) =>
    JSON.stringify({ts, cpu, cores: 2, rssKB: 2048 * 1024, memKB: 8 * 1024 * 1024, procs: 3, tools})
  const nv = (busy: number) => ({tool: 'nvidia-smi', rc: 0, lines: [`0, ${busy}, 22000, 81559`]})

  it('skips torn and garbage lines and unreadable tools without failing', () => {
    const text = [
      line('2026-12-07T00:00:10.000Z', 2, [nv(0)]),
      '{"ts":"2026-12-07T00:00:20.000Z","cpu":1.9',
      'garbage \u0001',
      line('2026-12-07T00:00:30.000Z', 2, [
        {tool: 'npu-smi', rc: 0, lines: ['| 0 | x% | -12 / abc |']},
        {tool: 'rocm-smi', rc: 124, lines: []},
        nv(0),
      ]),
    ].join('\n')
    const samples = parseSamples(text)
    expect(samples).to.have.length(2)
    expect(samples[1].unreadable).to.deep.equal(['npu-smi', 'rocm-smi'])
    expect(samples[1].tool).to.equal('nvidia-smi')
    expect(parseSampleLine('{"ts":"x","cpu":1}')).to.equal(null)
  })

  it('summarises a CPU-bound job on an idle GPU: CPU saturated, accelerator idle, memory peaks', () => {
    const samples = parseSamples([line('2026-12-07T00:00:10.000Z', 2, [nv(0)]), line('2026-12-07T00:00:20.000Z', 1.96, [nv(2)])].join('\n'))
    const s = summarizeSamples(samples)!
    expect(s.samples).to.equal(2)
    expect(s.cpuBusy).to.equal(0.99)
    expect(s.acceleratorBusy).to.equal(0.01)
    expect(s.accelerators).to.equal(1)
    expect(s.acceleratorMemPeakMiB).to.equal(22000)
    expect(s.acceleratorMemTotalMiB).to.equal(81559)
    expect(s.memPeakMiB).to.equal(2048)
  })

  it('measures how long the accelerators have been idle, or the CPU without accelerators', () => {
    const ts = (s: number) => new Date(Date.UTC(2026, 11, 7, 0, 0, s)).toISOString()
    const gpu = parseSamples([line(ts(0), 2, [nv(90)]), line(ts(10), 2, [nv(1)]), line(ts(20), 2, [nv(0)])].join('\n'))
    expect(idleTail(gpu, 5)).to.deep.equal({idleSeconds: 20, basis: 'accelerators'})
    const cpu = parseSamples([line(ts(0), 0.01, []), line(ts(10), 0.02, [])].join('\n'))
    expect(idleTail(cpu, 5)).to.deep.equal({idleSeconds: 10, basis: 'cpu'})
    const busy = parseSamples([line(ts(0), 0.01, []), line(ts(10), 1.5, [])].join('\n'))
    expect(idleTail(busy, 5)).to.deep.equal({idleSeconds: 0, basis: 'cpu'})
  })

  it('reads a growing file a piece at a time, whole lines only, to the same summary as at once', () => {
    const dir = mkdtempSync(join(tmpdir(), 'skyhop-samples-'))
    expect(readSamplesFile(dir, 1)).to.equal(null)
    const a = line('2026-12-07T00:00:10.000Z', 2, [nv(10)])
    const b = line('2026-12-07T00:00:20.000Z', 1, [nv(30)])
    // The sampler is half way through its second line.
    writeFileSync(join(dir, 'samples.jsonl'), `${a}\n${b.slice(0, 20)}`)
    const first = readSamplesFile(dir, 1, 0)!
    expect(first.text).to.equal(`${a}\n`)
    appendFileSync(join(dir, 'samples.jsonl'), `${b.slice(20)}\n`)
    const second = readSamplesFile(dir, 1, first.offset)!
    expect(second.text).to.equal(`${b}\n`)
    expect(readSamplesFile(dir, 1, second.offset)).to.deep.equal({text: '', offset: second.offset})
    const pieces = addSamples(addSamples(NO_USAGE, parseSamples(first.text)), parseSamples(second.text))
    expect(summaryOf(pieces)).to.deep.equal(summarizeSamples(parseSamples(`${a}\n${b}\n`)))
    expect(summaryOf(pieces)!.acceleratorBusy).to.equal(0.2)
    expect(summaryOf(NO_USAGE)).to.equal(null)
  })

  it("summarises a gang from each rank's totals: means over every sample, peaks of one node, one row per rank", () => {
    // Rank 0 idles on its GPU with 2 GiB; rank 1 keeps both cores and its GPU busy with 4 GiB.
    const rank0 = parseSamples([line('2026-12-07T00:00:10.000Z', 0, [nv(0)]), line('2026-12-07T00:00:20.000Z', 0.04, [nv(0)])].join('\n'))
    const big = (ts: string) =>
      JSON.stringify({
        ts,
        cpu: 2,
        cores: 2,
        rssKB: 4096 * 1024,
        memKB: 8 * 1024 * 1024,
        procs: 5,
        tools: [{...nv(90), lines: ['0, 90, 30000, 81559']}],
      })
    const rank1 = parseSamples([big('2026-12-07T00:00:11.000Z'), big('2026-12-07T00:00:21.000Z')].join('\n'))
    const totals = [addSamples(NO_USAGE, rank0), addSamples(NO_USAGE, rank1), NO_USAGE]
    const s = gangSummaryOf(totals)!
    expect(s).to.deep.include({
      samples: 4,
      firstAt: '2026-12-07T00:00:10.000Z',
      lastAt: '2026-12-07T00:00:21.000Z', // the gang's latest, rank 1's
      cpuBusy: 0.505, // (0 + 0.02 + 1 + 1) / 4
      cores: 2,
      memPeakMiB: 4096, // one node's peak, not the sum
      accelerators: 1, // per node
      acceleratorBusy: 0.45,
      acceleratorMemPeakMiB: 30000,
      acceleratorMemTotalMiB: 81559,
    })
    expect(s.last!.ts).to.equal('2026-12-07T00:00:20.000Z') // the head's
    expect(s.ranks!.map((r) => ({...r, last: r.last?.ts ?? null}))).to.deep.equal([
      {
        rank: 0,
        samples: 2,
        cpuBusy: 0.01,
        cores: 2,
        memPeakMiB: 2048,
        accelerators: 1,
        acceleratorBusy: 0,
        acceleratorMemPeakMiB: 22000,
        last: '2026-12-07T00:00:20.000Z',
      },
      {
        rank: 1,
        samples: 2,
        cpuBusy: 1,
        cores: 2,
        memPeakMiB: 4096,
        accelerators: 1,
        acceleratorBusy: 0.9,
        acceleratorMemPeakMiB: 30000,
        last: '2026-12-07T00:00:21.000Z',
      },
      {
        rank: 2,
        samples: 0,
        cpuBusy: 0,
        cores: 1,
        memPeakMiB: 0,
        accelerators: 0,
        acceleratorBusy: null,
        acceleratorMemPeakMiB: null,
        last: null,
      },
    ])
    // Merged is the same as all samples at once, but for the memory peaks of one node.
    const once = summarizeSamples([...rank0, ...rank1])!
    expect(summaryOf(mergeTotals(totals))).to.deep.include({
      cpuBusy: once.cpuBusy,
      acceleratorBusy: once.acceleratorBusy,
      samples: once.samples,
    })
    // A head without samples yet: the latest is another rank's; no rank with any: nothing.
    expect(gangSummaryOf([NO_USAGE, addSamples(NO_USAGE, rank1)])!.last!.ts).to.equal('2026-12-07T00:00:21.000Z')
    expect(gangSummaryOf([NO_USAGE, NO_USAGE])).to.equal(null)
  })

  it("reads a gang rank's own file, and no rank the attempt does not have", () => {
    const dir = mkdtempSync(join(tmpdir(), 'skyhop-samples-'))
    for (const rank of [0, 1]) {
      mkdirSync(join(dir, `node-${rank}`))
      writeFileSync(join(dir, `node-${rank}`, 'samples.jsonl'), `${line(`2026-12-07T00:00:1${rank}.000Z`, rank, [])}\n`)
    }
    expect(parseSamples(readSamplesFile(dir, 2, 0, 0)!.text)[0].cpuCores).to.equal(0)
    expect(parseSamples(readSamplesFile(dir, 2, 0, 1)!.text)[0].cpuCores).to.equal(1)
    expect(readSamplesFile(dir, 2, 0)).to.deep.equal(readSamplesFile(dir, 2, 0, 0))
    expect(readSamplesFile(dir, 2, 0, 2)).to.equal(null)
    expect(readSamplesFile(dir, 2, 0, -1)).to.equal(null)
    expect(readSamplesFile(dir, 1, 0, 1)).to.equal(null)
  })
})
