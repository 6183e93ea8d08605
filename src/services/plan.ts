// The `plan` service: load the job file and the catalog, decide which providers are
// enabled here, run the pure planner, and hand back a JSON-safe result (or throw
// NoFeasiblePlanError, exit 5). No flags, no terminal: the command renders.
import {accessSync, constants} from 'node:fs'
import {cpus, hostname, totalmem} from 'node:os'
import {delimiter, join} from 'node:path'

import {loadCatalog} from '../catalog/catalog.js'
import {fxFromEnv} from '../catalog/currency.js'
import type {Offer} from '../catalog/types.js'
import {noFeasiblePlanError, planJob} from '../planner/index.js'
import type {BlockList, Candidate, ExclusionGroup, Observation, OfferKey, QueueEstimate} from '../planner/types.js'
import type {Objective} from '../spec/job-spec.js'
import {loadJobFile} from '../spec/load.js'

export interface PlanServiceOptions {
  file: string
  home: string
  /** Plan against exactly this catalog file instead of the bundled/refreshed catalog. */
  catalogFile?: string
  objective?: Objective
  top?: number
  /** Plan across every provider in the catalog, not only those with credentials. */
  allProviders?: boolean
  env?: NodeJS.ProcessEnv
  now?: Date
  /** From the state store, when the caller has one open. */
  observations?: Observation[]
  /** From providers that can estimate their own queue (Slurm's `sbatch --test-only`). */
  queueEstimates?: Map<OfferKey, QueueEstimate>
  blocked?: BlockList
}

export interface PlanResult {
  job: {name: string; file: string}
  objective: Objective
  now: string
  /** Providers whose offers were candidates; null with --all-providers. */
  enabledProviders: string[] | null
  catalog: {offers: number; providers: Array<{provider: string; origin: string; asOf: string | null}>; warnings: string[]; fx: {cnyPerUsd: number; source: string}}
  chosen: Candidate | null
  candidates: Candidate[]
  feasibleCount: number
  offersConsidered: number
  excluded: ExclusionGroup[]
  assumptions: string[]
}

/**
 * Environment variables whose presence means a provider's credentials are configured
 * here. Any one of a provider's sets suffices (profiles count: the adapters read them).
 */
const CREDENTIAL_ENV: Record<string, string[][]> = {
  aws: [['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'], ['AWS_PROFILE']],
  gcp: [['GOOGLE_APPLICATION_CREDENTIALS'], ['CLOUDSDK_CORE_PROJECT']],
  azure: [['AZURE_CLIENT_ID', 'AZURE_TENANT_ID'], ['AZURE_SUBSCRIPTION_ID']],
  aliyun: [['ALIBABA_CLOUD_ACCESS_KEY_ID', 'ALIBABA_CLOUD_ACCESS_KEY_SECRET'], ['ALIBABA_CLOUD_PROFILE'], ['ALIBABACLOUD_PROFILE']],
  huaweicloud: [['HUAWEICLOUD_SDK_AK', 'HUAWEICLOUD_SDK_SK']],
  tencentcloud: [['TENCENTCLOUD_SECRET_ID', 'TENCENTCLOUD_SECRET_KEY'], ['TENCENTCLOUD_PROFILE']],
  lambda: [['LAMBDA_API_KEY']],
  nebius: [['NEBIUS_IAM_TOKEN']],
  oci: [['OCI_CLI_USER', 'OCI_CLI_TENANCY']],
  runpod: [['RUNPOD_API_KEY']],
}

/** `local` always; `slurm` when `sinfo` is on PATH; a cloud when its credential variables are set. */
export function enabledProviders(env: NodeJS.ProcessEnv = process.env): Set<string> {
  const out = new Set<string>(['local'])
  if (onPath('sinfo', env)) out.add('slurm')
  for (const [provider, sets] of Object.entries(CREDENTIAL_ENV)) {
    if (sets.some((vars) => vars.every((v) => (env[v] ?? '').trim() !== ''))) out.add(provider)
  }
  return out
}

function onPath(command: string, env: NodeJS.ProcessEnv): boolean {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue
    try {
      accessSync(join(dir, command), constants.X_OK)
      return true
    } catch {
      // not in this directory
    }
  }
  return false
}

/**
 * This machine as an offer: what the local provider runs on, free of charge. CPU-only:
 * accelerators on this machine are the local provider's to report when it lists live offers.
 */
export function localMachineOffer(now: Date): Offer {
  return {
    provider: 'local',
    region: 'this-machine',
    zone: null,
    instanceType: hostname() || 'localhost',
    accelerator: null,
    vcpus: cpus().length,
    memoryGiB: Math.floor(totalmem() / 2 ** 30),
    price: {onDemand: 0, spot: null, currency: 'USD'},
    priceStatus: 'list',
    expectedQueueMinutes: 0,
    preemptionRatePerHour: null,
    capacity: 1,
    noticeSeconds: null,
    source: 'this machine (node:os)',
    asOf: now.toISOString().slice(0, 10),
    confidence: 'high',
  }
}

export function planFile(options: PlanServiceOptions): PlanResult {
  const env = options.env ?? process.env
  const now = options.now ?? new Date()
  const loaded = loadJobFile(options.file, {now})
  const fx = fxFromEnv(env, now)
  const catalog = loadCatalog({home: options.home, catalogFile: options.catalogFile, now, fx})
  // A user catalog file is the whole world (tests, private clusters); otherwise this
  // machine is always a place to run.
  const offers = options.catalogFile ? catalog.offers : [...catalog.offers, localMachineOffer(now)]
  const enabled = options.allProviders ? null : enabledProviders(env)
  const plan = planJob({
    job: loaded.spec,
    offers,
    accelerators: (name) => catalog.registry.resolve(name),
    now,
    enabledProviders: enabled,
    fx: {cnyPerUsd: fx.cnyPerUsd},
    observations: options.observations,
    queueEstimates: options.queueEstimates,
    blocked: options.blocked,
    options: {objective: options.objective, top: options.top},
  })
  if (plan.chosen === null) throw noFeasiblePlanError(plan)
  return {
    job: {name: loaded.spec.name, file: options.file},
    objective: plan.objective,
    now: plan.now,
    enabledProviders: enabled === null ? null : [...enabled].sort(),
    catalog: {
      offers: offers.length,
      providers: catalog.sources.map((s) => ({provider: s.provider, origin: s.origin, asOf: s.asOf})),
      warnings: [...catalog.warnings],
      fx: {cnyPerUsd: fx.cnyPerUsd, source: fx.source},
    },
    chosen: plan.chosen,
    candidates: plan.candidates,
    feasibleCount: plan.feasibleCount,
    offersConsidered: plan.offersConsidered,
    excluded: plan.excluded,
    assumptions: plan.assumptions,
  }
}
