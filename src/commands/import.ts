import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {renderImportNotes} from '../cli/render-jobs.js'
import {type ForeignFormat, type ImportResult, importJobFile} from '../services/import.js'

export default class Import extends BaseCommand {
  static override summary = 'Convert a SkyPilot task or a dstack run configuration into a skyhop job file.'
  static override description = [
    'Maps resources and accelerators (alternatives included), nodes, spot, clouds and regions, disk, envs and secrets, commands, retry, max price and idle time; the result is checked with the same loader `launch` uses.',
    'Every key with no skyhop equivalent yet is listed on stderr (and in --json) with its line and why; the job file carries the same list as comments.',
    'Prints the job file, or writes it with --output (an existing file only with --force). Exits 3 for a file it cannot convert.',
  ].join('\n')
  static override examples = [
    '<%= config.bin %> import sky.yaml',
    '<%= config.bin %> import .dstack.yml --output train.yaml',
    '<%= config.bin %> import task.yaml --from skypilot --json',
  ]
  static override args = {
    file: Args.string({description: 'the SkyPilot task YAML or dstack configuration', required: true}),
  }
  static override flags = {
    output: Flags.string({char: 'o', description: 'write the job file here instead of printing it'}),
    force: Flags.boolean({description: 'overwrite --output if it exists'}),
    from: Flags.string({description: 'the source format, when it cannot be told from the keys', options: ['skypilot', 'dstack']}),
  }

  async run(): Promise<ImportResult> {
    const {args, flags} = await this.parse(Import)
    const result = importJobFile({file: args.file, output: flags.output, force: flags.force, from: flags.from as ForeignFormat | undefined})
    this.note(renderImportNotes(result))
    if (result.output === null) this.out(result.content)
    return result
  }
}
