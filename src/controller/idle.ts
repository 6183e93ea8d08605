// The idle guard: an instance or allocation that outlives its job by more than the job's
// idle_timeout (default 1 minute) is released and the release recorded. The controller
// cleans up as soon as it sees an attempt end; this catches what that missed — a cleanup
// that failed, a controller killed between the end and the cleanup, a runner that lingers.
// What it releases, it releases whole: a cloud attempt's gang objects and its one-time secrets object go too.
import {asProviderError} from '../errors.js'
import type {AttemptHoldStore} from '../checkpoint/checkpoint-store.js'
import type {Provider} from '../providers/provider.js'
import type {AttemptRecord, JobRecord} from '../model/records.js'
import {deleteAttemptGang, deleteAttemptSecrets, deleteAttemptTransfers} from './attempt-end.js'

export interface IdleRelease {
  attemptId: string
  jobId: string
  provider: string
  /** Seconds between the job's end and the release. */
  idleSeconds: number
  timeoutSeconds: number
}

/**
 * What the guard reads and writes (the state store has it): unlike the controller's
 * journal, it looks across jobs, at every attempt never confirmed released.
 */
export interface IdleLedger {
  unreleasedAttempts(filter: {sweepId?: string; jobId?: string}): AttemptRecord[]
  getJob(id: string): JobRecord | undefined
  markReleased(id: string, event: {kind: string; data?: Record<string, unknown>}, at: string): void
  addEvent(jobId: string, attemptId: string | null, kind: string, data?: Record<string, unknown>): void
}

export interface IdleGuardInput {
  store: IdleLedger
  providers: ReadonlyMap<string, Provider>
  now: Date
  /** Only this sweep's (or job's) attempts; everything when neither is given. */
  sweepId?: string
  jobId?: string
  /** Receives cleanup failures; the attempt stays unreleased and is retried next time. */
  onError?: (attempt: AttemptRecord, error: unknown) => void
  /**
   * The job's store: a released cloud attempt's gang objects (deleteAttemptGang), its list
   * of transfers (deleteAttemptTransfers) and its secrets object are deleted there, which the controller could not do while its cleanup
   * failed (or, killed, at all); an instance that never booted never fetched, so never
   * deleted, the secrets object.
   */
  attemptHolds?: AttemptHoldStore
  /** Receives a failed deletion of those objects (the attempt is released all the same). */
  onGangObjectsError?: (attempt: AttemptRecord, error: unknown) => void
}

const DEFAULT_IDLE_TIMEOUT_SECONDS = 60

/** Releases every ended attempt held longer than its job's idle timeout. */
export async function releaseIdle(input: IdleGuardInput): Promise<IdleRelease[]> {
  const released: IdleRelease[] = []
  const jobs = new Map<string, JobRecord | undefined>()
  for (const attempt of input.store.unreleasedAttempts({sweepId: input.sweepId, jobId: input.jobId})) {
    if (!jobs.has(attempt.jobId)) jobs.set(attempt.jobId, input.store.getJob(attempt.jobId))
    const job = jobs.get(attempt.jobId)
    const timeoutSeconds = job?.spec.idleTimeoutSeconds ?? DEFAULT_IDLE_TIMEOUT_SECONDS
    const endedMs = Date.parse(attempt.endedAt ?? attempt.launchedAt ?? attempt.intentAt)
    const idleSeconds = (input.now.getTime() - endedMs) / 1000
    if (idleSeconds <= timeoutSeconds) continue
    const provider = input.providers.get(attempt.provider)
    if (!provider || !attempt.handle) continue
    try {
      await provider.cleanup(attempt.handle)
    } catch (error) {
      input.onError?.(attempt, error)
      continue
    }
    input.store.markReleased(
      attempt.id,
      {kind: 'idle-released', data: {idleSeconds: Math.round(idleSeconds), timeoutSeconds, provider: attempt.provider}},
      input.now.toISOString(),
    )
    if (job && input.attemptHolds) {
      await deleteAttemptGang(input.attemptHolds, provider, job, attempt.id).catch((error: unknown) =>
        input.onGangObjectsError?.(attempt, error),
      )
    }
    if (job) {
      await deleteAttemptTransfers(input.attemptHolds, provider, job, attempt.id).catch((error: unknown) => {
        input.store.addEvent(attempt.jobId, attempt.id, 'transfers-delete-failed', {
          message: asProviderError(attempt.provider, error).message,
        })
      })
    }
    // After the release, not before: a failed cleanup is retried, and the instance, gone now, boots no more.
    if (job) {
      await deleteAttemptSecrets(input.attemptHolds, provider, job, attempt.id).catch((error: unknown) => {
        input.store.addEvent(attempt.jobId, attempt.id, 'secrets-delete-failed', {
          message: asProviderError(attempt.provider, error).message,
        })
      })
    }
    released.push({attemptId: attempt.id, jobId: attempt.jobId, provider: attempt.provider, idleSeconds, timeoutSeconds})
  }
  return released
}
