// The part of an end-to-end controller test that does not depend on which fake clouds run:
// a config with the built-in providers off, the fakes' offers as the catalog file, a real
// SQLite store and the real replanner in the test's home, and the controller driven in this
// process, recording every block list it hands the planner (its own backoffs cut to 100 ms).
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'

import type {SkyhopConfig} from '../../src/config.js'
import {driveJob} from '../../src/controller/controller.js'
import {type ControllerDeps, type ControllerEvent} from '../../src/controller/deps.js'
import {StoreJournal} from '../../src/controller/journal.js'
import {createReplanner} from '../../src/services/planning.js'
import {type Replanner} from '../../src/planner/replanner.js'
import type {BlockList} from '../../src/planner/types.js'
import type {Provider} from '../../src/providers/provider.js'
import type {JobSpec} from '../../src/model/job-spec.js'
import {Store} from '../../src/state/store.js'
import {type JobRecord} from '../../src/model/records.js'
import {testJobSpec} from './job-spec.js'

export function testConfig(): SkyhopConfig {
  return {
    providers: {
      local: {enabled: false, maxConcurrent: null, whenFull: 'queue', pricePerHourUsd: 0, maxNodes: null},
      slurm: {enabled: false, cluster: null, partitions: null, account: null, qos: null, gres: {}, pricePerHourUsd: {}},
    },
    catalog: {merge: null},
    fx: {cnyPerUsd: null, asOf: null, source: null},
    quotas: [],
    checkpointStore: null,
    file: null,
  }
}

/** A job for these tests: on-demand unless asked otherwise, short grace. */
export function onDemandJob(name: string, run: string, overrides: Partial<JobSpec> = {}): JobSpec {
  return testJobSpec({name, run, spot: 'on-demand', recovery: {graceSeconds: 5}, ...overrides})
}

export interface DriveResult {
  job: JobRecord
  /** The block list of every replan, in order. */
  blocked: BlockList[]
  events: ControllerEvent[]
}

export interface DriveOptions {
  signal?: AbortSignal
  onEvent?: (e: ControllerEvent) => void
  /** The controller's look interval for spot (ControllerDeps.respotIntervalMs); its default otherwise. */
  respotIntervalMs?: number
  /** The controller's environment, where a job's secrets come from (default: this process's). */
  env?: NodeJS.ProcessEnv
}

export interface JobDriver {
  store: Store
  catalogFile: string
  replan: Replanner
  /** Records a job without driving it. */
  create(spec: JobSpec): JobRecord
  /** Records a job and drives it to its end in this process. */
  drive(spec: JobSpec, options?: DriveOptions): Promise<DriveResult>
  /** Drives an existing job (e.g. after a simulated controller crash). */
  driveExisting(jobId: string, options?: DriveOptions): Promise<DriveResult>
}

/** `offers` are written to `catalogName` in `home`, the catalog every replan reads. */
export async function jobDriver(
  home: string,
  providers: Map<string, Provider>,
  offers: unknown[],
  catalogName: string,
  driver: {checkpointSync?: ControllerDeps['checkpointSync']; attemptHolds?: ControllerDeps['attemptHolds']} = {},
): Promise<JobDriver> {
  const catalogFile = join(home, catalogName)
  writeFileSync(catalogFile, JSON.stringify({offers}, null, 2))
  const store = Store.open(home)
  const replan = await createReplanner({home, config: testConfig(), providers, catalogFile, store})

  async function driveExisting(jobId: string, options: DriveOptions = {}): Promise<DriveResult> {
    const blocked: BlockList[] = []
    const events: ControllerEvent[] = []
    const job = await driveJob(jobId, {
      journal: new StoreJournal(store),
      providers,
      replan: (spec, b) => {
        blocked.push([...b])
        return replan(spec, b)
      },
      home,
      owner: `test:${process.pid}:${Math.random().toString(36).slice(2, 8)}`,
      pollIntervalMs: 100,
      checkpointSync: driver.checkpointSync,
      attemptHolds: driver.attemptHolds,
      // The controller's own backoffs (transient retries, error restarts), shortened.
      sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 100))),
      signal: options.signal,
      ...(options.respotIntervalMs !== undefined ? {respotIntervalMs: options.respotIntervalMs} : {}),
      ...(options.env === undefined ? {} : {env: options.env}),
      onEvent: (e) => {
        events.push(e)
        options.onEvent?.(e)
      },
    })
    return {job, blocked, events}
  }

  const create = (spec: JobSpec) => store.createJob({name: spec.name, file: null, spec, options: {catalogFile}})
  return {store, catalogFile, replan, create, driveExisting, drive: (spec, options) => driveExisting(create(spec).id, options)}
}
