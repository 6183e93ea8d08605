import {Args} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {renderValidation} from '../cli/render-jobs.js'
import {type ValidationResult, validateJobFiles} from '../services/validate.js'

export default class Validate extends BaseCommand {
  static override summary = 'Check job files against the job schema without running anything.'
  static override description =
    'Reports every problem at FILE:LINE:COL with the field path and a "did you mean" for misspelt keys and accelerator names. Exits 3 if any file is invalid.'
  static override examples = ['<%= config.bin %> validate examples/hello.yaml', '<%= config.bin %> validate examples/*.yaml --json']
  static override strict = false
  static override args = {
    file: Args.string({description: 'job file(s), YAML or JSON', required: true}),
  }

  async run(): Promise<ValidationResult> {
    const {argv} = await this.parse(Validate)
    const result = validateJobFiles(argv as string[], {now: new Date()})
    this.out(renderValidation(result))
    return result
  }
}
