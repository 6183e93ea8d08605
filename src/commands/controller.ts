import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {controllerLogLine} from '../cli/render-jobs.js'
import {abortOn} from '../cli/signals.js'
import {driveRecordedJob} from '../services/controller.js'

export default class Controller extends BaseCommand {
  static override hidden = true
  static override summary = 'Drive one job to its end (started in the background by launch and recover).'
  static override examples = ['<%= config.bin %> controller j-3f2a9c01de']
  static override flags = {
    claimed: Flags.string({hidden: true, description: 'the owner recover claimed the lease under for this controller'}),
  }
  static override args = {job: Args.string({description: 'job id', required: true})}

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(Controller)
    return driveRecordedJob(this.ctx, {
      job: args.job,
      signal: abortOn(['SIGTERM', 'SIGINT', 'SIGHUP']),
      onEvent: (e) => process.stderr.write(controllerLogLine(e)),
      onSkip: (message) => this.note(message),
      claimed: flags.claimed,
    })
  }
}
