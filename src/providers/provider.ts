// The one interface every backend adapts to. The controller only ever talks to this;
// each adapter maps its backend's own errors onto ProviderError (src/errors.ts) with a
// category (capacity, quota, auth, transient, user, unavailable) and a block scope.
import type {Offer} from '../model/catalog.js'
import type {AttemptTransfers, CheckpointSync, GangObjects, SecretsObject, ShipObjects} from '../model/checkpoint.js'
import type {LaunchHandle, PollResult, QueueEstimate} from '../model/attempt.js'
import type {JobSpec} from '../model/job-spec.js'
import type {AttemptHold} from '../runner/contract.js'

export interface CheckResult {
  provider: string
  /** Credentials (or reachability) found and working. */
  ok: boolean
  /** Where the credentials came from, e.g. `env`, `profile default`; never the secret. */
  source: string | null
  message: string
}

export interface LaunchRequest {
  jobId: string
  jobName: string
  attemptId: string
  /** 1-based attempt number. */
  attempt: number
  restartCount: number
  /** Same key on a retried launch must never create a second run. */
  idempotencyKey: string
  spec: JobSpec
  offer: Offer
  spot: boolean
  /** Environment the job sees: its envs plus the SKYHOP_* contract. Never a secret: it is written to disk. */
  env: Record<string, string>
  /**
   * The job's secrets, by name (JobSpec.secrets). Never written to disk in clear: local hands
   * them to the runner's process environment, Slurm to the started batch script through a
   * step of the job (slurm/submit.ts secretsWait); a cloud passes them through a
   * one-time object of the job's store (secretsObject), fetched and deleted at boot.
   */
  secrets?: Record<string, string>
  /**
   * The one-time object a cloud attempt's secrets travel in (per-instance providers): the
   * provider PUTs them before the launch, the boot script GETs then DELETEs them. Null or
   * absent without a store; such a provider then refuses a job with secrets.
   */
  secretsObject?: SecretsObject | null
  /**
   * SKYHOP_CHECKPOINT_DIR. Durable across attempts on a 'shared' provider; on a
   * 'per-instance' one it is carried between attempts by checkpointSync.
   */
  checkpointDir: string
  /** The job's checkpoint store for this attempt (runner.conf checkpointGet/Put), or null. */
  checkpointSync: CheckpointSync | null
  /**
   * The workdir archive signed for an attempt that has no checkpointSync (a service replica:
   * replicas share no checkpoint, but each on an instance or pod needs the code). Read only
   * when checkpointSync carries no workdir.
   */
  workdir?: CheckpointSync['workdir'] | null
  /**
   * Set when the attempt replaces one that is still stopping (a move from on-demand to spot
   * made only once spot was there): the runner waits for skyhop's go before it restores the
   * checkpoint and starts the job (runner.conf holdFile / holdUrl).
   */
  hold?: AttemptHold | null
  /**
   * A gang (spec.nodes > 1) on a per-instance provider: where its nodes find their peers and
   * share a notice (the job's object store). Null or absent when the job has no store; such
   * a provider then refuses the gang (unavailable, scope provider) with a message that says
   * what to set, and the controller tries the backends that need no store (local, Slurm).
   */
  gang?: GangObjects | null
  /**
   * Where a cloud attempt's runner ships its output.log and samples (ShipObjects), in the job's
   * store; the provider keeps `ship.store` and `ship.segmentBytes` in the handle (shipHandleData)
   * so they can be read back. Null or absent without a store, and on skyhop's own filesystem.
   */
  ship?: ShipObjects | null
  /**
   * The job's files: and outputs: for this attempt, signed (checkpoint/transfers.ts): the
   * provider writes the list into the attempt directory (transfersFile) or passes its signed
   * GET (transfersUrl). Null or absent when the job has none.
   */
  transfers?: AttemptTransfers | null
  graceSeconds: number
  /**
   * A service replica's: on an interruption notice the runner holds the job's signal back
   * until this many seconds before the kill (RunnerConfig.noticeSignalLeadSeconds), so the
   * server serves through its notice until the controller's drain time. Absent for a job.
   */
  noticeSignalLeadSeconds?: number
}

/**
 * Whether attempts see the filesystem skyhop runs on (the local machine; a Slurm cluster
 * sharing it) or run on a machine of their own (a cloud instance), whose disk goes with it.
 */
export type AttemptStorage = 'shared' | 'per-instance'

export interface LogOptions {
  follow: boolean
  signal?: AbortSignal
  /** Which node of a gang: a rank (default 0, the head), or 'all' with each line prefixed `[rank N] `. */
  node?: number | 'all'
  /**
   * The attempt was still running when the logs were asked for (not following): its console is
   * the freshest copy, so a cloud's shipped log (vm/shipped.ts) is read only if the console fails.
   */
  running?: boolean
}

/** Narrows listOwned(). */
export interface OwnedQuery {
  /** Look in these regions as well as the provider's own (the regions attempts were launched in). */
  regions?: string[]
  /** Only what this attempt launched (a backend-side tag filter where there is one). */
  attemptId?: string
}

export interface Provider {
  readonly name: string
  /** Default 'shared'. */
  readonly attemptStorage?: AttemptStorage
  /**
   * Whether a launch passes LaunchRequest.ship to the attempt's runner and reads the shipped
   * files back (logs, usageSamples): the VM clouds. Unset: the controller signs no ShipObjects.
   */
  readonly shipsAttemptFiles?: boolean
  /**
   * The provider hands a job's secrets (LaunchRequest.secrets) to its machines through a
   * secret store of its own (Kubernetes: a Secret the pod's environment references), so the
   * controller writes no one-time secrets object to the job's store for it, and the job needs
   * no store for its secrets. Unset: a per-instance provider gets that object (secretsObject).
   */
  readonly ownSecretStore?: boolean
  /**
   * The most nodes one gang may have on this backend (launched all or nothing, with the
   * multi-node contract of docs/job-contract.md). Unset: 1, the backend cannot gang-launch.
   */
  readonly maxNodes?: number
  /** Whether this backend can run a job's container image here (unset: it cannot). */
  runsContainers?(): Promise<boolean>
  /**
   * Why runsContainers() says no, in words for the plan's exclusion (what was looked for);
   * null when it says yes. Unset: the planner's generic sentence.
   */
  containerUnsupported?(): Promise<string | null>
  /**
   * Why a job's secrets cannot reach a job here (Slurm older than 20.11), in words for the
   * launch's refusal; null when they can. Unset: they can.
   */
  secretsUnsupported?(): Promise<string | null>
  /** Credentials or reachability, without printing secrets. */
  check(): Promise<CheckResult>
  /** Offers the backend can tell us about right now (local devices, Slurm partitions). */
  liveOffers?(): Promise<Offer[]>
  /**
   * What liveOffers() can return at most, known without asking the backend: its regions and
   * the accelerators its offers may carry (null = not known). Planning skips the query when
   * no offer within this scope could pass the job's filters.
   */
  liveOfferScope?(): {regions: readonly string[] | null; accelerators: readonly string[] | null}
  /** The backend's own estimate of the wait before a job of this shape starts. */
  estimateQueue?(spec: JobSpec, offer: Offer): Promise<QueueEstimate | null>
  launch(request: LaunchRequest): Promise<LaunchHandle>
  /** Batch poll: one backend call for many attempts where the backend allows it. */
  poll(handles: LaunchHandle[]): Promise<Map<string, PollResult>>
  /**
   * The runner's utilisation samples (samples.jsonl, docs/utilisation.md) from byte `offset` on,
   * whole lines, with the offset to ask from next; null when there are none yet. Absent where
   * skyhop cannot read them while the attempt runs (a cloud instance: they stay on its disk).
   * A gang's rank `rank` (default 0, the head; null for a rank the backend cannot read).
   */
  usageSamples?(handle: LaunchHandle, offset?: number, rank?: number): Promise<{text: string; offset: number} | null>
  /** Log lines (stdout and stderr interleaved as written), following if asked. */
  logs(handle: LaunchHandle, options: LogOptions): AsyncIterable<string>
  /**
   * Ask the job to stop: `cancel` ends it; `preempt` delivers an interruption notice through
   * the same path a real one takes. SIGTERM (or the job's signal) now, SIGKILL after grace.
   */
  signal(handle: LaunchHandle, kind: 'cancel' | 'preempt', graceSeconds: number): Promise<void>
  /** Release everything the attempt holds (every node of a gang). Idempotent. */
  cleanup(handle: LaunchHandle): Promise<void>
  /**
   * A provider that hands a run its secrets once it starts (Slurm: through the running job,
   * never sbatch's environment) holds them in the memory of the process that launched it. A
   * controller that took over a run launched by another process gives them here, from its own
   * environment, before it polls the run. Never written to disk.
   */
  supplySecrets?(handle: LaunchHandle, secrets: Record<string, string>): void
  /**
   * Everything this backend runs (or holds, e.g. stopped instances) that carries skyhop's
   * tags, for reconciliation and orphan cleanup. Each handle's `data.attemptId` and
   * `data.jobId` come from the tags.
   */
  listOwned?(query?: OwnedQuery): Promise<LaunchHandle[]>
}
