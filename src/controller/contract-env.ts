// The environment every attempt sees: the job's envs, its matrix values, its secrets
// (read from the controller's environment, never stored, kept apart from the rest so no
// provider writes them to disk), and the SKYHOP_* contract documented in docs/job-contract.md.
import {join} from 'node:path'

import {UsageError} from '../errors.js'
import type {AttemptStorage} from '../providers/provider.js'
import type {JobSpec} from '../model/job-spec.js'
import type {AttemptRecord, EventRecord, JobRecord} from '../model/records.js'
import {registerSecret} from '../util/redact.js'

export interface AttemptEnv {
  /** The job's envs, matrix values and SKYHOP_* contract: what may be written into the attempt directory. */
  env: Record<string, string>
  /**
   * The job's secrets, by name, read from the controller's environment. Kept apart from
   * `env` so that no provider writes them to disk: they travel in the runner's process
   * environment (local, Slurm) or in a one-time object of the job's store (clouds).
   */
  secrets: Record<string, string>
  checkpointDir: string
}

/** The job's secrets that `env` lacks, by name. */
export function missingSecrets(spec: Pick<JobSpec, 'secrets'>, env: NodeJS.ProcessEnv): string[] {
  return (spec.secrets ?? []).filter((name) => env[name] === undefined)
}

/** Whether the job's last hold event is a secrets hold that no controller has lifted since. */
export function secretsHeld(events: ReadonlyArray<Pick<EventRecord, 'kind' | 'data'>>): boolean {
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i]
    if (e.kind === 'job-hold-lifted' && e.data.hold === 'secrets-missing') return false
    if (e.kind === 'job-held' && e.data.hold === 'secrets-missing') return true
  }
  return false
}

/** What a controller says, with the names only, when its environment lacks a job's secrets. */
export function secretsMissingMessage(missing: string[]): string {
  return `secret ${missing.map((m) => `$${m}`).join(', ')} named in the job file is not set in this environment`
}

/** Where instances of a cloud keep a job's checkpoints (the store carries them between instances). */
export const INSTANCE_CHECKPOINT_ROOT = '/var/lib/skyhop/checkpoints'

export function checkpointDirFor(home: string, job: JobRecord, storage: AttemptStorage = 'shared'): string {
  // A path in the job file wins. Otherwise a durable per-job directory under skyhop's home,
  // which both the local provider and a Slurm cluster sharing this filesystem can reach;
  // on a machine of the attempt's own, a directory on that machine.
  if (job.spec.checkpoint.dir !== null) return job.spec.checkpoint.dir
  return storage === 'shared' ? join(home, 'checkpoints', job.id) : `${INSTANCE_CHECKPOINT_ROOT}/${job.id}`
}

export function contractEnv(input: {
  job: JobRecord
  attempt: AttemptRecord
  home: string
  processEnv: NodeJS.ProcessEnv
  storage?: AttemptStorage
  restartCount?: number
}): AttemptEnv {
  const {job, attempt} = input
  const env: Record<string, string> = {...job.spec.envs}
  for (const [k, v] of Object.entries(job.matrix ?? {})) env[k] = String(v)
  const missing = missingSecrets(job.spec, input.processEnv)
  if (missing.length > 0) {
    throw new UsageError(secretsMissingMessage(missing), {
      code: 'SECRET_MISSING',
      hint: 'Export it before launching; skyhop passes secrets from your environment and never stores them.',
    })
  }
  const secrets: Record<string, string> = {}
  for (const name of job.spec.secrets ?? []) {
    const value = input.processEnv[name]!
    registerSecret(value)
    secrets[name] = value
  }
  const checkpointDir = checkpointDirFor(input.home, job, input.storage)
  Object.assign(env, {
    SKYHOP_JOB_ID: job.id,
    SKYHOP_JOB_NAME: job.name,
    SKYHOP_ATTEMPT: String(attempt.n),
    SKYHOP_RESTART_COUNT: String(input.restartCount ?? job.restarts + job.errorRestarts),
    SKYHOP_CHECKPOINT_DIR: checkpointDir,
    SKYHOP_GRACE_SECONDS: String(job.spec.recovery.graceSeconds),
    // The offer's count is per node; every node of a gang gets the same. The rank, the node
    // count and the peers come from the runner, which knows them on the node.
    SKYHOP_NUM_ACCELERATORS_PER_NODE: String(attempt.acceleratorCount ?? 0),
  })
  return {env, secrets, checkpointDir}
}
