// Where a job's bucket mounts (files: with mode: mount) can be done: on an instance of the
// bucket's own cloud, whose FUSE tool authenticates with the instance's role
// (src/providers/vm/bucket-mounts.ts). Local, Slurm and Kubernetes mount nothing.
import {BUCKET_CLOUD, type JobSpec} from '../model/job-spec.js'

/** The cloud whose instances can mount each kind of bucket with their own role (src/providers/vm/bucket-mounts.ts). */
export const MOUNT_CLOUD: Record<string, string> = BUCKET_CLOUD

/** The first files: mount the provider cannot do (its URL), or null when it can do them all or the job has none. */
export function mountUnsupported(job: Pick<JobSpec, 'files'>, provider: string): string | null {
  for (const f of job.files ?? []) {
    if (f.mode !== 'mount' || f.source.kind !== 'bucket') continue
    if (MOUNT_CLOUD[f.source.scheme] !== provider) return `${f.source.scheme}://${f.source.bucket}/${f.source.key}`
  }
  return null
}

/**
 * Whether the provider cannot place the job's copies or upload its outputs: a Kubernetes pod
 * gets its list of transfers through the job's object store only (a signed GET, as a cloud
 * instance does), so without a store such a job would be refused at launch. It is excluded
 * here instead, saying why, and the plan goes on to local, Slurm or a cloud.
 */
export function transfersUnsupported(job: Pick<JobSpec, 'files' | 'outputs'>, kind: string, jobStore: boolean): boolean {
  if (kind !== 'kubernetes' || jobStore) return false
  return (job.files ?? []).some((f) => f.mode === 'copy') || (job.outputs ?? []).length > 0
}
