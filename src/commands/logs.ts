import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {jobLogs} from '../services/job-ops.js'

export default class Logs extends BaseCommand {
  static override summary = "Print a job's output; --follow keeps streaming across restarts until it ends."
  static override examples = ['<%= config.bin %> logs hello', '<%= config.bin %> logs j-3f2a9c01de --follow', '<%= config.bin %> logs train --attempt 2']
  static override args = {job: Args.string({description: 'job id or name', required: true})}
  static override flags = {
    follow: Flags.boolean({char: 'f', description: 'keep printing new lines until the job ends'}),
    attempt: Flags.integer({description: 'only this attempt (1-based)', min: 1}),
  }

  async run(): Promise<{lines: Array<{attempt: number; line: string}>}> {
    const {args, flags} = await this.parse(Logs)
    const store = await this.ctx.store()
    const providers = await this.ctx.providers()
    const abort = new AbortController()
    process.once('SIGINT', () => abort.abort())
    const lines: Array<{attempt: number; line: string}> = []
    let lastAttempt = 0
    for await (const entry of jobLogs(store, providers, args.job, {follow: flags.follow, attempt: flags.attempt, signal: abort.signal})) {
      if (this.jsonEnabled()) {
        lines.push(entry)
        continue
      }
      if (entry.attempt !== lastAttempt && lastAttempt !== 0) process.stderr.write(`--- attempt ${entry.attempt} ---\n`)
      lastAttempt = entry.attempt
      process.stdout.write(entry.line.endsWith('\n') ? entry.line : entry.line + '\n')
    }
    return {lines}
  }
}
