import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {duration} from '../../cli/flags.js'
import {type ServePreemptResult, servePreempt} from '../../services/serve.js'

export default class ServePreempt extends BaseCommand {
  static override summary = 'Deliver an interruption notice to one ready replica of a service, as spot capacity would.'
  static override description =
    'Rehearse a preemption: the replica gets the notice through the same path a real one takes; the controller stops routing to it at once, launches its replacement, and lets the requests in flight finish within the grace.'
  static override examples = ['<%= config.bin %> serve preempt model', '<%= config.bin %> serve preempt model --replica 2 --grace 20s']
  static override args = {service: Args.string({description: 'service id or name', required: true})}
  static override flags = {
    replica: Flags.integer({description: 'the replica numbered N (default: the first ready one)', min: 1}),
    grace: duration({description: 'notice window before SIGKILL', default: 30, defaultHelp: async () => '30s'}),
  }

  async run(): Promise<ServePreemptResult> {
    const {args, flags} = await this.parse(ServePreempt)
    const result = await servePreempt(this.ctx, {service: args.service, replica: flags.replica, graceSeconds: flags.grace})
    this.out(`notice delivered to replica ${result.replica} of service ${result.service}; ${result.graceSeconds}s of grace`)
    return result
  }
}
