import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {renderSweepPlan, renderSweepResult} from '../cli/render-sweep.js'
import {controllerOwner, spawnDetachedController} from '../services/launch.js'
import {type SweepEvent, type SweepResult, type SweepRun, planSweepJobs, recordSweep, runSweep, sweepResult} from '../services/sweep.js'
import {InterruptedError, UsageError} from '../errors.js'
import type {Money, Objective} from '../model/job-spec.js'
import {loadJobFile} from '../job/load.js'
import {parseSetFlags} from '../job/matrix.js'
import {parseMoney} from '../model/units.js'

export type SweepOutput = SweepResult & {detached: boolean; stats: SweepRun['stats'] | null}

export default class Sweep extends BaseCommand {
  static override summary = 'Run one job per combination of its matrix: planned together, at most N at once, within a budget.'
  static override description = `The job file's \`matrix\` (and --set KEY=V1,V2 flags, which replace or extend it) expands into one job per combination, each with its values as environment variables and in its name. All jobs are planned together, so capacity and quotas hold for the sweep as a whole. One controller drives the sweep: at most --max-parallel jobs at once, backend polls batched, each job failing over and recovering like a single launch, and no job started whose expected cost would push the sweep past --budget (those end CANCELLED with reason "budget").

With --wait the sweep is driven from this process: a live view on a terminal, and with --json one JSON object per event per line (JSON Lines) on stdout, the last line being the usual {"ok":…,"result":…} envelope. It exits 0 when every job succeeded, else with the exit code of the first job (in sweep order) that did not: its own, or 4/5/6 as for launch (6 for a job stopped by the budget). Without --wait a background controller drives the sweep; follow it with \`skyhop sweeps ID\`.`
  static override examples = [
    '<%= config.bin %> sweep train.yaml --set lr=1e-4,3e-4 --set seed=1,2,3 -y --wait',
    '<%= config.bin %> sweep train.yaml -y --max-parallel 8 --budget 200USD',
    '<%= config.bin %> sweep train.yaml -y --wait --json > events.jsonl   # CI: JSON Lines, the last line is the result',
  ]
  static override args = {file: Args.string({description: 'job file (YAML or JSON) with a matrix, or use --set', required: true})}
  static override flags = {
    yes: Flags.boolean({char: 'y', description: 'do not ask for confirmation'}),
    wait: Flags.boolean({description: 'drive the sweep from this process and exit with its exit code'}),
    'max-parallel': Flags.integer({description: 'most jobs in flight at once', default: 4, min: 1}),
    budget: Flags.string({description: 'most the whole sweep may cost, e.g. 200USD or 1500CNY'}),
    objective: Flags.string({description: "override the job's objective", options: ['cost', 'time', 'balanced']}),
    set: Flags.string({description: 'a matrix dimension, KEY=V1,V2,… (repeatable; replaces the file\'s KEY)', multiple: true}),
    catalog: Flags.string({description: "use exactly this catalog file's offers", env: 'SKYHOP_CATALOG'}),
  }

  /** JSON Lines under --wait: the envelope must be one line too, the last one. */
  private jsonLines = false

  override logJson(json: unknown): void {
    if (this.jsonLines) process.stdout.write(JSON.stringify(json) + '\n')
    else super.logJson(json)
  }

  async run(): Promise<SweepOutput> {
    const {args, flags} = await this.parse(Sweep)
    this.jsonLines = flags.wait && this.jsonEnabled()
    let budget: Money | null = null
    if (flags.budget !== undefined) {
      try {
        budget = parseMoney(flags.budget)
      } catch (error) {
        throw new UsageError(`--budget: ${(error as Error).message}`, {code: 'BAD_BUDGET'})
      }
    }
    const objective = flags.objective as Objective | undefined
    const loaded = loadJobFile(args.file)
    const sets = parseSetFlags(flags.set ?? [])
    await this.ctx.checkCheckpointStore(loaded.spec)
    const inputs = await this.ctx.planningInputs({catalogFile: flags.catalog, objective})
    const planned = await planSweepJobs({spec: loaded.spec, file: loaded.file, sets, budget, objective, env: process.env}, inputs)
    this.note(renderSweepPlan(planned))

    if (!flags.yes) {
      if (!this.interactive) {
        throw new UsageError('not confirming without a terminal', {code: 'CONFIRMATION_REQUIRED', hint: 'Pass --yes to start the sweep without asking.'})
      }
      const {confirm} = await import('@inquirer/prompts')
      if (!(await confirm({message: `Start ${planned.combinations.length} jobs of sweep "${planned.name}"?`, default: true}))) {
        throw new InterruptedError('sweep declined', {hint: 'Nothing was started.'})
      }
    }

    const store = await this.ctx.store()
    const {sweep} = recordSweep(store, planned, {maxParallel: flags['max-parallel'], budget, objective, catalogFile: flags.catalog})
    const result = () => sweepResult(store, sweep.id, {now: new Date(), fx: inputs.fx})
    if (!flags.wait) {
      spawnDetachedController(this.home, sweep.id, 'sweep-controller')
      this.out(`started sweep ${sweep.name} (${sweep.id}) of ${planned.combinations.length} jobs; follow it with: skyhop sweeps ${sweep.id}`)
      return {...result(), detached: true, stats: null}
    }

    const abort = new AbortController()
    let interrupted = false
    const onSigint = () => {
      interrupted = true
      abort.abort()
    }
    process.once('SIGINT', onSigint)
    const {SweepView} = await import('../cli/sweep-view.js')
    const view = this.jsonEnabled() ? undefined : new SweepView(process.stderr, planned.combinations.length, this.decorated ? 'live' : 'lines')
    const onEvent = (e: SweepEvent) => {
      if (this.jsonLines) process.stdout.write(JSON.stringify(e) + '\n')
      view?.onEvent(e)
    }
    let run: SweepRun
    try {
      run = await runSweep(sweep.id, {
        store,
        providers: await this.ctx.providers(),
        inputs,
        home: this.home,
        owner: controllerOwner(),
        signal: abort.signal,
        onEvent,
        env: process.env,
        checkpointSync: await this.ctx.checkpointSync(),
        attemptHolds: await this.ctx.attemptHolds(),
      })
    } finally {
      process.removeListener('SIGINT', onSigint)
      view?.stop()
    }
    if (interrupted || !run.finished) {
      // The jobs keep running: a background controller takes the sweep over.
      spawnDetachedController(this.home, sweep.id, 'sweep-controller')
      throw new InterruptedError(`stopped waiting; sweep ${sweep.name} (${sweep.id}) keeps running under a background controller`, {
        hint: `Follow it with \`skyhop sweeps ${sweep.id}\`.`,
      })
    }
    const final = result()
    this.out(renderSweepResult(final))
    if (final.exitCode !== null && final.exitCode !== 0) process.exitCode = final.exitCode
    return {...final, detached: false, stats: run.stats}
  }
}
