import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {renderPlan} from '../cli/render-plan.js'
import {type PlanResult, plan} from '../services/plan.js'
import type {Objective} from '../model/job-spec.js'

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
    '<%= config.bin %> plan job.yaml --right-size',
  ]
  static override args = {
    file: Args.string({description: 'job file, YAML or JSON', required: true}),
  }
  static override flags = {
    objective: Flags.string({description: "what to optimize (default: the job's own)", options: ['cost', 'time', 'balanced']}),
    catalog: Flags.string({description: 'plan against exactly this catalog file of offers', env: 'SKYHOP_CATALOG'}),
    top: Flags.integer({description: 'how many candidates to show', default: 10, min: 1}),
    explain: Flags.boolean({description: 'list why each excluded group of offers was excluded'}),
    'all-providers': Flags.boolean({description: 'plan across every provider in the catalog, not only enabled ones'}),
    'right-size': Flags.boolean({
      description:
        "plan the smaller request the job's earlier runs justify (their accelerators mostly idle, memory mostly unused, or CPUs saturated)",
    }),
  }

  async run(): Promise<PlanResult> {
    const {args, flags} = await this.parse(Plan)
    const result = await plan(this.ctx, {
      file: args.file,
      catalogFile: flags.catalog,
      objective: flags.objective as Objective | undefined,
      top: flags.top,
      allProviders: flags['all-providers'],
      explain: flags.explain,
      rightSize: flags['right-size'],
    })
    this.out(renderPlan(result, flags.explain))
    return result
  }
}
