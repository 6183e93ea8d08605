// Replays traces through skyhop's real controller (controller.ts driveJob) and real
// planner (planning.ts replannerFrom → planJob), not a policy that mirrors them: a fresh
// Store in a temporary home per run, the SimulatedProvider for each provider in the
// traces, and a virtual clock whose sleep jumps to the next thing that happens.
//
// What the controller is given:
// - offers built from the trace markets: one per zone and kind of instance, with its spot
//   and on-demand prices, so the planner ranks spot per zone and on-demand as usual;
// - the changeover delay d as the provider's own queue estimate (the planner's launch wait);
// - observations from the run's own store (preemptions, capacity failures, spot uptimes),
//   which the planner learns preemption rates from, exactly as in production;
// - nothing about the work done: the controller plans the job as it stands by itself
//   (respot.ts: run time × speed, kept up to the last checkpoint), as in production;
// - its look interval for spot (waiting for it, and going back to it from on-demand) set to
//   the trace's tick, the granularity at which spot comes and goes here;
// - holds by file: the simulated provider keeps skyhop's shared-storage default, so a move
//   back to spot launches spot first, held until the controller creates the hold file, as
//   on local and Slurm; a real cloud does the same through the job's checkpoint store (the
//   go object), and a cloud job without a store stops on-demand first instead.
// Planner options: every candidate is kept (top 1000, so on-demand is always in the list
// after the spot zones), and the safety margin is 0: the simulated time is exact, and the
// default 10 % margin would exclude on-demand itself once a preempted job's remaining work
// exceeds 1/1.1 of the time left, failing a job that can still make its deadline.
// The job runs with `spot: auto` (a job file's default is on-demand only; simulate is about
// choosing between the two, as every policy of the engine does). recovery.max_restarts is
// lifted: the engine's policies have no restart limit either. A job file without
// checkpoint.interval gets one of the notice (≥ 60 s): the market model keeps the work
// done at a preemption, and the planner must not assume it is lost.
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import type {AcceleratorRegistry} from '../catalog/accelerators.js'
import type {Offer} from '../model/catalog.js'
import {driveJob} from '../controller/controller.js'
import {StoreJournal} from '../controller/journal.js'
import {observationsFrom, replannerFrom} from '../planner/replanner.js'
import {offerKey} from '../planner/offer-index.js'
import {indexOffers} from '../planner/offer-index.js'
import type {OfferKey, QueueEstimate} from '../planner/types.js'
import type {Provider} from '../providers/provider.js'
import type {JobSpec} from '../model/job-spec.js'
import {Store} from '../state/store.js'
import {changeDistances} from './engine.js'
import {SimWorld, SimulatedProvider, VirtualClock, instanceTypeOf} from './sim-provider.js'
import type {RunOutcome, SpotMarket} from './types.js'

/** Time 0 of every simulated run (any fixed instant: the traces carry no dates). */
export const SIM_EPOCH_MS = Date.UTC(2026, 0, 1)

export interface ControllerRunInput {
  job: JobSpec
  registry: AcceleratorRegistry
  markets: readonly SpotMarket[]
  gapHours: number
  startTick: number
  nodes: number
  /** Reference hours of work (buildMarkets' workHours). */
  workHours: number
  deadlineHours: number
  changeoverHours: number
  noticeHours: number
  changes?: readonly Int32Array[]
  /** Receives the wall time of each re-plan, ms. */
  latency?: {record(ms: number): void}
  /** The controller's look interval for spot (ControllerDeps.respotIntervalMs); default one tick, 0 turns it off. */
  respotIntervalMs?: number
  /** Keep the run's home (store, events) for inspection. */
  keepHome?: boolean
  onEvent?: (e: {kind: string; message: string; atHours: number}) => void
}

export interface ControllerRunOutcome extends RunOutcome {
  /** The job's final state in the store. */
  jobState: string
  /** Zones of the attempts launched, in order, with `spot`/`od`. */
  attempts: Array<{zone: string | null; spot: boolean; state: string}>
  home?: string
}

/** The offers the planner sees: one per trace market, at the market's prices per node. */
export function offersFromMarkets(markets: readonly SpotMarket[], nodes: number, noticeSeconds: number): Offer[] {
  return markets.map((m) => ({
    provider: m.provider,
    region: m.region,
    zone: m.zone,
    instanceType: instanceTypeOf(m),
    accelerator: m.accelerator === null ? null : {name: m.accelerator, count: m.count},
    vcpus: 0,
    memoryGiB: 0,
    unknownFields: ['vcpus', 'memoryGiB'],
    price: {onDemand: m.onDemandUsdPerHour / nodes, spot: m.spotUsdPerHour / nodes, currency: 'USD'},
    priceStatus: 'list',
    expectedQueueMinutes: null,
    preemptionRatePerHour: null,
    capacity: null,
    noticeSeconds,
    source: 'simulator: trace market',
    asOf: new Date(SIM_EPOCH_MS).toISOString().slice(0, 10),
    confidence: 'high',
  }))
}

/** One run of the real controller over the traces from `startTick`. */
export async function runController(input: ControllerRunInput): Promise<ControllerRunOutcome> {
  const clock = new VirtualClock(SIM_EPOCH_MS)
  const world = new SimWorld({
    markets: input.markets,
    gapHours: input.gapHours,
    startTick: input.startTick,
    nodes: input.nodes,
    changeoverHours: input.changeoverHours,
    noticeHours: input.noticeHours,
    workHours: input.workHours,
    clock,
    changes: input.changes ?? input.markets.map((m) => changeDistances(m.data, input.nodes)),
  })
  const providers = new Map<string, Provider>()
  for (const m of input.markets) if (!providers.has(m.provider)) providers.set(m.provider, new SimulatedProvider(m.provider, world))

  const offers = offersFromMarkets(input.markets, input.nodes, input.noticeHours * 3600)
  const byKey = new Map<OfferKey, Offer>(offers.map((o) => [offerKey(o), o]))
  const queue = new Map<OfferKey, QueueEstimate>(
    offers.map((o) => [offerKey(o), {minutes: input.changeoverHours * 60, source: 'simulator: changeover delay d', confidence: 'high'}]),
  )

  const home = mkdtempSync(join(tmpdir(), 'skyhop-sim-'))
  const store = Store.open(home, {clock: clock.now})
  try {
    const deadline = clock.atHours(input.deadlineHours).toISOString()
    const spec: JobSpec = {
      ...input.job,
      deadline,
      spot: 'auto',
      recovery: {...input.job.recovery, maxRestarts: 1_000_000},
      // The market model keeps the work done at a preemption (the job checkpoints in its
      // grace window); tell the planner so when the job file names no interval.
      checkpoint: {
        ...input.job.checkpoint,
        intervalSeconds: input.job.checkpoint.intervalSeconds ?? Math.max(60, input.noticeHours * 3600),
      },
    }
    const planned = replannerFrom({
      offers: indexOffers(offers),
      offerOf: (c) => byKey.get(c.offerKey),
      accelerators: (n) => input.registry.resolve(n),
      enabledProviders: new Set(providers.keys()),
      fx: {cnyPerUsd: 7.2, source: 'simulator (USD only)', asOf: new Date(SIM_EPOCH_MS).toISOString().slice(0, 10)},
      queueEstimates: async () => queue,
      observations: () => observationsFrom(store, clock.now()),
      options: {top: 1000, safetyMargin: 0},
      now: clock.now,
      catalog: {
        offers: offers.length,
        providers: [],
        warnings: [],
        fx: {cnyPerUsd: 7.2, source: 'simulator (USD only)', asOf: new Date(SIM_EPOCH_MS).toISOString().slice(0, 10)},
      },
      quotas: [],
    })
    const job = store.createJob({name: spec.name, file: null, spec})
    const record = await driveJob(job.id, {
      journal: new StoreJournal(store),
      providers,
      home,
      owner: 'simulator',
      clock: clock.now,
      sleep: world.sleep,
      pollIntervalMs: Math.max(1000, Math.round(input.gapHours * 3_600_000)),
      retryUntilUpMs: 0,
      maxCandidatesPerRound: 1000,
      // Virtual time: the fake clouds answer at once, and a wall-clock deadline means nothing here.
      candidateBudgetMs: 0,
      launchBudgetMs: 0,
      env: {},
      respotIntervalMs: input.respotIntervalMs ?? Math.round(input.gapHours * 3_600_000),
      replan: async (s, blocked) => {
        const t0 = performance.now()
        const out = await planned(s, blocked)
        input.latency?.record(performance.now() - t0)
        return out
      },
      onEvent: input.onEvent ? (e) => input.onEvent!({kind: e.kind, message: e.message, atHours: clock.hours()}) : undefined,
    })

    const totals = world.totals
    let finishHours = totals.finishedAt ?? clock.hours()
    let unfinished = false
    if (record.state !== 'SUCCEEDED' || totals.finishedAt === null) {
      // The controller gave up (no feasible plan left): finish on the fastest on-demand
      // option, as a user would have to, and count it against the deadline.
      unfinished = true
      let best = input.markets[0]
      for (const m of input.markets)
        if (m.speed > best.speed || (m.speed === best.speed && m.onDemandUsdPerHour < best.onDemandUsdPerHour)) best = m
      const left = world.remainingWork
      const hours = input.changeoverHours + left / best.speed
      totals.costUsd += hours * best.onDemandUsdPerHour
      totals.onDemandHours += hours
      totals.onDemandWorkHours += left
      finishHours = clock.hours() + hours
    }
    const attempts = store.listAttempts(job.id).map((a) => ({zone: a.zone, spot: a.spot, state: a.state}))
    return {
      costUsd: totals.costUsd,
      spotHours: totals.spotHours,
      onDemandHours: totals.onDemandHours,
      spotWorkHours: totals.spotWorkHours,
      onDemandWorkHours: totals.onDemandWorkHours,
      changeovers: totals.changeovers,
      preemptions: totals.preemptions,
      finishHours,
      missed: finishHours > input.deadlineHours + 1e-6,
      unfinished,
      decisions: attempts.length,
      jobState: record.state,
      attempts,
      ...(input.keepHome ? {home} : {}),
    }
  } finally {
    store.close()
    if (!input.keepHome) rmSync(home, {recursive: true, force: true})
  }
}
