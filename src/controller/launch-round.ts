// One launch round of the failover loop: the plan's candidates in order, each launched
// with its intent recorded first; a classified failure blocks its scope (zone, region,
// provider) before the next. Also the way back for an attempt whose launch answer was lost
// (a controller killed between "requested" and "recorded"): find it by tag, or launch
// again with the same idempotency key.
import type {Offer} from '../model/catalog.js'
import type {CheckpointSync, GangObjects} from '../model/checkpoint.js'
import {ProviderError, asProviderError} from '../errors.js'
import {withDeadline} from '../util/deadline.js'
import {noFeasiblePlanError} from '../planner/explain.js'
import type {BlockedScope, Candidate} from '../planner/types.js'
import type {LaunchRequest, Provider} from '../providers/provider.js'
import {renderSecretsObject, secretsUrlSeconds} from '../providers/vm/boot-script.js'
import type {LaunchHandle} from '../model/attempt.js'
import type {AttemptHold} from '../runner/contract.js'
import type {JobSpec} from '../model/job-spec.js'
import {type AttemptRecord, type JobRecord, TERMINAL_JOB_STATES} from '../model/records.js'
import {contractEnv} from './contract-env.js'
import type {Replanned} from '../planner/replanner.js'
import {billingPolicy} from './cost.js'
import type {JobDrive} from './drive.js'

/** One candidate's launch budget when SKYHOP_CANDIDATE_TIMEOUT_SECONDS is not set. */
export const DEFAULT_CANDIDATE_TIMEOUT_SECONDS = 180
/** Most a tag lookup after a launch that failed in transit may take. */
export const TAG_LOOKUP_BUDGET_MS = 30_000
/** A launch round's budget when SKYHOP_LAUNCH_TIMEOUT_SECONDS is not set. */
export const DEFAULT_LAUNCH_TIMEOUT_SECONDS = 900

function secondsFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]
  const n = raw === undefined || raw.trim() === '' ? Number.NaN : Number(raw)
  return (Number.isFinite(n) && n >= 0 ? n : fallback) * 1000
}

/** The budgets of a launch: one candidate's, and the round's (ms; 0 = none). */
export function launchBudgets(env: NodeJS.ProcessEnv = process.env): {candidateMs: number; launchMs: number} {
  return {
    candidateMs: secondsFromEnv(env, 'SKYHOP_CANDIDATE_TIMEOUT_SECONDS', DEFAULT_CANDIDATE_TIMEOUT_SECONDS),
    launchMs: secondsFromEnv(env, 'SKYHOP_LAUNCH_TIMEOUT_SECONDS', DEFAULT_LAUNCH_TIMEOUT_SECONDS),
  }
}

export class LaunchRounds {
  /** When the current launch round stops starting candidates (ms since the epoch); null: no bound. */
  private launchEndsAt: number | null = null

  constructor(private readonly d: JobDrive) {}

  /** One round of the failover loop. True when an attempt was launched. */
  async launchRound(job: JobRecord): Promise<boolean> {
    // Wall time, as the deadlines of the calls are: the round's bound, or retry-until-up's when longer.
    const launchMs = this.d.deps.launchBudgetMs ?? launchBudgets(this.d.deps.env ?? process.env).launchMs
    this.launchEndsAt = launchMs > 0 ? Date.now() + Math.max(launchMs, this.d.deps.retryUntilUpMs ?? 0) : null
    try {
      return await this.rounds(job)
    } finally {
      // A candidate tried outside a round (a held move to spot) has its own budget only.
      this.launchEndsAt = null
    }
  }

  private async rounds(job: JobRecord): Promise<boolean> {
    const deadline = this.d.clock().getTime() + (this.d.deps.retryUntilUpMs ?? 0)
    const failures: Array<{candidate: string; error: ProviderError}> = []
    for (let round = 0; ; round++) {
      let planned = await this.d.plan(job, [...this.d.blocked, ...this.d.preemptionBlocks])
      if (planned.replanned.plan.candidates.length === 0 && this.d.preemptionBlocks.length > 0) {
        // Nothing left but where we were preempted: going back there beats giving up.
        this.d.emit('replan', 'no other candidate than where the job was preempted; going back there')
        this.d.preemptionBlocks.length = 0
        planned = await this.d.plan(job, this.d.blocked)
      }
      if (this.d.preemptionBlocks.length > 0 && job.spec.spot !== 'on-demand' && !planned.replanned.plan.candidates.some((c) => c.spot)) {
        // Eager-next-region passes over the region that preempted the job while another
        // region has spot; where none has, the region's other zones come before on-demand or
        // a wait (a zone's spot outage is often not its neighbour's, and a launch that finds
        // no capacity costs nothing). The zone that just took spot back stays out for now.
        const last = this.d.journal.attempts(job.id).at(-1)
        const gone: BlockedScope[] =
          last?.spot && last.zone
            ? [{provider: last.provider, region: last.region, zone: last.zone, market: 'spot', reason: 'preempted'}]
            : []
        const open = await this.d.plan(job, [...this.d.blocked, ...gone])
        if (open.replanned.plan.candidates.some((c) => c.spot)) {
          this.d.emit('replan', 'no spot outside the region where the job was preempted; trying its zones before on-demand')
          this.d.preemptionBlocks.length = 0
          planned = open
        }
      }
      const {replanned, spec} = planned
      const candidates: Array<{candidate: Candidate; replanned: Replanned; spec: JobSpec}> = replanned.plan.candidates
        .slice(0, this.d.deps.maxCandidatesPerRound ?? 25)
        .map((candidate) => ({candidate, replanned, spec}))
      if (candidates.length === 0 && failures.length === 0) throw noFeasiblePlanError(replanned.plan)
      // Spot the plan leaves out for the deadline, tried first while on-demand stays a fallback in time.
      const net = await this.d.spot.fallbackSpot(job, replanned.plan, [...this.d.blocked, ...this.d.preemptionBlocks], 0)
      if (net !== null) {
        this.d.emit(
          'respot-fallback',
          `trying spot before on-demand: ${net.ahead ? 'the job is ahead of schedule and ' : ''}on-demand would still finish by the deadline after a preemption at once`,
        )
        candidates.unshift(
          ...net.spot
            .slice(0, this.d.deps.maxCandidatesPerRound ?? 25)
            .map((candidate) => ({candidate, replanned: net.free.replanned, spec: net.free.spec})),
        )
      }
      // Signed once a round: a store the job cannot reach is the job's problem, not a candidate's.
      const sync = (await this.d.deps.checkpointSync?.(job)) ?? null
      let waitMs: number | null = null
      let waitConsidered = false
      let spent = false
      for (const {candidate, replanned, spec} of candidates) {
        // A failure earlier in this round may have blocked this candidate's zone, region or provider.
        if (this.d.blocked.some((b) => covers(b, candidate))) continue
        if (this.launchEndsAt !== null && Date.now() >= this.launchEndsAt) {
          spent = true
          this.d.emit('launch-budget-spent', `the launch's time budget is spent; ${describe(candidate)} and the rest are not tried`)
          break
        }
        if (!candidate.spot && !waitConsidered) {
          // About to go on-demand: with a deadline far enough, waiting for spot is cheaper.
          waitConsidered = true
          waitMs = await this.d.spot.waitForSpot(job)
          if (waitMs !== null) break
        }
        const outcome = await this.tryCandidate(job, candidate, replanned, spec, sync)
        if (outcome === 'launched') {
          this.d.outagesSeen.clear()
          this.d.spot.afterProbe(candidate)
          return true
        }
        if (outcome === 'job-ended') return false
        failures.push({candidate: candidate.key, error: outcome})
      }
      if (waitMs !== null) {
        if (!(await this.d.sleepWhileLive(waitMs))) return false
        // Capacity comes back, and the region that preempted the job may have spot again.
        this.d.dropTransientBlocks()
        this.d.preemptionBlocks.length = 0
        job = this.d.job()
        if (TERMINAL_JOB_STATES.has(job.state)) return false
        continue
      }
      if (spent || this.d.clock().getTime() >= deadline) break
      // Retry until up: capacity comes back; wait with a capped backoff, forget zone blocks.
      const waitRetryMs = Math.min(60_000, 5_000 * 2 ** round, Math.max(0, deadline - this.d.clock().getTime()))
      this.d.emit('waiting', `no capacity anywhere; retrying in ${Math.round(waitRetryMs / 1000)} s`)
      await this.d.sleep(waitRetryMs)
      this.d.blocked.splice(0, this.d.blocked.length, ...this.d.blocked.filter((b) => b.reason === 'auth' || b.reason === 'quota'))
      job = this.d.job()
      if (TERMINAL_JOB_STATES.has(job.state)) return false
    }
    const last = failures.at(-1)?.error
    throw new ProviderError(
      last?.provider ?? 'skyhop',
      last?.category ?? 'capacity',
      `every candidate failed (${failures.length} tried); last: ${last?.message ?? 'none'}`,
      {
        code: 'ALL_CANDIDATES_FAILED',
        hint: 'See `skyhop status JOB` for the reason per candidate; `--retry-until-up` keeps trying.',
        details: {
          failures: failures.map((f) => ({
            candidate: f.candidate,
            code: f.error.code,
            category: f.error.category,
            message: f.error.message,
          })),
        },
      },
    )
  }

  async tryCandidate(
    job: JobRecord,
    candidate: Candidate,
    replanned: Replanned,
    planned: JobSpec,
    sync: CheckpointSync | null,
    options: {held?: boolean} = {},
  ): Promise<'launched' | 'job-ended' | ProviderError> {
    const provider = this.d.deps.providers.get(candidate.provider)
    const offer = replanned.offerOf(candidate)
    if (!provider || !offer) {
      const error = new ProviderError(candidate.provider, 'unavailable', 'provider is not configured here', {scope: 'provider'})
      this.d.blocked.push({provider: candidate.provider, reason: 'unavailable'})
      return error
    }
    const workPerHour = planned.work !== null && candidate.estimatedRunHours > 0 ? planned.work.hours / candidate.estimatedRunHours : null
    const attempt = this.d.journal.recordIntent({
      jobId: job.id,
      ...placementOf(candidate),
      onDemandPricePerHour: offer.price.onDemand === null ? null : offer.price.onDemand * candidate.nodes,
      billingGranularitySeconds: billingPolicy(candidate.provider).granularitySeconds,
      workPerHour,
    })
    if (!attempt) return 'job-ended'
    this.d.workRates.set(attempt.id, workPerHour)
    this.d.emit('launching', `launching on ${describe(candidate)}${options.held ? ', held until the on-demand attempt has stopped' : ''}`, {
      attemptId: attempt.id,
    })
    let request: LaunchRequest | null = null
    try {
      const hold = options.held ? await this.d.holds.holdFor(job, attempt.id, provider) : null
      if (hold !== null)
        this.d.journal.recordEvent(job.id, attempt.id, 'attempt-held', {
          via: 'file' in hold ? 'file' : 'store',
          timeoutSeconds: hold.timeoutSeconds,
        })
      this.d.holds.noteHold(attempt.id, hold)
      const sent = await this.withSecretsObject(
        job,
        provider,
        this.launchRequest(job, attempt, offer, candidate.spot, provider, sync, hold, await this.gangObjects(job, attempt.id, provider)),
      )
      request = sent
      const handle = await this.underBudget(job, attempt.id, describe(candidate), () =>
        this.d.withTransientRetry(provider, () => provider.launch(sent)),
      )
      this.d.journal.recordOutcome(
        attempt.id,
        {state: 'PENDING', handle, launchedAt: this.d.clock().toISOString()},
        {
          kind: 'attempt-launched',
          data: {externalId: handle.externalId, checkpointDir: request.checkpointDir, checkpointStore: sync?.location ?? null},
        },
      )
      // A held attempt waits beside the running one, which still is the job's state.
      if (hold === null) await this.afterLaunched(attempt.id, provider, handle)
      return 'launched'
    } catch (error) {
      let perr = asProviderError(candidate.provider, error)
      let unknown = false
      // A launch that kept failing in transit may still have reached the backend.
      if (perr.category === 'transient') {
        const found = await this.lookUpAfterFailure(candidate, () => this.adoptByTag(provider, attempt, 'attempt-launched'))
        if (found === 'adopted') return 'launched'
        if (found === 'unknown' && request !== null) {
          // Nobody can say whether the create took effect: nothing else is launched until it is
          // settled, by the tag or by the same idempotency key (docs/recovery.md).
          const settled = await this.settleUnknown(job, attempt, provider, request, describe(candidate), perr)
          if (settled === 'adopted') return 'launched'
          if (settled === 'unknown') unknown = true
          else perr = settled
        }
      }
      if (unknown) {
        // Still unknown at the bound: the provider cannot be reached even to look. Its other
        // candidates are passed over (a second create there would not be settled either), and
        // the attempt's tag lets `down --orphans` find an instance that did start.
        this.d.blocked.push({provider: candidate.provider, reason: 'unavailable'})
      }
      this.d.journal.recordOutcome(
        attempt.id,
        {
          state: 'FAILED',
          endedAt: this.d.clock().toISOString(),
          reason: unknown ? `${perr.message}; whether the instance was created is unknown (the provider could not be asked)` : perr.message,
          error: perr.toJSON() as unknown as Record<string, unknown>,
        },
        {
          kind: 'attempt-launch-failed',
          data: {code: perr.code, category: perr.category, scope: perr.scope, backendCode: perr.backendCode ?? null},
        },
      )
      await this.d.ends.deleteObjects(provider, attempt)
      // A zone found out of capacity again while the job waits is the same outage, not fresh
      // evidence: one observation per zone until the job launches somewhere, so a long wait
      // does not pile up failures the planner would read as a zone that never has capacity.
      const scope = `${candidate.provider}|${candidate.region}|${candidate.zone ?? ''}|${candidate.accelerator?.name ?? ''}|${candidate.spot ? 'spot' : 'od'}`
      if (perr.category === 'quota' || (perr.category === 'capacity' && !this.d.outagesSeen.has(scope))) {
        if (perr.category === 'capacity') this.d.outagesSeen.add(scope)
        this.d.journal.recordObservation({
          provider: candidate.provider,
          region: candidate.region,
          zone: candidate.zone,
          accelerator: candidate.accelerator?.name ?? null,
          spot: candidate.spot,
          kind: perr.category === 'capacity' ? 'capacity-failure' : 'quota-failure',
          valueSeconds: null,
        })
      }
      if (perr.category === 'user') throw perr
      this.d.blocked.push(blockFor(perr, candidate))
      this.d.emit('failover', `${describe(candidate)} failed (${perr.category}): ${perr.message}; trying the next candidate`, {
        attemptId: attempt.id,
      })
      return perr
    }
  }

  /**
   * A create whose answer never came and whose tag look-up failed too: the backend may hold an
   * instance for this attempt. Until the round's bound (at most two candidate budgets), look
   * for it by its tag again and send the same request again (the same idempotency key: a
   * backend that has the instance answers with it, one that has not creates it once), with a
   * backoff. 'adopted' once it is recorded; the backend's definite refusal (it answered, so
   * no instance exists for the key) as the error; 'unknown' when the bound came first.
   */
  private async settleUnknown(
    job: JobRecord,
    attempt: AttemptRecord,
    provider: Provider,
    request: LaunchRequest,
    where: string,
    first: ProviderError,
  ): Promise<'adopted' | 'unknown' | ProviderError> {
    const own = this.d.deps.candidateBudgetMs ?? launchBudgets(this.d.deps.env ?? process.env).candidateMs
    const span = own > 0 ? 2 * own : 2 * TAG_LOOKUP_BUDGET_MS
    const until = Math.min(this.launchEndsAt ?? Number.POSITIVE_INFINITY, Date.now() + span)
    this.d.journal.recordEvent(job.id, attempt.id, 'attempt-outcome-unknown', {candidate: where, code: first.code, message: first.message})
    this.d.emit(
      'launch-unknown',
      `${where}: the launch's answer never came and the look-up failed; settling it before anything else is launched`,
      {
        attemptId: attempt.id,
      },
    )
    let delayMs = 500
    while (Date.now() < until) {
      await this.d.sleep(Math.max(1, Math.min(delayMs, until - Date.now())))
      delayMs = Math.min(delayMs * 2, 8_000)
      const left = until - Date.now()
      if (left <= 0) break
      const budget = Math.max(1, own > 0 ? Math.min(own, left) : left)
      const found = await withDeadline(budget, `the tag lookup of ${attempt.id} on ${where}`, () =>
        this.adoptByTag(provider, attempt, 'attempt-reconciled'),
      )
      if (found === 'adopted') return 'adopted'
      try {
        const handle = await withDeadline(Math.max(1, Math.min(budget, until - Date.now())), `the launch on ${where}`, () =>
          this.d.withTransientRetry(provider, () => provider.launch(request)),
        )
        await this.recordFound(attempt.id, provider, handle, 'attempt-reconciled', 'idempotency-key')
        return 'adopted'
      } catch (error) {
        const perr = asProviderError(attempt.provider, error)
        if (perr.category !== 'transient') return perr
      }
    }
    return 'unknown'
  }

  /**
   * A candidate's launch under its budget (and what is left of the round's): every remote
   * call in it stops at the deadline (http/deadline.ts), and each retry in it is progress,
   * an event in the store (`status` shows it) and a line for a person watching.
   */
  private underBudget<T>(job: JobRecord, attemptId: string, where: string, fn: () => Promise<T>): Promise<T> {
    const own = this.d.deps.candidateBudgetMs ?? launchBudgets(this.d.deps.env ?? process.env).candidateMs
    const left = this.launchEndsAt === null ? null : Math.max(1, this.launchEndsAt - Date.now())
    const budgetMs = own > 0 ? Math.min(own, left ?? own) : left
    if (budgetMs === null) return fn()
    return withDeadline(budgetMs, `the launch on ${where}`, fn, {
      onRetry: (notice) => {
        const message = `${where}: try ${notice.attempt} failed (${notice.reason}); retrying in ${(notice.delayMs / 1000).toFixed(1)} s`
        this.d.journal.recordEvent(job.id, attemptId, 'launch-retry', {
          candidate: where,
          attempt: notice.attempt,
          delayMs: Math.round(notice.delayMs),
          reason: notice.reason,
          budgetMs,
        })
        this.d.emit('launch-retry', message, {attemptId})
      },
    })
  }

  /**
   * The tag lookup after a launch that failed in transit, under a budget of its own (the
   * candidate's is likely spent: a silent endpoint is what spends it): at most
   * TAG_LOOKUP_BUDGET_MS, so the launch's bound grows by that once, for its last candidate.
   */
  private lookUpAfterFailure(candidate: Candidate, fn: () => Promise<TagLookup>): Promise<TagLookup> {
    const own = this.d.deps.candidateBudgetMs ?? launchBudgets(this.d.deps.env ?? process.env).candidateMs
    if (own <= 0 && this.launchEndsAt === null) return fn()
    const budgetMs = own > 0 ? Math.min(own, TAG_LOOKUP_BUDGET_MS) : TAG_LOOKUP_BUDGET_MS
    return withDeadline(budgetMs, `the tag lookup after the launch on ${describe(candidate)}`, fn)
  }

  private launchRequest(
    job: JobRecord,
    attempt: AttemptRecord,
    offer: Offer,
    spot: boolean,
    provider: Provider,
    sync: CheckpointSync | null,
    hold: AttemptHold | null = null,
    gang: GangObjects | null = null,
  ): LaunchRequest {
    const storage = provider.attemptStorage ?? 'shared'
    if (storage === 'per-instance' && !sync && job.spec.spot !== 'on-demand' && job.spec.checkpoint.dir === null) {
      const message = `checkpoints on ${provider.name} live on the instance and go with it; set checkpoint.store to resume from them elsewhere`
      this.d.emit('warning', message, {attemptId: attempt.id})
      // Also an event of the job, for `skyhop status JOB` (the README's promise); once per provider, not per attempt.
      const said = this.d.journal.events(job.id).some((e) => e.kind === 'checkpoint-store-missing' && e.data.provider === provider.name)
      if (!said) this.d.journal.recordEvent(job.id, attempt.id, 'checkpoint-store-missing', {provider: provider.name, message})
    }
    // A migration restarts the job from its checkpoint too, though it is no preemption.
    this.d.migrations ??= this.d.journal.events(job.id).filter((e) => e.kind === 'attempt-migrated').length
    // A held attempt is the move it belongs to: it starts from the checkpoint the attempt it replaces leaves.
    const restartCount = job.restarts + job.errorRestarts + this.d.migrations + (hold === null ? 0 : 1)
    const {env, secrets, checkpointDir} = contractEnv({
      job,
      attempt,
      home: this.d.deps.home,
      processEnv: this.d.deps.env ?? process.env,
      storage,
      restartCount,
    })
    return {
      jobId: job.id,
      jobName: job.name,
      attemptId: attempt.id,
      attempt: attempt.n,
      restartCount,
      idempotencyKey: attempt.id,
      spec: job.spec,
      offer,
      spot,
      env,
      ...(Object.keys(secrets).length === 0 ? {} : {secrets}),
      checkpointDir,
      checkpointSync: sync,
      hold,
      ...(gang === null ? {} : {gang}),
      graceSeconds: job.spec.recovery.graceSeconds,
    }
  }

  /**
   * An attempt on machines of its own gets signed objects in the job's store: a gang shares its
   * peer list and notice there, and any node GETs its runner from there when the user data
   * cannot carry it (vm/boot-script.ts bootUserData). One on skyhop's filesystem (local, Slurm)
   * uses files instead.
   */
  private async gangObjects(job: JobRecord, attemptId: string, provider: Provider): Promise<GangObjects | null> {
    if ((provider.attemptStorage ?? 'shared') !== 'per-instance') return null
    return (await this.d.deps.attemptHolds?.gangObjects?.(job, attemptId)) ?? null
  }

  /**
   * A cloud attempt's secrets travel in a one-time object of the job's store, written here
   * just before the launch, never in the instance's user data (which anyone allowed to
   * describe the instance can read). Nothing for an attempt on skyhop's own filesystem
   * (local, Slurm: the runner's environment) or for a job without secrets; a job without a
   * store gets no object, and the cloud provider refuses it (SECRETS_NEED_STORE).
   */
  private async withSecretsObject(job: JobRecord, provider: Provider, given: LaunchRequest): Promise<LaunchRequest> {
    const shipped = await this.withShipObjects(job, provider, given)
    // The job's files: and outputs:, signed for this attempt; a shared filesystem gets the list itself.
    const shared = (provider.attemptStorage ?? 'shared') !== 'per-instance'
    const transfers = (await this.d.deps.attemptHolds?.transfers?.(job, shipped.attemptId, shared)) ?? null
    const request = transfers ? {...shipped, transfers} : shipped
    if ((provider.attemptStorage ?? 'shared') !== 'per-instance' || provider.ownSecretStore || !request.secrets) return request
    // Its URLs work for what this attempt's boot needs, not longer: the GET sits in user data.
    const candidateMs =
      this.d.deps.candidateBudgetMs || launchBudgets(this.d.deps.env ?? process.env).candidateMs || DEFAULT_CANDIDATE_TIMEOUT_SECONDS * 1000
    const urlSeconds = secretsUrlSeconds(candidateMs / 1000, (request.spec.nodes ?? 1) > 1)
    const object = await this.d.deps.attemptHolds?.putSecrets?.(job, request.attemptId, renderSecretsObject(request.secrets), urlSeconds)
    return object ? {...request, secretsObject: object} : request
  }

  /**
   * A cloud attempt ships its output.log and utilisation samples to the job's store (ShipObjects),
   * so `logs` outlives the instance and the idle policy sees the samples. Without a store they
   * stay on the instance: an event says so (once per provider), and the job runs on.
   */
  private async withShipObjects(job: JobRecord, provider: Provider, request: LaunchRequest): Promise<LaunchRequest> {
    if ((provider.attemptStorage ?? 'shared') !== 'per-instance' || !provider.shipsAttemptFiles) return request
    const ship = (await this.d.deps.attemptHolds?.shipObjects?.(job, request.attemptId)) ?? null
    if (ship) {
      // Temporary credentials sign URLs that die with them: the list is signed again while a
      // controller drives the job (ShipRenewal), with credentials loaded again by then;
      // without that, shipping stops when they expire (the runner says so).
      const hours = (Date.parse(ship.expiresAt) - this.d.clock().getTime()) / 3_600_000
      if (hours < 24) {
        this.d.journal.recordEvent(job.id, request.attemptId, 'ship-urls-expire', {
          expiresAt: ship.expiresAt,
          message: `the store's credentials sign URLs valid for ${hours.toFixed(1)} h: they are signed again while a controller drives the job and fresh credentials can be loaded; failing that, after ${ship.expiresAt} this attempt's output and samples stay on the instance`,
        })
      }
      return {...request, ship}
    }
    const said = this.d.journal.events(job.id).some((e) => e.kind === 'logs-not-shipped' && e.data.provider === provider.name)
    if (!said) {
      // A pod is Kubernetes' unit, an instance every other per-instance provider's.
      const where = provider.name === 'kubernetes' ? 'pod' : 'instance'
      const message = `the output and utilisation samples of attempts on ${provider.name} stay on the ${where} and go with it (no checkpoint.store): \`logs\` cannot show them once it is gone, and the idle policy cannot act there`
      this.d.journal.recordEvent(job.id, request.attemptId, 'logs-not-shipped', {provider: provider.name, message})
      this.d.emit('warning', message, {attemptId: request.attemptId})
    }
    return request
  }

  /**
   * The job's last state change after a launch. A cancel that landed while the launch call
   * was in flight did not see this attempt (it had no handle yet): stop it here.
   */
  /** A run found for an attempt whose launch outcome was unknown (by its tag, or its idempotency key): it is the attempt's. */
  private async recordFound(
    attemptId: string,
    provider: Provider,
    handle: LaunchHandle,
    kind: string,
    foundBy: 'tag' | 'idempotency-key',
  ): Promise<void> {
    this.d.journal.recordOutcome(
      attemptId,
      {state: 'PENDING', handle, launchedAt: this.d.clock().toISOString()},
      {kind, data: {externalId: handle.externalId, foundBy}},
    )
    await this.afterLaunched(attemptId, provider, handle)
  }

  private async afterLaunched(attemptId: string, provider: Provider, handle: LaunchHandle): Promise<void> {
    const job = this.d.job()
    if (TERMINAL_JOB_STATES.has(job.state)) {
      const asked = [...this.d.journal.events(job.id)].reverse().find((e) => e.kind === 'cancel-requested')?.data.graceSeconds
      const grace = typeof asked === 'number' ? asked : job.spec.recovery.graceSeconds
      this.d.emit('stopping', `the job ended (${job.state}) while attempt ${attemptId} was being launched; stopping it`, {attemptId})
      this.d.stopping.set(attemptId, this.d.clock().getTime() + (grace + 60) * 1000)
      await provider.signal(handle, 'cancel', grace).catch((error: unknown) => {
        this.d.journal.recordEvent(this.d.jobId, attemptId, 'cancel-failed', {message: asProviderError(provider.name, error).message})
      })
      return
    }
    this.d.journal.recordJobState(job.id, 'PROVISIONING', {kind: 'job-provisioning', attemptId})
  }

  /**
   * Finds the run an attempt started by the tags every launch puts on it (the attempt id),
   * and records its handle. The way back when the launch's answer was lost: a controller
   * killed between "requested" and "recorded", or a call that timed out after it landed.
   */
  private async adoptByTag(provider: Provider, attempt: AttemptRecord, kind: string): Promise<TagLookup> {
    if (!provider.listOwned) return 'absent'
    let found: LaunchHandle | undefined
    try {
      const owned = await this.d.withTransientRetry(provider, () => provider.listOwned!({regions: [attempt.region], attemptId: attempt.id}))
      found = owned.find((h) => h.data.attemptId === attempt.id)
    } catch {
      // The backend could not be asked: whether it holds the run is unknown.
      return 'unknown'
    }
    if (!found) return 'absent'
    // The tags do not say where its output and samples go: the job's store, as its launch signed them.
    const ship = provider.shipsAttemptFiles && !found.data.ship ? this.d.deps.attemptHolds?.shipRef?.(this.d.job()) : null
    if (ship) found = {...found, data: {...found.data, ship}}
    await this.recordFound(attempt.id, provider, found, kind, 'tag')
    return 'adopted'
  }

  /**
   * The half of reconcileRequested that needs no secrets: the run a killed controller launched,
   * found by its tag and recorded. False when there is none (or the backend cannot say).
   */
  async adoptRequested(attempt: AttemptRecord): Promise<boolean> {
    const provider = this.d.deps.providers.get(attempt.provider)
    return provider ? (await this.adoptByTag(provider, attempt, 'attempt-reconciled')) === 'adopted' : false
  }

  /**
   * An attempt recorded as REQUESTED without a handle: its controller died around the
   * launch call. A run that call started carries the attempt id in its tags, so look for
   * it first; if there is none, launch again on exactly the recorded offer with the same
   * idempotency key, so a request the backend did receive is answered with the same run.
   */
  async reconcileRequested(job: JobRecord, attempt: AttemptRecord): Promise<void> {
    const provider = this.d.deps.providers.get(attempt.provider)
    if (!provider) {
      this.d.journal.recordOutcome(
        attempt.id,
        {state: 'LOST', endedAt: this.d.clock().toISOString(), reason: `provider ${attempt.provider} is not configured here`},
        {kind: 'attempt-lost'},
      )
      return
    }
    if ((await this.adoptByTag(provider, attempt, 'attempt-reconciled')) === 'adopted') return
    const replanned = await this.d.deps.replan(job.spec, [])
    const key = attemptOfferKey(attempt)
    // Exactly the recorded offer (zone included), even if the plan no longer ranks it.
    const offer = replanned.offerOf({
      offerKey: key,
      accelerator: attempt.accelerator === null ? null : {name: attempt.accelerator, count: attempt.acceleratorCount ?? 1},
    })
    if (!offer) {
      // The offer left the catalog; if the backend has the run by tag it will still be found.
      this.d.journal.recordOutcome(
        attempt.id,
        {state: 'LOST', endedAt: this.d.clock().toISOString(), reason: 'offer no longer in the catalog'},
        {kind: 'attempt-lost'},
      )
      return
    }
    try {
      const sync = (await this.d.deps.checkpointSync?.(job)) ?? null
      const gang = await this.gangObjects(job, attempt.id, provider)
      const request = await this.withSecretsObject(
        job,
        provider,
        this.launchRequest(job, attempt, offer, attempt.spot, provider, sync, null, gang),
      )
      const where = `${attempt.provider}/${attempt.region}${attempt.zone ? `/${attempt.zone}` : ''} ${attempt.instanceType}`
      const handle = await this.underBudget(job, attempt.id, where, () =>
        this.d.withTransientRetry(provider, () => provider.launch(request)),
      )
      await this.recordFound(attempt.id, provider, handle, 'attempt-reconciled', 'idempotency-key')
    } catch (error) {
      const perr = asProviderError(attempt.provider, error)
      this.d.journal.recordOutcome(
        attempt.id,
        {
          state: 'FAILED',
          endedAt: this.d.clock().toISOString(),
          reason: perr.message,
          error: perr.toJSON() as unknown as Record<string, unknown>,
        },
        {kind: 'attempt-launch-failed'},
      )
      await this.d.ends.deleteObjects(provider, attempt)
    }
  }
}

/** What a look-up by the attempt's tag found: the run (recorded), none, or nothing (the backend could not be asked). */
type TagLookup = 'adopted' | 'absent' | 'unknown'

/** Where and at what price an attempt or a service's replica runs, as its intent records it: the candidate's. */
export function placementOf(
  c: Candidate,
): Pick<
  AttemptRecord,
  'provider' | 'region' | 'zone' | 'instanceType' | 'accelerator' | 'acceleratorCount' | 'spot' | 'pricePerHour' | 'currency'
> {
  return {
    provider: c.provider,
    region: c.region,
    zone: c.zone,
    instanceType: c.instanceType,
    accelerator: c.accelerator?.name ?? null,
    acceleratorCount: c.accelerator?.count ?? null,
    spot: c.spot,
    pricePerHour: c.hourlyPrice?.amount ?? null,
    currency: c.hourlyPrice?.currency ?? null,
  }
}

/** The offer key of the offer an attempt runs on (planner/offer-index.ts offerKey). */
export function attemptOfferKey(a: AttemptRecord): string {
  return `${a.provider}/${a.region}/${a.zone ?? '-'}/${a.instanceType}`
}

function describe(c: Candidate): string {
  const acc = c.accelerator ? ` ${c.accelerator.name}:${c.accelerator.count}` : ''
  return `${c.provider}/${c.region}${c.zone ? '/' + c.zone : ''} ${c.instanceType}${acc}${c.spot ? ' (spot)' : ''}`
}

/** Whether a block applies to a candidate: fields a block leaves out match anything. */
export function covers(b: BlockedScope, c: Candidate): boolean {
  return (
    b.provider === c.provider &&
    (b.region == null || b.region === c.region) &&
    (b.zone == null || b.zone === c.zone) &&
    (b.instanceType == null || b.instanceType === c.instanceType) &&
    (b.market == null || b.market === (c.spot ? 'spot' : 'on-demand'))
  )
}

/** What to stop trying after a failure, from the error's scope. */
export function blockFor(error: ProviderError, c: Candidate): BlockedScope {
  const reason = error.category
  // Spot and on-demand are different markets: no spot capacity in a zone says nothing
  // about on-demand there, which is often the safety net that still meets the deadline.
  const market = error.category === 'capacity' && c.spot ? ({market: 'spot'} as const) : {}
  switch (error.scope) {
    case 'provider':
      return {provider: c.provider, reason}
    case 'region':
      return {provider: c.provider, region: c.region, ...market, reason}
    case 'zone':
      return {provider: c.provider, region: c.region, zone: c.zone, ...market, reason}
    default:
      return {
        provider: c.provider,
        region: c.region,
        zone: c.zone,
        instanceType: c.instanceType,
        market: c.spot ? 'spot' : 'on-demand',
        reason,
      }
  }
}
