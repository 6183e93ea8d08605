// A service and its replicas as the store keeps them (skyhop serve, docs/serve.md). Types only.
import type {LaunchHandle} from './attempt.js'
import type {JobSpec} from './job-spec.js'

/**
 * RUNNING: its controller keeps the replicas at the target. STOPPING: `serve down` asked; the
 * controller drains and stops every replica. STOPPED: nothing of it runs. FAILED: the
 * controller gave up (no offer could carry a replica); nothing of it runs.
 */
export type ServiceState = 'RUNNING' | 'STOPPING' | 'STOPPED' | 'FAILED'
export const TERMINAL_SERVICE_STATES: ReadonlySet<ServiceState> = new Set(['STOPPED', 'FAILED'])

/**
 * REQUESTED: the launch was recorded, its answer not yet. STARTING: launched, not ready yet.
 * READY: answers its readiness path; the load balancer routes to it. DRAINING: no new
 * requests (scale-down, an update, an interruption notice) while those in flight finish.
 * Then one of the ends: STOPPED (we stopped it), PREEMPTED (its spot capacity was taken),
 * FAILED (it died, or never became ready).
 */
export type ReplicaState = 'REQUESTED' | 'STARTING' | 'READY' | 'DRAINING' | 'STOPPED' | 'PREEMPTED' | 'FAILED'
export const TERMINAL_REPLICA_STATES: ReadonlySet<ReplicaState> = new Set(['STOPPED', 'PREEMPTED', 'FAILED'])

/** What the controller last measured, for `serve status` (the load balancer lives in the controller). */
export interface ServiceMetrics {
  at: string
  ratePerSecond: number
  requests: number
  failed: number
  retried: number
  replicas: Record<string, {ratePerSecond: number; p50Ms: number | null; p95Ms: number | null; p99Ms: number | null; outstanding: number}>
}

export interface ServiceRecord {
  id: string
  name: string
  file: string | null
  spec: JobSpec
  /** Bumped by `serve update`; replicas of an older version are replaced, rolling. */
  version: number
  state: ServiceState
  /** The load balancer's URL, once it listens. */
  endpoint: string | null
  targetReplicas: number
  metrics: ServiceMetrics | null
  reason: string | null
  createdAt: string
  updatedAt: string
  leaseOwner: string | null
  leaseExpiresAt: number | null
  /** Who started it (`serve up`); null for services from before owners. */
  owner: string | null
}

export interface ReplicaRecord {
  id: string
  serviceId: string
  /** 1-based, per service; what `serve logs --replica N` names. */
  n: number
  version: number
  provider: string
  region: string
  zone: string | null
  instanceType: string
  accelerator: string | null
  acceleratorCount: number | null
  spot: boolean
  pricePerHour: number | null
  currency: string | null
  onDemandPricePerHour: number | null
  state: ReplicaState
  /** http://HOST:PORT the load balancer reaches it at. */
  address: string | null
  handle: LaunchHandle | null
  intentAt: string
  launchedAt: string | null
  readyAt: string | null
  noticeAt: string | null
  endedAt: string | null
  releasedAt: string | null
  reason: string | null
}

export type NewReplica = Omit<
  ReplicaRecord,
  'id' | 'n' | 'state' | 'handle' | 'intentAt' | 'launchedAt' | 'readyAt' | 'noticeAt' | 'endedAt' | 'releasedAt' | 'reason'
>
