// The one conversion between currencies skyhop uses to compare offers. Prices stay in
// the currency they were published in (a CNY list price is stored as CNY); only when two
// offers are ranked against each other, or against a limit given in another currency,
// are they converted, with the rate below unless the caller passes its own.
import type {Currency, Money} from './job-spec.js'

export interface FxRates {
  /** Yuan per US dollar. */
  cnyPerUsd: number
  /** Where the rate came from, shown beside converted figures. */
  source: string
  /** ISO date of the rate. */
  asOf: string
}

/**
 * 7.2 CNY/USD is the rate the bundled China price data was derived with: Tencent Cloud
 * publishes its international GPU list prices in USD (tencentcloud.com/pricing/cvm, collected
 * 2026-11-27), and data/sources/china.csv turned them into CNY at 7.2. Using the same rate
 * keeps those rows consistent when converted back. It is a convention of that data, not a
 * market quote: set SKYHOP_FX_CNY_PER_USD or the `fx` option when a current rate matters.
 */
export const DEFAULT_FX: FxRates = Object.freeze({
  cnyPerUsd: 7.2,
  source:
    'the rate the bundled Tencent Cloud USD list prices (tencentcloud.com/pricing/cvm, 2026-11-27) were converted to CNY with; not a market quote (set SKYHOP_FX_CNY_PER_USD)',
  asOf: '2026-11-27',
})

/** The default rate, or the one in SKYHOP_FX_CNY_PER_USD when that is a positive number. */
export function fxFromEnv(env: NodeJS.ProcessEnv = process.env, today = new Date()): FxRates {
  const raw = env.SKYHOP_FX_CNY_PER_USD
  if (raw === undefined || raw.trim() === '') return DEFAULT_FX
  const rate = Number(raw)
  if (!Number.isFinite(rate) || rate <= 0) return DEFAULT_FX
  return {cnyPerUsd: rate, source: 'SKYHOP_FX_CNY_PER_USD', asOf: today.toISOString().slice(0, 10)}
}

/** Converts an amount to USD; USD passes through unchanged. */
export function toUsd(money: Money, fx: FxRates = DEFAULT_FX): Money {
  return {amount: amountInUsd(money.amount, money.currency, fx), currency: 'USD'}
}

/** The bare-number form of toUsd, for hot loops over many offers. */
export function amountInUsd(amount: number, currency: Currency, fx: FxRates = DEFAULT_FX): number {
  switch (currency) {
    case 'USD':
      return amount
    case 'CNY':
      return amount / fx.cnyPerUsd
  }
}

/** Converts between any two supported currencies through USD. */
export function convert(money: Money, to: Currency, fx: FxRates = DEFAULT_FX): Money {
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
