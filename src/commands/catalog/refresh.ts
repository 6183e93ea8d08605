import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {renderTable} from '../../cli/table.js'
import {type RefreshOutcome, type RefreshReport, refreshCatalog, REFRESHERS} from '../../catalog/refresh/index.js'
import {ProviderError} from '../../errors.js'
import {createDispatcher} from '../../http/dispatcher.js'

export default class CatalogRefresh extends BaseCommand {
  static override summary = "Fetch current prices from the providers' own price APIs."
  static override description = `Live refresh exists for: ${Object.keys(REFRESHERS).join(', ')}. Azure's Retail Prices API needs no credentials. The others use your credentials for that cloud and are skipped without them unless named with --provider: AWS (spot from EC2 DescribeSpotPriceHistory, on-demand from the Price List API), Alibaba Cloud (ECS DescribePrice and DescribeSpotPriceHistory), Tencent Cloud (CVM InquiryPriceRunInstances, on-demand and spot per zone) and Huawei Cloud (BSS ListOnDemandResourceRatings, pay-per-use ECS flavors; no spot prices). The Chinese clouds price the instance types the catalog already lists and keep the rows they cannot price; prices stay in the currency quoted (CNY on the China sites). Each provider's prices are saved under the skyhop home; a provider whose refresh fails keeps its last good data (the previous refresh, else the bundled snapshot), and the command exits 4. Endpoints can be pointed elsewhere with SKYHOP_<PROVIDER>_ENDPOINT (and SKYHOP_AWS_PRICING_ENDPOINT).`
  static override examples = [
    '<%= config.bin %> catalog refresh',
    '<%= config.bin %> catalog refresh --provider azure --json',
    'AWS_PROFILE=prices <%= config.bin %> catalog refresh --provider aws',
    'TENCENTCLOUD_SECRET_ID=… TENCENTCLOUD_SECRET_KEY=… <%= config.bin %> catalog refresh --provider tencentcloud',
  ]
  static override flags = {
    provider: Flags.string({char: 'p', description: 'refresh only this provider (repeatable)', multiple: true}),
    timeout: Flags.integer({description: 'seconds to wait for each HTTP request', default: 30, min: 1}),
  }

  async run(): Promise<RefreshReport> {
    const {flags} = await this.parse(CatalogRefresh)
    const dispatcher = createDispatcher()
    let report: RefreshReport
    try {
      report = await refreshCatalog({
        home: this.home,
        providers: flags.provider,
        dispatcher,
        timeoutMs: flags.timeout * 1000,
        onRetry: (provider, e) => this.note(`${provider}: ${e.reason}; retrying in ${(e.delayMs / 1000).toFixed(1)}s`),
      })
    } finally {
      await dispatcher.close()
    }
    for (const w of report.warnings) this.note(`warning: ${w}`)
    this.out(renderRefresh(report))
    const failed = report.outcomes.filter((o) => o.status === 'failed')
    if (failed.length > 0) {
      const first = failed[0]
      throw new ProviderError(first.provider, 'transient', `refresh failed for ${failed.map((f) => f.provider).join(', ')}; their last good data stays in use`, {
        code: 'CATALOG_REFRESH_FAILED',
        hint: 'Run `skyhop catalog status` to see the data in use; try again later.',
        details: {outcomes: report.outcomes},
      })
    }
    return report
  }
}

function using(o: RefreshOutcome): string {
  if (o.using.origin === 'none') return 'nothing'
  return `${o.using.origin} ${o.using.fetchedAt?.slice(0, 16).replace('T', ' ') ?? o.using.asOf ?? ''}, ${o.using.rows} offers`
}

export function renderRefresh(report: RefreshReport): string {
  return renderTable(report.outcomes, [
    {header: 'PROVIDER', get: (o) => o.provider},
    {header: 'RESULT', get: (o) => o.status},
    {header: 'NOW USING', get: using},
    {header: 'DETAIL', get: (o) => o.message},
  ])
}
