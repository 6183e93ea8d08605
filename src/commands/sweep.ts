import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {dimensions, matrixDimension, money} from '../cli/flags.js'
import {renderSweepPlan, renderSweepStarted} from '../cli/render-sweep.js'
import {sweepProgress} from '../cli/sweep-view.js'
import {type SweepOutput, prepareSweep, startSweep} from '../services/sweep.js'
import type {Objective} from '../model/job-spec.js'

export default class Sweep extends BaseCommand {
  static override confirmation = {
    hint: 'Pass --yes to start the sweep without asking.',
    declined: {message: 'sweep declined', hint: 'Nothing was started.'},
  }
  static override summary = 'Run one job per combination of its matrix: planned together, at most N at once, within a budget.'
  static override description = `The job file's \`matrix\` (and --set KEY=V1,V2 flags, which replace or extend it) expands into one job per combination, each with its values as environment variables and in its name. All jobs are planned together, so capacity and quotas hold for the sweep as a whole. One controller drives the sweep: at most --max-parallel jobs at once, backend polls batched, each job failing over and recovering like a single launch, and no job started whose expected cost would push the sweep past --budget (those end CANCELLED with reason "budget").

With --wait the sweep is driven from this process: a live view on a terminal, and with --json one JSON object per event per line (JSON Lines) on stdout, the last line being the usual {"ok":…,"result":…} envelope. It exits 0 when every job succeeded, else with the exit code of the first job (in sweep order) that did not: its own, or 4/5/6 as for launch (6 for a job stopped by the budget). Without --wait a background controller drives the sweep; follow it with \`skyhop sweeps ID\`.`
  static override examples = [
    '<%= config.bin %> sweep train.yaml --set lr=1e-4,3e-4 --set seed=1,2,3 -y --wait',
    '<%= config.bin %> sweep train.yaml -y --max-parallel 8 --budget 200USD',
    '<%= config.bin %> sweep train.yaml -y --wait --json > events.jsonl   # CI: JSON Lines, the last line is the result',
  ]
  static override args = {file: Args.string({description: 'job file (YAML or JSON) with a matrix, or use --set', required: true})}
  static override flags = {
    yes: Flags.boolean({char: 'y', description: 'do not ask for confirmation'}),
    wait: Flags.boolean({description: 'drive the sweep from this process and exit with its exit code'}),
    'max-parallel': Flags.integer({description: 'most jobs in flight at once', default: 4, min: 1}),
    budget: money({description: 'most the whole sweep may cost, e.g. 200USD or 1500CNY', code: 'BAD_BUDGET'}),
    objective: Flags.string({description: "override the job's objective", options: ['cost', 'time', 'balanced']}),
    set: matrixDimension({description: "a matrix dimension, KEY=V1,V2,… (repeatable; replaces the file's KEY)"}),
    catalog: Flags.string({description: "use exactly this catalog file's offers", env: 'SKYHOP_CATALOG'}),
  }

  /** JSON Lines under --wait: the envelope must be one line too, the last one. */
  private jsonLines = false

  override logJson(json: unknown): void {
    if (this.jsonLines) process.stdout.write(JSON.stringify(json) + '\n')
    else super.logJson(json)
  }

  async run(): Promise<SweepOutput> {
    const {args, flags} = await this.parse(Sweep)
    this.jsonLines = flags.wait && this.jsonEnabled()
    const prepared = await prepareSweep(this.ctx, {
      file: args.file,
      sets: dimensions(flags.set),
      budget: flags.budget ?? null,
      objective: flags.objective as Objective | undefined,
      catalogFile: flags.catalog,
    })
    const {planned} = prepared
    this.note(renderSweepPlan(planned))
    await this.confirm(flags.yes, `Start ${planned.combinations.length} jobs of sweep "${planned.name}"?`)
    const total = planned.combinations.length
    const progress = flags.wait ? sweepProgress({json: this.jsonEnabled(), decorated: this.decorated, total}) : undefined
    let result: SweepOutput
    try {
      result = await startSweep(this.ctx, prepared, {maxParallel: flags['max-parallel'], wait: flags.wait, onEvent: progress?.onEvent})
    } finally {
      progress?.stop()
    }
    this.out(renderSweepStarted(result))
    this.exitWith(result.detached ? null : result.exitCode)
    return result
  }
}
