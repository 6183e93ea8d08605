// `recover`: after a crash or reboot, give every unfinished job a controller again and
// stop attempts that still run for jobs that have ended (nothing left running unowned).
import type {Provider} from '../providers/provider.js'
import {TERMINAL_ATTEMPT_STATES} from '../model/attempt.js'
import {type Store} from '../state/store.js'
import {type AttemptRecord, type JobRecord, TERMINAL_JOB_STATES} from '../model/records.js'
import {releaseIdle} from '../controller/idle.js'
import type {ServiceContext} from './context.js'
import {spawnDetachedController} from './controller-process.js'
import {ServiceStore} from '../state/services.js'

export interface RecoverResult {
  restarted: string[]
  /** Sweeps whose controller was restarted (one controller drives all of a sweep's jobs). */
  restartedSweeps: string[]
  cleaned: string[]
  /** Attempts whose job had ended but whose instance was still held past its idle timeout. */
  idleReleased: string[]
  /** Services whose controller was restarted (docs/serve.md); their replicas kept serving. */
  restartedServices: string[]
}

export async function recoverJobs(input: {
  store: Store
  providers: ReadonlyMap<string, Provider>
  home: string
  spawn?: (home: string, id: string, command?: 'controller' | 'sweep-controller' | 'serve-controller') => void
}): Promise<RecoverResult> {
  const spawn = input.spawn ?? spawnDetachedController
  const restarted: string[] = []
  const restartedSweeps: string[] = []
  for (const sweep of input.store.orphanedSweeps()) {
    spawn(input.home, sweep.id, 'sweep-controller')
    restartedSweeps.push(sweep.id)
  }
  for (const job of input.store.orphanedJobs()) {
    // A sweep's jobs belong to its controller, which starts them within the sweep's limits.
    if (job.sweepId !== null && input.store.getSweep(job.sweepId)?.state === 'RUNNING') {
      if (!restartedSweeps.includes(job.sweepId)) {
        spawn(input.home, job.sweepId, 'sweep-controller')
        restartedSweeps.push(job.sweepId)
      }
      continue
    }
    spawn(input.home, job.id)
    input.store.addEvent(job.id, null, 'controller-restarted', {})
    restarted.push(job.id)
  }
  const cleaned: string[] = []
  for (const requested of input.store.liveAttempts()) {
    const job = input.store.getJob(requested.jobId)
    if (!job || !TERMINAL_JOB_STATES.has(job.state)) continue
    const provider = input.providers.get(requested.provider)
    if (!provider) continue
    const attempt = requested.handle ? requested : await adoptEnded(input.store, provider, job, requested)
    if (!attempt?.handle) continue
    const r = (await provider.poll([attempt.handle])).get(attempt.handle.externalId)
    if (r && !TERMINAL_ATTEMPT_STATES.has(r.state)) await provider.signal(attempt.handle, 'cancel', job.spec.recovery.graceSeconds)
    input.store.updateAttempt(
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
    )
      input.store.markReleased(attempt.id)
    cleaned.push(attempt.id)
  }
  const idle = await releaseIdle({store: input.store, providers: input.providers, now: new Date()})
  const restartedServices = recoverServices(input.store, input.home, spawn)
  return {restarted, restartedSweeps, cleaned, idleReleased: idle.map((r) => r.attemptId), restartedServices}
}

/**
 * A service whose controller died gets a new one, which adopts its replicas (they kept
 * serving) and brings the load balancer back on its port; a stopped service's replicas that
 * still run are stopped by `serve down`'s path in the controller (STOPPING is driven too).
 */
function recoverServices(store: Store, home: string, spawn: NonNullable<Parameters<typeof recoverJobs>[0]['spawn']>): string[] {
  const services = new ServiceStore(store)
  const restarted: string[] = []
  for (const svc of services.orphanedServices()) {
    spawn(home, svc.id, 'serve-controller')
    store.addEvent(svc.id, null, 'controller-restarted', {})
    restarted.push(svc.id)
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
  return recoverJobs({store: await ctx.store(), providers: await ctx.providers(), home: ctx.home})
}
