// What planning learned about backends that could not list their live offers, for the
// "nothing feasible" moment: shared by `plan` and `launch`. Pure, and small enough to import
// statically from both.
import type {JobSpec} from '../model/job-spec.js'

/**
 * When nothing is feasible and every provider the job allows could not list its live offers,
 * that failure is the reason (a kubeconfig that does not load: exit 4 with its file:line:col),
 * not the catalog's other offers; otherwise null.
 */
export function liveFailureBehind(spec: JobSpec, failures: ReadonlyMap<string, Error>): Error | null {
  const allowed = spec.placement.providers.allow
  if (allowed === null || allowed.length === 0) return null
  const failed = allowed.map((p) => failures.get(p))
  return failed.every((e) => e !== undefined) ? failed[0]! : null
}
