import {BaseCommand} from '../cli/base-command.js'
import {renderTable} from '../cli/table.js'
import {type ProviderCheck, checkProviders} from '../providers/registry.js'

export default class Check extends BaseCommand {
  static override summary = 'Show which providers are enabled here and whether their credentials work.'
  static override description =
    'For each provider: whether credentials (or the cluster) were found, where they came from (environment, profile name, file), and whether a harmless API call with them works. Secrets are never printed. Exits 4 when an enabled provider fails its check.'
  static override examples = ['<%= config.bin %> check', '<%= config.bin %> check --json']

  async run(): Promise<{providers: ProviderCheck[]}> {
    await this.parse(Check)
    const providers = await this.ctx.providers()
    const checks = await checkProviders({home: this.home, config: this.ctx.config()}, providers)
    this.out(
      renderTable(checks, [
        {header: 'PROVIDER', get: (c) => c.provider},
        {header: 'ENABLED', get: (c) => (c.enabled ? 'yes' : 'no')},
        {header: 'OK', get: (c) => (c.enabled ? (c.ok ? 'ok' : 'FAILED') : '-')},
        {header: 'SOURCE', get: (c) => c.source},
        {header: 'DETAIL', get: (c) => c.message},
      ]),
    )
    if (checks.some((c) => c.enabled && !c.ok)) process.exitCode = 4
    return {providers: checks}
  }
}
