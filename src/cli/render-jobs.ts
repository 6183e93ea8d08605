// Human renderings of plans, jobs and attempts for launch, status and friends.
import type {AttemptSummary, JobDetail, JobSummary} from '../controller/job-ops.js'
import type {Plan} from '../planner/types.js'
import {renderTable} from './table.js'

function hours(h: number | null | undefined): string {
  if (h === null || h === undefined || !Number.isFinite(h)) return '-'
  if (h < 1 / 60) return `${Math.round(h * 3600)}s`
  if (h < 1) return `${Math.round(h * 60)}m`
  return `${h.toFixed(1)}h`
}

function money(usd: number | null | undefined): string {
  return usd === null || usd === undefined ? '?' : `$${usd < 10 ? usd.toFixed(2) : usd.toFixed(0)}`
}

/** The few lines `launch` shows before it asks: the choice and the runners-up. */
export function renderPlanSummary(plan: Plan, top = 3): string {
  const rows = plan.candidates.slice(0, top)
  const table = renderTable(rows, [
    {header: '', get: (c) => (c.rank === 1 ? '→' : '')},
    {header: 'PROVIDER', get: (c) => `${c.provider}/${c.region}${c.zone ? '/' + c.zone : ''}`},
    {header: 'INSTANCE', get: (c) => c.instanceType},
    {header: 'ACCEL', get: (c) => (c.accelerator ? `${c.accelerator.name}:${c.accelerator.count}` : '-')},
    {header: 'SPOT', get: (c) => (c.spot ? 'spot' : '')},
    {header: '$/H', get: (c) => (c.hourlyPriceUsd === null ? '?' : `${c.priceStatus === 'estimate' ? '~' : ''}${c.hourlyPriceUsd.toFixed(2)}`), align: 'right'},
    {header: 'QUEUE', get: (c) => hours(c.estimatedQueueHours), align: 'right'},
    {header: 'RUN', get: (c) => hours(c.estimatedRunHours), align: 'right'},
    {header: 'COST', get: (c) => money(c.estimatedCostUsd), align: 'right'},
  ])
  return `plan for ${plan.job} (objective ${plan.objective}; ${plan.feasibleCount} feasible of ${plan.offersConsidered} offers):\n${table}`
}

export function renderJobs(jobs: readonly JobSummary[]): string {
  if (jobs.length === 0) return 'no jobs yet; start one with: skyhop launch FILE'
  return renderTable(jobs, [
    {header: 'ID', get: (j) => j.id},
    {header: 'NAME', get: (j) => j.name},
    {header: 'STATE', get: (j) => j.state},
    {header: 'WHERE', get: (j) => (j.provider ? `${j.provider}/${j.region}` : null)},
    {header: 'ACCEL', get: (j) => j.accelerator},
    {header: 'ATTEMPTS', get: (j) => j.attempts, align: 'right'},
    {header: 'EXIT', get: (j) => j.exitCode, align: 'right'},
    {header: 'CREATED', get: (j) => j.createdAt.replace('T', ' ').slice(0, 19)},
  ])
}

export function renderAttempts(attempts: readonly AttemptSummary[]): string {
  return renderTable(attempts, [
    {header: '#', get: (a) => a.n, align: 'right'},
    {header: 'STATE', get: (a) => a.state},
    {header: 'WHERE', get: (a) => `${a.provider}/${a.region}${a.zone ? '/' + a.zone : ''}`},
    {header: 'INSTANCE', get: (a) => a.instanceType},
    {header: 'SPOT', get: (a) => (a.spot ? 'spot' : '')},
    {header: 'PRICE/H', get: (a) => (a.pricePerHour === null ? null : `${a.pricePerHour} ${a.currency ?? ''}`.trim()), align: 'right'},
    {header: 'EXIT', get: (a) => a.exitCode, align: 'right'},
    {header: 'REASON', get: (a) => a.reason},
  ])
}

export function renderJobDetail(d: JobDetail): string {
  const lines = [
    `job ${d.name} (${d.id}): ${d.state}${d.exitCode !== null ? `, exit code ${d.exitCode}` : ''}${d.reason ? ` — ${d.reason}` : ''}`,
    `file: ${d.file ?? '-'}   created: ${d.createdAt}   restarts: ${d.restarts}`,
  ]
  if (d.attemptsDetail.length > 0) lines.push('', renderAttempts(d.attemptsDetail))
  const recent = d.events.slice(-12)
  if (recent.length > 0) {
    lines.push('', 'events:')
    for (const e of recent) lines.push(`  ${e.ts.replace('T', ' ').slice(0, 23)}  ${e.kind}${e.data.message ? `  ${String(e.data.message)}` : ''}`)
  }
  return lines.join('\n')
}
