// An attempt's course once launched: polled (directly, or through a sweep's BatchPoller),
// its state changes recorded with what the planner learns from them (provisioning waits,
// preemptions, spot uptimes), its end turned into the job's next state (done, failed,
// restarted, recovering), and what it held released.
import {rmSync} from 'node:fs'

import {asProviderError} from '../errors.js'
import {type PollResult, TERMINAL_ATTEMPT_STATES} from '../model/attempt.js'
import {type AttemptRecord, type JobRecord, TERMINAL_JOB_STATES} from '../model/records.js'
import type {JobDrive} from './drive.js'
import type {Provider} from '../providers/provider.js'
import type {AttemptHoldStore} from '../checkpoint/checkpoint-store.js'
import type {AttemptPatch} from './journal.js'

export class AttemptEnds {
  constructor(private readonly d: JobDrive) {}

  async pollOne(attempt: AttemptRecord): Promise<PollResult | undefined> {
    const provider = this.d.deps.providers.get(attempt.provider)!
    this.supplySecrets(provider, attempt)
    let result: PollResult | undefined
    try {
      result = this.d.deps.poller
        ? await this.d.deps.poller.poll(provider, attempt.handle!)
        : (await provider.poll([attempt.handle!])).get(attempt.handle!.externalId)
    } catch (error) {
      const perr = asProviderError(attempt.provider, error)
      this.d.emit('poll-error', `could not poll ${attempt.provider}: ${perr.message}`, {attemptId: attempt.id})
      return undefined
    }
    if (!result) return undefined
    this.applyPoll(attempt, result)
    await this.d.usage.observe(attempt, result)
    await this.d.shipRenewal.observe(attempt, result)
    return result
  }

  /**
   * A run a killed controller launched may still wait for its secrets (Slurm): this
   * controller gives them from its own environment, when it has them all (a provider that
   * already holds them keeps its own). Once per attempt.
   */
  private readonly supplied = new Set<string>()
  private supplySecrets(provider: Provider, attempt: AttemptRecord): void {
    if (!provider.supplySecrets || !attempt.handle || this.supplied.has(attempt.id)) return
    this.supplied.add(attempt.id)
    const names = this.d.job().spec.secrets ?? []
    const env = this.d.deps.env ?? process.env
    if (names.length === 0 || names.some((n) => env[n] === undefined)) return
    provider.supplySecrets(attempt.handle, Object.fromEntries(names.map((n) => [n, env[n]!])))
  }

  private applyPoll(attempt: AttemptRecord, result: PollResult): void {
    if (result.state === attempt.state) return
    const now = this.d.clock().toISOString()
    const patch: AttemptPatch = {state: result.state}
    if (result.state === 'RUNNING' && !attempt.startedAt) {
      patch.startedAt = result.startedAt ?? now
      // A held attempt's instance was up before it was let go: its run starts no earlier.
      const released = this.d.holds.releasedAt(attempt.id)
      if (released !== undefined && Date.parse(patch.startedAt) < released) patch.startedAt = new Date(released).toISOString()
      const launched = Date.parse(attempt.launchedAt ?? attempt.intentAt)
      this.d.journal.recordObservation({
        provider: attempt.provider,
        region: attempt.region,
        zone: attempt.zone,
        accelerator: attempt.accelerator,
        spot: attempt.spot,
        kind: 'provisioning-wait',
        valueSeconds: Math.max(0, (Date.parse(patch.startedAt) - launched) / 1000),
      })
    }
    if (TERMINAL_ATTEMPT_STATES.has(result.state)) {
      patch.endedAt = result.endedAt ?? now
      patch.exitCode = result.exitCode
      patch.reason = result.reason
      if (!attempt.startedAt && result.startedAt) patch.startedAt = result.startedAt
    }
    this.d.journal.recordOutcome(attempt.id, patch, {
      kind: `attempt-${result.state.toLowerCase()}`,
      // A gang's nodes as this change saw them: `status` shows each.
      data: {exitCode: result.exitCode, reason: result.reason, ...(result.nodes ? {nodes: result.nodes} : {})},
    })
    // An ended job (cancelled while this attempt started) stays ended.
    if (result.state === 'RUNNING' && !TERMINAL_JOB_STATES.has(this.d.job().state)) {
      this.d.journal.recordJobState(this.d.jobId, 'RUNNING', {kind: 'job-running', attemptId: attempt.id})
      this.d.emit('running', `running on ${attempt.provider}/${attempt.region} (${attempt.instanceType})`, {attemptId: attempt.id})
    }
  }

  async onAttemptEnded(job: JobRecord, attempt: AttemptRecord, result: PollResult): Promise<void> {
    await this.release(attempt)
    // A held attempt's go file has served once the attempt is over (a store's go object stays: one small object a move).
    if (this.d.holds.holdOf(attempt.id) === 'file') rmSync(this.d.holds.holdFile(job.id, attempt.id), {force: true})
    if (attempt.spot && attempt.startedAt) {
      this.d.journal.recordObservation({
        provider: attempt.provider,
        region: attempt.region,
        zone: attempt.zone,
        accelerator: attempt.accelerator,
        spot: true,
        kind: 'spot-uptime',
        valueSeconds: (Date.parse(attempt.endedAt ?? this.d.clock().toISOString()) - Date.parse(attempt.startedAt)) / 1000,
      })
    }
    if (TERMINAL_JOB_STATES.has(job.state)) return
    if (
      (result.state === 'PREEMPTED' || result.state === 'LOST' || result.state === 'CANCELLED') &&
      this.d.spot.migrationRequested(attempt.id)
    ) {
      this.d.spot.onMigrated(job, attempt, result)
      return
    }
    const spec = job.spec
    switch (result.state) {
      case 'SUCCEEDED': {
        this.d.journal.recordJobState(job.id, 'SUCCEEDED', {kind: 'job-succeeded', attemptId: attempt.id}, {exitCode: 0, reason: null})
        this.d.emit('succeeded', 'job succeeded', {attemptId: attempt.id})
        return
      }
      case 'FAILED': {
        const code = result.exitCode
        if (code !== null && spec.recovery.restartOnExitCodes.includes(code) && job.errorRestarts < spec.recovery.maxRestartsOnErrors) {
          this.d.journal.recordJobState(
            job.id,
            'RECOVERING',
            {kind: 'job-restarting-on-error', attemptId: attempt.id, data: {exitCode: code}},
            {errorRestarts: job.errorRestarts + 1},
          )
          this.d.emit(
            'restarting',
            `exit code ${code} is in restart_on_exit_codes; restarting (${job.errorRestarts + 1}/${spec.recovery.maxRestartsOnErrors})`,
            {attemptId: attempt.id},
          )
          await this.d.sleep(Math.min(30_000, 1000 * 2 ** job.errorRestarts))
          return
        }
        this.d.journal.recordJobState(
          job.id,
          'FAILED',
          {kind: 'job-failed', attemptId: attempt.id, data: {exitCode: code}},
          {exitCode: code, reason: result.reason ?? `exited with code ${code}`},
        )
        this.d.emit('failed', `job failed with exit code ${code}`, {attemptId: attempt.id})
        return
      }
      case 'PREEMPTED':
      case 'LOST': {
        if (result.state === 'PREEMPTED') {
          this.d.journal.recordObservation({
            provider: attempt.provider,
            region: attempt.region,
            zone: attempt.zone,
            accelerator: attempt.accelerator,
            spot: attempt.spot,
            kind: 'preemption',
            valueSeconds: null,
          })
        }
        if (job.restarts >= spec.recovery.maxRestarts) {
          this.d.journal.recordJobState(
            job.id,
            'FAILED',
            {kind: 'job-failed', attemptId: attempt.id},
            {
              exitCode: null,
              reason: `${result.state === 'PREEMPTED' ? 'preempted' : 'lost'} and recovery.max_restarts (${spec.recovery.maxRestarts}) reached`,
            },
          )
          this.d.emit('failed', `attempt ${result.state.toLowerCase()}; no restarts left`, {attemptId: attempt.id})
          return
        }
        if (spec.recovery.strategy === 'eager-next-region') {
          this.d.preemptionBlocks.push({
            provider: attempt.provider,
            region: attempt.region,
            market: attempt.spot ? 'spot' : null,
            reason: 'preempted',
          })
        }
        this.d.journal.recordJobState(
          job.id,
          'RECOVERING',
          {kind: 'job-recovering', attemptId: attempt.id, data: {after: result.state}},
          {restarts: job.restarts + 1},
        )
        this.d.emit(
          'recovering',
          `attempt ${attempt.n} ${result.state.toLowerCase()} (${result.reason ?? 'no reason given'}); relaunching (${job.restarts + 1}/${spec.recovery.maxRestarts})`,
          {attemptId: attempt.id},
        )
        return
      }
      case 'CANCELLED': {
        this.d.journal.recordJobState(
          job.id,
          'CANCELLED',
          {kind: 'job-cancelled', attemptId: attempt.id},
          {reason: result.reason ?? 'cancelled on the backend'},
        )
        this.d.emit('cancelled', 'job cancelled', {attemptId: attempt.id})
        return
      }
      default:
        return
    }
  }

  /** The job ended (e.g. cancelled) while an attempt was live: wait for it to go, then clean up. */
  async settleAfterEnd(attempt: AttemptRecord): Promise<void> {
    const result = await this.pollOne(attempt)
    if (result && TERMINAL_ATTEMPT_STATES.has(result.state)) {
      await this.release(attempt)
      this.d.stopping.delete(attempt.id)
      return
    }
    const deadline = this.d.stopping.get(attempt.id)
    if (deadline !== undefined && this.d.clock().getTime() > deadline) {
      // It did not stop within its grace and a minute: take it away.
      await this.release(attempt)
      this.d.journal.recordOutcome(
        attempt.id,
        {state: 'CANCELLED', endedAt: this.d.clock().toISOString(), reason: 'still running after the job was cancelled; released'},
        {kind: 'attempt-cancelled'},
      )
      this.d.stopping.delete(attempt.id)
      return
    }
    await this.d.sleep(this.d.pollIntervalMs)
  }

  /** Releases what the attempt holds and records when; a failure is left to the idle guard (idle.ts). */
  async release(attempt: AttemptRecord): Promise<void> {
    const provider = this.d.deps.providers.get(attempt.provider)
    if (!provider || !attempt.handle) return
    let released = false
    try {
      await provider.cleanup(attempt.handle)
      this.d.journal.recordReleased(attempt.id)
      released = true
    } catch (error) {
      this.d.journal.recordEvent(this.d.jobId, attempt.id, 'cleanup-failed', {message: asProviderError(attempt.provider, error).message})
    }
    await this.deleteSecrets(provider, attempt)
    // Only once its nodes are gone: a gang still running reads its peer list and notice, and
    // an instance not yet booted still has to fetch its list of transfers.
    if (released) {
      await this.deleteGang(provider, attempt)
      await this.deleteTransfers(provider, attempt)
    }
  }

  /** What a failed launch leaves in the store: its secrets object, gang objects and list of transfers (the launch released every node). */
  async deleteObjects(provider: Provider, attempt: AttemptRecord): Promise<void> {
    await this.deleteSecrets(provider, attempt)
    await this.deleteGang(provider, attempt)
    await this.deleteTransfers(provider, attempt)
  }

  /** A released cloud attempt's list of transfers (deleteAttemptTransfers); a failure is an event, the attempt's end goes on. */
  async deleteTransfers(provider: Provider, attempt: AttemptRecord): Promise<void> {
    await deleteAttemptTransfers(this.d.deps.attemptHolds, provider, this.d.job(), attempt.id).catch((error: unknown) => {
      this.d.journal.recordEvent(this.d.jobId, attempt.id, 'transfers-delete-failed', {
        message: asProviderError(attempt.provider, error).message,
      })
    })
  }

  /** A released cloud attempt's gang objects (deleteAttemptGang); a failure is an event, the attempt's end goes on. */
  async deleteGang(provider: Provider, attempt: AttemptRecord): Promise<void> {
    await deleteAttemptGang(this.d.deps.attemptHolds, provider, this.d.job(), attempt.id).catch((error: unknown) => {
      this.d.journal.recordEvent(this.d.jobId, attempt.id, 'gang-objects-delete-failed', {
        message: asProviderError(attempt.provider, error).message,
      })
    })
  }

  /**
   * A cloud attempt's one-time secrets object: its instance deleted it at boot, unless it never
   * booted (its launch failed) or was one node of a gang (which share it); nothing of it
   * outlives the attempt. Deleting what is already gone is harmless.
   */
  async deleteSecrets(provider: Provider, attempt: AttemptRecord): Promise<void> {
    await deleteAttemptSecrets(this.d.deps.attemptHolds, provider, this.d.job(), attempt.id).catch((error: unknown) => {
      this.d.journal.recordEvent(this.d.jobId, attempt.id, 'secrets-delete-failed', {
        message: asProviderError(attempt.provider, error).message,
      })
    })
  }
}

/**
 * Deletes a cloud attempt's one-time secrets object, whoever ends the attempt (its controller,
 * `cancel`, `recover`): an instance that never booted never fetched it, so never deleted it
 * either. Nothing to do for an attempt on skyhop's own filesystem or a job without secrets.
 * Throws what the store's DELETE throws.
 */
export async function deleteAttemptSecrets(
  holds: AttemptHoldStore | undefined,
  provider: Pick<Provider, 'attemptStorage'>,
  job: Pick<JobRecord, 'id' | 'spec'>,
  attemptId: string,
): Promise<void> {
  if ((provider.attemptStorage ?? 'shared') !== 'per-instance' || (job.spec.secrets ?? []).length === 0) return
  await holds?.deleteSecrets?.(job, attemptId)
}

/**
 * Deletes a released cloud attempt's gang objects (GangObjects: the rank and peer lists, the
 * notice, the runner its nodes fetched), whoever released it (its controller, `cancel`,
 * `recover`), so nothing of the attempt stays in the job's store. Nothing to do for an attempt
 * on skyhop's own filesystem (its gang shares files) or a job without a store. Throws what the
 * store's DELETE throws.
 */
export async function deleteAttemptGang(
  holds: AttemptHoldStore | undefined,
  provider: Pick<Provider, 'attemptStorage'>,
  job: Pick<JobRecord, 'id' | 'spec'>,
  attemptId: string,
): Promise<void> {
  if ((provider.attemptStorage ?? 'shared') !== 'per-instance') return
  await holds?.deleteGang?.(job, attemptId)
}

/**
 * Deletes a released cloud attempt's list of transfers (its files: and outputs: signed for it,
 * put in the job's store for its instance: checkpoint/transfers.ts), whoever released it (its
 * controller, `cancel`, `recover`, `down`, the idle guard), so no signed URL of the attempt
 * stays in the store. The job's workdir archive and packed local sources (content-addressed,
 * reused by a re-launch) and its outputs stay. Nothing to do for an attempt on skyhop's own
 * filesystem (its list is a file of its attempt directory). Throws what the store's DELETE throws.
 */
export async function deleteAttemptTransfers(
  holds: AttemptHoldStore | undefined,
  provider: Pick<Provider, 'attemptStorage'>,
  job: Pick<JobRecord, 'id' | 'spec'>,
  attemptId: string,
): Promise<void> {
  if ((provider.attemptStorage ?? 'shared') !== 'per-instance') return
  await holds?.deleteTransfers?.(job, attemptId)
}
