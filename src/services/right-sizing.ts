// Right-sizing against the store (docs/planner.md#right-sizing): the earlier runs of a job,
// the smaller requests they justify (src/planner/right-size.ts, pure), each planned with the
// same planning as the job itself. `plan` shows the advice (and with --right-size plans the
// cheapest option); `plan`, `launch` and `sweep` resolve `accelerators: auto` with it.
import type {AutoChoice, JobSpec} from '../model/job-spec.js'
import type {Candidate, Plan} from '../planner/types.js'
import {
  type RightSizeAdvice,
  type RightSizeVariant,
  type UsageNeed,
  asMeasured,
  autoChosen,
  rightSizeAdvice,
  rightSizeVariants,
  usageNeed,
} from '../planner/right-size.js'
import {usageFingerprint} from '../providers/usage-samples.js'
import type {Planning} from './planning.js'

export interface PlannedVariant {
  variant: RightSizeVariant
  best: Candidate | null
  plan: Plan | null
}

/** Each smaller request the runs justify, planned, and how they compare with the job's own choice. */
export async function planVariants(
  spec: JobSpec,
  need: UsageNeed,
  chosen: Candidate | null,
  planning: Pick<Planning, 'replan'>,
): Promise<{advice: RightSizeAdvice; planned: PlannedVariant[]}> {
  const planned: PlannedVariant[] = []
  for (const variant of rightSizeVariants(spec, need)) {
    const p = await planning.replan(variant.spec, []).catch(() => null)
    planned.push({variant, best: p?.plan.chosen ?? null, plan: p?.plan ?? null})
  }
  return {advice: rightSizeAdvice(need, chosen, planned), planned}
}

/** What the job's earlier runs (same name, same usage fingerprint) say it needs; null without such runs. */
export function needOf(
  spec: JobSpec,
  planning: Pick<Planning, 'usageHistory'>,
): {need: UsageNeed | null; history: ReturnType<Planning['usageHistory']>} {
  const history = planning.usageHistory(spec.name, usageFingerprint(spec))
  return {need: usageNeed(history), history}
}

/** How `accelerators: auto` was resolved for one plan. */
export interface AutoResolution {
  /** The spec to plan and launch: open (no runs), or carrying the choice. */
  spec: JobSpec
  /** Earlier runs it was chosen from (0: none, accelerators left open). */
  runs: number
  choice: AutoChoice | null
  /** One line for people. */
  text: string
  /** The right-sizing behind the choice; null without runs. */
  advice: RightSizeAdvice | null
}

/** What an open `auto` plans, said in the plan and in `status`. */
export function openAutoText(spec: JobSpec): string {
  const runtimes = spec.resources.runtimes
  const within =
    runtimes === null
      ? 'any accelerator or a CPU-only machine'
      : runtimes.includes('cpu')
        ? `any accelerator running ${runtimes.filter((r) => r !== 'cpu').join(', ') || 'nothing but cpu'} or a CPU-only machine`
        : `any accelerator running ${runtimes.join(', ')}`
  return `no earlier runs of ${spec.name} to choose from: planned ${within}, as its runtimes allow; the first run's usage sizes the next`
}

/**
 * `accelerators: auto`: with earlier runs, the configuration the latest had, or the cheapest
 * right-sizing option when one costs less — exactly what `plan --right-size` would plan for a
 * job that wrote that configuration; without, the job as loaded (open). Null for other jobs
 * and for a spec whose choice is already made (a stored job's re-plans keep it).
 */
export async function resolveAuto(spec: JobSpec, planning: Pick<Planning, 'replan' | 'usageHistory'>): Promise<AutoResolution | null> {
  if (spec.resources.auto === undefined || spec.resources.auto.choice !== null) return null
  const {need, history} = needOf(spec, planning)
  const measured = need === null ? null : asMeasured(spec, history, need)
  if (need === null || measured === null) return {spec, runs: 0, choice: null, text: openAutoText(spec), advice: null}
  const own = await planning.replan(measured, []).catch(() => null)
  const {advice, planned} = await planVariants(measured, need, own?.plan.chosen ?? null, planning)
  const top = advice.options[0]
  if (top) {
    const variant = planned.find((p) => p.best === top.candidate)!.variant
    const chosen = autoChosen(measured, variant, advice)
    return {spec: chosen, runs: need.runs, choice: chosen.resources.auto!.choice, text: chosen.resources.auto!.choice!.text, advice}
  }
  if (own?.plan.chosen) {
    const choice = measured.resources.auto!.choice!
    return {spec: measured, runs: need.runs, choice, text: choice.text, advice}
  }
  // What the runs had is not on offer now and nothing smaller is: plan open, and say why.
  return {
    spec,
    runs: need.runs,
    choice: null,
    text: `${advice.measured}, but neither ${measured.resources.auto!.choice!.request} nor anything smaller is on offer now: planned open as without runs`,
    advice,
  }
}

/** `accelerators: auto` as `plan --json` and `status --json` show it: the choice without the resources it was made for. */
export interface AutoSummary {
  /** Earlier runs the choice was made from; 0 when there were none (accelerators left open). */
  runs: number
  /** Which configuration: the latest run's (`as-measured`), a right-sizing option's, or null (open). */
  kind: AutoChoice['kind'] | null
  /** As a job file writes it: `H100:1`, `cpu`; null when open. */
  request: string | null
  text: string
}

export function autoSummary(auto: Pick<AutoResolution, 'runs' | 'choice' | 'text'>): AutoSummary {
  return {runs: auto.runs, kind: auto.choice?.kind ?? null, request: auto.choice?.request ?? null, text: auto.text}
}

/** A stored job's `auto` (its spec carries the choice; an open one says why it is open); null for other jobs. */
export function storedAutoSummary(spec: JobSpec): AutoSummary | null {
  const auto = spec.resources.auto
  if (auto === undefined) return null
  return auto.choice === null
    ? autoSummary({runs: 0, choice: null, text: openAutoText(spec)})
    : autoSummary({...auto.choice, choice: auto.choice})
}

/** The event `launch` records with an `auto` job: what `status` shows of the choice. */
export function autoEvent(auto: AutoResolution): {kind: string; data: Record<string, unknown>} {
  return {kind: 'accelerators-chosen', data: {...autoSummary(auto), message: `accelerators: auto — ${auto.text}`}}
}
