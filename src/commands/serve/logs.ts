import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {serveLogPrinter} from '../../cli/render-serve.js'
import {abortOn} from '../../cli/signals.js'
import {type ServeLogLine, serveLogs} from '../../services/serve.js'

export default class ServeLogs extends BaseCommand {
  static override summary = "Print a replica's output (the newest live replica unless --replica N)."
  static override examples = ['<%= config.bin %> serve logs model', '<%= config.bin %> serve logs model --replica 2 --follow']
  static override args = {service: Args.string({description: 'service id or name', required: true})}
  static override flags = {
    replica: Flags.integer({description: 'the replica numbered N (see serve status)', min: 1}),
    follow: Flags.boolean({char: 'f', description: 'keep printing new lines until the replica ends'}),
  }

  async run(): Promise<{lines: ServeLogLine[]}> {
    const {args, flags} = await this.parse(ServeLogs)
    const signal = abortOn(['SIGINT'])
    const lines: ServeLogLine[] = []
    const print = this.jsonEnabled() ? (entry: ServeLogLine) => lines.push(entry) : serveLogPrinter()
    for await (const entry of serveLogs(this.ctx, {service: args.service, replica: flags.replica, follow: flags.follow, signal}))
      print(entry)
    return {lines}
  }
}
