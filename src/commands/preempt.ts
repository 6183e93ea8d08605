import {Args} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {duration} from '../cli/flags.js'
import {renderPreempt} from '../cli/render-jobs.js'
import {type PreemptResult, preempt} from '../services/preempt.js'

export default class Preempt extends BaseCommand {
  static override summary = 'Deliver an interruption notice to a running job, as spot capacity would.'
  static override description =
    'Rehearse checkpointing before paying for spot: the job gets its signal and a notice file with the deadline through the same path a real interruption takes, then skyhop recovers it on the next candidate and it resumes from its checkpoint.'
  static override examples = ['<%= config.bin %> preempt train', '<%= config.bin %> preempt j-3f2a9c01de --grace 20s']
  static override args = {job: Args.string({description: 'job id or name', required: true})}
  static override flags = {
    grace: duration({description: 'notice window before SIGKILL', default: 30, defaultHelp: async () => '30s'}),
  }

  async run(): Promise<PreemptResult> {
    const {args, flags} = await this.parse(Preempt)
    const result = await preempt(this.ctx, {job: args.job, graceSeconds: flags.grace})
    this.out(renderPreempt(result, flags.grace))
    return result
  }
}
