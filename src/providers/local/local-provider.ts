// The local provider: runs attempts on this machine as real processes, each under the
// runner (src/runner/skyhop-runner.sh) in a session of its own, so the CLI or controller
// that launched it can exit or crash without taking the job along. Everything about an
// attempt lives in `${home}/attempts/<attemptId>`; the runner's files there are the
// truth that poll, logs and signal read. It is skyhop's embedded default: a fresh
// machine with no cloud account can run jobs.
import {spawn} from 'node:child_process'
import {createHash} from 'node:crypto'
import {closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeSync} from 'node:fs'
import {hostname} from 'node:os'
import {basename, isAbsolute, join, resolve} from 'node:path'
import {StringDecoder} from 'node:string_decoder'
import {setTimeout as sleep} from 'node:timers/promises'

import type {Offer} from '../../model/catalog.js'
import {ProviderError} from '../../errors.js'
import {writeAtomic} from '../../util/write-atomic.js'
import {
  checkpointRunnerConfig,
  holdRunnerConfig,
  readEvents,
  readExitCode,
  readJobPgid,
  readRunnerPid,
  requestStop,
  runnerScriptPath,
  writeAttemptDir,
} from '../attempt-dir.js'
import type {RunnerConfig, RunnerEvent} from '../../runner/contract.js'
import type {Money} from '../../model/job-spec.js'
import type {CheckResult, LaunchRequest, LogOptions, Provider} from '../provider.js'
import type {LaunchHandle, PollResult, QueueEstimate} from '../../model/attempt.js'
import {cleanAcceleratorName, detectMachine, type MachineInfo, type ToolRunner} from './machine.js'
import {groupAlive, isRunnerOf, processAlive, sendSignal} from './processes.js'

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
}

/** What the handle of a local attempt carries in `data`. */
interface LocalData {
  attemptDir: string
  pid: number
}

const PROVIDER = 'local'
const REGION = 'local'
const CLAIM_WAIT_MS = 30_000
/** How long a dead claimer's runner gets to show up before its claim counts as abandoned. */
const SPAWN_SETTLE_MS = 2_000
/** The environment the runner itself gets; the job's own comes from the env file. */
const PASSED_ENV = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'TMPDIR']

function fail(
  category: 'user' | 'transient' | 'unavailable' | 'capacity',
  message: string,
  options: {hint?: string; cause?: unknown} = {},
): ProviderError {
  return new ProviderError(PROVIDER, category, message, options)
}

function dataOf(handle: LaunchHandle): LocalData {
  const {attemptDir, pid} = handle.data as Partial<LocalData>
  if (handle.provider !== PROVIDER || typeof attemptDir !== 'string' || !isAbsolute(attemptDir) || typeof pid !== 'number') {
    throw fail('user', `not a local attempt handle: ${JSON.stringify(handle)}`)
  }
  return {attemptDir, pid}
}

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

const first = (events: RunnerEvent[], ...names: string[]): RunnerEvent | undefined => events.find((e) => names.includes(e.event))

export class LocalProvider implements Provider {
  readonly name = PROVIDER
  private readonly home: string
  private readonly attemptsRoot: string
  private readonly maxConcurrent: number | null
  private readonly price: Money
  private readonly whenFull: 'queue' | 'fail'
  private readonly canonical: (rawName: string, vendor: string) => string | null
  private readonly toolRunner: ToolRunner | undefined
  private machine: Promise<MachineInfo> | null = null

  constructor(options: LocalProviderOptions) {
    if (!options.home || !isAbsolute(options.home)) throw fail('user', `home must be an absolute path, not "${options.home}"`)
    if (options.maxConcurrent !== undefined && (!Number.isInteger(options.maxConcurrent) || options.maxConcurrent < 1)) {
      throw fail('user', `maxConcurrent must be a whole number ≥ 1, not ${options.maxConcurrent}`)
    }
    this.home = options.home
    this.attemptsRoot = join(options.home, 'attempts')
    this.maxConcurrent = options.maxConcurrent ?? null
    this.price = options.price ?? {amount: 0, currency: 'USD'}
    this.whenFull = options.whenFull ?? 'queue'
    this.canonical = options.canonicalAccelerator ?? ((raw) => cleanAcceleratorName(raw))
    this.toolRunner = options.toolRunner
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
      offers.push({...base, instanceType: `local-${acc.count}x${name.replace(/\s+/g, '-')}`, accelerator: {name, count: acc.count}})
    }
    if (offers.length === 0) offers.push({...base, instanceType: 'local', accelerator: null})
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
      let fd: number
      try {
        fd = openSync(claimPath, 'wx', 0o600)
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
      }
      writeSync(fd, JSON.stringify({pid: process.pid, attemptDir, at: new Date().toISOString()}))
      closeSync(fd)
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
      const claim = readJson<{pid: number; attemptDir: string}>(claimPath)
      if (claim && !processAlive(claim.pid)) {
        const runnerPid = readRunnerPid(claim.attemptDir)
        if (runnerPid !== null) {
          // The claimer started a runner and died before recording it: adopt it, never start another.
          const handle = this.handleFor(claim.attemptDir, runnerPid)
          writeJsonAtomic(handlePath, handle)
          return handle
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

  private handleFor(attemptDir: string, pid: number): LaunchHandle {
    return {provider: PROVIDER, externalId: basename(attemptDir), region: REGION, zone: null, data: {attemptDir, pid} satisfies LocalData}
  }

  private async start(request: LaunchRequest, attemptDir: string): Promise<LaunchHandle> {
    if (readRunnerPid(attemptDir) !== null) {
      throw fail('user', `attempt ${request.attemptId} has already been launched under another idempotency key`)
    }
    const workdir = request.spec.workdir ? resolve(request.spec.workdir) : join(attemptDir, 'work')
    const config: RunnerConfig = {
      graceSeconds: request.graceSeconds,
      signal: request.spec.recovery.signal,
      workdir,
      noticeSources: [],
      pollIntervalSeconds: 1,
      ...checkpointRunnerConfig(request.checkpointSync),
      ...holdRunnerConfig(request.hold),
      ...(this.maxConcurrent === null
        ? {}
        : {slotDir: join(this.home, 'local-slots'), slots: this.maxConcurrent, slotWaitSeconds: this.whenFull === 'fail' ? 0 : -1}),
    }
    const env: Record<string, string> = {
      ...request.env,
      SKYHOP_JOB_ID: request.jobId,
      SKYHOP_JOB_NAME: request.jobName,
      SKYHOP_ATTEMPT: String(request.attempt),
      SKYHOP_RESTART_COUNT: String(request.restartCount),
      SKYHOP_CHECKPOINT_DIR: request.checkpointDir,
      SKYHOP_GRACE_SECONDS: String(request.graceSeconds),
      SKYHOP_PREEMPT_NOTICE: request.env.SKYHOP_PREEMPT_NOTICE ?? join(attemptDir, 'preempt-notice'),
    }
    writeAttemptDir(attemptDir, {setup: request.spec.setup, run: request.spec.run, env, config})
    mkdirSync(request.checkpointDir, {recursive: true})

    const runnerEnv: Record<string, string> = {}
    for (const name of PASSED_ENV) if (process.env[name] !== undefined) runnerEnv[name] = process.env[name]!
    const log = openSync(join(attemptDir, 'runner.log'), 'a', 0o600)
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
    const handle = this.handleFor(attemptDir, child.pid!)
    if (this.maxConcurrent !== null && this.whenFull === 'fail') await this.awaitSlot(attemptDir, child.pid!)
    return handle
  }

  /** whenFull=fail: the runner decides at once whether a slot is free. */
  private async awaitSlot(attemptDir: string, pid: number): Promise<void> {
    const deadline = Date.now() + 10_000
    while (Date.now() < deadline) {
      const events = readEvents(attemptDir)
      if (first(events, 'slot')) return
      const refused = first(events, 'no-slot', 'error')
      if (refused || !processAlive(pid)) {
        // Nothing ran: clear the directory so that a later launch of this attempt can start afresh.
        rmSync(attemptDir, {recursive: true, force: true})
        if (refused?.event === 'error') throw fail('unavailable', `runner refused to start: ${String(refused.message)}`)
        throw fail('capacity', `all ${this.maxConcurrent} local slots are busy`, {
          hint: 'Wait for a local job to end, or raise the local maxConcurrent.',
        })
      }
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
    const {attemptDir, pid} = dataOf(handle)
    let exitCode = readExitCode(attemptDir)
    const runnerAlive = exitCode === null && isRunnerOf(pid, attemptDir)
    // The runner may have written exit_code and exited between the two reads.
    if (exitCode === null && !runnerAlive) exitCode = readExitCode(attemptDir)
    const events = readEvents(attemptDir)
    const started = first(events, 'setup-start', 'run-start')
    const startedAt = started ? started.ts : null
    const cancel = first(events, 'cancel')
    const notice = first(events, 'notice')

    if (exitCode !== null) {
      const exit = first(events, 'exit')
      const endedAt =
        typeof exit?.endedAt === 'string' ? exit.endedAt : (exit?.ts ?? statSync(join(attemptDir, 'exit_code')).mtime.toISOString())
      const how = exit?.signal ? `killed by ${String(exit.signal)}` : `exit ${exitCode}`
      if (cancel) return {state: 'CANCELLED', exitCode, reason: `cancelled; ${how}`, startedAt, endedAt}
      if (notice) return {state: 'PREEMPTED', exitCode, reason: `preempted (${String(notice.source)}); ${how}`, startedAt, endedAt}
      return {state: exitCode === 0 ? 'SUCCEEDED' : 'FAILED', exitCode, reason: exitCode === 0 ? null : how, startedAt, endedAt}
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
    // The runner is gone without an exit code. A job still alive in its group is not lost
    // yet: saying so would let the controller start a second copy beside it.
    const pgid = readJobPgid(attemptDir)
    if (pgid !== null && groupAlive(pgid)) {
      return {
        state: 'RUNNING',
        exitCode: null,
        reason: 'the runner is gone; the job is still running unsupervised',
        startedAt,
        endedAt: null,
      }
    }
    const error = first(events, 'error', 'no-slot')
    const reason =
      error?.event === 'error'
        ? `runner error: ${String(error.message)}`
        : error
          ? 'no local slot was free'
          : 'the runner died without recording an exit code'
    return {state: 'LOST', exitCode: null, reason, startedAt, endedAt: null}
  }

  /** output.log line by line; with follow, until the attempt ends or the signal aborts. */
  async *logs(handle: LaunchHandle, options: LogOptions): AsyncIterable<string> {
    const {attemptDir, pid} = dataOf(handle)
    const path = join(attemptDir, 'output.log')
    const decoder = new StringDecoder('utf8')
    let position = 0
    let pending = ''
    const buffer = Buffer.alloc(64 * 1024)
    let idlePolls = 0
    for (;;) {
      if (options.signal?.aborted) return
      // Decide "finished" before reading, so that everything written before the end is read.
      const finished = !options.follow || readExitCode(attemptDir) !== null || !this.attemptAlive(attemptDir, pid)
      let read = 0
      try {
        const fd = openSync(path, 'r')
        try {
          let n: number
          while ((n = readSync(fd, buffer, 0, buffer.length, position)) > 0) {
            position += n
            read += n
            pending += decoder.write(buffer.subarray(0, n))
            const lines = pending.split('\n')
            pending = lines.pop()!
            for (const line of lines) yield line
            if (options.signal?.aborted) return
          }
        } finally {
          closeSync(fd)
        }
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
      }
      if (read === 0 && finished) break
      if (read === 0) {
        try {
          // Quick at first (someone is waiting for the first line), then relaxed.
          idlePolls++
          await sleep(idlePolls < 40 ? 20 : 100, undefined, {signal: options.signal})
        } catch {
          return
        }
      }
    }
    pending += decoder.end()
    if (pending !== '') yield pending
  }

  private attemptAlive(attemptDir: string, pid: number): boolean {
    if (isRunnerOf(pid, attemptDir)) return true
    const pgid = readJobPgid(attemptDir)
    return pgid !== null && groupAlive(pgid)
  }

  /**
   * cancel or preempt: the runner gets a stop-request and SIGTERM, forwards the job's signal
   * to its process group with the grace, and SIGKILLs it just before the deadline. A preempt
   * takes exactly the path a real interruption takes.
   */
  async signal(handle: LaunchHandle, kind: 'cancel' | 'preempt', graceSeconds: number): Promise<void> {
    const {attemptDir, pid} = dataOf(handle)
    if (readExitCode(attemptDir) !== null) return
    requestStop(attemptDir, kind, graceSeconds)
    // runner.pid appears once the runner's traps are set; before that a signal would kill it.
    const until = Date.now() + 5_000
    while (readRunnerPid(attemptDir) === null && processAlive(pid) && Date.now() < until) await sleep(10)
    if (isRunnerOf(pid, attemptDir) && readRunnerPid(attemptDir) === pid) {
      sendSignal(pid, 'SIGTERM')
      return
    }
    // No runner: stop the job's group ourselves, with a detached timer for the SIGKILL.
    const pgid = readJobPgid(attemptDir)
    if (pgid === null || !groupAlive(pgid)) return
    const conf = readFileSync(join(attemptDir, 'runner.conf'), 'utf8')
    const signal = (/^signal='?(SIG[A-Z0-9]+)'?$/m.exec(conf)?.[1] ?? 'SIGTERM') as NodeJS.Signals
    sendSignal(-pgid, signal)
    spawn('bash', ['-c', 'sleep "$1"; kill -s KILL -- "-$2" 2>/dev/null', 'skyhop-local-kill', String(graceSeconds), String(pgid)], {
      detached: true,
      stdio: 'ignore',
    }).unref()
  }

  /** Nothing of the attempt keeps running; its directory (logs, events) stays as the record. */
  async cleanup(handle: LaunchHandle): Promise<void> {
    const {attemptDir, pid} = dataOf(handle)
    // The runner first, so that it starts nothing more; then its job, whose group id it
    // may not have recorded yet if it was killed just after starting it.
    const runnerWasAlive = isRunnerOf(pid, attemptDir)
    if (runnerWasAlive) sendSignal(pid, 'SIGKILL')
    let pgid = readJobPgid(attemptDir)
    const until = Date.now() + 500
    while (pgid === null && runnerWasAlive && readExitCode(attemptDir) === null && Date.now() < until) {
      await sleep(20)
      pgid = readJobPgid(attemptDir)
    }
    if (pgid !== null && groupAlive(pgid)) sendSignal(-pgid, 'SIGKILL')
  }

  /** Attempts on this machine that still have a live runner or job. */
  async listOwned(): Promise<LaunchHandle[]> {
    let entries: string[]
    try {
      entries = readdirSync(this.attemptsRoot)
    } catch {
      return []
    }
    const owned: LaunchHandle[] = []
    for (const entry of entries) {
      if (entry.startsWith('.')) continue
      const attemptDir = join(this.attemptsRoot, entry)
      const pid = readRunnerPid(attemptDir)
      if (pid === null || readExitCode(attemptDir) !== null) continue
      if (this.attemptAlive(attemptDir, pid)) owned.push(this.handleFor(attemptDir, pid))
    }
    return owned
  }

  /** Attempts holding a slot now: started by a live runner, not yet ended. */
  private busySlots(): number {
    if (this.maxConcurrent === null) return 0
    return this.listOwnedSync().length
  }

  private listOwnedSync(): string[] {
    let entries: string[]
    try {
      entries = readdirSync(this.attemptsRoot)
    } catch {
      return []
    }
    return entries.filter((entry) => {
      if (entry.startsWith('.')) return false
      const attemptDir = join(this.attemptsRoot, entry)
      const pid = readRunnerPid(attemptDir)
      return (
        pid !== null &&
        readExitCode(attemptDir) === null &&
        isRunnerOf(pid, attemptDir) &&
        first(readEvents(attemptDir), 'slot') !== undefined
      )
    })
  }
}
