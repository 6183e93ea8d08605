// `recover`: after a crash or reboot, give every unfinished job a controller again and
// stop attempts that still run for jobs that have ended (nothing left running unowned).
import type {Provider} from '../providers/provider.js'
import {TERMINAL_ATTEMPT_STATES} from '../providers/provider.js'
import {type Store, TERMINAL_JOB_STATES} from '../state/store.js'
import {spawnDetachedController} from './launch.js'

export interface RecoverResult {
  restarted: string[]
  cleaned: string[]
}

export async function recoverJobs(input: {
  store: Store
  providers: ReadonlyMap<string, Provider>
  home: string
  spawn?: (home: string, jobId: string) => void
}): Promise<RecoverResult> {
  const spawn = input.spawn ?? spawnDetachedController
  const restarted: string[] = []
  for (const job of input.store.orphanedJobs()) {
    spawn(input.home, job.id)
    input.store.addEvent(job.id, null, 'controller-restarted', {})
    restarted.push(job.id)
  }
  const cleaned: string[] = []
  for (const attempt of input.store.liveAttempts()) {
    const job = input.store.getJob(attempt.jobId)
    if (!job || !TERMINAL_JOB_STATES.has(job.state) || !attempt.handle) continue
    const provider = input.providers.get(attempt.provider)
    if (!provider) continue
    const r = (await provider.poll([attempt.handle])).get(attempt.handle.externalId)
    if (r && !TERMINAL_ATTEMPT_STATES.has(r.state)) await provider.signal(attempt.handle, 'cancel', job.spec.recovery.graceSeconds)
    input.store.updateAttempt(attempt.id, {state: r && TERMINAL_ATTEMPT_STATES.has(r.state) ? r.state : 'CANCELLED', endedAt: new Date().toISOString(), reason: 'job had ended'}, {kind: 'attempt-reconciled'})
    await provider.cleanup(attempt.handle).catch(() => undefined)
    cleaned.push(attempt.id)
  }
  return {restarted, cleaned}
}
