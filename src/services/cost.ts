// The `cost` service: what jobs and services cost, grouped by job, provider or sweep, since a moment.
import {type CostGroupBy, type CostReport, billingPolicy, costReport} from '../controller/cost.js'
import type {AttemptRecordState, CostRow} from '../model/records.js'
import type {ReplicaRecord, ReplicaState} from '../model/service.js'
import {ServiceStore} from '../state/services.js'
import type {Store} from '../state/store.js'
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
  const [report] = await costReports(ctx, {since: options.since, now: options.now, reports: [{by: options.by}]})
  return report!
}

/**
 * Several reports from one read of the store, each grouped its way and optionally over the
 * attempts of some jobs only: the dashboard shows cost by provider, and by job for the jobs
 * on its page, every few seconds; reading the rows and a group's totals are most of the time.
 */
export async function costReports(
  ctx: ServiceContext,
  options: Omit<CostOptions, 'by'> & {reports: ReadonlyArray<{by: CostGroupBy; jobs?: ReadonlySet<string>}>},
): Promise<CostReport[]> {
  const now = options.now ?? new Date()
  const s = options.since
  const since = 'all' in s ? null : 'date' in s ? s.date : new Date(now.getTime() - s.seconds * 1000).toISOString()
  const store = await ctx.store()
  const filter = since ? {sinceIso: since} : {}
  const rows = [...store.costRows(filter), ...replicaCostRows(store, filter)]
  const fx = await ctx.fx()
  return options.reports.map(({by, jobs}) => costReport(jobs ? rows.filter((r) => jobs.has(r.jobId)) : rows, {now, since, by, fx}))
}

/** A replica's states as an attempt's, for billing: it is held from its launch to its release. */
const AS_ATTEMPT: Record<ReplicaState, AttemptRecordState> = {
  REQUESTED: 'REQUESTED',
  STARTING: 'RUNNING',
  READY: 'RUNNING',
  DRAINING: 'RUNNING',
  STOPPED: 'CANCELLED',
  PREEMPTED: 'PREEMPTED',
  FAILED: 'FAILED',
}

/** Each replica of every service as a cost row: a service is a group like a job (docs/serve.md). */
function replicaCostRows(store: Store, filter: {sinceIso?: string}): CostRow[] {
  const services = new ServiceStore(store)
  const rehearsed = new Set(
    services
      .listServices()
      .flatMap((s) => store.events(s.id))
      .filter((e) => e.kind === 'preempt-requested' && e.attemptId !== null)
      .map((e) => e.attemptId!),
  )
  return services.listServices().flatMap((svc) =>
    services
      .replicas(svc.id)
      .filter((r) => !filter.sinceIso || r.intentAt >= filter.sinceIso)
      .map((r: ReplicaRecord) => ({
        attempt: {
          id: r.id,
          jobId: svc.id,
          n: r.n,
          provider: r.provider,
          region: r.region,
          zone: r.zone,
          instanceType: r.instanceType,
          accelerator: r.accelerator,
          acceleratorCount: r.acceleratorCount,
          spot: r.spot,
          pricePerHour: r.pricePerHour,
          currency: r.currency,
          onDemandPricePerHour: r.onDemandPricePerHour,
          billingGranularitySeconds: billingPolicy(r.provider).granularitySeconds,
          state: AS_ATTEMPT[r.state],
          intentAt: r.intentAt,
          launchedAt: r.launchedAt,
          startedAt: r.launchedAt,
          endedAt: r.endedAt,
          releasedAt: r.releasedAt,
          exitCode: null,
          reason: r.reason,
          handle: r.handle,
          error: null,
        },
        jobId: svc.id,
        jobName: svc.name,
        sweepId: null,
        checkpointIntervalSeconds: null,
        preemptRequested: rehearsed.has(r.id),
        service: true as const,
      })),
  )
}
