// The one place skyhop runs Slurm's client commands: execFile, never a shell, so every
// argument (partition names, paths, job names) is data. A non-zero exit is returned,
// not thrown: sbatch and squeue say useful things on stderr, and the caller decides
// what they mean. Only "the command is not installed" and "it hung" throw here.
import {execFile, spawn} from 'node:child_process'

import {ProviderError, type BlockScope, type ProviderErrorCategory} from '../../errors.js'
import {capTimeout} from '../../util/deadline.js'
import {slurmMessage} from './parse.js'

// srun only for `srun --help` (which container options the cluster's plugins add): jobs run through sbatch.
export const SLURM_COMMANDS = ['sinfo', 'squeue', 'sbatch', 'scancel', 'scontrol', 'sacct', 'srun'] as const
export type SlurmCommand = (typeof SLURM_COMMANDS)[number]

export interface CommandResult {
  code: number
  stdout: string
  stderr: string
}

/** Runs one Slurm command; tests replay recorded outputs through the same shape. */
export type SlurmRunner = (
  command: SlurmCommand,
  args: string[],
  options?: {
    timeoutMs?: number
    /** Variables added to the command's environment. */
    env?: Record<string, string>
    /** The command's stdin: a job's secrets on their way to its batch script (srun), never in its arguments or environment. */
    input?: string
  },
) => Promise<CommandResult>

export interface ExecRunnerOptions {
  /** Environment of the commands (e.g. SLURM_CONF); default: this process's. */
  env?: NodeJS.ProcessEnv
  /** Per-command timeout; default 60 s (an unreachable slurmctld takes 10–20 s to give up). */
  timeoutMs?: number
  /** Directory holding the commands; default: PATH. */
  binDir?: string
}

const PROVIDER = 'slurm'

export function execRunner(options: ExecRunnerOptions = {}): SlurmRunner {
  return (command, args, callOptions = {}) =>
    new Promise<CommandResult>((resolve, reject) => {
      const file = options.binDir ? `${options.binDir.replace(/\/$/, '')}/${command}` : command
      // Cut to the nearest deadline around the call (a check, a launch candidate: deadline.ts).
      const timeout = capTimeout(callOptions.timeoutMs ?? options.timeoutMs ?? 60_000)
      const child = execFile(
        file,
        args,
        {
          env: {...(options.env ?? process.env), ...callOptions.env, LC_ALL: 'C'},
          timeout,
          killSignal: 'SIGKILL',
          maxBuffer: 64 * 1024 * 1024,
          windowsHide: true,
        },
        (error, stdout, stderr) => {
          if (!error) return resolve({code: 0, stdout, stderr})
          const err = error as NodeJS.ErrnoException & {code?: number | string; killed?: boolean; signal?: string}
          if (err.code === 'ENOENT') {
            return reject(
              new ProviderError(PROVIDER, 'unavailable', `${command} is not installed here`, {
                code: 'SLURM_NOT_INSTALLED',
                hint: 'Install the Slurm client commands (Debian: slurm-client), or disable the slurm provider in config.',
                cause: error,
              }),
            )
          }
          if (err.killed || err.signal) {
            return reject(
              new ProviderError(PROVIDER, 'transient', `${command} did not answer within ${Math.round(timeout / 1000)} s`, {
                code: 'SLURM_TIMEOUT',
                hint: 'slurmctld may be overloaded or unreachable; `scontrol ping` tells which.',
                cause: error,
              }),
            )
          }
          resolve({code: typeof err.code === 'number' ? err.code : 1, stdout, stderr})
        },
      )
      // A command that exits before reading all of it (EPIPE) answers with its status as usual.
      child.stdin?.on('error', () => undefined)
      child.stdin?.end(callOptions.input ?? '')
    })
}

/**
 * `scancel JOBID` after `delayMs`, from a detached process that outlives the caller (a
 * `skyhop cancel` exits long before a grace ends). A backstop: the runner normally ends
 * the job within its grace; this makes sure Slurm does even if the runner cannot. The
 * job id and the delay reach the helper as arguments, never as code.
 */
export function scheduleScancel(jobId: string, delayMs: number, options: ExecRunnerOptions = {}): void {
  if (!/^\d+$/.test(jobId)) throw new ProviderError(PROVIDER, 'user', `"${jobId}" is not a Slurm job id`)
  const file = options.binDir ? `${options.binDir.replace(/\/$/, '')}/scancel` : 'scancel'
  // The grace is over: SIGKILL to every process of the job (batch shell included), then cancel it.
  const helper = [
    `const [file, id, ms] = process.argv.slice(1)`,
    `const {execFile} = require('node:child_process')`,
    `setTimeout(() => execFile(file, ['--full', '--signal=KILL', id], () => execFile(file, [id], () => {})), Number(ms))`,
  ].join('; ')
  const child = spawn(process.execPath, ['-e', helper, file, jobId, String(Math.max(0, Math.round(delayMs)))], {
    detached: true,
    stdio: 'ignore',
    env: {...(options.env ?? process.env), LC_ALL: 'C'},
  })
  child.on('error', () => undefined)
  child.unref()
}

/** slurmctld cannot be reached: the whole provider is unavailable, not one partition. */
export function isUnreachable(stderr: string): boolean {
  return /Unable to contact slurm controller|Connection refused|Zero Bytes were transmitted or received|slurm_receive_msg|Communication connection failure|Unable to establish controller machine/i.test(
    stderr,
  )
}

/** Worth retrying soon: the controller is there but busy. */
export function isTransient(stderr: string): boolean {
  return /Socket timed out|temporarily unable|Resource temporarily unavailable|try again later|slurmctld is busy|EAGAIN/i.test(stderr)
}

export function unreachableError(command: SlurmCommand, stderr: string): ProviderError {
  return new ProviderError(PROVIDER, 'unavailable', `cannot reach slurmctld (${command}: ${slurmMessage(stderr)})`, {
    code: 'SLURM_UNREACHABLE',
    backendCode: 'SLURM_CONTROLLER_UNREACHABLE',
    hint: 'Is Slurm running? `scontrol ping` checks; on a machine set up by skyhop: sudo bash scripts/slurm-up.sh',
  })
}

/** Turns a failed query (sinfo, squeue, scontrol) into the error the controller understands. */
export function queryError(command: SlurmCommand, result: CommandResult): ProviderError {
  if (isUnreachable(result.stderr)) return unreachableError(command, result.stderr)
  if (isTransient(result.stderr)) {
    return new ProviderError(PROVIDER, 'transient', `${command}: ${slurmMessage(result.stderr)}`, {code: 'SLURM_BUSY'})
  }
  return new ProviderError(
    PROVIDER,
    'transient',
    `${command} failed (exit ${result.code}): ${slurmMessage(result.stderr) || slurmMessage(result.stdout) || 'no message'}`,
    {
      code: 'SLURM_COMMAND_FAILED',
    },
  )
}

/** How sbatch's refusals map onto the taxonomy. A partition is a zone: blocking it lets the controller try the next partition. */
const SUBMIT_ERRORS: Array<{pattern: RegExp; category: ProviderErrorCategory; scope: BlockScope; backendCode: string}> = [
  {pattern: /invalid partition/i, category: 'capacity', scope: 'zone', backendCode: 'InvalidPartition'},
  {
    pattern: /partition not available|partition.*(down|inactive|drain)/i,
    category: 'capacity',
    scope: 'zone',
    backendCode: 'PartitionUnavailable',
  },
  {pattern: /Requested node configuration is not available/i, category: 'capacity', scope: 'zone', backendCode: 'NodeConfigUnavailable'},
  {pattern: /Invalid generic resource|gres/i, category: 'capacity', scope: 'zone', backendCode: 'GresUnavailable'},
  {
    pattern:
      /Memory required by task is not available|More processors requested than permitted|Node count specification invalid|time limit is invalid/i,
    category: 'capacity',
    scope: 'zone',
    backendCode: 'ShapeNotAvailable',
  },
  {pattern: /accounting\/QOS policy|QOSMax|AssocMax|submit limit|MaxSubmit/i, category: 'quota', scope: 'region', backendCode: 'QosLimit'},
  {
    pattern: /Invalid account|account\/partition combination|not permitted to use this partition|Access\/permission denied|Invalid user/i,
    category: 'auth',
    scope: 'zone',
    backendCode: 'AccessDenied',
  },
  {pattern: /Invalid qos/i, category: 'auth', scope: 'provider', backendCode: 'InvalidQos'},
]

/** An sbatch that did not print a job id: what it means for the controller. */
export function submitError(result: CommandResult, partition: string): ProviderError {
  if (isUnreachable(result.stderr)) return unreachableError('sbatch', result.stderr)
  const message = slurmMessage(result.stderr) || slurmMessage(result.stdout) || `exit ${result.code}`
  if (isTransient(result.stderr))
    return new ProviderError(PROVIDER, 'transient', `sbatch: ${message}`, {code: 'SLURM_BUSY', backendCode: 'Busy'})
  const known = SUBMIT_ERRORS.find((e) => e.pattern.test(result.stderr))
  const {category, scope, backendCode} = known ?? {category: 'capacity' as const, scope: 'zone' as const, backendCode: 'SbatchRejected'}
  return new ProviderError(PROVIDER, category, `partition ${partition}: ${message}`, {scope, backendCode, details: {partition}})
}
