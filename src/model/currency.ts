// The one conversion between currencies skyhop uses to compare offers. Prices stay in
// the currency they were published in (a CNY list price is stored as CNY); only when two
// offers are ranked against each other, or against a limit given in another currency,
// are they converted, at the rate the caller passes: the bundled dated one or the user's
// (src/catalog/fx.ts).
import type {Currency, Money} from './job-spec.js'

export interface FxRates {
  /** Yuan per US dollar. */
  cnyPerUsd: number
  /** Where the rate came from, shown beside converted figures. */
  source: string
  /** ISO date of the rate. */
  asOf: string
}

/** Converts an amount to USD; USD passes through unchanged. */
export function toUsd(money: Money, fx: Pick<FxRates, 'cnyPerUsd'>): Money {
  return {amount: amountInUsd(money.amount, money.currency, fx), currency: 'USD'}
}

/** The bare-number form of toUsd, for hot loops over many offers. */
export function amountInUsd(amount: number, currency: Currency, fx: Pick<FxRates, 'cnyPerUsd'>): number {
  switch (currency) {
    case 'USD':
      return amount
    case 'CNY':
      return amount / fx.cnyPerUsd
  }
}

/** Converts between any two supported currencies through USD. */
export function convert(money: Money, to: Currency, fx: Pick<FxRates, 'cnyPerUsd'>): Money {
  if (money.currency === to) return money
  const usd = amountInUsd(money.amount, money.currency, fx)
  return {amount: to === 'USD' ? usd : usd * fx.cnyPerUsd, currency: to}
}

const SYMBOL: Record<Currency, string> = {USD: '$', CNY: '¥'}

/** `$12.34`, `¥7.99`; small amounts keep more digits so they do not print as 0.00. */
export function formatMoney(money: Money): string {
  const abs = Math.abs(money.amount)
  const digits = abs !== 0 && abs < 0.1 ? 4 : 2
  return `${SYMBOL[money.currency]}${money.amount.toFixed(digits)}`
}
