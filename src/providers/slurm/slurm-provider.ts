// The Slurm provider: partitions are offers (a preemptible partition is spot-like, with
// its GraceTime as the notice), `sbatch --test-only` is the queue estimate, and each
// attempt is one batch job whose only step runs skyhop's runner over an attempt
// directory on a filesystem the compute nodes share. Slurm's own record (squeue,
// scontrol, sacct when accounting is on) and the runner's files together say what
// happened; see states.ts for how they are weighed.
import {execFile} from 'node:child_process'
import {
  accessSync,
  constants as fsConstants,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  closeSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs'
import {userInfo} from 'node:os'
import {delimiter, dirname, isAbsolute, join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import type {Offer} from '../../model/catalog.js'
import type {SkyhopConfig} from '../../config.js'
import {ProviderError} from '../../errors.js'
import {writeAtomic} from '../../util/write-atomic.js'
import {shellQuote} from '../../runner/contract.js'
import {renderContainerDevices, UnknownVendorError} from '../../runner/container.js'
import {
  checkpointRunnerConfig,
  holdRunnerConfig,
  jobRunnerConfig,
  noticeSignalRunnerConfig,
  readEvents,
  readExitCode,
  readJobStatus,
  readRunnerPid,
  requestStop,
  runnerScriptPath,
  writeAttemptDir,
  writeTransfers,
  readSamplesFile,
} from '../attempt-dir.js'
import type {RunnerConfig, RunnerEvent} from '../../runner/contract.js'
import type {JobSpec, Money} from '../../model/job-spec.js'
import type {CheckResult, LaunchRequest, LogOptions, Provider} from '../provider.js'
import type {GangNode, LaunchHandle, PollResult, QueueEstimate} from '../../model/attempt.js'
import {packWorkdir, unpackWorkdir} from '../../util/workdir-pack.js'
import {followLogFiles, logSources} from '../attempt-logs.js'
import {gangPoll} from '../gang.js'
import {renderSecretsObject} from '../vm/boot-script.js'
import {execRunner, queryError, scheduleScancel, submitError, type CommandResult, type SlurmRunner} from './commands.js'
import {cachingRunner, SlurmQueryCache} from './query-cache.js'
import {
  LOOKED_FOR,
  SLURM_CONTAINER_RUNTIMES,
  slurmDeviceSources,
  srunHasPyxis,
  stepWrap,
  wrapsStep,
  type SlurmContainerRuntime,
} from './containers.js'
import {
  decodeWaitStatus,
  isPreemptible,
  parseClusterName,
  parseGres,
  parsePartitions,
  parseSacct,
  parseSbatchParsable,
  parseScontrolJob,
  parseSinfo,
  parseSlurmVersion,
  parseSqueue,
  parseTestOnly,
  SACCT_FORMAT,
  slurmAtLeast,
  SINFO_FORMAT,
  SQUEUE_FORMAT,
  slurmMessage,
  type PartitionInfo,
  type SinfoRow,
  type SqueueRow,
} from './parse.js'
import {
  mapForgotten,
  mapSlurmState,
  SLURM_FINAL_STATES,
  slurmRankResults,
  type MappedState,
  type RunnerObservation,
  type SlurmObservation,
} from './states.js'
import {
  EXPORTED_ENV,
  GANG_NODE_IPS_FILE,
  GANG_NODE_NAMES_FILE,
  minutesUntil,
  renderBatchScript,
  resourceArgs,
  SECRETS_FIFO_FILE,
  sbatchArgs,
  shapeFor,
  slurmJobName,
  slurmTag,
  TAG_PREFIX,
} from './submit.js'

export interface SlurmProviderOptions {
  /**
   * skyhop's data directory. Attempts live in `${home}/slurm/attempts/<attemptId>`, which
   * must be on a filesystem the compute nodes see at the same path (or set attemptsRoot).
   */
  home: string
  /** Where attempt directories go instead, e.g. a shared scratch path. */
  attemptsRoot?: string
  /**
   * Where a job's workdir is staged, as `workdir-SHA256/` (reused by any attempt of the same
   * content), on a filesystem every node sees. Default: `workdir/` in the attempt directory.
   */
  workdirStageDir?: string | null
  /** The offers' region; default: slurm.conf's ClusterName. */
  cluster?: string | null
  /** Only these partitions become offers; default: every visible partition. */
  partitions?: string[] | null
  account?: string | null
  qos?: string | null
  /** Canonical accelerator name → the cluster's GRES name and type, e.g. {"A100-80GB": "gpu:a100"}. */
  gres?: Record<string, string>
  /** Per partition, per node-hour. Default: 0 USD. */
  prices?: Record<string, Money>
  /** Environment of Slurm's commands (e.g. SLURM_CONF) and of the submitted job's exported variables. */
  env?: NodeJS.ProcessEnv
  /** Per-command timeout; default 60 s. */
  commandTimeoutMs?: number
  /** How Slurm's commands run; default: execFile. Tests of parsing replay recorded outputs. */
  runner?: SlurmRunner
  /** Time source for queue estimates. */
  now?: () => Date
  /** After signal(), `scancel` the job once the grace is over (default true). Tests of the runner's own escalation turn it off. */
  hardStopBackstop?: boolean
  /**
   * Keep the answers of read-only cluster queries (ping, sinfo, scontrol show config and
   * partition) for `ttlMs` in files under `dir`, shared by the processes of this home
   * (query-cache.ts). Default: every query asks Slurm.
   */
  queryCache?: {dir: string; ttlMs?: number}
  /**
   * How jobs with a container image run (containers.ts): pyxis, apptainer, singularity, podman
   * or docker; null: none (such jobs are not planned here). Default: found once (containerRuntime()).
   */
  containerRuntime?: SlurmContainerRuntime | null
}

/** The container runtime found for the cluster, or why there is none. */
type RuntimeAnswer = {runtime: SlurmContainerRuntime; reason: null} | {runtime: null; reason: string}

/** How long the runtime found is kept in the query cache: software on a cluster changes rarely. */
const CONTAINER_RUNTIME_TTL_MS = 10 * 60_000

/** How long the Slurm version found is kept in the query cache, as the container runtime. */
const SLURM_VERSION_TTL_MS = 10 * 60_000

/**
 * The first Slurm with `srun --overlap`, through which a running batch job gets its secrets
 * (deliverSecrets). Before it, a step into a running job shares its CPUs or waits for them
 * depending on the cluster's configuration, which skyhop cannot rely on.
 */
export const SLURM_SECRETS_MIN_VERSION = {major: 20, minor: 11} as const

/** What a Slurm attempt's handle carries in `data` (JSON-safe). */
export interface SlurmHandleData {
  attemptDir: string
  partition: string
  preemptible: boolean
  /** The job's comment: how skyhop finds it again. */
  tag: string
  jobName: string
  /** Slurm's restart count when skyhop submitted it; more means Slurm requeued it. */
  restartsAtLaunch: number
  submittedAt: string
  /**
   * A gang (nodes > 1), rank order. The gang is one Slurm job: each node's externalId is
   * the job's id, and its Slurm node name and address are known only once the job runs
   * (the batch script writes them to node-names and node-ips in the attempt directory).
   */
  nodes?: GangNode[]
}

const PROVIDER = 'slurm'
/** Where a gang's runners share a notice (the gang contract's gangNoticeFile). */
const GANG_NOTICE_FILE = 'gang-notice'
const HANDLE_FILE = 'slurm-handle.json'
const LOCK_FILE = '.submit.lock'
/** The accelerators of a podman or docker job, for the runner to find on its node (contract.ts). */
const CONTAINER_DEVICES_FILE = 'container-devices'

/** Written once leftover containers of the attempt have a removal job (reapContainers). */
const REAPED_FILE = 'containers-reaped'
/** The removal job's time limit: `rm --force` takes seconds; Slurm ends a hung one after this. */
const REAP_TIME_LIMIT_MINUTES = 2
const LOCK_WAIT_MS = 30_000
/** Seconds past the grace after which a stopped job is cancelled outright if it still runs. */
const BACKSTOP_SLACK_SECONDS = 2

export class SlurmProvider implements Provider {
  readonly name = PROVIDER
  private readonly attemptsRoot: string
  private readonly options: SlurmProviderOptions
  private readonly run: SlurmRunner
  /** Read-only cluster queries made for planning and checks: answered from the query cache when there is one. */
  private readonly query: SlurmRunner
  private readonly now: () => Date
  private readonly gres: Record<string, string>
  private clusterName: Promise<string> | null = null
  private readonly cache: SlurmQueryCache | null = null
  private runtimeFound: Promise<RuntimeAnswer> | null = null
  private versionFound: Promise<{version: string | null; reason: string | null}> | null = null
  private largestPartition: number | null = null
  /**
   * The secrets of the jobs this process submitted, by Slurm job id, as their batch scripts
   * read them (`NAME=BASE64` lines, then `end`), with the FIFOs already served: held in memory
   * only, and written into a job's FIFO each time it starts (deliverSecrets).
   */
  private readonly secrets = new Map<string, {payload: string; served: Set<string>}>()
  /** Each node's NodeAddr, by node name, as sinfo said it (nodeAddress). */
  private readonly nodeAddrs = new Map<string, string>()

  constructor(options: SlurmProviderOptions) {
    if (!options.home || !isAbsolute(options.home))
      throw new ProviderError(PROVIDER, 'user', `home must be an absolute path, not "${options.home}"`)
    if (options.attemptsRoot !== undefined && !isAbsolute(options.attemptsRoot)) {
      throw new ProviderError(PROVIDER, 'user', `attemptsRoot must be an absolute path, not "${options.attemptsRoot}"`)
    }
    this.options = options
    this.attemptsRoot = options.attemptsRoot ?? join(options.home, 'slurm', 'attempts')
    const run = options.runner ?? execRunner({env: options.env, timeoutMs: options.commandTimeoutMs})
    if (options.queryCache) {
      // Answers are about one cluster: the one SLURM_CONF (or the default) and the configured name point at.
      const slurmConf = options.env?.SLURM_CONF ?? process.env.SLURM_CONF ?? ''
      const cache = new SlurmQueryCache({...options.queryCache, cluster: `${slurmConf}|${options.cluster ?? ''}`})
      this.cache = cache
      const {cached, fresh} = cachingRunner(run, cache)
      this.run = fresh
      this.query = cached
    } else {
      this.run = run
      this.query = run
    }
    this.now = options.now ?? (() => new Date())
    this.gres = {...(options.gres ?? {})}
  }

  /**
   * The provider as skyhop's config describes it (`providers.slurm`), when it should be
   * enabled: always when `enabled` is true, never when false, and when unset only if
   * slurmctld answers here.
   */
  static async fromConfig(
    home: string,
    config: SkyhopConfig['providers']['slurm'],
    env?: NodeJS.ProcessEnv,
  ): Promise<SlurmProvider | null> {
    const prices: Record<string, Money> = {}
    for (const [partition, amount] of Object.entries(config.pricePerHourUsd)) prices[partition] = {amount, currency: 'USD'}
    return SlurmProvider.detect(
      {
        home,
        cluster: config.cluster,
        partitions: config.partitions,
        account: config.account,
        qos: config.qos,
        gres: config.gres,
        prices,
        env,
      },
      config.enabled,
    )
  }

  /** As fromConfig, from options. */
  static async detect(options: SlurmProviderOptions, enabled: boolean | null): Promise<SlurmProvider | null> {
    if (enabled === false) return null
    const provider = new SlurmProvider(options)
    if (enabled === true) return provider
    try {
      return (await provider.check()).ok ? provider : null
    } catch {
      return null
    }
  }

  /**
   * Slurm launches a gang as one job on as many nodes as a partition holds; each
   * partition's offer carries its own limit (Offer.maxNodes, its TotalNodes). This is the
   * largest partition seen so far, and unbounded before the partitions were read (a plan
   * reads them with the offers; sbatch refuses what no partition can hold).
   */
  get maxNodes(): number {
    return this.largestPartition ?? Number.MAX_SAFE_INTEGER
  }

  // ------------------------------------------------------------------ containers

  async runsContainers(): Promise<boolean> {
    return (await this.containerRuntime()).runtime !== null
  }

  async containerUnsupported(): Promise<string | null> {
    return (await this.containerRuntime()).reason
  }

  /**
   * The cluster's container runtime, found once per process and kept in the query cache:
   * pyxis when `srun --help` lists `--container-image`, else the first of apptainer,
   * singularity (on PATH), podman, docker (answering `version`) on this, the submitting
   * machine, whose software the nodes are taken to share (the runner checks again on the node).
   */
  private containerRuntime(): Promise<RuntimeAnswer> {
    this.runtimeFound ??= (async (): Promise<RuntimeAnswer> => {
      const configured = this.options.containerRuntime
      if (configured === null) return {runtime: null, reason: 'providers.slurm.container_runtime is none'}
      if (configured !== undefined) return {runtime: configured, reason: null}
      const kept = this.cache?.getFact('container-runtime', CONTAINER_RUNTIME_TTL_MS) ?? null
      if (kept !== null) {
        if ((SLURM_CONTAINER_RUNTIMES as readonly string[]).includes(kept)) return {runtime: kept as SlurmContainerRuntime, reason: null}
        if (kept === '') return {runtime: null, reason: `no container runtime found: looked for ${LOOKED_FOR}`}
      }
      const found = await this.findContainerRuntime()
      this.cache?.putFact('container-runtime', found ?? '')
      return found === null
        ? {runtime: null, reason: `no container runtime found: looked for ${LOOKED_FOR}`}
        : {runtime: found, reason: null}
    })()
    return this.runtimeFound
  }

  private async findContainerRuntime(): Promise<SlurmContainerRuntime | null> {
    const help = await this.run('srun', ['--help'], {timeoutMs: 15_000}).catch(() => null)
    if (help !== null && srunHasPyxis(`${help.stdout}\n${help.stderr}`)) return 'pyxis'
    const env = this.options.env ?? process.env
    for (const name of ['apptainer', 'singularity'] as const) if (onPath(name, env.PATH ?? '')) return name
    for (const name of ['podman', 'docker'] as const) if (await answers(name, env)) return name
    return null
  }

  // ------------------------------------------------------------------ secrets

  /**
   * Why a job's secrets cannot reach a batch job on this cluster, or null when they can: its
   * Slurm is older than 20.11 (no `srun --overlap`), or `srun --version` did not say which it
   * is. skyhop never falls back to sbatch's environment, which slurmctld keeps on disk.
   */
  async secretsUnsupported(): Promise<string | null> {
    return (await this.slurmVersion()).reason
  }

  /**
   * The cluster's Slurm release from `srun --version` (the client that hands the secrets over),
   * found once per process and kept in the query cache like the container runtime; a failed
   * look-up is not kept.
   */
  private slurmVersion(): Promise<{version: string | null; reason: string | null}> {
    this.versionFound ??= (async () => {
      const min = `${SLURM_SECRETS_MIN_VERSION.major}.${SLURM_SECRETS_MIN_VERSION.minor}`
      const judge = (printed: string) => {
        const version = parseSlurmVersion(printed)
        if (version === null) {
          const said = printed.trim().split('\n')[0]?.slice(0, 120) ?? ''
          return {version: null, reason: `cannot tell this cluster's Slurm release: \`srun --version\` printed "${said}"`}
        }
        if (slurmAtLeast(version, SLURM_SECRETS_MIN_VERSION.major, SLURM_SECRETS_MIN_VERSION.minor))
          return {version: version.text, reason: null}
        return {
          version: version.text,
          reason: `this cluster runs Slurm ${version.text} (\`srun --version\`), which has no \`srun --overlap\` (Slurm ${min} or later): skyhop hands a batch job its secrets through it, and never through sbatch's environment, which slurmctld keeps on disk`,
        }
      }
      const kept = this.cache?.getFact('slurm-version', SLURM_VERSION_TTL_MS) ?? null
      if (kept !== null) return judge(kept)
      let result: CommandResult
      try {
        result = await this.run('srun', ['--version'], {timeoutMs: 15_000})
      } catch (error) {
        this.versionFound = null
        return {version: null, reason: `cannot tell this cluster's Slurm release: ${(error as Error).message}`}
      }
      const printed = `${result.stdout}\n${result.stderr}`.trim()
      if (result.code !== 0) {
        this.versionFound = null
        return {
          version: null,
          reason: `cannot tell this cluster's Slurm release: \`srun --version\` exited ${result.code}: ${slurmMessage(result.stderr)}`,
        }
      }
      const answer = judge(printed)
      if (answer.version !== null) this.cache?.putFact('slurm-version', printed)
      return answer
    })()
    return this.versionFound
  }

  // ------------------------------------------------------------------ check and offers

  async check(): Promise<CheckResult> {
    const reachable = await this.ping()
    if (!reachable.ok) return reachable
    const source = reachable.source
    const [cluster, partitions, containers] = await Promise.all([
      this.cluster(),
      this.partitionsInfo({fresh: false}).catch(() => [] as PartitionInfo[]),
      this.containerRuntime(),
    ])
    const names = partitions.map((p) => `${p.name}${p.state === 'UP' ? '' : ` (${p.state})`}${isPreemptible(p) ? ' [preemptible]' : ''}`)
    // What a job with a container image would run under here (containers.ts).
    const runtime = containers.runtime ?? 'none found'
    return {
      provider: PROVIDER,
      ok: true,
      source,
      message: `cluster ${cluster}; partitions: ${names.join(', ') || 'none'}; container runtime: ${runtime}`,
    }
  }

  /** Whether slurmctld answers (`scontrol ping`, one query): all that enabling the provider needs. */
  async ping(): Promise<CheckResult> {
    const source = this.options.env?.SLURM_CONF ?? process.env.SLURM_CONF ?? 'slurm.conf'
    let ping: CommandResult
    try {
      ping = await this.query('scontrol', ['ping'], {timeoutMs: 15_000})
    } catch (error) {
      return {provider: PROVIDER, ok: false, source: null, message: (error as Error).message}
    }
    if (ping.code !== 0 || !/is UP/.test(ping.stdout)) {
      const said = ping.stdout.split('\n').find((l) => /Slurmctld/.test(l)) ?? slurmMessage(ping.stderr)
      return {
        provider: PROVIDER,
        ok: false,
        source,
        message: `slurmctld is not reachable: ${said.trim() || `scontrol ping exit ${ping.code}`}`,
      }
    }
    return {provider: PROVIDER, ok: true, source, message: 'slurmctld is up'}
  }

  /** Partitions carry the cluster's name as region (unknown until asked, unless configured) and a configured GRES accelerator or none. */
  liveOfferScope(): {regions: readonly string[] | null; accelerators: readonly string[]} {
    return {regions: this.options.cluster ? [this.options.cluster] : null, accelerators: ['', ...Object.keys(this.gres)]}
  }

  async liveOffers(): Promise<Offer[]> {
    const [rows, partitions, cluster] = await Promise.all([this.sinfo(), this.partitionsInfo({fresh: false}), this.cluster()])
    const wanted = this.options.partitions ? new Set(this.options.partitions) : null
    const today = this.now().toISOString().slice(0, 10)
    const offers: Offer[] = []
    for (const p of partitions) {
      if (wanted ? !wanted.has(p.name) : p.hidden) continue
      const mine = rows.filter((r) => r.partition === p.name)
      if (mine.length === 0) continue
      const shape = commonShape(mine)
      const usable = p.state === 'UP' ? mine.filter((r) => usableNodeState(r.state)).reduce((n, r) => n + r.nodes, 0) : 0
      const preemptible = isPreemptible(p)
      const configured = this.options.prices?.[p.name]
      const price = configured ?? {amount: 0, currency: 'USD' as const}
      offers.push({
        provider: PROVIDER,
        region: cluster,
        zone: p.name,
        instanceType: p.name,
        accelerator: this.acceleratorOf(shape.gres),
        vcpus: shape.cpus,
        memoryGiB: Math.round((shape.memoryMB / 1024) * 100) / 100,
        // A preemptible partition has no on-demand market: a `spot: on-demand` job never lands there.
        price: preemptible
          ? {onDemand: null, spot: price.amount, currency: price.currency}
          : {onDemand: price.amount, spot: null, currency: price.currency},
        priceStatus: configured ? 'list' : 'estimate',
        expectedQueueMinutes: null,
        preemptionRatePerHour: null,
        capacity: usable,
        // A gang fits a partition that has its nodes (capacity says how many are usable now).
        ...(p.totalNodes !== null ? {maxNodes: p.totalNodes} : {}),
        noticeSeconds: preemptible ? p.graceSeconds : null,
        source: `slurm: sinfo and scontrol on cluster ${cluster}${configured ? '; price from config' : '; no price configured (free)'}`,
        asOf: today,
        confidence: 'high',
      })
    }
    return offers
  }

  /** Slurm's own start-time estimate for a job of this shape (`sbatch --test-only`). */
  async estimateQueue(spec: JobSpec, offer: Offer): Promise<QueueEstimate | null> {
    await this.requireUsablePartition(offer.instanceType, {fresh: false})
    const shape = shapeFor(spec, offer, {gresByAccelerator: this.gres, account: this.options.account, qos: this.options.qos})
    const result = await this.run('sbatch', [
      '--test-only',
      '--job-name=skyhop-estimate',
      ...resourceArgs(shape),
      '--output=/dev/null',
      '--wrap=true',
    ])
    const parsed = parseTestOnly(result.stderr)
    if (!parsed) {
      if (result.code !== 0) throw submitError(result, offer.instanceType)
      return null
    }
    const until = minutesUntil(parsed.startAt, this.now())
    if (!until) return null
    const preempts = parsed.preempts.length > 0 ? ` by preempting job ${parsed.preempts.join(', ')}` : ''
    if (!until.known) {
      return {
        minutes: until.minutes,
        source: `slurm sbatch --test-only: no start time (running jobs have no time limit)`,
        confidence: 'low',
      }
    }
    return {
      minutes: until.minutes,
      source: `slurm sbatch --test-only: start at ${parsed.startAt} on ${parsed.nodes}${preempts}`,
      confidence: until.minutes === 0 ? 'high' : 'medium',
    }
  }

  // ------------------------------------------------------------------ launch

  /**
   * Idempotent: a launch first looks for the handle it recorded, then for a Slurm job
   * carrying its tag (a launch that died between sbatch and recording the handle), and
   * only then submits. Concurrent launches of one attempt serialize on a lock file.
   */
  async launch(request: LaunchRequest): Promise<LaunchHandle> {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/.test(request.attemptId)) {
      throw new ProviderError(PROVIDER, 'user', `attempt id "${request.attemptId}" cannot name a directory`)
    }
    if (Object.keys(request.secrets ?? {}).length > 0) {
      // Checked before anything is written or submitted: a job that could never get its secrets is not queued.
      const why = await this.secretsUnsupported()
      if (why !== null) throw secretsUnsupportedError(why)
    }
    const attemptDir = join(this.attemptsRoot, request.attemptId)
    const tag = slurmTag(request.attemptId, request.idempotencyKey)
    mkdirSync(attemptDir, {recursive: true, mode: 0o700})
    const recorded = this.recordedHandle(attemptDir, tag)
    if (recorded) return recorded

    const lock = join(attemptDir, LOCK_FILE)
    const deadline = Date.now() + LOCK_WAIT_MS
    for (;;) {
      try {
        const fd = openSync(lock, 'wx', 0o600)
        writeSync(fd, String(process.pid))
        closeSync(fd)
        break
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      }
      const holder = Number(readText(lock)?.trim())
      if (Number.isInteger(holder) && holder > 0 && !pidAlive(holder)) {
        rmSync(lock, {force: true})
        continue
      }
      const other = this.recordedHandle(attemptDir, tag)
      if (other) return other
      if (Date.now() > deadline) {
        throw new ProviderError(PROVIDER, 'transient', `another launch of attempt ${request.attemptId} is still submitting`, {
          hint: 'Retry; it returns the same job.',
        })
      }
      await sleep(50)
    }
    try {
      const again = this.recordedHandle(attemptDir, tag)
      if (again) return again
      const jobName = slurmJobName(request.jobName, request.attempt)
      const existing = await this.findByTag(tag, jobName)
      const handle = existing
        ? await this.handleFor(
            existing.jobId,
            attemptDir,
            existing.partition,
            tag,
            jobName,
            await this.partitionPreemptible(existing.partition),
            Math.max(1, request.spec.nodes),
          )
        : await this.submit(request, attemptDir, tag, jobName)
      writeJsonAtomic(join(attemptDir, HANDLE_FILE), handle)
      return handle
    } finally {
      rmSync(lock, {force: true})
    }
  }

  /**
   * Copies the job's workdir where the compute nodes see it, before sbatch: the launching
   * machine's directory may not be on the cluster's shared filesystem, and a copy keeps the
   * code an attempt runs from changing under it. Packed and unpacked as for a cloud, so the
   * same ignore files apply; under workdirStageDir the copy is named by the archive's sha256
   * and made once (into a temporary name, then renamed, so a half-made stage is never used).
   */
  private async stageWorkdir(workdir: string, attemptDir: string): Promise<string> {
    const packed = await packWorkdir(workdir)
    try {
      const root = this.options.workdirStageDir
      const stage = root ? join(root, `workdir-${packed.sha256}`) : join(attemptDir, 'workdir')
      if (root && existsSync(stage)) return stage
      const tmp = `${stage}.tmp-${process.pid}-${Date.now()}`
      mkdirSync(tmp, {recursive: true})
      try {
        await unpackWorkdir(packed.file, tmp)
        rmSync(stage, {recursive: true, force: true})
        renameSync(tmp, stage)
      } catch (error) {
        rmSync(tmp, {recursive: true, force: true})
        // Another launch may have made the same stage meanwhile: its content is the same.
        if (root && existsSync(stage)) return stage
        throw new ProviderError(PROVIDER, 'user', `cannot stage workdir ${workdir} at ${stage}: ${(error as Error).message}`, {
          code: 'WORKDIR_STAGE_FAILED',
        })
      }
      return stage
    } finally {
      await packed.dispose()
    }
  }

  private async submit(request: LaunchRequest, attemptDir: string, tag: string, jobName: string): Promise<LaunchHandle> {
    const partition = await this.requireUsablePartition(request.offer.instanceType, {fresh: true})
    const preemptible = isPreemptible(partition)
    if (preemptible && !request.spot) {
      throw new ProviderError(
        PROVIDER,
        'capacity',
        `partition ${partition.name} is preemptible (PreemptMode=${partition.preemptMode}) and this attempt asked for on-demand capacity`,
        {
          scope: 'zone',
          backendCode: 'PreemptiblePartition',
        },
      )
    }
    const shape = shapeFor(request.spec, request.offer, {
      gresByAccelerator: this.gres,
      account: this.options.account,
      qos: this.options.qos,
    })
    // Slurm starts a job on all its nodes or not at all, so a gang is all or nothing by
    // itself; a partition that cannot ever hold it would leave it pending for good.
    if (shape.nodes > 1 && partition.totalNodes !== null && partition.totalNodes < shape.nodes) {
      throw new ProviderError(
        PROVIDER,
        'capacity',
        `partition ${partition.name} has ${partition.totalNodes} node(s); the job needs ${shape.nodes}`,
        {
          scope: 'zone',
          backendCode: 'PartitionTooSmall',
          details: {partition: partition.name, nodes: partition.totalNodes},
        },
      )
    }
    const gang = shape.nodes > 1
    // The notice a preempted job gets is the partition's GraceTime, whatever the job file asked for.
    const grace = preemptible ? partition.graceSeconds : request.graceSeconds
    const config: RunnerConfig = {
      graceSeconds: grace,
      signal: request.spec.recovery.signal,
      // A gang's ranks each work in their own node-<rank>/work (the runner reads a relative
      // workdir under its own directory), unless the job has one: then every rank runs in its stage.
      workdir: request.spec.workdir ? await this.stageWorkdir(request.spec.workdir, attemptDir) : gang ? 'work' : join(attemptDir, 'work'),
      noticeSources: [],
      pollIntervalSeconds: 1,
      ...checkpointRunnerConfig(request.checkpointSync),
      ...holdRunnerConfig(request.hold),
      ...jobRunnerConfig(request.spec),
      ...noticeSignalRunnerConfig(request),
      // The batch script writes the peer list before the step starts (renderBatchScript); the
      // runners share a notice through the attempt directory, which every node sees.
      ...(gang ? {nodeIpsFile: join(attemptDir, GANG_NODE_IPS_FILE), gangNoticeFile: join(attemptDir, GANG_NOTICE_FILE)} : {}),
    }
    const env: Record<string, string> = {
      ...request.env,
      SKYHOP_JOB_ID: request.jobId,
      SKYHOP_JOB_NAME: request.jobName,
      SKYHOP_ATTEMPT: String(request.attempt),
      SKYHOP_RESTART_COUNT: String(request.restartCount),
      SKYHOP_CHECKPOINT_DIR: request.checkpointDir,
      SKYHOP_GRACE_SECONDS: String(grace),
    }
    // A container image: wrapping the step (pyxis, apptainer), or the runner's own podman/docker.
    let wrap: {srunOptions: string[]; prefix: string[]} | undefined
    let devices: string | null = null
    const image = request.spec.container ?? null
    if (image !== null) {
      const found = await this.containerRuntime()
      if (found.runtime === null) {
        throw new ProviderError(PROVIDER, 'user', `the job's image ${image.reference} is a container image, but ${found.reason}`, {
          code: 'CONTAINER_RUNTIME_MISSING',
          hint: 'Install apptainer or podman on the nodes (or configure pyxis), or set providers.slurm.container_runtime.',
        })
      }
      if (wrapsStep(found.runtime)) {
        const workdir = isAbsolute(config.workdir ?? '') ? config.workdir! : attemptDir
        try {
          const acc = request.offer.accelerator
          const vendor = acc ? ((await import('../../catalog/accelerators.js')).loadRegistry().resolve(acc.name)?.vendor ?? null) : null
          wrap = stepWrap(found.runtime, image, [attemptDir, workdir, request.checkpointDir], vendor)
        } catch (error) {
          throw new ProviderError(PROVIDER, 'user', (error as Error).message, {code: 'CONTAINER_MOUNT_INVALID'})
        }
      } else {
        config.containerImage = image.reference
        config.containerRuntime = found.runtime
        devices = await this.containerDevices(request, found.runtime, shape)
      }
    }
    // One notice file per rank in a gang (the runner's default, node-<rank>/preempt-notice).
    const notice = request.env.SKYHOP_PREEMPT_NOTICE ?? (gang ? null : join(attemptDir, 'preempt-notice'))
    if (notice !== null) env.SKYHOP_PREEMPT_NOTICE = notice
    // The job's files: and outputs:, on the shared filesystem (their list holds signed URLs: only its owner may read it).
    Object.assign(config, writeTransfers(attemptDir, request.transfers))
    writeAttemptDir(attemptDir, {setup: request.spec.setup, run: request.spec.run, env, config})
    if (devices !== null) writeFileSync(join(attemptDir, CONTAINER_DEVICES_FILE), devices)
    mkdirSync(request.checkpointDir, {recursive: true})
    // The runner travels with the attempt: compute nodes need not see skyhop's install.
    const runnerPath = join(attemptDir, 'skyhop-runner.sh')
    copyFileSync(runnerScriptPath(), runnerPath)
    const hasSecrets = Object.keys(request.secrets ?? {}).length > 0
    const batchScript = join(attemptDir, 'slurm-batch.sh')
    writeFileSync(
      batchScript,
      renderBatchScript({
        attemptId: request.attemptId,
        attemptDir,
        runnerPath,
        cpusPerTask: shape.cpusPerTask,
        nodes: shape.nodes,
        ...(wrap ? {wrap} : {}),
        secrets: hasSecrets,
      }),
      {mode: 0o700},
    )

    const submitEnv = this.options.env ?? process.env
    const args = sbatchArgs({
      shape,
      jobName,
      tag,
      attemptDir,
      batchScript,
      requeue: preemptible,
      // Never the job's secrets: slurmctld keeps a batch job's environment on disk until
      // MinJobAge after it ends. They reach the batch script once it runs (deliverSecrets).
      exportNames: EXPORTED_ENV.filter((n) => submitEnv[n] !== undefined),
    })
    const result = await this.run('sbatch', args)
    const jobId = result.code === 0 ? parseSbatchParsable(result.stdout) : null
    const keep = (id: string) => {
      if (hasSecrets) this.secrets.set(id, {payload: `${renderSecretsObject(request.secrets!)}end\n`, served: new Set()})
    }
    if (jobId === null) {
      // sbatch may have queued the job and failed to say so (a timeout after the RPC): look before giving up.
      const found = await this.findByTag(tag, jobName).catch(() => null)
      if (found) keep(found.jobId)
      if (found) return this.handleFor(found.jobId, attemptDir, found.partition, tag, jobName, preemptible, shape.nodes)
      throw result.code === 0
        ? new ProviderError(PROVIDER, 'transient', `sbatch printed no job id: ${result.stdout.trim().slice(0, 200)}`)
        : submitError(result, partition.name)
    }
    keep(jobId)
    return this.handleFor(jobId, attemptDir, partition.name, tag, jobName, preemptible, shape.nodes)
  }

  /**
   * Writes a started job's secrets into the FIFO its batch script waits on (submit.ts
   * secretsWait), through a step of the job itself: `srun --jobid --overlap` on the node the
   * script runs on, the secrets on the step's stdin, which Slurm carries and stores nowhere
   * (only the step's PATH is exported: never this process's environment). Once per start of
   * the job (a requeued job makes a new FIFO). A failure is tried again at the next poll; a
   * script that hears nothing for SECRETS_WAIT_SECONDS ends, and its attempt is launched again.
   */
  private async deliverSecrets(jobId: string, attemptDir: string): Promise<void> {
    const held = this.secrets.get(jobId)
    if (!held) return
    const named = readText(join(attemptDir, SECRETS_FIFO_FILE))?.trim().split(' ')
    if (!named || named.length !== 2 || held.served.has(named[1])) return
    const [node, fifo] = named
    const result = await this.run(
      'srun',
      [
        `--jobid=${jobId}`,
        '--overlap',
        '--nodes=1',
        '--ntasks=1',
        `--nodelist=${node}`,
        '--export=PATH',
        '--quiet',
        'bash',
        '-c',
        'cat >"$1"',
        'skyhop',
        fifo,
      ],
      {input: held.payload, timeoutMs: 30_000},
    ).catch(() => null)
    if (result?.code === 0) held.served.add(fifo)
  }

  /** A run another process submitted (its controller died): its secrets, from the controller that took it over. */
  supplySecrets(handle: LaunchHandle, secrets: Record<string, string>): void {
    if (handle.provider !== PROVIDER || this.secrets.has(handle.externalId) || Object.keys(secrets).length === 0) return
    this.secrets.set(handle.externalId, {payload: `${renderSecretsObject(secrets)}end\n`, served: new Set()})
  }

  private async handleFor(
    jobId: string,
    attemptDir: string,
    partition: string,
    tag: string,
    jobName: string,
    preemptible: boolean,
    nodes: number,
  ): Promise<LaunchHandle> {
    const data: SlurmHandleData = {
      attemptDir,
      partition,
      preemptible,
      tag,
      jobName,
      restartsAtLaunch: 0,
      submittedAt: this.now().toISOString(),
      ...(nodes > 1 ? {nodes: Array.from({length: nodes}, (_, rank) => ({rank, externalId: jobId, ip: null, slurmNode: null}))} : {}),
    }
    const region = await this.cluster().catch(() => 'slurm')
    return {provider: PROVIDER, externalId: jobId, region, zone: partition, data: data as unknown as Record<string, unknown>}
  }

  private recordedHandle(attemptDir: string, tag: string): LaunchHandle | null {
    const text = readText(join(attemptDir, HANDLE_FILE))
    if (text === null) return null
    let handle: LaunchHandle
    try {
      handle = JSON.parse(text) as LaunchHandle
    } catch {
      return null
    }
    if ((handle.data as Partial<SlurmHandleData>)?.tag !== tag) {
      throw new ProviderError(
        PROVIDER,
        'user',
        `attempt directory ${attemptDir} already belongs to Slurm job ${handle.externalId} with another idempotency key`,
      )
    }
    return handle
  }

  /** A job of ours by its tag, in any state Slurm still remembers. */
  private async findByTag(tag: string, jobName: string): Promise<SqueueRow | null> {
    const result = await this.run('squeue', ['--noheader', '--states=all', `--name=${jobName}`, `--Format=${SQUEUE_FORMAT}`])
    if (result.code !== 0) throw queryError('squeue', result)
    const matches = parseSqueue(result.stdout).filter((r) => r.comment === tag)
    // A job cancelled before it ever ran does not count as "the" launch only if a live one exists.
    return matches.find((r) => !SLURM_FINAL_STATES.has(r.state)) ?? matches[0] ?? null
  }

  // ------------------------------------------------------------------ poll

  /** One squeue call for all handles; scontrol only for finished jobs on preemptible partitions; sacct for jobs Slurm's memory lost. */
  async poll(handles: LaunchHandle[]): Promise<Map<string, PollResult>> {
    const results = new Map<string, PollResult>()
    const ours = handles.filter((h) => h.provider === PROVIDER)
    if (ours.length === 0) return results
    const rows = await this.squeueJobs(ours.map((h) => jobIdOf(h)))
    const missing: LaunchHandle[] = []
    for (const handle of ours) {
      const data = dataOf(handle)
      const row = rows.get(handle.externalId)
      // A row with another tag is another job that reuses the id (the cluster's state was wiped).
      if (!row || (row.comment !== null && row.comment !== data.tag)) {
        missing.push(handle)
        continue
      }
      const seen = observeAttempt(data)
      const runner = seen.attempt
      let preemptTime: string | null = null
      if (
        SLURM_FINAL_STATES.has(row.state) &&
        row.state !== 'PREEMPTED' &&
        data.preemptible &&
        !runner.noticed &&
        !runner.cancelled &&
        runner.stopRequest === null
      ) {
        preemptTime = (await this.scontrolJob(handle.externalId))?.preemptTime ?? null
      }
      const slurm: SlurmObservation = {
        state: row.state,
        reason: row.reason,
        slurmExitCode: row.waitStatus === null || !SLURM_FINAL_STATES.has(row.state) ? null : decodeWaitStatus(row.waitStatus).exitCode,
        restarts: row.restarts,
        preemptTime,
        startedAt: row.startTime,
        endedAt: SLURM_FINAL_STATES.has(row.state) ? row.endTime : null,
      }
      const result = attemptResult(data, mapSlurmState(slurm, runner, data.restartsAtLaunch), seen)
      // Where a running single node is reached (a service's replica is routed there), once its
      // batch script named the node; a node whose address cannot be read yet is asked again next poll.
      const ip = row.state === 'RUNNING' && sizeOf(data) === 1 ? await this.nodeAddress(data.attemptDir) : null
      results.set(handle.externalId, ip === null ? result : {...result, ip})
      if (row.state === 'RUNNING') await this.deliverSecrets(handle.externalId, data.attemptDir)
    }
    if (missing.length > 0) {
      const accounted = await this.sacctJobs(missing.map((h) => jobIdOf(h)))
      for (const handle of missing) {
        const data = dataOf(handle)
        const seen = observeAttempt(data)
        const runner = seen.attempt
        const row = accounted.get(handle.externalId)
        if (row) {
          const slurm: SlurmObservation = {
            state: row.state,
            reason: row.reason,
            slurmExitCode: row.signal ? 128 + row.signal : row.exitCode,
            restarts: 0,
            preemptTime: null,
            startedAt: row.startTime,
            endedAt: row.endTime,
          }
          results.set(handle.externalId, attemptResult(data, mapSlurmState(slurm, runner, 0), seen))
        } else {
          results.set(handle.externalId, attemptResult(data, mapForgotten(runner, handle.externalId), seen))
        }
      }
    }
    return results
  }

  /**
   * The address Slurm itself reaches a single-node attempt's node at (its NodeAddr: an address,
   * or a host name where slurm.conf has one), by the node name its batch script wrote
   * (node-names). Asked of sinfo once per node and remembered; null until the script wrote the
   * name, or when sinfo cannot say.
   */
  private async nodeAddress(attemptDir: string): Promise<string | null> {
    const node = readText(join(attemptDir, GANG_NODE_NAMES_FILE))?.split('\n')[0]?.trim() ?? ''
    if (!/^[A-Za-z0-9_.-]+$/.test(node)) return null
    const known = this.nodeAddrs.get(node)
    if (known !== undefined) return known
    const result = await this.run('sinfo', ['--noheader', '--all', '--Node', `--nodes=${node}`, '--format=%N %o']).catch(() => null)
    if (result === null || result.code !== 0) return null
    const addr = result.stdout
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .find(([name]) => name === node)?.[1]
    // An address or a host name, nothing that would change the URL it is put in.
    if (addr === undefined || !/^[A-Za-z0-9_.:-]+$/.test(addr)) return null
    const ip = addr.includes(':') ? `[${addr}]` : addr
    this.nodeAddrs.set(node, ip)
    return ip
  }

  private async squeueJobs(ids: string[]): Promise<Map<string, SqueueRow>> {
    const result = await this.run('squeue', ['--noheader', '--states=all', `--jobs=${ids.join(',')}`, `--Format=${SQUEUE_FORMAT}`])
    if (result.code !== 0) {
      // Every id past MinJobAge: Slurm says so instead of printing nothing.
      if (/Invalid job id/i.test(result.stderr)) return new Map()
      throw queryError('squeue', result)
    }
    return new Map(parseSqueue(result.stdout).map((r) => [r.jobId, r]))
  }

  private async scontrolJob(id: string): Promise<ReturnType<typeof parseScontrolJob>> {
    const result = await this.run('scontrol', ['show', 'job', '--oneliner', id])
    if (result.code !== 0) return null
    return parseScontrolJob(result.stdout)
  }

  /** Jobs from accounting, when the cluster keeps it; an empty map when it does not. */
  private async sacctJobs(ids: string[]): Promise<Map<string, ReturnType<typeof parseSacct>[number]>> {
    let result: CommandResult
    try {
      result = await this.run('sacct', [
        '--noheader',
        '--parsable2',
        '--allocations',
        `--jobs=${ids.join(',')}`,
        `--format=${SACCT_FORMAT}`,
      ])
    } catch {
      return new Map()
    }
    if (result.code !== 0) return new Map()
    return new Map(parseSacct(result.stdout).map((r) => [r.jobId, r]))
  }

  // ------------------------------------------------------------------ logs

  /** The runner's samples.jsonl in the shared attempt directory (a gang's rank `rank`'s), from byte `offset` on. */
  async usageSamples(handle: LaunchHandle, offset = 0, rank = 0): Promise<{text: string; offset: number} | null> {
    const data = dataOf(handle)
    return readSamplesFile(data.attemptDir, sizeOf(data), offset, rank)
  }

  /**
   * output.log (setup and run, as the runner wrote it), following until the attempt ends.
   * A gang's: the head's by default, rank `options.node`, or every rank's with a `[rank N] `
   * prefix (all on the shared attempt directory).
   */
  async *logs(handle: LaunchHandle, options: LogOptions): AsyncIterable<string> {
    const data = dataOf(handle)
    const size = sizeOf(data)
    const sources = logSources(PROVIDER, data.attemptDir, size, options.node)
    const ranks = options.node === 'all' ? Array.from({length: size}, (_, r) => r) : [options.node ?? 0]
    let lastCheck = 0
    let ended = false
    yield* followLogFiles(sources, {
      follow: options.follow,
      signal: options.signal,
      ended: async () => {
        if (ended) return true
        if (ranks.every((r) => readExitCode(rankDir(data, r)) !== null)) return (ended = true)
        if (Date.now() - lastCheck > 2000) {
          lastCheck = Date.now()
          const r = (await this.poll([handle]).catch(() => null))?.get(handle.externalId)
          if (r && ['SUCCEEDED', 'FAILED', 'PREEMPTED', 'CANCELLED', 'LOST'].includes(r.state)) ended = true
        }
        return ended
      },
    })
  }

  // ------------------------------------------------------------------ signal and cleanup

  /**
   * cancel or preempt: the runner gets a stop-request, then SIGTERM through Slurm
   * (`scancel --signal=TERM`, which reaches the tasks of the job's steps, where the runner
   * runs); it forwards the job's signal and SIGKILLs the job at the end of the grace, and a
   * detached `scancel` a few seconds later makes sure of it even if the runner cannot. A job
   * that has not started yet is simply cancelled: there is nobody to warn.
   *
   * Slurm delivers a step signal to every process of the step, so the job itself gets this
   * SIGTERM at the same moment as the runner (and the runner's own signal just after).
   */
  async signal(handle: LaunchHandle, kind: 'cancel' | 'preempt', graceSeconds: number): Promise<void> {
    const data = dataOf(handle)
    const id = jobIdOf(handle)
    const row = (await this.squeueJobs([id])).get(id)
    if (!row || (row.comment !== null && row.comment !== data.tag) || SLURM_FINAL_STATES.has(row.state)) return
    requestStop(data.attemptDir, kind, graceSeconds)
    // A gang's notice carries one deadline: written before any rank hears the signal, it is
    // the earliest each rank sees, so all of them stop by it (not by their own now + grace,
    // a few ms apart). Written as a rank publishes it: ms since the epoch.
    if (kind === 'preempt' && sizeOf(data) > 1) {
      writeAtomic(join(data.attemptDir, GANG_NOTICE_FILE), `${this.now().getTime() + Math.round(graceSeconds * 1000)}\n`, {mode: 0o600})
    }
    // A gang's runners all run in one step: any of them started means the step did. The
    // scancel below signals every task of every step of the job, on every node.
    const anyRunner = Array.from({length: sizeOf(data)}, (_, r) => readRunnerPid(rankDir(data, r))).some((pid) => pid !== null)
    const started = anyRunner && ['RUNNING', 'SUSPENDED', 'STOPPED', 'SIGNALING'].includes(row.state)
    const result = started ? await this.run('scancel', ['--signal=TERM', id]) : await this.run('scancel', [id])
    if (result.code !== 0 && !/already completing|completed|Invalid job id/i.test(result.stderr)) throw queryError('scancel', result)
    // SIGKILL after the grace, whatever becomes of the runner: Slurm's own cancel a little later.
    if (started && this.options.hardStopBackstop !== false)
      scheduleScancel(id, (graceSeconds + BACKSTOP_SLACK_SECONDS) * 1000, {env: this.options.env})
  }

  /** Nothing of the attempt stays queued or running (a job Slurm requeued included). The attempt directory stays as the record. */
  async cleanup(handle: LaunchHandle): Promise<void> {
    const data = dataOf(handle)
    const id = jobIdOf(handle)
    this.secrets.delete(id)
    const row = (await this.squeueJobs([id])).get(id)
    if (!row || (row.comment !== null && row.comment !== data.tag) || SLURM_FINAL_STATES.has(row.state)) {
      await this.reapContainers(data)
      return
    }
    // A gang still running after one rank failed: its other runners hear Slurm's SIGTERM as
    // the cancel it is, not as a preemption notice (and the failed rank's story stands).
    if (sizeOf(data) > 1 && readText(join(data.attemptDir, 'stop-request')) === null) requestStop(data.attemptDir, 'cancel', 0)
    const result = await this.run('scancel', [id])
    if (result.code !== 0 && !/already completing|completed|Invalid job id/i.test(result.stderr)) throw queryError('scancel', result)
    await this.reapContainers(data)
  }

  /**
   * container-devices for a podman or docker job with accelerators: which devices are the
   * job's is Slurm's choice on each node, so the runner reads them there (slurmDeviceSources)
   * and passes them through the vendor's device map. None for a job without accelerators.
   */
  private async containerDevices(
    request: LaunchRequest,
    runtime: 'podman' | 'docker',
    shape: {gres: string | null; nodes: number},
  ): Promise<string | null> {
    const acc = request.offer.accelerator
    if (!acc || acc.count < 1 || shape.gres === null) return null
    const vendor = (await import('../../catalog/accelerators.js')).loadRegistry().resolve(acc.name)?.vendor ?? null
    try {
      if (vendor === null) throw new UnknownVendorError(`no vendor is known for accelerator ${acc.name}`)
      return renderContainerDevices(runtime, vendor, slurmDeviceSources(vendor, shape.gres, shape.nodes))
    } catch (error) {
      if (error instanceof UnknownVendorError)
        throw new ProviderError(PROVIDER, 'user', `${acc.name}: ${error.message}`, {code: 'CONTAINER_DEVICES_UNKNOWN'})
      throw error
    }
  }

  /**
   * A podman or docker container outlives a runner that Slurm killed: its monitor (conmon)
   * leaves the step's process tree, so Slurm's SIGKILL never reaches it (proctrack/linuxproc;
   * under proctrack/cgroup podman moves it out of the job's cgroup). Each rank that named a
   * container and wrote no exit_code gets it removed by a one-line job pinned to its node,
   * which Slurm starts once the node is free of the attempt's own job. Once per attempt.
   */
  private async reapContainers(data: SlurmHandleData): Promise<void> {
    const marker = join(data.attemptDir, REAPED_FILE)
    if (existsSync(marker)) return
    const runtime = /^containerRuntime='?((?:\/[^:'\n]*\/)?(?:podman|docker))'?$/m.exec(
      readText(join(data.attemptDir, 'runner.conf')) ?? '',
    )?.[1]
    if (!runtime) return
    const nodes = readText(join(data.attemptDir, GANG_NODE_NAMES_FILE))?.split('\n') ?? []
    const byNode = new Map<string, string[]>()
    for (let rank = 0; rank < sizeOf(data); rank++) {
      const dir = sizeOf(data) > 1 ? join(data.attemptDir, `node-${rank}`) : data.attemptDir
      const name = readText(join(dir, 'container.name'))?.trim() ?? ''
      const node = nodes[rank]?.trim() ?? ''
      if (!/^[A-Za-z0-9_.-]+$/.test(name) || readExitCode(dir) !== null || !/^[A-Za-z0-9_.-]+$/.test(node)) continue
      byNode.set(node, [...(byNode.get(node) ?? []), name])
    }
    for (const [node, names] of byNode) {
      const result = await this.run('sbatch', [
        '--parsable',
        `--job-name=skyhop-reap-${data.jobName}`.slice(0, 100),
        `--partition=${data.partition}`,
        `--nodelist=${node}`,
        '--nodes=1',
        '--ntasks=1',
        '--no-requeue',
        // A runtime that hangs (a lock a killed client held) must not hold the node for good.
        `--time=${REAP_TIME_LIMIT_MINUTES}`,
        '--output=/dev/null',
        `--wrap=${[runtime, 'rm', '--force', ...names].map(shellQuote).join(' ')} >/dev/null 2>&1; true`,
      ])
      if (result.code !== 0) throw submitError(result, data.partition)
    }
    writeAtomic(marker, `${[...byNode.keys()].join('\n')}\n`)
  }

  /** Live Slurm jobs of this user that carry skyhop's tag. */
  async listOwned(): Promise<LaunchHandle[]> {
    const result = await this.run('squeue', ['--noheader', `--user=${userInfo().username}`, `--Format=${SQUEUE_FORMAT}`])
    if (result.code !== 0) throw queryError('squeue', result)
    const owned: LaunchHandle[] = []
    for (const row of parseSqueue(result.stdout)) {
      if (!row.comment?.startsWith(TAG_PREFIX) || SLURM_FINAL_STATES.has(row.state)) continue
      const attemptDir = row.stdout ? dirname(row.stdout) : null
      const recorded = attemptDir ? readText(join(attemptDir, HANDLE_FILE)) : null
      if (recorded) {
        try {
          owned.push(JSON.parse(recorded) as LaunchHandle)
          continue
        } catch {
          // fall through: rebuild it from what Slurm says
        }
      }
      if (attemptDir)
        owned.push(
          await this.handleFor(
            row.jobId,
            attemptDir,
            row.partition,
            row.comment,
            '',
            await this.partitionPreemptible(row.partition),
            gangSizeOf(attemptDir),
          ),
        )
    }
    return owned
  }

  // ------------------------------------------------------------------ cluster facts

  private cluster(): Promise<string> {
    if (this.options.cluster) return Promise.resolve(this.options.cluster)
    this.clusterName ??= this.query('scontrol', ['show', 'config']).then((r) => {
      if (r.code !== 0) {
        this.clusterName = null
        throw queryError('scontrol', r)
      }
      return parseClusterName(r.stdout) ?? 'slurm'
    })
    return this.clusterName
  }

  private async sinfo(): Promise<SinfoRow[]> {
    // --all: a Hidden partition named in config is still an offer (non-operators do not see it otherwise).
    const result = await this.query('sinfo', ['--noheader', '--all', `--format=${SINFO_FORMAT}`])
    if (result.code !== 0) throw queryError('sinfo', result)
    return parseSinfo(result.stdout)
  }

  /** Partitions as Slurm says now (`fresh`, for launches), or as kept for a few seconds (planning, checks). */
  private async partitionsInfo({fresh}: {fresh: boolean}): Promise<PartitionInfo[]> {
    const result = await (fresh ? this.run : this.query)('scontrol', ['show', 'partition', '--oneliner', '--all'])
    if (result.code !== 0) throw queryError('scontrol', result)
    const partitions = parsePartitions(result.stdout)
    for (const p of partitions) if (p.totalNodes !== null) this.largestPartition = Math.max(this.largestPartition ?? 0, p.totalNodes)
    return partitions
  }

  private async partitionPreemptible(name: string): Promise<boolean> {
    const p = (await this.partitionsInfo({fresh: true}).catch(() => [] as PartitionInfo[])).find((x) => x.name === name)
    return p ? isPreemptible(p) : false
  }

  /** The partition, if jobs submitted to it can start; else the capacity error that blocks it (as a zone). */
  private async requireUsablePartition(name: string, {fresh}: {fresh: boolean}): Promise<PartitionInfo> {
    const partitions = await this.partitionsInfo({fresh})
    const p = partitions.find((x) => x.name === name)
    if (!p) {
      throw new ProviderError(PROVIDER, 'capacity', `no partition named ${name} on this cluster`, {
        scope: 'zone',
        backendCode: 'InvalidPartition',
        details: {partition: name},
        hint: `Partitions here: ${partitions.map((x) => x.name).join(', ') || 'none'}.`,
      })
    }
    // A DOWN partition accepts jobs and never starts them; skyhop would rather try elsewhere.
    if (p.state !== 'UP') {
      throw new ProviderError(PROVIDER, 'capacity', `partition ${name} is ${p.state}`, {
        scope: 'zone',
        backendCode: `Partition${p.state.charAt(0)}${p.state.slice(1).toLowerCase()}`,
        details: {partition: name, state: p.state},
      })
    }
    return p
  }

  private acceleratorOf(gresText: string): Offer['accelerator'] {
    for (const entry of parseGres(gresText)) {
      for (const [canonical, gres] of Object.entries(this.gres)) {
        const [name, type] = gres.split(':')
        if (entry.name === name && (type === undefined || type === entry.type)) return {name: canonical, count: entry.count}
      }
    }
    return null
  }
}

// ------------------------------------------------------------------ helpers

function dataOf(handle: LaunchHandle): SlurmHandleData {
  const d = handle.data as Partial<SlurmHandleData>
  if (handle.provider !== PROVIDER || typeof d.attemptDir !== 'string' || !isAbsolute(d.attemptDir) || typeof d.tag !== 'string') {
    throw new ProviderError(PROVIDER, 'user', `not a Slurm attempt handle: ${JSON.stringify(handle)}`)
  }
  return {
    attemptDir: d.attemptDir,
    partition: d.partition ?? handle.zone ?? '',
    preemptible: d.preemptible === true,
    tag: d.tag,
    jobName: d.jobName ?? '',
    restartsAtLaunch: typeof d.restartsAtLaunch === 'number' ? d.restartsAtLaunch : 0,
    submittedAt: d.submittedAt ?? '',
    ...(Array.isArray(d.nodes) && d.nodes.length > 1 ? {nodes: d.nodes} : {}),
  }
}

/** How many nodes the attempt's gang has (1: not a gang). */
function sizeOf(data: SlurmHandleData): number {
  return data.nodes?.length ?? 1
}

/** Where rank `rank`'s runner writes its files: node-<rank>/ in a gang, the attempt directory itself otherwise. */
function rankDir(data: SlurmHandleData, rank: number): string {
  return sizeOf(data) > 1 ? join(data.attemptDir, `node-${rank}`) : data.attemptDir
}

/** The gang's size as runner.conf says (1 without numNodes): for a handle rebuilt from Slurm's record alone. */
function gangSizeOf(attemptDir: string): number {
  const m = /^numNodes='?(\d+)'?$/m.exec(readText(join(attemptDir, 'runner.conf')) ?? '')
  return m ? Math.max(1, Number(m[1])) : 1
}

function jobIdOf(handle: LaunchHandle): string {
  if (!/^\d+$/.test(handle.externalId)) throw new ProviderError(PROVIDER, 'user', `"${handle.externalId}" is not a Slurm job id`)
  return handle.externalId
}

const firstEvent = (events: RunnerEvent[], ...names: string[]): RunnerEvent | undefined => events.find((e) => names.includes(e.event))

/** What the runner wrote so far. */
export function observeRunner(attemptDir: string, runnerDir: string = attemptDir): RunnerObservation {
  const exitCode = readExitCode(runnerDir)
  const jobStatus = exitCode === null ? readJobStatus(runnerDir) : null
  const events = readEvents(runnerDir)
  // The stop request is the attempt's, read by every rank of a gang.
  const request = readText(join(attemptDir, 'stop-request'))?.trim().split(/\s+/)[0]
  const started = firstEvent(events, 'setup-start', 'run-start')
  const exit = firstEvent(events, 'exit')
  const stop = firstEvent(events, 'notice', 'cancel')
  return {
    exitCode,
    stopRequest: request === 'cancel' || request === 'preempt' ? request : null,
    cancelled: firstEvent(events, 'cancel') !== undefined,
    noticed: firstEvent(events, 'notice') !== undefined,
    startedAt: started?.ts ?? null,
    endedAt: exitCode === null ? null : typeof exit?.endedAt === 'string' ? exit.endedAt : (exit?.ts ?? null),
    stoppedAt: stop?.ts ?? null,
    jobStatus,
    jobStatusAt: jobStatus === null ? null : (mtimeOf(join(runnerDir, 'job.status')) ?? null),
  }
}

/**
 * What the runners of an attempt wrote: each rank's files, and the attempt's as one runner
 * (the head's, with every rank's notices and cancels: a notice at any rank is the gang's).
 */
function observeAttempt(data: SlurmHandleData): {attempt: RunnerObservation; ranks: RunnerObservation[]} {
  const size = sizeOf(data)
  if (size === 1) {
    const one = observeRunner(data.attemptDir)
    return {attempt: one, ranks: [one]}
  }
  const ranks = Array.from({length: size}, (_, rank) => observeRunner(data.attemptDir, rankDir(data, rank)))
  const gangNotice = mtimeOf(join(data.attemptDir, GANG_NOTICE_FILE))
  const stops = [gangNotice, mtimeOf(join(data.attemptDir, 'stop-request')), ...ranks.map((r) => r.stoppedAt ?? null)]
  return {
    attempt: {
      ...ranks[0],
      noticed: gangNotice !== null || ranks.some((r) => r.noticed),
      cancelled: ranks.some((r) => r.cancelled),
      stoppedAt: stops.filter((t): t is string => t !== null).sort()[0] ?? null,
    },
    ranks,
  }
}

/** The attempt's poll result: for a gang, each rank's and the gang's by the one rule of gang.ts. */
function attemptResult(data: SlurmHandleData, mapped: MappedState, seen: ReturnType<typeof observeAttempt>): PollResult {
  if (sizeOf(data) === 1) return mapped
  // Where each rank runs, once the batch script wrote Slurm's node list (rank order).
  const names = readText(join(data.attemptDir, GANG_NODE_NAMES_FILE))?.split('\n') ?? []
  const ips = readText(join(data.attemptDir, GANG_NODE_IPS_FILE))?.split('\n') ?? []
  return gangPoll(
    slurmRankResults(mapped, seen.attempt, seen.ranks).map((r, rank) => {
      const where = names[rank] ? `on ${names[rank]}${ips[rank] ? ` (${ips[rank]})` : ''}` : null
      return where === null ? r : {...r, reason: r.reason === null ? where : `${r.reason}; ${where}`}
    }),
  )
}

/** The shape most of a partition's nodes have (sinfo prints one line per node state and shape). */
function commonShape(rows: SinfoRow[]): SinfoRow {
  const groups = new Map<string, {row: SinfoRow; nodes: number}>()
  for (const r of rows) {
    const key = `${r.cpus}|${r.memoryMB}|${r.gres}`
    const g = groups.get(key)
    if (g) g.nodes += r.nodes
    else groups.set(key, {row: r, nodes: r.nodes})
  }
  return [...groups.values()].sort((a, b) => b.nodes - a.nodes || b.row.cpus - a.row.cpus)[0].row
}

/** Node states in which a node takes (or will soon take) jobs. */
function usableNodeState(state: string): boolean {
  const s = state.replace(/[*~#!%$@^-]+$/, '')
  if (state.endsWith('*')) return false // not responding
  return ['idle', 'mix', 'mixed', 'alloc', 'allocated', 'comp', 'completing', 'plnd', 'planned', 'resv', 'reserved'].includes(s)
}

/** A file's modification time (ISO), or null when it is not there. */
function mtimeOf(path: string): string | null {
  try {
    return statSync(path).mtime.toISOString()
  } catch {
    return null
  }
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return null
  }
}

function writeJsonAtomic(path: string, value: unknown): void {
  writeAtomic(path, JSON.stringify(value, null, 2) + '\n', {mode: 0o600})
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Whether an executable `name` is on `path` (no process started). */
function onPath(name: string, path: string): boolean {
  return path
    .split(delimiter)
    .filter((dir) => dir !== '')
    .some((dir) => {
      try {
        accessSync(join(dir, name), fsConstants.X_OK)
        return true
      } catch {
        return false
      }
    })
}

/** Whether a container runtime answers here (`version` needs docker's daemon too). */
function answers(command: string, env: NodeJS.ProcessEnv): Promise<boolean> {
  return new Promise((resolve) => execFile(command, ['version'], {timeout: 20_000, env}, (error) => resolve(!error)))
}

/** The error code of a job with secrets on a Slurm older than 20.11 (docs/exit-codes.md). */
export const SECRETS_SLURM_UNSUPPORTED = 'SECRETS_SLURM_UNSUPPORTED'

/** What a launch of a job with secrets says on a cluster that cannot take them (secretsUnsupported). */
function secretsUnsupportedError(why: string): ProviderError {
  return new ProviderError(PROVIDER, 'user', `the job's secrets cannot reach it on Slurm: ${why}`, {
    code: SECRETS_SLURM_UNSUPPORTED,
    hint: 'Run it on another provider (--provider), or on a cluster with Slurm 20.11 or later (docs/providers/slurm.md).',
  })
}
