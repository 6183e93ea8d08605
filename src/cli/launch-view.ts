// What `launch --wait` shows while the job runs: a spinner on stderr carrying the
// controller's latest event, with the job's log lines printed to stdout above it; without
// a terminal, the events worth a line (failover, recovery, waiting) as plain notes; under
// --json nothing (no log lines either: stdout holds the one JSON document).
import type {ControllerEvent, LaunchProgress} from '../services/launch.js'
import type {LogLine} from '../services/logs.js'

export interface LaunchView extends LaunchProgress {
  stop(): void
}

const NOTED: ReadonlySet<string> = new Set(['failover', 'recovering', 'restarting', 'waiting', 'launch-retry', 'launch-budget-spent'])

export async function launchView(options: {decorated: boolean; json: boolean; note: (text: string) => void}): Promise<LaunchView> {
  const spinner = options.decorated ? (await import('ora')).default({stream: process.stderr, text: 'starting'}).start() : undefined
  const line = (entry: LogLine) => {
    spinner?.clear()
    process.stdout.write(entry.line.endsWith('\n') ? entry.line : entry.line + '\n')
    spinner?.render()
  }
  return {
    event(e: ControllerEvent) {
      if (spinner) spinner.text = e.message
      else if (!options.json && NOTED.has(e.kind)) options.note(`skyhop: ${e.message}`)
    },
    ...(options.json ? {} : {line}),
    stop: () => spinner?.stop(),
  }
}
