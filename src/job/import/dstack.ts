// dstack run configuration (task, service, dev-environment) → skyhop job
// (https://dstack.ai/docs/reference/dstack.yml/; models: dstackai/dstack
// src/dstack/_internal/core/models/{configurations,profiles,resources}.py). The keys with
// no skyhop key are the table below, each with why; the rest is mapped by the code after it.
import type {AcceleratorRegistry} from '../../catalog/accelerators.js'
import {UnitError, parseDurationSeconds, parseSizeGB} from '../../model/units.js'
import {
  COMPAT_VARIABLES,
  Draft,
  type KeyRule,
  PROVIDER_IDS,
  importWorkdir,
  isMap,
  jobName,
  resolveAccelerator,
  unsetToolVariables,
} from './common.js'
import {DSTACK_RUN_TYPES} from './detect.js'
import {importDstackFiles} from './files.js'
import {ImportRefusal} from './types.js'

const TOP: Record<string, KeyRule> = {
  docker: ['not-yet-supported', 'container runtimes are being designed with images (issue #19)'],
  python: ['no-equivalent', "dstack picks a Python image by version; skyhop runs on the machine's own Python"],
  nvcc: ['no-equivalent', "dstack picks an image with the CUDA compiler; skyhop runs on the machine's own software"],
  volumes: ['not-yet-supported', 'volumes are being designed with mounts (issue #19)'],
  working_dir: ['no-equivalent', 'setup and run start in the workdir (the code); `cd` elsewhere in the commands'],
  registry_auth: ['not-yet-supported', 'registry credentials come with container images (issue #19)'],
  user: ['no-equivalent', "the job runs as the machine's user"],
  privileged: ['no-equivalent', 'skyhop runs containers unprivileged, with only the accelerators passed through'],
  entrypoint: ['no-equivalent', "skyhop runs the job's setup and run in the container, not the image's entrypoint"],
  shell: ['no-equivalent', 'skyhop runs setup and run with bash'],
  home_dir: ['no-equivalent', 'internal dstack key'],
  single_branch: ['no-equivalent', 'skyhop clones no repository'],
  ports: ['no-equivalent', 'skyhop forwards no ports'],
  port: ['no-equivalent', 'skyhop runs the command as a batch job and publishes no endpoint'],
  gateway: ['no-equivalent', 'skyhop has no gateway'],
  https: ['no-equivalent', 'skyhop publishes no endpoint'],
  auth: ['no-equivalent', 'skyhop publishes no endpoint'],
  model: ['no-equivalent', 'skyhop has no model registry'],
  strip_prefix: ['no-equivalent', 'skyhop publishes no endpoint'],
  scaling: ['no-equivalent', 'skyhop runs one replica'],
  replicas: ['no-equivalent', 'skyhop runs one replica'],
  rate_limits: ['no-equivalent', 'skyhop publishes no endpoint'],
  probes: ['no-equivalent', 'skyhop has no readiness probes'],
  router: ['no-equivalent', 'skyhop publishes no endpoint'],
  groups: ['no-equivalent', 'skyhop gangs have one node shape'],
  ide: ['no-equivalent', 'skyhop cannot attach an IDE: the job holds the machine until you `skyhop cancel` it'],
  version: ['no-equivalent', 'skyhop installs no IDE'],
  inactivity_duration: ['no-equivalent', 'skyhop cannot see IDE activity; cancel the job when done'],
  availability_zones: ['no-equivalent', 'skyhop places jobs by provider and region, not zone'],
  instance_types: ['no-equivalent', 'skyhop chooses the instance from the resources'],
  reservation: ['no-equivalent', 'skyhop does not use capacity reservations'],
  max_duration: ['no-equivalent', 'skyhop does not stop a job after a time; `deadline` only guides the planner'],
  creation_policy: ['no-equivalent', 'skyhop always provisions what it plans'],
  termination_policy: ['no-equivalent', 'skyhop releases machines by idle_timeout'],
  utilization_policy: ['no-equivalent', 'skyhop does not watch GPU utilization'],
  startup_order: ['no-equivalent', "skyhop starts a gang's nodes together"],
  stop_criteria: ['no-equivalent', 'a skyhop gang ends with its head node'],
  schedule: ['no-equivalent', 'skyhop has no scheduled runs'],
  fleets: ['no-equivalent', 'skyhop has no fleets'],
  instances: ['no-equivalent', 'skyhop has no fleets'],
  tags: ['no-equivalent', 'skyhop sets no instance tags'],
  backend_options: ['no-equivalent', 'skyhop has no per-backend options in a job'],
  priority: ['no-equivalent', 'skyhop has no job priorities'],
  dstack: ['no-equivalent', 'internal dstack key'],
  setup: ['approximated', 'deprecated dstack key; written as skyhop setup'],
}
const TOP_MAPPED = [
  'files',
  'type',
  'name',
  'commands',
  'init',
  'env',
  'resources',
  'nodes',
  'spot_policy',
  'retry',
  'max_price',
  'idle_duration',
  'termination_idle_time',
  'stop_duration',
  'backends',
  'regions',
  'setup',
  'image',
  'repos',
]
const RESOURCES: Record<string, KeyRule> = {
  shm_size: ['no-equivalent', "skyhop sets no shared-memory size on a container: the runtime's default applies"],
}
const VENDORS: Record<string, string> = {nvidia: 'nvidia', amd: 'amd', google: 'google', tpu: 'google', intel: 'intel'}

/**
 * `repos`: the first local directory (`..`, `../code:/repo`, `{local_path: ..}`) becomes the
 * workdir; a remote repository has no equivalent (skyhop uploads code, it clones nothing).
 */
function mapRepos(repos: unknown, file: string, draft: Draft): void {
  if (repos === undefined || repos === null) return
  const list = Array.isArray(repos) ? repos : [repos]
  let mapped = false
  list.forEach((entry, i) => {
    const remote = (url: string) => /^[a-z][a-z0-9+.-]*:\/\/|^[^/\s]+@[^/\s]+:/i.test(url)
    let local: string | null = null
    if (typeof entry === 'string') local = remote(entry) ? null : entry.split(':')[0]
    else if (isMap(entry) && typeof entry.local_path === 'string') local = entry.local_path
    if (local === null || local.trim() === '') {
      draft.note(['repos', i], 'no-equivalent', 'a remote repository is not uploaded: clone it in `setup`')
    } else if (mapped) {
      draft.note(['repos', i], 'no-equivalent', 'skyhop has one workdir; the first local repository is it')
    } else {
      importWorkdir(local, file, draft, ['repos', i])
      mapped = true
    }
  })
}

export function importDstack(value: Record<string, unknown>, file: string, registry: AcceleratorRegistry, draft: Draft): string {
  const type = typeof value.type === 'string' ? value.type : 'task'
  if (!DSTACK_RUN_TYPES.includes(type))
    throw new ImportRefusal(
      `a dstack ${type} configuration describes no job; skyhop import converts run configurations (${DSTACK_RUN_TYPES.join(', ')})`,
      '/type',
    )
  const job = draft.job
  const {name, changed} = jobName(value.name, file)
  job.name = name
  if (changed) draft.note(['name'], 'approximated', `"${String(value.name)}" is not a skyhop job name; written as "${name}"`)
  job.compat = 'dstack'
  if (typeof value.nodes === 'number' && Number.isInteger(value.nodes) && value.nodes > 1) job.nodes = value.nodes

  if (isMap(value.resources)) mapResources(value.resources, registry, draft)
  mapEnv(value, draft)
  const secrets = (job.secrets as string[] | undefined) ?? []

  const setup = commandList(value.setup, ['setup'], draft, secrets)
  if (setup) job.setup = setup
  if (type === 'dev-environment') {
    const init = commandList(value.init, ['init'], draft, secrets)
    // A dev environment is a machine kept for you: its `init`, then held until cancelled.
    job.run = init ? `${init} && sleep infinity` : 'sleep infinity'
    draft.note(
      ['type'],
      'approximated',
      'a dev environment: the job runs `init` and then holds the machine (sleep infinity) until you `skyhop cancel` it',
    )
  } else {
    const run = commandList(value.commands, ['commands'], draft, secrets)
    if (!run)
      throw new ImportRefusal(
        `the ${type} has no \`commands\` (it runs its image's entrypoint); skyhop needs a command to run`,
        '/commands',
      )
    job.run = run
  }
  if (secrets.length > 0) job.secrets = [...new Set(secrets)]

  mapRepos(value.repos, file, draft)
  importDstackFiles(value.files, file, draft)
  mapProfile(value, draft)
  draft.noteTable([], value, TOP, TOP_MAPPED)

  const script = `${job.setup ?? ''}\n${job.run as string}`
  const envNames = Object.keys((job.envs as Record<string, unknown>) ?? {}).concat(secrets)
  for (const v of unsetToolVariables(script, ['DSTACK_'], COMPAT_VARIABLES.dstack, envNames))
    draft.note(
      [type === 'dev-environment' ? 'init' : 'commands'],
      'no-equivalent',
      `the job reads $${v}, which dstack sets and skyhop does not (compat: dstack sets ${COMPAT_VARIABLES.dstack.join(', ')})`,
    )
  return type
}

/**
 * dstack joins commands with ` && ` (a background `cmd &` becomes `{ cmd & }`), so the
 * first failure ends the run; kept that way, one command per line. `${{ … }}` are dstack's
 * own interpolations: `${{ env.X }}`/`${{ secrets.X }}` become `${X}`, `${{ run.args }}` nothing.
 */
function commandList(value: unknown, path: string[], draft: Draft, secrets: string[]): string | undefined {
  if (value === undefined) return undefined
  const list = typeof value === 'string' ? [value] : Array.isArray(value) ? value.map(String) : []
  const commands = list.map((c) => c.trim()).filter((c) => c !== '')
  if (commands.length === 0) return undefined
  const joined = commands.map((c) => (c.endsWith('&') && !c.endsWith('&&') ? `{ ${c} }` : c)).join(' &&\n')
  return joined.replace(/\$\{\{\s*([a-z_]+)\.?([A-Za-z0-9_]*)\s*\}\}/g, (whole, scope: string, name: string) => {
    if ((scope === 'env' || scope === 'secrets') && name) {
      if (scope === 'secrets') secrets.push(name)
      return `\${${name}}`
    }
    draft.note(path, 'no-equivalent', `${whole} is dstack's interpolation (run arguments); skyhop has none, so it was removed`)
    return ''
  })
}

function mapEnv(value: Record<string, unknown>, draft: Draft): void {
  const envs: Record<string, unknown> = {}
  const secrets: string[] = []
  const add = (k: string, v: unknown, path: Array<string | number>) => {
    if (v === undefined || v === null) {
      // dstack takes a name without a value from the environment where you run `dstack apply`.
      secrets.push(k)
      draft.note(
        path,
        'approximated',
        'no value in the file (dstack takes it from your environment): a secret in skyhop, taken from your environment at launch',
      )
    } else envs[k] = v
  }
  if (Array.isArray(value.env)) {
    value.env.forEach((item, i) => {
      const s = String(item)
      const eq = s.indexOf('=')
      if (eq === -1) add(s, undefined, ['env', i])
      else add(s.slice(0, eq), s.slice(eq + 1), ['env', i])
    })
  } else if (isMap(value.env)) {
    for (const [k, v] of Object.entries(value.env)) add(k, v, ['env', k])
  }
  if (Object.keys(envs).length > 0) draft.job.envs = envs
  if (secrets.length > 0) draft.job.secrets = secrets
}

/** A dstack range (`8`, `2..8`, `16GB..`, `..80GB`, {min, max}) as text bounds. */
function range(v: unknown): {min?: string; max?: string} | undefined {
  if (typeof v === 'number') return {min: String(v), max: String(v)}
  if (typeof v === 'string') {
    const s = v.replace(/\s/g, '')
    if (!s.includes('..')) return {min: s, max: s}
    const [lo, hi] = s.split('..')
    return {...(lo ? {min: lo} : {}), ...(hi ? {max: hi} : {})}
  }
  if (isMap(v)) return {...(v.min != null ? {min: String(v.min)} : {}), ...(v.max != null ? {max: String(v.max)} : {})}
  return undefined
}

function mapResources(res: Record<string, unknown>, registry: AcceleratorRegistry, draft: Draft): void {
  const out = draft.resources()
  if (res.cpu !== undefined) {
    let spec: unknown = res.cpu
    if (typeof spec === 'string' && /[a-z]/i.test(spec)) {
      const tokens = spec.replace(/\s/g, '').split(':')
      const arch = tokens.find((t) => /[a-z]/i.test(t))
      draft.note(['resources', 'cpu'], 'no-equivalent', `skyhop does not choose a CPU architecture ("${arch}" left out)`)
      spec = tokens.find((t) => !/[a-z]/i.test(t))
    } else if (isMap(spec) && 'count' in spec) {
      if (spec.arch !== undefined) draft.note(['resources', 'cpu', 'arch'], 'no-equivalent', 'skyhop does not choose a CPU architecture')
      spec = spec.count
    }
    const r = spec === undefined ? undefined : range(spec)
    if (r?.min !== undefined) out.cpus = r.min === r.max ? r.min : `${r.min}+`
    if (r?.max !== undefined && r.max !== r.min)
      draft.note(['resources', 'cpu'], 'approximated', `skyhop asks for at least ${r.min ?? 1} CPUs; the upper bound ${r.max} is left out`)
  }
  if (res.memory !== undefined) {
    const r = range(res.memory)
    if (r?.min !== undefined) out.memory = r.min === r.max ? sizeText(r.min) : `${sizeText(r.min)}+`
    if (r?.max !== undefined && r.max !== r.min)
      draft.note(['resources', 'memory'], 'approximated', `skyhop asks for at least the lower bound; the upper bound ${r.max} is left out`)
  }
  if (res.disk !== undefined) {
    const size = isMap(res.disk) ? res.disk.size : res.disk
    const r = range(size)
    if (r?.min !== undefined) {
      out.disk = sizeText(r.min)
      if (r.max !== r.min)
        draft.note(['resources', 'disk'], 'approximated', `written as ${out.disk as string}, the lower bound of the range`)
    } else draft.note(['resources', 'disk'], 'no-equivalent', 'a disk with only an upper bound cannot be asked for; left out')
  }
  if (res.gpu !== undefined) {
    const acc = gpuRequest(res.gpu, registry, draft)
    if (acc !== undefined) out.accelerators = acc
  }
  draft.noteTable(['resources'], res, RESOURCES, ['cpu', 'memory', 'disk', 'gpu'])
  if (Object.keys(out).length === 0) delete draft.job.resources
}

function sizeText(s: string): string {
  return /^\d+(\.\d+)?$/.test(s) ? `${s}GB` : s
}

/** dstack's GPU spec (`24GB..80GB:2`, `A100:2`, `nvidia`, `H100,H200:1..8`, {vendor, name, memory, count}) → a skyhop request. */
function gpuRequest(gpu: unknown, registry: AcceleratorRegistry, draft: Draft): unknown {
  const path = ['resources', 'gpu']
  let spec: {vendor?: string; names?: string[]; memory?: unknown; count?: unknown} = {}
  if (typeof gpu === 'number' || typeof gpu === 'string') {
    // The same token rules as dstack's GPUSpec.parse: a vendor, a name (starts with a
    // letter), a memory (has a unit letter), else a count.
    for (const token of String(gpu).replace(/\s/g, '').split(':')) {
      if (VENDORS[token.toLowerCase()] || token.toLowerCase() === 'tt' || token.toLowerCase() === 'tenstorrent')
        spec.vendor = token.toLowerCase()
      else if (/^[a-z]/i.test(token)) spec.names = token.split(',')
      else if (/[a-z]/i.test(token)) spec.memory = token
      else spec.count = token
    }
  } else if (isMap(gpu)) {
    spec = {
      vendor: typeof gpu.vendor === 'string' ? gpu.vendor.toLowerCase() : undefined,
      names: gpu.name === undefined ? undefined : Array.isArray(gpu.name) ? gpu.name.map(String) : [String(gpu.name)],
      memory: gpu.memory,
      count: gpu.count,
    }
    for (const k of ['total_memory', 'compute_capability'])
      if (k in gpu)
        draft.note([...path, k], 'no-equivalent', `skyhop filters accelerators by name, vendor, memory per device and count, not ${k}`)
  } else return undefined

  const count = range(spec.count ?? 1)
  const countText =
    count === undefined ? '1' : count.min === count.max ? count.min! : `${count.min ?? 1}..${count.max ?? ''}`.replace(/\.\.$/, '+')
  if (count?.min === '0') {
    draft.note(path, 'approximated', 'a GPU count that may be 0: written as a CPU job')
    return undefined
  }
  const memory = spec.memory === undefined ? undefined : range(spec.memory)
  const memoryText =
    memory === undefined
      ? undefined
      : memory.min === memory.max
        ? sizeText(memory.min!)
        : `${memory.min ? sizeText(memory.min) : ''}..${memory.max ? sizeText(memory.max) : ''}`
  const exactGB =
    memory && memory.min === memory.max
      ? (() => {
          try {
            return parseSizeGB(sizeText(memory.min!))
          } catch {
            return undefined
          }
        })()
      : undefined

  let vendor: string | undefined
  if (spec.vendor) {
    vendor = VENDORS[spec.vendor]
    if (!vendor)
      throw new ImportRefusal(`skyhop knows no accelerators from "${spec.vendor}"; see \`skyhop accelerators\``, '/resources/gpu')
  }
  let names: string[] | undefined
  if (spec.names) {
    names = []
    for (const n of spec.names) {
      const resolved = resolveAccelerator(registry, n, exactGB)
      if (resolved) names.push(resolved)
      else
        draft.note(path, 'no-equivalent', `skyhop knows no accelerator "${n}" (see \`skyhop accelerators\`); left out of the alternatives`)
    }
    if (names.length === 0)
      throw new ImportRefusal(
        `none of the GPUs ${spec.names.join(', ')} is one skyhop knows; see \`skyhop accelerators\``,
        '/resources/gpu',
      )
    names = [...new Set(names)]
  }
  // Without a name or vendor, dstack means an NVIDIA GPU.
  if (!names && !vendor) vendor = 'nvidia'
  if (names && memoryText === undefined) return `${names.join(',')}:${countText}`
  return {
    ...(names ? {name: names.length === 1 ? names[0] : names} : {vendor}),
    ...(memoryText ? {memory: memoryText} : {}),
    count: /^\d+$/.test(countText) ? Number(countText) : countText,
  }
}

function mapProfile(value: Record<string, unknown>, draft: Draft): void {
  const job = draft.job
  const spot = value.spot_policy
  if (spot === 'spot' || spot === 'on-demand' || spot === 'auto') job.spot = spot
  else if (spot !== undefined) draft.note(['spot_policy'], 'no-equivalent', `"${String(spot)}" is not a spot policy; left out`)

  const recovery: Record<string, unknown> = {}
  if (value.retry === false) recovery.max_restarts = 0
  else if (value.retry === true || isMap(value.retry)) {
    const events =
      isMap(value.retry) && Array.isArray(value.retry.on_events)
        ? value.retry.on_events.map(String)
        : ['no-capacity', 'interruption', 'error']
    if (events.includes('error'))
      draft.note(
        ['retry'],
        'approximated',
        'skyhop restarts after preemption and lost capacity; to restart on your own failures, list their exit codes in recovery.restart_on_exit_codes',
      )
    if (isMap(value.retry) && value.retry.duration !== undefined)
      draft.note(['retry', 'duration'], 'no-equivalent', 'skyhop limits restarts by count (recovery.max_restarts), not by time')
  }
  if (value.stop_duration !== undefined) {
    const grace = duration(value.stop_duration)
    if (grace) recovery.grace = grace
    else draft.note(['stop_duration'], 'no-equivalent', `"${String(value.stop_duration)}" is not a grace skyhop can use; left out`)
  }
  if (Object.keys(recovery).length > 0) job.recovery = recovery

  // dstack runs every job in a container; an image it names is skyhop's container image.
  if (value.image !== undefined) {
    if (typeof value.image === 'string' && value.image.trim() !== '') job.image = `docker:${value.image.trim()}`
    else draft.note(['image'], 'no-equivalent', 'not an image reference; left out')
  }

  if (value.max_price !== undefined) {
    if (typeof value.max_price === 'number' && value.max_price > 0) {
      job.max_price = `${value.max_price}USD`
      if (job.nodes !== undefined)
        draft.note(['max_price'], 'approximated', 'dstack caps each instance; skyhop caps the whole job per hour')
    } else draft.note(['max_price'], 'no-equivalent', 'not a positive number; left out')
  }
  const idleKey =
    value.idle_duration !== undefined ? 'idle_duration' : value.termination_idle_time !== undefined ? 'termination_idle_time' : undefined
  if (idleKey) {
    const idle = duration(value[idleKey])
    if (idle) job.idle_timeout = idle
    else
      draft.note(
        [idleKey],
        'no-equivalent',
        `"${String(value[idleKey])}" (keep forever) has no skyhop counterpart: skyhop releases a machine once its job ends`,
      )
  }
  const placement: Record<string, unknown> = {}
  if (Array.isArray(value.backends)) {
    const ids: string[] = []
    value.backends.forEach((b, i) => {
      const id = PROVIDER_IDS[String(b).toLowerCase()]
      if (id) ids.push(id)
      else draft.note(['backends', i], 'no-equivalent', `skyhop has no "${String(b)}" provider`)
    })
    if (ids.length > 0) placement.providers = {allow: [...new Set(ids)]}
  }
  if (Array.isArray(value.regions) && value.regions.length > 0) placement.regions = {allow: value.regions.map(String)}
  if (Object.keys(placement).length > 0) job.placement = placement
}

/** dstack durations: seconds as a number, or `30s`, `5m`, `2h`, `1d`; `off`/-1 mean none. */
function duration(v: unknown): string | undefined {
  if (typeof v === 'number') return v > 0 ? `${v}s` : undefined
  if (typeof v !== 'string') return undefined
  try {
    parseDurationSeconds(v)
    return v
  } catch (error) {
    if (error instanceof UnitError) return undefined
    throw error
  }
}
