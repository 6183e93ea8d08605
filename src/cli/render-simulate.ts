// The human rendering of `simulate`: the markets replayed, then one row per policy.
import type {PolicyResult, SimulateResult, SimulateServiceResult} from '../services/simulate.js'
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

/** `simulate --service`: the sizing, the zones, then one row per service policy. */
export function renderServiceSimulation(r: SimulateServiceResult): string {
  const s = r.service
  const pct = (x: number) => `${(x * 100).toFixed(x >= 0.999 && x < 1 ? 3 : 2)}%`
  const lines = [
    `${s.name}: ${s.target} replica(s) of ${s.configuration}${s.demandQps === null ? '' : ` for ${fmt(s.demandQps)} requests/s (${fmt(s.qpsPerReplica ?? 0)} per reference replica)`}, on-demand floor ${s.baseOnDemand}, spread ${s.spread}, spot ${s.spot}`,
    `${r.traces.zones.length} zone(s) from ${r.traces.path}, tick ${r.traces.gapSeconds} s; ${r.settings.seeds} start(s) of ${fmt(r.settings.durationHours)} h per policy${r.settings.wrapped ? ' (the traces are shorter: they wrap around)' : ''}; startup ${r.settings.startupSeconds} s, notice ${r.settings.noticeSeconds} s (a noticed replica serves until ${r.settings.drainWindowSeconds} s before the kill), respot every ${r.settings.respotSeconds} s`,
  ]
  if (r.sizing.length > 1) {
    lines.push(
      '',
      renderTable(r.sizing, [
        {header: 'CONFIGURATION', get: (o) => o.name + (o.name === s.configuration ? ' *' : '')},
        {header: 'SPEED', get: (o) => o.speed.toFixed(2), align: 'right'},
        {header: 'REPLICAS', get: (o) => String(o.replicas), align: 'right'},
        {header: 'REQ/S', get: (o) => o.capacityQps.toFixed(0), align: 'right'},
        {header: '$/H', get: (o) => o.usdPerHour.toFixed(2), align: 'right'},
        {header: 'MEETS', get: (o) => (o.meets ? 'yes' : 'no')},
      ]),
    )
  }
  lines.push(
    '',
    renderTable(r.policies, [
      {header: 'POLICY', get: (p) => p.name},
      {header: 'AT TARGET', get: (p) => pct(p.availabilityAtTarget.mean), align: 'right'},
      {header: 'WORST', get: (p) => pct(p.availabilityAtTarget.min), align: 'right'},
      {header: '≥ 1 READY', get: (p) => pct(p.availabilityAtOne.mean), align: 'right'},
      {header: 'COST/OD', get: (p) => p.costRelativeToOnDemand.toFixed(3), align: 'right'},
      {header: 'MEAN $', get: (p) => p.costUsd.toFixed(2), align: 'right'},
      {header: 'SPOT H', get: (p) => p.spotHours.toFixed(1), align: 'right'},
      {header: 'OD H', get: (p) => p.onDemandHours.toFixed(1), align: 'right'},
      {header: 'PREEMPT', get: (p) => p.preemptions.toFixed(1), align: 'right'},
      {header: 'FALLBACK', get: (p) => p.fallbacks.toFixed(1), align: 'right'},
      {header: 'LONGEST OUT', get: (p) => `${Math.round(p.longestOutageSeconds)}s`, align: 'right'},
    ]),
    '',
    'AT TARGET: mean fraction of the time with at least the target replicas ready (WORST: the worst start). COST/OD: mean cost / all on-demand on the same start. Per run: SPOT H, OD H instance hours, PREEMPT spot replicas taken back, FALLBACK spot replicas put on on-demand for want of spot. LONGEST OUT: the longest time below target.',
  )
  if (r.traces.skipped.length > 0)
    lines.push(
      `${r.traces.skipped.length} trace(s) skipped: ${r.traces.skipped.map((x) => `${x.zone} ${x.label} (${x.reason})`).join('; ')}`,
    )
  return lines.join('\n')
}
