import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {serviceLogLine} from '../cli/render-serve.js'
import {abortOn} from '../cli/signals.js'
import {driveRecordedService} from '../services/serve.js'

export default class ServeController extends BaseCommand {
  static override hidden = true
  static override summary = "Run one service's load balancer and keep its replicas (started in the background by serve up and recover)."
  static override examples = ['<%= config.bin %> serve-controller s-3f2a9c01de']
  static override flags = {
    claimed: Flags.string({hidden: true, description: 'the owner recover claimed the lease under for this controller'}),
  }
  static override args = {service: Args.string({description: 'service id', required: true})}

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(ServeController)
    return driveRecordedService(this.ctx, {
      service: args.service,
      signal: abortOn(['SIGTERM', 'SIGINT', 'SIGHUP']),
      onEvent: (e) => process.stderr.write(serviceLogLine(e)),
      onSkip: (message) => this.note(message),
      claimed: flags.claimed,
    })
  }
}
