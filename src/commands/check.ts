import {BaseCommand} from '../cli/base-command.js'
import {renderTable} from '../cli/table.js'
import {type ProviderCheck, checkProviders} from '../providers/registry.js'
import type {CheckpointStoreSpec} from '../model/job-spec.js'

export default class Check extends BaseCommand {
  static override summary = 'Show which providers are enabled here and whether their credentials work.'
  static override description =
    'For each provider: whether credentials (or the cluster) were found, where they came from (environment, profile name, file), and whether a harmless API call with them works. With a checkpoint_store in the config, a small object is written to it and read back through signed URLs, as a runner would. Secrets are never printed. Exits 4 when an enabled provider or the store fails its check.'
  static override examples = ['<%= config.bin %> check', '<%= config.bin %> check --json']

  async run(): Promise<{providers: ProviderCheck[]; checkpointStore: StoreCheck | null}> {
    await this.parse(Check)
    const providers = await this.ctx.providers()
    const checks = await checkProviders({home: this.home, config: this.ctx.config()}, providers)
    const store = await checkStore(this.ctx.config().checkpointStore)
    this.out(
      renderTable(checks, [
        {header: 'PROVIDER', get: (c) => c.provider},
        {header: 'ENABLED', get: (c) => (c.enabled ? 'yes' : 'no')},
        {header: 'OK', get: (c) => (c.enabled ? (c.ok ? 'ok' : 'FAILED') : '-')},
        {header: 'SOURCE', get: (c) => c.source},
        {header: 'DETAIL', get: (c) => c.message},
      ]),
    )
    if (store) this.out(`\ncheckpoint store ${store.url}: ${store.ok ? 'ok' : 'FAILED'} (${store.source ?? 'no credentials'}): ${store.message}`)
    if (checks.some((c) => c.enabled && !c.ok) || (store && !store.ok)) process.exitCode = 4
    return {providers: checks, checkpointStore: store}
  }
}

interface StoreCheck {
  url: string
  ok: boolean
  source: string | null
  message: string
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
