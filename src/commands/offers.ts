import {Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {renderTable} from '../cli/table.js'
import {fxFromEnv} from '../model/currency.js'
import {countCell, ESTIMATE_MARK, LEGEND, priceCell, UNKNOWN_MARK} from '../catalog/format.js'
import {type OfferSearchResult, searchOffers} from '../catalog/offer-search.js'
import {OFFER_SORTS, type RankedOffer} from '../catalog/query.js'

/** Offers shown (and put in --json) unless --limit or --all says otherwise; `total` counts every match. */
const DEFAULT_LIMIT = 100

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
    provider: Flags.string({char: 'p', description: 'only this provider (repeatable)', multiple: true}),
    region: Flags.string({char: 'r', description: 'only this region, or provider/region (repeatable)', multiple: true}),
    spot: Flags.boolean({description: 'only offers with a spot market, priced at spot'}),
    'max-price': Flags.string({description: 'highest price per node-hour: 30, 30USD, 200CNY'}),
    sort: Flags.string({description: 'order of the result', options: [...OFFER_SORTS], default: 'price'}),
    limit: Flags.integer({description: `show at most this many offers [default: ${DEFAULT_LIMIT}]`, min: 0, exclusive: ['all']}),
    all: Flags.boolean({description: 'show every matching offer'}),
    catalog: Flags.string({description: 'use exactly this catalog file of offers (YAML or JSON)', env: 'SKYHOP_CATALOG'}),
  }

  async run(): Promise<OfferSearchResult> {
    const {flags} = await this.parse(Offers)
    const result = searchOffers({
      home: this.home,
      catalogFile: flags.catalog,
      fx: fxFromEnv(),
      accelerator: flags.accelerator,
      providers: flags.provider,
      regions: flags.region,
      spot: flags.spot,
      maxPrice: flags['max-price'],
      sort: flags.sort as (typeof OFFER_SORTS)[number],
      limit: flags.all ? undefined : (flags.limit ?? DEFAULT_LIMIT),
    })
    for (const w of result.warnings) this.note(`warning: ${w}`)
    this.out(renderOffers(result))
    return result
  }
}

function place(r: RankedOffer): string {
  return r.offer.zone ? `${r.offer.region}/${r.offer.zone}` : r.offer.region
}

export function renderOffers(result: OfferSearchResult): string {
  if (result.total === 0) return 'No offers match.'
  const spot = result.query.spot
  const showUsd = result.offers.some((r) => r.offer.price.currency !== 'USD' && r.priceUsd !== null)
  const unknownNum = (r: RankedOffer, field: 'vcpus' | 'memoryGiB') =>
    r.offer.unknownFields?.includes(field) ? UNKNOWN_MARK : r.offer[field]
  const table = renderTable(result.offers, [
    {header: 'PROVIDER', get: (r) => r.offer.provider},
    {header: 'REGION', get: place},
    {header: 'INSTANCE', get: (r) => r.offer.instanceType},
    {header: 'ACCELERATOR', get: (r) => (r.offer.accelerator ? `${r.offer.accelerator.name} ${countCell(r.offer.accelerator.count)}` : 'cpu')},
    {header: 'VCPU', get: (r) => unknownNum(r, 'vcpus'), align: 'right'},
    {header: 'MEM GIB', get: (r) => unknownNum(r, 'memoryGiB'), align: 'right'},
    {header: 'ON-DEMAND/H', get: (r) => priceCell(r.offer.price.onDemand, r.offer.price.currency, r.offer.priceStatus), align: 'right'},
    {header: 'SPOT/H', get: (r) => priceCell(r.offer.price.spot, r.offer.price.currency, r.offer.priceStatus, 'spot'), align: 'right'},
    ...(showUsd
      ? [{header: 'USD/H', get: (r: RankedOffer) => (r.priceUsd === null ? '-' : `${r.offer.priceStatus === 'estimate' ? ESTIMATE_MARK : ''}$${r.priceUsd.toFixed(2)}`), align: 'right' as const}]
      : []),
    {header: '$/TFLOPS·H', get: (r) => (r.usdPerTflops === null ? '-' : r.usdPerTflops.toFixed(4)), align: 'right'},
    {header: 'AS OF', get: (r) => r.offer.asOf},
  ])
  const lines = [table, '']
  const shown = result.offers.length < result.total ? `showing ${result.offers.length} of ${result.total} offers (--all to see every one)` : `${result.total} offers`
  lines.push(`${shown}; sorted by ${result.query.sort === 'price' ? `${spot ? 'spot' : 'on-demand'} price` : `${spot ? 'spot' : 'on-demand'} price per dense 16-bit TFLOPS`}`)
  if (showUsd) lines.push(`CNY converted at ${result.fx.cnyPerUsd} per USD (${result.fx.source}, ${result.fx.asOf})`)
  const marked = result.offers.some((r) => r.offer.priceStatus !== 'list' || r.offer.unknownFields?.length)
  if (marked) lines.push(LEGEND)
  return lines.join('\n')
}
