import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {renderTable} from '../../cli/table.js'
import {type CatalogStatus, catalogStatus, formatAge, type ProviderStatus} from '../../catalog/status.js'

export default class CatalogStatusCommand extends BaseCommand {
  static override summary = "Show where each provider's offers come from, how old they are and how many there are."
  static override description =
    'Origin is the bundled snapshot, a `catalog refresh`, or a catalog file. Age counts from the refresh, else from the as-of date of the prices. A failed refresh is shown with the data kept in its place.'
  static override examples = ['<%= config.bin %> catalog status', '<%= config.bin %> catalog status --json', '<%= config.bin %> catalog status --catalog my-offers.yaml']
  static override flags = {
    catalog: Flags.string({description: 'report on exactly this catalog file instead', env: 'SKYHOP_CATALOG'}),
  }

  async run(): Promise<CatalogStatus> {
    const {flags} = await this.parse(CatalogStatusCommand)
    const status = catalogStatus({home: this.home, catalogFile: flags.catalog})
    for (const w of status.warnings) this.note(`warning: ${w}`)
    this.out(renderStatus(status))
    return status
  }
}

function lastRefresh(p: ProviderStatus): string {
  if (!p.refreshSupported) return 'n/a'
  if (!p.lastRefresh) return 'never'
  return `${p.lastRefresh.ok ? 'ok' : `FAILED (${p.lastRefresh.error?.code ?? 'error'})`} ${p.lastRefresh.attemptedAt.slice(0, 16).replace('T', ' ')}`
}

export function renderStatus(status: CatalogStatus): string {
  const table = renderTable(status.providers, [
    {header: 'PROVIDER', get: (p) => p.provider},
    {header: 'ORIGIN', get: (p) => p.origin},
    {header: 'ROWS', get: (p) => p.rows, align: 'right'},
    {header: 'AS OF', get: (p) => p.asOf},
    {header: 'AGE', get: (p) => formatAge(p.ageSeconds), align: 'right'},
    {header: 'LAST REFRESH', get: lastRefresh},
    {header: 'SOURCE', get: (p) => p.source},
  ])
  const failed = status.providers.filter((p) => p.lastRefresh && !p.lastRefresh.ok)
  const lines = [table, '', `${status.totalRows} offers`]
  for (const p of failed) lines.push(`${p.provider}: last refresh failed: ${p.lastRefresh!.error?.message ?? 'unknown error'}; using ${p.origin} data as of ${p.asOf}`)
  return lines.join('\n')
}
