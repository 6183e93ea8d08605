// What the refreshers that price the catalog's own rows one call at a time share
// (Alibaba, Tencent, Huawei: their price APIs answer "what does this type cost here", not
// "list every price"): the instance types to ask about, by region, with the rows in use
// now (kept when a type cannot be priced) and the shape a new row copies; building a
// priced row; remembering what was kept and why, for the outcome's message; and a small
// pool that keeps a few calls in flight. No I/O here.
import type {Currency} from '../../model/job-spec.js'
import {DEFAULT_RETRY, type RetryPolicy} from '../../http/retry.js'
import {mergeKey} from '../catalog.js'
import {providerInfo} from '../providers.js'
import type {Offer} from '../../model/catalog.js'
import type {RefreshContext} from './types.js'

/** One instance type in one region, as the catalog knows it. */
export interface KnownType {
  provider: string
  region: string
  instanceType: string
  /** The row the priced rows copy their shape (accelerator, vCPUs, memory, queue, capacity) from. */
  template: Offer
  /** Zones the catalog lists it in (none when its rows are per region). */
  zones: string[]
  /** The rows in use now: what stays when it cannot be priced. */
  current: Offer[]
}

/**
 * The provider's instance types by region, from the catalog's rows (the bundled snapshot
 * and the last refresh): a type the last refresh could not price is asked about again.
 */
export function knownTypes(provider: string, known: readonly Offer[], previous: readonly Offer[]): KnownType[] {
  const out = new Map<string, KnownType>()
  const key = (o: Offer) => `${o.region}\n${o.instanceType}`
  for (const o of [...previous, ...known]) {
    if (o.provider !== provider) continue
    let t = out.get(key(o))
    if (!t) out.set(key(o), (t = {provider, region: o.region, instanceType: o.instanceType, template: o, zones: [], current: []}))
    if (o.zone && !t.zones.includes(o.zone)) t.zones.push(o.zone)
  }
  for (const t of out.values()) {
    // The rows in use now are the previous ones; a type only the snapshot has (added since
    // the last refresh) keeps the snapshot's.
    const inUse = previous.filter((o) => o.provider === provider && key(o) === `${t.region}\n${t.instanceType}`)
    const rows = inUse.length > 0 ? inUse : known.filter((o) => o.provider === provider && key(o) === `${t.region}\n${t.instanceType}`)
    // The snapshot and the last refresh can both hold the same row.
    t.current = [...new Map(rows.map((o) => [mergeKey(o), o])).values()]
    t.zones.sort()
  }
  return [...out.values()].sort((a, b) => a.region.localeCompare(b.region) || a.instanceType.localeCompare(b.instanceType))
}

/** A name a price API can be asked about: not a family wildcard such as `GN10Xp.*`. */
export function isConcreteType(instanceType: string): boolean {
  return /^[A-Za-z0-9][\w.-]*$/.test(instanceType)
}

export interface Priced {
  zone: string | null
  onDemand: number | null
  spot: number | null
  currency: Currency
  source: string
  asOf: string
  notes?: string[]
}

/** A row of `t` at the prices found; everything but the prices is the catalog's. */
export function pricedRow(t: KnownType, p: Priced): Offer {
  const s = t.template
  const row: Offer = {
    provider: t.provider,
    region: t.region,
    zone: p.zone,
    instanceType: t.instanceType,
    accelerator: s.accelerator ? {...s.accelerator} : null,
    vcpus: s.vcpus,
    memoryGiB: s.memoryGiB,
    price: {onDemand: p.onDemand, spot: p.spot, currency: p.currency},
    priceStatus: p.onDemand === null && p.spot === null ? 'unknown' : 'list',
    expectedQueueMinutes: s.expectedQueueMinutes,
    preemptionRatePerHour: s.preemptionRatePerHour,
    capacity: s.capacity,
    noticeSeconds: providerInfo(t.provider)?.noticeSeconds.value ?? null,
    source: p.source,
    asOf: p.asOf,
    confidence: 'high',
  }
  if (s.unknownFields) row.unknownFields = [...s.unknownFields]
  if (p.notes?.length) row.notes = p.notes.join('; ')
  return row
}

/** The rows kept because they could not be priced, grouped by why: the outcome says which and why, briefly. */
export class KeptRows {
  private readonly byReason = new Map<string, string[]>()
  readonly rows: Offer[] = []

  /** Keeps `rows` (default: all of the type's rows in use) of `t`, found at `where` (default: its region). */
  add(t: KnownType, reason: string, rows: readonly Offer[] = t.current, where = t.region): void {
    if (rows.length === 0) return
    const list = this.byReason.get(reason) ?? []
    list.push(`${t.instanceType} in ${where}`)
    this.byReason.set(reason, list)
    this.rows.push(...rows)
  }

  /**
   * One line per reason, naming at most `show` places:
   * `kept the previous rows of GN10Xp.* in ap-beijing, … (+3 more): not a concrete instance type`.
   */
  summary(show = 4): string[] {
    return [...this.byReason].map(([reason, list]) => {
      const more = list.length > show ? ` (+${list.length - show} more)` : ''
      return `kept the previous rows of ${list.slice(0, show).join(', ')}${more}: ${reason}`
    })
  }
}

/** A failure that no other call would escape: bad or refused credentials. */
export function isProviderWide(error: unknown): boolean {
  const e = error as {category?: unknown; scope?: unknown} | null
  return e?.category === 'auth' && e.scope === 'provider'
}

/**
 * Why a call failed, short enough to group the same failure across types and regions:
 * the API's own error code when there is one (messages carry request ids), else the
 * message without the `provider: ` prefix ProviderError adds.
 */
export function reasonOf(error: unknown, provider: string): string {
  const code = (error as {backendCode?: unknown} | null)?.backendCode
  if (typeof code === 'string' && code !== '' && !/^\d+$/.test(code)) return code
  const message = error instanceof Error ? error.message : String(error)
  return message.startsWith(`${provider}: `) ? message.slice(provider.length + 2) : message
}

/** The refresh's retry policy, whole, for the cloud clients (whose own default is CLOUD_API_RETRY). */
export function cloudRetry(ctx: RefreshContext): RetryPolicy {
  return {...DEFAULT_RETRY, ...ctx.retry}
}

/** What a cloud client reports before it retries an action. */
export interface CloudRetryInfo {
  action: string
  attempt: number
  delayMs: number
  reason: string
}

/** The cloud clients' retry report as the refresh reports retries. */
export function reportRetry(ctx: RefreshContext, where: string): (info: CloudRetryInfo) => void {
  return (info) => ctx.onRetry?.({attempt: info.attempt, delayMs: info.delayMs, reason: `${info.action} ${info.reason}`, url: where})
}

/** Runs `fn` over `items` with at most `limit` calls in flight; the first rejection stops new calls and is thrown. */
export async function inPool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  let failed = false
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++]
      try {
        await fn(item)
      } catch (error) {
        failed = true
        throw error
      }
    }
  }
  await Promise.all(Array.from({length: Math.min(limit, items.length)}, worker))
}
