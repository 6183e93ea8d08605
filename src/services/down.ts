// The `down` service: take a job down (cancel, release what its attempts still hold,
// terminate what carries its tag), or every orphan that no live attempt owns. The finding
// and terminating is src/services/orphans.ts; this is the use case around it.
import {InterruptedError, UsageError} from '../errors.js'
import type {ServiceContext} from './context.js'
import {type DownResult, type OrphanInstance, down} from './orphans.js'
import {requireEnabledProvider} from './providers.js'

export type {DownResult, OrphanInstance, OrphanSummary} from './orphans.js'

export interface DownOptions {
  /** A job (id or name) to take down; exactly one of job and orphans. */
  job?: string
  orphans: boolean
  provider?: string
  regions?: string[]
  /** Grace of the cancel when the job still runs. */
  graceSeconds: number
  dryRun: boolean
  /** Asked before orphans are terminated; false keeps them. */
  confirm: (orphans: readonly OrphanInstance[]) => Promise<boolean>
}

export async function takeDown(ctx: ServiceContext, options: DownOptions): Promise<DownResult> {
  if (Boolean(options.job) === Boolean(options.orphans)) {
    const message = options.job ? 'give a job or --orphans, not both' : 'name a job to take down, or pass --orphans'
    throw new UsageError(message, {hint: 'See `skyhop down --help`.'})
  }
  const providers = await ctx.providers()
  await requireEnabledProvider(ctx, options.provider)
  const {job, provider, regions, graceSeconds, dryRun, confirm} = options
  // Cloud attempts' secrets objects go with what is stopped or released (orphans.ts).
  const attemptHolds = await ctx.attemptHolds()
  return down({store: await ctx.store(), providers, job, provider, regions, graceSeconds, dryRun, confirm, attemptHolds})
}

/**
 * How a finished `down` ends: a declined confirmation is an interruption (exit 130, nothing
 * terminated); a provider that could not be scanned or an instance that could not be
 * terminated is exit 4; else null.
 */
export function downExitCode(result: DownResult): number | null {
  if (result.declined) throw new InterruptedError('nothing was terminated', {hint: 'Pass --yes to terminate without asking.'})
  return result.failed.length > 0 || result.scanned.some((s) => s.error !== null) ? 4 : null
}
