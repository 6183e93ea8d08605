// Status polls of many jobs driven in one process (a sweep), coalesced into one backend
// call per provider per tick, so polling cost does not grow with the number of jobs.
import type {LaunchHandle, PollResult} from '../model/attempt.js'
import type {Provider} from '../providers/provider.js'

export class BatchPoller {
  private readonly queue = new Map<
    Provider,
    Array<{handle: LaunchHandle; resolve: (r: PollResult | undefined) => void; reject: (e: unknown) => void}>
  >()
  private readonly timers = new Map<Provider, NodeJS.Timeout>()
  /** Backend poll calls made, per provider (for benchmarks and tests). */
  readonly calls = new Map<string, number>()

  /**
   * `intervalMs` may differ per provider (a sweep polls this machine's files more often than
   * a cloud's API); each provider's batch goes out on its own cadence.
   */
  constructor(private readonly intervalMs: number | ((provider: string) => number)) {}

  poll(provider: Provider, handle: LaunchHandle): Promise<PollResult | undefined> {
    return new Promise((resolve, reject) => {
      const list = this.queue.get(provider) ?? []
      list.push({handle, resolve, reject})
      this.queue.set(provider, list)
      if (!this.timers.has(provider)) {
        const ms = typeof this.intervalMs === 'number' ? this.intervalMs : this.intervalMs(provider.name)
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
      for (const w of waiters) w.resolve(results.get(w.handle.externalId))
    } catch (error) {
      for (const w of waiters) w.reject(error)
    }
  }
}
