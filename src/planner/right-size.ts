// Right-sizing from what earlier runs of the same job used (docs/planner.md#right-sizing):
// pure. From the usage of a job's earlier attempts (same name, same run/setup/resources,
// src/providers/usage-samples.ts's fingerprint) it says what the job needs, and which
// smaller resource requests to plan instead: fewer or smaller accelerators when they sat
// mostly idle or their memory mostly unused, a CPU-only machine when the accelerators idled
// while the CPUs were saturated. The caller plans each variant with the same inputs and
// compares (rightSizeAdvice), so a variant is only ever suggested at a price the planner found.
import type {JobSpec} from '../model/job-spec.js'
import type {UsageObservation} from '../model/usage.js'
import type {Candidate} from './types.js'

/** What the earlier runs say the job needs. */
export interface UsageNeed {
  runs: number
  /** Mean busy share of the accelerators over the runs (0-1); null when none was sampled. */
  acceleratorBusy: number | null
  /** The most memory one accelerator held in any run, and that device's size (MiB). */
  acceleratorMemPeakMiB: number | null
  acceleratorMemTotalMiB: number | null
  acceleratorCount: number | null
  /** Mean share of the cores busy, and the cores the runs had. */
  cpuBusy: number
  cores: number
  memPeakMiB: number
}

export type RightSizeKind = 'fewer-accelerators' | 'smaller-accelerators' | 'cpu-only'

export interface RightSizeVariant {
  kind: RightSizeKind
  /** The job with the smaller request: planned by the caller like the job itself. */
  spec: JobSpec
  /** Why, from the measurements. */
  because: string
}

/** Busy share under which accelerators count as "mostly idle"; memory share under which "mostly unused". */
export const IDLE_BUSY = 0.5
export const UNUSED_MEMORY = 0.5
/** CPU share over which the CPUs count as saturated. */
export const CPU_SATURATED = 0.8
/** Head-room kept over the memory peak when choosing a smaller device. */
const MEMORY_HEADROOM = 1.25

/** Summarises the runs (those that sampled at least 3 times); null when there are none. */
export function usageNeed(history: readonly UsageObservation[]): UsageNeed | null {
  const runs = history.filter((h) => h.summary.samples >= 3)
  if (runs.length === 0) return null
  const weight = (h: UsageObservation) => Math.max(1, h.runSeconds)
  const total = runs.reduce((s, h) => s + weight(h), 0)
  const accel = runs.filter((h) => h.summary.accelerators > 0 && h.summary.acceleratorBusy !== null)
  const accelWeight = accel.reduce((s, h) => s + weight(h), 0)
  let peak: number | null = null
  let peakTotal: number | null = null
  for (const h of accel) {
    const p = h.summary.acceleratorMemPeakMiB
    if (p !== null && (peak === null || p > peak)) {
      peak = p
      peakTotal = h.summary.acceleratorMemTotalMiB
    }
  }
  return {
    runs: runs.length,
    acceleratorBusy: accel.length === 0 ? null : accel.reduce((s, h) => s + h.summary.acceleratorBusy! * weight(h), 0) / accelWeight,
    acceleratorMemPeakMiB: peak,
    acceleratorMemTotalMiB: peakTotal,
    acceleratorCount: accel.length === 0 ? null : Math.max(...accel.map((h) => h.acceleratorCount ?? h.summary.accelerators)),
    cpuBusy: runs.reduce((s, h) => s + h.summary.cpuBusy * weight(h), 0) / total,
    cores: Math.max(...runs.map((h) => h.summary.cores)),
    memPeakMiB: Math.max(...runs.map((h) => h.summary.memPeakMiB)),
  }
}

const gb = (mib: number) => Math.round(mib / 1024)
const pct = (x: number) => `${Math.round(x * 100)}%`

/** What the runs measured, as the advice's first half: "3 runs used ≤ 22 GB of 80 GB and were 31% busy". */
export function measuredText(need: UsageNeed): string {
  const runs = `${need.runs} run${need.runs === 1 ? '' : 's'}`
  if (need.acceleratorBusy === null) return `${runs} kept ${pct(need.cpuBusy)} of ${need.cores} cores busy (no accelerator sampled)`
  const mem =
    need.acceleratorMemPeakMiB !== null && need.acceleratorMemTotalMiB
      ? `used ≤ ${gb(need.acceleratorMemPeakMiB)} GB of ${gb(need.acceleratorMemTotalMiB)} GB and `
      : ''
  const cpu = need.cpuBusy >= CPU_SATURATED ? ` while the CPUs were ${pct(need.cpuBusy)} busy` : ''
  return `${runs} ${mem}were ${pct(need.acceleratorBusy)} busy${cpu}`
}

/**
 * The smaller requests worth planning for this job given its runs' usage; none when the job
 * asked for no accelerator or its accelerators were busy and their memory used.
 */
export function rightSizeVariants(job: JobSpec, need: UsageNeed): RightSizeVariant[] {
  const out: RightSizeVariant[] = []
  if (job.resources.accelerators.length === 0 || need.acceleratorBusy === null) return out
  const busy = need.acceleratorBusy
  const memShare =
    need.acceleratorMemPeakMiB !== null && need.acceleratorMemTotalMiB ? need.acceleratorMemPeakMiB / need.acceleratorMemTotalMiB : null
  const withAccelerators = (requests: JobSpec['resources']['accelerators']): JobSpec => ({
    ...job,
    resources: {...job.resources, accelerators: requests, acceleratorOrder: 'any'},
    // The job's reference work was measured on the configuration it asked for: the variant keeps it.
  })
  // Idle accelerators beside saturated CPUs: the job is CPU-bound; a CPU machine with at least
  // as many cores does the same work. Only within the job's runtimes: one that lists its
  // software stacks must list `cpu` too.
  const runtimes = job.resources.runtimes
  if (busy < 0.1 && need.cpuBusy >= CPU_SATURATED && (runtimes === null || runtimes.includes('cpu'))) {
    out.push({
      kind: 'cpu-only',
      spec: {
        ...job,
        resources: {
          ...job.resources,
          accelerators: [],
          cpus: {value: Math.max(need.cores, job.resources.cpus?.value ?? 0), atLeast: true},
          memoryGB: {value: Math.max(1, Math.ceil((need.memPeakMiB * MEMORY_HEADROOM) / 1024)), atLeast: true},
        },
      },
      because: 'the accelerators idled while the CPUs were saturated',
    })
  }
  const count = need.acceleratorCount ?? 1
  const vendors = [...new Set(job.resources.accelerators.flatMap((r) => r.vendors ?? []))]
  const minMemGB =
    need.acceleratorMemPeakMiB === null ? undefined : Math.max(1, Math.ceil((need.acceleratorMemPeakMiB * MEMORY_HEADROOM) / 1024))
  if (busy < IDLE_BUSY && count > 1) {
    // The work of `count` devices at `busy` fits on fewer at up to 80% busy.
    const fewer = Math.max(1, Math.ceil((count * busy) / 0.8))
    if (fewer < count) {
      out.push({
        kind: 'fewer-accelerators',
        spec: withAccelerators(
          job.resources.accelerators.map((r) => ({...r, count: {min: fewer, max: fewer}, text: `${r.text} → ${fewer}`})),
        ),
        because: `${count} devices at ${pct(busy)} is the work of ${fewer}`,
      })
    }
  }
  if ((busy < IDLE_BUSY || (memShare !== null && memShare < UNUSED_MEMORY)) && minMemGB !== undefined) {
    const devices = Math.max(1, busy < IDLE_BUSY ? Math.ceil((count * busy) / 0.8) : count)
    out.push({
      kind: 'smaller-accelerators',
      spec: withAccelerators([
        {
          names: null,
          vendors: vendors.length > 0 ? vendors : null,
          memoryGB: {min: minMemGB},
          count: {min: 1, max: Math.max(devices, 1) * 2},
          text: `any accelerator with ≥ ${minMemGB} GB`,
        },
      ]),
      because: `≥ ${minMemGB} GB per device covers the peak with head-room`,
    })
  }
  return out
}

/** One variant, planned: its best candidate against the job's own. */
export interface RightSizeOption {
  kind: RightSizeKind
  because: string
  candidate: Candidate
  /** 0.58: 58% less than the job's own choice; null when either price is unknown. */
  saving: number | null
}

export interface RightSizeAdvice {
  measured: string
  need: UsageNeed
  /** The variants that would cost less, cheapest first. */
  options: RightSizeOption[]
  /** "3 runs used ≤ 22 GB of 80 GB and were 31% busy: L4:2 would cost 58% less"; null when nothing is cheaper. */
  text: string | null
}

/** Names an offer the way a job file asks for it: `L4:2`, or the instance type for a CPU machine. */
export function configName(c: Candidate): string {
  return c.accelerator ? `${c.accelerator.name}:${c.accelerator.count}` : `CPU-only ${c.instanceType} (${c.provider})`
}

/** Compares each planned variant's best candidate with the job's own choice. */
export function rightSizeAdvice(
  need: UsageNeed,
  chosen: Candidate | null,
  planned: ReadonlyArray<{variant: RightSizeVariant; best: Candidate | null}>,
): RightSizeAdvice {
  const measured = measuredText(need)
  const base = chosen?.estimatedCostUsd ?? null
  const options: RightSizeOption[] = []
  for (const {variant, best} of planned) {
    if (!best) continue
    const cost = best.estimatedCostUsd
    const saving = base !== null && cost !== null && base > 0 ? 1 - cost / base : null
    if (saving !== null && saving <= 0.05) continue // not worth a change
    options.push({kind: variant.kind, because: variant.because, candidate: best, saving})
  }
  options.sort((a, b) => (b.saving ?? -1) - (a.saving ?? -1))
  const top = options[0]
  const text = top
    ? `${measured}: ${configName(top.candidate)} would cost ${top.saving === null ? 'less (price unknown)' : `${Math.round(top.saving * 100)}% less`}`
    : null
  return {measured, need, options, text}
}

// ---- accelerators: auto ------------------------------------------------------------------
// An `accelerators: auto` job (docs/planner.md#accelerators-auto) plans open until it has runs;
// then from the configuration its latest run had, right-sized exactly as `plan --right-size`
// right-sizes a job that wrote that configuration.

/** The configuration the latest run had, as the job the right-sizing compares against; null without an open `auto`. */
export function asMeasured(job: JobSpec, history: readonly UsageObservation[], need: UsageNeed): JobSpec | null {
  const auto = job.resources.auto
  if (auto === undefined || auto.choice !== null) return null
  const latest = history.find((h) => h.summary.samples >= 3) ?? history[0]
  if (latest === undefined) return null
  const name = latest.accelerator
  const count = latest.acceleratorCount ?? 1
  const request = name === null ? 'cpu' : `${name}:${count}`
  const written = {...job.resources, auto: {choice: null}}
  return {
    ...job,
    resources: {
      ...job.resources,
      accelerators: name === null ? [] : [{names: [name], vendors: null, memoryGB: null, count: {min: count, max: count}, text: request}],
      acceleratorOrder: 'any',
      // A CPU run keeps its cores: the next lands on a machine at least as big.
      ...(name === null ? {cpus: {value: Math.max(latest.summary.cores, job.resources.cpus?.value ?? 0), atLeast: true}} : {}),
      auto: {
        choice: {
          runs: need.runs,
          measured: measuredText(need),
          kind: 'as-measured',
          request,
          text: `${measuredText(need)}: planned ${request} as the latest run had (nothing smaller would cost less)`,
          written,
        },
      },
    },
  }
}

/** The right-sizing option an `auto` job plans: its variant's spec, carrying the choice and why. */
export function autoChosen(measured: JobSpec, variant: RightSizeVariant, advice: RightSizeAdvice): JobSpec {
  const base = measured.resources.auto!.choice!
  const request = variantRequest(variant)
  return {
    ...variant.spec,
    resources: {
      ...variant.spec.resources,
      auto: {
        choice: {
          ...base,
          kind: variant.kind,
          request,
          text: `${advice.text ?? base.measured}: planned ${request} instead of ${base.request} (${variant.because})`,
        },
      },
    },
  }
}

/** `H100:1`, `any accelerator with ≥ 28 GB`, `cpu`: how the variant asks, for the choice's line. */
function variantRequest(variant: RightSizeVariant): string {
  const requests = variant.spec.resources.accelerators
  if (requests.length === 0) return 'cpu'
  // Fewer of the named devices reads as a job file would write it (H100-80GB:2), not as a change.
  const written = (r: JobSpec['resources']['accelerators'][number]) =>
    r.names !== null && r.count.min === r.count.max ? `${r.names.join(',')}:${r.count.min}` : r.text
  return requests.map(written).join(' or ')
}
