import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {renderCatalogStatus} from '../../cli/render-catalog.js'
import {type CatalogStatus, catalogStatus} from '../../services/catalog/status.js'

export default class CatalogStatusCommand extends BaseCommand {
  static override summary = "Show where each provider's offers come from, how old they are and how many there are."
  static override description =
    'Origin is the bundled snapshot, a `catalog refresh`, or a catalog file. Age counts from the refresh, else from the as-of date of the prices. A failed refresh is shown with the data kept in its place.'
  static override examples = [
    '<%= config.bin %> catalog status',
    '<%= config.bin %> catalog status --json',
    '<%= config.bin %> catalog status --catalog my-offers.yaml',
  ]
  static override flags = {
    catalog: Flags.string({description: 'report on exactly this catalog file instead', env: 'SKYHOP_CATALOG'}),
  }

  async run(): Promise<CatalogStatus> {
    const {flags} = await this.parse(CatalogStatusCommand)
    const status = catalogStatus({home: this.home, catalogFile: flags.catalog})
    for (const w of status.warnings) this.note(`warning: ${w}`)
    this.out(renderCatalogStatus(status))
    return status
  }
}
