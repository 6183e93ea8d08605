import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {renderSweeps} from '../cli/render-sweep.js'
import {type SweepsResult, sweeps} from '../services/sweeps.js'

export default class Sweeps extends BaseCommand {
  static override summary = 'List sweeps, or show one sweep with a row per job.'
  static override description =
    'Without an argument, lists sweeps newest first with their job counts and cost. With a sweep id or name, shows the results table: job, values, where it ran, attempts, duration, cost, exit code. `skyhop status --sweep ID` lists the same jobs as status does.'
  static override examples = [
    '<%= config.bin %> sweeps',
    '<%= config.bin %> sweeps s-3f2a9c01de',
    '<%= config.bin %> sweeps train-sweep --json',
  ]
  static override args = {sweep: Args.string({description: 'sweep id or name'})}
  static override flags = {limit: Flags.integer({description: 'most sweeps to list', default: 50, min: 1})}

  async run(): Promise<SweepsResult> {
    const {args, flags} = await this.parse(Sweeps)
    const result = await sweeps(this.ctx, {sweep: args.sweep, limit: flags.limit})
    this.out(renderSweeps(result))
    return result
  }
}
