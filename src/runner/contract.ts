// The contract between skyhop and the runner on an execution host (see
// skyhop-runner.sh beside this file). Everything an attempt needs is written into one
// attempt directory; the runner reads it, runs the job, and writes back events, logs and
// the exit code into the same directory. Providers only move this directory around
// (local: a path; Slurm: a shared path; clouds: user-data + SSH/object storage).
//
// ATTEMPT_DIR/
//   run.sh            the job's `run` script (bash), written verbatim
//   setup.sh          the job's `setup` script, if any
//   env               one `export KEY='value'` line per variable, single-quote escaped
//   runner.conf       KEY=value lines, values shell-quoted (see RunnerConfig)
//   --- written by the runner ---
//   runner.pid        pid of the runner itself
//   job.pgid          process group id of the job (setup and run)
//   output.log        stdout and stderr of setup and run, interleaved
//   events.jsonl      one JSON object per line (see RunnerEvent)
//   exit_code         the job's exit code, written atomically when it ends
//   stop-request      written by skyhop before signalling the runner: `cancel` or `preempt`
//
// Imports nothing from the rest of skyhop except types, so it can be reused by every provider.

export interface RunnerConfig {
  /** Seconds the job gets between the notice and SIGKILL when the backend gives none. */
  graceSeconds: number
  /** Signal delivered to the job's process group on a notice or cancel. */
  signal: string
  /** Working directory for setup and run. */
  workdir: string
  /**
   * Where notices come from besides signals to the runner: `aws`, `gcp`, `azure`,
   * `aliyun`, `tencentcloud`, `huaweicloud`; each may be followed by `=BASE_URL` to point it
   * at another metadata server (tests).
   */
  noticeSources: string[]
  /** Seconds between metadata polls. */
  pollIntervalSeconds: number
  /** Seconds the runner keeps the job alive after its own exit for log shipping; 0 normally. */
  lingerSeconds?: number
}

export type RunnerEventName =
  | 'runner-start'
  | 'setup-start'
  | 'setup-exit'
  | 'run-start'
  | 'notice' // an interruption notice arrived (fields: source, deadline)
  | 'cancel' // a cancel request arrived
  | 'signal' // the job's process group was signalled (fields: signal, remainingSeconds)
  | 'kill' // the grace ran out: SIGKILL
  | 'exit' // the job ended (fields: exitCode, signal, beforeDeadline)

export interface RunnerEvent {
  /** ISO-8601 time with milliseconds. */
  ts: string
  event: RunnerEventName
  [field: string]: unknown
}

/** The SKYHOP_* environment every attempt gets (documented in the README). */
export interface JobContractEnv {
  SKYHOP_JOB_ID: string
  SKYHOP_JOB_NAME: string
  SKYHOP_ATTEMPT: string
  SKYHOP_RESTART_COUNT: string
  SKYHOP_CHECKPOINT_DIR: string
  SKYHOP_GRACE_SECONDS: string
  SKYHOP_PREEMPT_NOTICE: string
}

/** Single-quotes a value for bash so that it is always data, never code. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

export function isValidEnvName(name: string): boolean {
  return ENV_NAME.test(name)
}
