// The `accelerators` service: the accelerators skyhop knows, filtered, each with its
// cheapest offers (CNY converted at the command's rate).
import {type AcceleratorReport, acceleratorReport} from '../catalog/accelerator-list.js'
import {fxFromEnv} from '../catalog/fx.js'
import type {FxRates} from '../model/currency.js'
import type {Runtime} from '../model/job-spec.js'

export type {AcceleratorListing, AcceleratorReport, CheapestOffer} from '../catalog/accelerator-list.js'
export {RUNTIMES} from '../model/job-spec.js'

export interface AcceleratorsOptions {
  home: string
  catalogFile?: string
  vendor?: string
  runtime?: Runtime
  minMemoryGB?: number
  /** The rate CNY prices are ranked at (the command's: config, environment or the bundled one). */
  fx?: FxRates
}

export function listAccelerators(options: AcceleratorsOptions): AcceleratorReport {
  return acceleratorReport({...options, fx: options.fx ?? fxFromEnv()})
}
