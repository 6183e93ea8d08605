import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {duration, provider} from '../cli/flags.js'
import {orphanTable, renderDown} from '../cli/render-down.js'
import {type DownResult, type OrphanInstance, downExitCode, takeDown} from '../services/down.js'

export default class Down extends BaseCommand {
  static override confirmation = {hint: 'Pass --yes to terminate them, or --dry-run to only list them.'}
  static override summary = "Release cloud resources: a job's, or every orphan that no live attempt owns."
  static override description = `skyhop down JOB cancels the job if it still runs (with --grace), releases whatever its attempts still hold, and terminates any instance left with the job's tag.

skyhop down --orphans lists every instance carrying skyhop's tags, on each enabled provider that can list them, that no live attempt in this skyhop home owns (its attempt ended without a release, or this home has never heard of it) and terminates them after a confirmation (--yes answers it; without a terminal --yes is required). It looks in the regions this home has launched in, the provider's default region, and any --region. Exits 4 when a provider could not be scanned or an instance could not be terminated.`
  static override examples = [
    '<%= config.bin %> down --orphans --dry-run',
    '<%= config.bin %> down --orphans --provider aws --region us-west-2 --yes --json',
    '<%= config.bin %> down train --grace 1m',
  ]
  static override args = {job: Args.string({description: 'job id or name to take down'})}
  static override flags = {
    orphans: Flags.boolean({description: 'every tagged instance no live attempt owns'}),
    provider: provider({description: 'only this provider'}),
    region: Flags.string({description: 'also look in this region (repeatable)', multiple: true}),
    yes: Flags.boolean({char: 'y', description: 'terminate without asking'}),
    'dry-run': Flags.boolean({description: 'list orphans, terminate nothing', dependsOn: ['orphans']}),
    grace: duration({description: 'time a running job gets to exit after the signal', default: 30, defaultHelp: async () => '30s'}),
  }

  async run(): Promise<DownResult> {
    const {args, flags} = await this.parse(Down)
    const result = await takeDown(this.ctx, {
      job: args.job,
      orphans: flags.orphans,
      provider: flags.provider,
      regions: flags.region,
      graceSeconds: flags.grace,
      dryRun: Boolean(flags['dry-run']),
      confirm: (orphans) => this.confirmTermination(orphans, flags.yes),
    })
    this.out(renderDown(result))
    this.exitWith(downExitCode(result))
    return result
  }

  private async confirmTermination(orphans: readonly OrphanInstance[], yes: boolean): Promise<boolean> {
    const listed = orphans.map(({handle: _h, ...o}) => o)
    return this.confirm(yes, `Terminate ${orphans.length} orphaned instance(s)?`, {
      default: false,
      preface: () => orphanTable(listed),
      refusal: {message: `not terminating ${orphans.length} instance(s) without a confirmation`, details: {orphans: listed}},
    })
  }
}
