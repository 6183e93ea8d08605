import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {type JobSummary, preemptJob} from '../services/job-ops.js'
import {UsageError} from '../errors.js'
import {parseDurationSeconds} from '../model/units.js'

export default class Preempt extends BaseCommand {
  static override summary = 'Deliver an interruption notice to a running job, as spot capacity would.'
  static override description = 'Rehearse checkpointing before paying for spot: the job gets its signal and a notice file with the deadline through the same path a real interruption takes, then skyhop recovers it on the next candidate and it resumes from its checkpoint.'
  static override examples = ['<%= config.bin %> preempt train', '<%= config.bin %> preempt j-3f2a9c01de --grace 20s']
  static override args = {job: Args.string({description: 'job id or name', required: true})}
  static override flags = {grace: Flags.string({description: 'notice window before SIGKILL', default: '30s'})}

  async run(): Promise<{job: JobSummary; attempt: string}> {
    const {args, flags} = await this.parse(Preempt)
    let graceSeconds: number
    try {
      graceSeconds = parseDurationSeconds(flags.grace)
    } catch (error) {
      throw new UsageError(`--grace: ${(error as Error).message}`)
    }
    const result = await preemptJob(await this.ctx.store(), await this.ctx.providers(), args.job, {graceSeconds})
    this.out(`notice delivered to job ${result.job.name} (${result.job.id}), attempt ${result.attempt}; ${graceSeconds}s of grace`)
    return result
  }
}
