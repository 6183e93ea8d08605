import {Args} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {controllerOwner} from '../services/launch.js'
import {type StoredSweepOptions, SweepLeaseHeldError, runSweep, sweepResult} from '../services/sweep.js'

export default class SweepController extends BaseCommand {
  static override hidden = true
  static override summary = 'Drive every job of a sweep to its end (started in the background by sweep and recover).'
  static override examples = ['<%= config.bin %> sweep-controller s-3f2a9c01de']
  static override args = {sweep: Args.string({description: 'sweep id', required: true})}

  async run(): Promise<unknown> {
    const {args} = await this.parse(SweepController)
    const store = await this.ctx.store()
    const sweep = store.findSweep(args.sweep)
    const options = sweep.options as unknown as StoredSweepOptions
    const inputs = await this.ctx.planningInputs({catalogFile: options.catalogFile, objective: options.objective})
    const abort = new AbortController()
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.once(sig, () => abort.abort())
    try {
      const run = await runSweep(sweep.id, {
        store,
        providers: await this.ctx.providers(),
        inputs,
        home: this.home,
        owner: controllerOwner(),
        signal: abort.signal,
        env: process.env,
        checkpointSync: await this.ctx.checkpointSync(),
        attemptHolds: await this.ctx.attemptHolds(),
        onEvent: (e) => process.stderr.write(`${e.ts} ${e.event} ${e.message}\n`),
      })
      return {...sweepResult(store, sweep.id, {now: new Date(), fx: inputs.fx}), stats: run.stats}
    } catch (error) {
      if (error instanceof SweepLeaseHeldError) {
        this.note(error.message)
        return {skipped: true}
      }
      throw error
    }
  }
}
