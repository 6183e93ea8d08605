import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {type CancelResult, cancelJob} from '../services/job-ops.js'
import {UsageError} from '../errors.js'
import {parseDurationSeconds} from '../model/units.js'

export default class Cancel extends BaseCommand {
  static override summary = 'Stop a job: its signal now, SIGKILL when the grace runs out.'
  static override description = 'The job is marked cancelled first, so no controller relaunches it; then each running attempt gets the job\'s signal (SIGTERM by default) and the grace period to exit before SIGKILL.'
  static override examples = ['<%= config.bin %> cancel hello', '<%= config.bin %> cancel j-3f2a9c01de --grace 2m --json']
  static override args = {job: Args.string({description: 'job id or name', required: true})}
  static override flags = {grace: Flags.string({description: 'time the job gets to exit after the signal', default: '30s'})}

  async run(): Promise<CancelResult> {
    const {args, flags} = await this.parse(Cancel)
    let graceSeconds: number
    try {
      graceSeconds = parseDurationSeconds(flags.grace)
    } catch (error) {
      throw new UsageError(`--grace: ${(error as Error).message}`)
    }
    const result = await cancelJob(await this.ctx.store(), await this.ctx.providers(), args.job, {graceSeconds})
    this.out(result.alreadyEnded ? `job ${result.job.name} (${result.job.id}) had already ended: ${result.job.state}` : `cancelled job ${result.job.name} (${result.job.id})`)
    return result
  }
}
