// Human renderings for sweeps and costs: the plan summary shown before a sweep starts,
// the final results table, the list of sweeps, and the cost report.
import type {CostReport} from '../services/cost.js'
import {formatHours} from '../controller/cost.js'
import type {PlannedSweep, SweepEvent, SweepOutput, SweepResult, SweepSummary} from '../services/sweep.js'
import type {SweepsResult} from '../services/sweeps.js'
import {renderTable} from './table.js'

export function formatSeconds(s: number | null): string {
  if (s === null) return '-'
  if (s < 10) return `${s.toFixed(1)}s`
  if (s < 60) return `${Math.round(s)}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
}

/** A total that may be unknown: `?` alone, or the known part and `+?` when some of it is unknown. */
export function costText(usd: number | null, knownUsd = 0): string {
  if (usd !== null) return formatUsd(usd)
  return knownUsd > 0 ? `${formatUsd(knownUsd)}+?` : '?'
}

export function formatUsd(n: number): string {
  return n !== 0 && Math.abs(n) < 0.1 ? `$${n.toFixed(4)}` : `$${n.toFixed(2)}`
}

function values(v: Record<string, unknown>): string {
  const entries = Object.entries(v)
  return entries.length === 0 ? '-' : entries.map(([k, x]) => `${k}=${String(x)}`).join(' ')
}

/** A sweep's expected cost: unknown (never $0) when a job's price is, with the priced part beside. */
function expectedCost(plan: {estimatedCostUsd: number | null; pricedCostUsd?: number; unknownPriceJobs?: number}): string {
  if (plan.estimatedCostUsd !== null) return formatUsd(plan.estimatedCostUsd)
  const n = plan.unknownPriceJobs ?? 0
  return `unknown (${n} job${n === 1 ? '' : 's'} at an unknown price; the priced ones ${formatUsd(plan.pricedCostUsd ?? 0)})`
}

/** What `sweep` shows before it asks: size, expected cost, where the jobs go. */
export function renderSweepPlan(planned: PlannedSweep): string {
  const {plan} = planned
  const keys = Object.entries(planned.matrix ?? {}).map(([k, v]) => `${k}×${v.length}`)
  const lines = [
    `sweep ${planned.name}: ${planned.combinations.length} job${planned.combinations.length === 1 ? '' : 's'}${keys.length ? ` (${keys.join(' × ')})` : ''}, planned together (objective ${plan.objective})`,
    `expected cost ${expectedCost(plan)}${planned.budgetUsd !== null ? ` of a ${formatUsd(planned.budgetUsd)} budget` : ''}, makespan ${formatHours(plan.makespanHours)}${plan.unassigned ? `, ${plan.unassigned} job(s) not placed` : ''}`,
  ]
  if (plan.usage.length > 0) {
    lines.push(
      renderTable(plan.usage, [
        {header: 'OFFER', get: (u) => u.offerKey},
        // Offers of one instance type with different accelerators share the offer key.
        {header: 'ACCELERATOR', get: (u) => (u.accelerator ? `${u.accelerator.name}:${u.accelerator.count}` : '-')},
        {header: 'JOBS', get: (u) => u.jobs, align: 'right'},
        {header: 'PEAK', get: (u) => u.instances, align: 'right'},
        {header: 'CAPACITY', get: (u) => u.capacity ?? '∞', align: 'right'},
      ]),
    )
  }
  // Offers sharing one limit (the local machine's max_concurrent over its accelerators).
  for (const p of plan.pools) lines.push(`pool ${p.pool}: ${p.jobs} job(s) share ${p.capacity} slot(s), peak ${p.instances}`)
  const reasons = new Map<string, number>()
  for (const a of plan.assignments)
    if (a.reason) reasons.set(`${a.reason.reason}: ${a.reason.message}`, (reasons.get(`${a.reason.reason}: ${a.reason.message}`) ?? 0) + 1)
  for (const [r, n] of [...reasons].slice(0, 5)) lines.push(`not placed (${n}): ${r}`)
  if (planned.auto) lines.push(`Accelerators (auto, every job): ${planned.auto.text}.`)
  return lines.join('\n')
}

/** What a sweep spent: a sum, or at least the known part and how many attempts are unknown (never counted as 0). */
export function sweepCostText(s: Pick<SweepSummary, 'costUsd' | 'knownCostUsd' | 'unknownPriceAttempts'>): string {
  if (s.costUsd !== null) return formatUsd(s.costUsd)
  const n = s.unknownPriceAttempts
  return `≥ ${formatUsd(s.knownCostUsd)}, ${n} attempt${n === 1 ? '' : 's'} of unknown price`
}

export function renderSweepHeader(s: SweepSummary): string {
  const c = s.counts
  return `sweep ${s.name} (${s.id}): ${s.state}${s.reason ? ` — ${s.reason}` : ''}; ${s.jobs} jobs: ${c.succeeded} succeeded, ${c.failed} failed, ${c.cancelled} cancelled, ${c.running} running, ${c.pending} pending; cost ${sweepCostText(s)}${s.budget ? ` of ${s.budget.amount} ${s.budget.currency}` : ''}`
}

/** The final results table: job, values, where it ran, attempts, duration, cost, exit code. */
export function renderSweepResult(r: SweepResult): string {
  const table = renderTable(r.jobs, [
    {header: 'JOB', get: (j) => j.name},
    {header: 'VALUES', get: (j) => values(j.values)},
    {header: 'STATE', get: (j) => j.state},
    {header: 'WHERE', get: (j) => j.where},
    {header: 'ATTEMPTS', get: (j) => j.attempts, align: 'right'},
    {header: 'DURATION', get: (j) => formatSeconds(j.durationSeconds), align: 'right'},
    {header: 'COST', get: (j) => costText(j.cost.usd, j.cost.knownUsd), align: 'right'},
    {header: 'EXIT', get: (j) => j.exitCode, align: 'right'},
  ])
  return [renderSweepHeader(r.sweep), table, r.totals.summary].join('\n')
}

export function renderSweepList(sweeps: readonly SweepSummary[]): string {
  if (sweeps.length === 0) return 'no sweeps yet; start one with: skyhop sweep FILE'
  return renderTable(sweeps, [
    {header: 'ID', get: (s) => s.id},
    {header: 'NAME', get: (s) => s.name},
    {header: 'STATE', get: (s) => s.state},
    {header: 'OWNER', get: (s) => s.owner},
    {header: 'JOBS', get: (s) => s.jobs, align: 'right'},
    {header: 'OK', get: (s) => s.counts.succeeded, align: 'right'},
    {header: 'FAILED', get: (s) => s.counts.failed, align: 'right'},
    {header: 'RUNNING', get: (s) => s.counts.running, align: 'right'},
    {header: 'COST', get: (s) => costText(s.costUsd, s.knownCostUsd), align: 'right'},
    {header: 'CREATED', get: (s) => s.createdAt.replace('T', ' ').slice(0, 19)},
  ])
}

export function renderCostReport(r: CostReport): string {
  if (r.total.attempts === 0) return `no attempts ${r.since ? `since ${r.since}` : 'recorded'}`
  const table = renderTable(r.groups, [
    {header: r.by.toUpperCase(), get: (g) => g.label},
    {header: 'ATTEMPTS', get: (g) => g.attempts, align: 'right'},
    {header: 'PAID', get: (g) => formatHours(g.paidHours), align: 'right'},
    {header: 'RAN', get: (g) => formatHours(g.runHours), align: 'right'},
    {header: 'WASTE', get: (g) => formatHours(g.waste.hours), align: 'right'},
    {header: 'COST', get: (g) => costText(g.cost.usd, g.cost.knownUsd), align: 'right'},
    {
      header: 'IN',
      get: (g) =>
        Object.entries(g.cost.byCurrency)
          .filter(([c]) => c !== 'USD')
          .map(([c, v]) => `${v.toFixed(2)} ${c}`)
          .join(' ') || null,
    },
    // Sums over attempts with a known price: with an unknown one among them they are not totals.
    {header: 'ON-DEMAND', get: (g) => costText(g.cost.usd === null ? null : g.onDemandUsd, g.onDemandUsd), align: 'right'},
    {header: 'SPOT SAVED', get: (g) => costText(g.cost.usd === null ? null : g.spotSavedUsd, g.spotSavedUsd), align: 'right'},
    // What the run did with the accelerators it paid for (sampled attempts only; docs/utilisation.md).
    ...(r.total.utilisation.acceleratorRunHours > 0
      ? [
          {
            header: 'ACCEL BUSY',
            get: (g: CostReport['groups'][number]) =>
              g.utilisation.acceleratorRunHours > 0
                ? `${Math.round((100 * g.utilisation.acceleratorBusyHours) / g.utilisation.acceleratorRunHours)}%`
                : null,
            align: 'right' as const,
          },
          {
            header: 'PAID IDLE',
            get: (g: CostReport['groups'][number]) =>
              g.utilisation.acceleratorRunHours > 0 ? formatUsd(g.utilisation.acceleratorIdleUsd) : null,
            align: 'right' as const,
          },
        ]
      : []),
  ])
  const t = r.total
  const lines = [
    `cost ${r.since ? `since ${r.since.slice(0, 19).replace('T', ' ')}` : 'of every recorded attempt'} (by ${r.by}; CNY at ${r.fx.cnyPerUsd}/USD of ${r.fx.asOf}, ${r.fx.source}):`,
    table,
    '',
    `total: ${t.summary}`,
  ]
  const w = t.waste
  if (w.hours > 0) {
    lines.push(
      `waste: ${formatHours(w.hours)} (${formatUsd(w.usd)}): provisioning ${formatHours(w.provisioningHours)}, idle after the job ended ${formatHours(w.idleHours)}, work lost to preemption ${formatHours(w.preemptionLostHours)}, billing rounding and minimums ${formatHours(w.billingMinimumHours)}`,
    )
  }
  if (t.liveAttempts > 0) lines.push(`${t.liveAttempts} attempt(s) still hold an instance: counted up to now`)
  return lines.join('\n')
}

export function renderSweeps(r: SweepsResult): string {
  return 'sweep' in r ? renderSweepResult(r.sweep) : renderSweepList(r.sweeps)
}

/** After `sweep`: where to follow a detached sweep (stdout), or its results table. */
export function renderSweepStarted(r: SweepOutput): string {
  if (!r.detached) return renderSweepResult(r)
  return `started sweep ${r.sweep.name} (${r.sweep.id}) of ${r.sweep.jobs} jobs; follow it with: skyhop sweeps ${r.sweep.id}`
}

/** A background sweep controller's log line for one of its events. */
export function sweepControllerLogLine(e: SweepEvent): string {
  return `${e.ts} ${e.event} ${e.message}\n`
}
