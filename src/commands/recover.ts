import {BaseCommand} from '../cli/base-command.js'
import {ExitCode} from '../errors.js'
import {renderRecover} from '../cli/render-jobs.js'
import {type RecoverResult, recover} from '../services/recover.js'

export default class Recover extends BaseCommand {
  static override summary = 'Restart controllers whose lease expired and clean up what no job owns.'
  static override description =
    'A controller that was killed stops renewing its lease; recover starts a new one for each such job, which reconciles with the backend (an attempt recorded as requested is looked up by its idempotency key, never launched twice). Attempts still running for jobs that have ended are stopped, and instances idle past their timeout are released. A provider that cannot be reached costs only what depends on it: every step is reported per job, done or not, and the command exits 7 (partial) when something could not be done; run it again later.'
  static override examples = ['<%= config.bin %> recover', '<%= config.bin %> recover --json']

  async run(): Promise<RecoverResult> {
    await this.parse(Recover)
    const result = await recover(this.ctx)
    this.out(renderRecover(result))
    // The result is printed either way (under --json too): what was done stays done.
    this.exitWith(result.partial ? ExitCode.partial : null)
    return result
  }
}
