// The `plan` service: load the job file, plan it with the same planning `launch` uses
// (catalog + live offers of the enabled backends + their queue estimates + what the
// store has observed), and hand back a JSON-safe result — or throw NoFeasiblePlanError
// (exit 5). No flags, no terminal: the command renders.
import type {PlanningOptions, ServiceContext} from './context.js'
import type {Planning} from './planning.js'
import {liveFailureBehind} from './live-failures.js'
import {noFeasiblePlanError} from '../planner/index.js'
import type {Candidate, ExclusionGroup} from '../planner/types.js'
import type {LoadedJob, Objective} from '../model/job-spec.js'
import {loadJobFile} from '../job/load.js'
import type {RightSizeAdvice} from '../planner/right-size.js'
import {type AutoResolution, type AutoSummary, autoSummary, needOf, planVariants, resolveAuto} from './right-sizing.js'

export interface PlanServiceOptions {
  file: string
  planning: Planning
  now?: Date
  /** The file already loaded (and the planning made for its job). */
  loaded?: LoadedJob
  /** The caller lists every exclusion group (plan --explain): the error does not cut them. */
  explain?: boolean
}

export interface PlanResult {
  job: {name: string; file: string}
  objective: Objective
  now: string
  /** Providers whose offers were candidates; null with --all-providers. */
  enabledProviders: string[] | null
  catalog: Planning['catalog']
  chosen: Candidate | null
  candidates: Candidate[]
  feasibleCount: number
  offersConsidered: number
  excluded: ExclusionGroup[]
  assumptions: string[]
  /**
   * What earlier runs of this job (same name, same run/setup/resources) used, and the smaller
   * requests that would cost less (docs/planner.md#right-sizing); null without such runs.
   * With --right-size, `chosen` and `candidates` are the cheapest option's and `applied` is true.
   */
  rightSize: (RightSizeAdvice & {applied: boolean}) | null
  /**
   * `accelerators: auto` (docs/planner.md#accelerators-auto): from how many earlier runs the
   * accelerators were chosen (0: none, planned open), what was chosen and why; null for a job
   * that names its accelerators.
   */
  autoAccelerators: AutoSummary | null
}

export async function planFile(options: PlanServiceOptions): Promise<PlanResult> {
  const loaded = options.loaded ?? loadJobFile(options.file, {now: options.now})
  const {plan} = await options.planning.replan(loaded.spec, [])
  if (plan.chosen === null)
    throw liveFailureBehind(loaded.spec, options.planning.liveFailures) ?? noFeasiblePlanError(plan, {explain: options.explain})
  return {
    job: {name: loaded.spec.name, file: options.file},
    objective: plan.objective,
    now: plan.now,
    enabledProviders: options.planning.enabledProviders,
    catalog: options.planning.catalog,
    chosen: plan.chosen,
    candidates: plan.candidates,
    feasibleCount: plan.feasibleCount,
    offersConsidered: plan.offersConsidered,
    excluded: plan.excluded,
    assumptions: plan.assumptions,
    rightSize: null,
    autoAccelerators: null,
  }
}

/** `skyhop plan`: the planning of this home (catalog, enabled providers, observations) for one file. */
export async function plan(
  ctx: ServiceContext,
  options: PlanningOptions & {file: string; explain?: boolean; rightSize?: boolean},
): Promise<PlanResult> {
  const {file, explain, rightSize, ...planning} = options
  // The job first: planning asks a backend for live offers only when this job could use them.
  const read = loadJobFile(file)
  // The sizes of the files: copies from buckets, where the store answers (learnFileData); a note where not.
  const {learnFileData} = await import('./file-data.js')
  const learned = await learnFileData(ctx, read.spec, 'plan')
  const loaded = {...read, spec: learned.spec}
  const made = await ctx.planning({...planning, jobs: [loaded.spec]})
  const auto = await resolveAuto(loaded.spec, made)
  const sized = auto
    ? autoPlanned(auto, await planFile({file, loaded: {...loaded, spec: auto.spec}, explain, planning: made}))
    : await rightSized(loaded.spec, made, await planFile({file, loaded, explain, planning: made}), rightSize === true)
  const spec = auto?.spec ?? loaded.spec
  return {...sized, assumptions: [...sized.assumptions, ...learned.notes, ...(await gangStoreNotes(ctx, spec, sized.candidates))]}
}

/** An `accelerators: auto` plan: the choice said, and its right-sizing shown as applied when it made one. */
function autoPlanned(auto: AutoResolution, result: PlanResult): PlanResult {
  const applied = auto.choice !== null && auto.choice.kind !== 'as-measured'
  return {
    ...result,
    rightSize: auto.advice ? {...auto.advice, applied} : null,
    autoAccelerators: autoSummary(auto),
  }
}

/**
 * Right-sizing (docs/planner.md#right-sizing): the earlier runs of this job from the store, the
 * smaller requests they justify, each planned like the job itself, compared with its choice.
 * Applied (the cheapest option becomes the plan) only when asked.
 */
async function rightSized(spec: LoadedJob['spec'], planning: Planning, result: PlanResult, apply: boolean): Promise<PlanResult> {
  const {need} = needOf(spec, planning)
  if (!need) return result
  const {advice, planned} = await planVariants(spec, need, result.chosen, planning)
  const top = advice.options[0]
  if (!apply || !top) return {...result, rightSize: {...advice, applied: false}}
  const p = planned.find((x) => x.best === top.candidate)!.plan!
  return {
    ...result,
    chosen: p.chosen,
    candidates: p.candidates,
    feasibleCount: p.feasibleCount,
    excluded: p.excluded,
    assumptions: [...p.assumptions, `right-sized: ${advice.text}`],
    rightSize: {...advice, applied: true},
  }
}

/**
 * A gang on machines of their own (the clouds) finds its peers through the job's object store;
 * without one, those candidates are refused at launch. Said at plan time, with what to set.
 */
async function gangStoreNotes(ctx: ServiceContext, spec: LoadedJob['spec'], candidates: readonly Candidate[]): Promise<string[]> {
  if (spec.nodes <= 1) return []
  const {storeFor} = await import('../checkpoint/checkpoint-store.js')
  if (storeFor(spec, ctx.config()) !== null) return []
  const providers = await ctx.providers()
  const clouds = [...new Set(candidates.map((c) => c.provider))].filter((name) => providers.get(name)?.attemptStorage === 'per-instance')
  if (clouds.length === 0) return []
  return [
    `a ${spec.nodes}-node job on ${clouds.join(', ')} needs an object store for its nodes to find each other: set checkpoint.store in the job file (or checkpoint_store in the config), or those candidates are refused at launch`,
  ]
}
