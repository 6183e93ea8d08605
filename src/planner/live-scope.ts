// Whether asking a backend for its live offers (or their queue estimates) can matter to a
// job: the same provider, region and accelerator filters the planner applies, judged on what
// the backend can offer at most (its scope) or on one offer, before any query is made. A
// `skyhop plan` of a GPU job on a machine whose Slurm cluster has no GPUs then asks Slurm
// nothing. Conservative: whatever is not known (a region not yet learnt) passes.
import type {Accelerator, Offer} from '../model/catalog.js'
import type {JobSpec} from '../model/job-spec.js'
import {JobContext} from './plan-context.js'

/** What a backend's live offers can be at most, known without asking it; null = not known. */
export interface LiveOfferScope {
  regions: readonly string[] | null
  /** Canonical accelerator names its offers may carry, '' for CPU-only offers. */
  accelerators: readonly string[] | null
}

export interface LiveFilterInput {
  accelerators: (name: string) => Accelerator | undefined
  /** Providers whose offers are candidates; null = every provider. */
  enabledProviders: ReadonlySet<string> | null
  now: Date
}

/** The job's filters, worked out once per job (the planner's own JobContext). */
export function liveFilter(job: JobSpec, input: LiveFilterInput): JobContext {
  return new JobContext({
    job,
    offers: [],
    accelerators: input.accelerators,
    now: input.now,
    enabledProviders: input.enabledProviders,
    fx: {cnyPerUsd: 1},
  })
}

/** Could some offer within this scope of `provider` pass the job's provider, region and accelerator filters? */
export function scopeMayPass(ctx: JobContext, provider: string, scope: LiveOfferScope): boolean {
  if (ctx.providerReason(provider) !== null) return false
  if (scope.regions !== null && !scope.regions.some((region) => ctx.regionAllowed(provider, region))) return false
  if (scope.accelerators !== null && !scope.accelerators.some((name) => ctx.group(name).reason === null)) return false
  return true
}

/** Could this offer pass the job's provider, region and accelerator filters? */
export function offerMayPass(ctx: JobContext, offer: Offer): boolean {
  return scopeMayPass(ctx, offer.provider, {regions: [offer.region], accelerators: [offer.accelerator?.name ?? '']})
}
