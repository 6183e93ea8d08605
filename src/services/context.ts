// What a service gets its collaborators from: the skyhop home, config, store, enabled
// providers and planning, built lazily by whoever runs the service (src/cli/context.ts for
// the CLI, a test for itself). Services take it instead of opening things themselves, so
// a command hands over one object and never touches the store or a provider.
import type {FxRates} from '../model/currency.js'
import type {SkyhopConfig} from '../config.js'
import type {AttemptHoldStore, SignCheckpointUrls} from '../checkpoint/checkpoint-store.js'
import type {CheckpointStoreSpec, FileObject, JobSpec, Objective} from '../model/job-spec.js'
import type {WorkdirUpload} from '../checkpoint/workdir-upload.js'
import type {LoadedPluginProvider} from '../providers/plugins.js'
import type {Provider} from '../providers/provider.js'
import type {Store} from '../state/store.js'
import type {Planning} from './planning.js'
import type {PlanningInputs, Replanner} from '../planner/replanner.js'

export interface PlanningOptions {
  catalogFile?: string
  objective?: Objective
  top?: number
  allProviders?: boolean
  /** The jobs planned, when known: backends whose live offers none of them could use are not asked (planning.ts). */
  jobs?: readonly JobSpec[]
}

export interface ServiceContext {
  readonly home: string
  config(): SkyhopConfig
  store(): Promise<Store>
  /** The enabled backends. */
  providers(): Promise<Map<string, Provider>>
  /** Every provider skyhop can launch on here, enabled or not: the built-in ones and installed plugins'. */
  adapterNames?(): Promise<string[]>
  /** The providers installed plugins register (docs/providers/plugins.md). */
  pluginProviders?(): Promise<readonly LoadedPluginProvider[]>
  replanner(options?: PlanningOptions): Promise<Replanner>
  planning(options?: PlanningOptions): Promise<Planning>
  planningInputs(options?: {catalogFile?: string; objective?: Objective}): Promise<PlanningInputs>
  /** The exchange rate for reports. */
  fx(): Promise<FxRates>
  checkpointSync(): Promise<SignCheckpointUrls>
  attemptHolds(): Promise<AttemptHoldStore>
  /**
   * Packs a workdir and makes sure the store holds it (src/checkpoint/workdir-upload.ts),
   * warning about a large one before the upload; throws ProviderError when the store fails.
   */
  uploadWorkdir(dir: string, store: CheckpointStoreSpec, only?: string): Promise<WorkdirUpload>
  /**
   * HEADs each bucket object the job's files: copy (src/checkpoint/transfers.ts), at launch:
   * their sizes and ETags, which every attempt's download is checked against. Optional: a
   * context without it launches no job whose files: name a bucket object.
   */
  findFileObjects?(spec: JobSpec): Promise<FileObject[]>
  /** Fails early when the job's checkpoint store is malformed or its credentials are missing. */
  checkCheckpointStore(spec: JobSpec): Promise<void>
}
