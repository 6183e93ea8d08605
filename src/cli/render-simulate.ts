// The human rendering of `simulate`: the markets replayed, then one row per policy.
import type {PolicyResult, SimulateResult} from '../services/simulate.js'
import {renderTable} from './table.js'

export function renderSimulation(r: SimulateResult): string {
  const k = r.traces.markets.map((m) => m.k)
  const kText = Math.min(...k) === Math.max(...k) ? k[0].toFixed(2) : `${Math.min(...k).toFixed(2)}–${Math.max(...k).toFixed(2)}`
  const lines = [
    `${r.job.name}: ${fmt(r.job.workHours)} h of work, deadline ${fmt(r.job.deadlineHours)} h (job fraction ${r.job.jobFraction.toFixed(2)}), changeover ${fmt(r.settings.changeoverHours)} h, notice ${r.settings.noticeSeconds} s`,
    `${r.traces.markets.length} zone(s) from ${r.traces.path}, tick ${r.traces.gapSeconds} s, k = on-demand/spot ${kText}; ${r.settings.seeds} start(s) per policy${r.settings.wrapped ? ' (the traces are shorter than the deadline: they wrap around)' : ''}`,
    '',
    renderTable(r.traces.markets, [
      {header: 'ZONE', get: (m) => m.zone},
      {header: 'KIND', get: (m) => (m.accelerator === null ? m.label : `${m.accelerator}×${m.count}`)},
      {header: 'SPEED', get: (m) => m.speed.toFixed(2), align: 'right'},
      {header: 'SPOT $/H', get: (m) => m.spotUsdPerHour.toFixed(3), align: 'right'},
      {header: 'OD $/H', get: (m) => m.onDemandUsdPerHour.toFixed(3), align: 'right'},
      {header: 'SPOT UP', get: (m) => `${Math.round(m.availability * 100)}%`, align: 'right'},
      {header: 'DROPS/H', get: (m) => m.preemptionsPerHour.toFixed(2), align: 'right'},
    ]),
    '',
    renderTable(r.policies, [
      {header: 'POLICY', get: (p) => p.name},
      {header: 'SAFE', get: (p) => (p.omniscient ? 'ref' : p.safe ? 'yes' : 'no')},
      {header: 'COST/OD', get: (p) => p.costRelativeToOnDemand.toFixed(3), align: 'right'},
      {header: 'MEAN $', get: (p) => p.costUsd.toFixed(2), align: 'right'},
      {header: 'MISSES', get: (p) => `${p.deadlineMisses}/${p.runs}`, align: 'right'},
      {header: 'SPOT H', get: (p) => p.spotHours.toFixed(1), align: 'right'},
      {header: 'OD H', get: (p) => p.onDemandHours.toFixed(1), align: 'right'},
      {header: 'CHANGES', get: (p) => p.changeovers.toFixed(1), align: 'right'},
      {header: 'MIN SLACK', get: (p) => `${p.slackHours.min.toFixed(2)}h`, align: 'right'},
      {header: 'P50 µs', get: (p) => p.decisionLatencyUs.p50.toFixed(1), align: 'right'},
      {header: 'P99 µs', get: (p) => p.decisionLatencyUs.p99.toFixed(1), align: 'right'},
    ]),
  ]
  const unsafe = r.policies.filter((p: PolicyResult) => p.safe && p.deadlineMisses > 0)
  lines.push(
    '',
    'COST/OD: mean cost / on-demand only on the same start. SPOT H, OD H: instance hours paid, per run. MIN SLACK: the least time to spare at the deadline.',
  )
  if (unsafe.length > 0)
    lines.push(`MISSED DEADLINES by a safe policy: ${unsafe.map((p) => p.name).join(', ')} — this is a bug, please report it.`)
  if (r.traces.skipped.length > 0)
    lines.push(
      `${r.traces.skipped.length} trace(s) skipped: ${r.traces.skipped.map((s) => `${s.zone} ${s.label} (${s.reason})`).join('; ')}`,
    )
  return lines.join('\n')
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(2)
}
