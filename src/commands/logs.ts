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
  ]
  static override args = {job: Args.string({description: 'job id or name', required: true})}
  static override flags = {
    follow: Flags.boolean({char: 'f', description: 'keep printing new lines until the job ends'}),
    attempt: Flags.integer({description: 'only this attempt (1-based)', min: 1}),
  }

  async run(): Promise<{lines: LogLine[]}> {
    const {args, flags} = await this.parse(Logs)
    const signal = abortOn(['SIGINT'])
    // Under --json the lines are the result; else they are printed as they come.
    const lines: LogLine[] = []
    const print = this.jsonEnabled() ? (entry: LogLine) => lines.push(entry) : logPrinter()
    for await (const entry of logs(this.ctx, {job: args.job, follow: flags.follow, attempt: flags.attempt, signal})) print(entry)
    return {lines}
  }
}
