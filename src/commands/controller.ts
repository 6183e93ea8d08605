import {Args} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {driveJob} from '../controller/controller.js'
import {StoreJournal} from '../controller/journal.js'
import {LeaseHeldError} from '../errors.js'
import {controllerOwner, resultFor} from '../services/launch.js'
import type {Objective} from '../model/job-spec.js'

export default class Controller extends BaseCommand {
  static override hidden = true
  static override summary = 'Drive one job to its end (started in the background by launch and recover).'
  static override examples = ['<%= config.bin %> controller j-3f2a9c01de']
  static override args = {job: Args.string({description: 'job id', required: true})}

  async run(): Promise<unknown> {
    const {args} = await this.parse(Controller)
    const store = await this.ctx.store()
    const job = store.findJob(args.job)
    const options = job.options as {catalogFile?: string; objective?: Objective; retryUntilUpMs?: number}
    const replan = await this.ctx.replanner({catalogFile: options.catalogFile, objective: options.objective})
    const abort = new AbortController()
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.once(sig, () => abort.abort())
    try {
      const final = await driveJob(job.id, {
        journal: new StoreJournal(store),
        providers: await this.ctx.providers(),
        replan,
        home: this.home,
        owner: controllerOwner(),
        retryUntilUpMs: options.retryUntilUpMs,
        pollIntervalMs: 500,
        checkpointSync: await this.ctx.checkpointSync(),
        attemptHolds: await this.ctx.attemptHolds(),
        signal: abort.signal,
        onEvent: (e) => process.stderr.write(`${new Date().toISOString()} ${e.kind} ${e.message}\n`),
      })
      return resultFor(store, final)
    } catch (error) {
      if (error instanceof LeaseHeldError) {
        this.note(error.message)
        return {skipped: true}
      }
      throw error
    }
  }
}
