import {Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {renderOffers} from '../cli/render-catalog.js'
import {provider} from '../cli/flags.js'
import {DEFAULT_OFFER_LIMIT, OFFER_SORTS, type OfferSearchResult, findOffers} from '../services/offers.js'

export default class Offers extends BaseCommand {
  static override summary = 'List the offers in the catalog: where an accelerator can be rented and at what price.'
  static override description =
    'Prices are per node per hour in the currency they were published in; CNY is converted to USD (at the rate shown) only to compare and sort. An estimated price is marked ~ and an unknown one ?. Unknown accelerator or provider names exit 2 with a suggestion.'
  static override examples = [
    '<%= config.bin %> offers --accelerator H100:8',
    '<%= config.bin %> offers --accelerator A100:8 --spot --sort price-per-tflops',
    '<%= config.bin %> offers --accelerator 910B --provider huaweicloud',
    '<%= config.bin %> offers --provider aws --region us-east-1 --max-price 30 --json',
    '<%= config.bin %> offers --accelerator L4 --catalog my-offers.yaml',
  ]
  static override flags = {
    accelerator: Flags.string({char: 'a', description: 'accelerator and count per node: H100:8, A100:8+, L4:1..4, or a name alone'}),
    provider: provider({char: 'p', description: 'only this provider (repeatable)', multiple: true}),
    region: Flags.string({char: 'r', description: 'only this region, or provider/region (repeatable)', multiple: true}),
    spot: Flags.boolean({description: 'only offers with a spot market, priced at spot'}),
    'max-price': Flags.string({description: 'highest price per node-hour: 30, 30USD, 200CNY'}),
    sort: Flags.string({description: 'order of the result', options: [...OFFER_SORTS], default: 'price'}),
    limit: Flags.integer({description: `show at most this many offers [default: ${DEFAULT_OFFER_LIMIT}]`, min: 0, exclusive: ['all']}),
    all: Flags.boolean({description: 'show every matching offer'}),
    catalog: Flags.string({description: 'use exactly this catalog file of offers (YAML or JSON)', env: 'SKYHOP_CATALOG'}),
  }

  async run(): Promise<OfferSearchResult> {
    const {flags} = await this.parse(Offers)
    const result = findOffers({
      home: this.home,
      catalogFile: flags.catalog,
      accelerator: flags.accelerator,
      providers: flags.provider,
      regions: flags.region,
      spot: flags.spot,
      maxPrice: flags['max-price'],
      sort: flags.sort as (typeof OFFER_SORTS)[number],
      limit: flags.limit,
      all: flags.all,
      adapters: await this.ctx.adapterNames(),
      fx: await this.ctx.fx(),
    })
    for (const w of result.warnings) this.note(`warning: ${w}`)
    // Under --json the document is the output: no table to build for nothing.
    if (!this.jsonEnabled()) this.out(renderOffers(result))
    return result
  }
}
