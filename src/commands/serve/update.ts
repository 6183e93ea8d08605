import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {renderService} from '../../cli/render-serve.js'
import {type ServiceSummary, serveUpdate} from '../../services/serve.js'

export default class ServeUpdate extends BaseCommand {
  static override summary = 'Roll a service over to a new file: new replicas start, old ones drain once as many new ones are ready.'
  static override examples = ['<%= config.bin %> serve update model examples/serve-model.yaml']
  static override args = {
    service: Args.string({description: 'service id or name', required: true}),
    file: Args.string({description: 'the new job file (same name, with a service: block)', required: true}),
  }
  static override flags = {
    wait: Flags.boolean({description: 'wait until every replica runs the new version', default: true, allowNo: true}),
  }

  async run(): Promise<ServiceSummary> {
    const {args, flags} = await this.parse(ServeUpdate)
    const result = await serveUpdate(this.ctx, {service: args.service, file: args.file, wait: flags.wait, onProgress: (m) => this.note(m)})
    this.out(renderService(result))
    return result
  }
}
