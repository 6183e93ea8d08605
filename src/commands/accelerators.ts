import {Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {renderTable} from '../cli/table.js'
import {type AcceleratorListing, type AcceleratorReport, acceleratorReport, type CheapestOffer} from '../catalog/accelerator-list.js'
import {fxFromEnv} from '../model/currency.js'
import {countCell, figureCell, LEGEND, priceCell, UNKNOWN_MARK} from '../catalog/format.js'
import {RUNTIMES, type Runtime} from '../model/job-spec.js'

export default class Accelerators extends BaseCommand {
  static override summary = 'List the accelerators skyhop knows: specs, software stack, and the cheapest offer for each.'
  static override description =
    'Figures carry a source and a confidence (see --json); a low-confidence figure is marked ~ and one nobody published is -. Cheapest offers compare the price per device-hour, CNY converted to USD at the rate shown.'
  static override examples = [
    '<%= config.bin %> accelerators',
    '<%= config.bin %> accelerators --vendor huawei',
    '<%= config.bin %> accelerators --runtime cuda --min-memory 80',
    '<%= config.bin %> accelerators --vendor nvidia --json',
  ]
  static override flags = {
    vendor: Flags.string({description: 'only this vendor: nvidia, amd, huawei, cambricon, …'}),
    runtime: Flags.string({description: 'only accelerators with this software stack', options: [...RUNTIMES]}),
    'min-memory': Flags.integer({description: 'only accelerators with at least this much memory per device, in GB', min: 0}),
    catalog: Flags.string({description: 'find the cheapest offers in exactly this catalog file', env: 'SKYHOP_CATALOG'}),
  }

  async run(): Promise<AcceleratorReport> {
    const {flags} = await this.parse(Accelerators)
    const report = acceleratorReport({
      home: this.home,
      catalogFile: flags.catalog,
      fx: fxFromEnv(),
      vendor: flags.vendor,
      runtime: flags.runtime as Runtime | undefined,
      minMemoryGB: flags['min-memory'],
    })
    for (const w of report.warnings) this.note(`warning: ${w}`)
    this.out(renderAccelerators(report))
    return report
  }
}

function cheapestCell(c: CheapestOffer | null, market: 'onDemand' | 'spot', offers: number): string {
  // Offered somewhere, but at a price nobody published.
  if (!c) return market === 'onDemand' && offers > 0 ? UNKNOWN_MARK : '-'
  const perDevice = priceCell(c.perDeviceUsd, 'USD', c.priceStatus, market)
  return `${perDevice} ${c.provider} ${c.zone ?? c.region} ${countCell(c.count)}`
}

export function renderAccelerators(report: AcceleratorReport): string {
  if (report.accelerators.length === 0) return 'No accelerators match.'
  const table = renderTable<AcceleratorListing>(report.accelerators, [
    {header: 'NAME', get: (l) => l.accelerator.name},
    {header: 'VENDOR', get: (l) => l.accelerator.vendor},
    {header: 'RUNTIME', get: (l) => l.accelerator.runtime},
    {header: 'MEM GB', get: (l) => figureCell(l.accelerator.memoryGB), align: 'right'},
    {header: 'BW TB/S', get: (l) => figureCell(l.accelerator.memoryBandwidthTBs), align: 'right'},
    {header: 'TFLOPS16', get: (l) => figureCell(l.accelerator.denseTflops16), align: 'right'},
    {header: 'OFFERS', get: (l) => l.offers, align: 'right'},
    {header: 'CHEAPEST ON-DEMAND $/DEVICE·H', get: (l) => cheapestCell(l.cheapestOnDemand, 'onDemand', l.offers)},
    {header: 'CHEAPEST SPOT $/DEVICE·H', get: (l) => cheapestCell(l.cheapestSpot, 'spot', l.offers)},
  ])
  return [table, '', `${report.accelerators.length} accelerators; TFLOPS16 = dense BF16/FP16 per device`, LEGEND].join('\n')
}
