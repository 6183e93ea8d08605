// From gathered planning inputs to the replanner the controller calls after every failure:
// planJob over the same offers, queue estimates and observations, with the scopes blocked so
// far. Pure: whoever gathers the inputs (services/planning.ts, the simulator) does the I/O.
import type {FxRates} from '../model/currency.js'
import type {Accelerator, Offer} from '../model/catalog.js'
import type {JobSpec} from '../model/job-spec.js'
import type {ObservationRecord} from '../model/records.js'
import {planJob} from './plan-job.js'
import type {
  BlockList,
  Candidate,
  Observation,
  OfferIndex,
  OfferKey,
  Plan,
  PlanInput,
  PlanOptions,
  QueueEstimate,
  QuotaLimit,
} from './types.js'

/**
 * A plan and a way back from a candidate to the offer it came from, by key and accelerator:
 * offers sharing an offerKey (one instance type, different accelerators) are told apart by it.
 */
export interface Replanned {
  plan: Plan
  offerOf(candidate: Pick<Candidate, 'offerKey' | 'accelerator'>): Offer | undefined
}

export type Replanner = (spec: JobSpec, blocked: BlockList) => Promise<Replanned>

/** What the offers of a plan came from, for `plan`'s output. */
export interface PlanningCatalog {
  offers: number
  providers: Array<{provider: string; origin: string; asOf: string | null}>
  warnings: string[]
  fx: {cnyPerUsd: number; source: string; asOf: string}
}

/** Everything a plan is made from, gathered once: for one job (the replanner) or a sweep (planSweep). */
export interface PlanningInputs {
  offers: OfferIndex
  offerOf(candidate: Pick<Candidate, 'offerKey' | 'accelerator'>): Offer | undefined
  accelerators: (name: string) => Accelerator | undefined
  enabledProviders: ReadonlySet<string> | null
  /** Providers skyhop can launch on (PlanInput.adapters). */
  adapters?: ReadonlySet<string>
  /** Provider.maxNodes of each configured provider (see PlanInput.maxNodes). */
  maxNodes?: ReadonlyMap<string, number>
  /** The providers that can run a container image here (PlanInput.containerProviders), asked once when a job has one. */
  containerProviders?: () => Promise<ReadonlySet<string>>
  /** Why the others cannot (PlanInput.containerReasons), asked with containerProviders. */
  containerReasons?: () => Promise<ReadonlyMap<string, string>>
  /** Whether a job has an object store, its own or the config's (PlanInput.jobStore). */
  jobStore?: (spec: JobSpec) => boolean
  fx: FxRates
  /** The backends' own queue estimates for this job's shape (cached per shape). */
  queueEstimates(spec: JobSpec): Promise<Map<OfferKey, QueueEstimate>>
  observations(): readonly Observation[]
  options: PlanOptions
  now: () => Date
  /** What the offers came from, for `plan`'s output. */
  catalog: PlanningCatalog
  /** Concurrent limits from the config, for planning sweeps as a whole. */
  quotas: QuotaLimit[]
}

/** Where observations are read from: the state store, or a simulated one. */
export interface ObservationSource {
  observations(sinceIso: string): readonly ObservationRecord[]
}

/** How far back observations count. */
const OBSERVATION_WINDOW_DAYS = 14

/**
 * `outsidePriceLimit`: a limit beyond the job's own that its candidates' prices are checked
 * against (PlanInput.outsidePriceLimit), e.g. the sweep's budget for a sweep job's failover.
 */
export function replannerFrom(inputs: PlanningInputs, extra: {outsidePriceLimit?: string} = {}): Replanner {
  const replan = async (spec: JobSpec, blocked: BlockList): Promise<Replanned> => {
    const plan = planJob({job: spec, ...(await planInputFrom(inputs, spec)), ...extra, blocked, options: inputs.options})
    return {plan, offerOf: inputs.offerOf}
  }
  return replan
}

/**
 * The part of a PlanInput that gathered inputs give every plan, one job's or a sweep's (`spec`
 * stands for the sweep's jobs: they share a planning shape).
 */
export async function planInputFrom(inputs: PlanningInputs, spec: JobSpec): Promise<Omit<PlanInput, 'job'>> {
  return {
    offers: inputs.offers,
    accelerators: inputs.accelerators,
    now: inputs.now(),
    enabledProviders: inputs.enabledProviders,
    ...(inputs.adapters ? {adapters: inputs.adapters} : {}),
    ...(inputs.maxNodes ? {maxNodes: inputs.maxNodes} : {}),
    ...(spec.container && inputs.containerProviders ? {containerProviders: await inputs.containerProviders()} : {}),
    ...(spec.container && inputs.containerReasons ? {containerReasons: await inputs.containerReasons()} : {}),
    ...(inputs.jobStore ? {jobStore: inputs.jobStore(spec)} : {}),
    fx: {cnyPerUsd: inputs.fx.cnyPerUsd, source: inputs.fx.source, asOf: inputs.fx.asOf},
    observations: inputs.observations(),
    queueEstimates: await inputs.queueEstimates(spec),
  }
}

/** observationsFrom's answer per list of rows the store handed out (it keeps one until they change). */
const translated = new WeakMap<readonly ObservationRecord[], readonly Observation[]>()

/** The store's observation rows in the planner's vocabulary. */
export function observationsFrom(store: ObservationSource, now: Date): readonly Observation[] {
  const since = new Date(now.getTime() - OBSERVATION_WINDOW_DAYS * 86_400_000).toISOString()
  const rows = store.observations(since)
  let out = translated.get(rows)
  if (out === undefined) {
    out = Object.freeze(translate(rows))
    translated.set(rows, out)
  }
  return out
}

function translate(rows: readonly ObservationRecord[]): Observation[] {
  const out: Observation[] = []
  for (const o of rows) {
    const scope = {provider: o.provider, region: o.region ?? '', zone: o.zone, accelerator: o.accelerator, spot: o.spot, at: o.ts}
    switch (o.kind) {
      case 'provisioning-wait':
        out.push({...scope, kind: 'provisioning-wait', minutes: (o.valueSeconds ?? 0) / 60})
        break
      case 'capacity-failure':
      case 'quota-failure':
        out.push({...scope, kind: 'capacity-failure'})
        break
      case 'preemption':
        out.push({...scope, kind: 'preemption'})
        break
      case 'spot-uptime':
        out.push({...scope, kind: 'spot-uptime', hours: (o.valueSeconds ?? 0) / 3600})
        break
    }
  }
  return out
}
