// Gathers what the pure planner needs — catalog offers, live offers from the enabled
// backends (this machine, Slurm partitions), their queue estimates, and what the store
// has observed — and returns a replanner the controller calls after every failure.
import type {UsageObservation} from '../model/usage.js'
import type {Offer} from '../model/catalog.js'
import type {SkyhopConfig} from '../config.js'
import {offerIdentity, offerKey} from '../planner/offer-index.js'
import type {OfferKey, QueueEstimate} from '../planner/types.js'
import type {Provider} from '../providers/provider.js'
import type {JobSpec, Objective} from '../model/job-spec.js'
import type {Store} from '../state/store.js'
import {type PlanningCatalog, type PlanningInputs, type Replanner, observationsFrom, replannerFrom} from '../planner/replanner.js'
import {liveFilter, offerMayPass, scopeMayPass} from '../planner/live-scope.js'
import {KNOWN_PROVIDERS} from '../providers/registry.js'
import {PromiseCache} from '../util/promise-cache.js'

export interface PlanningSetup {
  home: string
  config: SkyhopConfig
  providers: ReadonlyMap<string, Provider>
  /** Use exactly this catalog file's offers (live offers of enabled backends are still added). */
  catalogFile?: string
  objective?: Objective
  top?: number
  /** Plan across every provider in the catalog, not only the enabled ones (plan only). */
  allProviders?: boolean
  store?: Store
  now?: () => Date
  /** Receives non-fatal problems (a backend whose live offers could not be read). */
  warn?: (message: string) => void
  /**
   * The jobs this planning is for, when known in advance: a backend is asked for its live
   * offers only when one of its offers could pass one of these jobs' filters. Default: every
   * backend is asked.
   */
  jobs?: readonly JobSpec[]
  /** Receives each backend whose live offers could not be read, with why. */
  liveFailures?: Map<string, Error>
  /** Every provider skyhop can launch on (built in and plugins'); default the built-in ones. */
  adapters?: readonly string[]
}

export interface Planning {
  replan: Replanner
  /** What the plans are made from, for `plan`'s output. */
  catalog: PlanningCatalog
  /** Providers whose offers are candidates; null when planning across every provider. */
  enabledProviders: string[] | null
  /**
   * What earlier runs of a job (by name and usageFingerprint) used, newest first, for
   * right-sizing (docs/planner.md#right-sizing); none when this home has no store yet.
   */
  usageHistory(jobName: string, fingerprint: string): UsageObservation[]
  /** Backends whose live offers could not be read (a kubeconfig that does not load, Slurm down), with why. */
  liveFailures: ReadonlyMap<string, Error>
}

export async function createReplanner(setup: PlanningSetup): Promise<Replanner> {
  return (await createPlanning(setup)).replan
}

export async function createPlanning(setup: PlanningSetup): Promise<Planning> {
  const liveFailures = new Map<string, Error>()
  const inputs = await gatherPlanningInputs({...setup, liveFailures})
  return {
    liveFailures,
    replan: replannerFrom(inputs),
    catalog: inputs.catalog,
    enabledProviders: inputs.enabledProviders === null ? null : [...inputs.enabledProviders].sort(),
    usageHistory: (jobName, fingerprint) => setup.store?.usageObservations(jobName, fingerprint) ?? [],
  }
}

export async function gatherPlanningInputs(setup: PlanningSetup): Promise<PlanningInputs> {
  const {loadCatalog} = await import('../catalog/catalog.js')
  const {fxFor} = await import('../catalog/fx.js')
  const now = setup.now ?? (() => new Date())
  const containerAnswers = new PromiseCache<{able: ReadonlySet<string>; why: ReadonlyMap<string, string>}>()
  const fx = fxFor(setup.config.fx)
  const catalog = loadCatalog({
    home: setup.home,
    catalogFile: setup.catalogFile,
    mergeFile: setup.catalogFile ? undefined : (setup.config.catalog.merge ?? undefined),
    fx,
  })
  for (const w of catalog.warnings) setup.warn?.(w)

  const enabled = setup.allProviders ? null : new Set(setup.providers.keys())
  const filterInput = {accelerators: (name: string) => catalog.registry.resolve(name), enabledProviders: enabled, now: now()}
  const jobFilters = setup.jobs?.map((job) => liveFilter(job, filterInput))
  // `--catalog FILE` is the whole world (issue 3): exactly that file's offers, no live ones.
  const live: Offer[] = []
  for (const provider of setup.catalogFile ? [] : setup.providers.values()) {
    if (!provider.liveOffers) continue
    // A backend none of whose offers could pass the jobs' filters is not asked (Slurm on every plan, issue 17).
    const scope = provider.liveOfferScope?.()
    if (jobFilters && scope && !jobFilters.some((f) => scopeMayPass(f, provider.name, scope))) continue
    try {
      live.push(...(await provider.liveOffers()))
    } catch (error) {
      setup.liveFailures?.set(provider.name, error as Error)
      setup.warn?.(`${provider.name}: could not list live offers: ${(error as Error).message}`)
    }
  }
  // Live offers replace the catalog's rows of their provider. The index counts the catalog's
  // groups from its columns and decodes only the groups a plan uses (issue 17: a million rows).
  const index = catalog.index({without: new Set(live.map((l) => l.provider)), add: live})
  // Offers sharing an offerKey (one instance type sold with different accelerators) are told
  // apart by their accelerator: by key alone the last of them stood for all, and a launch
  // went out with another offer than the candidate's (its price, its accelerator for GRES).
  // Built per accelerator group on first use, over that group's offers only.
  const byIdentity = new Map<string, Map<string, Offer>>()
  const offerOf = (c: {offerKey: OfferKey; accelerator: {name: string; count: number} | null}): Offer | undefined => {
    const name = c.accelerator === null ? '' : c.accelerator.name
    let group = byIdentity.get(name)
    if (group === undefined) {
      group = new Map(index.group(name).map((o) => [offerIdentity({offerKey: offerKey(o), accelerator: o.accelerator}), o]))
      byIdentity.set(name, group)
    }
    return group.get(offerIdentity(c))
  }
  const queueCache = new Map<string, QueueEstimate | null>()

  const queueEstimates = async (spec: JobSpec): Promise<Map<OfferKey, QueueEstimate>> => {
    const queueEstimates = new Map<OfferKey, QueueEstimate>()
    const filter = live.length > 0 ? liveFilter(spec, filterInput) : null
    for (const offer of live) {
      const provider = setup.providers.get(offer.provider)
      if (!provider?.estimateQueue) continue
      // An estimate is a query (sbatch --test-only): only for offers the job could use.
      if (filter && !offerMayPass(filter, offer)) continue
      const key = offerKey(offer)
      const cacheKey = `${key}|${spec.nodes}|${JSON.stringify(spec.resources)}`
      if (!queueCache.has(cacheKey)) {
        queueCache.set(cacheKey, await provider.estimateQueue(spec, offer).catch(() => null))
      }
      const estimate = queueCache.get(cacheKey)
      if (estimate) queueEstimates.set(key, estimate)
    }
    return queueEstimates
  }
  // Asked only for a job with a container image: finding a runtime starts a process (Slurm's: a query).
  const containers = () =>
    containerAnswers.get('', async () => {
      const answers = await Promise.all(
        [...setup.providers.values()].map(async (p) => {
          if (await p.runsContainers?.()) return {name: p.name, ok: true, why: null}
          return {name: p.name, ok: false, why: (await p.containerUnsupported?.()) ?? null}
        }),
      )
      return {
        able: new Set(answers.filter((a) => a.ok).map((a) => a.name)),
        why: new Map(answers.flatMap((a) => (a.why === null ? [] : [[a.name, a.why] as const]))),
      }
    })
  return {
    offers: index,
    offerOf,
    accelerators: (name) => catalog.registry.resolve(name),
    enabledProviders: enabled,
    adapters: new Set(setup.adapters ?? KNOWN_PROVIDERS),
    maxNodes: new Map([...setup.providers.values()].map((p) => [p.name, p.maxNodes ?? 1])),
    containerProviders: async () => (await containers()).able,
    containerReasons: async () => (await containers()).why,
    jobStore: (spec) => (spec.checkpoint.store ?? setup.config.checkpointStore) !== null,
    fx,
    queueEstimates,
    observations: () => (setup.store ? observationsFrom(setup.store, now()) : []),
    options: {...(setup.objective ? {objective: setup.objective} : {}), ...(setup.top ? {top: setup.top} : {})},
    now,
    quotas: setup.config.quotas,
    catalog: {
      offers: index.size,
      providers: catalog.sources.map((s) => ({provider: s.provider, origin: s.origin, asOf: s.asOf})),
      warnings: [...catalog.warnings],
      fx: {cnyPerUsd: fx.cnyPerUsd, source: fx.source, asOf: fx.asOf},
    },
  }
}
