// Which backends are enabled here, built once per command: the local machine always
// (unless disabled in config), Slurm when configured or when `sinfo` answers, and each
// cloud whose credentials are found. Adapters are imported lazily: a cloud's client
// code is only loaded when its credentials exist.
import type {SkyhopConfig} from '../config.js'
import {UsageError} from '../errors.js'
import {didYouMean} from '../util/did-you-mean.js'
import type {Provider} from './provider.js'

export interface ProviderSetup {
  home: string
  config: SkyhopConfig
  warn?: (message: string) => void
  env?: NodeJS.ProcessEnv
}

/** Every backend skyhop has an adapter for, enabled or not. */
export const KNOWN_PROVIDERS = ['local', 'slurm', 'aws', 'aliyun', 'huaweicloud', 'tencentcloud'] as const

export async function createProviders(setup: ProviderSetup): Promise<Map<string, Provider>> {
  const providers = new Map<string, Provider>()
  const {config} = setup
  if (config.providers.local.enabled) {
    const {LocalProvider} = await import('./local/local-provider.js')
    const {loadRegistry} = await import('../catalog/accelerators.js')
    const local = config.providers.local
    providers.set(
      'local',
      new LocalProvider({
        home: setup.home,
        maxConcurrent: local.maxConcurrent ?? undefined,
        whenFull: local.whenFull,
        price: {amount: local.pricePerHourUsd, currency: 'USD'},
        canonicalAccelerator: (raw) => loadRegistry().resolve(raw)?.name ?? null,
      }),
    )
  }
  return providers
}

export async function unknownProviderError(name: string, enabled: string[]): Promise<UsageError> {
  const suggestion = didYouMean(name, [...KNOWN_PROVIDERS])
  const known = (KNOWN_PROVIDERS as readonly string[]).includes(name)
  return new UsageError(
    known ? `provider "${name}" is not enabled here (enabled: ${enabled.join(', ') || 'none'})` : `unknown provider "${name}"${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`,
    {code: known ? 'PROVIDER_NOT_ENABLED' : 'UNKNOWN_PROVIDER', hint: known ? 'Run `skyhop check` to see why.' : `Known providers: ${KNOWN_PROVIDERS.join(', ')}.`},
  )
}
