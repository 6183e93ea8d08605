// SkyPilot task YAML → skyhop job (https://docs.skypilot.co/en/latest/reference/yaml-spec.html,
// schema: skypilot-org/skypilot sky/utils/schemas.py). The keys with no skyhop key are the
// tables below, each with why; the rest is mapped by the code after them.
import type {AcceleratorRegistry} from '../../catalog/accelerators.js'
import {UnitError, parseCountAtLeast, parseSizeAtLeast, parseSizeGB} from '../../model/units.js'
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
import {importSkypilotFileMounts} from './files.js'
import {ImportRefusal} from './types.js'

const TOP: Record<string, KeyRule> = {
  volumes: ['not-yet-supported', 'volumes are being designed with mounts (issue #19)'],
  volume_mounts: ['not-yet-supported', 'volumes are being designed with mounts (issue #19)'],
  service: ['no-equivalent', 'skyhop runs the command as a batch job: no replicas, readiness probe or load balancer (SkyServe)'],
  pool: ['no-equivalent', 'skyhop has no worker pools'],
  config: ['no-equivalent', "SkyPilot's per-task config overrides have no skyhop counterpart; skyhop's config file is its own"],
  event_callback: ['no-equivalent', 'skyhop reports events through `skyhop status` and `logs`, not a callback command'],
  inputs: ['no-equivalent', 'experimental SkyPilot key; declare input data with `data:` for the egress estimate'],
  outputs: ['no-equivalent', 'experimental SkyPilot key'],
  managed_secrets: ['no-equivalent', 'skyhop has no secret store: name the variables in `secrets:` and export them where you launch'],
  file_mounts_mapping: ['no-equivalent', 'internal SkyPilot key'],
  api_server_access: ['no-equivalent', 'skyhop has no API server'],
  _metadata: ['no-equivalent', 'internal SkyPilot key'],
}
const TOP_MAPPED = ['name', 'num_nodes', 'resources', 'setup', 'run', 'envs', 'secrets', 'workdir', 'file_mounts']

const RESOURCES: Record<string, KeyRule> = {
  zone: ['no-equivalent', 'skyhop places jobs by provider and region, not zone'],
  instance_type: ['no-equivalent', 'skyhop chooses the instance from accelerators, cpus and memory'],
  ports: ['no-equivalent', 'skyhop opens no ports on the machine'],
  labels: ['no-equivalent', 'skyhop sets no instance labels'],
  disk_tier: ['no-equivalent', 'skyhop does not choose a disk tier'],
  network_tier: ['no-equivalent', 'skyhop does not choose a network tier'],
  local_disk: ['no-equivalent', 'skyhop does not request local disks'],
  accelerator_args: ['no-equivalent', 'TPU runtime arguments have no skyhop counterpart'],
  priority: ['no-equivalent', 'skyhop has no job priorities'],
  priority_class: ['no-equivalent', 'skyhop has no job priorities'],
  volumes: ['not-yet-supported', 'volumes are being designed with mounts (issue #19)'],
  ephemeral_storage: ['no-equivalent', 'deprecated SkyPilot key (use disk_size)'],
}
const RESOURCES_MAPPED = [
  'accelerators',
  'cpus',
  'memory',
  'disk_size',
  'use_spot',
  'spot_recovery',
  'job_recovery',
  'cloud',
  'region',
  'infra',
  'max_hourly_cost',
  'autostop',
  'image_id',
  'any_of',
  'ordered',
]

/** Resources keys skyhop has once per job, not per accelerator alternative. */
const PER_JOB = ['cpus', 'memory', 'disk_size', 'max_hourly_cost', 'job_recovery', 'spot_recovery', 'autostop', 'image_id']

/** SkyPilot's recovery strategies: FAILOVER retries the same region first; EAGER_NEXT_REGION moves on. */
const STRATEGIES: Record<string, string> = {failover: 'same-region-first', eager_next_region: 'eager-next-region'}

export function importSkypilot(value: Record<string, unknown>, file: string, registry: AcceleratorRegistry, draft: Draft): string {
  const job = draft.job
  const {name, changed} = jobName(value.name, file)
  job.name = name
  if (changed) draft.note(['name'], 'approximated', `"${String(value.name)}" is not a skyhop job name; written as "${name}"`)
  job.compat = 'skypilot'
  if (value.num_nodes !== undefined) {
    if (typeof value.num_nodes === 'number' && Number.isInteger(value.num_nodes) && value.num_nodes >= 1) {
      if (value.num_nodes > 1) job.nodes = value.num_nodes
    } else draft.note(['num_nodes'], 'no-equivalent', `${JSON.stringify(value.num_nodes)} is not a node count; left out`)
  }

  const resources = value.resources
  if (isMap(resources)) mapResources(resources, registry, draft)
  else if (resources !== undefined)
    draft.note(['resources'], 'no-equivalent', 'a list of resources is not a SkyPilot task form skyhop reads; left out')

  mapEnvs(value, draft)
  if (typeof value.setup === 'string' && value.setup.trim() !== '') job.setup = value.setup
  if (typeof value.workdir === 'string' && value.workdir.trim() !== '') importWorkdir(value.workdir, file, draft, ['workdir'])
  else if (value.workdir !== undefined && value.workdir !== null) {
    draft.note(['workdir'], 'no-equivalent', 'a git workdir (url and ref) is not a local directory; clone it in `setup`')
  }
  if (typeof value.run !== 'string' || value.run.trim() === '')
    throw new ImportRefusal(
      'the task has no `run` command (a SkyPilot cluster without a job); skyhop runs jobs, so there is nothing to import',
      '/run',
    )
  job.run = value.run
  importSkypilotFileMounts(value.file_mounts, file, draft)
  draft.noteTable([], value, TOP, TOP_MAPPED)

  const script = `${job.setup ?? ''}\n${job.run as string}`
  const envNames = Object.keys((job.envs as Record<string, unknown>) ?? {}).concat((job.secrets as string[]) ?? [])
  for (const v of unsetToolVariables(script, ['SKYPILOT_', 'SKY_'], COMPAT_VARIABLES.skypilot, envNames))
    draft.note(
      ['run'],
      'no-equivalent',
      `the job reads $${v}, which SkyPilot sets and skyhop does not (compat: skypilot sets ${COMPAT_VARIABLES.skypilot.join(', ')})`,
    )
  return 'service' in value ? 'service' : 'task'
}

function mapResources(res: Record<string, unknown>, registry: AcceleratorRegistry, draft: Draft): void {
  const out = draft.resources()
  const job = draft.job
  // any_of / ordered: alternatives, each its own resources. skyhop has one resources block
  // with accelerator alternatives, so the alternatives' accelerators, clouds and regions
  // are gathered; their spot choice is merged below.
  const altKey = Array.isArray(res.ordered) ? 'ordered' : Array.isArray(res.any_of) ? 'any_of' : null
  const alternatives: Array<{r: Record<string, unknown>; path: Array<string | number>}> = altKey
    ? (res[altKey] as unknown[]).flatMap((r, i) => (isMap(r) ? [{r: {...res, ...r}, path: ['resources', altKey, i]}] : []))
    : [{r: res, path: ['resources']}]
  if (altKey && Array.isArray(res.any_of) && Array.isArray(res.ordered))
    draft.note(['resources', 'any_of'], 'no-equivalent', 'both any_of and ordered are given; only ordered was read')

  const accelerators: string[] = []
  let ordered = altKey === 'ordered'
  const spots = new Set<boolean>()
  const providers = new Set<string>()
  const regions = new Set<string>()
  for (const {r, path} of alternatives) {
    const acc = r.accelerators
    if (acc !== undefined) {
      const listed = acceleratorList(acc)
      if (Array.isArray(acc) && acc.length > 1) ordered = true
      for (const text of listed) {
        const colon = text.lastIndexOf(':')
        const rawName = colon === -1 ? text : text.slice(0, colon)
        const count = colon === -1 ? '1' : text.slice(colon + 1)
        const resolved = resolveAccelerator(registry, rawName.trim())
        if (!resolved) {
          draft.note(
            [...path, 'accelerators'],
            'no-equivalent',
            `skyhop knows no accelerator "${rawName}" (see \`skyhop accelerators\`); that alternative was left out`,
          )
          continue
        }
        if (!/^\d+$/.test(count.trim()) || Number(count) < 1) {
          draft.note([...path, 'accelerators'], 'approximated', `"${text}" has a fractional count; written as ${resolved}:1`)
          accelerators.push(`${resolved}:1`)
        } else accelerators.push(`${resolved}:${Number(count)}`)
      }
      if (listed.length > 0 && accelerators.length === 0)
        throw new ImportRefusal(
          `none of the accelerators ${JSON.stringify(acc)} is one skyhop knows; see \`skyhop accelerators\``,
          pointer([...path, 'accelerators']),
        )
    }
    // An alternative without use_spot is on-demand, as in SkyPilot; unless none says, then nothing is written.
    if (alternatives.some((a) => typeof a.r.use_spot === 'boolean')) spots.add(r.use_spot === true)
    const place = placementOf(r, path, draft)
    if (place.provider) providers.add(place.provider)
    if (place.region) regions.add(place.provider ? `${place.provider}/${place.region}` : place.region)
    if (altKey) {
      const own = (res[altKey] as unknown[])[path[2] as number] as Record<string, unknown>
      draft.noteTable(path, own, RESOURCES, [...RESOURCES_MAPPED])
      // skyhop has one of each of these for the whole job: an alternative's own value is not used.
      for (const k of PER_JOB) {
        if (k in own && JSON.stringify(own[k]) !== JSON.stringify(res[k]))
          draft.note(
            [...path, k],
            'approximated',
            `skyhop has one ${k} for every alternative; ${res[k] === undefined ? 'none' : 'the top-level one'} is used`,
          )
      }
    }
  }
  const unique = [...new Set(accelerators)]
  if (unique.length === 1) out.accelerators = unique[0]
  else if (unique.length > 1) {
    out.accelerators = unique
    out.accelerator_order = ordered ? 'ordered' : 'any'
  }

  for (const key of ['cpus', 'memory'] as const) {
    const v = res[key]
    if (v === undefined) continue
    const text = String(v).trim()
    try {
      if (key === 'cpus') parseCountAtLeast(text)
      else parseSizeAtLeast(text)
      out[key] = key === 'memory' && /^\d+(\.\d+)?\+?$/.test(text) ? text.replace(/\+?$/, 'GB$&') : text
    } catch (error) {
      if (!(error instanceof UnitError)) throw error
      draft.note(['resources', key], 'no-equivalent', `"${text}" cannot be written in skyhop (${error.message}); left out`)
    }
  }
  if (res.disk_size !== undefined) {
    const text = typeof res.disk_size === 'number' ? `${res.disk_size}GB` : String(res.disk_size)
    try {
      parseSizeGB(text)
      out.disk = text
    } catch (error) {
      if (!(error instanceof UnitError)) throw error
      draft.note(['resources', 'disk_size'], 'no-equivalent', `"${text}" is not a size skyhop reads; left out`)
    }
  }

  if (spots.size === 1) job.spot = [...spots][0] ? 'spot' : 'on-demand'
  else if (spots.size > 1) {
    job.spot = 'auto'
    draft.note(
      ['resources', altKey ?? 'use_spot'],
      'approximated',
      'the alternatives mix spot and on-demand; written as spot: auto (the planner chooses)',
    )
  }
  if (providers.size > 0) job.placement = {providers: {allow: [...providers]}}
  if (regions.size > 0) job.placement = {...(job.placement as object), regions: {allow: [...regions]}}

  const recovery = res.job_recovery ?? res.spot_recovery
  if (recovery !== undefined) mapRecovery(recovery, res.job_recovery === undefined ? 'spot_recovery' : 'job_recovery', draft)

  if (res.max_hourly_cost !== undefined) {
    if (typeof res.max_hourly_cost === 'number' && res.max_hourly_cost > 0) {
      job.max_price = `${res.max_hourly_cost}USD`
      if (job.nodes !== undefined)
        draft.note(['resources', 'max_hourly_cost'], 'approximated', 'SkyPilot caps each node; skyhop caps the whole job per hour')
    } else draft.note(['resources', 'max_hourly_cost'], 'no-equivalent', 'not a positive number; left out')
  }

  if (res.image_id !== undefined) {
    // A container image is skyhop's `image: docker:…`; a machine image (one cloud's, or one per
    // region) has no place in a job that may run on any cloud.
    if (typeof res.image_id === 'string' && res.image_id.startsWith('docker:')) job.image = res.image_id
    else
      draft.note(
        ['resources', 'image_id'],
        'no-equivalent',
        "a cloud's machine image; skyhop takes a container image (`image: docker:…`) or installs what the job needs in `setup`",
      )
  }

  if (res.autostop !== undefined) {
    const a = res.autostop
    const minutes =
      typeof a === 'number' ? a : isMap(a) && typeof a.idle_minutes === 'number' ? a.idle_minutes : typeof a === 'string' ? a : null
    if (minutes !== null && minutes !== 0) {
      job.idle_timeout = typeof minutes === 'number' ? `${minutes}m` : minutes
      draft.note(
        ['resources', 'autostop'],
        'approximated',
        'written as idle_timeout: how long the machine may outlive the job before skyhop releases it (skyhop always releases it, never stops it)',
      )
    } else draft.note(['resources', 'autostop'], 'no-equivalent', 'skyhop always releases a machine once its job ends (idle_timeout)')
  }
  draft.noteTable(['resources'], res, RESOURCES, RESOURCES_MAPPED)
  if (Object.keys(out).length === 0) delete job.resources
}

/** `A100:8`, `[A100:1, V100:1]`, `{A100: 1, V100: 1}` and the YAML reading of `{A100:1, V100:1}` ({"A100:1": null}). */
function acceleratorList(acc: unknown): string[] {
  if (typeof acc === 'string') {
    const s = acc.trim()
    // A quoted set written as text: "{A100:1, V100:1}".
    if (s.startsWith('{') && s.endsWith('}'))
      return s
        .slice(1, -1)
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean)
    return [s]
  }
  if (Array.isArray(acc)) return acc.map(String)
  if (isMap(acc)) return Object.entries(acc).map(([k, v]) => (v === null || v === undefined ? k : `${k}:${v}`))
  return []
}

function placementOf(r: Record<string, unknown>, path: Array<string | number>, draft: Draft): {provider?: string; region?: string} {
  let cloud = typeof r.cloud === 'string' ? r.cloud : undefined
  let region = typeof r.region === 'string' ? r.region : undefined
  if (typeof r.infra === 'string') {
    const parts = r.infra.split('/')
    if (/^(k8s|kubernetes)$/i.test(parts[0])) {
      draft.note([...path, 'infra'], 'no-equivalent', 'skyhop has no Kubernetes provider; left out')
      return {}
    }
    if (parts[0] !== '*') cloud = parts[0]
    if (parts[1] && parts[1] !== '*') region = parts[1]
    if (parts[2])
      draft.note([...path, 'infra'], 'no-equivalent', `skyhop places jobs by provider and region, not zone (${parts[2]} left out)`)
  }
  const out: {provider?: string; region?: string} = {}
  if (cloud) {
    const id = PROVIDER_IDS[cloud.toLowerCase()]
    if (id) out.provider = id
    else {
      draft.note(
        [...path, typeof r.infra === 'string' ? 'infra' : 'cloud'],
        'no-equivalent',
        `skyhop has no "${cloud}" provider; the job may run on any provider`,
      )
      return {}
    }
  }
  if (region) out.region = region
  return out
}

function mapRecovery(value: unknown, key: string, draft: Draft): void {
  const recovery: Record<string, unknown> = {}
  const strategy = typeof value === 'string' ? value : isMap(value) && typeof value.strategy === 'string' ? value.strategy : undefined
  if (strategy) {
    const mapped = STRATEGIES[strategy.toLowerCase()]
    if (mapped) recovery.strategy = mapped
    else if (strategy.toLowerCase() !== 'none')
      draft.note(
        ['resources', key],
        'no-equivalent',
        `skyhop has no "${strategy}" recovery strategy (it has eager-next-region, same-region-first)`,
      )
  }
  if (isMap(value)) {
    if (typeof value.max_restarts_on_errors === 'number') recovery.max_restarts_on_errors = value.max_restarts_on_errors
    const codes = value.recover_on_exit_codes
    if (codes !== undefined) {
      const list = (Array.isArray(codes) ? codes : [codes]).filter((c): c is number => typeof c === 'number')
      const kept = list.filter((c) => c >= 1 && c <= 255)
      if (kept.length > 0) recovery.restart_on_exit_codes = kept
      if (kept.length < list.length)
        draft.note(
          ['resources', key, 'recover_on_exit_codes'],
          'approximated',
          'exit code 0 is a success in skyhop, never restarted; left out',
        )
    }
  }
  if (Object.keys(recovery).length > 0) draft.job.recovery = recovery
}

function mapEnvs(value: Record<string, unknown>, draft: Draft): void {
  const envs: Record<string, unknown> = {}
  const secrets: string[] = []
  if (isMap(value.envs)) {
    for (const [k, v] of Object.entries(value.envs)) {
      if (v === null || v === undefined) {
        secrets.push(k)
        draft.note(
          ['envs', k],
          'approximated',
          'no value in the file (SkyPilot asks for it with --env): a secret in skyhop, taken from your environment at launch',
        )
      } else envs[k] = v
    }
  }
  if (isMap(value.secrets)) {
    for (const [k, v] of Object.entries(value.secrets)) {
      secrets.push(k)
      if (v !== null && v !== undefined)
        draft.note(
          ['secrets', k],
          'approximated',
          'the value written in the file is not carried over: skyhop takes secrets from your environment at launch',
        )
    }
  } else if (Array.isArray(value.secrets)) {
    draft.note(
      ['secrets'],
      'no-equivalent',
      'references to SkyPilot-managed secrets; skyhop has no secret store (name them in `secrets:` and export them)',
    )
  }
  if (Object.keys(envs).length > 0) draft.job.envs = envs
  if (secrets.length > 0) draft.job.secrets = [...new Set(secrets)]
}

function pointer(path: Array<string | number>): string {
  return '/' + path.join('/')
}
