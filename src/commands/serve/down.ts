import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {renderService} from '../../cli/render-serve.js'
import {type ServiceSummary, serveDown} from '../../services/serve.js'

export default class ServeDown extends BaseCommand {
  static override summary = 'Stop a service: its replicas drain (requests in flight finish) and stop, and the load balancer closes.'
  static override examples = ['<%= config.bin %> serve down model']
  static override args = {service: Args.string({description: 'service id or name', required: true})}

  async run(): Promise<ServiceSummary> {
    const {args} = await this.parse(ServeDown)
    const result = await serveDown(this.ctx, {service: args.service, onProgress: (m) => this.note(m)})
    this.out(renderService(result))
    return result
  }
}
