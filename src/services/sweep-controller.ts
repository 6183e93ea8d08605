// The `sweep-controller` service: the background controller of one sweep, started by
// sweep and recover.
import {LEASE_TTL_MS} from '../controller/controller.js'
import type {ServiceContext} from './context.js'
import {
  type StoredSweepOptions,
  type SweepEvent,
  SweepLeaseHeldError,
  type SweepResult,
  type SweepRun,
  runSweep,
  sweepDeps,
  sweepResult,
} from './sweep.js'

/**
 * The background controller of a sweep (`skyhop sweep-controller`): drives it as it was
 * recorded until its jobs end or `signal` aborts. Another controller holding the sweep is
 * not an error: `onSkip` hears why, and nothing else happens.
 */
export async function driveRecordedSweep(
  ctx: ServiceContext,
  options: {
    sweep: string
    signal: AbortSignal
    onEvent: (event: SweepEvent) => void
    onSkip: (message: string) => void
    /** The lease owner (an agent's name); default: a fresh controller name. */
    owner?: string
    /** The owner `recover` (or a detached `sweep`) claimed the sweep's lease under for this controller: taken over first. */
    claimed?: string
  },
): Promise<(SweepResult & {stats: SweepRun['stats']}) | {skipped: true}> {
  const store = await ctx.store()
  const sweep = store.findSweep(options.sweep)
  const stored = sweep.options as unknown as StoredSweepOptions
  const inputs = await ctx.planningInputs({catalogFile: stored.catalogFile, objective: stored.objective})
  try {
    const deps = await sweepDeps(ctx, inputs, options.owner)
    // Started for a claim (`recover`, a detached `sweep`): take it over under this process's own name.
    if (options.claimed && !store.handOverSweepLease(sweep.id, options.claimed, deps.owner, LEASE_TTL_MS)) {
      options.onSkip(`sweep ${sweep.id} is driven by another controller (the lease claimed for this one was taken)`)
      return {skipped: true}
    }
    const run = await runSweep(sweep.id, {...deps, signal: options.signal, onEvent: options.onEvent})
    return {...sweepResult(store, sweep.id, {now: new Date(), fx: inputs.fx}), stats: run.stats}
  } catch (error) {
    if (!(error instanceof SweepLeaseHeldError)) throw error
    options.onSkip(error.message)
    return {skipped: true}
  }
}
