// Replays of one market input: the seeded start ticks, and one run of a policy from one of
// them. Shared by simulateMarkets (in process) and the replay workers (replay-worker.ts),
// and light on imports so a worker starts quickly: the engine, the policies, the stats.
import {type LatencyRecorder, changeDistances, nextChangeOfAny, simulate} from './engine.js'
import {findPolicy} from './policies.js'
import {rng} from './stats.js'
import type {OnDemandOption, PolicySetup, PolicySpec, RunOutcome, Scenario, SpotMarket} from './types.js'

/** What a replay needs of the markets and the job; no files, no policies. */
export interface ReplayInput {
  markets: readonly SpotMarket[]
  onDemand: readonly OnDemandOption[]
  gapSeconds: number
  workHours: number
  deadlineHours: number
  changeoverHours: number
  noticeSeconds: number
  nodes: number
  seeds: number
  /** Seeds are seedBase, seedBase + 1, …; each picks a start offset. */
  seedBase?: number
}

/** The on-demand policy every run's cost is divided by. */
export const BASELINE_POLICY: PolicySpec = findPolicy('on-demand')!

/** Each seed's start tick in the traces (seed order), and whether a run wraps around the shortest trace. */
export function startTicksOf(input: ReplayInput): {startTicks: number[]; wrapped: boolean} {
  const gapHours = input.gapSeconds / 3600
  const minLength = Math.min(...input.markets.map((m) => m.data.length))
  const window = Math.ceil(input.deadlineHours / gapHours)
  const wrapped = minLength < window
  const maxStart = wrapped ? minLength - 1 : minLength - window
  const base = input.seedBase ?? 1
  const startTicks: number[] = []
  for (let i = 0; i < input.seeds; i++) startTicks.push(Math.floor(rng(base + i)() * (maxStart + 1)))
  return {startTicks, wrapped}
}

/**
 * The start ticks in first-seen order, each once. Every policy is a pure function of what
 * it is shown, so two seeds that land on the same tick run the same: they are replayed
 * once. (A deadline close to the traces' length leaves few ticks to start from: 300 seeds
 * over the 45-day traces with a 45-day deadline fall on about 160 of 220.)
 */
export function distinctStarts(startTicks: readonly number[]): number[] {
  return [...new Set(startTicks)]
}

export type Replay = (spec: PolicySpec, startTick: number, latency?: LatencyRecorder) => RunOutcome

/** Runs one policy from one start; the change indexes of the traces are computed once and shared by every run. */
export function replayer(input: ReplayInput): Replay {
  const gapHours = input.gapSeconds / 3600
  const changes = input.markets.map((m) => changeDistances(m.data, input.nodes))
  const anyChange = nextChangeOfAny(changes)
  const scenarioAt = (startTick: number): Scenario => ({
    workHours: input.workHours,
    deadlineHours: input.deadlineHours,
    changeoverHours: input.changeoverHours,
    noticeHours: input.noticeSeconds / 3600,
    gapHours,
    nodes: input.nodes,
    spot: input.markets,
    onDemand: input.onDemand,
    startTick,
    changes,
    anyChange,
  })
  const setupOf = (sc: Scenario, omniscient: boolean): PolicySetup => ({
    markets: sc.spot,
    onDemand: sc.onDemand,
    workHours: sc.workHours,
    deadlineHours: sc.deadlineHours,
    changeoverHours: sc.changeoverHours,
    noticeHours: sc.noticeHours,
    gapHours: sc.gapHours,
    ...(omniscient ? {future: (z: number, k: number) => sc.spot[z].data[(sc.startTick + k) % sc.spot[z].data.length] >= sc.nodes} : {}),
  })
  return (spec, startTick, latency) => {
    const sc = scenarioAt(startTick)
    return simulate(sc, spec.create(setupOf(sc, spec.omniscient)), latency === undefined ? {} : {latency})
  }
}
