// The `check` service: which providers are enabled here, whether their credentials work,
// which of the catalog's providers skyhop has no adapter for, and whether the config's
// checkpoint store takes a write and a read through signed URLs.
import type {CheckpointStoreSpec} from '../model/job-spec.js'
import type {ProviderCheck as RegistryCheck} from '../providers/registry.js'
import type {ServiceContext} from './context.js'

export interface ProviderCheck extends RegistryCheck {
  /** skyhop can launch on it. false: the catalog lists its offers for comparison only. */
  adapter: boolean
}

export interface StoreCheck {
  url: string
  ok: boolean
  source: string | null
  message: string
}

export interface CheckResult {
  providers: ProviderCheck[]
  checkpointStore: StoreCheck | null
}

export async function check(ctx: ServiceContext): Promise<CheckResult> {
  const providers = await ctx.providers()
  const plugins = (await ctx.pluginProviders?.()) ?? []
  const {adapterNames, CHECK_BUDGET_MS, checkProviders} = await import('../providers/registry.js')
  const {withDeadline} = await import('../util/deadline.js')
  // All at once, each under its own deadline: one endpoint that never answers costs its
  // provider's check ~10 s, not the others' turn.
  const [checks, store] = await Promise.all([
    checkProviders({home: ctx.home, config: ctx.config(), plugins}, providers),
    withDeadline(CHECK_BUDGET_MS, 'check of the checkpoint store', () => checkStore(ctx.config().checkpointStore)),
  ])
  // A provider without an adapter is not missing credentials: nothing could use them (issue 21).
  const known: ReadonlySet<string> = new Set([...adapterNames(plugins), ...checks.map((c) => c.provider)])
  const comparedOnly = (await catalogProviders(ctx.home)).filter((p) => !known.has(p))
  return {
    providers: [
      ...checks.map((c) => ({...c, adapter: true})),
      ...comparedOnly.map((provider) => ({
        provider,
        enabled: false,
        adapter: false,
        ok: false,
        source: null,
        message: 'no adapter: its offers are in the catalog for comparison; skyhop cannot launch there and never plans onto it',
      })),
    ],
    checkpointStore: store,
  }
}

/** The providers the catalog (bundled snapshot and refreshed files) has offers of, sorted. */
async function catalogProviders(home: string): Promise<string[]> {
  const {loadCatalog} = await import('../catalog/catalog.js')
  return [...new Set(loadCatalog({home}).sources.map((s) => s.provider))].sort()
}

/** Exit 4 when an enabled provider or the store fails its check. */
export function checkExitCode(result: CheckResult): number | null {
  const store = result.checkpointStore
  return result.providers.some((c) => c.enabled && !c.ok) || (store && !store.ok) ? 4 : null
}

/** The config's checkpoint store: a small object written and read back through signed URLs. */
async function checkStore(spec: CheckpointStoreSpec | null): Promise<StoreCheck | null> {
  if (spec === null) return null
  const {CheckpointSigner, STORE_PROVIDER, parseStoreUrl} = await import('../checkpoint/checkpoint-store.js')
  const {HttpClient} = await import('../http/client.js')
  const {createDispatcher} = await import('../http/dispatcher.js')
  let provider = 'skyhop'
  try {
    provider = STORE_PROVIDER[parseStoreUrl(spec).scheme]
  } catch {
    // probe() reports the malformed URL.
  }
  const dispatcher = createDispatcher({connectTimeoutMs: 5000})
  try {
    const client = new HttpClient({provider, dispatcher, timeoutMs: 15_000, retry: {retries: 1}})
    return {url: spec.url, ...(await new CheckpointSigner().probe(spec, client, new Date()))}
  } finally {
    await dispatcher.close()
  }
}
