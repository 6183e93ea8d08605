// Budgets on running spend, per user and per team (docs/configuration.md#owners-roles-and-budgets).
// Pure: the service gathers every owner's running spend from the store and passes it in; this
// says how much each limit that applies to the launching user has left, and which of a plan's
// candidates fit in all of them. A candidate whose price is unknown cannot be checked against a
// limit and never fits, as with a job's own budget.
import type {Candidate, Plan} from './types.js'

export interface SpendLimits {
  /** User → USD per hour. */
  users: Readonly<Record<string, number>>
  /** Team → USD per hour. */
  teams: Readonly<Record<string, number>>
  /** Team → its members. */
  members: Readonly<Record<string, readonly string[]>>
}

/** What one owner's unfinished work costs per hour, in USD (owner null: from before owners). */
export interface OwnerSpend {
  owner: string | null
  usdPerHour: number
}

/** One limit that applies to the launching user, with what runs under it now. */
export interface BudgetHeadroom {
  scope: 'user' | 'team'
  name: string
  limitUsdPerHour: number
  runningUsdPerHour: number
  /** limit − running, never below 0. */
  leftUsdPerHour: number
}

/** Every limit on `owner`'s spend: their own, and each of their teams'. Empty when none applies. */
export function budgetHeadroom(owner: string, limits: SpendLimits, running: readonly OwnerSpend[]): BudgetHeadroom[] {
  const spendOf = (who: (owner: string) => boolean): number =>
    running.reduce((sum, r) => (r.owner !== null && who(r.owner) ? sum + r.usdPerHour : sum), 0)
  const out: BudgetHeadroom[] = []
  const mine = limits.users[owner]
  if (mine !== undefined)
    out.push(
      head(
        'user',
        owner,
        mine,
        spendOf((o) => o === owner),
      ),
    )
  for (const [team, limit] of Object.entries(limits.teams)) {
    const members = limits.members[team] ?? []
    if (!members.includes(owner)) continue
    out.push(
      head(
        'team',
        team,
        limit,
        spendOf((o) => members.includes(o)),
      ),
    )
  }
  return out
}

function head(scope: 'user' | 'team', name: string, limit: number, running: number): BudgetHeadroom {
  return {scope, name, limitUsdPerHour: limit, runningUsdPerHour: round(running), leftUsdPerHour: round(Math.max(0, limit - running))}
}

export interface BudgetVerdict {
  /** The plan with only the candidates that fit every limit, ranked again from 1; chosen is the best of them. */
  plan: Plan
  /** The most the job may cost per hour (all nodes) under every limit; null when no limit applies. */
  maxUsdPerHour: number | null
  /** Limits that the cheapest priced candidate does not fit in (empty when one fits). */
  breaches: BudgetHeadroom[]
  /** The cheapest priced candidate's hourly USD, null when none has a known price. */
  cheapestUsdPerHour: number | null
}

/** Keeps the candidates that fit in every limit; when none does, says which limits each would break. */
export function withinBudgets(plan: Plan, heads: readonly BudgetHeadroom[]): BudgetVerdict {
  const priced = plan.candidates.filter((c) => c.hourlyPriceUsd !== null)
  const cheapest = priced.length === 0 ? null : Math.min(...priced.map((c) => c.hourlyPriceUsd!))
  if (heads.length === 0) return {plan, maxUsdPerHour: null, breaches: [], cheapestUsdPerHour: cheapest}
  const max = Math.min(...heads.map((h) => h.leftUsdPerHour))
  // A cent's thousandth of slack: prices summed from rounded parts must not fail by rounding.
  const fits = (c: Candidate): boolean => c.hourlyPriceUsd !== null && c.hourlyPriceUsd <= max + 1e-9
  const kept = plan.candidates.filter(fits).map((c, i) => ({...c, rank: i + 1}))
  const breaches = kept.length > 0 ? [] : heads.filter((h) => cheapest === null || cheapest > h.leftUsdPerHour + 1e-9)
  return {
    plan: {...plan, candidates: kept, chosen: kept[0] ?? null, feasibleCount: kept.length},
    maxUsdPerHour: max,
    breaches,
    cheapestUsdPerHour: cheapest,
  }
}

function round(n: number): number {
  return Math.round(n * 1e6) / 1e6
}
