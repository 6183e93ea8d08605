// The `simulate` service: replay spot availability traces under each policy (and, when
// asked, through the real controller and planner) on a simulated clock.
import {POLICIES} from '../simulator/policies.js'
import {CONTROLLER_POLICY, DEFAULT_SEEDS, type SimulateOptions, type SimulateResult, simulateFileAsync} from '../simulator/run.js'

export type {PolicyResult, SimulateResult} from '../simulator/run.js'
export {CONTROLLER_POLICY, DEFAULT_SEEDS}

/** The policies a replay knows, for help texts: name and one line each. */
export const SIMULATED_POLICIES: ReadonlyArray<{name: string; summary: string}> = POLICIES.map((p) => ({name: p.name, summary: p.summary}))

export interface SimulateServiceOptions extends Omit<SimulateOptions, 'changeoverHours'> {
  /** Also replay the real controller and planner. */
  controller: boolean
  /** The changeover delay charged on every start or switch. */
  changeoverSeconds: number
}

export async function simulate(options: SimulateServiceOptions): Promise<SimulateResult> {
  const {changeoverSeconds, ...rest} = options
  return simulateFileAsync({...rest, changeoverHours: changeoverSeconds / 3600})
}
