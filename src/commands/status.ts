import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {renderStatus} from '../cli/render-jobs.js'
import {watch} from '../cli/signals.js'
import {type StatusResult, jobStatus} from '../services/status.js'

export default class Status extends BaseCommand {
  static override summary = 'Show jobs, or one job with its attempts and events.'
  static override examples = [
    '<%= config.bin %> status',
    '<%= config.bin %> status llama-finetune',
    '<%= config.bin %> status j-3f2a9c01de --json',
    '<%= config.bin %> status --watch',
    '<%= config.bin %> status --all-users   # the whole team',
  ]
  static override args = {job: Args.string({description: 'job id or name'})}
  static override flags = {
    sweep: Flags.string({description: 'only the jobs of this sweep (id or name; see `skyhop sweeps`)'}),
    limit: Flags.integer({description: 'most jobs to list', default: 50, min: 1}),
    watch: Flags.boolean({description: 'refresh every 2 seconds until interrupted (terminal only)'}),
    'all-users': Flags.boolean({description: "every user's jobs (default: only yours; see `identity` in the config)"}),
  }

  async run(): Promise<StatusResult> {
    const {args, flags} = await this.parse(Status)
    const query = () => jobStatus(this.ctx, {job: args.job, sweep: flags.sweep, limit: flags.limit, allUsers: flags['all-users']})
    if (flags.watch && this.interactive) await watch(async () => renderStatus(await query()), 2000)
    const result = await query()
    this.out(renderStatus(result))
    return result
  }
}
