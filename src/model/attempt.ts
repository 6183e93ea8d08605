// An attempt as every room sees it: the states a backend reports, the handle the store
// keeps to find a launched attempt again, a poll's answer and a queue estimate. Types only.

export type AttemptState =
  | 'PENDING' // accepted by the backend, waiting in its queue
  | 'PROVISIONING' // resources being acquired / booted
  | 'RUNNING'
  | 'SUCCEEDED'
  | 'FAILED' // the job exited non-zero
  | 'PREEMPTED' // taken back by the backend (spot, Slurm preemption)
  | 'CANCELLED'
  | 'LOST' // the backend no longer knows it, or it died without an exit code

export const TERMINAL_ATTEMPT_STATES: ReadonlySet<AttemptState> = new Set(['SUCCEEDED', 'FAILED', 'PREEMPTED', 'CANCELLED', 'LOST'])

/** What the store keeps to find a launched attempt again. JSON-safe, no secrets. */
export interface LaunchHandle {
  provider: string
  /** The backend's id: a pid, a Slurm job id, an instance id. */
  externalId: string
  region: string
  zone: string | null
  /** Adapter-specific extra (paths, log locations). */
  data: Record<string, unknown>
}

export interface PollResult {
  state: AttemptState
  exitCode: number | null
  /** Backend's own words, e.g. Slurm's PENDING reason or NODE_FAIL. */
  reason: string | null
  startedAt: string | null
  endedAt: string | null
}

export interface QueueEstimate {
  minutes: number
  source: string
  confidence: 'high' | 'medium' | 'low'
}
