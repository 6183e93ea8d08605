import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {renderJobDetail, renderJobs} from '../cli/render-jobs.js'
import {type JobDetail, type JobSummary, jobDetail, listJobs} from '../services/job-ops.js'

export default class Status extends BaseCommand {
  static override summary = 'Show jobs, or one job with its attempts and events.'
  static override examples = [
    '<%= config.bin %> status',
    '<%= config.bin %> status llama-finetune',
    '<%= config.bin %> status j-3f2a9c01de --json',
    '<%= config.bin %> status --watch',
  ]
  static override args = {job: Args.string({description: 'job id or name'})}
  static override flags = {
    sweep: Flags.string({description: 'only the jobs of this sweep (id or name; see `skyhop sweeps`)'}),
    limit: Flags.integer({description: 'most jobs to list', default: 50, min: 1}),
    watch: Flags.boolean({description: 'refresh every 2 seconds until interrupted (terminal only)'}),
  }

  async run(): Promise<{jobs: JobSummary[]} | {job: JobDetail}> {
    const {args, flags} = await this.parse(Status)
    const store = await this.ctx.store()
    // A sweep by id or name; an unknown one is an error, not an empty list.
    const sweepId = flags.sweep === undefined ? undefined : store.findSweep(flags.sweep).id
    const once = (): {jobs: JobSummary[]} | {job: JobDetail} =>
      args.job ? {job: jobDetail(store, args.job)} : {jobs: listJobs(store, {sweepId, limit: flags.limit})}
    const render = (r: ReturnType<typeof once>) => ('job' in r ? renderJobDetail(r.job) : renderJobs(r.jobs))
    if (flags.watch && this.interactive) {
      for (;;) {
        process.stdout.write('\u001B[2J\u001B[H' + render(once()) + '\n')
        await new Promise((r) => setTimeout(r, 2000))
      }
    }
    const result = once()
    this.out(render(result))
    return result
  }
}
