// Turns a job file into a JobSpec: read, parse (with positions), validate against
// schemas/job.schema.json, then normalize every text quantity into a typed value. All
// problems are collected and reported together, each at FILE:LINE:COL with its field.
import type {IdlePolicy, UsageSpec} from '../model/usage.js'
import {statSync} from 'node:fs'
import {dirname, posix, resolve} from 'node:path'
import type {Accelerator} from '../model/catalog.js'

import {loadRegistry} from '../catalog/accelerators.js'
import {type FileIssue, InvalidFileError} from '../errors.js'
import {didYouMean} from '../util/did-you-mean.js'
import {FilesFieldError, normalizeFiles, normalizeOutputs, type RawFileValue, type RawMountValue, type RawOutputValue} from './files.js'
import {classifyImage, ImageReferenceError} from './image.js'
import {DSTACK_RUN_TYPES, detectForeign, formatName} from './import/detect.js'
import {
  AUTO_REQUEST,
  BUCKET_CLOUD,
  type AcceleratorConfig,
  type AcceleratorRequest,
  type ContainerImage,
  type DataSource,
  type CompatName,
  type JobSpec,
  type ServiceSpec,
  type LoadedJob,
  type Money,
  type Quantity,
  type RecoveryStrategy,
  type Runtime,
} from '../model/job-spec.js'
import {compiledSchema} from '../util/schemas.js'
import {
  UnitError,
  parseCountAtLeast,
  parseCountRange,
  parseDeadline,
  parseDurationSeconds,
  parseMemoryRange,
  parseMoney,
  parseSizeAtLeast,
  parseSizeGB,
} from '../model/units.js'
import {type SourceDocument, locate, pointer, readDocument, schemaIssues, sortIssues} from '../util/located-document.js'

export const JOB_SCHEMA = 'job.schema.json'
/** `resources.accelerators: auto` (docs/job-file.md#resources): skyhop chooses them from the job's earlier runs. */
const AUTO = 'auto'
const ERROR_CODE = 'JOB_FILE_INVALID'

export interface LoadOptions {
  /** The clock for relative deadlines; injected so tests are deterministic. */
  now?: Date
}

/** Loads, validates and normalizes one job file. Throws InvalidFileError (exit 3). */
export function loadJobFile(file: string, options: LoadOptions = {}): LoadedJob {
  const src = readDocument(file, ERROR_CODE)
  const now = options.now ?? new Date()
  const issues = schemaIssues(src, compiledSchema(JOB_SCHEMA))
  if (issues.length > 0) foreignFileCheck(src)
  if (issues.length > 0) throw new InvalidFileError(sortIssues([...issues, ...semanticIssuesBeside(src, now, issues)]), {code: ERROR_CODE})
  const spec = normalize(src, now)
  return {spec, file, raw: src.value}
}

/**
 * A SkyPilot task or dstack configuration fails the schema on every key skyhop does not
 * have; one line saying what it is and how to convert it helps more than that list.
 */
function foreignFileCheck(src: SourceDocument): void {
  const found = detectForeign(src.value)
  if (!found) return
  const keys = found.evidence.slice(0, 4).join(', ')
  const message =
    found.format === 'dstack' && !DSTACK_RUN_TYPES.includes(found.kind)
      ? `this is a dstack ${found.kind} configuration (${keys}), not a job; skyhop import converts dstack run configurations (${DSTACK_RUN_TYPES.join(', ')})`
      : `this looks like a ${formatName(found.format)} (${keys}), not a skyhop job file; run \`skyhop import ${src.file}\` to convert it`
  throw new InvalidFileError([{file: src.file, path: '', message}], {
    code: 'FOREIGN_JOB_FILE',
    hint: `\`skyhop import ${src.file} --output job.yaml\` writes a skyhop job file and lists what has no equivalent (docs/job-file.md).`,
  })
}

/**
 * The value checks (unknown accelerator, past deadline…) of a file that also fails the
 * schema, so one run of `validate` reports everything. Checks under a path the schema
 * already rejected are dropped (they would repeat it), and a shape the normalizer cannot
 * walk ends the search: the schema's issues say why.
 */
function semanticIssuesBeside(src: SourceDocument, now: Date, schema: readonly FileIssue[]): FileIssue[] {
  try {
    normalize(src, now)
    return []
  } catch (error) {
    if (!(error instanceof InvalidFileError)) return []
    const rejected = schema.map((i) => i.path)
    const covered = (path: string): boolean => rejected.some((r) => path === r || path.startsWith(r + '/') || r === '')
    return error.issues.filter((i) => !covered(i.path))
  }
}

/** Raw shape after schema validation (types guaranteed by the schema). */
interface RawAcceleratorFilter {
  name?: string | string[]
  vendor?: string | string[]
  memory?: string | number
  count?: string | number
}
type RawAccelerators = string | RawAcceleratorFilter | Array<string | RawAcceleratorFilter>
interface RawJob {
  name: string
  resources?: {
    accelerators?: RawAccelerators
    accelerator_order?: 'ordered' | 'any'
    runtimes?: Runtime[]
    cpus?: string | number
    memory?: string | number
    disk?: string | number
    interconnect?: 'required' | 'preferred' | 'any'
  }
  nodes?: number
  compat?: CompatName | CompatName[]
  spot?: JobSpec['spot']
  work?: {reference?: string; hours: number}
  throughput?: Record<string, number>
  deadline?: string
  budget?: string | number | {amount: number; currency?: string}
  max_price?: string | number | {amount: number; currency?: string}
  placement?: {providers?: string[] | {allow?: string[]; deny?: string[]}; regions?: string[] | {allow?: string[]; deny?: string[]}}
  data?: Array<{uri?: string; location: string; size: string | number}>
  image?: string
  envs?: Record<string, string | number | boolean>
  secrets?: string[]
  setup?: string
  run: string
  workdir?: string
  files?: Record<string, RawFileValue>
  mounts?: Record<string, RawMountValue>
  outputs?: Record<string, RawOutputValue>
  checkpoint?: {dir?: string; interval?: string; store?: {url: string; region: string; endpoint?: string; sync_interval?: string}}
  recovery?: {
    strategy?: RecoveryStrategy
    max_restarts?: number
    restart_on_exit_codes?: number[]
    max_restarts_on_errors?: number
    grace?: string
    signal?: JobSpec['recovery']['signal']
  }
  idle_timeout?: string
  usage?: {sample_interval?: string; idle?: {below: string | number; for: string; action?: IdlePolicy['action']}}
  objective?: JobSpec['objective']
  matrix?: Record<string, Array<string | number | boolean>>
  service?: RawService
}

interface RawService {
  port: number
  readiness?: {path?: string; initial_delay?: string; timeout?: string}
  replicas?: number | {min: number; max: number; target_qps_per_replica?: number}
  upscale_delay?: string
  downscale_delay?: string
  spot?: {base_on_demand?: number; spread?: 'zones' | 'providers' | 'none'}
  slo?: {p95_latency?: string}
  api_key_env?: string
  host?: string
  lb_port?: number
}

const DEFAULT_GRACE_SECONDS = 30
const DEFAULT_IDLE_TIMEOUT_SECONDS = 60
const DEFAULT_MAX_RESTARTS = 3

function normalize(src: SourceDocument, now: Date): JobSpec {
  const raw = src.value as RawJob
  const issues: FileIssue[] = []
  const registry = loadRegistry()

  /** Runs a parser; on failure records an issue at `path` and returns undefined. */
  const at = <T>(path: Array<string | number>, fn: () => T): T | undefined => {
    try {
      return fn()
    } catch (error) {
      if (error instanceof FieldError || error instanceof UnitError || error instanceof FilesFieldError) {
        issues.push({
          file: src.file,
          ...locate(src, path),
          path: pointer(path),
          message: error.message,
          ...((error instanceof FieldError || error instanceof FilesFieldError) && error.suggestion ? {suggestion: error.suggestion} : {}),
        })
        return undefined
      }
      throw error
    }
  }

  const resolveName = (name: string): Accelerator => {
    const acc = registry.resolve(name)
    if (!acc) throw new FieldError(`unknown accelerator "${name}"; see \`skyhop accelerators\` for the list`, registry.suggest(name))
    return acc
  }

  /** resolveName for resources.accelerators, where a misspelt `auto` is likelier meant than the nearest accelerator. */
  const resolveRequested = (name: string): Accelerator => {
    if (registry.resolve(name) !== undefined || !didYouMean(name, [AUTO])) return resolveName(name)
    throw new FieldError(`unknown accelerator "${name}"; write \`auto\` to let skyhop choose from the job's earlier runs`, AUTO)
  }

  const res = raw.resources ?? {}
  const accelerators: AcceleratorRequest[] = []
  // `auto` stands alone: beside alternatives it would mean nothing they do not already say.
  const isAuto = (v: unknown): boolean => typeof v === 'string' && v.trim().toLowerCase() === AUTO
  const auto = isAuto(res.accelerators)
  if (auto) accelerators.push(AUTO_REQUEST)
  else if (Array.isArray(res.accelerators) && res.accelerators.some(isAuto)) {
    at(['resources', 'accelerators', res.accelerators.findIndex(isAuto)], () => {
      throw new FieldError('`auto` lets skyhop choose the accelerators and cannot be one of a list: write `accelerators: auto` alone')
    })
  } else if (res.accelerators !== undefined) {
    const list = Array.isArray(res.accelerators) ? res.accelerators : [res.accelerators]
    list.forEach((item, i) => {
      const path = Array.isArray(res.accelerators) ? ['resources', 'accelerators', i] : ['resources', 'accelerators']
      const request = typeof item === 'string' ? at(path, () => parseAcceleratorText(item, resolveRequested)) : parseFilter(item, path)
      if (request) accelerators.push(request)
    })
  }

  function parseFilter(f: RawAcceleratorFilter, path: Array<string | number>): AcceleratorRequest | undefined {
    let ok = true
    const names =
      f.name === undefined
        ? null
        : (Array.isArray(f.name) ? f.name : [f.name]).map((n, i) => {
            const r = at(Array.isArray(f.name) ? [...path, 'name', i] : [...path, 'name'], () => resolveName(n).name)
            if (r === undefined) ok = false
            return r ?? n
          })
    const vendors =
      f.vendor === undefined
        ? null
        : (Array.isArray(f.vendor) ? f.vendor : [f.vendor]).map((v, i) => {
            const known = registry.vendors()
            const lower = v.toLowerCase().replace(/[\s_-]/g, '')
            if (!known.includes(lower)) {
              at(Array.isArray(f.vendor) ? [...path, 'vendor', i] : [...path, 'vendor'], () => {
                throw new FieldError(`unknown vendor "${v}"; known vendors: ${known.join(', ')}`, didYouMean(v, known))
              })
              ok = false
            }
            return lower
          })
    const memoryGB = f.memory === undefined ? null : at([...path, 'memory'], () => parseMemoryRange(f.memory!))
    const count = f.count === undefined ? {min: 1, max: 1} : at([...path, 'count'], () => parseCountRange(f.count!))
    if (!ok || memoryGB === undefined || count === undefined) return undefined
    // As a person would write it in a message ("any Nvidia accelerator with 40GB.. memory ×1..8"), not JSON.
    const what = names ? names.join(' or ') : vendors ? `any ${vendors.join(' or ')} accelerator` : 'any accelerator'
    const text = `${what}${f.memory === undefined ? '' : ` with ${String(f.memory)} memory`}${f.count === undefined ? '' : ` ×${String(f.count)}`}`
    return {names, vendors, memoryGB, count, text}
  }

  const runtimes = res.runtimes ?? null
  if (runtimes && accelerators.length > 0 && !auto) {
    // A request that can only be met by hardware whose runtime the job cannot use is a
    // contradiction in the file, better reported now than as "no feasible plan" later.
    accelerators.forEach((req, i) => {
      if (!req.names) return
      const usable = req.names.filter((n) => runtimes.includes(registry.resolve(n)!.runtime))
      if (usable.length === 0) {
        const path = Array.isArray(res.accelerators) ? ['resources', 'accelerators', i] : ['resources', 'accelerators']
        at(path, () => {
          const rts = [...new Set(req.names!.map((n) => registry.resolve(n)!.runtime))]
          throw new FieldError(`${req.text} runs ${rts.join('/')}, but resources.runtimes allows only ${runtimes.join(', ')}`)
        })
      }
    })
  }

  const cpus = res.cpus === undefined ? null : at(['resources', 'cpus'], () => parseCountAtLeast(res.cpus!))
  const memoryGB = res.memory === undefined ? null : at(['resources', 'memory'], () => parseSizeAtLeast(res.memory!))
  const diskGB = res.disk === undefined ? null : at(['resources', 'disk'], () => parseSizeGB(res.disk!))

  let work: JobSpec['work'] = null
  if (raw.work) {
    const reference: AcceleratorConfig | null | undefined =
      raw.work.reference === undefined
        ? null
        : at(['work', 'reference'], () => {
            const r = parseAcceleratorText(raw.work!.reference!, resolveName)
            if (r.count.min !== r.count.max)
              throw new FieldError('the reference must be one configuration with an exact count, e.g. A100-80GB:8')
            return {name: r.names![0], count: r.count.min}
          })
    if (reference !== undefined) work = {reference, hours: raw.work.hours}
  }

  let throughput: Record<string, number> | null = null
  if (raw.throughput) {
    throughput = {}
    for (const [name, value] of Object.entries(raw.throughput)) {
      const acc = at(['throughput', name], () => resolveName(name))
      if (acc) throughput[acc.name] = value
    }
  }

  const deadlineMs = raw.deadline === undefined ? null : at(['deadline'], () => parseDeadline(raw.deadline!, now))
  if (deadlineMs != null && deadlineMs <= now.getTime()) {
    at(['deadline'], () => {
      throw new FieldError(`deadline ${new Date(deadlineMs).toISOString()} is in the past (now is ${now.toISOString()})`)
    })
  }

  const money = (key: 'budget' | 'max_price'): Money | null | undefined =>
    raw[key] === undefined ? null : at([key], () => parseMoney(raw[key]!))
  const budget = money('budget')
  const maxPrice = money('max_price')

  const allowDeny = (v: string[] | {allow?: string[]; deny?: string[]} | undefined) =>
    v === undefined ? {allow: null, deny: []} : Array.isArray(v) ? {allow: v, deny: []} : {allow: v.allow ?? null, deny: v.deny ?? []}

  const data: DataSource[] = (raw.data ?? []).flatMap((d, i) => {
    const sizeGB = at(['data', i, 'size'], () => parseSizeGB(d.size))
    if (sizeGB === undefined) return []
    const [provider, region] = d.location.split('/')
    return [{uri: d.uri ?? null, provider, region: region ?? null, sizeGB}]
  })

  const duration = (path: string[], v: string | undefined): number | null | undefined =>
    v === undefined ? null : at(path, () => parseDurationSeconds(v))
  const checkpointInterval = duration(['checkpoint', 'interval'], raw.checkpoint?.interval)
  const storeSync = duration(['checkpoint', 'store', 'sync_interval'], raw.checkpoint?.store?.sync_interval)
  const grace = duration(['recovery', 'grace'], raw.recovery?.grace)
  const idle = duration(['idle_timeout'], raw.idle_timeout)
  const sampleInterval =
    raw.usage?.sample_interval === undefined || raw.usage.sample_interval === 'off'
      ? null
      : duration(['usage', 'sample_interval'], raw.usage.sample_interval)
  const idleFor = raw.usage?.idle ? duration(['usage', 'idle', 'for'], raw.usage.idle.for) : null

  // No process environment can hold a NUL: caught here, not at launch after a job was recorded.
  for (const [k, v] of Object.entries(raw.envs ?? {})) {
    if (typeof v === 'string' && v.includes('\0'))
      at(['envs', k], () => {
        throw new FieldError('contains a NUL character (\\u0000), which an environment variable cannot hold')
      })
  }

  const image =
    raw.image === undefined
      ? null
      : at(['image'], () => {
          try {
            return classifyImage(raw.image!)
          } catch (error) {
            if (error instanceof ImageReferenceError) throw new FieldError(error.message)
            throw error
          }
        })
  const container: ContainerImage | null = image?.kind === 'container' ? image.image : null
  const workdir = raw.workdir === undefined ? null : (at(['workdir'], () => workdirPath(src.file, raw.workdir!)) ?? null)
  const service = raw.service === undefined ? null : normalizeService(raw.service, at, raw)
  const filesContext = {file: src.file, checkpointDir: raw.checkpoint?.dir ?? null, workdir}
  const files = raw.files === undefined && raw.mounts === undefined ? [] : normalizeFiles(raw, filesContext, at)
  // A bucket source with its region and size counts as data: does (egress cost, transfer time).
  for (const section of ['files', 'mounts'] as const) {
    Object.entries(raw[section] ?? {}).forEach(([dest, given]) => {
      const entry = files.find((f) => f.path === posix.normalize(dest).replace(/\/+$/, ''))
      if (entry?.source.kind !== 'bucket' || typeof given !== 'object' || given.size === undefined) return
      const sizeGB = at([section, dest, 'size'], () => parseSizeGB(given.size!))
      if (sizeGB === undefined) return
      const {scheme, bucket, key, region} = entry.source
      data.push({uri: `${scheme}://${bucket}/${key}`, provider: BUCKET_CLOUD[scheme], region, sizeGB})
    })
  }
  const outputs = raw.outputs === undefined ? [] : normalizeOutputs(raw.outputs, at)

  if (issues.length > 0) throw new InvalidFileError(sortIssues(issues), {code: ERROR_CODE})

  const envs: Record<string, string> = {}
  for (const [k, v] of Object.entries(raw.envs ?? {})) envs[k] = String(v)

  const restartOnExitCodes = raw.recovery?.restart_on_exit_codes ?? []
  return {
    name: raw.name,
    resources: {
      accelerators,
      acceleratorOrder: res.accelerator_order ?? 'any',
      runtimes: runtimes ? [...runtimes] : null,
      cpus: cpus as Quantity | null,
      memoryGB: memoryGB as Quantity | null,
      diskGB: diskGB as number | null,
      // Only when written, so specs of jobs that never say stay as they were.
      ...(res.interconnect === undefined ? {} : {interconnect: res.interconnect}),
      ...(auto ? {auto: {choice: null}} : {}),
    },
    spot: raw.spot ?? 'on-demand',
    work,
    throughput,
    deadline: deadlineMs == null ? null : new Date(deadlineMs).toISOString(),
    budget: budget ?? null,
    maxPrice: maxPrice ?? null,
    placement: {providers: allowDeny(raw.placement?.providers), regions: allowDeny(raw.placement?.regions)},
    data,
    image: raw.image ?? null,
    container,
    envs,
    secrets: raw.secrets ?? [],
    setup: raw.setup ?? null,
    run: raw.run,
    workdir,
    ...(files.length === 0 ? {} : {files}),
    ...(outputs.length === 0 ? {} : {outputs}),
    checkpoint: {
      dir: raw.checkpoint?.dir ?? null,
      intervalSeconds: checkpointInterval ?? null,
      store: raw.checkpoint?.store
        ? {
            url: raw.checkpoint.store.url,
            region: raw.checkpoint.store.region,
            endpoint: raw.checkpoint.store.endpoint ?? null,
            syncIntervalSeconds: storeSync ?? null,
          }
        : null,
    },
    recovery: {
      strategy: raw.recovery?.strategy ?? 'eager-next-region',
      maxRestarts: raw.recovery?.max_restarts ?? DEFAULT_MAX_RESTARTS,
      restartOnExitCodes,
      maxRestartsOnErrors: raw.recovery?.max_restarts_on_errors ?? (restartOnExitCodes.length > 0 ? DEFAULT_MAX_RESTARTS : 0),
      graceSeconds: grace ?? DEFAULT_GRACE_SECONDS,
      signal: raw.recovery?.signal ?? 'SIGTERM',
    },
    idleTimeoutSeconds: idle ?? DEFAULT_IDLE_TIMEOUT_SECONDS,
    objective: raw.objective ?? 'cost',
    matrix: raw.matrix ?? null,
    nodes: raw.nodes ?? 1,
    compat: raw.compat === undefined ? [] : Array.isArray(raw.compat) ? raw.compat : [raw.compat],
    ...(raw.usage === undefined ? {} : {usage: usageSpec(raw.usage, sampleInterval ?? null, idleFor ?? null)}),
    ...(service ? {service} : {}),
  }
}

const DEFAULT_READINESS_DELAY_SECONDS = 20 * 60
const DEFAULT_PROBE_TIMEOUT_SECONDS = 5
const DEFAULT_UPSCALE_DELAY_SECONDS = 30
const DEFAULT_DOWNSCALE_DELAY_SECONDS = 5 * 60

/**
 * The `service:` block: durations typed, replicas as bounds. What the schema cannot say (min
 * above max, a floor of on-demand replicas above the most replicas, a service with a matrix
 * or a gang) is a located error here. Returns undefined when an issue was recorded.
 */
function normalizeService(
  s: RawService,
  at: <T>(path: Array<string | number>, fn: () => T) => T | undefined,
  raw: RawJob,
): ServiceSpec | undefined {
  const fail = (path: Array<string | number>, message: string): undefined =>
    at(path, () => {
      throw new FieldError(message)
    })
  const duration = (key: string, v: string | undefined, fallback: number, path: Array<string | number>): number | undefined =>
    v === undefined ? fallback : at(['service', ...path, key], () => parseDurationSeconds(v))
  const initialDelay = duration('initial_delay', s.readiness?.initial_delay, DEFAULT_READINESS_DELAY_SECONDS, ['readiness'])
  const timeout = duration('timeout', s.readiness?.timeout, DEFAULT_PROBE_TIMEOUT_SECONDS, ['readiness'])
  const up = duration('upscale_delay', s.upscale_delay, DEFAULT_UPSCALE_DELAY_SECONDS, [])
  const down = duration('downscale_delay', s.downscale_delay, DEFAULT_DOWNSCALE_DELAY_SECONDS, [])
  const p95 =
    s.slo?.p95_latency === undefined ? null : at(['service', 'slo', 'p95_latency'], () => parseDurationSeconds(s.slo!.p95_latency!))
  const r = s.replicas ?? 1
  const replicas =
    typeof r === 'number'
      ? {min: r, max: r, targetQpsPerReplica: null}
      : {min: r.min, max: r.max, targetQpsPerReplica: r.target_qps_per_replica ?? null}
  let ok = true
  if (replicas.min > replicas.max)
    ok = fail(['service', 'replicas', 'min'], `min (${replicas.min}) is above max (${replicas.max})`) ?? false
  if (typeof r === 'object' && r.min !== r.max && replicas.targetQpsPerReplica === null)
    ok =
      fail(['service', 'replicas'], 'a range of replicas needs target_qps_per_replica: the request rate one replica should take') ?? false
  const baseOnDemand = s.spot?.base_on_demand ?? 0
  if (baseOnDemand > replicas.max)
    ok =
      fail(['service', 'spot', 'base_on_demand'], `${baseOnDemand} on-demand replicas is more than the most replicas (${replicas.max})`) ??
      false
  if (raw.matrix !== undefined) ok = fail(['service'], 'a service cannot have a matrix: each combination would be its own service') ?? false
  if ((raw.nodes ?? 1) > 1) ok = fail(['service'], 'a service replica is one node; remove nodes or set it to 1') ?? false
  // An output is uploaded at a run's end and each checkpoint save, to one object per path: a
  // service's replicas are many at once and run until stopped, so they would overwrite each
  // other's archive and have no end to upload at.
  if (Object.keys(raw.outputs ?? {}).length > 0)
    ok =
      fail(
        ['outputs'],
        "a service cannot have outputs: its replicas run side by side until stopped, so each would overwrite the others' archive and none has an end to upload at; have the server write what it keeps to a bucket itself, or run the work as a job (skyhop launch)",
      ) ?? false
  if (!ok || initialDelay === undefined || timeout === undefined || up === undefined || down === undefined || p95 === undefined)
    return undefined
  return {
    port: s.port,
    readiness: {path: s.readiness?.path ?? '/', initialDelaySeconds: initialDelay, timeoutSeconds: timeout},
    replicas,
    upscaleDelaySeconds: up,
    downscaleDelaySeconds: down,
    spot: {baseOnDemand, spread: s.spot?.spread ?? 'zones'},
    slo: p95 === null ? null : {p95LatencySeconds: p95},
    apiKeyEnv: s.api_key_env ?? null,
    host: s.host ?? '127.0.0.1',
    lbPort: s.lb_port ?? 0,
  }
}

/** The job file's `usage:` (schema-checked; durations parsed by the caller). */
function usageSpec(raw: NonNullable<RawJob['usage']>, sampleInterval: number | null, idleFor: number | null): UsageSpec {
  const idle = raw.idle
  return {
    sampleIntervalSeconds: raw.sample_interval === 'off' ? 0 : sampleInterval,
    idle:
      idle && idleFor !== null
        ? {
            belowPct: typeof idle.below === 'number' ? idle.below : Number(idle.below.replace('%', '').trim()),
            forSeconds: idleFor,
            action: idle.action ?? 'warn',
          }
        : null,
  }
}

/**
 * The job's code: a local directory, relative to the job file's own directory. Checked here,
 * at validate, so a typo is a located error (exit 3) rather than a launch that packs nothing.
 */
function workdirPath(file: string, value: string): string {
  const path = resolve(dirname(resolve(file)), value)
  let stats
  try {
    stats = statSync(path)
  } catch {
    throw new FieldError(`workdir ${value} does not exist (looked for ${path})`)
  }
  if (!stats.isDirectory()) throw new FieldError(`workdir ${value} is not a directory (${path})`)
  return path
}

/** An error in one field's value, with an optional "did you mean". */
export class FieldError extends Error {
  constructor(
    message: string,
    readonly suggestion?: string,
  ) {
    super(message)
  }
}

/**
 * `H100:8`, `H100` (one device), `A100,H100:8` (either, 8 of them), `Ascend910B:2+`,
 * `MLU370:1..4`. Names are resolved through the registry's aliases.
 */
export function parseAcceleratorText(text: string, resolve: (name: string) => Accelerator): AcceleratorRequest {
  const s = text.trim()
  const colon = s.lastIndexOf(':')
  const namePart = colon === -1 ? s : s.slice(0, colon)
  const countPart = colon === -1 ? '1' : s.slice(colon + 1)
  if (namePart.trim() === '') throw new FieldError(`"${text}" has no accelerator name; expected e.g. H100:8`)
  let count
  try {
    count = parseCountRange(countPart)
  } catch (error) {
    throw new FieldError(`in "${text}": ${(error as Error).message}; expected NAME:COUNT like H100:8`)
  }
  const names = [...new Set(namePart.split(',').map((n) => resolve(n.trim()).name))]
  return {names, vendors: null, memoryGB: null, count, text: s}
}
