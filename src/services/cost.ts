// The `cost` service: what jobs cost, grouped by job, provider or sweep, since a moment.
import {type CostGroupBy, type CostReport, costFromStore} from '../controller/cost.js'
import type {ServiceContext} from './context.js'

export type {CostGroupBy, CostReport} from '../controller/cost.js'

export const COST_GROUPS: readonly CostGroupBy[] = ['job', 'provider', 'sweep']

export interface CostOptions {
  /** Every attempt, or attempts requested since this date, or this many seconds back from now. */
  since: {all: true} | {date: string} | {seconds: number}
  by: CostGroupBy
  now?: Date
}

export async function cost(ctx: ServiceContext, options: CostOptions): Promise<CostReport> {
  const now = options.now ?? new Date()
  const s = options.since
  const since = 'all' in s ? null : 'date' in s ? s.date : new Date(now.getTime() - s.seconds * 1000).toISOString()
  return costFromStore(await ctx.store(), {now, since, by: options.by, fx: await ctx.fx()})
}
