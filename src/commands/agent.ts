import {Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {duration} from '../cli/flags.js'
import {abortOn} from '../cli/signals.js'
import {type AgentEvent, type AgentResult, runAgent} from '../services/agent.js'

export default class Agent extends BaseCommand {
  static override summary = 'Adopt every job, sweep and service whose controller is gone, and drive it to its end.'
  static override description = `A long-running process sharing the work with any other agents on the same state store: it claims each job, sweep or service whose controller lease expired (or that \`launch --detach\` left to agents, config \`agent: true\`), one claim per piece of work, and drives it in this process. SIGTERM (or Ctrl-C) stops adopting and hands everything back for another agent. With --json: one JSON object per event per line (JSON Lines), the last line being the {"ok":…,"result":…} envelope. Run it as a systemd service, a Kubernetes Deployment or a long Slurm job: see docs/agent.md and deploy/.`
  static override examples = [
    '<%= config.bin %> agent',
    '<%= config.bin %> agent --json >> agent.jsonl',
    '<%= config.bin %> agent --once   # adopt what is unowned now, drive it to its end, exit',
  ]
  static override flags = {
    once: Flags.boolean({description: 'adopt what is unowned now, drive it to its end and exit'}),
    interval: duration({description: 'time between scans of the state store (default: a third of the lease, at most 5s)'}),
    'max-active': Flags.integer({description: 'most jobs, sweeps and services driven at once', default: 64, min: 1}),
  }

  override logJson(json: unknown): void {
    // JSON Lines: the envelope is one line too, the last one.
    process.stdout.write(JSON.stringify(json) + '\n')
  }

  async run(): Promise<AgentResult> {
    const {flags} = await this.parse(Agent)
    const json = this.jsonEnabled()
    const onEvent = (e: AgentEvent): void => {
      if (json) process.stdout.write(JSON.stringify(e) + '\n')
      else if (e.event !== 'progress') process.stderr.write(`${e.ts} ${e.event} ${e.message}\n`)
    }
    const result = await runAgent(this.ctx, {
      once: flags.once,
      signal: abortOn(['SIGTERM', 'SIGINT', 'SIGHUP']),
      intervalMs: flags.interval === undefined ? undefined : flags.interval * 1000,
      maxActive: flags['max-active'],
      onEvent,
    })
    const finished = result.work.filter((w) => w.outcome === 'finished').length
    this.out(`agent ${result.agent}: adopted ${result.adopted}, ${finished} driven to their end`)
    return result
  }
}
