// The `sweeps` service: sweeps newest first, or one sweep with a row per job.
import type {ServiceContext} from './context.js'
import {type SweepResult, type SweepSummary, listSweeps, sweepResult} from './sweep.js'

export type SweepsResult = {sweeps: SweepSummary[]} | {sweep: SweepResult}

/** Sweeps newest first, or one sweep (by id or name) with a row per job. */
export async function sweeps(ctx: ServiceContext, options: {sweep?: string; limit?: number}): Promise<SweepsResult> {
  const store = await ctx.store()
  const fx = await ctx.fx()
  if (options.sweep) return {sweep: sweepResult(store, store.findSweep(options.sweep).id, {now: new Date(), fx})}
  return {sweeps: listSweeps(store, {limit: options.limit, now: new Date(), fx})}
}
