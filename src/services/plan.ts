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
  }
}

/** `skyhop plan`: the planning of this home (catalog, enabled providers, observations) for one file. */
export async function plan(ctx: ServiceContext, options: PlanningOptions & {file: string; explain?: boolean}): Promise<PlanResult> {
  const {file, explain, ...planning} = options
  // The job first: planning asks a backend for live offers only when this job could use them.
  const loaded = loadJobFile(file)
  const result = await planFile({file, loaded, explain, planning: await ctx.planning({...planning, jobs: [loaded.spec]})})
  return {...result, assumptions: [...result.assumptions, ...(await gangStoreNotes(ctx, loaded.spec, result.candidates))]}
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
