// The startup script every VM cloud gives its instances as cloud-init user data (a
// `#!/bin/bash` part, which cloud-init runs once as root at first boot). It:
//   1. writes the attempt directory of src/runner/contract.ts (run.sh, setup.sh, env,
//      runner.conf) and skyhop-runner.sh itself, each gzip+base64 so any bytes survive;
//   2. runs the runner with the cloud's notice source (its metadata endpoint);
//   3. mirrors the runner's events and the job's output to the serial console, one
//      prefixed line each, which skyhop reads back through the cloud's console-output API
//      (the status and log channel: nothing inbound is opened, no SSH key is needed);
//   4. polls a cloud-specific probe for a stop request (AWS: an instance tag exposed in
//      IMDS) and hands it to the runner as `stop-request` + SIGTERM, the local contract;
//   5. prints the runner's exit and powers the machine off; instances are launched to
//      terminate on shutdown, so nothing idles and nothing bills after the job.
// Deterministic for a given request: a retried launch sends byte-identical user data,
// which the clouds' idempotency tokens require.
import {existsSync} from 'node:fs'
import {readFile} from 'node:fs/promises'
import {fileURLToPath} from 'node:url'
import {gzipSync} from 'node:zlib'

import {BugError, UsageError} from '../../errors.js'
import {isValidEnvName, shellQuote, type RunnerConfig} from '../../runner/contract.js'
import type {LaunchRequest} from '../provider.js'

/** Console line prefixes (see console-channel.ts). */
export const CONSOLE_PREFIX = {boot: 'SKYHOP-BOOT', event: 'SKYHOP-EV', log: 'SKYHOP-LOG', exit: 'SKYHOP-EXIT'} as const

export interface BootScriptInput {
  request: LaunchRequest
  /** The contents of skyhop-runner.sh (readRunnerScript()). */
  runnerScript: string
  /** RunnerConfig.noticeSources, e.g. `['aws']` or `['aws=http://127.0.0.1:8080']`. */
  noticeSources: string[]
  /**
   * Bash that prints a pending stop request (`cancel 30`, `preempt`) or nothing; run every
   * poll interval. null: no watcher (the cloud offers no inbound-free channel).
   */
  stopRequestProbe: string | null
  /** Where the mirror lines go. Default /dev/ttyS0, the serial console the APIs return. */
  consoleDevice?: string
  /** Parent of the attempt directories. Default /var/lib/skyhop/attempts. */
  baseDir?: string
  pollIntervalSeconds?: number
  /** Default `shutdown -h now`. */
  shutdownCommand?: string
  /** Seconds between the exit line and the power-off, so the console is flushed. Default 5. */
  flushSeconds?: number
}

/** gzip (mtime 0, so deterministic) then base64. */
function packed(text: string): string {
  return gzipSync(Buffer.from(text, 'utf8'), {level: 9}).toString('base64')
}

export function envFile(env: Record<string, string>): string {
  const names = Object.keys(env).sort()
  const bad = names.filter((n) => !isValidEnvName(n))
  if (bad.length > 0) throw new UsageError(`not valid environment variable names: ${bad.join(', ')}`, {code: 'ENV_NAME_INVALID'})
  return names.map((n) => `export ${n}=${shellQuote(env[n])}\n`).join('')
}

export function runnerConf(config: RunnerConfig): string {
  const lines: string[] = []
  for (const [key, value] of Object.entries(config)) {
    if (value === undefined) continue
    lines.push(`${key}=${shellQuote(Array.isArray(value) ? value.join(' ') : String(value))}`)
  }
  return `${lines.join('\n')}\n`
}

/** The attempt id as a safe directory name. */
export function attemptDirName(attemptId: string): string {
  return attemptId.replace(/[^A-Za-z0-9._-]/g, '_')
}

/** The files of the attempt directory, by name. */
export function attemptFiles(input: BootScriptInput, attemptDir: string): Record<string, string> {
  const {request} = input
  const {spec} = request
  const env = {...request.env, SKYHOP_PREEMPT_NOTICE: `${attemptDir}/preempt-notice`}
  const files: Record<string, string> = {
    'run.sh': spec.run,
    env: envFile(env),
    'runner.conf': runnerConf({
      graceSeconds: request.graceSeconds,
      signal: spec.recovery.signal,
      workdir: spec.workdir ?? 'work',
      noticeSources: input.noticeSources,
      pollIntervalSeconds: input.pollIntervalSeconds ?? 5,
    }),
    'skyhop-runner.sh': input.runnerScript,
  }
  if (spec.setup) files['setup.sh'] = spec.setup
  return files
}

const STOP_REQUEST = '^(cancel|preempt)( [0-9]{1,6})?$'

export function bootScript(input: BootScriptInput): string {
  const {request} = input
  const base = input.baseDir ?? '/var/lib/skyhop/attempts'
  const dir = `${base}/${attemptDirName(request.attemptId)}`
  const poll = input.pollIntervalSeconds ?? 5
  const files = attemptFiles(input, dir)
  const fileLines = Object.entries(files)
    .map(([name, text]) => `sk_file ${shellQuote(name)} ${shellQuote(packed(text))}`)
    .join('\n')
  const probe = input.stopRequestProbe
  const watcher =
    probe === null
      ? '# This cloud has no stop-request probe: cancel reaches the job when the instance is stopped.'
      : `sk_probe() {
${probe
  .split('\n')
  .map((l) => `  ${l}`)
  .join('\n')}
}
sk_re=${shellQuote(STOP_REQUEST)}
(
  while kill -0 "$sk_runner" 2>/dev/null; do
    sleep ${poll}
    req=$(sk_probe 2>/dev/null | head -c 64 | tr -d '\\r\\n')
    if [[ $req =~ $sk_re ]]; then
      printf '%s\\n' "$req" >"$D/stop-request.tmp" && mv -f "$D/stop-request.tmp" "$D/stop-request"
      kill -TERM "$sk_runner" 2>/dev/null
      break
    fi
  done
) &`
  return `#!/bin/bash
# skyhop boot script (cloud-init user data), generated by skyhop; do not edit.
# job ${shellQuote(request.jobId)}, attempt ${shellQuote(request.attemptId)} (#${request.attempt})
# Writes the attempt directory, runs skyhop-runner.sh, mirrors its events and output to
# the serial console (${CONSOLE_PREFIX.event} / ${CONSOLE_PREFIX.log} lines, read back with the cloud's
# console-output API), and powers off when the job ends.
set -u
umask 077
# SKYHOP_BOOT_* are never set under cloud-init; they let a test host run this script as a
# fake cloud would (test/fakes): a root prefix, a file as the console, no power-off.
D="\${SKYHOP_BOOT_ROOT-}"${shellQuote(dir)}
CONSOLE="\${SKYHOP_BOOT_CONSOLE:-${input.consoleDevice ?? '/dev/ttyS0'}}"
sk_say() { printf '%s\\n' "$*" >>"$CONSOLE" 2>/dev/null || true; }
sk_file() { printf '%s' "$2" | base64 -d | gzip -dc >"$D/$1"; }
mkdir -p "$D"
${fileLines}
: >>"$D/events.jsonl"
: >>"$D/output.log"
sk_say ${shellQuote(`${CONSOLE_PREFIX.boot} ${request.attemptId}`)}
bash "$D/skyhop-runner.sh" "$D" </dev/null >>"$D/runner.log" 2>&1 &
sk_runner=$!
tail --pid="$sk_runner" -s 1 -n +1 -F "$D/events.jsonl" 2>/dev/null | awk '{print "${CONSOLE_PREFIX.event} " $0; fflush()}' >>"$CONSOLE" 2>/dev/null &
sk_mirror_events=$!
tail --pid="$sk_runner" -s 1 -n +1 -F "$D/output.log" 2>/dev/null | awk '{print "${CONSOLE_PREFIX.log} " NR " " $0; fflush()}' >>"$CONSOLE" 2>/dev/null &
sk_mirror_log=$!
${watcher}
wait "$sk_runner"
sk_rc=$?
# The mirrors end on their own a second after the runner; give them that second.
wait "$sk_mirror_events" "$sk_mirror_log" 2>/dev/null
sk_job=$(cat "$D/exit_code" 2>/dev/null || echo none)
sk_say "${CONSOLE_PREFIX.exit} $sk_rc $sk_job"
sync
[[ -n \${SKYHOP_BOOT_NO_SHUTDOWN-} ]] && exit "$sk_rc"
sleep ${input.flushSeconds ?? 5}
${input.shutdownCommand ?? 'shutdown -h now'}
`
}

/** Candidates for skyhop-runner.sh: beside the sources, or the package's src/ from dist/. */
const RUNNER_CANDIDATES = ['../../runner/skyhop-runner.sh', '../../../src/runner/skyhop-runner.sh']

/** Reads the runner at launch time, so a launch always ships the runner of this install. */
export async function readRunnerScript(): Promise<string> {
  for (const rel of RUNNER_CANDIDATES) {
    const path = fileURLToPath(new URL(rel, import.meta.url))
    if (existsSync(path)) return readFile(path, 'utf8')
  }
  throw new BugError('skyhop-runner.sh is not installed beside skyhop (looked in src/runner relative to this module)')
}
