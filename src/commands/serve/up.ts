import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {renderService} from '../../cli/render-serve.js'
import {type ServiceSummary, serveUp} from '../../services/serve.js'

export default class ServeUp extends BaseCommand {
  static override summary = 'Serve a job file with a service: block: replicas behind a load balancer, kept at the target.'
  static override description =
    'Records the service and starts its controller in the background, which runs the load balancer and the replicas (docs/serve.md); waits until the endpoint answers with a ready replica and prints it.'
  static override examples = [
    '<%= config.bin %> serve up examples/serve-model.yaml',
    '<%= config.bin %> serve up llm.yaml --no-wait --json',
  ]
  static override args = {file: Args.string({description: 'job file with a service: block', required: true})}
  static override flags = {
    wait: Flags.boolean({description: 'wait for the first ready replica', default: true, allowNo: true}),
  }

  async run(): Promise<ServiceSummary> {
    const {args, flags} = await this.parse(ServeUp)
    const result = await serveUp(this.ctx, {file: args.file, wait: flags.wait, onProgress: (m) => this.note(m)})
    this.out(renderService(result))
    return result
  }
}
