// Every command of the CLI by its id: oclif's explicit command discovery (package.json
// oclif.commands). The build bundles the commands, oclif and the code they reach into one
// module (scripts/bundle.mjs), which a run imports instead of ~400 separate files; it reads
// this list from the compiled file and makes each entry a getter that evaluates that
// command's modules only when oclif asks for it, so keep the one-import-per-command shape.
// A test checks that every file of this folder is listed here.
import Accelerators from './accelerators.js'
import Agent from './agent.js'
import Cancel from './cancel.js'
import CatalogRefresh from './catalog/refresh.js'
import CatalogStatusCommand from './catalog/status.js'
import Check from './check.js'
import Controller from './controller.js'
import Cost from './cost.js'
import Dashboard from './dashboard.js'
import Down from './down.js'
import Import from './import.js'
import Init from './init.js'
import Launch from './launch.js'
import Logs from './logs.js'
import Offers from './offers.js'
import Plan from './plan.js'
import Preempt from './preempt.js'
import Recover from './recover.js'
import ServeController from './serve-controller.js'
import ServeDown from './serve/down.js'
import ServeLogs from './serve/logs.js'
import ServePreempt from './serve/preempt.js'
import ServeStatus from './serve/status.js'
import ServeUp from './serve/up.js'
import ServeUpdate from './serve/update.js'
import Simulate from './simulate.js'
import Status from './status.js'
import SweepController from './sweep-controller.js'
import Sweep from './sweep.js'
import Sweeps from './sweeps.js'
import Validate from './validate.js'

export {execute} from '@oclif/core'
export {main} from '../cli/main.js'

export const COMMANDS = {
  accelerators: Accelerators,
  agent: Agent,
  cancel: Cancel,
  'catalog:refresh': CatalogRefresh,
  'catalog:status': CatalogStatusCommand,
  check: Check,
  controller: Controller,
  cost: Cost,
  dashboard: Dashboard,
  down: Down,
  import: Import,
  init: Init,
  launch: Launch,
  logs: Logs,
  offers: Offers,
  plan: Plan,
  preempt: Preempt,
  recover: Recover,
  'serve-controller': ServeController,
  'serve:down': ServeDown,
  'serve:logs': ServeLogs,
  'serve:preempt': ServePreempt,
  'serve:status': ServeStatus,
  'serve:up': ServeUp,
  'serve:update': ServeUpdate,
  simulate: Simulate,
  status: Status,
  'sweep-controller': SweepController,
  sweep: Sweep,
  sweeps: Sweeps,
  validate: Validate,
}
