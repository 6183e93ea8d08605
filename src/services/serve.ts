// `skyhop serve …`: services of replicas behind a load balancer (docs/serve.md). One module
// for the five commands, each thin over it: `up` records the service and starts its
// detached controller (src/controller/service-controller.ts), which runs the balancer and
// the replicas; `status` reads what the controller records; `update` records a new version
// that the controller rolls out; `down` asks the controller to drain and stop everything
// (or does it here when no controller holds the service); `logs` reads a replica's output.
import {join, resolve} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {type SkyhopConfig, loadConfig} from '../config.js'
import {deleteAttemptGang, deleteAttemptSecrets, deleteAttemptTransfers} from '../controller/attempt-end.js'
import {SERVICE_LEASE_TTL_MS, type ServiceEvent, driveService} from '../controller/service-controller.js'
import {InvalidFileError, LeaseHeldError, NoFeasiblePlanError, UsageError} from '../errors.js'
import {loadJobFile} from '../job/load.js'
import type {JobSpec} from '../model/job-spec.js'
import {type ReplicaRecord, type ServiceRecord, TERMINAL_REPLICA_STATES, TERMINAL_SERVICE_STATES} from '../model/service.js'
import {ServiceStore} from '../state/services.js'
import type {ServiceContext} from './context.js'
import {claimTtlMs, controllerOwner, type SpawnController, spawnDetachedController} from './controller-process.js'
import {actorOf, headroomFor, planWithinBudgets, replicaBudget, requireMayAct} from './owners.js'
import type {Store} from '../state/store.js'

export interface ReplicaSummary {
  n: number
  id: string
  version: number
  state: ReplicaRecord['state']
  provider: string
  region: string
  zone: string | null
  instanceType: string
  accelerator: string | null
  spot: boolean
  address: string | null
  ratePerSecond: number | null
  p50Ms: number | null
  p95Ms: number | null
  p99Ms: number | null
  pricePerHour: number | null
  currency: string | null
  reason: string | null
}

export interface ServiceSummary {
  id: string
  name: string
  state: ServiceRecord['state']
  endpoint: string | null
  version: number
  targetReplicas: number
  readyReplicas: number
  ratePerSecond: number | null
  requests: number | null
  failedRequests: number | null
  /** What the replicas that run now cost per hour, and what they would on on-demand; null when a price is unknown. */
  costPerHour: {amount: number; currency: string} | null
  onDemandCostPerHour: {amount: number; currency: string} | null
  replicas: ReplicaSummary[]
  /** The file's slo.p95_latency in ms, to read the replicas' p95 against; null without one. */
  sloP95Ms: number | null
  reason: string | null
  /** Who started it; null for services from before owners. */
  owner: string | null
}

export interface ServeProgress {
  (message: string): void
}

function services(store: Awaited<ReturnType<ServiceContext['store']>>): ServiceStore {
  return new ServiceStore(store)
}

/** A job file with a service block; anything else is a located error (exit 3). */
function loadServiceFile(file: string): {spec: JobSpec; file: string} {
  const loaded = loadJobFile(file)
  if (!loaded.spec.service) {
    throw new InvalidFileError([{file, path: '/service', message: 'has no service: block; `skyhop serve` needs one (docs/serve.md)'}], {
      code: 'SERVICE_BLOCK_MISSING',
      hint: 'Add `service: {port: 8080}` and a readiness path, or launch it as a job with `skyhop launch`.',
    })
  }
  return {spec: loaded.spec, file: resolve(file)}
}

/**
 * What must hold before anything is recorded: the key and secrets set here, an offer that fits.
 * Returns the spec every replica runs: with its workdir's archive, what this launch found of
 * each bucket object its files: copy (size, ETag) and its local sources packed into the
 * service's store when a cloud or Kubernetes may run a replica, as a job's launch does
 * (services/launch.ts withWorkdirArchive, withFileObjects).
 */
async function preflight(ctx: ServiceContext, given: JobSpec): Promise<JobSpec> {
  const env = process.env
  const key = given.service!.apiKeyEnv
  if (key && !env[key])
    throw new UsageError(`service.api_key_env names $${key}, which is not set in this environment`, {
      code: 'SECRET_MISSING',
      hint: `Export ${key} before \`skyhop serve up\`; the key is passed to the service's controller, never stored.`,
    })
  const missing = given.secrets.filter((s) => env[s] === undefined)
  if (missing.length > 0)
    throw new UsageError(`secret ${missing.map((m) => `$${m}`).join(', ')} named in the service file is not set in this environment`, {
      code: 'SECRET_MISSING',
      hint: 'Export it before serve up; skyhop passes secrets from your environment and never stores them.',
    })
  // What the files: copies weigh feeds the replicas' egress, as for a job's launch (file-data.ts).
  const {learnFileData} = await import('./file-data.js')
  const {spec} = await learnFileData(ctx, given, 'launch')
  const replan = await ctx.replanner({jobs: [spec]})
  const planned = await replan(spec, [])
  if (planned.plan.candidates.length === 0)
    throw new NoFeasiblePlanError(`no offer can carry a replica of ${spec.name}`, {hint: '`skyhop plan FILE` explains what was excluded.'})
  // Each replica gets its own signed list of these (the service controller), checked against
  // what is found here: an object changed after `serve up` fails the replica before setup.
  // (A service never has outputs:, refused where the file is read: job/load.ts.)
  // The workdir is packed and uploaded (once per content) when a cloud or Kubernetes may run
  // a replica, as a job's launch does: each such replica fetches it before setup (exit 2
  // without a store, 4 when the upload fails), and local and Slurm replicas use it in place.
  const {withFileObjects, withWorkdirArchive} = await import('./launch.js')
  const withWorkdir = await withWorkdirArchive(ctx, spec, planned.plan.candidates)
  if (!(spec.files ?? []).some((f) => f.mode === 'copy')) return withWorkdir
  return withFileObjects(ctx, withWorkdir, planned.plan.candidates)
}

/**
 * A service's minimum replicas must fit in its owner's budgets (docs/configuration.md#owners-roles-and-budgets):
 * the cheapest candidate's hourly price times replicas.min, against what each limit has left;
 * BUDGET_EXCEEDED (exit 9) with the numbers otherwise. Every replica launched later is checked
 * by the controller (replicaBudget).
 */
async function withinServiceBudget(ctx: ServiceContext, store: Store, spec: JobSpec, owner: string): Promise<void> {
  const heads = headroomFor(ctx.config(), store, owner, await ctx.fx())
  if (heads.length === 0) return
  const min = Math.max(1, spec.service!.replicas.min)
  const {plan} = await (await ctx.replanner({jobs: [spec]}))(spec, [])
  const scaled = plan.candidates.map((c) => ({...c, hourlyPriceUsd: c.hourlyPriceUsd === null ? null : c.hourlyPriceUsd * min}))
  planWithinBudgets({...plan, candidates: scaled, chosen: scaled[0] ?? null}, heads, owner, spec.name)
}

export async function serveUp(
  ctx: ServiceContext,
  options: {file: string; wait: boolean; timeoutMs?: number; onProgress?: ServeProgress; spawn?: SpawnController},
): Promise<ServiceSummary> {
  const loaded = loadServiceFile(options.file)
  const {file} = loaded
  const spec = await preflight(ctx, loaded.spec)
  const store = await ctx.store()
  const owner = actorOf(ctx.config()).user
  await withinServiceBudget(ctx, store, spec, owner)
  // Recorded already claimed for the controller about to be started, so no `recover` sees it
  // unleased meanwhile and starts a second one; with agents, recorded without a lease for one
  // of them to claim (docs/agent.md).
  const claim = ctx.config().agent === true ? null : controllerOwner()
  const lease = claim === null ? undefined : {owner: claim, ttlMs: claimTtlMs(SERVICE_LEASE_TTL_MS)}
  const svc = services(store).createService({name: spec.name, file, spec, owner, lease})
  if (claim === null) {
    store.addEvent(svc.id, null, 'handed-to-agent', {})
    options.onProgress?.(`service ${svc.name} (${svc.id}): handed to skyhop agent`)
  } else {
    try {
      ;(options.spawn ?? spawnDetachedController)(ctx.home, svc.id, 'serve-controller', claim)
    } catch (error) {
      // No controller will take the claim over: let the next `recover` start one at once.
      services(store).releaseLease(svc.id, claim)
      throw error
    }
    options.onProgress?.(`service ${svc.name} (${svc.id}): controller started`)
  }
  if (!options.wait) return summarizeService(store, svc.id)
  const timeoutMs = options.timeoutMs ?? (spec.service!.readiness.initialDelaySeconds + 60) * 1000
  const first = Math.min(1, spec.service!.replicas.min)
  await waitFor(
    ctx.home,
    store,
    svc.id,
    (s, replicas) => s.endpoint !== null && replicas.filter((r) => r.state === 'READY').length >= first,
    timeoutMs,
    `service ${svc.name} had no ready replica within ${Math.round(timeoutMs / 1000)} s`,
    options.onProgress,
    claim,
  )
  return summarizeService(store, svc.id)
}

export async function serveStatus(ctx: ServiceContext, options: {service?: string}): Promise<{services: ServiceSummary[]}> {
  const store = await ctx.store()
  const s = services(store)
  const list = options.service ? [s.findService(options.service)] : s.listServices().filter((x) => !TERMINAL_SERVICE_STATES.has(x.state))
  return {services: list.map((x) => summarizeService(store, x.id))}
}

export async function serveUpdate(
  ctx: ServiceContext,
  options: {service: string; file: string; wait: boolean; timeoutMs?: number; onProgress?: ServeProgress},
): Promise<ServiceSummary> {
  const store = await ctx.store()
  const s = services(store)
  const svc = s.findService(options.service)
  if (TERMINAL_SERVICE_STATES.has(svc.state) || svc.state === 'STOPPING')
    throw new UsageError(`service ${svc.name} is ${svc.state.toLowerCase()}; \`skyhop serve up\` starts it again`, {
      code: 'SERVICE_NOT_RUNNING',
    })
  const loaded = loadServiceFile(options.file)
  const {file} = loaded
  if (loaded.spec.name !== svc.name)
    throw new UsageError(`the file describes service ${loaded.spec.name}, not ${svc.name}`, {
      code: 'SERVICE_NAME_MISMATCH',
      hint: 'An update keeps the name; serve a new name with `skyhop serve up`.',
    })
  const spec = await preflight(ctx, loaded.spec)
  const version = s.updateSpec(svc.id, spec, file)
  store.addEvent(svc.id, null, 'service-updated', {version})
  options.onProgress?.(`service ${svc.name}: version ${version} recorded; rolling out`)
  if (options.wait) {
    await waitFor(
      ctx.home,
      store,
      svc.id,
      (x, replicas) => {
        const live = replicas.filter((r) => !TERMINAL_REPLICA_STATES.has(r.state))
        const ready = live.filter((r) => r.state === 'READY' && r.version === version).length
        return ready >= x.targetReplicas && live.every((r) => r.version === version)
      },
      options.timeoutMs ?? (spec.service!.readiness.initialDelaySeconds + 120) * 1000,
      `service ${svc.name}: version ${version} was not rolled out in time`,
      options.onProgress,
    )
  }
  return summarizeService(store, svc.id)
}

export async function serveDown(
  ctx: ServiceContext,
  options: {service: string; timeoutMs?: number; onProgress?: ServeProgress},
): Promise<ServiceSummary> {
  const store = await ctx.store()
  const s = services(store)
  const svc = s.findService(options.service)
  requireMayAct(actorOf(ctx.config()), {kind: 'service', ...svc}, 'stop')
  if (TERMINAL_SERVICE_STATES.has(svc.state) && s.unreleasedReplicas(svc.id).length === 0) return summarizeService(store, svc.id)
  if (!TERMINAL_SERVICE_STATES.has(svc.state)) s.setServiceState(svc.id, 'STOPPING')
  const controlled = () => {
    const x = s.getService(svc.id)!
    return x.leaseOwner !== null && (x.leaseExpiresAt ?? 0) > Date.now()
  }
  if (controlled()) {
    options.onProgress?.(`service ${svc.name}: draining and stopping its replicas`)
    const timeoutMs = options.timeoutMs ?? (svc.spec.recovery.graceSeconds + 30) * 1000
    const until = Date.now() + timeoutMs
    while (Date.now() < until && controlled() && !TERMINAL_SERVICE_STATES.has(s.getService(svc.id)!.state)) await sleep(100)
    if (TERMINAL_SERVICE_STATES.has(s.getService(svc.id)!.state)) return summarizeService(store, svc.id)
  }
  // No controller holds it (or it did not finish): stop what is left from here.
  options.onProgress?.(`service ${svc.name}: stopping its replicas`)
  const providers = await ctx.providers()
  const holds = await ctx.attemptHolds()
  for (const r of s.unreleasedReplicas(svc.id)) {
    const provider = providers.get(r.provider)
    if (r.handle && provider) {
      await provider.signal(r.handle, 'cancel', svc.spec.recovery.graceSeconds).catch(() => undefined)
      await provider.cleanup(r.handle)
      // What a cloud replica may have in the store, as the service controller's release deletes it.
      await deleteAttemptSecrets(holds, provider, svc, r.id).catch((error: unknown) => {
        store.addEvent(svc.id, r.id, 'secrets-delete-failed', {message: error instanceof Error ? error.message : String(error)})
      })
      await deleteAttemptGang(holds, provider, svc, r.id).catch((error: unknown) => {
        store.addEvent(svc.id, r.id, 'gang-objects-delete-failed', {message: error instanceof Error ? error.message : String(error)})
      })
      await deleteAttemptTransfers(holds, provider, svc, r.id).catch((error: unknown) => {
        store.addEvent(svc.id, r.id, 'transfers-delete-failed', {message: error instanceof Error ? error.message : String(error)})
      })
    }
    const at = new Date().toISOString()
    s.updateReplica(
      r.id,
      {state: 'STOPPED', endedAt: at, releasedAt: at, reason: 'service stopped'},
      {kind: 'replica-ended', data: {reason: 'service stopped'}},
    )
  }
  if (!TERMINAL_SERVICE_STATES.has(s.getService(svc.id)!.state)) s.setServiceState(svc.id, 'STOPPED')
  return summarizeService(store, svc.id)
}

export interface ServeLogLine {
  replica: number
  line: string
}

/** A replica's output: the one numbered `replica`, or the newest live one. */
export async function* serveLogs(
  ctx: ServiceContext,
  options: {service: string; replica?: number; follow: boolean; signal?: AbortSignal},
): AsyncGenerator<ServeLogLine> {
  const store = await ctx.store()
  const s = services(store)
  const svc = s.findService(options.service)
  const replicas = s.replicas(svc.id).filter((r) => r.handle)
  const chosen =
    options.replica === undefined
      ? ([...replicas].reverse().find((r) => !TERMINAL_REPLICA_STATES.has(r.state)) ?? replicas.at(-1))
      : replicas.find((r) => r.n === options.replica)
  if (!chosen)
    throw new UsageError(
      options.replica === undefined
        ? `service ${svc.name} has no replica with output yet`
        : `service ${svc.name} has no replica ${options.replica}; it has ${replicas.map((r) => r.n).join(', ') || 'none yet'}`,
      {code: 'REPLICA_NOT_FOUND'},
    )
  const provider = (await ctx.providers()).get(chosen.provider)
  if (!provider)
    throw new UsageError(`replica ${chosen.n} ran on ${chosen.provider}, which is not enabled here`, {code: 'PROVIDER_DISABLED'})
  for await (const line of provider.logs(chosen.handle!, {follow: options.follow, signal: options.signal})) yield {replica: chosen.n, line}
}

export interface ServePreemptResult {
  service: string
  replica: number
  graceSeconds: number
}

/**
 * A rehearsal of a spot interruption on one replica, through the provider's real notice path
 * (the same as `skyhop preempt` for a job): the controller sees the notice, stops routing to
 * the replica and launches its replacement while the requests in flight finish.
 */
export async function servePreempt(
  ctx: ServiceContext,
  options: {service: string; replica?: number; graceSeconds: number},
): Promise<ServePreemptResult> {
  const store = await ctx.store()
  const s = services(store)
  const svc = s.findService(options.service)
  requireMayAct(actorOf(ctx.config()), {kind: 'service', ...svc}, 'preempt')
  const ready = s.replicas(svc.id).filter((r) => r.handle && r.state === 'READY')
  const chosen = options.replica === undefined ? ready[0] : ready.find((r) => r.n === options.replica)
  if (!chosen)
    throw new UsageError(
      options.replica === undefined
        ? `service ${svc.name} has no ready replica to preempt`
        : `service ${svc.name} has no ready replica ${options.replica}; ready: ${ready.map((r) => r.n).join(', ') || 'none'}`,
      {code: 'REPLICA_NOT_FOUND'},
    )
  const provider = (await ctx.providers()).get(chosen.provider)
  if (!provider)
    throw new UsageError(`replica ${chosen.n} runs on ${chosen.provider}, which is not enabled here`, {code: 'PROVIDER_DISABLED'})
  await provider.signal(chosen.handle!, 'preempt', options.graceSeconds)
  store.addEvent(svc.id, chosen.id, 'preempt-requested', {replica: chosen.n, graceSeconds: options.graceSeconds})
  return {service: svc.id, replica: chosen.n, graceSeconds: options.graceSeconds}
}

/**
 * The config as the file says now: a controller runs for days, and a budget raised meanwhile
 * must let it grow. The last good one while the file does not load (being edited).
 */
function freshConfig(ctx: ServiceContext): () => SkyhopConfig {
  let last = ctx.config()
  return () => {
    try {
      last = loadConfig(ctx.home)
    } catch {
      // keep the last good config
    }
    return last
  }
}

/** The hidden `skyhop serve-controller SERVICE`: drives the service in this process until it stops. */
export async function driveRecordedService(
  ctx: ServiceContext,
  options: {
    service: string
    signal: AbortSignal
    onEvent: (event: ServiceEvent) => void
    onSkip: (message: string) => void
    /** The lease owner (an agent's name); default: a fresh controller name. */
    owner?: string
    /** The owner `recover` claimed the service's lease under for this controller: taken over first. */
    claimed?: string
  },
): Promise<ServiceSummary | {skipped: true}> {
  const store = await ctx.store()
  const s = services(store)
  const svc = s.findService(options.service)
  const replan = await ctx.replanner({jobs: [svc.spec]})
  const owner = options.owner ?? controllerOwner()
  const providers = await ctx.providers()
  // Started for a claim (`recover`): take it over under this process's own name, once all is
  // loaded, so that the heartbeat starts as soon as the claim is ours.
  if (options.claimed && !s.handOverLease(svc.id, options.claimed, owner, SERVICE_LEASE_TTL_MS)) {
    options.onSkip(`service ${svc.id} is driven by another controller (the lease claimed for this one was taken)`)
    return {skipped: true}
  }
  const fx = await ctx.fx()
  try {
    await driveService(svc.id, {
      services: s,
      providers,
      replan,
      home: ctx.home,
      owner,
      signal: options.signal,
      onEvent: options.onEvent,
      attemptHolds: await ctx.attemptHolds(),
      ...(svc.owner === null ? {} : {budget: replicaBudget({config: freshConfig(ctx), store, owner: svc.owner, fx})}),
    })
  } catch (error) {
    if (!(error instanceof LeaseHeldError)) throw error
    options.onSkip(error.message)
    return {skipped: true}
  }
  return summarizeService(store, svc.id)
}

export function summarizeService(store: Awaited<ReturnType<ServiceContext['store']>>, id: string): ServiceSummary {
  const s = services(store)
  const svc = s.getService(id)!
  const live = s.replicas(id).filter((r) => r.releasedAt === null)
  const metrics = svc.metrics
  const fresh = metrics !== null && !TERMINAL_SERVICE_STATES.has(svc.state)
  const priced = live.filter((r) => r.state !== 'REQUESTED')
  const sum = (f: (r: ReplicaRecord) => number | null) => {
    const values = priced.map(f)
    if (values.some((v) => v === null)) return null
    const currencies = new Set(priced.map((r) => r.currency ?? 'USD'))
    if (currencies.size > 1) return null
    return {amount: Math.round(values.reduce((a, b) => a! + b!, 0)! * 10000) / 10000, currency: [...currencies][0] ?? 'USD'}
  }
  return {
    id: svc.id,
    name: svc.name,
    state: svc.state,
    endpoint: svc.endpoint,
    version: svc.version,
    targetReplicas: svc.targetReplicas,
    readyReplicas: live.filter((r) => r.state === 'READY').length,
    ratePerSecond: fresh ? metrics.ratePerSecond : null,
    requests: metrics?.requests ?? null,
    failedRequests: metrics?.failed ?? null,
    costPerHour: sum((r) => r.pricePerHour),
    onDemandCostPerHour: sum((r) => r.onDemandPricePerHour),
    replicas: live.map((r) => {
      const m = fresh ? metrics.replicas[r.id] : undefined
      return {
        n: r.n,
        id: r.id,
        version: r.version,
        state: r.state,
        provider: r.provider,
        region: r.region,
        zone: r.zone,
        instanceType: r.instanceType,
        accelerator: r.accelerator === null ? null : `${r.accelerator}:${r.acceleratorCount ?? 1}`,
        spot: r.spot,
        address: r.address,
        ratePerSecond: m?.ratePerSecond ?? null,
        p50Ms: m?.p50Ms ?? null,
        p95Ms: m?.p95Ms ?? null,
        p99Ms: m?.p99Ms ?? null,
        pricePerHour: r.pricePerHour,
        currency: r.currency,
        reason: r.reason,
      }
    }),
    sloP95Ms: svc.spec.service?.slo ? svc.spec.service.slo.p95LatencySeconds * 1000 : null,
    reason: svc.reason,
    owner: svc.owner,
  }
}

/** How long a controller just spawned may take to hold its service's lease. */
const CONTROLLER_START_MS = 15_000

async function waitFor(
  home: string,
  store: Awaited<ReturnType<ServiceContext['store']>>,
  id: string,
  done: (s: ServiceRecord, replicas: ReplicaRecord[]) => boolean,
  timeoutMs: number,
  timeoutMessage: string,
  onProgress?: ServeProgress,
  /** The owner the service was recorded claimed under for its controller, which takes it over as it starts. */
  claim: string | null = null,
): Promise<void> {
  const s = services(store)
  const started = Date.now()
  const until = started + timeoutMs
  let said = ''
  for (;;) {
    const svc = s.getService(id)!
    const replicas = s.replicas(id)
    if (done(svc, replicas)) return
    if (svc.state === 'FAILED')
      throw new UsageError(`service ${svc.name} failed: ${svc.reason ?? 'see its events'}`, {code: 'SERVICE_FAILED'})
    // A controller that never took the lease (still free, or still the claim made for it) died at its start (its log says why).
    const untaken = svc.leaseOwner === null || (claim !== null && svc.leaseOwner === claim)
    if (untaken && svc.state === 'RUNNING' && Date.now() - started > CONTROLLER_START_MS)
      throw new UsageError(`the controller of service ${svc.name} did not start`, {
        code: 'SERVICE_CONTROLLER_DOWN',
        hint: `Its log is ${join(home, 'controllers', `${id}.log`)}; \`skyhop recover\` starts it again.`,
      })
    const line = `${replicas.filter((r) => r.state === 'READY').length} ready of ${svc.targetReplicas}`
    if (line !== said) onProgress?.(`service ${svc.name}: ${line}`)
    said = line
    if (Date.now() > until)
      throw new UsageError(timeoutMessage, {code: 'SERVICE_NOT_READY', hint: `\`skyhop serve logs ${svc.name}\` shows a replica's output.`})
    await sleep(100)
  }
}
