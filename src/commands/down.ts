import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {renderTable} from '../cli/table.js'
import {type DownResult, type OrphanInstance, down} from '../services/orphans.js'
import {InterruptedError, UsageError} from '../errors.js'
import {parseDurationSeconds} from '../model/units.js'

export default class Down extends BaseCommand {
  static override summary = 'Release cloud resources: a job\'s, or every orphan that no live attempt owns.'
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
    provider: Flags.string({description: 'only this provider'}),
    region: Flags.string({description: 'also look in this region (repeatable)', multiple: true}),
    yes: Flags.boolean({char: 'y', description: 'terminate without asking'}),
    'dry-run': Flags.boolean({description: 'list orphans, terminate nothing', dependsOn: ['orphans']}),
    grace: Flags.string({description: 'time a running job gets to exit after the signal', default: '30s'}),
  }

  async run(): Promise<DownResult> {
    const {args, flags} = await this.parse(Down)
    if (Boolean(args.job) === Boolean(flags.orphans)) {
      throw new UsageError(args.job ? 'give a job or --orphans, not both' : 'name a job to take down, or pass --orphans', {hint: 'See `skyhop down --help`.'})
    }
    let graceSeconds: number
    try {
      graceSeconds = parseDurationSeconds(flags.grace)
    } catch (error) {
      throw new UsageError(`--grace: ${(error as Error).message}`)
    }
    const providers = await this.ctx.providers()
    if (flags.provider && !providers.has(flags.provider)) {
      const {unknownProviderError} = await import('../providers/registry.js')
      throw await unknownProviderError(flags.provider, [...providers.keys()])
    }
    const result = await down({
      store: await this.ctx.store(),
      providers,
      job: args.job,
      provider: flags.provider,
      regions: flags.region,
      graceSeconds,
      dryRun: Boolean(flags['dry-run']),
      confirm: (orphans) => this.confirm(orphans, Boolean(flags.yes)),
    })
    this.render(result)
    if (result.declined) throw new InterruptedError('nothing was terminated', {hint: 'Pass --yes to terminate without asking.'})
    if (result.failed.length > 0 || result.scanned.some((s) => s.error !== null)) process.exitCode = 4
    return result
  }

  private async confirm(orphans: readonly OrphanInstance[], yes: boolean): Promise<boolean> {
    if (yes) return true
    if (!this.interactive) {
      throw new UsageError(`not terminating ${orphans.length} instance(s) without a confirmation`, {
        code: 'CONFIRMATION_REQUIRED',
        hint: 'Pass --yes to terminate them, or --dry-run to only list them.',
        details: {orphans: orphans.map(({handle: _h, ...o}) => o)},
      })
    }
    this.out(orphanTable(orphans))
    const {confirm} = await import('@inquirer/prompts')
    return confirm({message: `Terminate ${orphans.length} orphaned instance(s)?`, default: false})
  }

  private render(r: DownResult): void {
    const lines: string[] = []
    if (r.job) {
      lines.push(r.job.cancelled ? `cancelled job ${r.job.job.name} (${r.job.job.id})` : `job ${r.job.job.name} (${r.job.job.id}) had already ended: ${r.job.job.state}`)
      for (const id of r.job.released) lines.push(`released attempt ${id}`)
      for (const f of r.job.releaseFailed) lines.push(`could not release attempt ${f.attemptId}: ${f.message}`)
    }
    for (const s of r.scanned) if (s.error) lines.push(`${s.provider}: not scanned: ${s.error}`)
    if (r.orphans.length === 0) lines.push(r.job ? 'nothing else carries the job\'s tag' : 'no orphans')
    else if (r.dryRun) lines.push(orphanTable(r.orphans), `${r.orphans.length} orphan(s); nothing terminated (--dry-run)`)
    else {
      for (const o of r.terminated) lines.push(`terminated ${o.provider} ${o.externalId} (${o.region}${o.jobId ? `, job ${o.jobId}` : ''})`)
      for (const f of r.failed) lines.push(`could not terminate ${f.provider} ${f.externalId}: ${f.message}`)
    }
    this.out(lines.join('\n'))
  }
}

function orphanTable(orphans: ReadonlyArray<Omit<OrphanInstance, 'handle'>>): string {
  return renderTable(orphans, [
    {header: 'PROVIDER', get: (o) => o.provider},
    {header: 'REGION', get: (o) => o.zone ?? o.region},
    {header: 'INSTANCE', get: (o) => o.externalId},
    {header: 'TYPE', get: (o) => o.instanceType},
    {header: 'JOB', get: (o) => o.jobId},
    {header: 'ATTEMPT', get: (o) => o.attemptId},
    {header: 'WHY', get: (o) => (o.reason === 'attempt-ended' ? `attempt ${o.attemptState?.toLowerCase() ?? 'ended'}` : o.reason === 'unknown-attempt' ? 'unknown to this home' : 'duplicate of a live attempt')},
  ])
}
