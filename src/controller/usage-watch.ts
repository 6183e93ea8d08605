// What a running attempt uses, read from its runner's samples while the controller polls it
// (docs/utilisation.md): summarised into the store for `status`, `cost` and the planner, and
// held against the job file's `usage.idle` policy. Not idle.ts, which releases machines whose
// job has already ended: this is about accelerators (or CPUs) idle while the job runs.
import {TERMINAL_ATTEMPT_STATES, type PollResult} from '../model/attempt.js'
import type {AttemptRecord} from '../model/records.js'
import {idleTail, parseSamples, summarizeSamples, usageFingerprint} from '../providers/usage-samples.js'
import type {JobDrive} from './drive.js'

/** How often a running attempt's samples are read again: they grow every sample interval (10 s by default). */
const READ_EVERY_MS = 3000

export class UsageWatch {
  private readonly lastRead = new Map<string, number>()
  /** Attempts the idle policy has acted on (once each). */
  private readonly acted = new Set<string>()

  constructor(private readonly d: JobDrive) {}

  /** Reads the attempt's samples (throttled while it runs; once more when it ends) and applies the idle policy. */
  async observe(attempt: AttemptRecord, result: PollResult): Promise<void> {
    const provider = this.d.deps.providers.get(attempt.provider)
    if (!provider?.usageSamples || !attempt.handle) return
    const ended = TERMINAL_ATTEMPT_STATES.has(result.state)
    if (result.state !== 'RUNNING' && !ended) return
    const now = this.d.clock().getTime()
    if (!ended && now - (this.lastRead.get(attempt.id) ?? 0) < READ_EVERY_MS) return
    let text: string | null
    try {
      text = await provider.usageSamples(attempt.handle)
    } catch {
      return // samples inform; a backend that cannot hand them over now is asked again next time
    }
    // Nothing yet (the first sample is one interval away): looked for again at the next poll.
    if (!text) return
    this.lastRead.set(attempt.id, now)
    const samples = parseSamples(text)
    const summary = summarizeSamples(samples)
    if (!summary) return
    const job = this.d.job()
    const policy = job.spec.usage?.idle ?? null
    const tail = policy ? idleTail(samples, policy.belowPct) : null
    this.d.journal.recordUsage({
      attemptId: attempt.id,
      jobId: job.id,
      jobName: job.name,
      fingerprint: usageFingerprint(job.spec),
      summary,
      idleSeconds: tail?.idleSeconds ?? 0,
    })
    if (ended || !policy || !tail || tail.idleSeconds < policy.forSeconds || this.acted.has(attempt.id)) return
    this.acted.add(attempt.id)
    const what = tail.basis === 'accelerators' ? `its accelerators (${summary.acceleratorTool})` : 'its CPUs'
    const message = `${what} stayed below ${policy.belowPct}% busy for ${Math.round(tail.idleSeconds)} s (usage.idle.for: ${policy.forSeconds} s)`
    const data = {
      basis: tail.basis,
      idleSeconds: Math.round(tail.idleSeconds),
      belowPct: policy.belowPct,
      forSeconds: policy.forSeconds,
      action: policy.action,
    }
    if (policy.action === 'warn') {
      this.d.journal.recordEvent(job.id, attempt.id, 'usage-idle', data)
      this.d.emit('usage-idle', `${message}; warning only (usage.idle.action: warn)`, {attemptId: attempt.id, data})
      return
    }
    // Stopped the way a cancel stops it: the job's signal, then its grace to checkpoint
    // (checkpoint-and-stop) or none (stop). The job ends CANCELLED with the reason.
    const grace = policy.action === 'checkpoint-and-stop' ? job.spec.recovery.graceSeconds : 0
    const reason = `stopped by its idle policy: ${message}`
    this.d.journal.recordJobState(
      job.id,
      'CANCELLED',
      {kind: 'usage-idle-stop', attemptId: attempt.id, data: {...data, graceSeconds: grace}},
      {reason},
    )
    this.d.emit('usage-idle', reason, {attemptId: attempt.id, data})
    try {
      await provider.signal(attempt.handle, 'cancel', grace)
      this.d.stopping.set(attempt.id, this.d.clock().getTime() + (grace + 60) * 1000)
    } catch (error) {
      this.d.journal.recordEvent(job.id, attempt.id, 'usage-idle-stop-failed', {
        message: error instanceof Error ? error.message : String(error),
      })
    }
  }
}
