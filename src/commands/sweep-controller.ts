import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {sweepControllerLogLine} from '../cli/render-sweep.js'
import {abortOn} from '../cli/signals.js'
import {driveRecordedSweep} from '../services/sweep-controller.js'

export default class SweepController extends BaseCommand {
  static override hidden = true
  static override summary = 'Drive every job of a sweep to its end (started in the background by sweep and recover).'
  static override examples = ['<%= config.bin %> sweep-controller s-3f2a9c01de']
  static override flags = {
    claimed: Flags.string({hidden: true, description: 'the owner recover claimed the lease under for this controller'}),
  }
  static override args = {sweep: Args.string({description: 'sweep id', required: true})}

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(SweepController)
    return driveRecordedSweep(this.ctx, {
      sweep: args.sweep,
      signal: abortOn(['SIGTERM', 'SIGINT', 'SIGHUP']),
      onEvent: (e) => process.stderr.write(sweepControllerLogLine(e)),
      onSkip: (message) => this.note(message),
      claimed: flags.claimed,
    })
  }
}
