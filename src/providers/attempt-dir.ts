// Writes the attempt directory the runner reads and reads back what the runner writes
// (src/runner/contract.ts is the spec). Every provider that runs skyhop-runner.sh uses this: the
// local provider on a local path, others before shipping the directory to the host.
// The files are small, so this is synchronous on purpose: a launch can claim, write and
// spawn without yielding in between.
import {closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {BugError, UsageError} from '../errors.js'
import type {JobSpec} from '../model/job-spec.js'
import type {AttemptTransfers, CheckpointSync, ShipObjects} from '../model/checkpoint.js'
import {writeAtomic} from '../util/write-atomic.js'
import {
  COMPAT_NAMES,
  isValidEnvName,
  NOTICE_SOURCES,
  RUNNER_SIGNALS,
  shellQuote,
  type AttemptHold,
  type RunnerConfig,
  type RunnerEvent,
  type StopKind,
} from '../runner/contract.js'

export interface AttemptFiles {
  /** The job's setup script (bash), or null for none. */
  setup: string | null
  /** The job's run script (bash). */
  run: string
  /** Everything the job sees beyond the runner's own environment, SKYHOP_* included. */
  env: Record<string, string>
  config: RunnerConfig
}

/** Variables bash refuses to assign: an env file naming one would break at `source`. */
const BASH_READONLY = new Set(['BASHOPTS', 'BASH_VERSINFO', 'EUID', 'PPID', 'SHELLOPTS', 'UID'])

/** The `env` file: one `export KEY='value'` line per variable. Throws UsageError on a bad name. */
export function renderEnv(env: Record<string, string>): string {
  const lines: string[] = []
  for (const [name, value] of Object.entries(env)) {
    if (!isValidEnvName(name)) {
      throw new UsageError(`"${name}" is not a valid environment variable name`, {
        code: 'ENV_NAME_INVALID',
        hint: 'Use letters, digits and underscores, not starting with a digit.',
      })
    }
    if (BASH_READONLY.has(name)) {
      throw new UsageError(`environment variable ${name} is read-only in bash and cannot be set for a job`, {code: 'ENV_NAME_INVALID'})
    }
    if (typeof value !== 'string') throw new UsageError(`environment variable ${name} must be a string`, {code: 'ENV_VALUE_INVALID'})
    if (value.includes('\0')) {
      throw new UsageError(`environment variable ${name} contains a NUL byte, which no process environment can hold`, {
        code: 'ENV_VALUE_INVALID',
      })
    }
    lines.push(`export ${name}=${shellQuote(value)}`)
  }
  return lines.length === 0 ? '' : lines.join('\n') + '\n'
}

function seconds(field: string, value: number, options: {min?: number; integer?: boolean} = {}): string {
  const min = options.min ?? 0
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || (options.integer && !Number.isInteger(value))) {
    throw new UsageError(
      `runner setting ${field} must be ${options.integer ? 'a whole number' : 'a number'} ≥ ${min}, not ${String(value)}`,
      {
        code: 'RUNNER_CONFIG_INVALID',
      },
    )
  }
  // The runner reads plain decimals with at most millisecond precision; never `1e-7`.
  return Number.isInteger(value) ? String(value) : value.toFixed(3).replace(/0+$/, '').replace(/\.$/, '')
}

function onePath(field: string, value: string): string {
  if (typeof value !== 'string' || value === '' || /[\0\n\r]/.test(value)) {
    throw new UsageError(`runner setting ${field} must be a non-empty path on one line`, {code: 'RUNNER_CONFIG_INVALID'})
  }
  return value
}

/** Normalizes `TERM`, `sigterm` and `SIGTERM` to `SIGTERM`; throws on a signal the runner cannot deliver. */
export function normalizeSignal(signal: string): (typeof RUNNER_SIGNALS)[number] {
  const name = `SIG${String(signal).toUpperCase().replace(/^SIG/, '')}`
  const known = RUNNER_SIGNALS.find((s) => s === name)
  if (!known) {
    throw new UsageError(`signal ${signal} cannot be a job's notice`, {
      code: 'RUNNER_CONFIG_INVALID',
      hint: `Use one of ${RUNNER_SIGNALS.join(', ')}.`,
    })
  }
  return known
}

/** The `runner.conf` file. Throws UsageError on a setting the runner would refuse. */
export function renderRunnerConf(config: RunnerConfig): string {
  const entries: Array<[string, string]> = [
    ['graceSeconds', seconds('graceSeconds', config.graceSeconds)],
    ['signal', normalizeSignal(config.signal)],
    ['workdir', onePath('workdir', config.workdir)],
    ['noticeSources', config.noticeSources.map(checkNoticeSource).join(' ')],
    ['pollIntervalSeconds', seconds('pollIntervalSeconds', config.pollIntervalSeconds, {min: 0.1})],
  ]
  if (config.lingerSeconds !== undefined) entries.push(['lingerSeconds', seconds('lingerSeconds', config.lingerSeconds)])
  if (config.killMarginSeconds !== undefined) entries.push(['killMarginSeconds', seconds('killMarginSeconds', config.killMarginSeconds)])
  if (config.noticeSignalLeadSeconds !== undefined)
    entries.push(['noticeSignalLeadSeconds', seconds('noticeSignalLeadSeconds', config.noticeSignalLeadSeconds)])
  if (config.slotDir !== undefined) entries.push(['slotDir', onePath('slotDir', config.slotDir)])
  if (config.slots !== undefined) entries.push(['slots', seconds('slots', config.slots, {integer: true})])
  if (config.slotWaitSeconds !== undefined) {
    entries.push(['slotWaitSeconds', seconds('slotWaitSeconds', config.slotWaitSeconds, {min: -1, integer: true})])
  }
  if (config.checkpointGet !== undefined) entries.push(['checkpointGet', signedUrl('checkpointGet', config.checkpointGet)])
  if (config.checkpointPut !== undefined) entries.push(['checkpointPut', signedUrl('checkpointPut', config.checkpointPut)])
  if (config.checkpointSyncSeconds !== undefined)
    entries.push(['checkpointSyncSeconds', seconds('checkpointSyncSeconds', config.checkpointSyncSeconds)])
  if ((config.workdirUrl === undefined) !== (config.workdirSha256 === undefined)) {
    throw new UsageError('runner settings workdirUrl and workdirSha256 go together', {code: 'RUNNER_CONFIG_INVALID'})
  }
  if (config.workdirUrl !== undefined) entries.push(['workdirUrl', signedUrl('workdirUrl', config.workdirUrl)])
  if (config.workdirSha256 !== undefined) {
    if (!/^[0-9a-f]{64}$/.test(config.workdirSha256)) {
      throw new UsageError('runner setting workdirSha256 must be 64 lowercase hex digits', {code: 'RUNNER_CONFIG_INVALID'})
    }
    entries.push(['workdirSha256', config.workdirSha256])
  }
  if (config.transfersFile !== undefined && config.transfersUrl !== undefined) {
    throw new UsageError('runner settings transfersFile and transfersUrl exclude each other', {code: 'RUNNER_CONFIG_INVALID'})
  }
  if (config.transfersFile !== undefined) entries.push(['transfersFile', onePath('transfersFile', config.transfersFile)])
  if (config.transfersUrl !== undefined) entries.push(['transfersUrl', signedUrl('transfersUrl', config.transfersUrl)])
  if (config.holdFile !== undefined) entries.push(['holdFile', onePath('holdFile', config.holdFile)])
  if (config.holdUrl !== undefined) entries.push(['holdUrl', signedUrl('holdUrl', config.holdUrl)])
  if (config.holdTimeoutSeconds !== undefined)
    entries.push(['holdTimeoutSeconds', seconds('holdTimeoutSeconds', config.holdTimeoutSeconds, {integer: true})])
  if (config.shipUrl !== undefined) {
    entries.push(['shipUrl', signedUrl('shipUrl', config.shipUrl)])
    if (config.shipSeconds !== undefined) entries.push(['shipSeconds', seconds('shipSeconds', config.shipSeconds, {min: 1, integer: true})])
    if (config.shipSegmentBytes !== undefined) {
      entries.push(['shipSegmentBytes', seconds('shipSegmentBytes', config.shipSegmentBytes, {min: 1000, integer: true})])
    }
  }
  entries.push(...gangEntries(config))
  entries.push(...containerEntries(config))
  if (config.sampleIntervalSeconds !== undefined) {
    const v = config.sampleIntervalSeconds
    if (v !== 0 && !(v >= 0.2)) {
      throw new UsageError(`runner setting sampleIntervalSeconds must be 0 (no samples) or at least 0.2, not ${String(v)}`, {
        code: 'RUNNER_CONFIG_INVALID',
      })
    }
    entries.push(['sampleIntervalSeconds', seconds('sampleIntervalSeconds', v)])
  }
  return entries.map(([key, value]) => `${key}=${shellQuote(value)}`).join('\n') + '\n'
}

/** runner.conf's container keys (none without a container image). */
function containerEntries(config: RunnerConfig): Array<[string, string]> {
  if (config.containerImage === undefined) {
    if (config.containerRuntime !== undefined || config.containerArgs !== undefined) {
      throw new UsageError('runner settings containerRuntime and containerArgs need a containerImage', {code: 'RUNNER_CONFIG_INVALID'})
    }
    return []
  }
  if (!/^[^\s'"\\]{1,512}$/.test(config.containerImage)) {
    throw new UsageError(`runner setting containerImage: "${config.containerImage}" is not an image reference`, {
      code: 'RUNNER_CONFIG_INVALID',
    })
  }
  const entries: Array<[string, string]> = [['containerImage', config.containerImage]]
  if (config.containerRuntime !== undefined) {
    if (!/^(\/[^:\0\n]*\/)?(podman|docker)$/.test(config.containerRuntime)) {
      throw new UsageError(
        `runner setting containerRuntime must be podman or docker (or a path to one), not "${config.containerRuntime}"`,
        {
          code: 'RUNNER_CONFIG_INVALID',
        },
      )
    }
    entries.push(['containerRuntime', config.containerRuntime])
  }
  return entries
}

/** container-args: one argument per line, so none may hold a line break (or a NUL). */
export function renderContainerArgs(args: string[]): string {
  const bad = args.find((a) => typeof a !== 'string' || /[\0\n\r]/.test(a))
  if (bad !== undefined) {
    throw new UsageError(`runner setting containerArgs: ${JSON.stringify(bad)} cannot be one line of container-args`, {
      code: 'RUNNER_CONFIG_INVALID',
    })
  }
  return args.length === 0 ? '' : args.join('\n') + '\n'
}

/** runner.conf's gang keys (none for a single node, so its file stays as it was). */
function gangEntries(config: RunnerConfig): Array<[string, string]> {
  const entries: Array<[string, string]> = []
  const nodes = config.numNodes ?? 1
  if (!Number.isInteger(nodes) || nodes < 1) {
    throw new UsageError(`runner setting numNodes must be a whole number ≥ 1, not ${String(config.numNodes)}`, {
      code: 'RUNNER_CONFIG_INVALID',
    })
  }
  if (config.numNodes !== undefined) entries.push(['numNodes', String(nodes)])
  if (config.nodeRank !== undefined) {
    if (!Number.isInteger(config.nodeRank) || config.nodeRank < 0 || config.nodeRank >= nodes) {
      throw new UsageError(`runner setting nodeRank must be a whole number below numNodes (${nodes}), not ${String(config.nodeRank)}`, {
        code: 'RUNNER_CONFIG_INVALID',
      })
    }
    entries.push(['nodeRank', String(config.nodeRank)])
  }
  if (config.nodeIps !== undefined) {
    const bad = config.nodeIps.find((ip) => typeof ip !== 'string' || !/^[A-Za-z0-9._:%-]{1,253}$/.test(ip))
    if (bad !== undefined)
      throw new UsageError(`runner setting nodeIps: "${String(bad)}" is not an address`, {code: 'RUNNER_CONFIG_INVALID'})
    if (config.nodeIps.length !== nodes) {
      throw new UsageError(`runner setting nodeIps has ${config.nodeIps.length} addresses for ${nodes} nodes`, {
        code: 'RUNNER_CONFIG_INVALID',
      })
    }
    entries.push(['nodeIps', config.nodeIps.join(' ')])
  }
  if (config.nodeIpsFile !== undefined) entries.push(['nodeIpsFile', onePath('nodeIpsFile', config.nodeIpsFile)])
  if (config.nodeIpsUrl !== undefined) entries.push(['nodeIpsUrl', signedUrl('nodeIpsUrl', config.nodeIpsUrl)])
  if (config.peersTimeoutSeconds !== undefined) {
    entries.push(['peersTimeoutSeconds', seconds('peersTimeoutSeconds', config.peersTimeoutSeconds, {integer: true})])
  }
  if (nodes > 1 && config.nodeIps === undefined && config.nodeIpsFile === undefined && config.nodeIpsUrl === undefined) {
    throw new UsageError(`a gang of ${nodes} nodes needs nodeIps, nodeIpsFile or nodeIpsUrl`, {code: 'RUNNER_CONFIG_INVALID'})
  }
  if (config.gangNoticeFile !== undefined) entries.push(['gangNoticeFile', onePath('gangNoticeFile', config.gangNoticeFile)])
  if (config.gangNoticePutUrl !== undefined) entries.push(['gangNoticePutUrl', signedUrl('gangNoticePutUrl', config.gangNoticePutUrl)])
  if (config.gangNoticeGetUrl !== undefined) entries.push(['gangNoticeGetUrl', signedUrl('gangNoticeGetUrl', config.gangNoticeGetUrl)])
  if (config.compat !== undefined && config.compat.length > 0) {
    const bad = config.compat.find((name) => !(COMPAT_NAMES as readonly string[]).includes(name))
    if (bad !== undefined) {
      throw new UsageError(`compat: unknown name "${String(bad)}"`, {
        code: 'RUNNER_CONFIG_INVALID',
        hint: `Known: ${COMPAT_NAMES.join(', ')}.`,
      })
    }
    entries.push(['compat', config.compat.join(' ')])
  }
  if (config.secretNames !== undefined && config.secretNames.length > 0) {
    const bad = config.secretNames.find((name) => !isValidEnvName(name))
    if (bad !== undefined) throw new UsageError(`secretNames: "${bad}" is not a variable name`, {code: 'RUNNER_CONFIG_INVALID'})
    entries.push(['secretNames', config.secretNames.join(' ')])
  }
  return entries
}

/**
 * runner.conf's keys that come from the job itself: the gang's size and the compat aliases
 * (nothing for a single-node job without compat, so its file stays as it was). The
 * provider adds the rank and where the peer list and the gang's notice are.
 */
/** A service replica's notice signal held back until shortly before the kill (LaunchRequest.noticeSignalLeadSeconds). */
export function noticeSignalRunnerConfig(request: {noticeSignalLeadSeconds?: number}): Partial<RunnerConfig> {
  return request.noticeSignalLeadSeconds === undefined ? {} : {noticeSignalLeadSeconds: request.noticeSignalLeadSeconds}
}

export function jobRunnerConfig(spec: Pick<JobSpec, 'nodes' | 'compat' | 'secrets' | 'usage'>): Partial<RunnerConfig> {
  const interval = spec.usage?.sampleIntervalSeconds
  return {
    ...(spec.nodes > 1 ? {numNodes: spec.nodes} : {}),
    ...(spec.compat?.length ? {compat: [...spec.compat]} : {}),
    ...(spec.secrets?.length ? {secretNames: [...spec.secrets]} : {}),
    ...(interval === null || interval === undefined ? {} : {sampleIntervalSeconds: interval}),
  }
}

/**
 * The runner's samples of an attempt on a filesystem this process sees (a gang's rank `rank`
 * writes node-<rank>/samples.jsonl), from byte `offset` on: whole lines only (at most 4 MB of
 * them a call), and the offset to ask from next time. Null when there is no file yet, or no
 * such rank.
 */
export function readSamplesFile(attemptDir: string, numNodes: number, offset = 0, rank = 0): {text: string; offset: number} | null {
  if (!Number.isInteger(rank) || rank < 0 || rank >= Math.max(1, numNodes)) return null
  const path = numNodes > 1 ? join(attemptDir, `node-${rank}`, 'samples.jsonl') : join(attemptDir, 'samples.jsonl')
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch {
    return null
  }
  try {
    const size = fstatSync(fd).size
    const buffer = Buffer.alloc(Math.max(0, Math.min(size - offset, 4 * 1024 * 1024)))
    const read = buffer.length === 0 ? 0 : readSync(fd, buffer, 0, buffer.length, offset)
    // A line the sampler is still writing is left for the next call.
    const end = buffer.subarray(0, read).lastIndexOf(0x0a) + 1
    return {text: buffer.subarray(0, end).toString('utf8'), offset: offset + end}
  } finally {
    closeSync(fd)
  }
}

/** runner.conf's checkpoint store keys for an attempt's signed URLs (none without a store). */
export function checkpointRunnerConfig(sync: {getUrl: string; putUrl: string; syncSeconds: number} | null): Partial<RunnerConfig> {
  return sync === null ? {} : {checkpointGet: sync.getUrl, checkpointPut: sync.putUrl, checkpointSyncSeconds: sync.syncSeconds}
}

/**
 * Writes an attempt's signed list of transfers (the job's files: and outputs:) into its
 * directory on skyhop's own filesystem, readable by its owner only (it holds signed URLs),
 * and returns the runner.conf key that names it; nothing without transfers.
 */
export function writeTransfers(attemptDir: string, transfers: AttemptTransfers | null | undefined): Partial<RunnerConfig> {
  if (!transfers) return {}
  mkdirSync(attemptDir, {recursive: true})
  const file = join(attemptDir, 'transfers')
  writeFileSync(file, transfers.list, {mode: 0o600})
  return {transfersFile: file}
}

/**
 * runner.conf's workdir keys for an attempt on a cloud instance: the archive packed at launch
 * (none when the job has no workdir). Local and Slurm run the directory itself, or a stage of
 * it, and never fetch.
 */
export function workdirRunnerConfig(sync: Pick<CheckpointSync, 'workdir'> | null): Partial<RunnerConfig> {
  return sync?.workdir ? {workdirUrl: sync.workdir.getUrl, workdirSha256: sync.workdir.sha256} : {}
}

/** runner.conf's keys for a cloud attempt that ships its output.log and samples to the job's store (none without). */
export function shipRunnerConfig(ship: ShipObjects | null | undefined): Partial<RunnerConfig> {
  return ship ? {shipUrl: ship.manifestUrl, shipSeconds: ship.shipSeconds, shipSegmentBytes: ship.segmentBytes} : {}
}

/** runner.conf's keys for a held attempt (none when the attempt is not held). */
export function holdRunnerConfig(hold: AttemptHold | null | undefined): Partial<RunnerConfig> {
  if (!hold) return {}
  return 'file' in hold
    ? {holdFile: hold.file, holdTimeoutSeconds: hold.timeoutSeconds}
    : {holdUrl: hold.url, holdTimeoutSeconds: hold.timeoutSeconds}
}

/** One line of runner.conf holds it: an http(s) URL without whitespace. Never echoed: it is a credential. */
function signedUrl(key: string, url: string): string {
  if (!/^https?:\/\/[^\s/?#]+\S*$/.test(url)) throw new UsageError(`${key} is not an http(s) URL`, {code: 'RUNNER_CONFIG_INVALID'})
  return url
}

function checkNoticeSource(entry: string): string {
  const eq = entry.indexOf('=')
  const name = eq === -1 ? entry : entry.slice(0, eq)
  const url = eq === -1 ? null : entry.slice(eq + 1)
  if (!Object.hasOwn(NOTICE_SOURCES, name)) {
    throw new UsageError(`unknown notice source "${name}"`, {
      code: 'RUNNER_CONFIG_INVALID',
      hint: `Known sources: ${Object.keys(NOTICE_SOURCES).join(', ')}.`,
    })
  }
  if (url !== null && !/^https?:\/\/[A-Za-z0-9._:@%-]+(\/[A-Za-z0-9._~/%-]*)?$/.test(url)) {
    throw new UsageError(`notice source ${name}: "${url}" is not a base URL the runner accepts`, {code: 'RUNNER_CONFIG_INVALID'})
  }
  return entry
}

/**
 * Creates (or refreshes) an attempt directory with run.sh, setup.sh, env and runner.conf.
 * Everything is validated before anything is written. The env file never holds a secret
 * (the runner gets those in its environment: RunnerConfig.secretNames); the directory is
 * private to the user all the same, as runner.conf holds signed URLs.
 */
export function writeAttemptDir(dir: string, files: AttemptFiles): void {
  const env = renderEnv(files.env)
  const conf = renderRunnerConf(files.config)
  const containerArgs = files.config.containerArgs === undefined ? null : renderContainerArgs(files.config.containerArgs)
  if (typeof files.run !== 'string') throw new UsageError('a job needs a run script', {code: 'RUN_MISSING'})
  mkdirSync(dir, {recursive: true, mode: 0o700})
  writeAtomic(join(dir, 'run.sh'), files.run, {mode: 0o700})
  if (files.setup === null || files.setup === undefined) rmSync(join(dir, 'setup.sh'), {force: true})
  else writeAtomic(join(dir, 'setup.sh'), files.setup, {mode: 0o700})
  writeAtomic(join(dir, 'env'), env, {mode: 0o600})
  writeAtomic(join(dir, 'runner.conf'), conf, {mode: 0o600})
  if (containerArgs === null) rmSync(join(dir, 'container-args'), {force: true})
  else writeAtomic(join(dir, 'container-args'), containerArgs, {mode: 0o600})
}

function readOptional(path: string): string | null {
  try {
    return readFileSync(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw error
  }
}

/**
 * The runner's events so far, oldest first. A line still being written (no newline yet)
 * is left for the next read.
 */
export function readEvents(dir: string): RunnerEvent[] {
  const text = readOptional(join(dir, 'events.jsonl'))
  if (!text) return []
  const complete = text.endsWith('\n') ? text : text.slice(0, text.lastIndexOf('\n') + 1)
  const events: RunnerEvent[] = []
  for (const line of complete.split('\n')) {
    if (line === '') continue
    try {
      const value = JSON.parse(line) as unknown
      if (typeof value === 'object' && value !== null && typeof (value as RunnerEvent).event === 'string') events.push(value as RunnerEvent)
    } catch {
      // A line torn by a host crash; the others still tell the story.
    }
  }
  return events
}

function readInt(path: string): number | null {
  const text = readOptional(path)
  if (text === null) return null
  const trimmed = text.trim()
  return /^-?\d+$/.test(trimmed) ? Number(trimmed) : null
}

/** The job's exit code once the runner has written it (atomically), else null. */
export function readExitCode(dir: string): number | null {
  return readInt(join(dir, 'exit_code'))
}

/**
 * The job's own exit status (job.status), which the job's wrapper shell writes atomically
 * the moment setup or run ends, in the job's process group and independent of the runner:
 * it is there even when the runner died first. exit_code says more (the runner's epilogue
 * is done), so readers use this only once they know the runner is gone.
 */
export function readJobStatus(dir: string): number | null {
  return readInt(join(dir, 'job.status'))
}

export function readRunnerPid(dir: string): number | null {
  return readInt(join(dir, 'runner.pid'))
}

export function readJobPgid(dir: string): number | null {
  return readInt(join(dir, 'job.pgid'))
}

/**
 * Tells the runner what the next signal it gets means: `cancel` or `preempt`, with the grace
 * in seconds (the runner's graceSeconds when omitted). The caller then signals the runner
 * the backend's way (a local kill, scancel, a pod deletion).
 */
export function requestStop(dir: string, kind: StopKind, graceSeconds?: number): void {
  if (kind !== 'cancel' && kind !== 'preempt') throw new BugError(`unknown stop kind ${String(kind)}`)
  const grace = graceSeconds === undefined ? '' : ` ${seconds('grace', graceSeconds)}`
  writeAtomic(join(dir, 'stop-request'), `${kind}${grace}\n`, {mode: 0o600})
}

/**
 * Path of skyhop-runner.sh. It sits in the runner's folder both in src/ (tsx) and in dist/
 * (the build copies it: `cp src/runner/skyhop-runner.sh dist/runner/`).
 */
export function runnerScriptPath(): string {
  const candidates = [
    new URL('../runner/skyhop-runner.sh', import.meta.url),
    // A dist/ built without the copy step, inside a source checkout.
    new URL('../../src/runner/skyhop-runner.sh', import.meta.url),
  ].map((url) => fileURLToPath(url))
  const found = candidates.find((path) => existsSync(path))
  if (!found) {
    throw new BugError(`skyhop-runner.sh is missing (looked in ${candidates.join(', ')})`, {
      hint: 'The build must copy src/runner/skyhop-runner.sh into dist/runner/.',
    })
  }
  return found
}
