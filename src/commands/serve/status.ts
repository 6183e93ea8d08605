import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {renderServices} from '../../cli/render-serve.js'
import {type ServiceSummary, serveStatus} from '../../services/serve.js'

export default class ServeStatus extends BaseCommand {
  static override summary = "Show services: each replica's place, spot or not, state, requests/s and latency, and the cost per hour."
  static override examples = ['<%= config.bin %> serve status', '<%= config.bin %> serve status model --json']
  static override args = {service: Args.string({description: 'service id or name (default: every running service)'})}

  async run(): Promise<{services: ServiceSummary[]}> {
    const {args} = await this.parse(ServeStatus)
    const result = await serveStatus(this.ctx, {service: args.service})
    this.out(renderServices(result.services))
    return result
  }
}
