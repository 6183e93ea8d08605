// A cloud attempt's runner ships its output.log and samples through signed PUT URLs
// (ShipObjects), which die with the credentials that signed them: seven days at most, an hour
// or so with temporary credentials. While the attempt runs the controller signs its ship list
// again once two thirds of the URLs' life has passed and rewrites it in place; the runner
// reads it again through the list's own URL (docs/job-contract.md#the-attempts-output-and-samples).
// The list's first line says when it was signed, so a restarted controller (or another one)
// knows when to renew without anything kept here but when to look next.
import type {PollResult} from '../model/attempt.js'
import type {AttemptRecord} from '../model/records.js'
import {shippedOf} from '../providers/vm/shipped.js'
import {redact} from '../util/redact.js'
import type {JobDrive} from './drive.js'

/** How soon a list that could not be read or signed again is looked at again. */
const RETRY_MS = 60_000

export class ShipRenewal {
  /** Per attempt: when to look at its list again (controller clock, ms). */
  private readonly nextAt = new Map<string, number>()

  constructor(private readonly d: JobDrive) {}

  async observe(attempt: AttemptRecord, result: PollResult): Promise<void> {
    const renew = this.d.deps.attemptHolds?.renewShip
    if (!renew || !attempt.handle || result.state !== 'RUNNING') {
      this.nextAt.delete(attempt.id)
      return
    }
    const ship = shippedOf(attempt.handle)
    if (!ship) return
    const now = this.d.clock().getTime()
    if (now < (this.nextAt.get(attempt.id) ?? 0)) return
    const job = this.d.job()
    try {
      const got = await renew(job, attempt.id, ship.store)
      if (got === null) {
        // No list to renew (an attempt launched before lists said when they were signed).
        this.nextAt.set(attempt.id, Number.POSITIVE_INFINITY)
        return
      }
      this.nextAt.set(attempt.id, Math.max(now + RETRY_MS, Date.parse(got.nextAt)))
      if (got.renewed) this.d.journal.recordEvent(job.id, attempt.id, 'ship-urls-renewed', {expiresAt: got.expiresAt})
    } catch (error) {
      // The URLs in the runner's hands work until they expire: tried again in a minute.
      this.nextAt.set(attempt.id, now + RETRY_MS)
      const said = this.d.journal.events(job.id).some((e) => e.kind === 'ship-urls-renew-failed' && e.attemptId === attempt.id)
      if (!said) {
        this.d.journal.recordEvent(job.id, attempt.id, 'ship-urls-renew-failed', {
          message: redact(error instanceof Error ? error.message : String(error)),
        })
      }
    }
  }
}
