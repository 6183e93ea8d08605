// Human renderings of `down`: what was done to the job, and the orphans found, kept or terminated.
import type {DownResult, OrphanSummary} from '../services/down.js'
import {renderTable} from './table.js'

export function renderDown(r: DownResult): string {
  const lines: string[] = []
  if (r.job) {
    lines.push(
      r.job.cancelled
        ? `cancelled job ${r.job.job.name} (${r.job.job.id})`
        : `job ${r.job.job.name} (${r.job.job.id}) had already ended: ${r.job.job.state}`,
    )
    for (const id of r.job.released) lines.push(`released attempt ${id}`)
    for (const f of r.job.releaseFailed) lines.push(`could not release attempt ${f.attemptId}: ${f.message}`)
  }
  for (const s of r.scanned) if (s.error) lines.push(`${s.provider}: not scanned: ${s.error}`)
  if (r.orphans.length === 0) lines.push(r.job ? "nothing else carries the job's tag" : 'no orphans')
  else if (r.dryRun) lines.push(orphanTable(r.orphans), `${r.orphans.length} orphan(s); nothing terminated (--dry-run)`)
  else {
    for (const o of r.terminated) lines.push(`terminated ${o.provider} ${o.externalId} (${o.region}${o.jobId ? `, job ${o.jobId}` : ''})`)
    for (const f of r.failed) lines.push(`could not terminate ${f.provider} ${f.externalId}: ${f.message}`)
  }
  return lines.join('\n')
}

export function orphanTable(orphans: readonly OrphanSummary[]): string {
  return renderTable(orphans, [
    {header: 'PROVIDER', get: (o) => o.provider},
    {header: 'REGION', get: (o) => o.zone ?? o.region},
    {header: 'INSTANCE', get: (o) => o.externalId},
    {header: 'TYPE', get: (o) => o.instanceType},
    {header: 'JOB', get: (o) => o.jobId},
    {header: 'ATTEMPT', get: (o) => o.attemptId},
    {
      header: 'WHY',
      get: (o) =>
        o.reason === 'attempt-ended'
          ? `attempt ${o.attemptState?.toLowerCase() ?? 'ended'}`
          : o.reason === 'unknown-attempt'
            ? 'unknown to this home'
            : 'duplicate of a live attempt',
    },
  ])
}
