// The one factory commands get their collaborators from: home, config, store,
// providers and the replanner. Built lazily so a command pays only for what it uses;
// tests point SKYHOP_HOME elsewhere instead of swapping globals.
import {existsSync} from 'node:fs'
import {join} from 'node:path'

import type {FxRates} from '../model/currency.js'
import {DEFAULT_WORKDIR_WARN_BYTES, type SkyhopConfig, loadConfig} from '../config.js'
import type {PlanningOptions, ServiceContext} from '../services/context.js'
import type {Planning} from '../services/planning.js'
import type {PlanningInputs, Replanner} from '../planner/replanner.js'
import type {LoadedPluginProvider, ProviderHookResult} from '../providers/plugins.js'
import type {Provider} from '../providers/provider.js'
import type {AttemptHoldStore, CheckpointSigner, SignCheckpointUrls} from '../checkpoint/checkpoint-store.js'
import type {CheckpointStoreSpec, FileObject, JobSpec, Objective} from '../model/job-spec.js'
import type {AttemptObjectReader} from '../model/checkpoint.js'
import type {WorkdirUpload} from '../checkpoint/workdir-upload.js'
import {UsageError} from '../errors.js'
import {STATE_DB} from '../state/files.js'
import type {Store} from '../state/store.js'
import type {HttpClient} from '../http/client.js'

export type {PlanningOptions} from '../services/context.js'

export class AppContext implements ServiceContext {
  private storeInstance?: Store
  private configInstance?: SkyhopConfig
  private providersInstance?: Map<string, Provider>
  private checkpointSyncInstance?: SignCheckpointUrls
  private attemptHoldsInstance?: AttemptHoldStore
  private attemptObjectsInstance?: AttemptObjectReader
  private storeHttpInstance?: Promise<HttpClient>
  private storeSignerInstance?: CheckpointSigner

  private pluginsInstance?: Promise<readonly LoadedPluginProvider[]>

  /**
   * `runProviderHook` runs the plugins' `skyhop:providers` hook (src/cli/plugins.ts), asked only
   * by commands that need providers, so `skyhop --help` never loads a plugin.
   */
  constructor(
    readonly home: string,
    private readonly warn: (message: string) => void = (m) => process.stderr.write(`warning: ${m}\n`),
    private readonly runProviderHook?: () => Promise<ProviderHookResult>,
  ) {}

  /** The providers installed plugins register, checked once per command (src/providers/plugins.ts). */
  async pluginProviders(): Promise<readonly LoadedPluginProvider[]> {
    this.pluginsInstance ??= (async () => {
      if (!this.runProviderHook) return []
      const {pluginProviders} = await import('../providers/plugins.js')
      const {KNOWN_PROVIDERS} = await import('../providers/registry.js')
      return pluginProviders(await this.runProviderHook(), KNOWN_PROVIDERS)
    })()
    return this.pluginsInstance
  }

  /** Every provider skyhop can launch on here: the built-in ones and installed plugins'. */
  async adapterNames(): Promise<string[]> {
    const {adapterNames} = await import('../providers/registry.js')
    return adapterNames(await this.pluginProviders())
  }

  config(): SkyhopConfig {
    this.configInstance ??= loadConfig(this.home)
    return this.configInstance
  }

  async store(): Promise<Store> {
    if (!this.storeInstance) {
      const {Store} = await import('../state/store.js')
      const database = this.database()
      this.storeInstance = Store.open(this.home, {
        databaseUrl: database?.url ?? null,
        databaseUrlSource: database?.source,
        timeoutMs: databaseTimeoutMs(),
      })
    }
    return this.storeInstance
  }

  /** The shared database, if any: SKYHOP_DATABASE_URL, else the config file's database_url. */
  private database(): {url: string; source: string} | null {
    const env = process.env.SKYHOP_DATABASE_URL
    if (env) return {url: env, source: 'SKYHOP_DATABASE_URL'}
    const config = this.config()
    return config.databaseUrl ? {url: config.databaseUrl, source: `database_url in ${config.file ?? 'the config file'}`} : null
  }

  /**
   * The store for planning, which only reads what earlier attempts observed: none when this
   * home has no store yet, rather than creating and migrating one for a `plan` (~30 ms).
   */
  private async storeForPlanning(): Promise<Store | undefined> {
    if (this.storeInstance || this.database() || existsSync(join(this.home, STATE_DB))) return this.store()
    return undefined
  }

  /** The enabled backends: local always (unless disabled), Slurm when configured or reachable, clouds with credentials. */
  async providers(): Promise<Map<string, Provider>> {
    if (!this.providersInstance) {
      const {createProviders} = await import('../providers/registry.js')
      // What cloud attempts shipped to their job's store is read with the store's signer,
      // loaded when first read (a `plan` never loads it).
      const attemptObjects: AttemptObjectReader = {
        segment: async (...args) => (await this.attemptObjects()).segment(...args),
      }
      this.providersInstance = await createProviders({
        home: this.home,
        config: this.config(),
        warn: this.warn,
        plugins: await this.pluginProviders(),
        attemptObjects,
      })
    }
    return this.providersInstance
  }

  async replanner(options: PlanningOptions = {}): Promise<Replanner> {
    return (await this.planning(options)).replan
  }

  /** The replanner plus what it plans from (catalog sources, enabled providers). */
  async planning(options: PlanningOptions = {}): Promise<Planning> {
    const {createPlanning} = await import('../services/planning.js')
    return createPlanning({
      home: this.home,
      config: this.config(),
      providers: await this.providers(),
      adapters: await this.adapterNames(),
      store: await this.storeForPlanning(),
      warn: this.warn,
      ...options,
    })
  }

  /** The exchange rate for reports: config fx.cny_per_usd, else SKYHOP_FX_CNY_PER_USD, else the default. */
  async fx(): Promise<FxRates> {
    const {fxFor} = await import('../catalog/fx.js')
    return fxFor(this.config().fx)
  }

  /** The planner's inputs gathered once (catalog, live offers, observations): for a sweep, planned as a whole. */
  async planningInputs(options: {catalogFile?: string; objective?: Objective} = {}): Promise<PlanningInputs> {
    const {gatherPlanningInputs} = await import('../services/planning.js')
    return gatherPlanningInputs({
      home: this.home,
      config: this.config(),
      providers: await this.providers(),
      adapters: await this.adapterNames(),
      store: await this.storeForPlanning(),
      warn: this.warn,
      ...options,
    })
  }

  /**
   * Signs checkpoint store URLs for the controller (see src/checkpoint/checkpoint-store.ts). One signer
   * per command, so credentials are read once.
   */
  async checkpointSync(): Promise<SignCheckpointUrls> {
    const {checkpointSyncFor} = await import('../checkpoint/checkpoint-store.js')
    this.checkpointSyncInstance ??= checkpointSyncFor(this.config(), await this.storeSigner())
    return this.checkpointSyncInstance
  }

  /**
   * Holds a cloud attempt launched before the one it replaces has stopped, through the
   * job's checkpoint store (src/checkpoint/checkpoint-store.ts: attemptHoldsFor). Shares the signer's
   * credentials with checkpointSync's.
   */
  async attemptHolds(): Promise<AttemptHoldStore> {
    const {attemptHoldsFor} = await import('../checkpoint/checkpoint-store.js')
    // The HTTP stack (undici) is loaded when a go object is first written, not on every launch.
    const signer = await this.storeSigner()
    this.attemptHoldsInstance ??= attemptHoldsFor(
      this.config(),
      {request: async (request) => (await this.storeHttp()).request(request)},
      signer,
    )
    return this.attemptHoldsInstance
  }

  /** Reads back what cloud attempts shipped to their job's store (src/providers/vm/shipped.ts). */
  private async attemptObjects(): Promise<AttemptObjectReader> {
    const {attemptObjectReaderFor} = await import('../checkpoint/checkpoint-store.js')
    const signer = await this.storeSigner()
    this.attemptObjectsInstance ??= attemptObjectReaderFor({request: async (request) => (await this.storeHttp()).request(request)}, signer)
    return this.attemptObjectsInstance
  }

  /** One signer per command for the checkpoint store and the workdir upload: credentials are loaded once. */
  private async storeSigner(): Promise<CheckpointSigner> {
    const {CheckpointSigner} = await import('../checkpoint/checkpoint-store.js')
    this.storeSignerInstance ??= new CheckpointSigner()
    return this.storeSignerInstance
  }

  /** The client for object store requests (go objects, workdir uploads): made on first use. */
  private storeHttp(): Promise<HttpClient> {
    this.storeHttpInstance ??= (async () => {
      const {HttpClient} = await import('../http/client.js')
      const {createDispatcher} = await import('../http/dispatcher.js')
      return new HttpClient({provider: 'skyhop', dispatcher: createDispatcher(), timeoutMs: 30_000, retry: {retries: 3}})
    })()
    return this.storeHttpInstance
  }

  /** See ServiceContext.uploadWorkdir. Signs with the store's credentials, as checkpoints do. */
  async uploadWorkdir(dir: string, store: CheckpointStoreSpec, only?: string): Promise<WorkdirUpload> {
    const {uploadWorkdir} = await import('../checkpoint/workdir-upload.js')
    const client = await this.storeHttp()
    const warnBytes = this.config().workdir?.warnBytes ?? DEFAULT_WORKDIR_WARN_BYTES
    const cacheDir = join(this.home, 'cache', 'workdir')
    return uploadWorkdir({
      dir,
      store,
      signer: await this.storeSigner(),
      client,
      now: new Date(),
      warnBytes,
      warn: this.warn,
      cacheDir,
      ...(only === undefined ? {} : {only}),
    })
  }

  /** See ServiceContext.findFileObjects. */
  async findFileObjects(spec: JobSpec): Promise<FileObject[]> {
    const {findFileObjects} = await import('../checkpoint/transfers.js')
    const {storeFor} = await import('../checkpoint/checkpoint-store.js')
    return findFileObjects(spec, storeFor(spec, this.config()), await this.storeSigner(), await this.storeHttp(), new Date())
  }

  /**
   * Fails early, before a job is recorded, when the job's checkpoint store is malformed or
   * its cloud's credentials are missing: the same signing a launch does, for a dry job id.
   */
  async checkCheckpointStore(spec: JobSpec): Promise<void> {
    const {storeFor} = await import('../checkpoint/checkpoint-store.js')
    if (storeFor(spec, this.config()) === null) return
    const sync = await this.checkpointSync()
    await sync({id: 'preflight', spec})
  }

  close(): void {
    this.storeInstance?.close()
  }
}

/** SKYHOP_DATABASE_TIMEOUT (seconds): each PostgreSQL statement's deadline; unset: the bridge's default. */
function databaseTimeoutMs(): number | undefined {
  const raw = process.env.SKYHOP_DATABASE_TIMEOUT
  if (raw === undefined || raw === '') return undefined
  const seconds = Number(raw)
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new UsageError(`SKYHOP_DATABASE_TIMEOUT must be a number of seconds above 0, not "${raw}"`, {code: 'STATE_TIMEOUT_INVALID'})
  }
  return seconds * 1000
}
