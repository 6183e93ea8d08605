// What a running attempt uses, read from its runner's samples while the controller polls it
// (docs/utilisation.md): summarised into the store for `status`, `cost` and the planner, and
// held against the job file's `usage.idle` policy. Not idle.ts, which releases machines whose
// job has already ended: this is about accelerators (or CPUs) idle while the job runs.
import {TERMINAL_ATTEMPT_STATES, type PollResult} from '../model/attempt.js'
import type {AttemptRecord} from '../model/records.js'
import type {UsageSample} from '../model/usage.js'
import {
  NO_USAGE,
  type UsageTotals,
  addSamples,
  gangSummaryOf,
  idleTail,
  parseSamples,
  summaryOf,
  usageFingerprint,
} from '../providers/usage-samples.js'
import type {JobDrive} from './drive.js'

/** The least time between two reads of a running attempt's samples. */
const READ_EVERY_MS = 3000
/** The runner's default sampleIntervalSeconds. */
const DEFAULT_INTERVAL_SECONDS = 10

export class UsageWatch {
  /**
   * Per attempt: how far each rank's file was read and its totals so far (one of each for a
   * single node), the recent samples of every rank in time order (for the idle policy), when.
   */
  private readonly seen = new Map<string, {offsets: number[]; totals: UsageTotals[]; recent: UsageSample[]; readAt: number}>()
  /** Attempts the idle policy has acted on (once each). */
  private readonly acted = new Set<string>()

  constructor(private readonly d: JobDrive) {}

  /** Reads the attempt's new samples (throttled while it runs; once more when it ends) and applies the idle policy. */
  async observe(attempt: AttemptRecord, result: PollResult): Promise<void> {
    const provider = this.d.deps.providers.get(attempt.provider)
    if (!provider?.usageSamples || !attempt.handle) return
    const ended = TERMINAL_ATTEMPT_STATES.has(result.state)
    if (result.state !== 'RUNNING' && !ended) return
    const job = this.d.job()
    const now = this.d.clock().getTime()
    const interval = job.spec.usage?.sampleIntervalSeconds ?? DEFAULT_INTERVAL_SECONDS
    if (interval === 0) return
    // A gang's every rank runs a sampler of its own (node-<rank>/samples.jsonl): each is read.
    const ranks = Math.max(1, job.spec.nodes)
    const state = this.seen.get(attempt.id) ?? {
      offsets: Array.from({length: ranks}, () => 0),
      totals: Array.from({length: ranks}, () => NO_USAGE),
      recent: [],
      readAt: 0,
    }
    // New samples come every interval: no sooner than that (and READ_EVERY_MS) are the files read again.
    if (!ended && now - state.readAt < Math.max(READ_EVERY_MS, interval * 1000)) return
    const fresh: UsageSample[] = []
    const offsets = [...state.offsets]
    const totals = [...state.totals]
    try {
      for (let rank = 0; rank < ranks; rank++) {
        const mine: UsageSample[] = []
        // A long attempt's file (a restarted controller reads it from the start) comes a piece at a time.
        for (let piece = 0; piece < 64; piece++) {
          const got = await provider.usageSamples(attempt.handle, offsets[rank], rank)
          if (!got || got.offset === offsets[rank]) break
          mine.push(...parseSamples(got.text))
          offsets[rank] = got.offset
        }
        totals[rank] = addSamples(totals[rank], mine)
        fresh.push(...mine)
      }
    } catch {
      return // samples inform; a backend that cannot hand them over now is asked again next time
    }
    // Nothing yet (the first sample is one interval away): looked for again at the next poll.
    if (fresh.length === 0 && state.totals.every((t) => t.samples === 0)) return
    const policy = job.spec.usage?.idle ?? null
    // The idle policy needs only the samples of its window (and a little before it).
    const keepMs = ((policy?.forSeconds ?? 0) + 2 * interval + 60) * 1000
    // Every rank's, in time order: the gang is idle only while no rank has been busy.
    const recent = [...state.recent, ...fresh].sort((a, b) => Date.parse(a.ts) - Date.parse(b.ts))
    const cutoff = Date.parse(recent.at(-1)?.ts ?? new Date(now).toISOString()) - keepMs
    const kept = recent.filter((s) => Date.parse(s.ts) >= cutoff)
    this.seen.set(attempt.id, {offsets, totals, recent: kept, readAt: now})
    const summary = ranks > 1 ? gangSummaryOf(totals) : summaryOf(totals[0])
    if (!summary) return
    const tail = policy ? idleTail(kept, policy.belowPct) : null
    this.d.journal.recordUsage({
      attemptId: attempt.id,
      jobId: job.id,
      jobName: job.name,
      fingerprint: usageFingerprint(job.spec),
      summary,
      idleSeconds: tail?.idleSeconds ?? 0,
    })
    if (ended) this.seen.delete(attempt.id)
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
