import {Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {renderCostReport} from '../cli/render-sweep.js'
import {type CostGroupBy, type CostReport, costFromStore} from '../controller/cost.js'
import {UsageError} from '../errors.js'
import {parseDurationSeconds} from '../model/units.js'

export default class Cost extends BaseCommand {
  static override summary = 'What your jobs cost, what on-demand would have cost, and what was paid for while nothing useful ran.'
  static override description = `Every attempt is billed at the price it was launched at (never today's catalog), per its provider's billing rules (granularity, minimums, when billing starts), in its own currency and converted to USD. Waste is time paid for while nothing useful ran: provisioning (launch to start), idle after the job ended until the instance was released, work lost to a preemption since the last checkpoint, and billing minimums.`
  static override examples = ['<%= config.bin %> cost', '<%= config.bin %> cost --since 7d --by provider', '<%= config.bin %> cost --by sweep --json', '<%= config.bin %> cost --since 2026-11-01']
  static override flags = {
    since: Flags.string({description: 'attempts requested since: a duration back from now (30d, 12h), an ISO date, or "all"', default: '30d'}),
    by: Flags.string({description: 'group by', options: ['job', 'provider', 'sweep'], default: 'job'}),
  }

  async run(): Promise<CostReport> {
    const {flags} = await this.parse(Cost)
    const now = new Date()
    const since = sinceIso(flags.since, now)
    const report = costFromStore(await this.ctx.store(), {now, since, by: flags.by as CostGroupBy, fx: await this.ctx.fx()})
    this.out(renderCostReport(report))
    return report
  }
}

function sinceIso(text: string, now: Date): string | null {
  if (text === 'all') return null
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const t = Date.parse(text)
    if (Number.isNaN(t)) throw new UsageError(`--since "${text}" is not a date`, {code: 'BAD_SINCE'})
    return new Date(t).toISOString()
  }
  try {
    return new Date(now.getTime() - parseDurationSeconds(text) * 1000).toISOString()
  } catch (error) {
    throw new UsageError(`--since: ${(error as Error).message}`, {code: 'BAD_SINCE', hint: 'Use a duration like 30d or 12h, an ISO date, or "all".'})
  }
}
