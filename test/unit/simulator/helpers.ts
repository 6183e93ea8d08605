// Hand-made markets and scenarios for the simulator tests, and the guard for tests that
// read the shared traces (skip with a reason when absent; fail instead when CI is set).
import {existsSync} from 'node:fs'
import {join, resolve} from 'node:path'

import {simulate} from '../../../src/simulator/engine.js'
import type {Decision, OnDemandOption, Policy, PolicySetup, RunOutcome, Scenario, SpotMarket, View} from '../../../src/simulator/types.js'

export const SHARED_TRACES = resolve(import.meta.dirname, '..', '..', '..', '..', 'shared', 'data', 'traces')

/**
 * The spot traces (2 MB, github.com/skypilot-org/spot-traces) stay outside the project: a
 * test that needs them skips with where it looked, and fails instead when CI is set.
 */
export function requireSharedTraces(ctx: Mocha.Context): void {
  if (existsSync(join(SHARED_TRACES, 'README.md'))) return
  if (process.env.CI) throw new Error(`spot traces missing at ${SHARED_TRACES} (CI is set, so this is a failure, not a skip)`)
  // eslint-disable-next-line no-console
  console.log(`      (skipped: the spot traces of github.com/skypilot-org/spot-traces are not at ${SHARED_TRACES})`)
  ctx.skip()
}

/** A spot market from a 0/1 string, one character per tick: '0011' = spot from tick 2. */
export function market(pattern: string | number[], options: Partial<SpotMarket> = {}): SpotMarket {
  const data = Uint16Array.from(typeof pattern === 'string' ? [...pattern].map(Number) : pattern)
  return {
    zone: 'us-west-2a',
    region: 'us-west-2',
    provider: 'aws',
    label: 'v100',
    accelerator: 'V100-16GB',
    count: 1,
    speed: 1,
    spotUsdPerHour: 1,
    onDemandUsdPerHour: 3,
    ...options,
    data,
  }
}

export const OD: OnDemandOption = {label: 'v100_1', accelerator: 'V100-16GB', count: 1, speed: 1, usdPerHour: 3}

export function scenario(spot: SpotMarket[], options: Partial<Scenario> = {}): Scenario {
  return {
    workHours: 4,
    deadlineHours: 8,
    changeoverHours: 0.5,
    noticeHours: 0,
    gapHours: 1,
    nodes: 1,
    spot,
    onDemand: [OD],
    startTick: 0,
    ...options,
  }
}

export function setupOf(sc: Scenario, omniscient = false): PolicySetup {
  return {
    markets: sc.spot,
    onDemand: sc.onDemand,
    workHours: sc.workHours,
    deadlineHours: sc.deadlineHours,
    changeoverHours: sc.changeoverHours,
    noticeHours: sc.noticeHours,
    gapHours: sc.gapHours,
    ...(omniscient ? {future: (z: number, k: number) => sc.spot[z].data[(sc.startTick + k) % sc.spot[z].data.length] >= sc.nodes} : {}),
  }
}

export interface Step {
  now: number
  event: string
  current: string
  workDone: number
  decision: string
}

function show(t: Decision['target']): string {
  return t.kind === 'spot' ? `spot:${t.market}` : t.kind === 'on-demand' ? `od:${t.option}` : 'idle'
}

/** Runs a policy and records every decision it took. */
export function trace(sc: Scenario, policy: Policy, options: {everyTick?: boolean} = {}): {outcome: RunOutcome; steps: Step[]} {
  const steps: Step[] = []
  const recorder: Policy = {
    decide(v: View) {
      const d = policy.decide(v)
      steps.push({now: v.now, event: v.event, current: show(v.current), workDone: v.workDone, decision: show(d.target)})
      return d
    },
  }
  return {outcome: simulate(sc, recorder, options), steps}
}

/** The times at which the policy's choice changed, as `time→target`. */
export function switches(steps: Step[]): string[] {
  const out: string[] = []
  let last = 'idle'
  for (const s of steps) {
    if (s.decision !== last) out.push(`${round(s.now)}→${s.decision}`)
    last = s.decision
  }
  return out
}

export function round(x: number): number {
  return Math.round(x * 1e6) / 1e6
}

/** A view for calling decide directly. */
export function view(partial: Partial<View> & {available: boolean[]}): View {
  return {
    now: 0,
    deadline: 8,
    workTotal: 4,
    workDone: 0,
    changeover: 0.5,
    current: {kind: 'idle'},
    changeoverLeft: 0,
    event: 'tick',
    preemptedMarket: -1,
    noticeMarket: -1,
    noticeAt: Number.NaN,
    ...partial,
  }
}
