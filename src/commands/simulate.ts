import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {renderTable} from '../cli/table.js'
import {UsageError} from '../errors.js'
import {POLICIES} from '../simulator/policies.js'
import {CONTROLLER_POLICY, DEFAULT_SEEDS, type PolicyResult, type SimulateResult, simulateFileAsync} from '../simulator/run.js'
import {UnitError, parseDurationSeconds} from '../model/units.js'

export default class Simulate extends BaseCommand {
  static override summary = 'Replay spot availability traces: what each spot policy would have cost, and whether it met the deadline.'
  static override description = [
    'Replays the job (its work, deadline and accelerators) against spot availability traces (the Can\'t Be Late format: one JSON file per zone, named like us-west-2a_v100_1.json) under each policy, from --seeds random start offsets, on a simulated clock: a 45-day trace replays in well under a second.',
    'Policies: ' + POLICIES.map((p) => `${p.name} (${p.summary})`).join('; ') + '.',
    `With --controller (or --policy ${CONTROLLER_POLICY}) each start is also replayed through skyhop's real controller and planner, on a simulated provider and clock: slower (a store per run), but it is the code that runs your jobs, not a mirror of it.`,
    'Cost is relative to on-demand only on the same start; spot and on-demand hours are instance hours paid for. Prices come from --spot-price/--on-demand-price (USD per node-hour; one number for every market, or NAME=PRICE per accelerator) or else from the catalog.',
  ].join('\n')
  static override examples = [
    '<%= config.bin %> simulate job.yaml --traces ../shared/data/traces/availability/1-node/aws-02-15-2023 --spot-price 1 --on-demand-price 3',
    '<%= config.bin %> simulate job.yaml --traces traces/ --policy greedy --policy uniform-progress --policy skyhop --seeds 300 --changeover 0.2h',
    '<%= config.bin %> simulate job.yaml --traces traces/ --zone us-west-2a --spot-price V100=0.918 --spot-price K80=0.27 --json',
  ]
  static override args = {
    file: Args.string({description: 'job file (YAML or JSON) with work, deadline and accelerators', required: true}),
  }
  static override flags = {
    traces: Flags.string({description: 'folder (searched recursively) or file of availability traces', required: true}),
    policy: Flags.string({description: `policy to replay (repeatable; default: all): ${[...POLICIES.map((p) => p.name), CONTROLLER_POLICY].join(', ')}`, multiple: true}),
    controller: Flags.boolean({description: `also replay the real controller and planner (policy ${CONTROLLER_POLICY})`, default: false}),
    seeds: Flags.integer({description: 'random start offsets in the traces, one run per policy each', default: DEFAULT_SEEDS, min: 1}),
    changeover: Flags.string({description: 'changeover delay d charged on every start or switch: 0.2h, 12m, 0', default: '0.2h'}),
    notice: Flags.string({description: 'preemption notice: 2m, 30s, 0 [default: the provider\'s, AWS 2m, GCP 30s]'}),
    'spot-price': Flags.string({description: 'spot USD per node-hour: 0.9 for every market, or V100=0.9 (repeatable)', multiple: true}),
    'on-demand-price': Flags.string({description: 'on-demand USD per node-hour: 3.06, or V100=3.06 (repeatable)', multiple: true}),
    zone: Flags.string({description: 'only traces of this zone (repeatable)', multiple: true}),
    catalog: Flags.string({description: 'take prices from exactly this catalog file of offers', env: 'SKYHOP_CATALOG'}),
  }

  async run(): Promise<SimulateResult> {
    const {args, flags} = await this.parse(Simulate)
    const result = await simulateFileAsync({
      controller: flags.controller,
      file: args.file,
      traces: flags.traces,
      home: this.home,
      policies: flags.policy,
      seeds: flags.seeds,
      changeoverHours: durationHours('--changeover', flags.changeover),
      noticeSeconds: flags.notice === undefined ? undefined : durationHours('--notice', flags.notice) * 3600,
      spotPrice: flags['spot-price'],
      onDemandPrice: flags['on-demand-price'],
      zones: flags.zone,
      catalogFile: flags.catalog,
    })
    this.out(renderSimulation(result))
    return result
  }
}

/** A duration flag in hours; `0` is allowed (no changeover, no notice). */
function durationHours(flag: string, text: string): number {
  if (/^\s*0+(\.0*)?\s*[a-z]*\s*$/i.test(text)) return 0
  try {
    return parseDurationSeconds(text) / 3600
  } catch (error) {
    if (error instanceof UnitError) throw new UsageError(`${flag}: ${error.message}`, {code: 'BAD_DURATION'})
    throw error
  }
}

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
  lines.push('', 'COST/OD: mean cost / on-demand only on the same start. SPOT H, OD H: instance hours paid, per run. MIN SLACK: the least time to spare at the deadline.')
  if (unsafe.length > 0) lines.push(`MISSED DEADLINES by a safe policy: ${unsafe.map((p) => p.name).join(', ')} — this is a bug, please report it.`)
  if (r.traces.skipped.length > 0) lines.push(`${r.traces.skipped.length} trace(s) skipped: ${r.traces.skipped.map((s) => `${s.zone} ${s.label} (${s.reason})`).join('; ')}`)
  return lines.join('\n')
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(2)
}
