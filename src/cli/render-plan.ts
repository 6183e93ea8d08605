// Human renderings of a plan: the candidates table (shared by `plan` and `launch`), the
// choice, and with --explain the exclusions and the chosen candidate's estimates.
import type {Candidate} from '../planner/types.js'
import type {PlanResult} from '../services/plan.js'
import {renderTable} from './table.js'

/** The human view: one table of candidates, then (with --explain) the exclusions and assumptions. */
export function renderPlan(result: PlanResult, explain: boolean): string {
  const lines = [
    `Plan for ${result.job.name} (objective: ${result.objective}; ${result.feasibleCount} feasible of ${result.offersConsidered} offers${result.enabledProviders ? `; providers: ${result.enabledProviders.join(', ')}` : ''})`,
    '',
    candidateTable(result.candidates),
  ]
  const chosen = result.chosen
  if (chosen) {
    lines.push(
      '',
      `Chosen: ${chosen.provider} ${chosen.zone ?? chosen.region} ${chosen.instanceType}${chosen.spot ? ' (spot)' : ''}, ${chosen.estimatedCostUsd === null ? 'cost unknown (no known price)' : `expected ${formatUsd(chosen.estimatedCostUsd)}`} and done by ${chosen.estimatedFinishAt}.`,
    )
    if (chosen.notes.length > 0) lines.push(`Notes: ${chosen.notes.join(', ')}`)
  }
  if (explain) {
    lines.push('', 'Excluded:')
    for (const g of result.excluded) lines.push(`  ${String(g.count).padStart(6)} × ${g.reason}: ${g.message}`)
    if (result.excluded.length === 0) lines.push('  nothing')
    lines.push('', 'Estimates of the chosen candidate:')
    if (chosen) {
      for (const [name, e] of Object.entries(chosen.estimates)) {
        if (e) lines.push(`  ${name}: ${e.value} (${e.confidence}) — ${e.source}`)
      }
    }
  } else if (result.excluded.length > 0) {
    const total = result.excluded.reduce((n, g) => n + g.count, 0)
    lines.push(`${total} excluded (offers, or one market of an offer) in ${result.excluded.length} groups; --explain lists why.`)
  }
  const auto = result.autoAccelerators
  if (auto) {
    lines.push('', `Accelerators (auto): ${auto.text}.`)
  }
  const rs = result.rightSize
  if (rs && !auto) {
    lines.push(
      '',
      rs.applied
        ? `Right-sized: ${rs.text}.`
        : rs.text
          ? `Right-sizing: ${rs.text} (plan --right-size plans it).`
          : `Right-sizing: ${rs.measured}; nothing smaller would cost less.`,
    )
    for (const o of rs.options.slice(1)) {
      lines.push(
        `  also: ${o.candidate.accelerator ? `${o.candidate.accelerator.name}:${o.candidate.accelerator.count}` : `CPU-only ${o.candidate.instanceType}`} ${o.saving === null ? '' : `${Math.round(o.saving * 100)}% less`} (${o.because})`,
      )
    }
  }
  if (result.assumptions.length > 0) {
    lines.push('', 'Assumptions:')
    for (const a of result.assumptions) lines.push(`  - ${a}`)
  }
  return lines.join('\n')
}

/** The candidates table shared by `plan` and `launch`. */
export function candidateTable(candidates: readonly Candidate[]): string {
  // A gang's plan shows what its nodes talk over; a one-node plan has no such column.
  const gang = candidates.some((c) => c.nodes > 1)
  return renderTable(candidates, [
    {header: '', get: (c) => (c.rank === 1 ? '✔' : '')},
    {header: 'PROVIDER', get: (c) => c.provider},
    {header: 'REGION', get: (c) => c.zone ?? c.region},
    {header: 'INSTANCE', get: (c) => c.instanceType},
    {header: 'ACCELERATORS', get: accelerators},
    ...(gang ? [{header: 'FABRIC', get: fabric}] : []),
    {header: 'SPOT', get: (c) => (c.spot ? 'spot' : '')},
    {header: '$/H', get: price, align: 'right'},
    {header: 'QUEUE', get: (c) => formatHours(c.estimatedQueueHours), align: 'right'},
    {header: 'RUN', get: (c) => formatHours(c.estimatedRunHours), align: 'right'},
    {header: 'FINISH', get: (c) => formatHours(c.estimatedFinishHours), align: 'right'},
    {header: 'TOTAL', get: (c) => (c.estimatedCostUsd === null ? '?' : formatUsd(c.estimatedCostUsd)), align: 'right'},
  ])
}

function accelerators(c: Candidate): string {
  const per = c.accelerator === null ? 'cpu' : `${c.accelerator.name}×${c.accelerator.count}`
  if (c.nodes <= 1) return per
  // The local provider's gang is processes sharing this machine, not machines: say so.
  return c.provider === 'local' ? `${per} ×${c.nodes} ranks on one machine` : `${per} ×${c.nodes} nodes`
}

/** `efa 3200G`, `ethernet 25G`, `infiniband`; `local` for ranks sharing this machine; `?` when undocumented. */
function fabric(c: Candidate): string {
  if (c.provider === 'local') return 'local'
  const i = c.interconnect
  if (i === undefined || i === null) return '?'
  return i.gbps === null ? i.kind : `${i.kind} ${i.gbps}G`
}

/** USD per hour; `~` marks an estimated price, the original currency is shown beside. */
function price(c: Candidate): string {
  if (c.hourlyPriceUsd === null) return '?'
  const mark = c.priceStatus === 'estimate' ? '~' : ''
  const original =
    c.hourlyPrice && c.hourlyPrice.currency !== 'USD' ? ` (${c.hourlyPrice.currency} ${c.hourlyPrice.amount.toFixed(2)})` : ''
  return `${mark}${c.hourlyPriceUsd.toFixed(c.hourlyPriceUsd < 1 ? 3 : 2)}${original}`
}

export function formatUsd(n: number): string {
  return `$${n < 10 ? n.toFixed(2) : n < 1000 ? n.toFixed(1) : n.toFixed(0)}`
}

/** Hours for people: 0, <1m, 45m, 3.5h, 2.1d; "unknown" for an estimate of a year or more. */
export function formatHours(h: number): string {
  if (!Number.isFinite(h) || h >= 8760) return 'unknown'
  if (h < 1 / 60) return h === 0 ? '0' : '<1m'
  if (h < 1) return `${Math.round(h * 60)}m`
  if (h < 48) return `${h.toFixed(1)}h`
  return `${(h / 24).toFixed(1)}d`
}
