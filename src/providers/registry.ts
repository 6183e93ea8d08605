// Which backends are enabled here, built once per command: the local machine always
// (unless disabled in config), Slurm when configured or when `sinfo` answers, and each
// cloud whose credentials are found. Adapters are imported lazily: a cloud's client
// code is only loaded when its credentials exist.
import {existsSync} from 'node:fs'
import {homedir} from 'node:os'
import {delimiter, join} from 'node:path'

import type {SkyhopConfig} from '../config.js'
import {UsageError} from '../errors.js'
import {didYouMean} from '../util/did-you-mean.js'
import type {AttemptObjectReader} from '../model/checkpoint.js'
import type {LoadedPluginProvider} from './plugins.js'
import type {Provider} from './provider.js'
import type {SlurmContainerRuntime} from './slurm/containers.js'

export interface ProviderSetup {
  home: string
  config: SkyhopConfig
  warn?: (message: string) => void
  env?: NodeJS.ProcessEnv
  /** Reads what cloud attempts shipped to their job's object store (vm/shipped.ts), for the VM clouds. */
  attemptObjects?: AttemptObjectReader
  /** Providers installed plugins register (plugins.ts), already checked. */
  plugins?: readonly LoadedPluginProvider[]
}

/** Every backend skyhop has an adapter for, enabled or not. */
export const KNOWN_PROVIDERS = ['local', 'slurm', 'aws', 'aliyun', 'huaweicloud', 'tencentcloud', 'gcp', 'azure', 'kubernetes'] as const

/** Every provider skyhop can launch on here: the built-in ones and those of installed plugins. */
export function adapterNames(plugins: readonly LoadedPluginProvider[] = []): string[] {
  return [...KNOWN_PROVIDERS, ...plugins.map((p) => p.provider.name)]
}

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
        maxNodes: local.maxNodes ?? undefined,
        whenFull: local.whenFull,
        price: {amount: local.pricePerHourUsd, currency: 'USD'},
        canonicalAccelerator: (raw) => loadRegistry().resolve(raw)?.name ?? null,
        ...(local.containerRuntime == null ? {} : {containerRuntime: local.containerRuntime === 'none' ? null : local.containerRuntime}),
      }),
    )
  }
  const env = setup.env ?? process.env
  if (config.providers.slurm.enabled !== false) {
    const slurm = await createSlurm(setup)
    if (slurm) providers.set('slurm', slurm)
  }
  for (const cloud of CLOUDS) {
    if (!cloud.credentialsPresent(env, homedir())) continue
    providers.set(cloud.name, await cloud.create(env, {attemptObjects: setup.attemptObjects}))
  }
  const kubernetes = await createKubernetes(setup, env)
  if (kubernetes) providers.set('kubernetes', kubernetes)
  for (const {plugin, provider} of setup.plugins ?? []) {
    if (!provider.credentialsPresent(env, homedir())) continue
    let created: Provider
    try {
      created = await provider.create({env, home: setup.home, userHome: homedir()})
    } catch (error) {
      throw new UsageError(
        `plugin ${plugin} failed to create provider "${provider.name}": ${error instanceof Error ? error.message : String(error)}`,
        {
          code: 'PLUGIN_LOAD_FAILED',
          hint: `Fix its configuration (docs of ${plugin}) or remove it: \`skyhop plugins uninstall ${plugin}\`.`,
        },
      )
    }
    if (created?.name !== provider.name) {
      throw new UsageError(
        `plugin ${plugin}: create() of provider "${provider.name}" returned a provider named ${JSON.stringify(created?.name)}`,
        {
          code: 'PLUGIN_INVALID',
          hint: 'See docs/providers/plugins.md.',
        },
      )
    }
    providers.set(provider.name, created)
  }
  return providers
}

/** Where `check` says skyhop looked for a kubeconfig. */
const KUBERNETES_LOOKED = 'KUBECONFIG, ~/.kube/config, the in-cluster service account'

/**
 * Kubernetes is enabled when configured or when a kubeconfig (or an in-cluster service
 * account) exists; the file is only parsed when the provider is used, so a broken kubeconfig
 * fails Kubernetes alone (exit 4 where it is used), never an unrelated command.
 */
async function createKubernetes(setup: ProviderSetup, env: NodeJS.ProcessEnv): Promise<Provider | undefined> {
  const cfg = setup.config.providers.kubernetes
  if (cfg?.enabled === false) return undefined
  const {kubeconfigPresent} = await import('../clouds/kubernetes/kubeconfig.js')
  if (cfg?.enabled !== true && !kubeconfigPresent({env, home: homedir()})) return undefined
  const {KubernetesProvider} = await import('./kubernetes/kubernetes-provider.js')
  return new KubernetesProvider({
    env,
    contexts: cfg?.contexts ?? null,
    namespace: cfg?.namespace ?? null,
    ...(cfg?.image ? {image: cfg.image} : {}),
    pricePerHourUsd: cfg?.pricePerHourUsd ?? {},
    scheduleWaitMs: (cfg?.scheduleWaitSeconds ?? 10) * 1000,
    ...(setup.attemptObjects ? {attemptObjects: setup.attemptObjects} : {}),
    localQueues: cfg?.localQueues ?? {},
  })
}

/**
 * Slurm is enabled when configured, or when `sinfo` is on PATH and answers. A configured
 * cluster that does not answer is still enabled, so its errors surface as exit 4.
 */
async function createSlurm(setup: ProviderSetup): Promise<Provider | undefined> {
  const cfg = setup.config.providers.slurm
  const configured = cfg.enabled === true || cfg.partitions !== null || cfg.cluster !== null
  if (!configured && !onPath('sinfo', setup.env ?? process.env)) return undefined
  const {SlurmProvider} = await import('./slurm/slurm-provider.js')
  const provider = new SlurmProvider({
    home: setup.home,
    cluster: cfg.cluster ?? undefined,
    partitions: cfg.partitions ?? undefined,
    account: cfg.account ?? undefined,
    qos: cfg.qos ?? undefined,
    gres: cfg.gres,
    prices: Object.fromEntries(
      Object.entries(cfg.pricePerHourUsd).map(([partition, amount]) => [partition, {amount, currency: 'USD' as const}]),
    ),
    env: setup.env,
    workdirStageDir: cfg.workdirStageDir ?? null,
    ...(cfg.containerRuntime == null
      ? {}
      : {containerRuntime: cfg.containerRuntime === 'none' ? null : (cfg.containerRuntime as SlurmContainerRuntime)}),
    // sinfo/scontrol answers are kept a few seconds for the next command of this home.
    queryCache: {dir: join(setup.home, 'cache', 'slurm')},
  })
  if (configured) return provider
  // Only whether slurmctld answers decides; the partitions are asked for when a job could use them.
  // Under check's budget: a slurmctld that never answers must not hold up every command.
  const {withDeadline} = await import('../util/deadline.js')
  const check = await withDeadline(CHECK_BUDGET_MS, 'the Slurm ping', () => provider.ping())
  if (!check.ok) setup.warn?.(`slurm: sinfo is installed but the cluster did not answer (${check.message}); Slurm is not a candidate`)
  return check.ok ? provider : undefined
}

function onPath(command: string, env: NodeJS.ProcessEnv): boolean {
  return (env.PATH ?? '').split(delimiter).some((dir) => dir !== '' && existsSync(join(dir, command)))
}

interface CloudEntry {
  name: string
  /** Cheap, offline: does any credential source exist? (Whether it works is `skyhop check`.) */
  credentialsPresent(env: NodeJS.ProcessEnv, home: string): boolean
  create(env: NodeJS.ProcessEnv, shipped: {attemptObjects?: AttemptObjectReader}): Promise<Provider>
  /** Where we looked, for `check` to say when nothing was found. */
  looked: string
}

const has = (env: NodeJS.ProcessEnv, ...names: string[]) => names.every((n) => (env[n] ?? '').trim() !== '')

const CLOUDS: CloudEntry[] = [
  {
    name: 'aws',
    credentialsPresent: (env, home) =>
      has(env, 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY') ||
      has(env, 'AWS_PROFILE') ||
      has(env, 'AWS_WEB_IDENTITY_TOKEN_FILE') ||
      has(env, 'AWS_CONTAINER_CREDENTIALS_FULL_URI') ||
      has(env, 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI') ||
      existsSync(env.AWS_SHARED_CREDENTIALS_FILE || join(home, '.aws', 'credentials')) ||
      existsSync(env.AWS_CONFIG_FILE || join(home, '.aws', 'config')),
    async create(env, shipped) {
      const {AwsProvider} = await import('./aws/aws-provider.js')
      return new AwsProvider({env, ...shipped, regions: env.AWS_REGION ? [env.AWS_REGION] : undefined})
    },
    looked: 'AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ~/.aws/credentials, ~/.aws/config, web identity, container credentials',
  },
  {
    name: 'aliyun',
    credentialsPresent: (env, home) =>
      has(env, 'ALIBABA_CLOUD_ACCESS_KEY_ID', 'ALIBABA_CLOUD_ACCESS_KEY_SECRET') || existsSync(join(home, '.aliyun', 'config.json')),
    async create(env, shipped) {
      const {AliyunProvider} = await import('./aliyun/aliyun-provider.js')
      return new AliyunProvider({env, ...shipped})
    },
    looked: 'ALIBABA_CLOUD_ACCESS_KEY_ID/ALIBABA_CLOUD_ACCESS_KEY_SECRET, ~/.aliyun/config.json',
  },
  {
    name: 'huaweicloud',
    // KooCLI's profile file stores keys encrypted, so only the SDKs' environment counts.
    credentialsPresent: (env) => has(env, 'HUAWEICLOUD_SDK_AK', 'HUAWEICLOUD_SDK_SK'),
    async create(env, shipped) {
      const {HuaweiProvider} = await import('./huaweicloud/huawei-provider.js')
      return new HuaweiProvider({env, ...shipped})
    },
    looked: 'HUAWEICLOUD_SDK_AK/HUAWEICLOUD_SDK_SK',
  },
  {
    name: 'tencentcloud',
    credentialsPresent: (env, home) =>
      has(env, 'TENCENTCLOUD_SECRET_ID', 'TENCENTCLOUD_SECRET_KEY') ||
      existsSync(join(home, '.tencentcloud', 'credentials')) ||
      existsSync(join(home, '.tccli', `${(env.TENCENTCLOUD_PROFILE ?? '').trim() || 'default'}.credential`)),
    async create(env, shipped) {
      const {TencentProvider} = await import('./tencentcloud/tencent-provider.js')
      return new TencentProvider({env, ...shipped})
    },
    looked: 'TENCENTCLOUD_SECRET_ID/TENCENTCLOUD_SECRET_KEY, ~/.tencentcloud/credentials, ~/.tccli/<profile>.credential',
  },
  {
    name: 'gcp',
    credentialsPresent: (env, home) =>
      has(env, 'GOOGLE_APPLICATION_CREDENTIALS') ||
      has(env, 'GCE_METADATA_HOST') ||
      existsSync(
        (env.CLOUDSDK_CONFIG ?? '').trim()
          ? join(env.CLOUDSDK_CONFIG!.trim(), 'application_default_credentials.json')
          : join(home, '.config', 'gcloud', 'application_default_credentials.json'),
      ),
    async create(env, shipped) {
      const {GcpProvider} = await import('./gcp/gcp-provider.js')
      return new GcpProvider({env, ...shipped})
    },
    looked: 'GOOGLE_APPLICATION_CREDENTIALS, ~/.config/gcloud/application_default_credentials.json, GCE_METADATA_HOST',
  },
  {
    name: 'azure',
    // A service principal in the environment, as the Azure SDKs' EnvironmentCredential reads it.
    credentialsPresent: (env) => has(env, 'AZURE_TENANT_ID', 'AZURE_CLIENT_ID', 'AZURE_CLIENT_SECRET'),
    async create(env, shipped) {
      const {AzureProvider} = await import('./azure/azure-provider.js')
      return new AzureProvider({env, ...shipped})
    },
    looked: 'AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET (with AZURE_SUBSCRIPTION_ID)',
  },
]

export interface ProviderCheck {
  provider: string
  enabled: boolean
  ok: boolean
  source: string | null
  message: string
}

/** `skyhop check`: each enabled provider's own check, and why the others are not enabled. */
/**
 * How long `check` gives one provider (credentials, endpoint, its one harmless call), every
 * remote call under it included (http/deadline.ts). The providers are checked at once, so
 * this is about the whole command's bound too.
 */
export const CHECK_BUDGET_MS = 10_000

export async function checkProviders(
  setup: ProviderSetup,
  providers: ReadonlyMap<string, Provider>,
  budgetMs = CHECK_BUDGET_MS,
): Promise<ProviderCheck[]> {
  const {withDeadline} = await import('../util/deadline.js')
  const checked = await Promise.all(
    [...providers.values()].map(async (p) => {
      const r = await withDeadline(budgetMs, `check of ${p.name}`, () => p.check()).catch((error: Error) => ({
        provider: p.name,
        ok: false,
        source: null,
        message: error.message,
      }))
      return {provider: p.name, enabled: true, ok: r.ok, source: r.source, message: r.message}
    }),
  )
  const out: ProviderCheck[] = [...checked]
  for (const name of adapterNames(setup.plugins)) {
    if (providers.has(name)) continue
    const cloud = CLOUDS.find((c) => c.name === name) ?? setup.plugins?.find((p) => p.provider.name === name)?.provider
    const message =
      name === 'local'
        ? 'disabled in config (providers.local.enabled: false)'
        : name === 'slurm'
          ? setup.config.providers.slurm.enabled === false
            ? 'disabled in config (providers.slurm.enabled: false)'
            : 'sinfo not found or the cluster did not answer; configure providers.slurm to enable it'
          : name === 'kubernetes'
            ? setup.config.providers.kubernetes?.enabled === false
              ? 'disabled in config (providers.kubernetes.enabled: false)'
              : `no kubeconfig found (looked at ${KUBERNETES_LOOKED})`
            : cloud
              ? `no credentials found (looked at ${cloud.looked})`
              : 'adapter not available yet'
    out.push({provider: name, enabled: false, ok: false, source: null, message})
  }
  return out
}

export async function unknownProviderError(
  name: string,
  enabled: string[],
  adapters: readonly string[] = KNOWN_PROVIDERS,
): Promise<UsageError> {
  const suggestion = didYouMean(name, [...adapters])
  const known = adapters.includes(name)
  return new UsageError(
    known
      ? `provider "${name}" is not enabled here (enabled: ${enabled.join(', ') || 'none'})`
      : `unknown provider "${name}"${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`,
    {
      code: known ? 'PROVIDER_NOT_ENABLED' : 'UNKNOWN_PROVIDER',
      hint: known ? 'Run `skyhop check` to see why.' : `Known providers: ${adapters.join(', ')}.`,
    },
  )
}
