// The service controller of `skyhop serve` (docs/serve.md): one detached process per service,
// holding the service's lease like a job's controller, that runs the load balancer and keeps
// the replicas at the target. Each tick it polls the replicas through their providers,
// probes the starting ones' readiness, reads the request rate off the balancer, and
// launches, drains or stops replicas. An interruption notice (a poll that says the replica is
// being stopped by a notice) launches its replacement at once, while the replica keeps
// serving until its drain time (the kill less a drain window, noticeDrainAt), when the
// balancer stops routing to it and the requests in flight on it finish before the kill
// (SpotServe's rule: use the grace, neither wait for the death nor leave at the notice; with
// a startup shorter than the grace the service never drops below target). Every launch is recorded
// before the backend is asked and every outcome after, so a controller killed at any point
// is replaced by `recover` (src/services/recover.ts) and the new one adopts the replicas,
// which kept serving meanwhile; the balancer comes back on the port it had. Every launch is
// admitted by the owner's budgets on running spend in the transaction that records it (a
// refused one waits, said once, until spend goes down or the budget is raised).
import {join} from 'node:path'

import type {Dispatcher} from 'undici'

import type {AttemptHoldStore} from '../checkpoint/checkpoint-store.js'
import {BudgetExceededError, BugError, LeaseHeldError, ProviderError, UsageError, isSkyhopError} from '../errors.js'
import {type LaunchHandle, type PollResult, TERMINAL_ATTEMPT_STATES} from '../model/attempt.js'
import type {Offer} from '../model/catalog.js'
import type {AttemptTransfers} from '../model/checkpoint.js'
import type {ServiceSpec} from '../model/job-spec.js'
import {
  type ReplicaRecord,
  type ReplicaState,
  type ServiceRecord,
  TERMINAL_REPLICA_STATES,
  TERMINAL_SERVICE_STATES,
} from '../model/service.js'
import {placeReplicas} from '../planner/assignment.js'
import type {Replanned, Replanner} from '../planner/replanner.js'
import {
  type Place,
  SLO_MIN_SAMPLES,
  drainRank,
  noticeBlockUntil,
  noticeDrainAt,
  noticeDrainWindowSeconds,
  noticeSignalLeadSeconds,
  pickSurplus,
  replicaMarkets,
  meanSpeed,
  replicaSpeed,
  replicasForRate,
  spreadKeyOf,
  wantedReplicas,
  zoneKey,
} from '../planner/service-replicas.js'
import type {BlockedScope, Candidate} from '../planner/types.js'
import type {LaunchRequest, Provider} from '../providers/provider.js'
import {renderSecretsObject, secretsUrlSeconds} from '../providers/vm/boot-script.js'
import type {ReplicaMetrics} from '../serve/balancer.js'
import {type Balancer, createBalancer} from '../serve/balancer-thread.js'
import {freeLocalPort, probeReadiness} from '../serve/probe.js'
import type {ServiceStore} from '../state/services.js'
import {registerSecret} from '../util/redact.js'
import {abortableSleep as sleep} from '../util/sleep.js'
import {deleteAttemptGang, deleteAttemptSecrets, deleteAttemptTransfers} from './attempt-end.js'
import {blockFor, launchBudgets, placementOf} from './launch-round.js'

export const SERVICE_LEASE_TTL_MS = Math.max(1, Number(process.env.SKYHOP_LEASE_TTL_SECONDS) || 15) * 1000

export interface ServiceEvent {
  kind: string
  serviceId: string
  replica?: number
  message: string
}

/**
 * The owner's budgets on running spend, as the controller launches replicas under them
 * (services/owners.ts: replicaBudget, docs/serve.md#budgets).
 */
export interface ReplicaBudget {
  /** What the tightest budget on the owner has left now, in USD/h (below 0 when over it); null when none applies. */
  left(): number | null
  /**
   * Runs `record` in one transaction with the check that the replica fits, `replaces` (a
   * replica on its way out, while it still counts) lending it its price; BudgetExceededError
   * (nothing recorded) when it does not.
   */
  admit<T>(launch: {usdPerHour: number | null; replaces: string | null; what: string}, record: () => T): T
}

export interface ServiceControllerDeps {
  services: ServiceStore
  providers: ReadonlyMap<string, Provider>
  replan: Replanner
  home: string
  owner: string
  /** Environment secrets and the API key are read from (the launching process's). */
  env?: NodeJS.ProcessEnv
  signal?: AbortSignal
  onEvent?: (event: ServiceEvent) => void
  /** How often the controller looks (polls, probes, scales). Default 200 ms. */
  tickMs?: number
  /** How often a starting replica is probed. Default 250 ms; a ready one every 2 s. */
  probeIntervalMs?: number
  /**
   * How often an on-demand replica above the floor looks for spot to move to (as a job's
   * respot does). Default SKYHOP_RESPOT_INTERVAL_SECONDS, else 300 s; 0 turns it off.
   */
  respotIntervalMs?: number
  /** The owner's budgets; none: no limit (a service from before owners). */
  budget?: ReplicaBudget
  /**
   * Signs each replica's list of the service's files: copies (AttemptHoldStore.transfers), as
   * for a job's attempt; without it a service with copies cannot launch a replica. On a
   * per-instance provider with a store, a replica also gets the objects a node fetches its
   * runner from when its boot script would not fit the user data (gangObjects), deleted
   * when the replica is released (deleteGang).
   */
  attemptHolds?: AttemptHoldStore
}

/** Replicas the balancer routes to or that will join it: the count held against the target. */
const ACTIVE: ReadonlySet<ReplicaState> = new Set(['REQUESTED', 'STARTING', 'READY'])
/** A ready replica that fails this many probes in a row is replaced. */
const PROBE_FAILURES = 3
/** How long a failed launch scope stays blocked before it is tried again. */
const BLOCK_MS = 60_000
/** The reason of a zone blocked by a spot replica's notice (noticeBlockUntil): a look for spot does not retry it. */
const NOTICE_BLOCK_REASON = 'interruption notice'
/** After no offer could carry a replica, wait this long before trying again. */
const LAUNCH_BACKOFF_MS = 5_000
/** While a replica is refused by the budget, how often the spend left is looked at again (one query; no plan). */
const BUDGET_RECHECK_MS = 1_000

/** Drives the service until it is stopped (serve down) or the signal aborts; returns its record. */
export async function driveService(serviceId: string, deps: ServiceControllerDeps): Promise<ServiceRecord> {
  return new ServiceController(serviceId, deps).run()
}

class ServiceController {
  private lb!: Balancer
  private probes?: Dispatcher
  private lostLease = false
  private readonly probeAt = new Map<string, {next: number; failures: number}>()
  /** Replicas we asked to stop (drained for a scale-down, an update or serve down). */
  private readonly stopSent = new Set<string>()
  /** Launches between the plan and the recorded intent: counted as active so a tick does not launch twice. */
  private planning = 0
  private readonly launches = new Set<Promise<void>>()
  private blocked: Array<{scope: BlockedScope; until: number}> = []
  private launchAfter = 0
  private wantUpSince: number | null = null
  private wantDownSince: number | null = null
  private metricsAt = 0
  /** Zones (or providers) chosen by launches whose intent is not recorded yet: concurrent launches spread too. */
  private readonly claims = new Map<string, number>()
  /**
   * Spot replicas launched to take an on-demand one's place: not counted against the target
   * until ready (or they would be the surplus drained first); then the on-demand one above
   * the floor is the surplus.
   */
  private readonly surge = new Set<string>()
  private respotAt = 0
  /**
   * Replicas under a notice that still serve: their drain time (ms since the epoch). The
   * balancer drains each at that time on its own (scheduleDrain); the controller asks again
   * once it has passed, so it never counts one as idle that the balancer may still route to.
   * Not recorded: a controller that replaces a dead one drains such replicas at once (adopt).
   */
  private readonly noticeDrains = new Map<string, number>()
  /** Set while the owner's budget refuses a replica the target wants: the cheapest price refused (USD/h, null: unknown). */
  private budgetHold: {usdPerHour: number | null; checkAt: number} | null = null
  /** A replica on its way out → the replica whose budget check it lent its price to (each lends once). */
  private readonly lent = new Map<string, string>()

  constructor(
    private readonly serviceId: string,
    private readonly deps: ServiceControllerDeps,
  ) {}

  private get store(): ServiceStore {
    return this.deps.services
  }

  private service(): ServiceRecord {
    return this.store.getService(this.serviceId)!
  }

  private emit(kind: string, message: string, replica?: ReplicaRecord): void {
    this.deps.onEvent?.({kind, serviceId: this.serviceId, ...(replica ? {replica: replica.n} : {}), message})
  }

  async run(): Promise<ServiceRecord> {
    if (!this.store.takeLease(this.serviceId, this.deps.owner, SERVICE_LEASE_TTL_MS))
      throw new LeaseHeldError(`service ${this.serviceId} is driven by another controller`)
    const heartbeat = setInterval(
      () => {
        if (!this.store.renewLease(this.serviceId, this.deps.owner, SERVICE_LEASE_TTL_MS)) this.lostLease = true
      },
      Math.max(200, Math.floor(SERVICE_LEASE_TTL_MS / 3)),
    )
    heartbeat.unref()
    try {
      await this.start()
      await this.loop()
      return this.service()
    } catch (error) {
      if (error instanceof LeaseHeldError) throw error
      const message = isSkyhopError(error) ? error.message : String(error)
      this.emit('failed', message)
      await this.stopEverything(message)
      this.store.setServiceState(this.serviceId, 'FAILED', message)
      return this.service()
    } finally {
      clearInterval(heartbeat)
      await Promise.allSettled([...this.launches])
      await this.lb?.close()
      await this.probes?.close()
      this.store.releaseLease(this.serviceId, this.deps.owner)
    }
  }

  private async start(): Promise<void> {
    const service = this.service()
    const spec = serviceSpec(service)
    const env = this.deps.env ?? process.env
    let apiKey: string | null = null
    if (spec.apiKeyEnv) {
      apiKey = env[spec.apiKeyEnv] ?? null
      if (!apiKey)
        throw new UsageError(`service.api_key_env names $${spec.apiKeyEnv}, which is not set in this environment`, {code: 'SECRET_MISSING'})
      registerSecret(apiKey)
    }
    const {Agent} = await import('undici')
    this.probes = new Agent({connect: {timeout: spec.readiness.timeoutSeconds * 1000}, keepAliveTimeout: 10_000})
    // The rate is measured over the upscale delay (2–60 s): long enough to smooth bursts,
    // short enough that the delay, not the window, decides how soon the service grows.
    const windowMs = Math.min(60, Math.max(2, spec.upscaleDelaySeconds)) * 1000
    // After a recover, the balancer comes back where clients know it.
    const port = service.endpoint ? Number(new URL(service.endpoint).port) : spec.lbPort
    // On a worker thread of its own: this thread's work (the store, polls, probes) never delays a request.
    this.lb = createBalancer({host: spec.host, port, apiKey, windowMs})
    const endpoint = await this.listen(port)
    this.store.setEndpoint(this.serviceId, endpoint)
    this.emit('endpoint', `load balancer on ${endpoint}`)
    // A wait for the budget that a previous controller recorded is this one's to find again.
    if (service.reason !== null) this.store.setRunningReason(this.serviceId, null)
    this.adopt()
  }

  /** The recorded port may still be held for a moment by the controller this one replaces. */
  private async listen(port: number): Promise<string> {
    for (let i = 0; ; i++) {
      try {
        return await this.lb.start()
      } catch (error) {
        if ((error as {code?: string}).code !== 'EADDRINUSE' || i >= 50)
          throw new UsageError(`the load balancer cannot listen on port ${port}: ${(error as Error).message}`, {code: 'SERVICE_PORT_BUSY'})
        await sleep(100)
      }
    }
  }

  /** Replicas a previous controller left: ready ones go back into the balancer at once (they kept serving). */
  private adopt(): void {
    for (const r of this.store.unreleasedReplicas(this.serviceId)) {
      if (r.state === 'READY' && r.address) this.lb.add({id: r.id, origin: r.address})
      if (r.state === 'DRAINING' && r.address) {
        this.lb.add({id: r.id, origin: r.address})
        void this.lb.drain(r.id)
      }
    }
  }

  private async loop(): Promise<void> {
    for (;;) {
      if (this.deps.signal?.aborted || this.lostLease) return
      const service = this.service()
      if (TERMINAL_SERVICE_STATES.has(service.state)) return
      if (service.state === 'STOPPING') {
        await this.stopEverything(null)
        if (this.store.unreleasedReplicas(this.serviceId).length === 0) {
          this.store.setServiceState(this.serviceId, 'STOPPED')
          this.emit('stopped', 'every replica stopped')
          return
        }
      } else {
        await this.tick(service)
      }
      await sleep(this.deps.tickMs ?? 200, this.deps.signal)
    }
  }

  private async tick(service: ServiceRecord): Promise<void> {
    const spec = serviceSpec(service)
    await this.reconcileRequested()
    await this.pollAll(spec)
    await this.probeAll(spec)
    this.scale(service, spec)
    this.converge(this.service(), spec)
    await this.finishDrains(service)
    this.recordMetrics()
  }

  // ---- what the backends say -------------------------------------------------------

  /** A REQUESTED replica whose launch answer a dead controller never recorded: found by its tag, or closed. */
  private async reconcileRequested(): Promise<void> {
    for (const r of this.store.unreleasedReplicas(this.serviceId)) {
      if (r.state !== 'REQUESTED' || r.handle || this.launching(r)) continue
      const provider = this.deps.providers.get(r.provider)
      const owned = (await provider?.listOwned?.({regions: [r.region], attemptId: r.id})) ?? []
      const found = owned.find((h) => h.data.attemptId === r.id || h.externalId === r.id)
      if (found) {
        this.store.updateReplica(r.id, {state: 'STARTING', handle: found, launchedAt: now()}, {kind: 'replica-adopted'})
      } else {
        this.end(r, 'FAILED', 'the launch was never confirmed and no run carries its tag', true)
      }
    }
  }

  private readonly inLaunch = new Set<string>()
  private launching(r: ReplicaRecord): boolean {
    return this.inLaunch.has(r.id)
  }

  private async pollAll(spec: ServiceSpec): Promise<void> {
    const live = this.store.unreleasedReplicas(this.serviceId).filter((r) => r.handle && r.state !== 'REQUESTED')
    const byProvider = new Map<string, ReplicaRecord[]>()
    for (const r of live) byProvider.set(r.provider, [...(byProvider.get(r.provider) ?? []), r])
    await Promise.all(
      [...byProvider].map(async ([name, replicas]) => {
        const provider = this.deps.providers.get(name)
        if (!provider) return
        let results: Map<string, PollResult>
        try {
          results = await provider.poll(replicas.map((r) => r.handle!))
        } catch {
          return // a transient backend failure: look again next tick
        }
        for (const r of replicas) {
          const result = results.get(r.handle!.externalId)
          if (result) await this.onPoll(r, result, spec, provider)
        }
      }),
    )
  }

  private async onPoll(r: ReplicaRecord, result: PollResult, spec: ServiceSpec, provider: Provider): Promise<void> {
    if (TERMINAL_ATTEMPT_STATES.has(result.state)) {
      this.lb.remove(r.id)
      this.noticeDrains.delete(r.id)
      const state: ReplicaState =
        result.state === 'PREEMPTED' ? 'PREEMPTED' : this.stopSent.has(r.id) || result.state === 'CANCELLED' ? 'STOPPED' : 'FAILED'
      await provider.cleanup(r.handle!).catch(() => undefined)
      await this.releaseObjects(r, provider)
      this.end(r, state, result.reason ?? result.state.toLowerCase(), true)
      return
    }
    // A pod's IP is known only once it runs (PollResult.ip): its replica is probed there from then on.
    if (!r.address && result.ip) {
      const address = `http://${result.ip}:${spec.port}`
      this.store.updateReplica(r.id, {address})
      r = {...r, address}
    }
    if (result.stopping?.kind === 'notice' && r.noticeAt === null) {
      // The SpotServe move: the replacement starts now (converge counts this one no longer);
      // this one serves on until its drain time, then gets no new request, and those in flight
      // finish before the kill.
      const t = Date.now()
      const parsed = result.stopping.killAt ? Date.parse(result.stopping.killAt) : Number.NaN
      const killAt = Number.isNaN(parsed) ? null : parsed
      const drainAt = noticeDrainAt({
        noticeAt: t,
        killAt,
        grace: this.service().spec.recovery.graceSeconds * 1000,
        window: this.noticeDrainWindowMs(r, spec, t),
      })
      if (r.state === 'READY' && drainAt > t) {
        this.noticeDrains.set(r.id, drainAt)
        this.lb.scheduleDrain(r.id, drainAt)
      } else {
        void this.lb.drain(r.id)
      }
      if (r.spot) {
        // Its zone's spot is going: the replacement must not go there (noticeBlockUntil).
        this.blocked.push({
          scope: {provider: r.provider, region: r.region, zone: r.zone, market: 'spot', reason: NOTICE_BLOCK_REASON},
          until: noticeBlockUntil(t, killAt, BLOCK_MS),
        })
      }
      const until = this.noticeDrains.has(r.id) ? `serving until ${new Date(drainAt).toISOString()}, ` : ''
      this.store.updateReplica(
        r.id,
        {
          state: 'DRAINING',
          noticeAt: now(),
          reason: `interruption notice; ${until}killed at ${result.stopping.killAt ?? 'the end of the grace'}`,
        },
        {kind: 'replica-notice', data: {killAt: result.stopping.killAt, drainAt: new Date(drainAt).toISOString()}},
      )
      this.emit(
        'notice',
        this.noticeDrains.has(r.id)
          ? `replica ${r.n} got an interruption notice; launching its replacement, serving on until ${new Date(drainAt).toISOString()}`
          : `replica ${r.n} got an interruption notice; draining it and launching its replacement`,
        r,
      )
      return
    }
    if (r.state === 'STARTING' && r.launchedAt && Date.now() - Date.parse(r.launchedAt) > spec.readiness.initialDelaySeconds * 1000) {
      await this.stopReplica(r, provider, spec, `not ready within readiness.initial_delay (${spec.readiness.initialDelaySeconds} s)`)
    }
  }

  /**
   * The drain window of a replica under notice (noticeDrainWindowSeconds): from the SLO and
   * the replica's measured p99 when it has enough samples.
   */
  private noticeDrainWindowMs(r: ReplicaRecord, spec: ServiceSpec, t: number): number {
    const m = this.lb.metrics(t).find((x) => x.id === r.id)
    const measured = m && m.p99Ms !== null && m.samples >= SLO_MIN_SAMPLES ? m.p99Ms / 1000 : null
    return noticeDrainWindowSeconds({sloP95Seconds: spec.slo?.p95LatencySeconds ?? null, measuredP99Seconds: measured}) * 1000
  }

  private async probeAll(spec: ServiceSpec): Promise<void> {
    const t = Date.now()
    const due = this.store
      .unreleasedReplicas(this.serviceId)
      .filter((r) => (r.state === 'STARTING' || r.state === 'READY') && r.address && (this.probeAt.get(r.id)?.next ?? 0) <= t)
    await Promise.all(
      due.map(async (r) => {
        const result = await probeReadiness(this.probes!, r.address!, spec.readiness.path, spec.readiness.timeoutSeconds * 1000)
        const seen = this.probeAt.get(r.id) ?? {next: 0, failures: 0}
        seen.failures = result.ready ? 0 : seen.failures + 1
        seen.next = Date.now() + (r.state === 'READY' ? 2000 : (this.deps.probeIntervalMs ?? 250))
        this.probeAt.set(r.id, seen)
        const current = this.store.getReplica(r.id)!
        if (current.state === 'STARTING' && result.ready) {
          this.lb.add({id: r.id, origin: r.address!})
          this.store.updateReplica(r.id, {state: 'READY', readyAt: now()}, {kind: 'replica-ready'})
          this.emit('ready', `replica ${r.n} is ready at ${r.address}`, r)
        } else if (current.state === 'READY' && seen.failures >= PROBE_FAILURES) {
          this.lb.remove(r.id)
          const provider = this.deps.providers.get(r.provider)
          if (provider) await this.stopReplica(current, provider, spec, `readiness failed ${seen.failures} times (${result.detail})`)
        }
      }),
    )
  }

  // ---- how many, and which --------------------------------------------------------

  /** The target from the measured rate, with hysteresis: a change must be wanted for its whole delay. */
  private scale(service: ServiceRecord, spec: ServiceSpec): void {
    const {min, max, targetQpsPerReplica} = spec.replicas
    const current = Math.min(max, Math.max(min, service.targetReplicas))
    if (current !== service.targetReplicas) this.store.setTarget(this.serviceId, current)
    if (targetQpsPerReplica === null) return
    const rate = this.lb.rate()
    const t = Date.now()
    // The rate's count, and one more while the measured p95 is above the SLO (never fewer).
    const {wanted, sloBreached, p95Ms} = wantedReplicas({
      current,
      // target_qps_per_replica is a reference replica's rate; faster replicas carry more.
      forRate: replicasForRate(rate, targetQpsPerReplica, this.speedOfService(service), min, max),
      min,
      max,
      sloP95Ms: spec.slo ? spec.slo.p95LatencySeconds * 1000 : null,
      replicaP95Ms: spec.slo ? this.latencies(t) : [],
    })
    this.wantUpSince = wanted > current ? (this.wantUpSince ?? t) : null
    this.wantDownSince = wanted < current ? (this.wantDownSince ?? t) : null
    const change =
      (this.wantUpSince !== null && t - this.wantUpSince >= spec.upscaleDelaySeconds * 1000) ||
      (this.wantDownSince !== null && t - this.wantDownSince >= spec.downscaleDelaySeconds * 1000)
    if (!change) return
    this.wantUpSince = this.wantDownSince = null
    this.store.setTarget(this.serviceId, wanted)
    this.deps.services.store.addEvent(this.serviceId, null, 'service-scaled', {
      from: current,
      to: wanted,
      ratePerSecond: round(rate),
      ...(sloBreached ? {p95Ms: roundOrNull(p95Ms), sloP95Ms: spec.slo!.p95LatencySeconds * 1000} : {}),
    })
    const why = sloBreached ? `, p95 ${roundOrNull(p95Ms)} ms above the SLO's ${spec.slo!.p95LatencySeconds * 1000} ms` : ''
    this.emit('scaled', `${current} → ${wanted} replicas (${round(rate)} requests/s${why})`)
  }

  /** Each replica's speed relative to the reference (replicaSpeed), from its launch's candidate; 1 for one adopted after a recover. */
  private readonly speeds = new Map<string, number>()
  private speedOfService(service: ServiceRecord): number {
    const serving = this.store
      .unreleasedReplicas(this.serviceId)
      .filter((r) => ACTIVE.has(r.state) && r.version === service.version)
      .map((r) => this.speeds.get(r.id) ?? 1)
    return meanSpeed(serving)
  }

  private latencyCache: {at: number; metrics: ReplicaMetrics[]} = {at: 0, metrics: []}
  /** The balancer's per-replica metrics at most a second old: reading them sorts the window's samples. */
  private latencies(t: number): ReplicaMetrics[] {
    if (t - this.latencyCache.at >= 1000) this.latencyCache = {at: t, metrics: this.lb.metrics(t).filter((m) => !m.draining)}
    return this.latencyCache.metrics
  }

  /**
   * Launches what is missing of the current version, drains what is too much: replicas of an
   * older version once as many of the new one are ready (a rolling update: the count that
   * answers never drops), and the surplus after a scale-down (starting ones first, then
   * on-demand above the floor, then spot, newest first).
   */
  private converge(service: ServiceRecord, spec: ServiceSpec): void {
    const replicas = this.store.unreleasedReplicas(this.serviceId)
    const target = service.targetReplicas
    const active = replicas.filter((r) => ACTIVE.has(r.state) && !(this.surge.has(r.id) && r.state !== 'READY'))
    for (const r of replicas) if (this.surge.has(r.id) && r.state !== 'REQUESTED' && r.state !== 'STARTING') this.surge.delete(r.id)
    const current = active.filter((r) => r.version === service.version)
    const readyCurrent = current.filter((r) => r.state === 'READY').length
    const missing = target - current.length - this.planning
    if (missing <= 0) this.endBudgetHold()
    if (missing > 0 && Date.now() >= this.launchAfter && this.budgetAllows(service)) {
      const onDemand = current.filter((r) => !r.spot).length
      this.track(this.launchReplicas(service, replicaMarkets(missing, onDemand, spec.spot.baseOnDemand, service.spec.spot !== 'on-demand')))
    }
    this.respot(service, spec, current, missing)
    const old = active.filter((r) => r.version !== service.version)
    const keepOld = Math.max(0, target - readyCurrent)
    const oldByValue = [...old].sort((a, b) => rankForDrain(a) - rankForDrain(b))
    for (const r of oldByValue.slice(0, Math.max(0, old.length - keepOld))) this.drain(r, 'replaced by the new version')
    const surplus = current.length - target
    const candidates = current.map((r) => ({
      spot: r.spot,
      ready: r.state === 'READY',
      requested: r.state === 'REQUESTED', // its launch is still out; it is drained once it answers
      draining: false,
      n: r.n,
    }))
    for (const i of pickSurplus(candidates, surplus, spec.spot.baseOnDemand)) this.drain(current[i], 'scale-down')
  }

  /**
   * Back to spot: an on-demand replica above the floor (launched when spot had none) is
   * replaced by a spot one when spot is there again. The spot replica is launched first;
   * once it is ready the on-demand one is the surplus and drains.
   */
  private respot(service: ServiceRecord, spec: ServiceSpec, current: readonly ReplicaRecord[], missing: number): void {
    const interval = this.deps.respotIntervalMs ?? (Number(process.env.SKYHOP_RESPOT_INTERVAL_SECONDS ?? 300) || 0) * 1000
    if (interval <= 0 || service.spec.spot === 'on-demand' || missing > 0 || this.planning > 0 || this.surge.size > 0) return
    const onDemandAboveFloor = current.filter((r) => !r.spot && r.state !== 'REQUESTED').length - spec.spot.baseOnDemand
    if (onDemandAboveFloor <= 0 || Date.now() < this.respotAt) return
    this.respotAt = Date.now() + interval
    this.track(this.launchReplicas(service, [true], {surge: true}))
  }

  private drain(r: ReplicaRecord, reason: string): void {
    void this.lb.drain(r.id)
    this.store.updateReplica(r.id, {state: 'DRAINING', reason}, {kind: 'replica-draining', data: {reason}})
    this.emit('draining', `replica ${r.n}: ${reason}`, r)
  }

  /** Drained replicas we stop ourselves: once nothing is in flight on them (or the grace is over), they are told to stop. */
  private async finishDrains(service: ServiceRecord): Promise<void> {
    // A replica under notice past its drain time: the balancer drained it on its own; asked
    // again here so that outstanding() counts it busy until the balancer shows the drain.
    // The runner signals its server (the notice's signal, held back to just after the drain
    // time: noticeSignalLeadSeconds) and kills it at the deadline; the poll then ends it.
    const t = Date.now()
    for (const [id, drainAt] of this.noticeDrains) {
      if (drainAt > t) continue
      this.noticeDrains.delete(id)
      void this.lb.drain(id)
    }
    for (const r of this.store.unreleasedReplicas(this.serviceId)) {
      if (r.state !== 'DRAINING' || r.noticeAt !== null || this.stopSent.has(r.id) || !r.handle) continue
      const provider = this.deps.providers.get(r.provider)
      if (!provider) continue
      if (this.lb.outstanding(r.id) > 0) continue
      this.lb.remove(r.id)
      this.stopSent.add(r.id)
      await provider.signal(r.handle, 'cancel', service.spec.recovery.graceSeconds).catch(() => undefined)
    }
  }

  private async stopReplica(r: ReplicaRecord, provider: Provider, spec: ServiceSpec, reason: string): Promise<void> {
    this.lb.remove(r.id)
    this.stopSent.add(r.id)
    this.store.updateReplica(r.id, {state: 'DRAINING', reason}, {kind: 'replica-replaced', data: {reason}})
    this.emit('replacing', `replica ${r.n}: ${reason}`, r)
    if (r.handle) await provider.signal(r.handle, 'cancel', Math.min(5, spec.readiness.timeoutSeconds)).catch(() => undefined)
  }

  /** `serve down`: every replica drains and is stopped; those not yet launched are closed. */
  private async stopEverything(reason: string | null): Promise<void> {
    // Replicas under notice that still serve are drained now: the service is going.
    for (const id of this.noticeDrains.keys()) if (this.lb) void this.lb.drain(id)
    this.noticeDrains.clear()
    for (const r of this.store.unreleasedReplicas(this.serviceId)) {
      if (r.state === 'REQUESTED' && !r.handle && !this.launching(r)) this.end(r, 'STOPPED', reason ?? 'service stopped', true)
      else if (r.state === 'STARTING' || r.state === 'READY') this.drain(r, reason ?? 'service stopping')
    }
    if (this.lb) await this.finishDrains(this.service())
    if (reason !== null || !this.lb) {
      // Failing: nothing will poll them again; stop and release what was launched now.
      for (const r of this.store.unreleasedReplicas(this.serviceId)) {
        const provider = r.handle ? this.deps.providers.get(r.provider) : undefined
        if (provider && r.handle) {
          await provider.signal(r.handle, 'cancel', 5).catch(() => undefined)
          await provider.cleanup(r.handle).catch(() => undefined)
          await this.releaseObjects(r, provider)
        }
        if (!this.launching(r)) this.end(r, 'STOPPED', reason ?? 'service stopped', true)
      }
      return
    }
    await this.pollAll(serviceSpec(this.service()))
  }

  private end(r: ReplicaRecord, state: ReplicaState, reason: string, released: boolean): void {
    const at = now()
    this.store.updateReplica(
      r.id,
      {state, endedAt: at, reason: r.noticeAt && state === 'STOPPED' ? r.reason! : reason, ...(released ? {releasedAt: at} : {})},
      {kind: 'replica-ended', data: {reason}},
    )
    this.probeAt.delete(r.id)
    this.stopSent.delete(r.id)
    this.emit('ended', `replica ${r.n} ${state.toLowerCase()}: ${reason}`, r)
  }

  // ---- launching ---------------------------------------------------------------------

  private track(p: Promise<void>): void {
    this.launches.add(p)
    void p.finally(() => this.launches.delete(p))
  }

  /**
   * Replicas launched together (each wanting spot or not) are placed together: a
   * maximum-weight matching of replicas to the planner's candidates (planner/assignment.ts:
   * the planner's rank, zones where a replica ran before and so hold the image, zones the
   * service's spot replicas are not in yet). Each replica tries its match first, then the
   * other candidates of its market; a candidate that fails blocks its scope and the next is
   * tried (the job controller's failover, blockFor). Spot that no zone has falls back to
   * on-demand, except for a look for spot to move back to (surge).
   */
  private async launchReplicas(service: ServiceRecord, spots: readonly boolean[], options: {surge?: boolean} = {}): Promise<void> {
    this.planning += spots.length
    const done = spots.map(() => false)
    const donePlanning = (i: number) => () => {
      if (!done[i]) this.planning--
      done[i] = true
    }
    try {
      const spec = serviceSpec(service)
      const t = Date.now()
      this.blocked = this.blocked.filter((b) => b.until > t)
      // A look for spot to move back to is itself the test of spot capacity: the zones that
      // had none when the replica fell back to on-demand are tried again.
      // A zone under an interruption notice stays blocked even then.
      const blocked = this.blocked
        .filter((b) => !(options.surge && b.scope.market === 'spot' && b.scope.reason !== NOTICE_BLOCK_REASON))
        .map((b) => b.scope)
      const markets = [...new Set(spots)]
      const plans = new Map<boolean, Replanned>()
      for (const spot of markets) plans.set(spot, await this.deps.replan({...service.spec, spot: spot ? 'spot' : 'on-demand'}, blocked))
      const spreadKey = (c: Place) => spreadKeyOf(spec.spot.spread, c)
      const all = this.store.replicas(this.serviceId)
      const warm = new Set(all.filter((r) => r.launchedAt !== null).map(zoneKey))
      const inUse = new Map<string, number>(this.claims)
      for (const r of all.filter((x) => x.releasedAt === null && ACTIVE.has(x.state))) {
        const key = spreadKey(r)
        if (key !== null) inUse.set(key, (inUse.get(key) ?? 0) + 1)
      }
      const candidates = markets.flatMap((spot) =>
        plans
          .get(spot)!
          .plan.candidates.filter((c) => c.spot === spot && c.nodes === 1)
          .map((c, rank) => ({c, rank, planned: plans.get(spot)!})),
      )
      const placed = placeReplicas(
        spots.map((spot) => ({spot})),
        candidates.map(({c, rank}) => ({spreadKey: spreadKey(c), spot: c.spot, rank, warm: warm.has(zoneKey(c))})),
        inUse,
      )
      await Promise.all(
        spots.map(async (spot, i) => {
          const match = placed[i] === -1 ? [] : [candidates[placed[i]]]
          const rest = candidates.filter((x) => x.c.spot === spot && x !== match[0])
          const ordered = [...match, ...rest].slice(0, 10)
          const outcome = await this.tryInOrder(service, spec, ordered, spreadKey, donePlanning(i), options.surge ?? false)
          if (outcome === 'launched') return
          donePlanning(i)()
          if (outcome !== 'failed') {
            // On-demand costs more than the spot refused: no fallback; the replica waits for the budget.
            this.budgetRefused(outcome, options.surge ?? false)
            return
          }
          if (spot && options.surge) {
            this.deps.services.store.addEvent(this.serviceId, null, 'respot-unavailable', {reason: 'no spot offer could be launched'})
            return
          }
          if (spot) {
            this.deps.services.store.addEvent(this.serviceId, null, 'spot-fallback', {reason: 'no spot offer could be launched'})
            this.emit('spot-fallback', 'no spot capacity for a replica; launching it on-demand')
            await this.launchReplicas(service, [false])
            return
          }
          this.launchAfter = Date.now() + LAUNCH_BACKOFF_MS
          const why = ordered.length === 0 ? 'no offer fits the service' : 'every candidate failed'
          this.deps.services.store.addEvent(this.serviceId, null, 'replica-launch-failed', {reason: why})
          this.emit('launch-failed', `cannot launch a replica: ${why}; trying again in ${LAUNCH_BACKOFF_MS / 1000} s`)
        }),
      )
    } catch (error) {
      this.launchAfter = Date.now() + LAUNCH_BACKOFF_MS
      this.emit('launch-failed', `cannot launch a replica: ${isSkyhopError(error) ? error.message : String(error)}`)
    } finally {
      spots.forEach((_, i) => donePlanning(i)())
    }
  }

  /**
   * One replica through candidates in order until one launches; each claims its zone
   * meanwhile. A candidate the budget refuses is passed over for a cheaper one; when none
   * launches and one was refused, the cheapest refusal is the outcome.
   */
  private async tryInOrder(
    service: ServiceRecord,
    spec: ServiceSpec,
    ordered: ReadonlyArray<{c: Candidate; planned: Replanned}>,
    spreadKey: (c: Candidate) => string | null,
    donePlanning: () => void,
    surge: boolean,
  ): Promise<'launched' | 'failed' | BudgetRefusal> {
    let refused: BudgetRefusal | null = null
    for (const {c, planned} of ordered) {
      const offer = planned.offerOf(c)
      const provider = this.deps.providers.get(c.provider)
      if (!offer || !provider) continue
      const key = spreadKey(c) ?? zoneKey(c)
      this.claims.set(key, (this.claims.get(key) ?? 0) + 1)
      const outcome = await this.tryCandidate(service, spec, c, offer, provider, donePlanning, surge).finally(() => {
        const left = (this.claims.get(key) ?? 1) - 1
        if (left > 0) this.claims.set(key, left)
        else this.claims.delete(key)
      })
      if (outcome === 'launched') return 'launched'
      if (outcome !== 'failed' && (refused === null || (outcome.usdPerHour ?? Infinity) < (refused.usdPerHour ?? Infinity)))
        refused = outcome
    }
    return refused ?? 'failed'
  }

  private async tryCandidate(
    service: ServiceRecord,
    spec: ServiceSpec,
    c: Candidate,
    offer: Offer,
    provider: Provider,
    donePlanning: () => void,
    surge: boolean,
  ): Promise<'launched' | 'failed' | BudgetRefusal> {
    // Replicas that share this machine each need a port of their own; elsewhere the service's port.
    const local = c.provider === 'local'
    const port = local ? await freeLocalPort() : spec.port
    const intent = () =>
      this.store.recordReplicaIntent({
        serviceId: this.serviceId,
        version: service.version,
        ...placementOf(c),
        onDemandPricePerHour: offer.price.onDemand,
        address: local ? `http://127.0.0.1:${port}` : null,
      })
    const lender = this.deps.budget ? this.lenderFor(service, surge) : null
    let replica: ReplicaRecord
    try {
      replica = this.deps.budget
        ? this.deps.budget.admit({usdPerHour: c.hourlyPriceUsd, replaces: lender?.id ?? null, what: `a replica of ${service.name}`}, intent)
        : intent()
    } catch (error) {
      if (error instanceof BudgetExceededError) return {error, usdPerHour: c.hourlyPriceUsd}
      throw error
    }
    if (lender) this.lent.set(lender.id, replica.id)
    this.inLaunch.add(replica.id)
    this.speeds.set(replica.id, replicaSpeed(service.spec.work?.hours ?? null, c.estimates.runHours.value))
    if (surge) {
      this.surge.add(replica.id)
      this.deps.services.store.addEvent(this.serviceId, replica.id, 'respot', {replica: replica.n, zone: c.zone})
      this.emit('respot', `spot is back: replica ${replica.n} on spot will take an on-demand replica's place`, replica)
    }
    donePlanning()
    try {
      const handle = await provider.launch(await this.launchRequest(service, replica, offer, port, provider))
      const address = replica.address ?? addressOf(handle, port)
      this.store.updateReplica(
        replica.id,
        {state: 'STARTING', handle, launchedAt: now(), ...(address ? {address} : {})},
        {kind: 'replica-launched', data: {provider: c.provider, region: c.region, zone: c.zone, spot: c.spot}},
      )
      this.emit(
        'launched',
        `replica ${replica.n} on ${c.provider}/${c.region}${c.zone ? '/' + c.zone : ''}${c.spot ? ' (spot)' : ''}`,
        replica,
      )
      return 'launched'
    } catch (error) {
      const message = isSkyhopError(error) ? error.message : String(error)
      this.end(replica, 'FAILED', message, true)
      if (lender) this.lent.delete(lender.id)
      if (error instanceof ProviderError) this.blocked.push({scope: blockFor(error, c), until: Date.now() + BLOCK_MS})
      else
        this.blocked.push({
          scope: {provider: c.provider, region: c.region, zone: c.zone, instanceType: c.instanceType, reason: 'launch failed'},
          until: Date.now() + BLOCK_MS,
        })
      return 'failed'
    } finally {
      this.inLaunch.delete(replica.id)
    }
  }

  // ---- the owner's budgets ---------------------------------------------------------

  /**
   * A replica on its way out that a launch takes the place of, lending the launch its price
   * (ReplicaBudget.admit): one draining (a notice, failed probes, a scale-down), one of an
   * older version (a rolling update), or for a look for spot an on-demand one that will give
   * way. The dearest of those not lent yet.
   */
  private lenderFor(service: ServiceRecord, surge: boolean): ReplicaRecord | null {
    const replicas = this.store.unreleasedReplicas(this.serviceId).filter((r) => !TERMINAL_REPLICA_STATES.has(r.state))
    const live = new Set(replicas.map((r) => r.id))
    for (const [lender, borrower] of this.lent) if (!live.has(lender) || !live.has(borrower)) this.lent.delete(lender)
    const leaving = replicas.filter(
      (r) =>
        !this.lent.has(r.id) &&
        r.state !== 'REQUESTED' &&
        (r.state === 'DRAINING' || r.version !== service.version || (surge && !r.spot && r.state === 'READY')),
    )
    return leaving.sort((a, b) => (b.pricePerHour ?? 0) - (a.pricePerHour ?? 0))[0] ?? null
  }

  /**
   * Whether to plan a launch while the budget refuses one: at most once a second, when what
   * the budget has left (with a replica on its way out lending its price) would now carry
   * the cheapest replica refused — spend went down or the budget was raised.
   */
  private budgetAllows(service: ServiceRecord): boolean {
    const hold = this.budgetHold
    if (hold === null || !this.deps.budget) return true
    const t = Date.now()
    if (t < hold.checkAt) return false
    hold.checkAt = t + BUDGET_RECHECK_MS
    const left = this.deps.budget.left()
    if (left === null) return true
    const credit = this.lenderFor(service, false)?.pricePerHour ?? 0
    return hold.usdPerHour !== null && left + credit + 1e-9 >= hold.usdPerHour
  }

  /**
   * A replica the budget refused: the service stays below its target, saying why in its
   * reason (serve status) and, once per wait, in an event. A refused look for spot is only
   * noted: the service is at its target.
   */
  private budgetRefused(refusal: BudgetRefusal, surge: boolean): void {
    const {error, usdPerHour} = refusal
    if (surge) {
      this.deps.services.store.addEvent(this.serviceId, null, 'respot-unavailable', {reason: error.message})
      return
    }
    const first = this.budgetHold === null
    const cheapest = first ? usdPerHour : minOrNull(this.budgetHold!.usdPerHour, usdPerHour)
    this.budgetHold = {usdPerHour: cheapest, checkAt: Date.now() + BUDGET_RECHECK_MS}
    const reason = `below its target: ${error.message}; launched when spend goes down or the budget is raised`
    if (this.service().reason !== reason) this.store.setRunningReason(this.serviceId, reason)
    if (!first) return
    this.deps.services.store.addEvent(this.serviceId, null, 'replica-budget-refused', {
      usdPerHour,
      ...(error.details as Record<string, unknown>),
    })
    this.emit('budget-refused', reason)
  }

  /** The target is met (or no longer wanted): the wait for the budget, if any, is over. */
  private endBudgetHold(): void {
    if (this.budgetHold === null) return
    this.budgetHold = null
    this.store.setRunningReason(this.serviceId, null)
    this.emit('budget-fits', 'the service has every replica its target wants; no longer waiting for the budget')
  }

  private async launchRequest(
    service: ServiceRecord,
    replica: ReplicaRecord,
    offer: Offer,
    port: number,
    provider: Provider,
  ): Promise<LaunchRequest> {
    const spec = service.spec
    const env: Record<string, string> = {...spec.envs}
    const processEnv = this.deps.env ?? process.env
    const missing = spec.secrets.filter((name) => processEnv[name] === undefined)
    if (missing.length > 0)
      throw new UsageError(`secret ${missing.map((m) => `$${m}`).join(', ')} named in the service file is not set in this environment`, {
        code: 'SECRET_MISSING',
      })
    // Kept out of `env` (which the attempt directory and a cloud's user data hold), as a job's
    // are (contract-env.ts): the runner's process environment on local and Slurm, a one-time
    // object of the store on an instance or pod.
    const secrets: Record<string, string> = {}
    for (const name of spec.secrets) {
      registerSecret(processEnv[name]!)
      secrets[name] = processEnv[name]!
    }
    Object.assign(env, {
      SKYHOP_JOB_ID: service.id,
      SKYHOP_JOB_NAME: service.name,
      SKYHOP_SERVICE_ID: service.id,
      SKYHOP_REPLICA: String(replica.n),
      SKYHOP_ATTEMPT: String(replica.n),
      SKYHOP_RESTART_COUNT: '0',
      SKYHOP_GRACE_SECONDS: String(spec.recovery.graceSeconds),
      SKYHOP_NUM_ACCELERATORS_PER_NODE: String(replica.acceleratorCount ?? 0),
      SKYHOP_SERVE_PORT: String(port),
      // The name most servers read their port from.
      PORT: String(port),
    })
    const checkpointDir = join(this.deps.home, 'checkpoints', service.id)
    env.SKYHOP_CHECKPOINT_DIR = checkpointDir
    const transfers = await this.replicaTransfers(service, replica, provider)
    // A replica's boot script with its files' list may outgrow EC2's 16 KB of user data: with
    // a store, the instance then GETs its runner from there, as a job's attempt does.
    const perInstance = (provider.attemptStorage ?? 'shared') === 'per-instance'
    const gang = perInstance ? ((await this.deps.attemptHolds?.gangObjects?.({id: service.id, spec}, replica.id)) ?? null) : null
    // The code serve up uploaded (services/serve.ts preflight), signed afresh for each replica
    // on an instance or pod; local and Slurm replicas run in the workdir itself. Not through
    // checkpointSync: replicas side by side must not share one checkpoint object.
    const workdir = perInstance && spec.workdirArchive ? ((await this.deps.attemptHolds?.workdir?.({spec})) ?? null) : null
    const hasSecrets = Object.keys(secrets).length > 0
    // Without a store there is no object: the provider refuses the replica (SECRETS_NEED_STORE).
    const secretsObject =
      perInstance && hasSecrets && !provider.ownSecretStore
        ? ((await this.deps.attemptHolds?.putSecrets?.(
            {id: service.id, spec},
            replica.id,
            renderSecretsObject(secrets),
            secretsUrlSeconds(launchBudgets(processEnv).candidateMs / 1000, false),
          )) ?? null)
        : null
    return {
      ...(transfers ? {transfers} : {}),
      ...(gang ? {gang} : {}),
      ...(hasSecrets ? {secrets} : {}),
      ...(secretsObject ? {secretsObject} : {}),
      ...(workdir ? {workdir} : {}),
      jobId: service.id,
      jobName: service.name,
      attemptId: replica.id,
      attempt: replica.n,
      restartCount: 0,
      idempotencyKey: replica.id,
      spec,
      offer,
      spot: replica.spot,
      env,
      checkpointDir,
      checkpointSync: null,
      graceSeconds: spec.recovery.graceSeconds,
      // The server's notice signal waits until just after the balancer's drain time: a server
      // that stops listening on SIGTERM (uvicorn's does) must not do so while still routed to.
      noticeSignalLeadSeconds: noticeSignalLeadSeconds(serviceSpec(service).slo?.p95LatencySeconds ?? null),
    }
  }

  /**
   * The service's files: copies signed for this replica alone, as a job's attempt gets them
   * (checkpoint/transfers.ts): written into its attempt directory on local and Slurm, put in
   * the service's store behind one signed GET elsewhere. Each replica its own list, so a
   * replica launched days later gets URLs that still work. Null when it copies nothing.
   */
  private async replicaTransfers(service: ServiceRecord, replica: ReplicaRecord, provider: Provider): Promise<AttemptTransfers | null> {
    // Copies only: a service's file refuses outputs: (job/load.ts).
    if (!(service.spec.files ?? []).some((f) => f.mode === 'copy')) return null
    const sign = this.deps.attemptHolds?.transfers
    if (!sign) throw new BugError(`service ${service.name} copies files: but its controller has no signer for them`)
    const shared = (provider.attemptStorage ?? 'shared') !== 'per-instance'
    return sign({id: service.id, spec: service.spec}, replica.id, shared)
  }

  /**
   * A released replica's objects in the store, if it had them: its runner (gangObjects), its
   * list of transfers and its secrets object, which an instance that never booted never fetched and deleted. A failure
   * is an event, not a stop.
   */
  private async releaseObjects(r: ReplicaRecord, provider: Provider): Promise<void> {
    const service = this.service()
    await deleteAttemptSecrets(this.deps.attemptHolds, provider, {id: service.id, spec: service.spec}, r.id).catch((error: unknown) => {
      this.deps.services.store.addEvent(this.serviceId, r.id, 'secrets-delete-failed', {
        message: isSkyhopError(error) ? error.message : String(error),
      })
    })
    await deleteAttemptGang(this.deps.attemptHolds, provider, {id: service.id, spec: service.spec}, r.id).catch((error: unknown) => {
      this.deps.services.store.addEvent(this.serviceId, r.id, 'gang-objects-delete-failed', {
        message: isSkyhopError(error) ? error.message : String(error),
      })
    })
    await deleteAttemptTransfers(this.deps.attemptHolds, provider, {id: service.id, spec: service.spec}, r.id).catch((error: unknown) => {
      this.deps.services.store.addEvent(this.serviceId, r.id, 'transfers-delete-failed', {
        message: isSkyhopError(error) ? error.message : String(error),
      })
    })
  }

  private recordMetrics(): void {
    const t = Date.now()
    if (t - this.metricsAt < 1000) return
    this.metricsAt = t
    const metrics = this.lb.metrics(t)
    this.store.setMetrics(this.serviceId, {
      at: new Date(t).toISOString(),
      ratePerSecond: round(metrics.reduce((s, m) => s + m.ratePerSecond, 0)),
      requests: this.lb.totals.requests,
      failed: this.lb.totals.failed,
      retried: this.lb.totals.retried,
      replicas: Object.fromEntries(
        metrics.map((m) => [
          m.id,
          {
            ratePerSecond: round(m.ratePerSecond),
            p50Ms: roundOrNull(m.p50Ms),
            p95Ms: roundOrNull(m.p95Ms),
            p99Ms: roundOrNull(m.p99Ms),
            outstanding: m.outstanding,
          },
        ]),
      ),
    })
  }
}

/** A launch the owner's budget refused, with the replica's hourly USD (null: unknown). */
interface BudgetRefusal {
  error: BudgetExceededError
  usdPerHour: number | null
}

function minOrNull(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.min(a, b)
}

/** The service block of a service's spec (a service is recorded only with one). */
export function serviceSpec(service: ServiceRecord): ServiceSpec {
  if (!service.spec.service) throw new UsageError(`service ${service.name} has no service: block`, {code: 'SERVICE_SPEC_MISSING'})
  return service.spec.service
}

/**
 * Which replica to drain first: one not ready before one that serves; then on-demand before
 * spot, the dearer first (the on-demand floor is kept by the caller).
 */
function rankForDrain(r: ReplicaRecord): number {
  return drainRank({spot: r.spot, ready: r.state === 'READY'})
}

/** Where the balancer reaches a replica on a machine of its own: the address the backend gave it. */
function addressOf(handle: LaunchHandle, port: number): string | null {
  const nodes = handle.data.nodes as Array<{ip?: string | null}> | undefined
  const ip = nodes?.[0]?.ip ?? (typeof handle.data.ip === 'string' ? handle.data.ip : null)
  return ip ? `http://${ip}:${port}` : null
}

function now(): string {
  return new Date().toISOString()
}

function round(x: number): number {
  return Math.round(x * 100) / 100
}

function roundOrNull(x: number | null): number | null {
  return x === null ? null : round(x)
}
