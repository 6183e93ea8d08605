// Human renderings of the catalog: offers, accelerators, a refresh's outcomes and the
// catalog's status. Marks: ~ an estimated figure or price, ? an unknown one.
import {countCell, ESTIMATE_MARK, figureCell, LEGEND, priceCell, UNKNOWN_MARK} from '../catalog/format.js'
import {formatAge} from '../catalog/status.js'
import type {AcceleratorListing, AcceleratorReport, CheapestOffer} from '../services/accelerators.js'
import type {RefreshOutcome, RefreshReport} from '../services/catalog/refresh.js'
import type {CatalogStatus, ProviderStatus} from '../services/catalog/status.js'
import type {OfferSearchResult, RankedOffer} from '../services/offers.js'
import {renderTable} from './table.js'

/** Marks a provider skyhop has no adapter for (`offers`). */
const NO_ADAPTER_MARK = '*'

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
    {header: 'PROVIDER', get: (r) => (r.launchable ? r.offer.provider : `${r.offer.provider}${NO_ADAPTER_MARK}`)},
    {header: 'REGION', get: place},
    {header: 'INSTANCE', get: (r) => r.offer.instanceType},
    {
      header: 'ACCELERATOR',
      get: (r) => (r.offer.accelerator ? `${r.offer.accelerator.name} ${countCell(r.offer.accelerator.count)}` : 'cpu'),
    },
    {header: 'VCPU', get: (r) => unknownNum(r, 'vcpus'), align: 'right'},
    {header: 'MEM GIB', get: (r) => unknownNum(r, 'memoryGiB'), align: 'right'},
    {header: 'ON-DEMAND/H', get: (r) => priceCell(r.offer.price.onDemand, r.offer.price.currency, r.offer.priceStatus), align: 'right'},
    {header: 'SPOT/H', get: (r) => priceCell(r.offer.price.spot, r.offer.price.currency, r.offer.priceStatus, 'spot'), align: 'right'},
    ...(showUsd
      ? [
          {
            header: 'USD/H',
            get: (r: RankedOffer) =>
              r.priceUsd === null ? '-' : `${r.offer.priceStatus === 'estimate' ? ESTIMATE_MARK : ''}$${r.priceUsd.toFixed(2)}`,
            align: 'right' as const,
          },
        ]
      : []),
    {header: '$/TFLOPS·H', get: (r) => (r.usdPerTflops === null ? '-' : r.usdPerTflops.toFixed(4)), align: 'right'},
    {header: 'AS OF', get: (r) => r.offer.asOf},
  ])
  const lines = [table, '']
  const shown =
    result.offers.length < result.total
      ? `showing ${result.offers.length} of ${result.total} offers (--all to see every one)`
      : `${result.total} offers`
  lines.push(
    `${shown}; sorted by ${result.query.sort === 'price' ? `${spot ? 'spot' : 'on-demand'} price` : `${spot ? 'spot' : 'on-demand'} price per dense 16-bit TFLOPS`}`,
  )
  if (showUsd) lines.push(`CNY converted at ${result.fx.cnyPerUsd} per USD (${result.fx.source}, ${result.fx.asOf})`)
  const marked = result.offers.some((r) => r.offer.priceStatus !== 'list' || r.offer.unknownFields?.length)
  if (marked) lines.push(LEGEND)
  if (result.offers.some((r) => !r.launchable))
    lines.push(`${NO_ADAPTER_MARK} no adapter: listed for comparison; skyhop cannot launch there and never plans onto it`)
  return lines.join('\n')
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

function using(o: RefreshOutcome): string {
  if (o.using.origin === 'none') return 'nothing'
  return `${o.using.origin} ${o.using.fetchedAt?.slice(0, 16).replace('T', ' ') ?? o.using.asOf ?? ''}, ${o.using.rows} offers`
}

export function renderRefresh(report: RefreshReport): string {
  return renderTable(report.outcomes, [
    {header: 'PROVIDER', get: (o) => o.provider},
    {header: 'RESULT', get: (o) => o.status},
    {header: 'NOW USING', get: using},
    {header: 'DETAIL', get: (o) => o.message},
  ])
}

function lastRefresh(p: ProviderStatus): string {
  if (!p.refreshSupported) return 'n/a'
  if (!p.lastRefresh) return 'never'
  return `${p.lastRefresh.ok ? 'ok' : `FAILED (${p.lastRefresh.error?.code ?? 'error'})`} ${p.lastRefresh.attemptedAt.slice(0, 16).replace('T', ' ')}`
}

export function renderCatalogStatus(status: CatalogStatus): string {
  const table = renderTable(status.providers, [
    {header: 'PROVIDER', get: (p) => p.provider},
    {header: 'ORIGIN', get: (p) => p.origin},
    {header: 'ROWS', get: (p) => p.rows, align: 'right'},
    {header: 'AS OF', get: (p) => p.asOf},
    {header: 'AGE', get: (p) => formatAge(p.ageSeconds), align: 'right'},
    {header: 'LAST REFRESH', get: lastRefresh},
    {header: 'SOURCE', get: (p) => p.source},
  ])
  const failed = status.providers.filter((p) => p.lastRefresh && !p.lastRefresh.ok)
  const lines = [table, '', `${status.totalRows} offers`]
  for (const p of failed)
    lines.push(
      `${p.provider}: last refresh failed: ${p.lastRefresh!.error?.message ?? 'unknown error'}; using ${p.origin} data as of ${p.asOf}`,
    )
  return lines.join('\n')
}
