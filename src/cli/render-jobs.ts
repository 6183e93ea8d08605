// Human renderings of plans, jobs and attempts for launch, status and friends.
import type {AttemptSummary, JobDetail, JobSummary} from '../services/job-ops.js'
import type {Plan} from '../planner/types.js'
import {candidateTable} from './render-plan.js'
import {renderTable} from './table.js'

/** The few lines `launch` shows before it asks: the choice and the runners-up. */
export function renderPlanSummary(plan: Plan, top = 3): string {
  return `plan for ${plan.job} (objective ${plan.objective}; ${plan.feasibleCount} feasible of ${plan.offersConsidered} offers):\n${candidateTable(plan.candidates.slice(0, top))}`
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
