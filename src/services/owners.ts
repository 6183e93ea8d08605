// Owners, roles and budgets as the services apply them (docs/configuration.md#owners-roles-and-budgets):
// who is acting, whether they may act on someone else's job, sweep or service, and whether a
// launch fits the budgets on its owner's running spend. The arithmetic of budgets is the
// planner's (src/planner/spend-budget.ts); this gathers what it needs and words the refusals.
import {type SkyhopConfig, identityOf} from '../config.js'
import type {ReplicaBudget} from '../controller/service-controller.js'
import {BudgetExceededError, PermissionError} from '../errors.js'
import {amountInUsd, type FxRates} from '../model/currency.js'
import type {Currency, JobSpec} from '../model/job-spec.js'
import {TERMINAL_REPLICA_STATES} from '../model/service.js'
import {type BudgetHeadroom, type BudgetVerdict, budgetHeadroom, withinBudgets} from '../planner/spend-budget.js'
import type {Plan} from '../planner/types.js'
import {ServiceStore} from '../state/services.js'
import type {Store} from '../state/store.js'

export interface Actor {
  user: string
  admin: boolean
}

/** Who runs this command, and whether the config gives them the admin role. */
export function actorOf(config: SkyhopConfig, env: NodeJS.ProcessEnv = process.env): Actor {
  const user = identityOf(config, env)
  return actorNamed(config, user)
}

/** A user named otherwise than by this process's identity (a dashboard's per-user token), with their role from the config. */
export function actorNamed(config: SkyhopConfig, user: string): Actor {
  return {user, admin: (config.roles?.admin ?? []).includes(user)}
}

const VERBS = {cancel: 'cancel', preempt: 'preempt', stop: 'stop'} as const

/**
 * Acting on what someone else launched needs the admin role. Records from before owners (no
 * owner) are everyone's.
 */
export function requireMayAct(
  actor: Actor,
  target: {kind: 'job' | 'sweep' | 'service'; id: string; name: string; owner: string | null},
  action: keyof typeof VERBS,
): void {
  if (target.owner === null || target.owner === actor.user || actor.admin) return
  throw new PermissionError(
    `${actor.user} may not ${VERBS[action]} ${target.kind} ${target.name} (${target.id}): it belongs to ${target.owner}`,
    {
      hint: `Acting on another user's ${target.kind} needs the admin role: \`roles: {admin: [${actor.user}]}\` in the config (docs/configuration.md#owners-roles-and-budgets). Ask ${target.owner} or an admin.`,
      details: {user: actor.user, owner: target.owner, action, [`${target.kind}Id`]: target.id},
    },
  )
}

/** The limits the config sets, in the planner's terms; null when it sets none. */
function limitsOf(config: SkyhopConfig) {
  const budgets = config.budgets ?? {users: {}, teams: {}}
  if (Object.keys(budgets.users).length === 0 && Object.keys(budgets.teams).length === 0) return null
  return {users: budgets.users, teams: budgets.teams, members: config.teams ?? {}}
}

/** The limits on `owner` and what each has left, from everyone's running spend now: jobs (sweeps' included) and services. */
export function headroomFor(config: SkyhopConfig, store: Store, owner: string, fx: FxRates): BudgetHeadroom[] {
  const limits = limitsOf(config)
  if (limits === null) return []
  const running = [...store.runningSpendByOwner(fx), ...new ServiceStore(store).runningSpendByOwner(fx)]
  return budgetHeadroom(owner, limits, running)
}

/**
 * The plan within the owner's budgets: the candidates that fit, or BUDGET_EXCEEDED (exit 9) with
 * the numbers when none does.
 */
export function planWithinBudgets(plan: Plan, heads: readonly BudgetHeadroom[], owner: string, jobName: string): BudgetVerdict {
  const verdict = withinBudgets(plan, heads)
  if (verdict.plan.candidates.length === 0 && heads.length > 0) throw budgetError(verdict, owner, jobName)
  return verdict
}

function budgetError(
  verdict: Pick<BudgetVerdict, 'breaches' | 'cheapestUsdPerHour'>,
  owner: string,
  jobName: string,
  extra: Record<string, unknown> = {},
): BudgetExceededError {
  const usd = (n: number) => `${n.toFixed(2)} USD/h`
  const adds = verdict.cheapestUsdPerHour === null ? null : verdict.cheapestUsdPerHour
  const parts = verdict.breaches.map((b) => {
    const whose = b.scope === 'user' ? `${b.name}'s budget` : `team ${b.name}'s budget`
    return `${whose} is ${usd(b.limitUsdPerHour)} with ${usd(b.runningUsdPerHour)} running (${usd(b.leftUsdPerHour)} left)`
  })
  const what =
    adds === null
      ? `no candidate of ${jobName} has a known price, which a budget cannot be checked against`
      : `${jobName} would add ${usd(adds)} at the cheapest`
  return new BudgetExceededError(`launching ${jobName} would take ${owner} over budget: ${what}; ${parts.join('; ')}`, {
    hint: 'Wait for running jobs to end, cancel one (`skyhop status`), or ask for a larger budget in the config (budgets:).',
    details: {owner, addsUsdPerHour: adds, budgets: verdict.breaches, ...extra},
  })
}

/**
 * The spec a job is recorded with under a budget: its max_price lowered to what is left per
 * node, so a controller that re-plans (a failover, a preemption) stays within it too.
 */
export function specWithinBudget(spec: JobSpec, maxUsdPerHour: number | null, fx: FxRates): JobSpec {
  if (maxUsdPerHour === null) return spec
  const perNode = maxUsdPerHour / Math.max(1, spec.nodes ?? 1)
  const current = spec.maxPrice === null ? null : amountInUsd(spec.maxPrice.amount, spec.maxPrice.currency, fx)
  if (current !== null && current <= perNode) return spec
  return {...spec, maxPrice: {amount: perNode, currency: 'USD'}}
}

/**
 * Checks the budget again and records the job in one transaction, so two launches racing
 * cannot both fit in what one had left. Returns what `record` returns.
 */
export function admitWithinBudget<T>(
  config: SkyhopConfig,
  store: Store,
  input: {owner: string; jobName: string; usdPerHour: number | null; fx: FxRates},
  record: () => T,
): T {
  return store.transaction(() => {
    store.lockForBudget()
    const heads = headroomFor(config, store, input.owner, input.fx)
    if (heads.length > 0) {
      const left = Math.min(...heads.map((h) => h.leftUsdPerHour))
      if (input.usdPerHour === null || input.usdPerHour > left + 1e-9) {
        const breaches = heads.filter((h) => input.usdPerHour === null || input.usdPerHour > h.leftUsdPerHour + 1e-9)
        throw budgetError({breaches, cheapestUsdPerHour: input.usdPerHour}, input.owner, input.jobName)
      }
    }
    return record()
  })
}

/**
 * The budgets a service's controller launches replicas under (every launch after `serve up`:
 * scaling up, replacements, a look for spot, the fallback to on-demand). `config` is read at
 * each check, so a budget raised in the file applies without restarting the controller.
 *
 * A launch taking the place of a replica on its way out (under an interruption notice,
 * drained, of an older version, or on-demand about to give way to spot) is checked with that
 * replica's price lent to it while it still counts: the check is that the spend once it has
 * gone fits the budget. So a like-for-like replacement keeps a service at its size within its
 * budget, spending over it only for the overlap (the notice's grace, a replica's readiness),
 * which is what keeps requests from failing. A budget lowered beneath what runs is still kept:
 * such a replacement is refused and the service shrinks to its budget as replicas end.
 */
export function replicaBudget(input: {config: () => SkyhopConfig; store: Store; owner: string; fx: FxRates}): ReplicaBudget {
  const {store, owner, fx} = input
  const services = new ServiceStore(store)
  const heads = () => headroomFor(input.config(), store, owner, fx)
  return {
    left() {
      const now = heads()
      return now.length === 0 ? null : Math.min(...now.map((h) => h.limitUsdPerHour - h.runningUsdPerHour))
    },
    admit(launch, record) {
      return store.transaction(() => {
        store.lockForBudget()
        const now = heads()
        if (now.length === 0) return record()
        const lender = launch.replaces === null ? undefined : services.getReplica(launch.replaces)
        const credit = lender && lender.releasedAt === null && !TERMINAL_REPLICA_STATES.has(lender.state) ? usdOf(lender, fx) : 0
        const adds = launch.usdPerHour
        const breaches = now.filter((h) => adds === null || h.runningUsdPerHour - credit + adds > h.limitUsdPerHour + 1e-9)
        if (breaches.length > 0)
          throw budgetError({breaches, cheapestUsdPerHour: adds}, owner, launch.what, credit > 0 ? {replacesUsdPerHour: credit} : {})
        return record()
      })
    },
  }
}

function usdOf(r: {pricePerHour: number | null; currency: string | null}, fx: FxRates): number {
  return r.pricePerHour === null ? 0 : amountInUsd(r.pricePerHour, (r.currency ?? 'USD') as Currency, fx)
}
