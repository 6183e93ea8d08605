// A simulated cloud for replaying traces through the real controller (controller.ts
// driveJob): a virtual clock with a sleep that advances it instead of waiting, and a
// Provider whose spot capacity per zone is a trace. One SimWorld holds the clock, the
// job's progress and every instance launched; one SimulatedProvider per provider name
// (aws, gcp) talks to it, so the controller sees the ordinary Provider interface.
//
// The market model is the engine's (engine.ts), so the two can be compared run for run:
// tick k of a trace covers [k·gap, (k+1)·gap); a zone has spot during it when the trace
// shows at least `nodes` instances. A spot launch succeeds only where there is spot now
// (else a capacity error scoped to the zone, as EC2's InsufficientInstanceCapacity);
// on-demand always does. Every launch spends the changeover delay d in PROVISIONING
// (paid, no progress), then RUNNING makes progress at the instance's speed until the
// work is done (SUCCEEDED) or, on spot, until the first tick boundary where the zone has
// no spot (PREEMPTED; the notice comes `noticeHours` before, work done is kept because
// the job checkpoints in its grace window). A held launch (LaunchRequest.hold, a file)
// is billed from its launch but runs only once the file exists, as the runner does.
// Billing stops when the instance ends or is released, whichever is first.
import {existsSync} from 'node:fs'

import type {Offer} from '../model/catalog.js'
import {BugError, ProviderError} from '../errors.js'
import type {CheckResult, LaunchRequest, Provider} from '../providers/provider.js'
import type {AttemptState, LaunchHandle, PollResult} from '../model/attempt.js'
import {changeDistances} from './engine.js'
import type {RunOutcome, SpotMarket} from './types.js'

const EPS = 1e-9
const MS_PER_HOUR = 3_600_000

/** A clock that only moves when told to. Time 0 of the run is `startMs`. */
export class VirtualClock {
  ms: number
  constructor(readonly startMs: number) {
    this.ms = startMs
  }

  readonly now = (): Date => new Date(this.ms)
  /** Hours since the start of the run. */
  hours(): number {
    return (this.ms - this.startMs) / MS_PER_HOUR
  }

  atHours(h: number): Date {
    return new Date(this.startMs + h * MS_PER_HOUR)
  }
}

export interface SimWorldInput {
  markets: readonly SpotMarket[]
  gapHours: number
  startTick: number
  nodes: number
  changeoverHours: number
  noticeHours: number
  /** Work in hours on the job's reference configuration. */
  workHours: number
  clock: VirtualClock
  /** Per market, changeDistances(data, nodes); computed when absent. */
  changes?: readonly Int32Array[]
}

interface Instance {
  id: string
  idempotencyKey: string
  provider: string
  market: number
  spot: boolean
  speed: number
  usdPerHour: number
  /** Hours from the start of the run. */
  launchedAt: number
  readyAt: number
  /** Spot: the tick boundary where the zone loses spot; Infinity on-demand. */
  goneAt: number
  /** A held instance (LaunchRequest.hold): the file whose creation lets it start, and when it was seen (hours). */
  holdFile: string | null
  releasedAt: number | null
  /** Billed and progressed up to here. */
  accountedTo: number
  state: AttemptState
  endedAt: number | null
  reason: string | null
}

/** What the simulated world charged and did; the engine's RunOutcome fields. */
export type SimTotals = Pick<
  RunOutcome,
  'costUsd' | 'spotHours' | 'onDemandHours' | 'spotWorkHours' | 'onDemandWorkHours' | 'changeovers' | 'preemptions'
> & {
  /** Hours from the start when the work was done, or null. */
  finishedAt: number | null
}

export class SimWorld {
  readonly clock: VirtualClock
  readonly totals: SimTotals = {
    costUsd: 0,
    spotHours: 0,
    onDemandHours: 0,
    spotWorkHours: 0,
    onDemandWorkHours: 0,
    changeovers: 0,
    preemptions: 0,
    finishedAt: null,
  }
  /** Reference hours of work done so far. */
  done = 0
  private readonly instances = new Map<string, Instance>()
  private readonly byKey = new Map<string, Instance>()
  private readonly changes: readonly Int32Array[]
  private nextId = 1

  constructor(readonly input: SimWorldInput) {
    this.clock = input.clock
    this.changes = input.changes ?? input.markets.map((m) => changeDistances(m.data, input.nodes))
  }

  get remainingWork(): number {
    return Math.max(0, this.input.workHours - this.done)
  }

  /** Whether zone `market` has spot during tick `k` of the run. */
  available(market: number, k: number): boolean {
    const data = this.input.markets[market].data
    return data[(this.input.startTick + k) % data.length] >= this.input.nodes
  }

  tickAt(hours: number): number {
    return Math.floor(hours / this.input.gapHours + EPS)
  }

  /** The market of an offer: same zone and same kind of instance. */
  marketOf(offer: Offer): number {
    const i = this.input.markets.findIndex(
      (m) => m.provider === offer.provider && m.zone === offer.zone && offer.instanceType === instanceTypeOf(m),
    )
    if (i < 0) throw new BugError(`simulated provider: no trace market for offer ${offer.provider}/${offer.zone}/${offer.instanceType}`)
    return i
  }

  launch(provider: string, request: LaunchRequest): LaunchHandle {
    const prior = this.byKey.get(request.idempotencyKey)
    if (prior) return handleOf(prior, this.input.markets[prior.market])
    const now = this.clock.hours()
    this.settleAll(now)
    const market = this.marketOf(request.offer)
    const m = this.input.markets[market]
    const k = this.tickAt(now)
    let goneAt = Number.POSITIVE_INFINITY
    if (request.spot) {
      if (!this.available(market, k)) {
        throw new ProviderError(
          provider,
          'capacity',
          `no spot capacity for ${instanceTypeOf(m)} in ${m.zone} (simulated, trace ${now.toFixed(3)} h)`,
          {
            scope: 'zone',
            backendCode: 'InsufficientInstanceCapacity',
          },
        )
      }
      const idx = (this.input.startTick + k) % m.data.length
      const until = this.changes[market][idx]
      goneAt = until >= 1 << 30 ? Number.POSITIVE_INFINITY : (k + until) * this.input.gapHours
    }
    const inst: Instance = {
      id: `sim-${this.nextId++}`,
      idempotencyKey: request.idempotencyKey,
      provider,
      market,
      spot: request.spot,
      speed: m.speed,
      usdPerHour: request.spot ? m.spotUsdPerHour : m.onDemandUsdPerHour,
      launchedAt: now,
      readyAt: now + this.input.changeoverHours,
      goneAt,
      holdFile: request.hold && 'file' in request.hold ? request.hold.file : null,
      releasedAt: null,
      accountedTo: now,
      state: 'PROVISIONING',
      endedAt: null,
      reason: null,
    }
    this.instances.set(inst.id, inst)
    this.byKey.set(inst.idempotencyKey, inst)
    this.totals.changeovers++
    return handleOf(inst, m)
  }

  /** Bills and progresses every live instance up to `now` (hours), ending those whose end came. */
  private settleAll(now: number): void {
    for (const inst of this.instances.values()) this.settle(inst, now)
  }

  private settle(inst: Instance, now: number): void {
    if (inst.endedAt !== null) return
    // A held instance starts the job once skyhop has created its hold file (the controller
    // does, then polls at once: the clock has not moved since).
    if (inst.holdFile !== null && inst.releasedAt === null && existsSync(inst.holdFile)) inst.releasedAt = now
    let end = Math.min(now, inst.goneAt)
    // When the work would be done, given what is done now (one live instance at a time).
    const runFrom = Math.max(inst.accountedTo, this.startOf(inst))
    const finishAt = runFrom + this.remainingWork / inst.speed
    if (finishAt <= end + EPS) end = Math.max(inst.accountedTo, finishAt)
    if (end > inst.accountedTo) {
      const paid = end - inst.accountedTo
      this.totals.costUsd += paid * inst.usdPerHour
      if (inst.spot) this.totals.spotHours += paid
      else this.totals.onDemandHours += paid
      const ran = Math.max(0, end - Math.max(inst.accountedTo, this.startOf(inst)))
      const work = end === finishAt ? this.remainingWork : Math.min(this.remainingWork, ran * inst.speed)
      this.done += work
      if (inst.spot) this.totals.spotWorkHours += work
      else this.totals.onDemandWorkHours += work
      inst.accountedTo = end
    }
    if (this.remainingWork <= EPS && inst.accountedTo >= this.startOf(inst)) {
      this.done = this.input.workHours
      this.end(inst, 'SUCCEEDED', inst.accountedTo, null)
      this.totals.finishedAt ??= inst.accountedTo
      return
    }
    if (inst.goneAt <= now + EPS) {
      this.totals.preemptions++
      const notice = this.input.noticeHours > 0 ? `; notice given at ${(inst.goneAt - this.input.noticeHours).toFixed(3)} h` : ''
      this.end(inst, 'PREEMPTED', inst.goneAt, `spot capacity taken back in ${this.input.markets[inst.market].zone}${notice}`)
      return
    }
    inst.state = now + EPS >= this.startOf(inst) ? 'RUNNING' : 'PROVISIONING'
  }

  /** When the instance runs the job: ready, and let go if held (Infinity until then). */
  private startOf(inst: Instance): number {
    if (inst.holdFile === null) return inst.readyAt
    return inst.releasedAt === null ? Number.POSITIVE_INFINITY : Math.max(inst.readyAt, inst.releasedAt)
  }

  private end(inst: Instance, state: AttemptState, at: number, reason: string | null): void {
    inst.state = state
    inst.endedAt = at
    inst.reason = reason
  }

  poll(handles: readonly LaunchHandle[]): Map<string, PollResult> {
    this.settleAll(this.clock.hours())
    const out = new Map<string, PollResult>()
    for (const h of handles) {
      const inst = this.instances.get(h.externalId)
      if (!inst) continue
      const ended = inst.endedAt
      const start = this.startOf(inst)
      out.set(h.externalId, {
        state: inst.state,
        exitCode: inst.state === 'SUCCEEDED' ? 0 : null,
        reason: inst.reason,
        startedAt: Number.isFinite(start) && this.clock.now() >= this.clock.atHours(start) ? this.clock.atHours(start).toISOString() : null,
        endedAt: ended === null ? null : this.clock.atHours(ended).toISOString(),
      })
    }
    return out
  }

  /** Stops billing an instance (cancel or cleanup). */
  release(handle: LaunchHandle, state: AttemptState = 'CANCELLED'): void {
    const inst = this.instances.get(handle.externalId)
    if (!inst) return
    const now = this.clock.hours()
    this.settle(inst, now)
    if (inst.endedAt === null) this.end(inst, state, now, 'released')
  }

  /** The next time (ms) a live instance changes state, or Infinity. */
  nextEventMs(): number {
    let next = Number.POSITIVE_INFINITY
    const now = this.clock.hours()
    for (const inst of this.instances.values()) {
      if (inst.endedAt !== null) continue
      const runFrom = Math.max(inst.accountedTo, this.startOf(inst))
      for (const t of [inst.readyAt, inst.goneAt, runFrom + this.remainingWork / inst.speed]) if (t > now + EPS && t < next) next = t
    }
    return Number.isFinite(next) ? this.clock.startMs + Math.ceil(next * MS_PER_HOUR) : next
  }

  /**
   * A sleep on the virtual clock: advances it by `ms`, or to the next change of state of a
   * live instance if that comes first (a poller woken by the backend's event, never late).
   */
  readonly sleep = async (ms: number): Promise<void> => {
    const target = this.clock.ms + Math.max(0, ms)
    const next = this.nextEventMs()
    this.clock.ms = Math.max(this.clock.ms, Math.min(target, next))
  }

  liveInstances(): number {
    let n = 0
    for (const inst of this.instances.values()) if (inst.endedAt === null) n++
    return n
  }
}

/** The instance type the simulated offers use for a market: `v100_1`. */
export function instanceTypeOf(m: Pick<SpotMarket, 'label' | 'count'>): string {
  return `${m.label}_${m.count}`
}

function handleOf(inst: Instance, m: SpotMarket): LaunchHandle {
  return {
    provider: inst.provider,
    externalId: inst.id,
    region: m.region,
    zone: m.zone,
    data: {attemptId: inst.idempotencyKey, simulated: true},
  }
}

/** The Provider the controller talks to; everything happens in the shared SimWorld. */
export class SimulatedProvider implements Provider {
  constructor(
    readonly name: string,
    private readonly world: SimWorld,
  ) {}

  async check(): Promise<CheckResult> {
    return {provider: this.name, ok: true, source: 'simulator', message: 'simulated from spot availability traces'}
  }

  async launch(request: LaunchRequest): Promise<LaunchHandle> {
    return this.world.launch(this.name, request)
  }

  async poll(handles: LaunchHandle[]): Promise<Map<string, PollResult>> {
    return this.world.poll(handles)
  }

  // eslint-disable-next-line require-yield
  async *logs(): AsyncIterable<string> {
    return
  }

  async signal(handle: LaunchHandle, kind: 'cancel' | 'preempt'): Promise<void> {
    this.world.release(handle, kind === 'cancel' ? 'CANCELLED' : 'PREEMPTED')
  }

  async cleanup(handle: LaunchHandle): Promise<void> {
    this.world.release(handle)
  }
}
