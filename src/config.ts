// skyhop's own configuration: $SKYHOP_CONFIG, else $SKYHOP_HOME/config.yaml. Optional;
// every setting has a default. Validated like a job file, with file:line:col errors.
import {existsSync} from 'node:fs'
import {userInfo} from 'node:os'
import {join} from 'node:path'

import {InvalidFileError} from './errors.js'
import type {CheckpointStoreSpec} from './model/job-spec.js'
import {compiledSchema} from './util/schemas.js'
import {parseDurationSeconds, parseSizeGB} from './model/units.js'
import {readDocument, schemaIssues} from './util/located-document.js'

export interface SkyhopConfig {
  providers: {
    local: {
      enabled: boolean
      maxConcurrent: number | null
      whenFull: 'queue' | 'fail'
      pricePerHourUsd: number
      maxNodes: number | null
      containerRuntime?: string | null
    }
    slurm: {
      enabled: boolean | null
      cluster: string | null
      partitions: string[] | null
      account: string | null
      qos: string | null
      gres: Record<string, string>
      pricePerHourUsd: Record<string, number>
      /** Where a job's workdir is staged for the cluster; null: in the attempt's directory. */
      workdirStageDir?: string | null
      /** pyxis, apptainer, singularity, podman, docker or none; null: found on first use. */
      containerRuntime?: string | null
    }
    kubernetes?: {
      /** null: enabled when a kubeconfig (or an in-cluster service account) is found. */
      enabled: boolean | null
      /** Only these kubeconfig contexts; null: every context. */
      contexts: string[] | null
      /** Overrides each context's namespace. */
      namespace: string | null
      /** The image of a job without a container image of its own. */
      image: string | null
      /** Context → USD per accelerator-hour (a CPU-only pod: per pod-hour); unset: 0. */
      pricePerHourUsd: Record<string, number>
      /** How long a launch waits for the scheduler before an Unschedulable pod is a capacity failure. */
      scheduleWaitSeconds: number
      /** Context → Kueue LocalQueue of skyhop's pods. */
      localQueues: Record<string, string>
    }
  }
  /** A workdir packed larger than warnBytes is warned about before its upload to a cloud. */
  workdir?: {warnBytes: number}
  catalog: {merge: string | null}
  /** A rate of your own for CNY/USD, with the date and source shown beside converted figures. */
  fx: {cnyPerUsd: number | null; asOf: string | null; source: string | null}
  /** Concurrent limits per provider or region; sweeps are planned within them. */
  quotas: Array<{provider: string; region: string | null; maxInstances?: number; maxAccelerators?: number}>
  /** Where checkpoints travel between attempts when a job's file names no store. */
  checkpointStore: CheckpointStoreSpec | null
  /** postgres://… : the state store's database (docs/state.md); null: SQLite under SKYHOP_HOME. */
  databaseUrl?: string | null
  /** Who this user is (config `identity`); null: SKYHOP_IDENTITY or the OS user (see identityOf). */
  identity?: string | null
  /** Role → users holding it; `admin` may act on other users' jobs, sweeps and services. */
  roles?: {admin: string[]}
  /** Team → its members. */
  teams?: Record<string, string[]>
  /** Running spend limits in USD per hour, per user and per team. */
  budgets?: {users: Record<string, number>; teams: Record<string, number>}
  /** true: launch --detach, sweep and serve up hand their work to `skyhop agent` instead of a local controller. */
  agent?: boolean
  /** The file it came from, or null for defaults. */
  file: string | null
}

/** Who is acting: SKYHOP_IDENTITY, else the config's `identity`, else the OS user. */
export function identityOf(config: Pick<SkyhopConfig, 'identity'>, env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.SKYHOP_IDENTITY?.trim()
  if (fromEnv) return fromEnv
  if (config.identity) return config.identity
  try {
    return userInfo().username
  } catch {
    // No passwd entry (a container's arbitrary uid): the uid is still someone.
    return env.USER || env.LOGNAME || `uid-${process.getuid?.() ?? 'unknown'}`
  }
}

interface RawConfig {
  providers?: {
    local?: {
      enabled?: boolean
      max_concurrent?: number
      when_full?: 'queue' | 'fail'
      price_per_hour?: number
      max_nodes?: number
      container_runtime?: string
    }
    slurm?: {
      enabled?: boolean
      cluster?: string
      partitions?: string[]
      account?: string
      qos?: string
      gres?: Record<string, string>
      price_per_hour?: Record<string, number>
      workdir_stage_dir?: string
      container_runtime?: string
    }
    kubernetes?: {
      enabled?: boolean
      contexts?: string[]
      namespace?: string
      image?: string
      price_per_hour?: Record<string, number>
      schedule_wait?: string | number
      local_queues?: Record<string, string>
    }
  }
  workdir?: {warn_size?: string | number}
  catalog?: {merge?: string}
  fx?: {cny_per_usd?: number; as_of?: string; source?: string}
  quotas?: Array<{provider: string; region?: string; max_instances?: number; max_accelerators?: number}>
  checkpoint_store?: {url: string; region: string; endpoint?: string; sync_interval?: string}
  database_url?: string
  identity?: string
  roles?: {admin?: string[]}
  teams?: Record<string, string[]>
  budgets?: {users?: Record<string, {usd_per_hour: number}>; teams?: Record<string, {usd_per_hour: number}>}
  agent?: boolean
}

export function configPath(home: string): string {
  return process.env.SKYHOP_CONFIG || join(home, 'config.yaml')
}

export function loadConfig(home: string): SkyhopConfig {
  const file = configPath(home)
  let raw: RawConfig = {}
  let source: string | null = null
  if (existsSync(file)) {
    const src = readDocument(file, 'CONFIG_FILE_INVALID')
    const issues = schemaIssues(src, compiledSchema('config.schema.json'))
    if (issues.length > 0) throw new InvalidFileError(issues, {code: 'CONFIG_FILE_INVALID'})
    raw = src.value as RawConfig
    source = file
  } else if (process.env.SKYHOP_CONFIG) {
    throw new InvalidFileError([{file, path: '', message: 'no such file (named by SKYHOP_CONFIG)'}], {code: 'CONFIG_FILE_INVALID'})
  }
  const local = raw.providers?.local ?? {}
  const slurm = raw.providers?.slurm ?? {}
  const kubernetes = raw.providers?.kubernetes ?? {}
  return {
    providers: {
      local: {
        enabled: local.enabled ?? true,
        maxConcurrent: local.max_concurrent ?? null,
        maxNodes: local.max_nodes ?? null,
        whenFull: local.when_full ?? 'queue',
        pricePerHourUsd: local.price_per_hour ?? 0,
        containerRuntime: local.container_runtime ?? null,
      },
      slurm: {
        enabled: slurm.enabled ?? null,
        cluster: slurm.cluster ?? null,
        partitions: slurm.partitions ?? null,
        account: slurm.account ?? null,
        qos: slurm.qos ?? null,
        gres: slurm.gres ?? {},
        pricePerHourUsd: slurm.price_per_hour ?? {},
        workdirStageDir: slurm.workdir_stage_dir ?? null,
        containerRuntime: slurm.container_runtime ?? null,
      },
      kubernetes: {
        enabled: kubernetes.enabled ?? null,
        contexts: kubernetes.contexts ?? null,
        namespace: kubernetes.namespace ?? null,
        image: kubernetes.image ?? null,
        pricePerHourUsd: kubernetes.price_per_hour ?? {},
        scheduleWaitSeconds: seconds(kubernetes.schedule_wait, 10, file, '/providers/kubernetes/schedule_wait'),
        localQueues: kubernetes.local_queues ?? {},
      },
    },
    workdir: {warnBytes: warnBytes(raw.workdir?.warn_size, file)},
    catalog: {merge: raw.catalog?.merge ?? process.env.SKYHOP_CATALOG_MERGE ?? null},
    fx: {cnyPerUsd: raw.fx?.cny_per_usd ?? null, asOf: raw.fx?.as_of ?? null, source: raw.fx?.source ?? null},
    quotas: (raw.quotas ?? []).map((q) => ({
      provider: q.provider,
      region: q.region ?? null,
      ...(q.max_instances === undefined ? {} : {maxInstances: q.max_instances}),
      ...(q.max_accelerators === undefined ? {} : {maxAccelerators: q.max_accelerators}),
    })),
    checkpointStore: checkpointStore(raw.checkpoint_store, file),
    databaseUrl: raw.database_url ?? null,
    identity: raw.identity ?? null,
    roles: {admin: raw.roles?.admin ?? []},
    teams: raw.teams ?? {},
    budgets: {
      users: Object.fromEntries(Object.entries(raw.budgets?.users ?? {}).map(([u, b]) => [u, b.usd_per_hour])),
      teams: budgetTeams(raw, file),
    },
    agent: raw.agent ?? false,
    file: source,
  }
}

/** Team budgets, each naming a team the config defines: a budget on an unknown team would never apply. */
function budgetTeams(raw: RawConfig, file: string): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [team, b] of Object.entries(raw.budgets?.teams ?? {})) {
    if (!raw.teams?.[team]) {
      throw new InvalidFileError([{file, path: `/budgets/teams/${team}`, message: `team "${team}" is not defined under teams:`}], {
        code: 'CONFIG_FILE_INVALID',
        hint: `Add \`teams: {${team}: [user, …]}\`, or remove its budget.`,
      })
    }
    out[team] = b.usd_per_hour
  }
  return out
}

function seconds(raw: string | number | undefined, fallback: number, file: string, path: string): number {
  if (raw === undefined) return fallback
  try {
    return typeof raw === 'number' ? raw : parseDurationSeconds(raw)
  } catch (error) {
    throw new InvalidFileError([{file, path, message: (error as Error).message}], {code: 'CONFIG_FILE_INVALID'})
  }
}

/** Default 100 MB: larger is unusual for code, and usually data or checkpoints packed by mistake. */
export const DEFAULT_WORKDIR_WARN_BYTES = 100e6

function warnBytes(raw: string | number | undefined, file: string): number {
  if (raw === undefined) return DEFAULT_WORKDIR_WARN_BYTES
  try {
    return Math.round(parseSizeGB(raw) * 1e9)
  } catch (error) {
    throw new InvalidFileError([{file, path: '/workdir/warn_size', message: (error as Error).message}], {code: 'CONFIG_FILE_INVALID'})
  }
}

function checkpointStore(raw: RawConfig['checkpoint_store'], file: string): CheckpointStoreSpec | null {
  if (!raw) return null
  let syncIntervalSeconds: number | null = null
  if (raw.sync_interval !== undefined) {
    try {
      syncIntervalSeconds = parseDurationSeconds(raw.sync_interval)
    } catch (error) {
      throw new InvalidFileError([{file, path: '/checkpoint_store/sync_interval', message: (error as Error).message}], {
        code: 'CONFIG_FILE_INVALID',
      })
    }
  }
  return {url: raw.url, region: raw.region, endpoint: raw.endpoint ?? null, syncIntervalSeconds}
}
