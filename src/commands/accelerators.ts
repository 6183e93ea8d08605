import {Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {size} from '../cli/flags.js'
import {renderAccelerators} from '../cli/render-catalog.js'
import {type AcceleratorReport, RUNTIMES, listAccelerators} from '../services/accelerators.js'
import type {Runtime} from '../model/job-spec.js'

export default class Accelerators extends BaseCommand {
  static override summary = 'List the accelerators skyhop knows: specs, software stack, and the cheapest offer for each.'
  static override description =
    'Figures carry a source and a confidence (see --json); a low-confidence figure is marked ~ and one nobody published is -. Cheapest offers compare the price per device-hour, CNY converted to USD at the rate shown.'
  static override examples = [
    '<%= config.bin %> accelerators',
    '<%= config.bin %> accelerators --vendor huawei',
    '<%= config.bin %> accelerators --runtime cuda --min-memory 80GB',
    '<%= config.bin %> accelerators --vendor nvidia --json',
  ]
  static override flags = {
    vendor: Flags.string({description: 'only this vendor: nvidia, amd, huawei, cambricon, …'}),
    runtime: Flags.string({description: 'only accelerators with this software stack', options: [...RUNTIMES]}),
    'min-memory': size({
      description: 'only accelerators with at least this much memory per device: 80GB, 1TB, 512MiB (a bare number is GB)',
    }),
    catalog: Flags.string({description: 'find the cheapest offers in exactly this catalog file', env: 'SKYHOP_CATALOG'}),
  }

  async run(): Promise<AcceleratorReport> {
    const {flags} = await this.parse(Accelerators)
    const report = listAccelerators({
      home: this.home,
      catalogFile: flags.catalog,
      vendor: flags.vendor,
      runtime: flags.runtime as Runtime | undefined,
      minMemoryGB: flags['min-memory'],
      fx: await this.ctx.fx(),
    })
    for (const w of report.warnings) this.note(`warning: ${w}`)
    this.out(renderAccelerators(report))
    return report
  }
}
