import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {duration, keyValue, pairs, provider} from '../cli/flags.js'
import {launchView} from '../cli/launch-view.js'
import {renderLaunched, renderPlanSummary} from '../cli/render-jobs.js'
import {type LaunchResult, type Plan, launch, prepareLaunch} from '../services/launch.js'
import type {Objective} from '../model/job-spec.js'

export type LaunchOutput = (LaunchResult & {plan: Plan}) | {dryRun: true; plan: Plan}

export default class Launch extends BaseCommand {
  static override confirmation = {
    hint: 'Pass --yes to launch without asking.',
    declined: {message: 'launch declined', hint: 'Nothing was started.'},
  }
  static override summary = 'Plan a job, launch it on the best candidate, and keep it alive.'
  static override description = `Shows the plan and asks for confirmation on a terminal (skip with --yes). With --wait the job is driven from this process: its logs stream to stdout and skyhop exits with the job's own exit code. Without --wait a detached controller keeps driving the job; follow it with \`skyhop status\` and \`skyhop logs\`.`
  static override examples = [
    '<%= config.bin %> launch examples/hello.yaml --yes --wait',
    '<%= config.bin %> launch train.yaml --dry-run',
    '<%= config.bin %> launch train.yaml -y --detach --env LR=3e-4 --name train-lr3',
    "<%= config.bin %> launch train.yaml -y --wait --json   # CI: one JSON document, the job's exit code",
  ]
  static override args = {file: Args.string({description: 'job file (YAML or JSON)', required: true})}
  static override flags = {
    yes: Flags.boolean({char: 'y', description: 'do not ask for confirmation'}),
    wait: Flags.boolean({
      description: 'drive the job from this process, stream its logs and exit with its exit code',
      exclusive: ['detach'],
    }),
    detach: Flags.boolean({description: 'hand the job to a background controller and return (default)', exclusive: ['wait']}),
    'dry-run': Flags.boolean({description: 'plan and stop'}),
    provider: provider({description: 'only this provider'}),
    region: Flags.string({description: 'only this region (region or provider/region)'}),
    env: keyValue({description: 'set an environment variable, KEY=VALUE (repeatable)', code: 'BAD_ENV'}),
    name: Flags.string({description: "job name (default: the file's name)"}),
    catalog: Flags.string({description: "use exactly this catalog file's offers", env: 'SKYHOP_CATALOG'}),
    objective: Flags.string({description: "override the job's objective", options: ['cost', 'time', 'balanced']}),
    'retry-until-up': duration({description: 'keep retrying this long when every candidate is out of capacity, e.g. 30m'}),
  }

  async run(): Promise<LaunchOutput> {
    const {args, flags} = await this.parse(Launch)
    const prepared = await prepareLaunch(this.ctx, {
      file: args.file,
      name: flags.name,
      env: pairs(flags.env),
      provider: flags.provider,
      region: flags.region,
      catalogFile: flags.catalog,
      objective: flags.objective as Objective | undefined,
      retryUntilUpMs: flags['retry-until-up'] === undefined ? undefined : flags['retry-until-up'] * 1000,
    })
    const {plan, spec} = prepared
    this.note(renderPlanSummary(plan))
    if (prepared.auto) this.note(`Accelerators (auto): ${prepared.auto.text}.`)
    if (flags['dry-run']) return {dryRun: true, plan}
    await this.confirm(flags.yes, `Launch "${spec.name}" on ${plan.chosen!.provider}/${plan.chosen!.region}?`)
    const view = flags.wait ? await launchView({decorated: this.decorated, json: this.jsonEnabled(), note: (t) => this.note(t)}) : undefined
    let result: LaunchResult
    try {
      result = await launch(this.ctx, prepared, {wait: flags.wait, progress: view})
    } finally {
      view?.stop()
    }
    this.show(renderLaunched(result))
    this.exitWith(result.exitCode)
    return {...result, plan}
  }
}
