// The one factory commands get their collaborators from: home, config, store,
// providers and the replanner. Built lazily so a command pays only for what it uses;
// tests point SKYHOP_HOME elsewhere instead of swapping globals.
import {type SkyhopConfig, loadConfig} from '../config.js'
import type {Replanner} from '../controller/planning.js'
import type {Provider} from '../providers/provider.js'
import type {Objective} from '../spec/job-spec.js'
import type {Store} from '../state/store.js'

export class AppContext {
  private storeInstance?: Store
  private configInstance?: SkyhopConfig
  private providersInstance?: Map<string, Provider>

  constructor(
    readonly home: string,
    private readonly warn: (message: string) => void = (m) => process.stderr.write(`warning: ${m}\n`),
  ) {}

  config(): SkyhopConfig {
    this.configInstance ??= loadConfig(this.home)
    return this.configInstance
  }

  async store(): Promise<Store> {
    if (!this.storeInstance) {
      const {Store} = await import('../state/store.js')
      this.storeInstance = Store.open(this.home)
    }
    return this.storeInstance
  }

  /** The enabled backends: local always (unless disabled), Slurm when configured or reachable, clouds with credentials. */
  async providers(): Promise<Map<string, Provider>> {
    if (!this.providersInstance) {
      const {createProviders} = await import('../providers/registry.js')
      this.providersInstance = await createProviders({home: this.home, config: this.config(), warn: this.warn})
    }
    return this.providersInstance
  }

  async replanner(options: {catalogFile?: string; objective?: Objective; top?: number; allProviders?: boolean} = {}): Promise<Replanner> {
    const {createReplanner} = await import('../controller/planning.js')
    return createReplanner({
      home: this.home,
      config: this.config(),
      providers: await this.providers(),
      store: await this.store(),
      warn: this.warn,
      ...options,
    })
  }

  close(): void {
    this.storeInstance?.close()
  }
}
