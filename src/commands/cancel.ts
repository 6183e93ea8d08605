import {Args} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {duration} from '../cli/flags.js'
import {renderCancel} from '../cli/render-jobs.js'
import {type CancelResult, cancel} from '../services/cancel.js'

export default class Cancel extends BaseCommand {
  static override summary = 'Stop a job: its signal now, SIGKILL when the grace runs out.'
  static override description =
    "The job is marked cancelled first, so no controller relaunches it; then each running attempt gets the job's signal (SIGTERM by default) and the grace period to exit before SIGKILL."
  static override examples = ['<%= config.bin %> cancel hello', '<%= config.bin %> cancel j-3f2a9c01de --grace 2m --json']
  static override args = {job: Args.string({description: 'job id or name', required: true})}
  static override flags = {
    grace: duration({description: 'time the job gets to exit after the signal', default: 30, defaultHelp: async () => '30s'}),
  }

  async run(): Promise<CancelResult> {
    const {args, flags} = await this.parse(Cancel)
    const result = await cancel(this.ctx, {job: args.job, graceSeconds: flags.grace})
    this.out(renderCancel(result))
    return result
  }
}
