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

/** One node of a multi-node attempt (a gang), as a poll saw it. Rank 0 is the head. */
export interface NodePoll {
  rank: number
  state: AttemptState
  exitCode: number | null
  reason: string | null
}

/** What a gang's handle keeps of each node (`LaunchHandle.data.nodes`, rank order). */
export interface GangNode {
  rank: number
  /** The backend's id of this node: a pid, an instance id, a Slurm node name. */
  externalId: string
  /** The address peers reach this node at; null until the backend has assigned one. */
  ip: string | null
  [extra: string]: unknown
}

export interface PollResult {
  state: AttemptState
  exitCode: number | null
  /** Backend's own words, e.g. Slurm's PENDING reason or NODE_FAIL. */
  reason: string | null
  startedAt: string | null
  endedAt: string | null
  /**
   * Each node of a gang (nodes > 1), rank order. The gang's exit code is the head's; any rank
   * ending non-zero while the gang was not being stopped makes the gang FAILED.
   */
  nodes?: NodePoll[]
  /**
   * While a running attempt is being stopped: by a cancel or by an interruption notice, and
   * when it will be killed. A service's controller stops routing to a replica under notice at
   * once (docs/serve.md); backends that cannot tell leave it unset.
   */
  stopping?: {kind: 'cancel' | 'notice'; killAt: string | null}
  /**
   * The IP the backend gave a single-node attempt once it has one, when its handle could not
   * carry it at launch (a pod's status.podIP: a pod gets it when it starts, after its launch
   * returns). A service's controller routes to a replica there.
   */
  ip?: string | null
}

export interface QueueEstimate {
  minutes: number
  source: string
  confidence: 'high' | 'medium' | 'low'
}
