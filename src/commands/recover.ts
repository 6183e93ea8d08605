import {BaseCommand} from '../cli/base-command.js'
import {type RecoverResult, recoverJobs} from '../services/recover.js'

export default class Recover extends BaseCommand {
  static override summary = 'Restart controllers whose lease expired and clean up what no job owns.'
  static override description = 'A controller that was killed stops renewing its lease; recover starts a new one for each such job, which reconciles with the backend (an attempt recorded as requested is looked up by its idempotency key, never launched twice). Attempts still running for jobs that have ended are stopped.'
  static override examples = ['<%= config.bin %> recover', '<%= config.bin %> recover --json']

  async run(): Promise<RecoverResult> {
    await this.parse(Recover)
    const result = await recoverJobs({store: await this.ctx.store(), providers: await this.ctx.providers(), home: this.home})
    this.out(
      result.restarted.length + result.restartedSweeps.length + result.cleaned.length + result.idleReleased.length === 0
        ? 'nothing to recover'
        : [
            ...result.restarted.map((j) => `restarted controller for ${j}`),
            ...result.restartedSweeps.map((s) => `restarted controller for sweep ${s}`),
            ...result.cleaned.map((a) => `stopped unowned attempt ${a}`),
            ...result.idleReleased.map((a) => `released idle attempt ${a}`),
          ].join('\n'),
    )
    return result
  }
}
