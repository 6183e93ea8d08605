// What the SkyPilot and dstack mappings share: the output being built with its list of
// unmapped keys, names, clouds, accelerator names, and the variables a job may read.
import {basename, dirname, isAbsolute, resolve} from 'node:path'

import type {AcceleratorRegistry} from '../../catalog/accelerators.js'
import type {UnmappedKey, UnmappedKind} from './types.js'

export const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

/** The job being built and the keys that did not carry over; `where` finds a path's line. */
export class Draft {
  readonly job: Record<string, unknown> = {}
  readonly unmapped: UnmappedKey[] = []
  constructor(private readonly where: (path: Array<string | number>) => {line?: number; column?: number}) {}

  note(path: Array<string | number>, kind: UnmappedKind, reason: string): void {
    // A JSON pointer (RFC 6901): a key holding / or ~ (a file_mounts destination) stays one step.
    const pointer = path.map((p) => String(p).replace(/~/g, '~0').replace(/\//g, '~1'))
    this.unmapped.push({path: '/' + pointer.join('/'), ...this.where(path), kind, reason})
  }

  /** Lists every key of a table entry that says it has no equivalent (the data-driven part). */
  noteTable(
    prefix: Array<string | number>,
    value: Record<string, unknown>,
    table: Record<string, KeyRule>,
    known: readonly string[],
  ): void {
    for (const key of Object.keys(value)) {
      if (known.includes(key)) continue
      const rule = table[key]
      if (rule) this.note([...prefix, key], rule[0], rule[1])
      else this.note([...prefix, key], 'no-equivalent', `not a key skyhop knows how to import; left out`)
    }
  }

  resources(): Record<string, unknown> {
    return (this.job.resources ??= {}) as Record<string, unknown>
  }
}

/** [kind, why]: the mapping of one source key that has no skyhop key. */
export type KeyRule = [UnmappedKind, string]

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/

/** A skyhop job name from the source's name, else from the file (`train.yaml` → train; `x/.dstack.yml` → x). */
export function jobName(name: unknown, file: string): {name: string; changed: boolean} {
  if (typeof name === 'string' && NAME_RE.test(name)) return {name, changed: false}
  let base = basename(file).replace(/(\.sky|\.dstack)?\.(ya?ml|json)$/i, '')
  if (base === '' || base === '.dstack' || base === 'dstack') base = basename(dirname(file))
  const raw = typeof name === 'string' && name.trim() !== '' ? name : base
  const cleaned = raw
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 63)
  return {name: cleaned === '' ? 'imported' : cleaned, changed: typeof name === 'string'}
}

/**
 * Cloud names of SkyPilot's `cloud`/`infra` and dstack's `backends` → skyhop provider ids,
 * for the providers skyhop has. A name absent here is listed as having no provider.
 */
export const PROVIDER_IDS: Record<string, string> = {
  aws: 'aws',
  gcp: 'gcp',
  azure: 'azure',
  lambda: 'lambda',
  lambdalabs: 'lambda',
  oci: 'oci',
  runpod: 'runpod',
  nebius: 'nebius',
  slurm: 'slurm',
  local: 'local',
  aliyun: 'aliyun',
  alibaba: 'aliyun',
  huaweicloud: 'huaweicloud',
  tencentcloud: 'tencentcloud',
}

/**
 * An accelerator name of the source → the registry's name: as written, then without a
 * `tpu-` prefix and a trailing `-8` core count (SkyPilot's `tpu-v5litepod-8`, dstack's `v2-8`).
 */
export function resolveAccelerator(registry: AcceleratorRegistry, name: string, memoryGB?: number): string | undefined {
  const tries = [name, name.replace(/^tpu-/i, ''), name.replace(/^tpu-/i, '').replace(/-\d+$/, '')]
  for (const t of tries) {
    const hit = registry.resolve(t) ?? registry.resolve(`tpu-${t}`)
    if (!hit) continue
    // `A100` with 80GB is the A100-80GB, not the registry's default A100-40GB.
    if (memoryGB !== undefined) {
      const variant = registry.resolve(`${t}-${memoryGB}GB`)
      if (variant) return variant.name
    }
    return hit.name
  }
  return undefined
}

/** Variables skyhop's `compat:` sets (the runner's sr_gang_env, src/runner/skyhop-runner.sh; a test keeps them equal). */
export const COMPAT_VARIABLES: Record<'skypilot' | 'dstack', string[]> = {
  skypilot: ['SKYPILOT_NODE_IPS', 'SKYPILOT_NODE_RANK', 'SKYPILOT_NUM_NODES', 'SKYPILOT_NUM_GPUS_PER_NODE'],
  dstack: ['DSTACK_NODE_RANK', 'DSTACK_NODES_NUM', 'DSTACK_MASTER_NODE_IP', 'DSTACK_NODES_IPS', 'DSTACK_GPUS_PER_NODE'],
}

/** The tool's own variables a script reads that `compat:` does not set (`$SKYPILOT_TASK_ID`, `${DSTACK_GPUS_NUM}`). */
export function unsetToolVariables(script: string, prefixes: string[], provided: readonly string[], envs: readonly string[]): string[] {
  const found = new Set<string>()
  const re = new RegExp(`\\$\\{?((?:${prefixes.join('|')})[A-Z0-9_]*)`, 'g')
  for (const m of script.matchAll(re)) if (!provided.includes(m[1]) && !envs.includes(m[1])) found.add(m[1])
  return [...found].sort()
}

/**
 * A foreign file's local code directory as a skyhop workdir. skyhop reads a relative workdir
 * from the job file's own directory, and the converted file may be written anywhere, so a
 * relative path is resolved here against the foreign file's directory and noted.
 */
export function importWorkdir(path: string, file: string, draft: Draft, at: Array<string | number>): void {
  const absolute = isAbsolute(path) ? path : resolve(dirname(resolve(file)), path)
  draft.job.workdir = absolute
  if (absolute !== path) {
    draft.note(at, 'approximated', `"${path}" is written as ${absolute}: skyhop reads a relative workdir from the job file's own directory`)
  }
}
