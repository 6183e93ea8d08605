import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {renderPlanSummary} from '../cli/render-jobs.js'
import {InterruptedError, UsageError} from '../errors.js'
import type {ControllerEvent} from '../controller/controller.js'
import {type LaunchResult, applyOverrides, checkSecrets, planForLaunch, spawnDetachedController, startJob} from '../services/launch.js'
import {jobLogs} from '../services/job-ops.js'
import type {Plan} from '../planner/types.js'
import type {Objective} from '../model/job-spec.js'
import {loadJobFile} from '../job/load.js'
import {parseDurationSeconds} from '../model/units.js'

export type LaunchOutput = (LaunchResult & {plan: Plan}) | {dryRun: true; plan: Plan}

export default class Launch extends BaseCommand {
  static override summary = 'Plan a job, launch it on the best candidate, and keep it alive.'
  static override description = `Shows the plan and asks for confirmation on a terminal (skip with --yes). With --wait the job is driven from this process: its logs stream to stdout and skyhop exits with the job's own exit code. Without --wait a detached controller keeps driving the job; follow it with \`skyhop status\` and \`skyhop logs\`.`
  static override examples = [
    '<%= config.bin %> launch examples/hello.yaml --yes --wait',
    '<%= config.bin %> launch train.yaml --dry-run',
    '<%= config.bin %> launch train.yaml -y --detach --env LR=3e-4 --name train-lr3',
    '<%= config.bin %> launch train.yaml -y --wait --json   # CI: one JSON document, the job\'s exit code',
  ]
  static override args = {file: Args.string({description: 'job file (YAML or JSON)', required: true})}
  static override flags = {
    yes: Flags.boolean({char: 'y', description: 'do not ask for confirmation'}),
    wait: Flags.boolean({description: 'drive the job from this process, stream its logs and exit with its exit code', exclusive: ['detach']}),
    detach: Flags.boolean({description: 'hand the job to a background controller and return (default)', exclusive: ['wait']}),
    'dry-run': Flags.boolean({description: 'plan and stop'}),
    provider: Flags.string({description: 'only this provider'}),
    region: Flags.string({description: 'only this region (region or provider/region)'}),
    env: Flags.string({description: 'set an environment variable, KEY=VALUE (repeatable)', multiple: true}),
    name: Flags.string({description: 'job name (default: the file\'s name)'}),
    catalog: Flags.string({description: 'use exactly this catalog file\'s offers', env: 'SKYHOP_CATALOG'}),
    objective: Flags.string({description: 'override the job\'s objective', options: ['cost', 'time', 'balanced']}),
    'retry-until-up': Flags.string({description: 'keep retrying this long when every candidate is out of capacity, e.g. 30m'}),
  }

  async run(): Promise<LaunchOutput> {
    const {args, flags} = await this.parse(Launch)
    const env: Record<string, string> = {}
    for (const kv of flags.env ?? []) {
      const eq = kv.indexOf('=')
      if (eq <= 0) throw new UsageError(`--env "${kv}" must be KEY=VALUE`, {code: 'BAD_ENV'})
      env[kv.slice(0, eq)] = kv.slice(eq + 1)
    }
    let retryUntilUpMs: number | undefined
    if (flags['retry-until-up']) {
      try {
        retryUntilUpMs = parseDurationSeconds(flags['retry-until-up']) * 1000
      } catch (error) {
        throw new UsageError(`--retry-until-up: ${(error as Error).message}`)
      }
    }
    const loaded = loadJobFile(args.file)
    const spec = applyOverrides(loaded.spec, {name: flags.name, env, provider: flags.provider, region: flags.region})
    checkSecrets(spec, process.env)
    await this.ctx.checkCheckpointStore(spec)
    if (flags.provider && !(await this.ctx.providers()).has(flags.provider)) {
      const {unknownProviderError} = await import('../providers/registry.js')
      throw await unknownProviderError(flags.provider, [...(await this.ctx.providers()).keys()])
    }

    const objective = flags.objective as Objective | undefined
    const replan = await this.ctx.replanner({catalogFile: flags.catalog, objective})
    const plan = await planForLaunch(spec, replan)
    this.note(renderPlanSummary(plan))
    if (flags['dry-run']) return {dryRun: true, plan}

    if (!flags.yes) {
      if (!this.interactive) {
        throw new UsageError('not confirming without a terminal', {code: 'CONFIRMATION_REQUIRED', hint: 'Pass --yes to launch without asking.'})
      }
      const {confirm} = await import('@inquirer/prompts')
      if (!(await confirm({message: `Launch "${spec.name}" on ${plan.chosen!.provider}/${plan.chosen!.region}?`, default: true}))) {
        throw new InterruptedError('launch declined', {hint: 'Nothing was started.'})
      }
    }

    const store = await this.ctx.store()
    const providers = await this.ctx.providers()
    const wait = flags.wait
    const abort = new AbortController()
    let interrupted = false
    const onSigint = () => {
      interrupted = true
      abort.abort()
    }
    if (wait) process.once('SIGINT', onSigint)
    const spinner = wait && this.decorated ? (await import('ora')).default({stream: process.stderr, text: 'starting'}).start() : undefined
    const onEvent = (e: ControllerEvent) => {
      if (spinner) spinner.text = e.message
      else if (!this.jsonEnabled() && ['failover', 'recovering', 'restarting', 'waiting'].includes(e.kind)) this.note(`skyhop: ${e.message}`)
    }

    // Stream logs of every attempt while the controller drives the job in this process.
    const streamLogs = async (jobId: string) => {
      if (this.jsonEnabled()) return
      for await (const {line} of jobLogs(store, providers, jobId, {follow: true, signal: abort.signal})) {
        spinner?.clear()
        process.stdout.write(line.endsWith('\n') ? line : line + '\n')
        spinner?.render()
      }
    }

    const options = {catalogFile: flags.catalog, objective, retryUntilUpMs}
    let logsDone: Promise<void> | undefined
    const result = await startJob({
      store,
      providers,
      replan,
      home: this.home,
      spec,
      file: loaded.file,
      options,
      wait,
      signal: abort.signal,
      checkpointSync: await this.ctx.checkpointSync(),
      attemptHolds: await this.ctx.attemptHolds(),
      onEvent: (e) => {
        if (!logsDone && wait) logsDone = streamLogs(e.jobId).catch(() => undefined)
        onEvent(e)
      },
    })
    process.removeListener('SIGINT', onSigint)
    if (logsDone) {
      // Let the log stream drain the last lines of the finished attempt, then stop it.
      let timer: NodeJS.Timeout | undefined
      await Promise.race([logsDone, new Promise((r) => (timer = setTimeout(r, 2000)))])
      clearTimeout(timer)
      abort.abort()
    }
    spinner?.stop()

    if (interrupted) {
      // The job keeps running: hand it to a detached controller so nothing is left unowned.
      spawnDetachedController(this.home, result.job.id)
      throw new InterruptedError(`stopped waiting; job ${result.job.name} (${result.job.id}) keeps running under a background controller`, {
        hint: `Follow it with \`skyhop logs ${result.job.id} --follow\`; stop it with \`skyhop cancel ${result.job.id}\`.`,
      })
    }
    if (result.detached) {
      this.out(`launched job ${result.job.name} (${result.job.id}); follow it with: skyhop logs ${result.job.id} --follow`)
    } else {
      this.note(`job ${result.job.name} (${result.job.id}) ${result.job.state.toLowerCase()}${result.job.reason ? `: ${result.job.reason}` : ''}`)
      if (result.exitCode !== null && result.exitCode !== 0) process.exitCode = result.exitCode
    }
    return {...result, plan}
  }
}
