// Human renderings of plans, jobs and attempts for launch, status and friends.
import type {UsageSample, UsageSummary} from '../model/usage.js'
import type {CancelResult} from '../services/cancel.js'
import type {ImportResult} from '../services/import.js'
import type {AttemptSummary, JobSummary, NodeSummary} from '../services/jobs.js'
import type {ControllerEvent, LaunchResult} from '../services/launch.js'
import type {LogLine} from '../services/logs.js'
import type {PreemptResult} from '../services/preempt.js'
import type {RecoverResult} from '../services/recover.js'
import type {JobDetail, StatusResult} from '../services/status.js'
import type {ValidationResult} from '../services/validate.js'
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
    {header: 'OWNER', get: (j) => j.owner},
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

export function renderNodes(nodes: readonly NodeSummary[]): string {
  return renderTable(nodes, [
    {header: 'RANK', get: (n) => n.rank, align: 'right'},
    {header: 'STATE', get: (n) => n.state},
    {header: 'IP', get: (n) => n.ip},
    {header: 'ID', get: (n) => n.externalId},
    {header: 'EXIT', get: (n) => n.exitCode, align: 'right'},
    {header: 'REASON', get: (n) => n.reason},
  ])
}

export function renderJobDetail(d: JobDetail): string {
  const lines = [
    `job ${d.name} (${d.id}): ${d.state}${d.exitCode !== null ? `, exit code ${d.exitCode}` : ''}${d.reason ? ` — ${d.reason}` : ''}`,
    `file: ${d.file ?? '-'}   owner: ${d.owner ?? '-'}   created: ${d.createdAt}   restarts: ${d.restarts}`,
  ]
  if (d.autoAccelerators) lines.push(`accelerators: auto — ${d.autoAccelerators.text}`)
  if (d.attemptsDetail.length > 0) lines.push('', renderAttempts(d.attemptsDetail))
  // A gang's nodes, for its latest attempt (earlier ones are in --json).
  const gang = [...d.attemptsDetail].reverse().find((a) => a.nodes && a.nodes.length > 0)
  if (gang) lines.push('', `attempt ${gang.n}: ${gang.nodes!.length} nodes`, renderNodes(gang.nodes!))
  const used = [...d.attemptsDetail].reverse().find((a) => a.usage)
  if (used?.usage) lines.push('', ...renderUsage(used.n, used.state, used.usage))
  const recent = d.events.slice(-12)
  if (recent.length > 0) {
    lines.push('', 'events:')
    for (const e of recent)
      lines.push(`  ${e.ts.replace('T', ' ').slice(0, 23)}  ${e.kind}${e.data.message ? `  ${String(e.data.message)}` : ''}`)
  }
  return lines.join('\n')
}

export function renderStatus(r: StatusResult): string {
  return 'job' in r ? renderJobDetail(r.job) : renderJobs(r.jobs)
}

/** After a launch: where to follow a detached job (stdout), or how a waited-for one ended (stderr). */
export function renderLaunched(r: LaunchResult): {out?: string; note?: string} {
  if (r.agent) return {out: `handed job ${r.job.name} (${r.job.id}) to skyhop agent; follow it with: skyhop logs ${r.job.id} --follow`}
  if (r.detached) return {out: `launched job ${r.job.name} (${r.job.id}); follow it with: skyhop logs ${r.job.id} --follow`}
  return {note: `job ${r.job.name} (${r.job.id}) ${r.job.state.toLowerCase()}${r.job.reason ? `: ${r.job.reason}` : ''}`}
}

export function renderCancel(r: CancelResult): string {
  return r.alreadyEnded ? `job ${r.job.name} (${r.job.id}) had already ended: ${r.job.state}` : `cancelled job ${r.job.name} (${r.job.id})`
}

export function renderPreempt(r: PreemptResult, graceSeconds: number): string {
  return `notice delivered to job ${r.job.name} (${r.job.id}), attempt ${r.attempt}; ${graceSeconds}s of grace`
}

export function renderRecover(r: RecoverResult): string {
  if (r.actions.length + r.secretsMissing.length === 0) return 'nothing to recover'
  const lines = r.actions.map((a) => {
    const who = a.jobId ? `job ${a.jobId}` : a.serviceId ? `service ${a.serviceId}` : `sweep ${a.sweepId ?? '?'}`
    const what = a.attemptId ? `${who}, attempt ${a.attemptId}${a.provider ? ` on ${a.provider}` : ''}` : who
    return a.ok ? `✓ ${what}: ${a.message}` : `✗ ${what}: ${a.message}${a.code ? ` [${a.code}]` : ''}`
  })
  for (const m of r.secretsMissing) {
    const names = m.secrets.map((n) => `$${n}`).join(', ')
    const them = m.secrets.length === 1 ? 'it' : 'them'
    const what =
      'jobId' in m ? `job ${m.jobId}: its controller keeps a running attempt` : `sweep ${m.sweepId}: its controller keeps running attempts`
    lines.push(
      `${what} but holds rather than launch, as this shell does not export ${names}; run \`skyhop recover\` from a shell that exports ${them}`,
    )
  }
  if (r.partial) {
    const failed = r.actions.filter((a) => !a.ok).length
    lines.push(
      `recover did not finish: ${failed} step(s) could not be done (see ✗ above); run \`skyhop recover\` again once the provider answers`,
    )
  }
  return lines.join('\n')
}

export function renderValidation(r: ValidationResult): string {
  return r.files.map((f) => `✓ ${f.file}: job "${f.name}" is valid`).join('\n')
}

/** What `import` says on stderr: where the job came from, each key that did not carry over, and where it went. */
export function renderImportNotes(r: ImportResult): string {
  const what = r.source.format === 'skypilot' ? 'SkyPilot' : 'dstack'
  const lines = [`imported the ${what} ${r.source.kind} ${r.source.file} as job "${r.name}"`]
  if (r.unmapped.length > 0) {
    lines.push(`${r.unmapped.length} key(s) not carried over as written:`)
    for (const u of r.unmapped) {
      const where = u.line === undefined ? r.source.file : `${r.source.file}:${u.line}:${u.column ?? 1}`
      lines.push(`  ${where}: ${u.path}: ${u.kind}: ${u.reason}`)
    }
  }
  lines.push(
    r.output
      ? `wrote ${r.output}; check it with: skyhop validate ${r.output}`
      : 'check it with: skyhop validate FILE (after saving it, or use --output)',
  )
  return lines.join('\n')
}

/** A background controller's log line for one of its events. */
export function controllerLogLine(e: ControllerEvent): string {
  return `${new Date().toISOString()} ${e.kind} ${e.message}\n`
}

/**
 * Prints log lines to stdout as they come, with a separator on stderr where the next
 * attempt (a recovery, a restart) begins.
 */
export function logPrinter(): (entry: LogLine) => void {
  let lastAttempt = 0
  return (entry) => {
    if (entry.attempt !== lastAttempt && lastAttempt !== 0) process.stderr.write(`--- attempt ${entry.attempt} ---\n`)
    lastAttempt = entry.attempt
    process.stdout.write(entry.line.endsWith('\n') ? entry.line : entry.line + '\n')
  }
}

const gib = (mib: number) => (mib < 1024 ? `${Math.round(mib)} MiB` : `${(mib / 1024).toFixed(mib >= 10 * 1024 ? 0 : 1)} GiB`)

/** The means and peaks of a summary (a gang's: over every rank, the peaks those of one node). */
function summaryLines(u: UsageSummary, pad: string): string[] {
  const lines = [`${pad}CPU     ${Math.round(u.cpuBusy * 100)}% of ${u.cores} cores on average   memory peak ${gib(u.memPeakMiB)}`]
  if (u.accelerators > 0) {
    const mem =
      u.acceleratorMemPeakMiB !== null
        ? `   memory peak ${gib(u.acceleratorMemPeakMiB)}${u.acceleratorMemTotalMiB ? ` of ${gib(u.acceleratorMemTotalMiB)}` : ''}`
        : ''
    lines.push(
      `${pad}${u.accelerators} × ${u.acceleratorTool}  ${u.acceleratorBusy === null ? '?' : `${Math.round(u.acceleratorBusy * 100)}%`} busy on average${mem}`,
    )
  }
  return lines
}

/** One sample's lines: CPU and memory, then one line per accelerator, each indented by `pad`. */
function sampleLines(s: UsageSample, pad: string): string[] {
  const lines = [
    `${pad}CPU     ${s.cpuCores.toFixed(2)} of ${s.cores} cores (${Math.round((100 * s.cpuCores) / Math.max(1, s.cores))}%)   memory ${gib(s.rssMiB)}${s.memTotalMiB > 0 ? ` of ${gib(s.memTotalMiB)}` : ''}`,
  ]
  for (const a of s.accelerators) {
    const mem = a.memUsedMiB !== null ? `   memory ${gib(a.memUsedMiB)}${a.memTotalMiB ? ` of ${gib(a.memTotalMiB)}` : ''}` : ''
    lines.push(`${pad}${s.tool} ${a.index}  ${a.busyPct === null ? '?' : `${a.busyPct}%`} busy${mem}`)
  }
  if (s.unreadable.length > 0) lines.push(`${pad}unreadable: ${s.unreadable.join(', ')}`)
  return lines
}

/**
 * An attempt's utilisation: its latest sample while it runs (live), the mean and peaks over its
 * samples otherwise, one line per accelerator. A gang's: the means and peaks over every rank,
 * then each rank's own (its latest sample while it runs).
 */
export function renderUsage(n: number, state: string, u: UsageSummary): string[] {
  const live = state === 'RUNNING' && u.last !== null
  const gang = u.ranks !== undefined && u.ranks.length > 1
  const over = gang ? ` over ${u.ranks!.length} ranks` : ''
  const lines = [
    `utilisation, attempt ${n} (${u.samples} sample${u.samples === 1 ? '' : 's'}${over}${live ? `, latest ${u.lastAt!.slice(11, 19)}Z` : ''}):`,
  ]
  if (gang) {
    lines.push(...summaryLines(u, '  all ranks: '))
    for (const r of u.ranks!) {
      if (r.samples === 0) {
        lines.push(`  rank ${r.rank}: no samples`)
      } else if (live && r.last) {
        lines.push(`  rank ${r.rank} (latest ${r.last.ts.slice(11, 19)}Z):`, ...sampleLines(r.last, '    '))
      } else {
        const accel =
          r.accelerators > 0 && r.acceleratorBusy !== null ? `   accelerators ${Math.round(r.acceleratorBusy * 100)}% busy on average` : ''
        lines.push(
          `  rank ${r.rank}: CPU ${Math.round(r.cpuBusy * 100)}% of ${r.cores} cores on average   memory peak ${gib(r.memPeakMiB)}${accel}`,
        )
      }
    }
    return lines
  }
  if (live) {
    lines.push(...sampleLines(u.last!, '  '))
  } else {
    lines.push(...summaryLines(u, '  '))
  }
  return lines
}
