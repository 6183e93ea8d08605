import {Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {positiveNumber} from '../cli/flags.js'
import {type InitAnswers, type InitResult, init, requireAnswers} from '../services/init.js'
import type {Objective, SpotPolicy} from '../model/job-spec.js'

export default class Init extends BaseCommand {
  static override summary = 'Write a new job file, asking for what is missing.'
  static override description =
    'On a terminal, asks for every answer not given as a flag. With --json, without a TTY, or with CI set it never prompts: missing required answers (--name, --run) exit 2.'
  static override examples = [
    '<%= config.bin %> init',
    '<%= config.bin %> init --name train --run "python train.py" --accelerators H100:8 --accelerators Ascend910B:8 --runtimes cuda --runtimes cann --spot auto',
    '<%= config.bin %> init --name hello --run "echo hello" --output hello.yaml --json',
  ]
  static override flags = {
    name: Flags.string({description: 'job name'}),
    run: Flags.string({description: 'command the job runs'}),
    setup: Flags.string({description: 'command run once before `run`'}),
    accelerators: Flags.string({description: 'accelerator request, e.g. H100:8; repeat for alternatives', multiple: true}),
    runtimes: Flags.string({description: 'software stack the job can use (cuda, cann, rocm, …); repeatable', multiple: true}),
    spot: Flags.string({description: 'spot policy', options: ['spot', 'on-demand', 'auto']}),
    objective: Flags.string({description: 'what to optimize', options: ['cost', 'time', 'balanced']}),
    'work-hours': positiveNumber({description: 'hours the job takes on the reference configuration', what: 'hours'}),
    reference: Flags.string({description: 'reference configuration for --work-hours, e.g. A100-80GB:8'}),
    deadline: Flags.string({description: 'deadline: ISO time or duration from now (36h)'}),
    budget: Flags.string({description: 'total budget, e.g. 200USD'}),
    output: Flags.string({char: 'o', description: 'file to write (default: NAME.yaml)'}),
    force: Flags.boolean({description: 'overwrite an existing file'}),
  }

  async run(): Promise<InitResult> {
    const {flags} = await this.parse(Init)
    const given: Partial<InitAnswers> = {
      name: flags.name,
      run: flags.run,
      setup: flags.setup,
      accelerators: flags.accelerators,
      runtimes: flags.runtimes,
      spot: flags.spot as SpotPolicy | undefined,
      objective: flags.objective as Objective | undefined,
      workHours: flags['work-hours'],
      reference: flags.reference,
      deadline: flags.deadline,
      budget: flags.budget,
    }
    const answers = this.interactive ? await this.ask(given) : requireAnswers(given, this.whyNotInteractive())
    const result = init(answers, {output: flags.output, force: flags.force})
    this.out(`wrote ${result.file}; check it with: skyhop validate ${result.file}`)
    return result
  }

  private async ask(given: Partial<InitAnswers>): Promise<InitAnswers> {
    const {askInitQuestions} = await import('../cli/init-prompts.js')
    return (await askInitQuestions(given)) as InitAnswers
  }
}
