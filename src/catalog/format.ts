// Text forms of catalog values for tables: an estimated price or a low-confidence figure
// is marked `~`, an unknown one `?`, so no guess reads as a fact. LEGEND explains them.
import type {Currency} from '../model/job-spec.js'
import {formatMoney} from '../model/currency.js'
import type {PriceStatus, Sourced} from '../model/catalog.js'

export const ESTIMATE_MARK = '~'
export const UNKNOWN_MARK = '?'

export const LEGEND = `${ESTIMATE_MARK} estimate or low-confidence figure (not a published price or spec)   ${UNKNOWN_MARK} unknown   - none`

/** A price cell: `$1.23`, `~¥19.00` (estimate), `?` (unknown), `-` (no such market). */
export function priceCell(
  amount: number | null,
  currency: Currency,
  status: PriceStatus,
  market: 'onDemand' | 'spot' = 'onDemand',
): string {
  if (amount === null) return status === 'unknown' && market === 'onDemand' ? UNKNOWN_MARK : '-'
  const text = formatMoney({amount, currency})
  return status === 'estimate' ? `${ESTIMATE_MARK}${text}` : text
}

/** A spec figure: `989`, `~280` (low confidence), `-` (nobody published it). */
export function figureCell(figure: Sourced<number>, digits?: number): string {
  if (figure.value === null) return '-'
  const text = digits === undefined ? String(figure.value) : figure.value.toFixed(digits)
  return figure.confidence === 'low' ? `${ESTIMATE_MARK}${text}` : text
}

/** `×8`, `×0.25`. */
export function countCell(count: number): string {
  return `×${count}`
}
