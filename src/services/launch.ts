// The launch service: plan a job, record it, then either drive it here (--wait: in the
// foreground, its logs streamed, Ctrl-C handing it to a background controller) or hand it
// to a detached controller process that holds the job's lease.
import {basename, dirname} from 'node:path'
import {BugError, UsageError} from '../errors.js'
import {noFeasiblePlanError} from '../planner/explain.js'
import type {Plan} from '../planner/types.js'
import type {Provider} from '../providers/provider.js'
import {isValidEnvName} from '../runner/contract.js'
import type {CheckpointStoreSpec, FileObject, JobSpec, Objective} from '../model/job-spec.js'
import type {Store} from '../state/store.js'
import {TERMINAL_JOB_STATES, type EventRecord, type JobRecord} from '../model/records.js'
import {LEASE_TTL_MS, driveJob} from '../controller/controller.js'
import {type ControllerDeps, type ControllerEvent} from '../controller/deps.js'
import {loadJobFile} from '../job/load.js'
import type {ServiceContext} from './context.js'
import {claimTtlMs, controllerOwner, type SpawnController, spawnDetachedController} from './controller-process.js'
import {catchInterrupt, drain, handOff} from './foreground.js'
import {StoreJournal} from '../controller/journal.js'
import {type JobSummary, attemptSummary, summarize, type AttemptSummary} from './jobs.js'
import {type LogLine, jobLogs} from './logs.js'
import type {Replanner} from '../planner/replanner.js'
import {requireEnabledProvider} from './providers.js'
import {liveFailureBehind} from './live-failures.js'
import {type AutoResolution, autoEvent, resolveAuto} from './right-sizing.js'
import {actorOf, admitWithinBudget, headroomFor, planWithinBudgets, specWithinBudget} from './owners.js'

export type {ControllerEvent} from '../controller/deps.js'
export type {Plan} from '../planner/types.js'

export interface LaunchOverrides {
  name?: string
  env?: Record<string, string>
  provider?: string
  region?: string
}

/** Options stored with the job so a detached or recovering controller plans the same way. */
export interface StoredLaunchOptions {
  catalogFile?: string
  objective?: string
  retryUntilUpMs?: number
}

/** Applies launch flags to a spec without mutating it. */
export function applyOverrides(spec: JobSpec, o: LaunchOverrides): JobSpec {
  const env = {...spec.envs}
  for (const [k, v] of Object.entries(o.env ?? {})) {
    if (!isValidEnvName(k)) throw new UsageError(`--env ${k}=…: "${k}" is not a valid variable name`, {code: 'BAD_ENV'})
    env[k] = v
  }
  if (o.name !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(o.name)) {
    throw new UsageError(`--name "${o.name}": use letters, digits, '.', '_' or '-' (at most 63, starting with a letter or digit)`, {
      code: 'BAD_NAME',
    })
  }
  return {
    ...spec,
    name: o.name ?? spec.name,
    envs: env,
    placement: {
      providers: o.provider ? {allow: [o.provider], deny: spec.placement.providers.deny} : spec.placement.providers,
      regions: o.region ? {allow: [o.region], deny: spec.placement.regions.deny} : spec.placement.regions,
    },
  }
}

/** Fails before anything is recorded when a secret the job needs is not in the environment. */
export function checkSecrets(spec: JobSpec, env: NodeJS.ProcessEnv): void {
  const missing = spec.secrets.filter((name) => env[name] === undefined)
  if (missing.length > 0) {
    throw new UsageError(`secret ${missing.map((m) => `$${m}`).join(', ')} named in the job file is not set in this environment`, {
      code: 'SECRET_MISSING',
      hint: 'Export it before launching; skyhop passes secrets from your environment and never stores them.',
    })
  }
}

/** Plans once; throws exit 5 with grouped reasons when nothing is feasible (naming --region when that flag set the regions). */
export async function planForLaunch(
  spec: JobSpec,
  replan: Replanner,
  flags: {region?: string} = {},
  liveFailures: ReadonlyMap<string, Error> = new Map(),
): Promise<Plan> {
  const {plan} = await replan(spec, [])
  if (plan.candidates.length === 0) throw liveFailureBehind(spec, liveFailures) ?? noFeasiblePlanError(plan, {regionFlag: flags.region})
  return plan
}

export interface LaunchResult {
  job: JobSummary
  attempts: AttemptSummary[]
  detached: boolean
  /** The exit code `launch --wait` ends with (the job's own, or skyhop's for failures). */
  exitCode: number | null
  /** Set when the job was handed to `skyhop agent` (config `agent: true`) instead of a controller started here. */
  agent?: true
}

export interface StartJobInput {
  store: Store
  providers: ReadonlyMap<string, Provider>
  replan: Replanner
  home: string
  spec: JobSpec
  file: string | null
  options: StoredLaunchOptions
  wait: boolean
  onEvent?: (event: ControllerEvent) => void
  signal?: AbortSignal
  sweepId?: string | null
  matrix?: Record<string, unknown> | null
  pollIntervalMs?: number
  checkpointSync?: ControllerDeps['checkpointSync']
  attemptHolds?: ControllerDeps['attemptHolds']
  /** Who launched it (recorded as the job's owner). */
  owner?: string | null
  /** The chosen candidate's hourly USD price, which budgets count while the job is unfinished. */
  plannedUsdPerHour?: number | null
  /** Runs the recording (one transaction with whatever checks it makes, e.g. the budget's). */
  admit?: (record: () => JobRecord) => JobRecord
  /** Detached: leave the job to `skyhop agent` (no lease taken, no controller started here). */
  toAgent?: boolean
  /** Events the job starts with, recorded with it (how `accelerators: auto` chose). */
  events?: ReadonlyArray<{kind: string; data: Record<string, unknown>}>
  /** Starts the detached controller (tests record the call instead of starting a process). */
  spawn?: SpawnController
}

/** Records the job and drives it here, or starts a detached controller for it (or leaves it to an agent). */
export async function startJob(input: StartJobInput): Promise<LaunchResult> {
  // Driven here: recorded with this controller's lease, so no agent claims it in between.
  const controller = controllerOwner()
  // Detached: recorded already claimed for the controller about to be started, in the same
  // transaction as the job itself, so no `recover` ever sees it unleased and starts a second
  // controller for it. Left to an agent: recorded without a lease (docs/agent.md).
  const claim = !input.wait && !input.toAgent ? controllerOwner() : null
  const lease = input.wait
    ? {owner: controller, ttlMs: LEASE_TTL_MS}
    : claim === null
      ? undefined
      : {owner: claim, ttlMs: claimTtlMs(LEASE_TTL_MS)}
  const record = (): JobRecord =>
    input.store.createJob({
      ...(lease ? {lease} : {}),
      name: input.spec.name,
      file: input.file,
      spec: input.spec,
      options: {...input.options},
      sweepId: input.sweepId,
      matrix: input.matrix,
      owner: input.owner ?? null,
      plannedUsdPerHour: input.plannedUsdPerHour ?? null,
    })
  const job = input.admit ? input.admit(record) : record()
  for (const e of input.events ?? []) input.store.addEvent(job.id, null, e.kind, e.data)
  if (!input.wait && input.toAgent) {
    input.store.addEvent(job.id, null, 'handed-to-agent', {})
    return {job: summarize(input.store, job), attempts: [], detached: true, exitCode: null, agent: true}
  }
  if (claim !== null) {
    try {
      ;(input.spawn ?? spawnDetachedController)(input.home, job.id, 'controller', claim)
    } catch (error) {
      // No controller will take the claim over: let the next `recover` start one at once.
      input.store.releaseLease(job.id, claim)
      throw error
    }
    return {job: summarize(input.store, job), attempts: [], detached: true, exitCode: null}
  }
  const final = await driveJob(job.id, {
    journal: new StoreJournal(input.store),
    providers: input.providers,
    replan: input.replan,
    home: input.home,
    owner: controller,
    onEvent: input.onEvent,
    signal: input.signal,
    retryUntilUpMs: input.options.retryUntilUpMs,
    pollIntervalMs: input.pollIntervalMs ?? 250,
    checkpointSync: input.checkpointSync,
    attemptHolds: input.attemptHolds,
  })
  return resultFor(input.store, final)
}

export function resultFor(store: Store, job: JobRecord): LaunchResult {
  return {
    job: summarize(store, job),
    attempts: store.listAttempts(job.id).map(attemptSummary),
    detached: false,
    exitCode: exitCodeForJob(job, store.events(job.id)),
  }
}

/**
 * The exit code a waiting CLI ends with: the job's own code when it has one; otherwise
 * skyhop's code for why it ended (4 every candidate failed, 5 no feasible plan, 6 lost).
 */
export function exitCodeForJob(job: JobRecord, events: EventRecord[]): number | null {
  switch (job.state) {
    case 'SUCCEEDED':
      return 0
    case 'CANCELLED':
      return 130
    case 'FAILED': {
      if (job.exitCode !== null) return job.exitCode
      const failed = [...events].reverse().find((e) => e.kind === 'job-failed')
      const code = String(failed?.data.code ?? '')
      if (code === 'NO_FEASIBLE_PLAN') return 5
      if (code === 'ALL_CANDIDATES_FAILED' || code.startsWith('PROVIDER_')) return 4
      if (code === 'SECRET_MISSING' || code === 'USAGE') return 2
      return 6
    }
    default:
      return null
  }
}

// ---- the use case -----------------------------------------------------------------------

export interface LaunchRequest extends LaunchOverrides {
  file: string
  catalogFile?: string
  objective?: Objective
  /** Keep retrying this long when every candidate is out of capacity. */
  retryUntilUpMs?: number
  /** Where the job's secrets come from (default: this process's environment). */
  secretsFrom?: NodeJS.ProcessEnv
}

/** A job ready to start: its spec with the overrides, and the plan it starts from. */
export interface PreparedLaunch {
  spec: JobSpec
  file: string
  plan: Plan
  replan: Replanner
  options: StoredLaunchOptions
  /** Who launches it. */
  owner: string
  /** How `accelerators: auto` was resolved (the spec carries the choice); null for other jobs. */
  auto: AutoResolution | null
}

/** Everything up to the start, recording nothing: load, overrides, secrets, checkpoint store, provider, plan. */
export async function prepareLaunch(ctx: ServiceContext, request: LaunchRequest): Promise<PreparedLaunch> {
  const loaded = loadJobFile(request.file)
  if (loaded.spec.matrix !== null) {
    // launch runs one job; silently dropping the matrix would run none of the combinations meant.
    const dims = Object.entries(loaded.spec.matrix).map(([k, v]) => `${k}×${v.length}`)
    throw new UsageError(`${request.file} has a matrix (${dims.join(' × ')}); launch runs one job and would ignore it`, {
      code: 'MATRIX_NEEDS_SWEEP',
      hint: `Run every combination with \`skyhop sweep ${request.file}\`, or remove the matrix (set one value with --env KEY=VALUE).`,
    })
  }
  const overridden = applyOverrides(loaded.spec, {name: request.name, env: request.env, provider: request.provider, region: request.region})
  checkSecrets(overridden, request.secretsFrom ?? process.env)
  await ctx.checkCheckpointStore(overridden)
  await requireEnabledProvider(ctx, request.provider)
  // What the files: copies weigh, from the store's own HEAD and LIST answers, feeds the plan's
  // egress (a missing object or a failing store stops the launch here, nothing recorded).
  const {learnFileData} = await import('./file-data.js')
  const {spec: sized} = await learnFileData(ctx, overridden, 'launch')
  const planning = await ctx.planning({catalogFile: request.catalogFile, objective: request.objective, jobs: [sized]})
  const replan = planning.replan
  // `accelerators: auto` is chosen once, here: the stored spec carries the choice, so the
  // controller's re-plans after a failure stay within it.
  const auto = await resolveAuto(sized, planning)
  const spec = auto?.spec ?? sized
  const planned = await planForLaunch(spec, replan, {region: request.region}, planning.liveFailures)
  // Budgets on the owner's (and their teams') running spend: only candidates that fit, and a
  // max_price that keeps the controller's later re-plans within what was left.
  const owner = actorOf(ctx.config()).user
  const fx = await ctx.fx()
  const heads = headroomFor(ctx.config(), await ctx.store(), owner, fx)
  const verdict = planWithinBudgets(planned, heads, owner, spec.name)
  const plan = verdict.plan
  const budgeted = specWithinBudget(spec, verdict.maxUsdPerHour, fx)
  await workdirStoreFor(ctx, budgeted, plan.candidates)
  await checkSecretsReachClouds(ctx, budgeted, plan.candidates)
  const options = {catalogFile: request.catalogFile, objective: request.objective, retryUntilUpMs: request.retryUntilUpMs}
  return {spec: budgeted, file: loaded.file, plan, replan, options, owner, auto}
}

/**
 * The object store a cloud candidate gets the job's workdir from; null when the job has no
 * workdir or no candidate is a cloud (local runs the directory in place, Slurm stages it).
 * A workdir bound for a cloud without a store is refused here, before anything is uploaded
 * or recorded: the instance would start without the job's code.
 */
export async function workdirStoreFor(
  ctx: ServiceContext,
  spec: JobSpec,
  candidates: ReadonlyArray<{provider: string}>,
): Promise<CheckpointStoreSpec | null> {
  if (spec.workdir === null) return null
  const providers = await ctx.providers()
  const cloud = candidates.find((c) => providers.get(c.provider)?.attemptStorage === 'per-instance')
  if (!cloud) return null
  const {storeFor} = await import('../checkpoint/checkpoint-store.js')
  const store = storeFor(spec, ctx.config())
  if (store === null) {
    throw new UsageError(`workdir ${spec.workdir} cannot reach ${cloud.provider}: the job has no object store to upload it to`, {
      code: 'WORKDIR_NEEDS_STORE',
      hint: 'Name one with checkpoint.store in the job file or checkpoint_store in the config (docs/job-file.md#workdir), or keep the job on local or Slurm with --provider.',
    })
  }
  return store
}

/**
 * A job with secrets bound for a cloud needs an object store: an instance gets them from a
 * one-time object there, never from its user data (docs/job-file.md#secrets). Refused here,
 * before anything is recorded, as a workdir without a store is.
 */
export async function checkSecretsReachClouds(
  ctx: ServiceContext,
  spec: JobSpec,
  candidates: ReadonlyArray<{provider: string}>,
): Promise<void> {
  if ((spec.secrets ?? []).length === 0) return
  const providers = await ctx.providers()
  // A backend that cannot hand them over at all (a Slurm before 20.11) is refused by name,
  // before anything is recorded, rather than failing the job at its launch there.
  for (const name of new Set(candidates.map((c) => c.provider))) {
    const why = await providers.get(name)?.secretsUnsupported?.()
    if (why) {
      throw new UsageError(`secret ${spec.secrets.map((n) => `$${n}`).join(', ')} cannot reach ${name}: ${why}`, {
        code: 'SECRETS_SLURM_UNSUPPORTED',
        hint: `Keep the job off ${name} with --provider or placement.providers, or run it on Slurm 20.11 or later (docs/providers/slurm.md).`,
      })
    }
  }
  // Kubernetes keeps them in a Secret of its own (ownSecretStore): no store needed there.
  const cloud = candidates.find((c) => {
    const provider = providers.get(c.provider)
    return provider?.attemptStorage === 'per-instance' && !provider.ownSecretStore
  })
  if (!cloud) return
  const {storeFor} = await import('../checkpoint/checkpoint-store.js')
  if (storeFor(spec, ctx.config()) !== null) return
  throw new UsageError(
    `secret ${spec.secrets.map((n) => `$${n}`).join(', ')} cannot reach ${cloud.provider}: the job has no object store to pass it through, and skyhop never puts secrets in user data`,
    {
      code: 'SECRETS_NEED_STORE',
      hint: 'Name one with checkpoint.store in the job file or checkpoint_store in the config (docs/job-file.md#secrets), or keep the job on local or Slurm with --provider.',
    },
  )
}

/**
 * The spec an attempt runs: with its workdir packed and uploaded (once per content) when a
 * cloud may run it. An upload failure throws (exit 4) before the job is recorded.
 */
export async function withWorkdirArchive(
  ctx: ServiceContext,
  spec: JobSpec,
  candidates: ReadonlyArray<{provider: string}>,
): Promise<JobSpec> {
  const store = await workdirStoreFor(ctx, spec, candidates)
  if (store === null || spec.workdir === null) return spec
  const upload = await ctx.uploadWorkdir(spec.workdir, store)
  return {...spec, workdirArchive: upload.archive}
}

/**
 * The spec with what the launch found of each bucket object its files: copy (size, ETag):
 * attempts check their downloads against it. When a cloud may run the job, each local
 * source is packed and uploaded to the job's store as a workdir is (once per content), since
 * an instance cannot read this machine. A missing object, a store that fails, or a cloud
 * candidate without a store throws before the job is recorded.
 */
export async function withFileObjects(ctx: ServiceContext, spec: JobSpec, candidates: ReadonlyArray<{provider: string}>): Promise<JobSpec> {
  if ((spec.outputs ?? []).length > 0) {
    const {storeFor} = await import('../checkpoint/checkpoint-store.js')
    const {checkOutputs} = await import('../checkpoint/transfers.js')
    checkOutputs(spec, storeFor(spec, ctx.config()))
  }
  const copies = (spec.files ?? []).filter((f) => f.mode === 'copy')
  const locals = copies.flatMap((f) => (f.source.kind === 'local' ? [{path: f.path, source: f.source}] : []))
  const found: FileObject[] = []
  // prepareLaunch looked them up already, before the plan (learnFileData): once is enough.
  const learned = (spec.fileObjects ?? []).filter((o) => o.sha256 === undefined)
  if (learned.length > 0) found.push(...learned)
  else if (copies.some((f) => f.source.kind === 'bucket')) {
    if (!ctx.findFileObjects) throw new BugError('this context cannot look up the objects a job file copies')
    found.push(...(await ctx.findFileObjects(spec)))
  }
  if (locals.length > 0) {
    const providers = await ctx.providers()
    const cloud = candidates.find((c) => providers.get(c.provider)?.attemptStorage === 'per-instance')
    if (cloud) {
      const {storeFor} = await import('../checkpoint/checkpoint-store.js')
      const store = storeFor(spec, ctx.config())
      if (store === null) {
        throw new UsageError(
          `files: ${locals[0].path}: ${locals[0].source.path} cannot reach ${cloud.provider}: the job has no object store to upload it to`,
          {
            code: 'FILES_NEED_STORE',
            hint: 'Name one with checkpoint.store in the job file or checkpoint_store in the config (docs/job-file.md#files-and-outputs), or keep the job on local or Slurm with --provider.',
          },
        )
      }
      for (const {path, source} of locals) {
        const upload = source.directory
          ? await ctx.uploadWorkdir(source.path, store)
          : await ctx.uploadWorkdir(dirname(source.path), store, basename(source.path))
        found.push({path, bytes: upload.archive.bytes, etag: null, sha256: upload.archive.sha256})
      }
    }
  }
  return found.length === 0 ? spec : {...spec, fileObjects: found}
}

/** What `launch --wait` reports while the job runs: the controller's events and, when wanted, the job's log lines. */
export interface LaunchProgress {
  event(event: ControllerEvent): void
  line?(entry: LogLine): void
}

/** Starts a prepared job: detached (a background controller), or driven here until it ends. */
/** How long `launch --wait` reads the rest of an ended cloud attempt's log (restOfLog). */
const REST_OF_LOG_MS = 15_000

/**
 * The lines of the job's last attempt that the log stream had not shown when the job ended: a
 * cloud's console is read every few seconds and publishes late, so a short job's output may
 * not have been there yet. Read once more without following (the console, then what the
 * runner shipped to the job's store: vm/shipped.ts), within REST_OF_LOG_MS. Local and Slurm
 * attempts' files were read to their end already.
 */
async function showRest(
  store: Store,
  providers: ReadonlyMap<string, Provider>,
  jobId: string,
  shown: ReadonlyMap<number, number>,
  line: (entry: LogLine) => void,
): Promise<void> {
  const job = store.getJob(jobId)
  const last = store
    .listAttempts(jobId)
    .filter((a) => a.handle)
    .at(-1)
  if (!job || !TERMINAL_JOB_STATES.has(job.state) || !last) return
  if ((providers.get(last.provider)?.attemptStorage ?? 'shared') !== 'per-instance') return
  const stop = new AbortController()
  const rest = (async () => {
    let n = 0
    for await (const entry of jobLogs(store, providers, jobId, {follow: false, attempt: last.n, signal: stop.signal})) {
      if (n++ >= (shown.get(last.n) ?? 0)) line(entry)
    }
  })().catch(() => undefined)
  await drain(rest, REST_OF_LOG_MS)
  stop.abort()
}

export async function launch(
  ctx: ServiceContext,
  prepared: PreparedLaunch,
  options: {wait: boolean; progress?: LaunchProgress},
): Promise<LaunchResult> {
  const store = await ctx.store()
  const providers = await ctx.providers()
  const {file, replan} = prepared
  const spec = await withFileObjects(ctx, await withWorkdirArchive(ctx, prepared.spec, prepared.plan.candidates), prepared.plan.candidates)
  const owner = prepared.owner
  const usdPerHour = prepared.plan.chosen?.hourlyPriceUsd ?? null
  const fx = await ctx.fx()
  const collaborators = {
    store,
    providers,
    replan,
    home: ctx.home,
    spec,
    file,
    options: prepared.options,
    wait: options.wait,
    owner,
    plannedUsdPerHour: usdPerHour,
    admit: (record: () => JobRecord) => admitWithinBudget(ctx.config(), store, {owner, jobName: spec.name, usdPerHour, fx}, record),
    toAgent: ctx.config().agent === true,
    events: prepared.auto ? [autoEvent(prepared.auto)] : [],
  }
  const signers = {checkpointSync: await ctx.checkpointSync(), attemptHolds: await ctx.attemptHolds()}
  if (!options.wait) return startJob({...collaborators, ...signers})
  const progress = options.progress ?? {event: () => undefined}
  const fg = catchInterrupt()
  let logs: Promise<void> | undefined
  /** Lines shown, by attempt number. */
  const shown = new Map<number, number>()
  // Streams the logs of every attempt while the controller drives the job in this process.
  const streamLogs = async (jobId: string) => {
    for await (const entry of jobLogs(store, providers, jobId, {follow: true, signal: fg.signal})) {
      shown.set(entry.attempt, (shown.get(entry.attempt) ?? 0) + 1)
      progress.line!(entry)
    }
  }
  const result = await startJob({
    ...collaborators,
    ...signers,
    signal: fg.signal,
    onEvent: (e) => {
      if (!logs && progress.line) logs = streamLogs(e.jobId).catch(() => undefined)
      progress.event(e)
    },
  })
  fg.release()
  if (logs) {
    // Let the log stream drain the last lines of the finished attempt, then stop it.
    await drain(logs, 2000)
    fg.abort()
    await drain(logs, 2000)
    if (!fg.interrupted) await showRest(store, providers, result.job.id, shown, progress.line!)
  }
  if (fg.interrupted) {
    // The job keeps running: hand it to a detached controller so nothing is left unowned.
    handOff(store, ctx.home, {id: result.job.id, command: 'controller'}, `job ${result.job.name} (${result.job.id})`, {
      hint: `Follow it with \`skyhop logs ${result.job.id} --follow\`; stop it with \`skyhop cancel ${result.job.id}\`.`,
    })
  }
  return result
}
