import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {provider} from '../../cli/flags.js'
import {renderRefresh} from '../../cli/render-catalog.js'
import {REFRESHABLE_PROVIDERS, type RefreshReport, assertRefreshed, refreshPrices} from '../../services/catalog/refresh.js'

export default class CatalogRefresh extends BaseCommand {
  static override summary = "Fetch current prices from the providers' own price APIs."
  static override description = `Live refresh exists for: ${REFRESHABLE_PROVIDERS.join(', ')}. Azure's Retail Prices API needs no credentials. The others use your credentials for that cloud and are skipped without them unless named with --provider: AWS (spot from EC2 DescribeSpotPriceHistory, on-demand from the Price List API), Alibaba Cloud (ECS DescribePrice and DescribeSpotPriceHistory), Tencent Cloud (CVM InquiryPriceRunInstances, on-demand and spot per zone) and Huawei Cloud (BSS ListOnDemandResourceRatings, pay-per-use ECS flavors; no spot prices). The Chinese clouds price the instance types the catalog already lists and keep the rows they cannot price; prices stay in the currency quoted (CNY on the China sites). Each provider's prices are saved under the skyhop home; a provider whose refresh fails keeps its last good data (the previous refresh, else the bundled snapshot), and the command exits 4. Endpoints can be pointed elsewhere with SKYHOP_<PROVIDER>_ENDPOINT (and SKYHOP_AWS_PRICING_ENDPOINT).`
  static override examples = [
    '<%= config.bin %> catalog refresh',
    '<%= config.bin %> catalog refresh --provider azure --json',
    'AWS_PROFILE=prices <%= config.bin %> catalog refresh --provider aws',
    'TENCENTCLOUD_SECRET_ID=… TENCENTCLOUD_SECRET_KEY=… <%= config.bin %> catalog refresh --provider tencentcloud',
  ]
  static override flags = {
    provider: provider({char: 'p', description: 'refresh only this provider (repeatable)', multiple: true}),
    timeout: Flags.integer({description: 'seconds to wait for each HTTP request', default: 30, min: 1}),
  }

  async run(): Promise<RefreshReport> {
    const {flags} = await this.parse(CatalogRefresh)
    const report = await refreshPrices({
      home: this.home,
      providers: flags.provider,
      timeoutMs: flags.timeout * 1000,
      onRetry: (p, e) => this.note(`${p}: ${e.reason}; retrying in ${(e.delayMs / 1000).toFixed(1)}s`),
    })
    for (const w of report.warnings) this.note(`warning: ${w}`)
    this.out(renderRefresh(report))
    assertRefreshed(report)
    return report
  }
}
