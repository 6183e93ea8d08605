import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import type {Candidate} from '../planner/types.js'
import {type PlanResult, planFile} from '../services/plan.js'
import type {Objective} from '../spec/job-spec.js'

export default class Plan extends BaseCommand {
  static override summary = 'Rank where a job can run: price, queue wait and work done, under its deadline and budget.'
  static override description = [
    'Compares every offer the job can use by the work it gets done (run time scaled by accelerator throughput), the expected queue wait, spot preemption overhead and data egress, and ranks them by the objective.',
    'By default only providers that are enabled here (credentials found, Slurm on PATH, and this machine) are candidates; --all-providers plans across the whole catalog.',
    'Prices marked ~ are estimates, ? unknown. Exits 5 when no offer is feasible, listing why.',
  ].join('\n')
  static override examples = [
    '<%= config.bin %> plan examples/train-gpu.yaml --all-providers',
    '<%= config.bin %> plan examples/train-gpu.yaml --objective time --top 5 --explain',
    '<%= config.bin %> plan job.yaml --catalog my-offers.yaml --json',
  ]
  static override args = {
    file: Args.string({description: 'job file, YAML or JSON', required: true}),
  }
  static override flags = {
    objective: Flags.string({description: 'what to optimize (default: the job\'s own)', options: ['cost', 'time', 'balanced']}),
    catalog: Flags.string({description: 'plan against exactly this catalog file of offers', env: 'SKYHOP_CATALOG'}),
    top: Flags.integer({description: 'how many candidates to show', default: 10, min: 1}),
    explain: Flags.boolean({description: 'list why each excluded group of offers was excluded'}),
    'all-providers': Flags.boolean({description: 'plan across every provider in the catalog, not only enabled ones'}),
  }

  async run(): Promise<PlanResult> {
    const {args, flags} = await this.parse(Plan)
    const planning = await this.ctx.planning({
      catalogFile: flags.catalog,
      objective: flags.objective as Objective | undefined,
      top: flags.top,
      allProviders: flags['all-providers'],
    })
    const result = await planFile({file: args.file, planning})
    this.out(renderPlan(result, flags.explain))
    return result
  }
}

/** The human view: one table of candidates, then (with --explain) the exclusions and assumptions. */
export function renderPlan(result: PlanResult, explain: boolean): string {
  const header = ['', 'PROVIDER', 'REGION', 'INSTANCE', 'ACCELERATORS', 'SPOT', '$/H', 'QUEUE', 'RUN', 'FINISH', 'TOTAL']
  const rows = result.candidates.map((c) => [
    c.rank === 1 ? '✔' : '',
    c.provider,
    c.zone ?? c.region,
    c.instanceType,
    accelerators(c),
    c.spot ? 'spot' : '',
    price(c),
    hours(c.estimatedQueueHours),
    hours(c.estimatedRunHours),
    hours(c.estimatedFinishHours),
    c.estimatedCostUsd === null ? '?' : usd(c.estimatedCostUsd),
  ])
  const lines = [
    `Plan for ${result.job.name} (objective: ${result.objective}; ${result.feasibleCount} feasible of ${result.offersConsidered} offers${result.enabledProviders ? `; providers: ${result.enabledProviders.join(', ')}` : ''})`,
    '',
    ...table(header, rows),
  ]
  const chosen = result.chosen
  if (chosen) {
    lines.push('', `Chosen: ${chosen.provider} ${chosen.zone ?? chosen.region} ${chosen.instanceType}${chosen.spot ? ' (spot)' : ''}, expected ${usd(chosen.estimatedCostUsd ?? 0)} and done by ${chosen.estimatedFinishAt}.`)
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
  if (result.assumptions.length > 0) {
    lines.push('', 'Assumptions:')
    for (const a of result.assumptions) lines.push(`  - ${a}`)
  }
  return lines.join('\n')
}

function accelerators(c: Candidate): string {
  const per = c.accelerator === null ? 'cpu' : `${c.accelerator.name}×${c.accelerator.count}`
  return c.nodes > 1 ? `${per} ×${c.nodes} nodes` : per
}

function price(c: Candidate): string {
  if (c.hourlyPriceUsd === null) return '?'
  const mark = c.priceStatus === 'estimate' ? '~' : ''
  const original = c.hourlyPrice && c.hourlyPrice.currency !== 'USD' ? ` (${c.hourlyPrice.currency} ${c.hourlyPrice.amount.toFixed(2)})` : ''
  return `${mark}${c.hourlyPriceUsd.toFixed(c.hourlyPriceUsd < 1 ? 3 : 2)}${original}`
}

function usd(n: number): string {
  return `$${n < 10 ? n.toFixed(2) : n < 1000 ? n.toFixed(1) : n.toFixed(0)}`
}

function hours(h: number): string {
  if (h < 1 / 60) return h === 0 ? '0' : '<1m'
  if (h < 1) return `${Math.round(h * 60)}m`
  if (h < 48) return `${h.toFixed(1)}h`
  return `${(h / 24).toFixed(1)}d`
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => [...r[i]].length)))
  const numeric = new Set([6, 7, 8, 9, 10])
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (numeric.has(i) ? cell.padStart(widths[i]) : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd()
  return [line(header), ...rows.map(line)]
}
