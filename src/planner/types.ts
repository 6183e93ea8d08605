// The planner's vocabulary: what goes in (a job, offers, what we have observed, what the
// controller has blocked) and what comes out (ranked candidates with estimates, grouped
// exclusions, a sweep assignment). Types only; pure data, JSON-safe on the way out.
import type {Accelerator, Confidence, Interconnect, Offer, OfferIndex, PriceStatus} from '../model/catalog.js'
import type {Currency, JobSpec, Money, Objective} from '../model/job-spec.js'

/** `provider/region/zone/instanceType`, zone `-` when null. Stable; used as a map key. */
export type OfferKey = string

/** A number we made up from something, and how much to trust it. The unit is in the field name that holds it. */
export interface Estimate {
  value: number
  source: string
  confidence: Confidence
}

/** The backend's own estimate of the wait, e.g. Slurm's `sbatch --test-only` start time. */
export interface QueueEstimate {
  minutes: number
  source: string
  confidence: Confidence
}

/**
 * Something the controller saw happen, as the state store records it. The planner
 * learns queue waits, capacity failures and preemption rates from these, per
 * provider + region + accelerator (zone is kept for the record, not matched).
 */
export type Observation =
  | (ObservationScope & {kind: 'provisioning-wait'; minutes: number})
  | (ObservationScope & {kind: 'capacity-failure'})
  /** A launch refused for quota: counted like a capacity failure (the launch did not happen there). */
  | (ObservationScope & {kind: 'quota-failure'})
  | (ObservationScope & {kind: 'preemption'})
  /** Hours an attempt ran on spot (with or without a preemption at the end): the exposure for the rate. */
  | (ObservationScope & {kind: 'spot-uptime'; hours: number})

export interface ObservationScope {
  provider: string
  region: string
  zone: string | null
  /** Canonical accelerator name, null for CPU-only. */
  accelerator: string | null
  spot: boolean
  /** ISO-8601 time it was observed. */
  at: string
}

/**
 * A scope the controller blocked after a failure. Fields left out (or null) match
 * anything: `{provider: 'aws', region: 'us-east-1'}` blocks that region on AWS.
 * `market` restricts the block to spot or on-demand (capacity errors are often spot-only).
 */
export interface BlockedScope {
  provider: string
  region?: string | null
  zone?: string | null
  instanceType?: string | null
  market?: 'spot' | 'on-demand' | null
  /** Why, for the explanation (e.g. `InsufficientInstanceCapacity`). */
  reason?: string
}
export type BlockList = readonly BlockedScope[]

export interface PlanOptions {
  /** Overrides the job's own objective. */
  objective?: Objective
  /** How many ranked candidates to return (the chosen one is the first). Default 25. */
  top?: number
  /**
   * Fraction of head-room demanded before a deadline: a candidate must finish within
   * (time left) / (1 + safetyMargin). Default 0.1.
   */
  safetyMargin?: number
  /** The exchange rate between money and time for `balanced`, USD per hour of finish time. */
  valueOfTimeUsdPerHour?: number
}

export interface PlanInput {
  job: JobSpec
  /** The catalog's offers, or an index built once with `indexOffers` and reused. */
  offers: readonly Offer[] | OfferIndex
  accelerators: (name: string) => Accelerator | undefined
  now: Date
  /** Providers with credentials found (and `local`); null = every provider in the catalog. */
  enabledProviders: ReadonlySet<string> | null
  /**
   * Providers skyhop has an adapter for (can launch on). Offers of any other provider are
   * excluded as `no-adapter`, with or without `enabledProviders`, so no plan chooses an offer
   * that cannot be launched. Absent = every provider (unit tests of other rules).
   */
  adapters?: ReadonlySet<string>
  /**
   * The most nodes one gang may have, per configured provider (Provider.maxNodes; 1 for a
   * backend that cannot gang-launch). A provider not in the map is limited by its offers only.
   */
  maxNodes?: ReadonlyMap<string, number>
  /**
   * For a job with a container image: the configured providers that can run one here (a local
   * container runtime answers). Offers of other providers are excluded; absent = not checked.
   */
  containerProviders?: ReadonlySet<string>
  /** Why a configured provider cannot run the job's container image (Provider.containerUnsupported), by provider. */
  containerReasons?: ReadonlyMap<string, string>
  /**
   * Whether the job has an object store (its checkpoint.store, or the config's checkpoint_store):
   * a Kubernetes pod gets the list of the job's files: and outputs: only through one. Absent:
   * the job's own checkpoint.store decides.
   */
  jobStore?: boolean
  /** Yuan per dollar; `asOf` and `source` are named in the plan's note when a price was converted. */
  fx: {cnyPerUsd: number; asOf?: string; source?: string}
  observations?: readonly Observation[]
  queueEstimates?: ReadonlyMap<OfferKey, QueueEstimate>
  blocked?: BlockList
  options?: PlanOptions
  /**
   * A limit outside the job that every candidate's price must be checked against, in words
   * ("the sweep's budget"): like the job's own budget or max_price, it excludes unknown prices
   * as `price-unknown` instead of counting them as 0.
   */
  outsidePriceLimit?: string
}

export type {OfferIndex} from '../model/catalog.js'

export const EXCLUSION_REASONS = [
  'accelerator-mismatch',
  'accelerator-count',
  'accelerator-memory',
  'accelerator-unknown',
  'accelerator-not-requested',
  'runtime-mismatch',
  'throughput-unknown',
  'no-adapter',
  'provider-disabled',
  'provider-not-allowed',
  'region-not-allowed',
  'blocked',
  'multi-node-unsupported',
  'interconnect',
  'container-unsupported',
  'mount-unsupported',
  'files-unsupported',
  'cpus',
  'memory',
  'no-market',
  'price-unknown',
  'max-price',
  'spot-unviable',
  'deadline',
  'deadline-risk',
  'budget',
  'capacity',
  'quota',
] as const
export type ExclusionReason = (typeof EXCLUSION_REASONS)[number]

/** Offers (or offer × market candidates) left out for the same reason on the same subject. */
export interface ExclusionGroup {
  reason: ExclusionReason
  /** What the group shares: an accelerator, a provider, `provider/region`, a market. */
  subject: string
  /** One sentence a person can act on. */
  message: string
  count: number
  example: {provider: string; region: string; zone: string | null; instanceType: string; spot: boolean | null}
}

export interface CandidateEstimates {
  runHours: Estimate
  queueHours: Estimate
  /** Expected number of preemptions over the run (0 for on-demand). */
  preemptions: Estimate
  /** Hours added by preemptions: restarts plus work redone since the last checkpoint. */
  preemptionOverheadHours: Estimate
  transferHours: Estimate
  egressCostUsd: Estimate
  /** Instance hours paid for: run + redone work + restores + staging, × nodes. */
  computeCostUsd: Estimate | null
}

export interface Candidate {
  /** 1-based rank in this plan. */
  rank: number
  /** `offerKey#spot` or `offerKey#on-demand`; unique within a plan. */
  key: string
  offerKey: OfferKey
  provider: string
  region: string
  zone: string | null
  instanceType: string
  accelerator: {name: string; count: number} | null
  nodes: number
  /** A gang's only (nodes > 1): the offer's inter-node fabric, null when nobody documented it. */
  interconnect?: Interconnect | null
  spot: boolean
  /** Index of the job's accelerator alternative this offer satisfies (-1 for a CPU-only job). */
  alternative: number
  /** Price per hour for all nodes, in the offer's own currency; null when unknown. */
  hourlyPrice: Money | null
  hourlyPriceUsd: number | null
  priceStatus: PriceStatus
  estimatedQueueHours: number
  estimatedRunHours: number
  /** Queue + staging + run + preemption overhead, hours from `now`. */
  estimatedFinishHours: number
  /** ISO-8601 time of the expected finish. */
  estimatedFinishAt: string
  /** Expected total cost in USD (compute + egress); null when the price is unknown. */
  estimatedCostUsd: number | null
  /** The same in the offer's currency. */
  estimatedCost: Money | null
  /** The number the objective minimised (USD for cost, hours for time, USD-equivalent for balanced). */
  objectiveValue: number
  estimates: CandidateEstimates
  /** Short flags a table can show: `price-estimated`, `throughput-low-confidence`, `no-checkpoint`, … */
  notes: string[]
}

export interface Plan {
  job: string
  objective: Objective
  /** ISO-8601 `now` the plan was made for. */
  now: string
  chosen: Candidate | null
  /** Ranked best first; at most `top`. */
  candidates: Candidate[]
  /** How many candidates passed every hard limit (before `top`). */
  feasibleCount: number
  /** How many offers were looked at. */
  offersConsidered: number
  excluded: ExclusionGroup[]
  /** What the plan took for granted, in words (unknown work, estimated prices, the fx rate…). */
  assumptions: string[]
}

/** A concurrent limit on a provider or a region, in instances or in accelerator devices. */
export interface QuotaLimit {
  provider: string
  /** null = the whole provider. */
  region?: string | null
  maxInstances?: number
  maxAccelerators?: number
}

export interface SweepInput extends Omit<PlanInput, 'job'> {
  jobs: readonly JobSpec[]
  limits?: readonly QuotaLimit[]
}

export interface Assignment {
  /** Index into the input jobs. */
  jobIndex: number
  job: string
  candidate: Candidate | null
  /** Hours this job waits for a slot freed by another job of the sweep (0 = runs at once). */
  waitForSlotHours: number
  /** Finish including the wait for a slot; null when unassigned. */
  estimatedFinishHours: number | null
  /** Why the job got no candidate (its own exclusions, or capacity/quota exhausted). */
  reason: ExclusionGroup | null
}

export interface SweepPlan {
  objective: Objective | 'per-job'
  now: string
  /** One per input job, in input order. */
  assignments: Assignment[]
  /**
   * Instances of each offer the sweep uses at its peak. Offers sharing an offerKey (one
   * instance type with different accelerators) have a row each, told apart by accelerator.
   */
  usage: Array<{
    offerKey: OfferKey
    accelerator: {name: string; count: number} | null
    instances: number
    jobs: number
    capacity: number | null
    pool: string | null
  }>
  /** Instances of each capacity pool (Offer.capacityPool) the sweep uses at its peak, over all its offers. */
  pools: Array<{pool: string; instances: number; jobs: number; capacity: number}>
  /** Total expected cost of the assigned jobs, USD; null when any of them has an unknown price (never counted as 0). */
  estimatedCostUsd: number | null
  /** The part of that total the priced jobs make: all of it when estimatedCostUsd is not null. */
  pricedCostUsd: number
  /** Assigned jobs whose price is unknown. */
  unknownPriceJobs: number
  /** Latest finish of any assigned job, hours from now. */
  makespanHours: number
  unassigned: number
  /** Distinct job shapes planned (jobs that differ only in name, envs or run share one plan). */
  shapes: number
  assumptions: string[]
}

export type {Currency}
