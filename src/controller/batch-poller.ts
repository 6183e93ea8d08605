// Status polls of many jobs driven in one process (a sweep), coalesced into one backend
// call per provider per tick, so polling cost does not grow with the number of jobs.
// Where a poll is cheap (this machine's files), the tick adapts: it starts short when an
// attempt is new or one has just ended (a short job's end is seen within milliseconds, and
// the next job starts at once) and grows by a quarter per poll up to the provider's interval while nothing changes.
import {type LaunchHandle, type PollResult, TERMINAL_ATTEMPT_STATES} from '../model/attempt.js'
import type {Provider} from '../providers/provider.js'

export class BatchPoller {
  private readonly queue = new Map<
    Provider,
    Array<{handle: LaunchHandle; resolve: (r: PollResult | undefined) => void; reject: (e: unknown) => void}>
  >()
  private readonly timers = new Map<Provider, NodeJS.Timeout>()
  /** Backend poll calls made, per provider (for benchmarks and tests). */
  readonly calls = new Map<string, number>()
  /** The current adaptive tick per provider, and the attempts it has seen. */
  private readonly tick = new Map<string, number>()
  private readonly seen = new Map<string, Set<string>>()

  /**
   * `intervalMs` may differ per provider (a sweep polls this machine's files more often than
   * a cloud's API); each provider's batch goes out on its own cadence.
   */
  constructor(
    private readonly intervalMs: number | ((provider: string) => number),
    /** The shortest tick of a provider whose polls are cheap; undefined = always its interval. */
    private readonly minIntervalMs: (provider: string) => number | undefined = () => undefined,
  ) {}

  private intervalOf(provider: string): number {
    return typeof this.intervalMs === 'number' ? this.intervalMs : this.intervalMs(provider)
  }

  poll(provider: Provider, handle: LaunchHandle): Promise<PollResult | undefined> {
    return new Promise((resolve, reject) => {
      const list = this.queue.get(provider) ?? []
      list.push({handle, resolve, reject})
      this.queue.set(provider, list)
      const min = this.minIntervalMs(provider.name)
      if (min !== undefined) {
        const seen = this.seen.get(provider.name) ?? new Set<string>()
        this.seen.set(provider.name, seen)
        // A new attempt: look soon, it may be a short one.
        if (!seen.has(handle.externalId)) {
          seen.add(handle.externalId)
          this.tick.set(provider.name, min)
        }
      }
      if (!this.timers.has(provider)) {
        const ms = min === undefined ? this.intervalOf(provider.name) : (this.tick.get(provider.name) ?? min)
        this.timers.set(
          provider,
          setTimeout(() => void this.flush(provider), ms),
        )
      }
    })
  }

  private async flush(provider: Provider): Promise<void> {
    this.timers.delete(provider)
    const waiters = this.queue.get(provider) ?? []
    this.queue.delete(provider)
    if (waiters.length === 0) return
    this.calls.set(provider.name, (this.calls.get(provider.name) ?? 0) + 1)
    try {
      const results = await provider.poll(waiters.map((w) => w.handle))
      this.adapt(provider.name, results)
      for (const w of waiters) w.resolve(results.get(w.handle.externalId))
    } catch (error) {
      for (const w of waiters) w.reject(error)
    }
  }

  /** Next tick: short again when an attempt ended (another may start), else a quarter longer, up to the interval. */
  private adapt(provider: string, results: Map<string, PollResult>): void {
    const min = this.minIntervalMs(provider)
    if (min === undefined) return
    const seen = this.seen.get(provider)
    let ended = false
    for (const [id, r] of results) {
      if (TERMINAL_ATTEMPT_STATES.has(r.state)) {
        ended = true
        seen?.delete(id)
      }
    }
    const current = this.tick.get(provider) ?? min
    this.tick.set(provider, ended ? min : Math.min(this.intervalOf(provider), current * 1.25))
  }
}
