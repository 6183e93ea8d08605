// The `simulate` service: replay spot availability traces under each policy (and, when
// asked, through the real controller and planner) on a simulated clock.
import {POLICIES} from '../simulator/policies.js'
import {type ServiceSimulationOptions, type SimulateServiceResult, simulateServiceFile} from '../simulator/service.js'
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

export {SERVICE_POLICIES} from '../simulator/service-replay.js'
export type {SimulateServiceResult, ServicePolicyResult} from '../simulator/service.js'

/** `simulate --service`: a service file's replicas replayed against the traces under each service policy. */
export async function simulateService(options: ServiceSimulationOptions): Promise<SimulateServiceResult> {
  return simulateServiceFile(options)
}
