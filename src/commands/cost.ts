import {Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {since} from '../cli/flags.js'
import {renderCostReport} from '../cli/render-sweep.js'
import {COST_GROUPS, type CostGroupBy, type CostReport, cost} from '../services/cost.js'

export default class Cost extends BaseCommand {
  static override summary = 'What your jobs cost, what on-demand would have cost, and what was paid for while nothing useful ran.'
  static override description = `Every attempt is billed at the price it was launched at (never today's catalog), per its provider's billing rules (granularity, minimums, when billing starts), in its own currency and converted to USD. Waste is time paid for while nothing useful ran: provisioning (launch to start), idle after the job ended until the instance was released, work lost to a preemption since the last checkpoint, and billing minimums.`
  static override examples = [
    '<%= config.bin %> cost',
    '<%= config.bin %> cost --since 7d --by provider',
    '<%= config.bin %> cost --by sweep --json',
    '<%= config.bin %> cost --since 2026-11-01',
  ]
  static override flags = {
    since: since({
      description: 'attempts requested since: a duration back from now (30d, 12h), an ISO date, or "all"',
      default: {seconds: 30 * 86_400},
      defaultHelp: async () => '30d',
    }),
    by: Flags.string({description: 'group by', options: [...COST_GROUPS], default: 'job'}),
  }

  async run(): Promise<CostReport> {
    const {flags} = await this.parse(Cost)
    const report = await cost(this.ctx, {since: flags.since, by: flags.by as CostGroupBy})
    this.out(renderCostReport(report))
    return report
  }
}
