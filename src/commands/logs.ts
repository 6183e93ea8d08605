import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {logPrinter} from '../cli/render-jobs.js'
import {abortOn} from '../cli/signals.js'
import {type LogLine, logs} from '../services/logs.js'

export default class Logs extends BaseCommand {
  static override summary = "Print a job's output; --follow keeps streaming across restarts until it ends."
  static override examples = [
    '<%= config.bin %> logs hello',
    '<%= config.bin %> logs j-3f2a9c01de --follow',
    '<%= config.bin %> logs train --attempt 2',
    '<%= config.bin %> logs ddp --node 1',
    '<%= config.bin %> logs ddp --all-nodes --follow',
  ]
  static override args = {job: Args.string({description: 'job id or name', required: true})}
  static override flags = {
    follow: Flags.boolean({char: 'f', description: 'keep printing new lines until the job ends'}),
    attempt: Flags.integer({description: 'only this attempt (1-based)', min: 1}),
    node: Flags.integer({description: 'a multi-node job: this rank (0 is the head, the default)', min: 0, exclusive: ['all-nodes']}),
    'all-nodes': Flags.boolean({description: 'a multi-node job: every rank, each line prefixed [rank N]', exclusive: ['node']}),
  }

  async run(): Promise<{lines: LogLine[]}> {
    const {args, flags} = await this.parse(Logs)
    const signal = abortOn(['SIGINT'])
    // Under --json the lines are the result; else they are printed as they come.
    const lines: LogLine[] = []
    const print = this.jsonEnabled() ? (entry: LogLine) => lines.push(entry) : logPrinter()
    const node = flags['all-nodes'] ? ('all' as const) : flags.node
    const note = (message: string) => this.warnLine(message)
    for await (const entry of logs(this.ctx, {job: args.job, follow: flags.follow, attempt: flags.attempt, node, signal, note}))
      print(entry)
    return {lines}
  }
}
