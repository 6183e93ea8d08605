// The load balancer on a worker thread of its own (balancer-worker.ts), so the service
// controller's work in its thread (the store's synchronous SQLite calls, polls, probes, the
// metrics it records) never holds up a request: requests are handled on the worker's event
// loop, which does nothing else. The controller drives it through the same calls as the
// in-thread LoadBalancer (the Balancer interface); what it reads back (outstanding requests,
// the rate, per-replica metrics, totals) comes from snapshots the worker posts every 100 ms
// (percentiles every second). A replica the controller has asked to drain counts at least
// one outstanding request until a snapshot shows the worker has it draining, so the
// controller never stops a replica the worker may still send a request to.
import {Worker} from 'node:worker_threads'

import {type BalancerOptions, type BalancerTotals, LoadBalancer, type ReplicaMetrics, type ReplicaTarget} from './balancer.js'

/** What the service controller uses of a load balancer, in its thread or on a worker. */
export interface Balancer {
  start(): Promise<string>
  add(target: ReplicaTarget): void
  drain(id: string, timeoutMs?: number): Promise<boolean>
  /** Routes to the replica until `atMs` (ms since the epoch), then drains it (a replica under notice). */
  scheduleDrain(id: string, atMs: number): void
  remove(id: string): void
  metrics(now?: number): ReplicaMetrics[]
  rate(now?: number): number
  outstanding(id: string): number
  readonly totals: BalancerTotals
  close(): Promise<void>
}

/** Controller → worker. */
export type BalancerCommand =
  | {op: 'add'; target: ReplicaTarget}
  | {op: 'drain'; id: string; seq: number; timeoutMs: number | null}
  | {op: 'drainAt'; id: string; atMs: number}
  | {op: 'remove'; id: string}
  | {op: 'close'; seq: number}

/** Worker → controller. */
export type BalancerMessage =
  | {kind: 'started'; endpoint: string}
  | {kind: 'error'; code: string | null; message: string}
  | {kind: 'snapshot'; rate: number; totals: BalancerTotals; replicas: ReplicaMetrics[]; full: boolean}
  | {kind: 'drained'; seq: number; ok: boolean}
  | {kind: 'closed'; seq: number}

export const SNAPSHOT_MS = 100

/**
 * A balancer on its own worker thread when the code runs built (dist/ or the CLI's bundle,
 * where balancer-worker.js sits beside this module) and SKYHOP_BALANCER_THREAD is not 0;
 * else in this thread (the TypeScript sources under tests: Node gives a worker no tsx loader).
 */
export function createBalancer(options: BalancerOptions, env: NodeJS.ProcessEnv = process.env): Balancer {
  const built = !import.meta.url.endsWith('.ts')
  if (!built || env.SKYHOP_BALANCER_THREAD === '0') return new LoadBalancer(options)
  return new ThreadedBalancer(options)
}

export class ThreadedBalancer implements Balancer {
  private worker?: Worker
  private seq = 0
  private readonly waiting = new Map<number, (ok: boolean) => void>()
  private snapshot: {rate: number; replicas: Map<string, ReplicaMetrics>} = {rate: 0, replicas: new Map()}
  private fullMetrics: ReplicaMetrics[] = []
  /** Drains asked for that no snapshot has shown yet. */
  private readonly drainAsked = new Set<string>()
  totals: BalancerTotals = {requests: 0, failed: 0, retried: 0, rejected: 0}
  /** What the controller has set, given again to a worker that replaces a dead one. */
  private readonly targets = new Map<string, ReplicaTarget>()
  private readonly draining = new Set<string>()
  /** Drains set for later, by replica: given again to a worker that replaces a dead one. */
  private readonly drainsAt = new Map<string, number>()
  private closing = false
  /** The current worker has started and not exited. */
  private alive = false
  private port: number | null = null
  /** Workers started again after one died. */
  restarts = 0

  constructor(private readonly options: BalancerOptions) {}

  start(): Promise<string> {
    return this.spawn(this.options)
  }

  private spawn(options: BalancerOptions): Promise<string> {
    const worker = new Worker(new URL('./balancer-worker.js', import.meta.url), {workerData: {options}})
    this.worker = worker
    return new Promise<string>((resolve, reject) => {
      let started = false
      worker.on('message', (m: BalancerMessage) => {
        switch (m.kind) {
          case 'started':
            started = true
            this.alive = true
            this.port ??= Number(new URL(m.endpoint).port)
            resolve(m.endpoint)
            break
          case 'error': {
            const error = Object.assign(new Error(m.message), m.code ? {code: m.code} : {})
            void worker.terminate()
            if (!started) reject(error)
            break
          }
          case 'snapshot':
            this.onSnapshot(m)
            break
          case 'drained':
          case 'closed':
            this.waiting.get(m.seq)?.(m.kind === 'closed' ? true : m.ok)
            this.waiting.delete(m.seq)
            break
        }
      })
      worker.on('error', (error) => {
        if (!started) reject(error)
      })
      worker.on('exit', () => {
        if (this.worker === worker) this.alive = false
        for (const f of this.waiting.values()) f(false)
        this.waiting.clear()
        if (!started) reject(new Error('the load balancer thread exited before it listened'))
        else if (!this.closing && this.worker === worker) void this.restart()
      })
    })
  }

  /**
   * The worker died (an error it did not catch): a new one on the same port, given the
   * replicas and drains the controller had set. Requests in flight on the old one are lost,
   * as they would be with the controller's own thread.
   */
  private async restart(): Promise<void> {
    this.snapshot = {rate: 0, replicas: new Map()}
    for (let i = 0; !this.closing; i++) {
      if (this.worker !== undefined && this.alive) return
      try {
        await this.spawn({...this.options, port: this.port ?? this.options.port})
        break
      } catch {
        // The port may be held for a moment by the dead worker's sockets: again, up to a second apart.
        await new Promise((r) => setTimeout(r, Math.min(1000, 100 * (i + 1))))
      }
    }
    for (const target of this.targets.values()) this.send({op: 'add', target})
    for (const id of this.draining) this.send({op: 'drain', id, seq: ++this.seq, timeoutMs: null})
    for (const [id, atMs] of this.drainsAt) if (!this.draining.has(id)) this.send({op: 'drainAt', id, atMs})
    this.restarts++
  }

  private onSnapshot(m: Extract<BalancerMessage, {kind: 'snapshot'}>): void {
    this.totals = m.totals
    this.snapshot = {rate: m.rate, replicas: new Map(m.replicas.map((r) => [r.id, r]))}
    if (m.full) this.fullMetrics = m.replicas
    for (const r of m.replicas) if (r.draining) this.drainAsked.delete(r.id)
  }

  private send(command: BalancerCommand): void {
    this.worker?.postMessage(command)
  }

  add(target: ReplicaTarget): void {
    this.targets.set(target.id, target)
    this.draining.delete(target.id)
    this.drainsAt.delete(target.id)
    this.send({op: 'add', target})
  }

  drain(id: string, timeoutMs = Infinity): Promise<boolean> {
    if (this.targets.has(id)) this.draining.add(id)
    this.drainAsked.add(id)
    const seq = ++this.seq
    return new Promise<boolean>((resolve) => {
      this.waiting.set(seq, resolve)
      this.send({op: 'drain', id, seq, timeoutMs: Number.isFinite(timeoutMs) ? timeoutMs : null})
    })
  }

  scheduleDrain(id: string, atMs: number): void {
    if (this.targets.has(id)) this.drainsAt.set(id, atMs)
    this.send({op: 'drainAt', id, atMs})
  }

  remove(id: string): void {
    this.targets.delete(id)
    this.draining.delete(id)
    this.drainsAt.delete(id)
    this.drainAsked.delete(id)
    this.snapshot.replicas.delete(id)
    this.send({op: 'remove', id})
  }

  metrics(): ReplicaMetrics[] {
    return this.fullMetrics.filter((r) => this.snapshot.replicas.has(r.id))
  }

  rate(): number {
    return this.snapshot.rate
  }

  outstanding(id: string): number {
    const n = this.snapshot.replicas.get(id)?.outstanding ?? 0
    // Until the worker shows the drain, it may still route a request to the replica.
    return this.drainAsked.has(id) ? Math.max(1, n) : n
  }

  async close(): Promise<void> {
    this.closing = true
    const worker = this.worker
    if (!worker) return
    if (this.alive) {
      const seq = ++this.seq
      await new Promise<boolean>((resolve) => {
        this.waiting.set(seq, resolve)
        this.send({op: 'close', seq})
      })
    }
    await worker.terminate()
    this.worker = undefined
  }
}
