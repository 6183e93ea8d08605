// `recover`: after a crash or reboot, give every unfinished job a controller again and
// stop attempts that still run for jobs that have ended (nothing left running unowned).
import {join} from 'node:path'

import type {Provider} from '../providers/provider.js'
import {TERMINAL_ATTEMPT_STATES} from '../model/attempt.js'
import {type Store} from '../state/store.js'
import {isSkyhopError, ProviderError} from '../errors.js'
import type {LaunchHandle} from '../model/attempt.js'
import {withDeadline} from '../util/deadline.js'
import {redact} from '../util/redact.js'
import {type AttemptRecord, type JobRecord, TERMINAL_JOB_STATES, UNKNOWN_CREATE_SETTLED} from '../model/records.js'
import {missingSecrets} from '../controller/contract-env.js'
import {releaseIdle} from '../controller/idle.js'
import {settleUnknownCreate} from '../controller/unknown-creates.js'
import {deleteAttemptGang, deleteAttemptSecrets, deleteAttemptTransfers} from '../controller/attempt-end.js'
import type {AttemptHoldStore} from '../checkpoint/checkpoint-store.js'
import type {ServiceContext} from './context.js'
import {
  claimTtlMs,
  confirmStart,
  type ControllerStart,
  controllerOwner,
  isControllerStart,
  type SpawnController,
  START_CONFIRM_MS,
  spawnDetachedController,
} from './controller-process.js'
import {LEASE_TTL_MS} from '../controller/controller.js'
import {ServiceStore} from '../state/services.js'

export interface RecoverResult {
  restarted: string[]
  /** Sweeps whose controller was restarted (one controller drives all of a sweep's jobs). */
  restartedSweeps: string[]
  cleaned: string[]
  /** Attempts whose job had ended but whose instance was still held past its idle timeout. */
  idleReleased: string[]
  /**
   * Jobs restarted by a controller that lacks some of their secrets (this environment's,
   * which it inherits), by name: it keeps a running attempt, but holds the job rather than
   * launch one, until a controller that has them takes over (a `recover` from such a shell).
   */
  secretsMissing: Array<{jobId: string; secrets: string[]} | {sweepId: string; secrets: string[]}>
  /** Per job (or sweep), what was done and what could not be, in the order it was tried. */
  actions: RecoverAction[]
  /** Something could not be done (a provider unreachable, a controller that would not start): run recover again. Exit 7. */
  partial: boolean
  /** Services whose controller was restarted (docs/serve.md); their replicas kept serving. */
  restartedServices: string[]
}

export type RecoverStep =
  'restart-controller' | 'restart-sweep-controller' | 'restart-service-controller' | 'stop-attempt' | 'stop-unknown-create' | 'release-idle'

export interface RecoverAction {
  step: RecoverStep
  jobId: string | null
  sweepId: string | null
  attemptId: string | null
  provider: string | null
  /** Set for a service's step (skyhop serve). */
  serviceId?: string
  ok: boolean
  /** What was done, or what could not be and why (the error's code and message). */
  message: string
  code?: string
}

/** How long recover gives one attempt's stop (poll, signal, cleanup): a silent provider costs this once per run. */
export const RECOVER_STEP_BUDGET_MS = 30_000

/** An error as recover reports it: its taxonomy code and a message with nothing secret in it. */
function failure(error: unknown): {code: string; message: string} {
  if (isSkyhopError(error)) return {code: error.code, message: redact(error.message)}
  return {code: 'INTERNAL', message: redact(error instanceof Error ? error.message : String(error))}
}

/**
 * Does all it can: one unreachable provider (or a controller that will not start) costs
 * only what depends on it. Every step is reported in `actions`, done or not; a provider that
 * failed once is not asked again in this run (each call would wait out its deadline), and
 * what it holds is reported as not done. Idle release runs whatever happened before it.
 */
export async function recoverJobs(input: {
  store: Store
  providers: ReadonlyMap<string, Provider>
  home: string
  /**
   * Starts a controller; what it returns (spawnDetachedController's) lets recover see whether
   * it took its claim over. One that returns nothing is taken to have.
   */
  spawn?: SpawnController
  /** The environment the controllers inherit (default: this process's). */
  env?: NodeJS.ProcessEnv
  /** One attempt's stop at most; default RECOVER_STEP_BUDGET_MS. */
  stepBudgetMs?: number
  /** Deletes the secrets object of a cloud attempt it stops (its instance may never have fetched it). */
  attemptHolds?: AttemptHoldStore
}): Promise<RecoverResult> {
  const spawn = input.spawn ?? spawnDetachedController
  const env = input.env ?? process.env
  const actions: RecoverAction[] = []
  const restarted: string[] = []
  const restartedSweeps: string[] = []
  const secretsMissing: RecoverResult['secretsMissing'] = []
  const act = (a: Omit<RecoverAction, 'jobId' | 'sweepId' | 'attemptId' | 'provider'> & Partial<RecoverAction>): void => {
    actions.push({jobId: null, sweepId: null, attemptId: null, provider: null, ...a})
  }
  // Each controller is started under a lease claimed for it first (one conditional UPDATE):
  // of several `recover`s running at once, exactly one restarts a given job, sweep or service;
  // the others see it claimed and leave it.
  // Controllers started, until each is seen to take its claim over (below).
  const starting: Array<
    ({kind: 'job'; job: JobRecord} | {kind: 'sweep'; sweepId: string; jobId: string | null}) & {
      owner: string
      start: ControllerStart
      retried: boolean
    }
  > = []
  const restartedSweep = (sweepId: string, jobId: string | null): void => {
    restartedSweeps.push(sweepId)
    act({step: 'restart-sweep-controller', sweepId, jobId, ok: true, message: `restarted the controller of sweep ${sweepId}`})
    // Its jobs share the base job's secrets.
    const sweep = input.store.getSweep(sweepId)
    const missing = sweep ? missingSecrets(sweep.spec, env) : []
    if (missing.length > 0) secretsMissing.push({sweepId, secrets: missing})
  }
  const restartSweep = (sweepId: string, jobId: string | null, retried = false): void => {
    const owner = controllerOwner()
    if (!input.store.claimSweepLease(sweepId, owner, claimTtlMs(LEASE_TTL_MS))) return
    try {
      const start = spawn(input.home, sweepId, 'sweep-controller', owner)
      if (isControllerStart(start)) starting.push({kind: 'sweep', sweepId, jobId, owner, start, retried})
      else restartedSweep(sweepId, jobId)
    } catch (error) {
      input.store.releaseSweepClaim(sweepId, owner)
      const f = failure(error)
      act({
        step: 'restart-sweep-controller',
        sweepId,
        jobId,
        ok: false,
        code: f.code,
        message: `could not restart the sweep's controller: ${f.message}`,
      })
    }
  }
  const restartedJob = (job: JobRecord): void => {
    input.store.addEvent(job.id, null, 'controller-restarted', {})
    restarted.push(job.id)
    act({step: 'restart-controller', jobId: job.id, ok: true, message: 'restarted its controller'})
    const missing = missingSecrets(job.spec, env)
    if (missing.length > 0) secretsMissing.push({jobId: job.id, secrets: missing})
  }
  const startJob = (job: JobRecord, retried: boolean): void => {
    const owner = controllerOwner()
    if (!input.store.claimJobLease(job.id, owner, claimTtlMs(LEASE_TTL_MS))) return
    try {
      const start = spawn(input.home, job.id, 'controller', owner)
      if (isControllerStart(start)) starting.push({kind: 'job', job, owner, start, retried})
      else restartedJob(job)
    } catch (error) {
      input.store.releaseLease(job.id, owner)
      const f = failure(error)
      act({step: 'restart-controller', jobId: job.id, ok: false, code: f.code, message: `could not restart its controller: ${f.message}`})
    }
  }
  const tried = new Set<string>()
  for (const sweep of input.store.orphanedSweeps()) {
    tried.add(sweep.id)
    restartSweep(sweep.id, null)
  }
  for (const job of input.store.orphanedJobs()) {
    // A sweep's jobs belong to its controller, which starts them within the sweep's limits.
    if (job.sweepId !== null && input.store.getSweep(job.sweepId)?.state === 'RUNNING') {
      if (!tried.has(job.sweepId)) {
        tried.add(job.sweepId)
        restartSweep(job.sweepId, job.id)
      }
      continue
    }
    startJob(job, false)
  }
  // A controller that dies while it loads (before it took its claim over) would leave the job
  // claimed, driven by nobody, until the claim's start deadline (a minute) and a later
  // recover, while this one said it restarted it: wait a little for each to take over, and
  // start one again, once, for a job whose controller ended first.
  const deadline = Date.now() + START_CONFIRM_MS
  while (starting.length > 0) {
    const batch = starting.splice(0)
    const outcomes = await Promise.all(
      batch.map((s) => {
        const holder = () => (s.kind === 'job' ? input.store.getJob(s.job.id) : input.store.getSweep(s.sweepId))?.leaseOwner ?? null
        return confirmStart(s.start, holder, s.owner, deadline)
      }),
    )
    for (const [i, s] of batch.entries()) {
      const o = outcomes[i]
      if (o.outcome !== 'exited') {
        if (s.kind === 'job') restartedJob(s.job)
        else restartedSweep(s.sweepId, s.jobId)
        continue
      }
      // Nobody holds the claim now: let it go, so the job (sweep) is an orphan again at once.
      const id = s.kind === 'job' ? s.job.id : s.sweepId
      if (s.kind === 'job') {
        input.store.releaseLease(id, s.owner)
        input.store.addEvent(id, null, 'controller-exited-at-start', {exitCode: o.code})
      } else input.store.releaseSweepClaim(id, s.owner)
      if (!s.retried) {
        if (s.kind === 'job') startJob(s.job, true)
        else restartSweep(s.sweepId, s.jobId, true)
        continue
      }
      act({
        ...(s.kind === 'job'
          ? {step: 'restart-controller' as const, jobId: id}
          : {step: 'restart-sweep-controller' as const, sweepId: id, jobId: s.jobId}),
        ok: false,
        code: 'CONTROLLER_EXITED',
        message: `its controller exited (code ${o.code ?? 'none: a signal'}) before taking the ${s.kind} over, twice; see ${join(input.home, 'controllers', `${id}.log`)}`,
      })
    }
  }
  const cleaned: string[] = []
  // A provider that failed once in this run, with why: its other attempts wait for the next recover.
  const down = new Map<string, {code: string; message: string}>()
  for (const requested of input.store.liveAttempts()) {
    const job = input.store.getJob(requested.jobId)
    if (!job || !TERMINAL_JOB_STATES.has(job.state)) continue
    const provider = input.providers.get(requested.provider)
    if (!provider) continue
    const where = {step: 'stop-attempt' as const, jobId: job.id, attemptId: requested.id, provider: requested.provider}
    const known = down.get(requested.provider)
    if (known) {
      act({
        ...where,
        ok: false,
        code: known.code,
        message: `not stopped: provider ${requested.provider} failed earlier in this run (${known.message})`,
      })
      continue
    }
    try {
      const stopped = await withDeadline(
        input.stepBudgetMs ?? RECOVER_STEP_BUDGET_MS,
        `stopping attempt ${requested.id} on ${requested.provider}`,
        () => stopEnded(input.store, provider, job, requested, input.attemptHolds),
      )
      if (stopped) {
        cleaned.push(requested.id)
        act({...where, ok: true, message: 'stopped an attempt still running for a job that had ended'})
      }
    } catch (error) {
      const f = failure(error)
      down.set(requested.provider, f)
      act({...where, ok: false, code: f.code, message: `not stopped: ${f.message}`})
    }
  }
  const budgetMs = input.stepBudgetMs ?? RECOVER_STEP_BUDGET_MS
  // A create whose outcome stayed unknown, of a job that has ended meanwhile: an instance it
  // made after all runs the job for nobody (controller/unknown-creates.ts).
  for (const attempt of input.store.unknownCreatesOfEndedJobs()) {
    const provider = input.providers.get(attempt.provider)
    if (!provider) continue
    const where = {step: 'stop-unknown-create' as const, jobId: attempt.jobId, attemptId: attempt.id, provider: attempt.provider}
    const known = down.get(attempt.provider)
    if (known) {
      act({
        ...where,
        ok: false,
        code: known.code,
        message: `not looked up: provider ${attempt.provider} failed earlier in this run (${known.message})`,
      })
      continue
    }
    const outcome = await settleUnknownCreate(provider, attempt, budgetMs)
    if (!outcome.settled) {
      down.set(attempt.provider, {code: outcome.code, message: outcome.message})
      act({...where, ok: false, code: outcome.code, message: `not looked up: ${redact(outcome.message)}`})
      continue
    }
    input.store.addEvent(
      attempt.jobId,
      attempt.id,
      UNKNOWN_CREATE_SETTLED,
      outcome.found ? {found: true, externalId: outcome.externalId} : {found: false},
    )
    if (outcome.found) {
      cleaned.push(attempt.id)
      act({...where, ok: true, message: `stopped ${outcome.externalId}, which the create whose answer never came made after all`})
    }
  }
  const idle = await releaseIdle({
    store: input.store,
    providers: new Map([...input.providers].map(([name, p]) => [name, guardCleanup(p, down, budgetMs)])),
    now: new Date(),
    attemptHolds: input.attemptHolds,
    onGangObjectsError: (attempt, error) =>
      input.store.addEvent(attempt.jobId, attempt.id, 'gang-objects-delete-failed', {message: failure(error).message}),
    onError: (attempt, error) => {
      const f = failure(error)
      const step = {step: 'release-idle' as const, jobId: attempt.jobId, attemptId: attempt.id, provider: attempt.provider}
      act({...step, ok: false, code: f.code, message: `idle instance not released: ${f.message}`})
    },
  })
  for (const r of idle) {
    act({
      step: 'release-idle',
      jobId: r.jobId,
      attemptId: r.attemptId,
      provider: r.provider,
      ok: true,
      message: 'released an idle instance',
    })
  }
  const restartedServices = await recoverServices(input.store, input.home, spawn, act)
  return {
    restarted,
    restartedSweeps,
    cleaned,
    idleReleased: idle.map((r) => r.attemptId),
    restartedServices,
    secretsMissing,
    actions,
    partial: actions.some((a) => !a.ok),
  }
}

/**
 * The provider with its cleanup under the step budget, and refused at once (with the first
 * failure) once the provider failed in this run: idle release goes on to the other providers
 * instead of waiting out a deadline per attempt of a dead one.
 */
function guardCleanup(provider: Provider, down: Map<string, {code: string; message: string}>, budgetMs: number): Provider {
  return new Proxy(provider, {
    get(target, prop) {
      if (prop === 'cleanup') {
        return async (handle: LaunchHandle): Promise<void> => {
          const known = down.get(target.name)
          if (known) {
            throw new ProviderError(target.name, 'transient', `failed earlier in this run (${known.message})`, {
              code: known.code,
            })
          }
          try {
            await withDeadline(budgetMs, `releasing an idle instance on ${target.name}`, () => target.cleanup(handle))
          } catch (error) {
            down.set(target.name, failure(error))
            throw error
          }
        }
      }
      const value: unknown = Reflect.get(target, prop, target)
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
    },
  })
}

/** Stops and releases one attempt of an ended job; false when there was nothing to stop. Throws what the provider throws. */
async function stopEnded(
  store: Store,
  provider: Provider,
  job: JobRecord,
  requested: AttemptRecord,
  holds: AttemptHoldStore | undefined,
): Promise<boolean> {
  const attempt = requested.handle ? requested : await adoptEnded(store, provider, job, requested)
  if (!attempt?.handle) return false
  const r = (await provider.poll([attempt.handle])).get(attempt.handle.externalId)
  if (r && !TERMINAL_ATTEMPT_STATES.has(r.state)) await provider.signal(attempt.handle, 'cancel', job.spec.recovery.graceSeconds)
  store.updateAttempt(
    attempt.id,
    {
      state: r && TERMINAL_ATTEMPT_STATES.has(r.state) ? r.state : 'CANCELLED',
      endedAt: new Date().toISOString(),
      reason: 'job had ended',
    },
    {kind: 'attempt-reconciled'},
  )
  if (
    await provider.cleanup(attempt.handle).then(
      () => true,
      () => false,
    )
  ) {
    store.markReleased(attempt.id)
    // Released: its gang objects (rank and peer lists, notice, runner) and its list of transfers are read by no node now.
    await deleteAttemptGang(holds, provider, job, attempt.id).catch((error: unknown) => {
      store.addEvent(job.id, attempt.id, 'gang-objects-delete-failed', {message: failure(error).message})
    })
    await deleteAttemptTransfers(holds, provider, job, attempt.id).catch((error: unknown) => {
      store.addEvent(job.id, attempt.id, 'transfers-delete-failed', {message: failure(error).message})
    })
  }
  // Its controller is gone, and its instance may never have booted to fetch and delete it.
  await deleteAttemptSecrets(holds, provider, job, attempt.id).catch((error: unknown) => {
    store.addEvent(job.id, attempt.id, 'secrets-delete-failed', {message: failure(error).message})
  })
  return true
}

/**
 * A service whose controller died gets a new one, which adopts its replicas (they kept
 * serving) and brings the load balancer back on its port; a stopped service's replicas that
 * still run are stopped by `serve down`'s path in the controller (STOPPING is driven too).
 * Like a job's, a controller that exits before it took its claim over is started again once
 * (recoverJobs).
 */
async function recoverServices(
  store: Store,
  home: string,
  spawn: NonNullable<Parameters<typeof recoverJobs>[0]['spawn']>,
  act: (a: Omit<RecoverAction, 'jobId' | 'sweepId' | 'attemptId' | 'provider'> & Partial<RecoverAction>) => void,
): Promise<string[]> {
  const services = new ServiceStore(store)
  const restarted: string[] = []
  const starting: Array<{id: string; owner: string; start: ControllerStart; retried: boolean}> = []
  const restartedService = (id: string): void => {
    store.addEvent(id, null, 'controller-restarted', {})
    restarted.push(id)
    act({step: 'restart-service-controller', serviceId: id, ok: true, message: 'restarted its controller'})
  }
  const startService = (id: string, retried: boolean): void => {
    const owner = controllerOwner()
    if (!services.claimLease(id, owner, claimTtlMs(LEASE_TTL_MS))) return
    try {
      const start = spawn(home, id, 'serve-controller', owner)
      if (isControllerStart(start)) starting.push({id, owner, start, retried})
      else restartedService(id)
    } catch (error) {
      services.releaseLease(id, owner)
      const f = failure(error)
      act({
        step: 'restart-service-controller',
        serviceId: id,
        ok: false,
        code: f.code,
        message: `could not restart its controller: ${f.message}`,
      })
    }
  }
  for (const svc of services.orphanedServices()) startService(svc.id, false)
  const deadline = Date.now() + START_CONFIRM_MS
  while (starting.length > 0) {
    const batch = starting.splice(0)
    const outcomes = await Promise.all(
      batch.map((s) => confirmStart(s.start, () => services.getService(s.id)?.leaseOwner ?? null, s.owner, deadline)),
    )
    for (const [i, s] of batch.entries()) {
      const o = outcomes[i]
      if (o.outcome !== 'exited') {
        restartedService(s.id)
        continue
      }
      services.releaseLease(s.id, s.owner)
      store.addEvent(s.id, null, 'controller-exited-at-start', {exitCode: o.code})
      if (!s.retried) {
        startService(s.id, true)
        continue
      }
      act({
        step: 'restart-service-controller',
        serviceId: s.id,
        ok: false,
        code: 'CONTROLLER_EXITED',
        message: `its controller exited (code ${o.code ?? 'none: a signal'}) before taking the service over, twice; see ${join(home, 'controllers', `${s.id}.log`)}`,
      })
    }
  }
  return restarted
}

/**
 * An attempt of an ended job still REQUESTED: the job was cancelled while the launch's
 * answer was outstanding and its controller died. With no controller left to adopt it, find
 * the run by its tag (local runs are named by their attempt id) so it can be stopped, or
 * close the attempt when nothing carries it. Returns the attempt with its handle, if any.
 */
async function adoptEnded(store: Store, provider: Provider, job: JobRecord, attempt: AttemptRecord): Promise<AttemptRecord | undefined> {
  if (job.leaseOwner && (job.leaseExpiresAt ?? 0) > Date.now()) return undefined // its controller is still on it
  if (!provider.listOwned) return undefined
  const owned = await provider.listOwned({regions: [attempt.region], attemptId: attempt.id})
  const found = owned.find((h) => h.data.attemptId === attempt.id || h.externalId === attempt.id)
  if (!found) {
    store.updateAttempt(
      attempt.id,
      {
        state: 'CANCELLED',
        endedAt: new Date().toISOString(),
        reason: 'the job ended before this launch was confirmed; no run carries its tag',
      },
      {kind: 'attempt-reconciled'},
    )
    return undefined
  }
  store.updateAttempt(
    attempt.id,
    {handle: found, launchedAt: new Date().toISOString()},
    {kind: 'attempt-reconciled', data: {externalId: found.externalId, foundBy: 'tag'}},
  )
  return store.getAttempt(attempt.id)
}

/** `skyhop recover` with this home's store and providers. */
export async function recover(ctx: ServiceContext): Promise<RecoverResult> {
  return recoverJobs({store: await ctx.store(), providers: await ctx.providers(), home: ctx.home, attemptHolds: await ctx.attemptHolds()})
}
