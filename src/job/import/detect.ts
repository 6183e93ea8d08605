// Recognizes a SkyPilot task or a dstack configuration by the keys only it uses, so that
// `validate` (and `plan`, `launch`) can say "run `skyhop import`" instead of listing every
// key skyhop does not know. Pure: looks at parsed data only.
import type {ForeignFormat} from './types.js'

export interface Detection {
  format: ForeignFormat
  /** dstack's `type` (task, service, dev-environment, fleet…), or `task`/`service` for SkyPilot. */
  kind: string
  /** The keys that gave it away, as paths (`/num_nodes`, `/resources/use_spot`). */
  evidence: string[]
}

// Keys no skyhop job file has and the other tool's files often do. Keys both tools share
// with skyhop (name, resources, setup, run, envs, secrets, image, workdir, nodes,
// max_price) are no evidence.
const SKYPILOT_TOP = [
  'num_nodes',
  'file_mounts',
  'service',
  'pool',
  'volumes',
  'config',
  'event_callback',
  'file_mounts_mapping',
  'inputs',
  'outputs',
]
const SKYPILOT_RESOURCES = [
  'cloud',
  'region',
  'zone',
  'infra',
  'use_spot',
  'spot_recovery',
  'job_recovery',
  'disk_size',
  'disk_tier',
  'image_id',
  'instance_type',
  'ports',
  'any_of',
  'ordered',
  'labels',
  'network_tier',
  'accelerator_args',
  'autostop',
]
const DSTACK_TOP = [
  'commands',
  'env',
  'python',
  'nvcc',
  'spot_policy',
  'files',
  'repos',
  'retry',
  'idle_duration',
  'max_duration',
  'backends',
  'regions',
  'port',
  'ports',
  'ide',
  'working_dir',
  'registry_auth',
  'docker',
]
const DSTACK_RESOURCES = ['gpu', 'cpu', 'shm_size']
/** dstack's configuration types; only the first three are runs `skyhop import` converts. */
export const DSTACK_RUN_TYPES = ['task', 'service', 'dev-environment']
const DSTACK_TYPES = [...DSTACK_RUN_TYPES, 'fleet', 'volume', 'gateway']
/** Keys that alone say which tool a file is for. */
const STRONG = [
  '/num_nodes',
  '/file_mounts',
  '/service',
  '/resources/use_spot',
  '/resources/any_of',
  '/resources/ordered',
  '/resources/infra',
  '/resources/cloud',
  '/resources/disk_size',
  '/resources/image_id',
  '/type',
  '/commands',
  '/spot_policy',
  '/resources/gpu',
]
/** Keys only a skyhop job file has: their presence means a skyhop file with mistakes, not a foreign one. */
const SKYHOP_ONLY = [
  'spot',
  'work',
  'throughput',
  'deadline',
  'budget',
  'placement',
  'data',
  'checkpoint',
  'recovery',
  'idle_timeout',
  'objective',
  'matrix',
  'compat',
]

const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

/**
 * The foreign format a document is written in, or null when nothing marks it as one.
 * `lenient` (for `skyhop import`) also takes a file with no marks but `run`/`setup` and no
 * `name` (a minimal SkyPilot task); `validate` calls it strict, after the schema failed.
 */
export function detectForeign(value: unknown, options: {lenient?: boolean} = {}): Detection | null {
  if (!isMap(value)) return null
  const resources = isMap(value.resources) ? value.resources : {}
  const sky: string[] = []
  const dstack: string[] = []
  for (const k of SKYPILOT_TOP) if (k in value && !(k === 'service' && skyhopService(value.service))) sky.push(`/${k}`)
  for (const k of SKYPILOT_RESOURCES) if (k in resources) sky.push(`/resources/${k}`)
  // SkyPilot's `{A100:1, V100:1}` set of alternatives is a mapping; skyhop's filter has its own keys.
  // Its values are counts (or nothing, for `{A100:1, V100:1}` read as YAML), never text.
  const acc = resources.accelerators
  const filterKeys = ['name', 'vendor', 'memory', 'count']
  if (isMap(acc) && !filterKeys.some((k) => k in acc) && Object.values(acc).every((v) => v === null || typeof v === 'number'))
    sky.push('/resources/accelerators')
  if (typeof value.type === 'string' && DSTACK_TYPES.includes(value.type)) dstack.push('/type')
  for (const k of DSTACK_TOP) if (k in value) dstack.push(`/${k}`)
  for (const k of DSTACK_RESOURCES) if (k in resources) dstack.push(`/resources/${k}`)
  // skyhop has no `type` key, so dstack's `type: task` outweighs keys the two share by name (a fleet's `placement`).
  if (!options.lenient && !dstack.includes('/type') && SKYHOP_ONLY.some((k) => k in value)) return null
  // A stray key skyhop users might also mistype (`regions`, `ports`, `env`) is no proof: outside
  // import, one of the unmistakable keys, or two weaker ones in a file that is not otherwise a
  // skyhop job (name and run), is needed.
  const strong = [...sky, ...dstack].filter((p) => STRONG.includes(p))
  if (!options.lenient && strong.length === 0 && (sky.length + dstack.length < 2 || ('name' in value && 'run' in value))) return null
  if (sky.length === 0 && dstack.length === 0) {
    if (options.lenient && !('name' in value && 'run' in value) && ('run' in value || 'setup' in value))
      return {format: 'skypilot', kind: 'task', evidence: []}
    return null
  }
  // `type:` alone is dstack's mark; otherwise the side with more evidence wins.
  if (dstack.includes('/type') || dstack.length > sky.length) {
    return {format: 'dstack', kind: typeof value.type === 'string' ? value.type : 'task', evidence: dstack}
  }
  return {format: 'skypilot', kind: 'service' in value ? 'service' : 'task', evidence: sky}
}

/**
 * skyhop has a `service:` block too (docs/serve.md): one with none of
 * SkyPilot's service keys is a skyhop service with mistakes elsewhere, not a SkyPilot task.
 */
function skyhopService(service: unknown): boolean {
  return isMap(service) && !['readiness_probe', 'replica_policy', 'load_balancing_policy'].some((k) => k in service)
}

export function formatName(format: ForeignFormat): string {
  return format === 'skypilot' ? 'SkyPilot task' : 'dstack run configuration'
}
