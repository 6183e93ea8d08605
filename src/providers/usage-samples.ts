// Reading the runner's samples.jsonl (docs/utilisation.md): each line's CPU and memory as the
// runner measured them, and each vendor tool's raw output parsed here, where every format is
// tested against recorded real output (test/data/vendor-tools/). A line or a tool's answer
// that cannot be read is skipped or reported as unreadable, never an error: samples inform,
// they never fail a job.
import {createHash} from 'node:crypto'

import type {JobSpec} from '../model/job-spec.js'
import type {AcceleratorSample, UsageRankSummary, UsageSample, UsageSummary} from '../model/usage.js'
import {type SmiDevice, mthreadsGmiDevices, smiTableDevices} from './smi-tables.js'

/** One tool's answer in a sample, as the runner wrote it. */
interface RawTool {
  tool: string
  rc: number
  lines: string[]
}

type Parser = (lines: string[]) => AcceleratorSample[]

const num = (s: string | undefined): number | null => {
  if (s === undefined) return null
  const n = Number(s.trim().replace(/\s*(%|MiB|MB|C)$/i, ''))
  return s.trim() !== '' && Number.isFinite(n) ? n : null
}

/** `nvidia-smi --query-gpu=index,utilization.gpu,memory.used,memory.total --format=csv,noheader,nounits` */
export function parseNvidiaQuery(lines: string[]): AcceleratorSample[] {
  const out: AcceleratorSample[] = []
  for (const line of lines) {
    const f = line.split(',')
    if (f.length !== 4) continue
    const [index, busy, used, total] = f.map(num)
    // "[N/A]" or "[Not Supported]" reads as null: the device is there, the figure is not.
    if (index === null || !Number.isInteger(index)) continue
    out.push({index, busyPct: pct(busy), memUsedMiB: nonNeg(used), memTotalMiB: positive(total)})
  }
  return out
}

/** `ixsmi --format=csv,noheader --query-gpu=index,name,memory.total,memory.used,utilization.gpu,temperature.gpu` */
export function parseIxsmiQuery(lines: string[]): AcceleratorSample[] {
  const out: AcceleratorSample[] = []
  for (const line of lines) {
    const f = line.split(',')
    if (f.length !== 6) continue
    const index = num(f[0])
    if (index === null || !Number.isInteger(index)) continue
    out.push({index, busyPct: pct(num(f[4])), memUsedMiB: nonNeg(num(f[3])), memTotalMiB: positive(num(f[2]))})
  }
  return out
}

/**
 * `npu-smi info`: each NPU takes two table rows, `| NPU Name | Health | Power Temp Hugepages |`
 * then `| Chip | Bus-Id | AICore(%) Memory-Usage(MB) HBM-Usage(MB) |`. The runner squeezes
 * spaces. HBM is the device memory of training parts (910); inference parts (310) have only
 * Memory-Usage, so HBM is used when its total is not 0.
 */
export function parseNpuSmiInfo(lines: string[]): AcceleratorSample[] {
  const out: AcceleratorSample[] = []
  let npu: number | null = null
  for (const line of lines) {
    const cells = line.split('|').map((c) => c.trim())
    if (cells.length < 4) continue
    const head = /^(\d+)\s+\S/.exec(cells[1])
    if (head && /^(OK|Warning|Alarm|Critical)/i.test(cells[2])) {
      npu = Number(head[1])
      continue
    }
    if (npu === null || !/^\d+$/.test(cells[1]) || !/^[0-9A-Fa-f]{4,8}:/.test(cells[2])) continue
    const m = /^(\d+(?:\.\d+)?)\s+(\d+)\s*\/\s*(\d+)\s+(\d+)\s*\/\s*(\d+)/.exec(cells[3])
    if (m) {
      const hbmTotal = Number(m[5])
      const [used, total] = hbmTotal > 0 ? [Number(m[4]), hbmTotal] : [Number(m[2]), Number(m[3])]
      out.push({index: npu, busyPct: pct(Number(m[1])), memUsedMiB: used, memTotalMiB: positive(total)})
    }
    npu = null
  }
  return out
}

/** `rocm-smi --showuse --showmeminfo vram --json`, and hy-smi (Hygon's fork: `DCU use (%)`, MiB). */
export function parseRocmSmiJson(lines: string[]): AcceleratorSample[] {
  const parsed = JSON.parse(lines.join('\n')) as Record<string, Record<string, string>>
  const out: AcceleratorSample[] = []
  for (const [key, info] of Object.entries(parsed)) {
    const card = /^card(\d+)$/.exec(key)
    if (!card || typeof info !== 'object' || info === null) continue
    const busy = num(info['GPU use (%)'] ?? info['DCU use (%)'])
    const usedB = num(info['VRAM Total Used Memory (B)'])
    const totalB = num(info['VRAM Total Memory (B)'])
    const mib = (b: number | null) => (b === null ? null : b / 1_048_576)
    const used = usedB !== null ? mib(usedB) : num(info['vram Total Used Memory (MiB)'])
    const total = totalB !== null ? mib(totalB) : num(info['vram Total Memory (MiB)'])
    out.push({index: Number(card[1]), busyPct: pct(busy), memUsedMiB: nonNeg(used), memTotalMiB: positive(total)})
  }
  return out
}

/** cnmon_info.json of `cnmon info -e -m -u -j`: CnmonInfo[].Utilization.MLUAverage, PhysicalMemUsage.Used/Total (MiB). */
export function parseCnmonJson(lines: string[]): AcceleratorSample[] {
  const parsed = JSON.parse(lines.join('\n')) as {
    CnmonInfo?: Array<{
      CardNum?: number | string
      Utilization?: {MLUAverage?: string | number}
      PhysicalMemUsage?: {Used?: string | number; Total?: string | number}
    }>
  }
  return (parsed.CnmonInfo ?? []).map((card, i) => ({
    index: num(String(card.CardNum ?? i)) ?? i,
    busyPct: pct(num(String(card.Utilization?.MLUAverage ?? ''))),
    memUsedMiB: nonNeg(num(String(card.PhysicalMemUsage?.Used ?? ''))),
    memTotalMiB: positive(num(String(card.PhysicalMemUsage?.Total ?? ''))),
  }))
}

const sampleOf = (d: SmiDevice): AcceleratorSample => ({
  index: d.index,
  busyPct: d.busyPct,
  memUsedMiB: d.memUsedMiB === null ? null : nonNeg(d.memUsedMiB),
  memTotalMiB: d.memTotalMiB,
})

/** `xpu-smi` / `xpu_smi` (Intel v2.0, Kunlunxin) and `mx-smi` without arguments: nvidia-smi's table layout. */
export function parseSmiTable(lines: string[]): AcceleratorSample[] {
  return smiTableDevices(lines).map(sampleOf)
}

/** `mthreads-gmi` without arguments: `0 MTT S5000 |00000000:2a:00.0 |0% 66641MiB(81920MiB)`. */
export function parseMthreadsGmi(lines: string[]): AcceleratorSample[] {
  return mthreadsGmiDevices(lines).map(sampleOf)
}

/** The tools skyhop can read; the runner samples others too (docs/utilisation.md says which). */
export const USAGE_PARSERS: Readonly<Record<string, Parser>> = {
  'nvidia-smi': parseNvidiaQuery,
  ixsmi: parseIxsmiQuery,
  'npu-smi': parseNpuSmiInfo,
  'rocm-smi': parseRocmSmiJson,
  'hy-smi': parseRocmSmiJson,
  cnmon: parseCnmonJson,
  'xpu-smi': parseSmiTable,
  xpu_smi: parseSmiTable,
  'mx-smi': parseSmiTable,
  'mthreads-gmi': parseMthreadsGmi,
}

function pct(n: number | null): number | null {
  return n === null || n < 0 || n > 100 ? null : n
}
function nonNeg(n: number | null): number | null {
  return n === null || n < 0 ? null : n
}
function positive(n: number | null): number | null {
  return n === null || n <= 0 ? null : n
}

/** One line of samples.jsonl, or null when it is not one (a torn last line, garbage). */
export function parseSampleLine(line: string): UsageSample | null {
  let raw: unknown
  try {
    raw = JSON.parse(line)
  } catch {
    return null
  }
  if (typeof raw !== 'object' || raw === null) return null
  const r = raw as Record<string, unknown>
  const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : null)
  if (typeof r.ts !== 'string' || Number.isNaN(Date.parse(r.ts)) || n(r.cpu) === null) return null
  let accelerators: AcceleratorSample[] = []
  let tool: string | null = null
  const unreadable: string[] = []
  for (const t of Array.isArray(r.tools) ? (r.tools as RawTool[]) : []) {
    if (typeof t?.tool !== 'string' || !Array.isArray(t.lines)) continue
    const parse = USAGE_PARSERS[t.tool]
    if (!parse) continue
    let found: AcceleratorSample[] = []
    try {
      found = t.rc === 0 ? parse(t.lines.filter((l): l is string => typeof l === 'string')) : []
    } catch {
      found = []
    }
    if (found.length === 0) unreadable.push(t.tool)
    else if (tool === null) {
      // One vendor per machine in practice; the first that answers is the one counted.
      tool = t.tool
      accelerators = found
    }
  }
  return {
    ts: r.ts,
    cpuCores: n(r.cpu)!,
    cores: n(r.cores) ?? 1,
    rssMiB: (n(r.rssKB) ?? 0) / 1024,
    memTotalMiB: (n(r.memKB) ?? 0) / 1024,
    accelerators,
    tool,
    unreadable,
  }
}

export function parseSamples(text: string): UsageSample[] {
  return text
    .split('\n')
    .map(parseSampleLine)
    .filter((s): s is UsageSample => s !== null)
}

/** Running sums over an attempt's samples, so a long attempt's file is read once, a piece at a time. */
export interface UsageTotals {
  samples: number
  firstAt: string | null
  cpuShareSum: number
  cores: number
  memPeakMiB: number
  memTotalMiB: number
  busySum: number
  busyCount: number
  accelerators: number
  tool: string | null
  accelMemPeakMiB: number | null
  accelMemTotalMiB: number | null
  last: UsageSample | null
}

export const NO_USAGE: UsageTotals = Object.freeze({
  samples: 0,
  firstAt: null,
  cpuShareSum: 0,
  cores: 1,
  memPeakMiB: 0,
  memTotalMiB: 0,
  busySum: 0,
  busyCount: 0,
  accelerators: 0,
  tool: null,
  accelMemPeakMiB: null,
  accelMemTotalMiB: null,
  last: null,
})

/** The totals with more samples (in order) added; `totals` is not changed. */
export function addSamples(totals: UsageTotals, samples: readonly UsageSample[]): UsageTotals {
  const t = {...totals}
  for (const s of samples) {
    t.samples++
    t.firstAt ??= s.ts
    t.cores = Math.max(1, s.cores)
    t.cpuShareSum += Math.min(1, s.cpuCores / t.cores)
    t.memPeakMiB = Math.max(t.memPeakMiB, s.rssMiB)
    t.memTotalMiB = Math.max(t.memTotalMiB, s.memTotalMiB)
    if (s.accelerators.length > 0) {
      t.tool ??= s.tool
      t.accelerators = Math.max(t.accelerators, s.accelerators.length)
    }
    for (const a of s.accelerators) {
      if (a.busyPct !== null) {
        t.busySum += a.busyPct / 100
        t.busyCount++
      }
      if (a.memUsedMiB !== null && (t.accelMemPeakMiB === null || a.memUsedMiB > t.accelMemPeakMiB)) {
        t.accelMemPeakMiB = a.memUsedMiB
        t.accelMemTotalMiB = a.memTotalMiB
      }
      if (t.accelMemTotalMiB === null && a.memTotalMiB !== null) t.accelMemTotalMiB = a.memTotalMiB
    }
    t.last = s
  }
  return t
}

/** The summary of the totals; null when there are no samples. */
export function summaryOf(t: UsageTotals): UsageSummary | null {
  if (t.samples === 0 || t.last === null) return null
  const r3 = (x: number) => Math.round(x * 1000) / 1000
  return {
    samples: t.samples,
    firstAt: t.firstAt,
    lastAt: t.last.ts,
    cpuBusy: r3(t.cpuShareSum / t.samples),
    cores: t.cores,
    memPeakMiB: Math.round(t.memPeakMiB),
    memTotalMiB: Math.round(t.memTotalMiB),
    accelerators: t.accelerators,
    acceleratorTool: t.tool,
    acceleratorBusy: t.busyCount === 0 ? null : r3(t.busySum / t.busyCount),
    acceleratorMemPeakMiB: t.accelMemPeakMiB === null ? null : Math.round(t.accelMemPeakMiB),
    acceleratorMemTotalMiB: t.accelMemTotalMiB === null ? null : Math.round(t.accelMemTotalMiB),
    last: t.last,
  }
}

/**
 * A gang's totals, one per rank (rank 0 first), as one: samples and the busy sums added (so
 * the shares are means over every rank's samples), the memory peaks, cores and accelerators
 * the largest of one node, the latest sample the head's (another rank's while the head has
 * none).
 */
export function mergeTotals(ranks: readonly UsageTotals[]): UsageTotals {
  const t = {...NO_USAGE}
  for (const r of ranks) {
    if (r.samples === 0) continue
    t.samples += r.samples
    if (r.firstAt !== null && (t.firstAt === null || Date.parse(r.firstAt) < Date.parse(t.firstAt))) t.firstAt = r.firstAt
    t.cpuShareSum += r.cpuShareSum
    t.cores = Math.max(t.cores, r.cores)
    t.memPeakMiB = Math.max(t.memPeakMiB, r.memPeakMiB)
    t.memTotalMiB = Math.max(t.memTotalMiB, r.memTotalMiB)
    t.busySum += r.busySum
    t.busyCount += r.busyCount
    t.accelerators = Math.max(t.accelerators, r.accelerators)
    t.tool ??= r.tool
    if (r.accelMemPeakMiB !== null && (t.accelMemPeakMiB === null || r.accelMemPeakMiB > t.accelMemPeakMiB)) {
      t.accelMemPeakMiB = r.accelMemPeakMiB
      t.accelMemTotalMiB = r.accelMemTotalMiB
    }
    if (t.accelMemTotalMiB === null) t.accelMemTotalMiB = r.accelMemTotalMiB
    t.last ??= r.last
  }
  return t
}

/**
 * A gang's summary from its ranks' totals (rank 0 first): the merged figures (mergeTotals)
 * and one row per rank; null while no rank has a sample.
 */
export function gangSummaryOf(ranks: readonly UsageTotals[]): UsageSummary | null {
  const all = summaryOf(mergeTotals(ranks))
  if (!all) return null
  const rows = ranks.map((t, rank): UsageRankSummary => {
    const one = summaryOf(t)
    return {
      rank,
      samples: t.samples,
      cpuBusy: one?.cpuBusy ?? 0,
      cores: t.cores,
      memPeakMiB: one?.memPeakMiB ?? 0,
      accelerators: t.accelerators,
      acceleratorBusy: one?.acceleratorBusy ?? null,
      acceleratorMemPeakMiB: one?.acceleratorMemPeakMiB ?? null,
      last: t.last,
    }
  })
  // The gang's last sample in time, whichever rank took it (`last` stays the head's).
  const lastAt = ranks
    .map((t) => t.last?.ts ?? null)
    .reduce((a, b) => (b !== null && (a === null || Date.parse(b) > Date.parse(a)) ? b : a), null)
  return {...all, lastAt, ranks: rows}
}

/** Summarises samples (in order); null when there are none. */
export function summarizeSamples(samples: readonly UsageSample[]): UsageSummary | null {
  return summaryOf(addSamples(NO_USAGE, samples))
}

/**
 * How long the job has been idle at the end of its samples: the time since the last sample
 * whose busy share was at or above `belowPct` (accelerators when there are any, else CPU),
 * 0 when the latest sample is busy. Null when there is nothing to judge (no samples).
 */
export function idleTail(samples: readonly UsageSample[], belowPct: number): {idleSeconds: number; basis: 'accelerators' | 'cpu'} | null {
  if (samples.length === 0) return null
  const basis = samples.some((s) => s.accelerators.some((a) => a.busyPct !== null)) ? 'accelerators' : 'cpu'
  const busy = (s: UsageSample): number | null => {
    if (basis === 'cpu') return (100 * s.cpuCores) / Math.max(1, s.cores)
    const known = s.accelerators.map((a) => a.busyPct).filter((b): b is number => b !== null)
    return known.length === 0 ? null : Math.max(...known)
  }
  // Each sample covers the time since the one before it: idle since the last busy sample.
  let j = samples.length - 1
  for (; j >= 0; j--) {
    const b = busy(samples[j])
    if (b !== null && b >= belowPct) break
  }
  const from = Date.parse(samples[Math.max(0, j)].ts)
  return {idleSeconds: Math.max(0, (Date.parse(samples.at(-1)!.ts) - from) / 1000), basis}
}

/**
 * What makes two runs "the same job" for right-sizing: its name goes beside this, a hash of
 * what it runs and what it asked for (run, setup, resources), so a changed script or request
 * starts a fresh history.
 */
export function usageFingerprint(spec: Pick<JobSpec, 'run' | 'setup' | 'resources' | 'nodes'>): string {
  // An `accelerators: auto` job is the same job whatever its runs were sized to: by what it wrote.
  const resources = spec.resources.auto?.choice?.written ?? spec.resources
  const text = JSON.stringify({run: spec.run, setup: spec.setup, resources, nodes: spec.nodes})
  return createHash('sha256').update(text).digest('hex').slice(0, 16)
}
