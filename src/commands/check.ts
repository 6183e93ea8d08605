import {BaseCommand} from '../cli/base-command.js'
import {renderCheck} from '../cli/render-check.js'
import {type CheckResult, check, checkExitCode} from '../services/check.js'

export default class Check extends BaseCommand {
  static override summary = 'Show which providers are enabled here and whether their credentials work.'
  static override description =
    'For each provider: whether credentials (or the cluster) were found, where they came from (environment, profile name, file), and whether a harmless API call with them works. With a checkpoint_store in the config, a small object is written to it and read back through signed URLs, as a runner would. Secrets are never printed. All are checked at once, each within 10 s (every call included), so an endpoint that never answers fails its own row only. Exits 4 when an enabled provider or the store fails its check.'
  static override examples = ['<%= config.bin %> check', '<%= config.bin %> check --json']

  async run(): Promise<CheckResult> {
    await this.parse(Check)
    const result = await check(this.ctx)
    this.out(renderCheck(result))
    this.exitWith(checkExitCode(result))
    return result
  }
}
