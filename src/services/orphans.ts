// Orphan cleanup, behind `skyhop down`: finds what the backends run (or hold, like a
// stopped instance that still bills its disks) with skyhop's tags that no live attempt in
// this store owns, and releases it. A run is owned when a live attempt recorded its handle,
// or when a live attempt still waiting for its launch's answer (REQUESTED) carries its
// attempt id: that one belongs to a controller, or to `recover`. Everything else tagged is
// an orphan: its attempt ended (a cleanup that failed, a controller killed between the end
// and the release) or this store has never heard of it (a lost or other home).
//
// `down JOB` is cancel plus the same sweep limited to the job: it stops the job if it
// runs, releases whatever any of its attempts still holds, and terminates anything left
// with the job's tag.
//
// Whatever it releases of an ended attempt, it releases whole: a cloud attempt's one-time
// secrets object goes with its instance (one that never booted never fetched, so never
// deleted it; the controller that would have is gone).
import {ProviderError, asProviderError} from '../errors.js'
import type {Provider} from '../providers/provider.js'
import type {LaunchHandle} from '../model/attempt.js'
import type {AttemptHoldStore} from '../checkpoint/checkpoint-store.js'
import {type Store} from '../state/store.js'
import {ServiceStore} from '../state/services.js'
import {type AttemptRecord, TERMINAL_JOB_STATES} from '../model/records.js'
import {deleteAttemptGang, deleteAttemptSecrets, deleteAttemptTransfers} from '../controller/attempt-end.js'
import {cancelJob} from './cancel.js'
import {type JobSummary, summarize} from './jobs.js'

export type OrphanReason =
  /** Its attempt is over (or its job is), but the run was never released. */
  | 'attempt-ended'
  /** Its attempt is live but recorded another run: a duplicate. */
  | 'not-the-attempts-run'
  /** No attempt in this store carries its id. */
  | 'unknown-attempt'

export interface OrphanInstance {
  provider: string
  externalId: string
  region: string
  zone: string | null
  instanceType: string | null
  jobId: string | null
  attemptId: string | null
  /** The attempt's state in this store, when it knows the attempt. */
  attemptState: string | null
  reason: OrphanReason
  /** Kept for cleanup(): how the provider finds the run again. */
  handle: LaunchHandle
}

export interface ProviderScan {
  provider: string
  /** Regions looked in besides the provider's own defaults. */
  regions: string[]
  /** Runs with skyhop's tags found. */
  tagged: number
  /** Runs that could not be matched to an attempt (no attempt tag), left alone. */
  unidentified: number
  /** Why the scan of this provider failed, if it did (the others still ran). */
  error: string | null
}

export interface OrphanScan {
  scanned: ProviderScan[]
  orphans: OrphanInstance[]
}

export interface FindOrphansInput {
  store: Store
  providers: ReadonlyMap<string, Provider>
  /** Only this provider. */
  provider?: string
  /** Extra regions to look in (the store's attempt regions are always included). */
  regions?: string[]
  /** Only runs tagged with (or recorded for) this job. */
  jobId?: string
}

/** Lists orphans on every enabled provider that can list what it runs; changes nothing. */
export async function findOrphans(input: FindOrphansInput): Promise<OrphanScan> {
  const {store} = input
  const live = store.liveAttempts()
  const liveByRun = new Map(live.filter((a) => a.handle).map((a) => [`${a.provider}\u0000${a.handle!.externalId}`, a]))
  const liveById = new Map(live.map((a) => [a.id, a]))
  const usedRegions = store.attemptRegions(input.jobId)
  // A service's replicas are not attempts: one not yet released belongs to its controller.
  const replicas = new ServiceStore(store).unreleasedReplicas()
  const replicaIds = new Set(replicas.map((r) => r.id))
  const replicaRuns = new Set(replicas.filter((r) => r.handle).map((r) => `${r.provider}\u0000${r.handle!.externalId}`))
  const scanned: ProviderScan[] = []
  const orphans: OrphanInstance[] = []
  for (const provider of input.providers.values()) {
    if (!provider.listOwned || (input.provider && provider.name !== input.provider)) continue
    const regions = [...new Set([...(usedRegions.get(provider.name) ?? []), ...(input.regions ?? [])])]
    const scan: ProviderScan = {provider: provider.name, regions, tagged: 0, unidentified: 0, error: null}
    scanned.push(scan)
    let owned: LaunchHandle[]
    try {
      owned = await provider.listOwned({regions})
    } catch (error) {
      scan.error = asProviderError(provider.name, error).message
      continue
    }
    scan.tagged = owned.length
    for (const handle of owned) {
      if (liveByRun.has(`${provider.name}\u0000${handle.externalId}`)) continue
      if (replicaRuns.has(`${provider.name}\u0000${handle.externalId}`) || replicaIds.has(handle.data.attemptId as string)) continue
      if (handle.data.releasing === true) continue
      const attempt = attemptOf(store, provider.name, handle)
      if (!attempt && typeof handle.data.attemptId !== 'string') {
        // Tagged by skyhop but not by attempt (a Slurm job of another home, say): not ours to judge.
        scan.unidentified += 1
        continue
      }
      const attemptId = attempt?.id ?? (handle.data.attemptId as string)
      const jobId = attempt?.jobId ?? (typeof handle.data.jobId === 'string' ? handle.data.jobId : null)
      if (input.jobId && jobId !== input.jobId) continue
      const liveAttempt = liveById.get(attemptId)
      // Launched, answer not yet recorded: its controller (or `recover`) adopts it by tag.
      if (liveAttempt && !liveAttempt.handle && !jobEnded(store, liveAttempt)) continue
      orphans.push({
        provider: provider.name,
        externalId: handle.externalId,
        region: handle.region,
        zone: handle.zone,
        instanceType: typeof handle.data.instanceType === 'string' ? handle.data.instanceType : null,
        jobId,
        attemptId,
        attemptState: attempt?.state ?? null,
        reason: !attempt ? 'unknown-attempt' : liveAttempt?.handle ? 'not-the-attempts-run' : 'attempt-ended',
        handle,
      })
    }
  }
  return {scanned, orphans}
}

function attemptOf(store: Store, provider: string, handle: LaunchHandle): AttemptRecord | undefined {
  const tagged = typeof handle.data.attemptId === 'string' ? store.getAttempt(handle.data.attemptId) : undefined
  if (tagged && tagged.provider === provider) return tagged
  return store.attemptByHandle(provider, handle.externalId)
}

function jobEnded(store: Store, attempt: AttemptRecord): boolean {
  const job = store.getJob(attempt.jobId)
  return !job || TERMINAL_JOB_STATES.has(job.state)
}

export interface TerminateResult {
  terminated: OrphanInstance[]
  failed: Array<{orphan: OrphanInstance; message: string}>
}

/**
 * Releases each orphan through its provider's cleanup (terminate on AWS, delete on ECS), and
 * with `attemptHolds` deletes the secrets object of its attempt, unless that attempt is live
 * (a duplicate run of a live attempt shares the object with the attempt's own run).
 */
export async function terminateOrphans(
  providers: ReadonlyMap<string, Provider>,
  orphans: readonly OrphanInstance[],
  store?: Store,
  attemptHolds?: AttemptHoldStore,
): Promise<TerminateResult> {
  const terminated: OrphanInstance[] = []
  const failed: TerminateResult['failed'] = []
  for (const orphan of orphans) {
    const provider = providers.get(orphan.provider)
    try {
      if (!provider) throw new ProviderError(orphan.provider, 'unavailable', 'provider is not enabled here')
      await provider.cleanup(orphan.handle)
      terminated.push(orphan)
      if (store && orphan.reason !== 'not-the-attempts-run') await deleteOrphanObjects(store, provider, orphan, attemptHolds)
      // The store learns that what the attempt held is released (cost accounting, idle guard).
      const attempt = orphan.attemptId ? store?.getAttempt(orphan.attemptId) : undefined
      const data = {provider: orphan.provider, externalId: orphan.externalId, reason: orphan.reason}
      if (!store || !attempt) continue
      if (attempt.handle?.externalId === orphan.externalId) {
        if (!attempt.releasedAt) store.markReleased(attempt.id, {kind: 'orphan-released', data})
      } else if (!attempt.handle && attempt.state === 'REQUESTED') {
        // Its launch landed after the job ended and nobody recorded it: record and close it.
        const now = new Date().toISOString()
        store.updateAttempt(
          attempt.id,
          {
            state: 'CANCELLED',
            handle: orphan.handle,
            endedAt: now,
            releasedAt: now,
            reason: 'launched after its job ended; released by skyhop down',
          },
          {kind: 'orphan-released', data},
        )
      } else {
        store.addEvent(attempt.jobId, attempt.id, 'orphan-released', data)
      }
    } catch (error) {
      failed.push({orphan, message: asProviderError(orphan.provider, error).message})
    }
  }
  return {terminated, failed}
}

/**
 * The secrets object and the list of transfers of an orphan's ended attempt. Their keys need
 * the job's store, so an attempt of a job this store never knew keeps its secrets object until
 * its URLs expire (20 minutes), and its list (URLs of up to 7 days) until a lifecycle rule.
 */
async function deleteOrphanObjects(store: Store, provider: Provider, orphan: OrphanInstance, holds: AttemptHoldStore | undefined) {
  const job = orphan.jobId ? store.getJob(orphan.jobId) : undefined
  if (!job || !orphan.attemptId) return
  const attemptId = orphan.attemptId
  await deleteAttemptSecrets(holds, provider, job, attemptId).catch((error: unknown) => {
    store.addEvent(job.id, attemptId, 'secrets-delete-failed', {message: asProviderError(provider.name, error).message})
  })
  await deleteAttemptTransfers(holds, provider, job, attemptId).catch((error: unknown) => {
    store.addEvent(job.id, attemptId, 'transfers-delete-failed', {message: asProviderError(provider.name, error).message})
  })
}

export interface DownJobResult {
  job: JobSummary
  /** The job was running and is now cancelled (false: it had already ended). */
  cancelled: boolean
  /** Attempts whose held run was released now (it had not been). */
  released: string[]
  releaseFailed: Array<{attemptId: string; message: string}>
}

/**
 * `down JOB`: cancel it if it runs (with grace), then release what any of its attempts
 * still holds. Leftovers with the job's tag are the caller's next step (findOrphans with
 * jobId), so one confirmation covers them.
 */
export async function stopAndRelease(input: {
  store: Store
  providers: ReadonlyMap<string, Provider>
  ref: string
  graceSeconds: number
  attemptHolds?: AttemptHoldStore
}): Promise<DownJobResult> {
  const {store, providers} = input
  const cancel = await cancelJob(store, providers, input.ref, {graceSeconds: input.graceSeconds, attemptHolds: input.attemptHolds})
  const job = store.getJob(cancel.job.id)!
  const released: string[] = []
  const releaseFailed: DownJobResult['releaseFailed'] = []
  for (const attempt of store.unreleasedAttempts({jobId: cancel.job.id})) {
    const provider = providers.get(attempt.provider)
    if (!provider || !attempt.handle) {
      releaseFailed.push({attemptId: attempt.id, message: `provider ${attempt.provider} is not enabled here`})
      continue
    }
    try {
      await provider.cleanup(attempt.handle)
      store.markReleased(attempt.id, {kind: 'down-released', data: {provider: attempt.provider}})
      released.push(attempt.id)
      // Released: its gang objects and its list of transfers are read by no node now (deleteAttemptGang, deleteAttemptTransfers).
      await deleteAttemptGang(input.attemptHolds, provider, job, attempt.id).catch((error: unknown) => {
        store.addEvent(job.id, attempt.id, 'gang-objects-delete-failed', {message: asProviderError(attempt.provider, error).message})
      })
      await deleteAttemptTransfers(input.attemptHolds, provider, job, attempt.id).catch((error: unknown) => {
        store.addEvent(job.id, attempt.id, 'transfers-delete-failed', {message: asProviderError(attempt.provider, error).message})
      })
      // An attempt that ended before the cancel: its cancel did not see it.
      await deleteAttemptSecrets(input.attemptHolds, provider, job, attempt.id).catch((error: unknown) => {
        store.addEvent(job.id, attempt.id, 'secrets-delete-failed', {message: asProviderError(attempt.provider, error).message})
      })
    } catch (error) {
      releaseFailed.push({attemptId: attempt.id, message: asProviderError(attempt.provider, error).message})
    }
  }
  return {job: summarize(store, store.getJob(cancel.job.id)!), cancelled: !cancel.alreadyEnded, released, releaseFailed}
}

export interface DownInput {
  store: Store
  providers: ReadonlyMap<string, Provider>
  /** A job (id or name) to take down; without it, every orphan. */
  job?: string
  provider?: string
  regions?: string[]
  /** Grace of the cancel when the job still runs. */
  graceSeconds: number
  /** List orphans, terminate nothing. */
  dryRun: boolean
  /** Asked before orphans are terminated (not for a named job's own leftovers); false keeps them. */
  confirm: (orphans: readonly OrphanInstance[]) => Promise<boolean>
  /** Deletes the secrets objects of the cloud attempts it stops or releases (the named job's, the orphans'). */
  attemptHolds?: AttemptHoldStore
}

export type OrphanSummary = Omit<OrphanInstance, 'handle'>

export interface DownResult {
  /** What `down JOB` did to the job; null for `down --orphans`. */
  job: DownJobResult | null
  dryRun: boolean
  /** The confirmation was declined: nothing was terminated. */
  declined: boolean
  scanned: ProviderScan[]
  orphans: OrphanSummary[]
  terminated: OrphanSummary[]
  failed: Array<OrphanSummary & {message: string}>
}

const summary = ({handle: _handle, ...rest}: OrphanInstance): OrphanSummary => rest

/** `skyhop down JOB` or `skyhop down --orphans`. */
export async function down(input: DownInput): Promise<DownResult> {
  const {store, providers} = input
  const jobResult = input.job
    ? await stopAndRelease({store, providers, ref: input.job, graceSeconds: input.graceSeconds, attemptHolds: input.attemptHolds})
    : null
  const scan = await findOrphans({store, providers, provider: input.provider, regions: input.regions, jobId: jobResult?.job.id})
  const result: DownResult = {
    job: jobResult,
    dryRun: input.dryRun,
    declined: false,
    scanned: scan.scanned,
    orphans: scan.orphans.map(summary),
    terminated: [],
    failed: [],
  }
  if (input.dryRun || scan.orphans.length === 0) return result
  if (!jobResult && !(await input.confirm(scan.orphans))) return {...result, declined: true}
  const done = await terminateOrphans(providers, scan.orphans, store, input.attemptHolds)
  result.terminated = done.terminated.map(summary)
  result.failed = done.failed.map((f) => ({...summary(f.orphan), message: f.message}))
  return result
}
