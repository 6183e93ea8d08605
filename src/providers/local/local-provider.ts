// The local provider: runs attempts on this machine as real processes, each under the
// runner (src/runner/skyhop-runner.sh) in a session of its own, so the CLI or controller
// that launched it can exit or crash without taking the job along. Everything about an
// attempt lives in `${home}/attempts/<attemptId>`; the runner's files there are the
// truth that poll, logs and signal read. It is skyhop's embedded default: a fresh
// machine with no cloud account can run jobs.
//
// A multi-node job (a gang) runs as N ranks on this machine: N runners over the one
// attempt directory, each in a session of its own and writing into node-<rank>/, with the
// peer list 127.0.0.1 × N and the gang's notice in the attempt's gang-notice file. They
// start all or none; poll, logs, signal and cleanup reach every rank.
//
// A job whose image is a container runs in it under podman or docker, whichever answers here
// (podman first), with this machine's accelerators passed the vendor's way (src/runner/
// container.ts); without a runtime the launch fails (CONTAINER_RUNTIME_MISSING), never runs
// the job outside the image.
import {execFile, spawn} from 'node:child_process'
import {createHash} from 'node:crypto'
import {closeSync, existsSync, linkSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {availableParallelism, hostname} from 'node:os'
import {basename, isAbsolute, join, resolve} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import type {Offer} from '../../model/catalog.js'
import {ProviderError} from '../../errors.js'
import {writeAtomic} from '../../util/write-atomic.js'
import {
  checkpointRunnerConfig,
  holdRunnerConfig,
  jobRunnerConfig,
  noticeSignalRunnerConfig,
  readEvents,
  readExitCode,
  readJobStatus,
  readJobPgid,
  readRunnerPid,
  requestStop,
  runnerScriptPath,
  writeAttemptDir,
  writeTransfers,
  readSamplesFile,
} from '../attempt-dir.js'
import type {RunnerConfig, RunnerEvent} from '../../runner/contract.js'
import {CONTAINER_RUNTIMES, deviceArgs, UnknownVendorError, type ContainerRuntime} from '../../runner/container.js'
import type {Money} from '../../model/job-spec.js'
import type {CheckResult, LaunchRequest, LogOptions, Provider} from '../provider.js'
import type {GangNode, LaunchHandle, PollResult, QueueEstimate} from '../../model/attempt.js'
import {cleanAcceleratorName, detectMachine, type MachineInfo, type ToolRunner} from './machine.js'
import {groupAlive, isRunnerOf, processAlive, processStartTime, sameProcessAlive, sendSignal} from './processes.js'
import {followLogFiles, logSources} from '../attempt-logs.js'
import {gangPoll} from '../gang.js'

export interface LocalProviderOptions {
  /** skyhop's data directory; attempts live in `${home}/attempts/<attemptId>`. */
  home: string
  /** Jobs that may run at once; launches beyond it wait in a queue (or fail, see whenFull). Default: no limit. */
  maxConcurrent?: number
  /** What an hour of this machine costs; default 0 USD. */
  price?: Money
  /** At maxConcurrent: `queue` (default) accepts the launch and starts it when a job ends; `fail` throws a capacity error. */
  whenFull?: 'queue' | 'fail'
  /** Maps a tool's accelerator name to the catalog's canonical one; default: cleanAcceleratorName. */
  canonicalAccelerator?: (rawName: string, vendor: string) => string | null
  /** How vendor tools are run (tests pass recorded outputs); default: execFile. */
  toolRunner?: ToolRunner
  /** The most ranks of one gang this machine runs; default: its CPU count (a core per rank). */
  maxNodes?: number
  /**
   * The container runtime for jobs with a container image: `podman` or `docker` (or a path to
   * one); null: none (a container job fails to launch). Default: the first of podman, docker
   * whose `version` answers (docker's needs its daemon).
   */
  containerRuntime?: string | null
}

/** What the handle of a local attempt carries in `data`; `nodes` only for a gang (rank order). */
interface LocalData {
  attemptDir: string
  /** The runner's pid; a gang's head's. */
  pid: number
  nodes?: LocalNode[]
}

interface LocalNode extends GangNode {
  pid: number
}

/** One runner of an attempt: where its files are, and its pid. A single node's files are the attempt directory's. */
interface Rank {
  rank: number
  dir: string
  pid: number
}

const PROVIDER = 'local'
const REGION = 'local'
const CLAIM_WAIT_MS = 30_000
/** How long a dead claimer's runner gets to show up before its claim counts as abandoned. */
const SPAWN_SETTLE_MS = 2_000
/** The environment the runner itself gets, with the job's secrets; the rest of the job's comes from the env file. */
// The container runtimes' own: a rootless or remote docker (DOCKER_HOST, DOCKER_CONTEXT), docker's
// login (DOCKER_CONFIG), podman remote (CONTAINER_HOST), rootless podman's runtime directory.
const PASSED_ENV = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'LANG',
  'LC_ALL',
  'LC_CTYPE',
  'TZ',
  'TMPDIR',
  'DOCKER_HOST',
  'DOCKER_CONTEXT',
  'DOCKER_CONFIG',
  'CONTAINER_HOST',
  'XDG_RUNTIME_DIR',
]

function fail(
  category: 'user' | 'transient' | 'unavailable' | 'capacity',
  message: string,
  options: {hint?: string; cause?: unknown} = {},
): ProviderError {
  return new ProviderError(PROVIDER, category, message, options)
}

function dataOf(handle: LaunchHandle): LocalData {
  const {attemptDir, pid, nodes} = handle.data as Partial<LocalData>
  if (handle.provider !== PROVIDER || typeof attemptDir !== 'string' || !isAbsolute(attemptDir) || typeof pid !== 'number') {
    throw fail('user', `not a local attempt handle: ${JSON.stringify(handle)}`)
  }
  if (nodes !== undefined && (!Array.isArray(nodes) || nodes.some((n) => typeof n?.pid !== 'number' || typeof n?.rank !== 'number'))) {
    throw fail('user', `not a local gang handle: ${JSON.stringify(handle)}`)
  }
  return {attemptDir, pid, ...(nodes ? {nodes} : {})}
}

/** The runners of an attempt, rank order: one for a single node, every rank's for a gang. */
function ranksOf(data: LocalData): Rank[] {
  if (!data.nodes) return [{rank: 0, dir: data.attemptDir, pid: data.pid}]
  return data.nodes.map((n) => ({rank: n.rank, dir: nodeDir(data.attemptDir, n.rank), pid: n.pid}))
}

const nodeDir = (attemptDir: string, rank: number): string => join(attemptDir, `node-${rank}`)
/** A gang's ranks and pids, written once every rank is started (listOwned and adoption read it). */
const GANG_FILE = 'gang.json'

function writeJsonAtomic(path: string, value: unknown): void {
  writeAtomic(path, JSON.stringify(value) + '\n', {mode: 0o600})
}

function readJson<T>(path: string): T | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T
  } catch {
    return null
  }
}

/** Whether a container runtime answers here (`version` needs docker's daemon too). */
function answers(runtime: string): Promise<boolean> {
  return new Promise((done) => execFile(runtime, ['version'], {timeout: 10_000}, (error) => done(!error)))
}

const first = (events: RunnerEvent[], ...names: string[]): RunnerEvent | undefined => events.find((e) => names.includes(e.event))

/**
 * Whether a process of the attempt's runner still lives (not a zombie): the runner is a
 * `bash skyhop-runner.sh ATTEMPT_DIR`, and so are its background subshells, the job's shell
 * among them, before that shell has written job.pgid. Linux's /proc; elsewhere, false.
 */
function runnerShellAlive(attemptDir: string): boolean {
  let entries: string[]
  try {
    entries = readdirSync('/proc')
  } catch {
    return false
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0')
      if (!argv.includes(attemptDir) || !argv.some((a) => a.endsWith('skyhop-runner.sh'))) continue
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]
      if (state !== 'Z' && state !== 'X') return true
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return false
}

export class LocalProvider implements Provider {
  readonly name = PROVIDER
  readonly maxNodes: number
  private readonly home: string
  private readonly attemptsRoot: string
  private readonly maxConcurrent: number | null
  private readonly price: Money
  private readonly whenFull: 'queue' | 'fail'
  private readonly canonical: (rawName: string, vendor: string) => string | null
  private readonly toolRunner: ToolRunner | undefined
  private machine: Promise<MachineInfo> | null = null
  private readonly containerRuntimeOption: string | null | undefined
  private runtime: Promise<string | null> | null = null

  constructor(options: LocalProviderOptions) {
    if (!options.home || !isAbsolute(options.home)) throw fail('user', `home must be an absolute path, not "${options.home}"`)
    if (options.maxConcurrent !== undefined && (!Number.isInteger(options.maxConcurrent) || options.maxConcurrent < 1)) {
      throw fail('user', `maxConcurrent must be a whole number ≥ 1, not ${options.maxConcurrent}`)
    }
    if (options.maxNodes !== undefined && (!Number.isInteger(options.maxNodes) || options.maxNodes < 1)) {
      throw fail('user', `maxNodes must be a whole number ≥ 1, not ${options.maxNodes}`)
    }
    this.maxNodes = options.maxNodes ?? Math.max(1, availableParallelism())
    this.home = options.home
    this.attemptsRoot = join(options.home, 'attempts')
    this.maxConcurrent = options.maxConcurrent ?? null
    this.price = options.price ?? {amount: 0, currency: 'USD'}
    this.whenFull = options.whenFull ?? 'queue'
    this.canonical = options.canonicalAccelerator ?? ((raw) => cleanAcceleratorName(raw))
    this.toolRunner = options.toolRunner
    this.containerRuntimeOption = options.containerRuntime
  }

  async runsContainers(): Promise<boolean> {
    return (await this.containerRuntime()) !== null
  }

  /** The container runtime to use here, found once: the option, or the first of podman, docker that answers. */
  private containerRuntime(): Promise<string | null> {
    this.runtime ??= (async () => {
      if (this.containerRuntimeOption !== undefined) return this.containerRuntimeOption
      for (const candidate of CONTAINER_RUNTIMES) if (await answers(candidate)) return candidate
      return null
    })()
    return this.runtime
  }

  /** runner.conf's container keys for a job with a container image: the runtime and this machine's devices. */
  private async containerConfig(request: LaunchRequest): Promise<Partial<RunnerConfig>> {
    const image = request.spec.container
    if (!image) return {}
    const runtime = await this.containerRuntime()
    if (runtime === null) {
      throw new ProviderError(
        PROVIDER,
        'user',
        `the job's image ${image.reference} is a container image, but neither podman nor docker runs here`,
        {
          code: 'CONTAINER_RUNTIME_MISSING',
          hint: 'Install podman (Debian: apt-get install podman) or start docker, or set providers.local.container_runtime.',
        },
      )
    }
    const kind = (runtime.split('/').pop() ?? runtime) as ContainerRuntime
    const args: string[] = []
    const acc = request.offer.accelerator
    if (acc) {
      this.machine ??= detectMachine(this.toolRunner)
      const detected = (await this.machine).accelerators.find((a) => this.canonical(a.rawName, a.vendor) === acc.name)
      if (detected) {
        try {
          // The local offer is the machine's devices of that kind, all of them: indices 0..count-1.
          args.push(...deviceArgs(kind, {vendor: detected.vendor, indices: Array.from({length: acc.count}, (_, i) => i)}, existsSync))
        } catch (error) {
          if (error instanceof UnknownVendorError) throw fail('user', `${acc.name}: ${error.message}`)
          throw error
        }
      }
    }
    return {containerImage: image.reference, containerRuntime: runtime, ...(args.length > 0 ? {containerArgs: args} : {})}
  }

  async check(): Promise<CheckResult> {
    return {provider: PROVIDER, ok: true, source: null, message: `this machine (${hostname()})`}
  }

  async liveOffers(): Promise<Offer[]> {
    this.machine ??= detectMachine(this.toolRunner)
    const machine = await this.machine
    const base: Omit<Offer, 'accelerator' | 'instanceType'> = {
      provider: PROVIDER,
      region: REGION,
      zone: null,
      vcpus: machine.vcpus,
      memoryGiB: machine.memoryGiB,
      price: {onDemand: this.price.amount, spot: null, currency: this.price.currency},
      priceStatus: 'list',
      expectedQueueMinutes: this.busySlots() < (this.maxConcurrent ?? Infinity) ? 0 : null,
      preemptionRatePerHour: 0,
      capacity: this.maxConcurrent,
      // max_concurrent is one limit over the whole machine (the runner's slot files), not one
      // per accelerator offer: with two kinds of accelerator a sweep planned each offer to
      // max_concurrent and expected twice the jobs at once that could run (the rest queued in
      // the runner, or failed with when_full: fail). The shared pool tells the planner.
      ...(this.maxConcurrent === null ? {} : {capacityPool: {id: PROVIDER, capacity: this.maxConcurrent}}),
      noticeSeconds: null,
      source: `local: detected on ${hostname()}`,
      asOf: new Date().toISOString().slice(0, 10),
      confidence: 'high',
    }
    const offers: Offer[] = []
    for (const acc of machine.accelerators) {
      const name = this.canonical(acc.rawName, acc.vendor)
      if (name === null) continue
      // Ranks share the machine's devices: a gang has at most one rank per device.
      offers.push({
        ...base,
        instanceType: `local-${acc.count}x${name.replace(/\s+/g, '-')}`,
        accelerator: {name, count: acc.count},
        maxNodes: Math.min(this.maxNodes, acc.count),
      })
    }
    if (offers.length === 0) offers.push({...base, instanceType: 'local', accelerator: null, maxNodes: this.maxNodes})
    return offers
  }

  async estimateQueue(): Promise<QueueEstimate | null> {
    if (this.maxConcurrent === null || this.busySlots() < this.maxConcurrent) {
      return {minutes: 0, source: 'local: a slot is free', confidence: 'high'}
    }
    // Full: the wait is whatever the running jobs have left, which nobody knows here.
    return null
  }

  /**
   * Idempotent: the first launch with a key claims it with an O_EXCL file and records the
   * handle; every later launch with that key gets that handle and starts nothing. A claim
   * whose owner died before starting a runner is abandoned, and the next launch takes the
   * next generation of the claim, so a crash never blocks a key for ever.
   */
  async launch(request: LaunchRequest): Promise<LaunchHandle> {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/.test(request.attemptId)) {
      throw fail('user', `attempt id "${request.attemptId}" cannot name a directory`)
    }
    const attemptDir = join(this.attemptsRoot, request.attemptId)
    const keyDir = join(this.attemptsRoot, '.launch')
    mkdirSync(keyDir, {recursive: true, mode: 0o700})
    const key = createHash('sha256').update(request.idempotencyKey).digest('hex').slice(0, 40)
    const handlePath = join(keyDir, `${key}.handle.json`)

    for (let generation = 0; generation < 1000; generation++) {
      const recorded = readJson<LaunchHandle>(handlePath)
      if (recorded) return recorded
      const claimPath = join(keyDir, `${key}.${generation}.claim`)
      // The claim appears whole: written aside, then linked into place (link fails if the
      // claim exists). Created empty and written after, a claimer killed in between left an
      // empty claim that no one could judge abandoned, and every relaunch waited out
      // CLAIM_WAIT_MS behind it (seen in CI: a recovered job never relaunched).
      // With the claimer's start time: pids are reused (32,768 of them on many machines), and
      // a claim whose dead claimer's pid went to another process must not look held (the
      // chaos suite saw a relaunch wait 2.5 min behind one).
      const aside = `${claimPath}.${process.pid}.tmp`
      writeFileSync(
        aside,
        JSON.stringify({pid: process.pid, startTime: processStartTime(process.pid), attemptDir, at: new Date().toISOString()}),
        {mode: 0o600},
      )
      try {
        linkSync(aside, claimPath)
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST')
          throw fail('transient', `cannot claim launch key: ${(error as Error).message}`, {cause: error})
        const outcome = await this.awaitClaim(claimPath, handlePath)
        if (outcome === 'abandoned') continue
        if (outcome === 'released') {
          generation = -1
          continue
        }
        return outcome
      } finally {
        // The claim is the link; the name aside goes.
        rmSync(aside, {force: true})
      }
      try {
        const handle = await this.start(request, attemptDir)
        writeJsonAtomic(handlePath, handle)
        return handle
      } catch (error) {
        // Nothing runs under this claim: let a retry with the same key launch.
        rmSync(claimPath, {force: true})
        throw error
      }
    }
    throw fail('transient', `launch key ${request.idempotencyKey} has too many abandoned claims`)
  }

  /** Another launch holds the claim: wait for its handle, adopt its runner, or find it abandoned. */
  private async awaitClaim(claimPath: string, handlePath: string): Promise<LaunchHandle | 'abandoned' | 'released'> {
    const deadline = Date.now() + CLAIM_WAIT_MS
    let deadSince: number | null = null
    while (Date.now() < deadline) {
      const recorded = readJson<LaunchHandle>(handlePath)
      if (recorded) return recorded
      if (!existsSync(claimPath)) return 'released'
      const claim = readJson<{pid: number; startTime?: string | null; attemptDir: string}>(claimPath)
      // Unreadable past the settle time: torn, as an older skyhop left a claimer killed between
      // creating the claim and writing it (claims now appear whole).
      const made = claim ? undefined : statSync(claimPath, {throwIfNoEntry: false})
      if (made && Date.now() - made.mtimeMs > SPAWN_SETTLE_MS) return 'abandoned'
      if (claim && !sameProcessAlive(claim.pid, claim.startTime)) {
        const started = this.ranksIn(claim.attemptDir)
        if (started !== null) {
          // The claimer started a runner (every rank of a gang) and died before recording it:
          // adopt it, never start another.
          writeJsonAtomic(handlePath, started.handle)
          return started.handle
        }
        deadSince ??= Date.now()
        if (Date.now() - deadSince > SPAWN_SETTLE_MS) return 'abandoned'
      }
      await sleep(25)
    }
    throw fail('transient', 'another launch with the same key is still starting', {
      hint: 'Retry the launch; it will return the same attempt.',
    })
  }

  private handleFor(attemptDir: string, pid: number, nodes?: LocalNode[]): LaunchHandle {
    const data: LocalData = {attemptDir, pid, ...(nodes ? {nodes} : {})}
    return {provider: PROVIDER, externalId: basename(attemptDir), region: REGION, zone: null, data: {...data}}
  }

  private async start(request: LaunchRequest, attemptDir: string): Promise<LaunchHandle> {
    const nodes = Math.max(1, request.spec.nodes)
    if (readRunnerPid(attemptDir) !== null || existsSync(join(attemptDir, GANG_FILE)) || readRunnerPid(nodeDir(attemptDir, 0)) !== null) {
      throw fail('user', `attempt ${request.attemptId} has already been launched under another idempotency key`)
    }
    if (nodes > this.maxNodes) {
      throw fail('capacity', `a gang of ${nodes} ranks does not fit on this machine (at most ${this.maxNodes})`, {
        hint: 'Lower nodes, or raise providers.local.max_nodes.',
      })
    }
    const gang = nodes > 1
    const container = await this.containerConfig(request)
    // A gang's ranks each work in their own node-<rank>/work unless the job names a workdir
    // (the runner reads a relative workdir under its own directory).
    const workdir = request.spec.workdir ? resolve(request.spec.workdir) : gang ? 'work' : join(attemptDir, 'work')
    const config: RunnerConfig = {
      graceSeconds: request.graceSeconds,
      signal: request.spec.recovery.signal,
      workdir,
      noticeSources: [],
      // A gang's ranks read the shared notice file each tick: twice a second keeps a notice
      // to one rank within half a second of every other.
      pollIntervalSeconds: gang ? 0.5 : 1,
      ...jobRunnerConfig(request.spec),
      ...noticeSignalRunnerConfig(request),
      ...(gang ? {nodeIps: Array.from({length: nodes}, () => '127.0.0.1'), gangNoticeFile: join(attemptDir, 'gang-notice')} : {}),
      ...checkpointRunnerConfig(request.checkpointSync),
      ...holdRunnerConfig(request.hold),
      ...(this.maxConcurrent === null
        ? {}
        : {slotDir: join(this.home, 'local-slots'), slots: this.maxConcurrent, slotWaitSeconds: this.whenFull === 'fail' ? 0 : -1}),
      ...container,
    }
    // Each rank's default notice file is its own (node-<rank>/preempt-notice), unless the job names one.
    const notice = request.env.SKYHOP_PREEMPT_NOTICE ?? (gang ? undefined : join(attemptDir, 'preempt-notice'))
    const env: Record<string, string> = {
      ...request.env,
      SKYHOP_JOB_ID: request.jobId,
      SKYHOP_JOB_NAME: request.jobName,
      SKYHOP_ATTEMPT: String(request.attempt),
      SKYHOP_RESTART_COUNT: String(request.restartCount),
      SKYHOP_CHECKPOINT_DIR: request.checkpointDir,
      SKYHOP_GRACE_SECONDS: String(request.graceSeconds),
      ...(notice === undefined ? {} : {SKYHOP_PREEMPT_NOTICE: notice}),
    }
    // The job's files: and outputs: (their list holds signed URLs: only its owner may read it).
    Object.assign(config, writeTransfers(attemptDir, request.transfers))
    writeAttemptDir(attemptDir, {setup: request.spec.setup, run: request.spec.run, env, config})
    // The default workdir is made here, where it costs a system call, so that the runner need
    // not start mkdir on the way to the job's first line (as it would, with umask 077: 0700).
    if (!gang && !request.spec.workdir) mkdirSync(workdir, {recursive: true, mode: 0o700})
    mkdirSync(request.checkpointDir, {recursive: true})

    if (!gang) {
      const pid = await this.spawnRunner(attemptDir, attemptDir, null, request.secrets)
      const handle = this.handleFor(attemptDir, pid)
      if (this.maxConcurrent !== null && this.whenFull === 'fail') await this.awaitSlot([{rank: 0, dir: attemptDir, pid}], attemptDir)
      return handle
    }
    // All or nothing: a rank that cannot start takes the ones started with it. The ranks
    // start together, so the last one is not kept waiting for the others' spawns.
    const settled = await Promise.allSettled(
      Array.from({length: nodes}, async (_, rank): Promise<Rank> => {
        const dir = nodeDir(attemptDir, rank)
        mkdirSync(dir, {recursive: true, mode: 0o700})
        return {rank, dir, pid: await this.spawnRunner(attemptDir, dir, rank, request.secrets)}
      }),
    )
    const ranks = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []))
    const refused = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected')
    if (refused) {
      await Promise.all(ranks.map((r) => this.cleanupRank(attemptDir, r)))
      rmSync(attemptDir, {recursive: true, force: true})
      const error = refused.reason as unknown
      throw error instanceof ProviderError
        ? new ProviderError(PROVIDER, 'capacity', `started ${ranks.length} of ${nodes} ranks: ${error.message}`, {cause: error})
        : error
    }
    const gangNodes: LocalNode[] = ranks.map((r) => ({rank: r.rank, externalId: String(r.pid), ip: '127.0.0.1', pid: r.pid}))
    writeJsonAtomic(join(attemptDir, GANG_FILE), gangNodes)
    const handle = this.handleFor(attemptDir, ranks[0].pid, gangNodes)
    if (this.maxConcurrent !== null && this.whenFull === 'fail') await this.awaitSlot(ranks, attemptDir)
    return handle
  }

  /**
   * Starts one runner in a session of its own; its stdout and stderr go to runner.log in `logDir`.
   * The job's secrets go into its process environment, which the job inherits: never a file.
   */
  private async spawnRunner(
    attemptDir: string,
    logDir: string,
    rank: number | null,
    secrets: Record<string, string> = {},
  ): Promise<number> {
    const runnerEnv: Record<string, string> = {}
    for (const name of PASSED_ENV) if (process.env[name] !== undefined) runnerEnv[name] = process.env[name]!
    Object.assign(runnerEnv, secrets)
    if (rank !== null) runnerEnv.SKYHOP_RUNNER_NODE_RANK = String(rank)
    const log = openSync(join(logDir, 'runner.log'), 'a', 0o600)
    let child
    try {
      child = spawn('bash', [runnerScriptPath(), attemptDir], {
        detached: true,
        stdio: ['ignore', log, log],
        cwd: attemptDir,
        env: runnerEnv,
      })
    } finally {
      closeSync(log)
    }
    await new Promise<void>((resolveSpawn, rejectSpawn) => {
      child.once('spawn', resolveSpawn)
      child.once('error', (error) => rejectSpawn(fail('unavailable', `cannot start bash: ${error.message}`, {cause: error})))
    })
    child.unref()
    return child.pid!
  }

  /** whenFull=fail: each runner decides at once whether a slot is free; a gang needs one for every rank. */
  private async awaitSlot(ranks: Rank[], attemptDir: string): Promise<void> {
    const deadline = Date.now() + 10_000
    const waiting = new Set(ranks)
    while (Date.now() < deadline) {
      for (const r of [...waiting]) {
        const events = readEvents(r.dir)
        if (first(events, 'slot')) {
          waiting.delete(r)
          continue
        }
        const refused = first(events, 'no-slot', 'error')
        if (refused || !processAlive(r.pid)) {
          // Nothing may run: stop the ranks that got a slot and clear the directory so that a
          // later launch of this attempt can start afresh.
          for (const other of ranks) if (isRunnerOf(other.pid, attemptDir)) sendSignal(other.pid, 'SIGKILL')
          for (const other of ranks) {
            const pgid = readJobPgid(other.dir)
            if (pgid !== null && groupAlive(pgid)) sendSignal(-pgid, 'SIGKILL')
          }
          rmSync(attemptDir, {recursive: true, force: true})
          if (refused?.event === 'error') throw fail('unavailable', `runner refused to start: ${String(refused.message)}`)
          throw fail('capacity', `all ${this.maxConcurrent} local slots are busy`, {
            hint: 'Wait for a local job to end, or raise the local maxConcurrent.',
          })
        }
      }
      if (waiting.size === 0) return
      await sleep(10)
    }
    throw fail('transient', 'the runner did not report a slot decision within 10 s')
  }

  async poll(handles: LaunchHandle[]): Promise<Map<string, PollResult>> {
    const results = new Map<string, PollResult>()
    for (const handle of handles) results.set(handle.externalId, this.pollOne(handle))
    return results
  }

  private pollOne(handle: LaunchHandle): PollResult {
    const data = dataOf(handle)
    const ranks = ranksOf(data)
    if (ranks.length === 1) return this.pollRank(data.attemptDir, ranks[0])
    return gangPoll(ranks.map((r) => this.pollRank(data.attemptDir, r)))
  }

  /** One runner's state from its files: `dir` holds them, `attemptDir` is what the runner was started with. */
  private pollRank(attemptDir: string, {dir, pid}: Rank): PollResult {
    let exitCode = readExitCode(dir)
    const runnerAlive = exitCode === null && isRunnerOf(pid, attemptDir)
    // The runner may have written exit_code and exited between the two reads.
    if (exitCode === null && !runnerAlive) exitCode = readExitCode(dir)
    const events = readEvents(dir)
    const started = first(events, 'setup-start', 'run-start')
    const startedAt = started ? started.ts : null
    const cancel = first(events, 'cancel')
    const notice = first(events, 'notice')

    // `note` says how the end was learned when that is not the usual way.
    const ended = (code: number, how: string, endedAt: string, note: string | null = null): PollResult => {
      const also = note === null ? '' : `; ${note}`
      if (cancel) return {state: 'CANCELLED', exitCode: code, reason: `cancelled; ${how}${also}`, startedAt, endedAt}
      if (notice)
        return {state: 'PREEMPTED', exitCode: code, reason: `preempted (${String(notice.source)}); ${how}${also}`, startedAt, endedAt}
      const pull = first(events, 'image-pull-failed')
      const reason = code === 0 ? note : `${pull ? String(pull.message) : how}${also}`
      return {state: code === 0 ? 'SUCCEEDED' : 'FAILED', exitCode: code, reason, startedAt, endedAt}
    }
    if (exitCode !== null) {
      const exit = first(events, 'exit')
      const endedAt = typeof exit?.endedAt === 'string' ? exit.endedAt : (exit?.ts ?? statSync(join(dir, 'exit_code')).mtime.toISOString())
      return ended(exitCode, exit?.signal ? `killed by ${String(exit.signal)}` : `exit ${exitCode}`, endedAt)
    }
    if (runnerAlive) {
      const stopping = cancel ?? notice
      if (stopping)
        return {
          state: 'RUNNING',
          exitCode: null,
          reason: `stopping (${stopping.event}); SIGKILL at ${String(stopping.killAt)}`,
          startedAt,
          endedAt: null,
          stopping: {kind: cancel ? 'cancel' : 'notice', killAt: typeof stopping.killAt === 'string' ? stopping.killAt : null},
        }
      if (startedAt) return {state: 'RUNNING', exitCode: null, reason: null, startedAt, endedAt: null}
      const queued = first(events, 'slot-wait')
      return {
        state: 'PENDING',
        exitCode: null,
        reason: queued ? `waiting for one of ${this.maxConcurrent} local slots` : 'starting',
        startedAt: null,
        endedAt: null,
      }
    }
    // The runner is gone without an exit code. The job's own status, when it wrote one, is
    // the truth: the job ran to its end, and calling it LOST would run it a second time.
    const status = readJobStatus(dir)
    if (status !== null) {
      const endedAt = statSync(join(dir, 'job.status')).mtime.toISOString()
      const how = status > 128 ? `killed by signal ${status - 128}` : `exit ${status}`
      return ended(status, how, endedAt, "the runner died before the job ended; the job's own status says how it ended")
    }
    // A job still alive in its group is not lost yet: saying so would let the controller
    // start a second copy beside it.
    const pgid = readJobPgid(dir)
    if (pgid !== null && groupAlive(pgid)) {
      return {
        state: 'RUNNING',
        exitCode: null,
        reason: 'the runner is gone; the job is still running unsupervised',
        startedAt,
        endedAt: null,
      }
    }
    // The job may have ended between the two looks above: its status is written before its
    // group goes, so a second look finds it.
    const late = readJobStatus(dir)
    if (late !== null) {
      const endedAt = statSync(join(dir, 'job.status')).mtime.toISOString()
      return ended(
        late,
        late > 128 ? `killed by signal ${late - 128}` : `exit ${late}`,
        endedAt,
        "the runner died before the job ended; the job's own status says how it ended",
      )
    }
    // A runner killed just after it started the job's shell, before that shell wrote
    // job.pgid (its first act): the job is about to run, unseen by the looks above, and
    // its shell still carries the runner's command line (the chaos suite found a job run
    // twice through this window).
    if (pgid === null && runnerShellAlive(dir)) {
      return {
        state: startedAt ? 'RUNNING' : 'PENDING',
        exitCode: null,
        reason: 'the runner is gone; waiting to see whether the job it was starting runs',
        startedAt,
        endedAt: null,
      }
    }
    const error = first(events, 'error', 'no-slot', 'peers-expired')
    const reason =
      error?.event === 'error'
        ? `runner error: ${String(error.message)}`
        : error?.event === 'peers-expired'
          ? `the gang's peer list did not come within ${String(error.timeoutSeconds)} s`
          : error
            ? 'no local slot was free'
            : 'the runner died without recording an exit code'
    return {state: 'LOST', exitCode: null, reason, startedAt, endedAt: null}
  }

  /** The runner's samples.jsonl in the attempt directory (a gang's rank `rank`'s), from byte `offset` on. */
  async usageSamples(handle: LaunchHandle, offset = 0, rank = 0): Promise<{text: string; offset: number} | null> {
    const data = dataOf(handle)
    return readSamplesFile(data.attemptDir, ranksOf(data).length, offset, rank)
  }

  /**
   * output.log line by line; with follow, until the attempt ends or the signal aborts. A
   * gang's head by default, another rank with `node`, or every rank with `node: 'all'`, each
   * line prefixed `[rank N] ` (lines of different ranks in the order they are read).
   */
  async *logs(handle: LaunchHandle, options: LogOptions): AsyncIterable<string> {
    const data = dataOf(handle)
    const ranks = ranksOf(data)
    const sources = logSources(PROVIDER, data.attemptDir, ranks.length, options.node)
    const chosen = options.node === 'all' ? ranks : ranks.filter((r) => r.rank === (options.node ?? 0))
    yield* followLogFiles(sources, {
      follow: options.follow,
      signal: options.signal,
      ended: () => chosen.every((r) => readExitCode(r.dir) !== null || !this.rankAlive(data.attemptDir, r)),
      // Quick at first (someone is waiting for the first line: every 5 ms for half a second,
      // each look an open and a read of files in the page cache), then relaxed.
      idleMs: (n) => (n < 100 ? 5 : n < 130 ? 20 : 100),
      // The runner writes output.log on this machine: a line is read when it is written.
      wakeOnChange: true,
    })
  }

  private rankAlive(attemptDir: string, rank: Rank): boolean {
    if (isRunnerOf(rank.pid, attemptDir)) return true
    const pgid = readJobPgid(rank.dir)
    return pgid !== null && groupAlive(pgid)
  }

  /**
   * cancel or preempt: the runner gets a stop-request and SIGTERM, forwards the job's signal
   * to its process group with the grace, and SIGKILLs it just before the deadline. A preempt
   * takes exactly the path a real interruption takes. Every rank of a gang gets it (they
   * share the stop-request); a preempt to one rank alone reaches the others through the
   * gang's notice file.
   */
  async signal(handle: LaunchHandle, kind: 'cancel' | 'preempt', graceSeconds: number): Promise<void> {
    const data = dataOf(handle)
    const live = ranksOf(data).filter((r) => readExitCode(r.dir) === null)
    if (live.length === 0) return
    requestStop(data.attemptDir, kind, graceSeconds)
    await Promise.all(live.map((r) => this.signalRank(data.attemptDir, r, graceSeconds)))
  }

  private async signalRank(attemptDir: string, {dir, pid}: Rank, graceSeconds: number): Promise<void> {
    // runner.pid appears once the runner's traps are set; before that a signal would kill it.
    const until = Date.now() + 5_000
    while (readRunnerPid(dir) === null && processAlive(pid) && Date.now() < until) await sleep(10)
    if (isRunnerOf(pid, attemptDir) && readRunnerPid(dir) === pid) {
      sendSignal(pid, 'SIGTERM')
      return
    }
    // No runner: stop the job's group ourselves, with a detached timer for the SIGKILL.
    const pgid = readJobPgid(dir)
    if (pgid === null || !groupAlive(pgid)) return
    const conf = readFileSync(join(attemptDir, 'runner.conf'), 'utf8')
    const signal = (/^signal='?(SIG[A-Z0-9]+)'?$/m.exec(conf)?.[1] ?? 'SIGTERM') as NodeJS.Signals
    sendSignal(-pgid, signal)
    spawn('bash', ['-c', 'sleep "$1"; kill -s KILL -- "-$2" 2>/dev/null', 'skyhop-local-kill', String(graceSeconds), String(pgid)], {
      detached: true,
      stdio: 'ignore',
    }).unref()
  }

  /** Nothing of the attempt keeps running (no rank of a gang); its directory (logs, events) stays as the record. */
  async cleanup(handle: LaunchHandle): Promise<void> {
    const data = dataOf(handle)
    await Promise.all(ranksOf(data).map((r) => this.cleanupRank(data.attemptDir, r)))
  }

  private async cleanupRank(attemptDir: string, {dir, pid}: Rank): Promise<void> {
    // The runner first, so that it starts nothing more; then its job, whose group id it
    // may not have recorded yet if it was killed just after starting it.
    const runnerWasAlive = isRunnerOf(pid, attemptDir)
    if (runnerWasAlive) sendSignal(pid, 'SIGKILL')
    let pgid = readJobPgid(dir)
    const until = Date.now() + 500
    while (pgid === null && runnerWasAlive && readExitCode(dir) === null && Date.now() < until) {
      await sleep(20)
      pgid = readJobPgid(dir)
    }
    if (pgid !== null && groupAlive(pgid)) sendSignal(-pgid, 'SIGKILL')
    await this.removeContainer(dir)
  }

  /** The rank's container, if its runner named one: a killed runner cannot remove it itself. */
  private async removeContainer(dir: string): Promise<void> {
    // A runner that wrote exit_code has removed its container already.
    if (readExitCode(dir) !== null || !existsSync(join(dir, 'container.name'))) return
    const name = readFileSync(join(dir, 'container.name'), 'utf8').trim()
    if (name === '') return
    const runtime = await this.containerRuntime()
    if (runtime === null) return
    await new Promise<void>((done) => execFile(runtime, ['rm', '--force', name], {timeout: 30_000}, () => done()))
  }

  /** The runners of the attempt in `attemptDir` from its files: a gang's from gang.json; null when none started. */
  private ranksIn(attemptDir: string): {ranks: Rank[]; handle: LaunchHandle} | null {
    const gang = readJson<LocalNode[]>(join(attemptDir, GANG_FILE))
    if (Array.isArray(gang) && gang.length > 0) {
      const handle = this.handleFor(attemptDir, gang[0].pid, gang)
      return {ranks: ranksOf(dataOf(handle)), handle}
    }
    const pid = readRunnerPid(attemptDir)
    return pid === null ? null : {ranks: [{rank: 0, dir: attemptDir, pid}], handle: this.handleFor(attemptDir, pid)}
  }

  private attemptDirs(): string[] {
    try {
      return readdirSync(this.attemptsRoot)
        .filter((entry) => !entry.startsWith('.'))
        .map((entry) => join(this.attemptsRoot, entry))
    } catch {
      return []
    }
  }

  /** Attempts on this machine that still have a live runner or job (any rank of a gang). */
  async listOwned(): Promise<LaunchHandle[]> {
    const owned: LaunchHandle[] = []
    for (const attemptDir of this.attemptDirs()) {
      const found = this.ranksIn(attemptDir)
      if (found && found.ranks.some((r) => readExitCode(r.dir) === null && this.rankAlive(attemptDir, r))) owned.push(found.handle)
    }
    return owned
  }

  /** Slots held now: one per live runner (a gang's rank) that took one and has not ended. */
  private busySlots(): number {
    if (this.maxConcurrent === null) return 0
    let busy = 0
    for (const attemptDir of this.attemptDirs()) {
      for (const r of this.ranksIn(attemptDir)?.ranks ?? []) {
        if (readExitCode(r.dir) === null && isRunnerOf(r.pid, attemptDir) && first(readEvents(r.dir), 'slot') !== undefined) busy++
      }
    }
    return busy
  }
}
