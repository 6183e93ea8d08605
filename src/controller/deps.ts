// What driveJob is given (the journal, the providers, the replanner, the clock, the hooks) and
// what it reports as it goes. Apart from the controller so its parts can share them without
// importing the controller that wires them.
import type {AttemptHoldStore, SignCheckpointUrls} from '../checkpoint/checkpoint-store.js'
import type {JobSpec} from '../model/job-spec.js'
import type {Replanned} from '../planner/replanner.js'
import type {BlockList} from '../planner/types.js'
import type {Provider} from '../providers/provider.js'
import type {BatchPoller} from './batch-poller.js'
import type {Journal} from './journal.js'

export interface ControllerEvent {
  kind: string
  jobId: string
  attemptId?: string
  message: string
  data?: Record<string, unknown>
}

export interface ControllerDeps {
  /** The controller's only way to the state store (journal.ts). */
  journal: Journal
  providers: ReadonlyMap<string, Provider>
  /** Plans the job with the given scopes blocked. Pure planning plus catalog lookup. */
  replan(job: JobSpec, blocked: BlockList): Promise<Replanned>
  /** Where durable per-job state (checkpoints on local/Slurm) lives. */
  home: string
  /**
   * Signs the job's checkpoint store URLs for one attempt (src/checkpoint/checkpoint-store.ts); null
   * when the job has no store. Without it, checkpoints stay where the attempt runs.
   */
  checkpointSync?: SignCheckpointUrls
  /**
   * Holds a new cloud attempt until the one it replaces has stopped, through the job's
   * checkpoint store (a move from on-demand to spot launches spot first). Without it, a
   * cloud job moves by stopping on-demand first. Attempts that see skyhop's filesystem
   * (local, Slurm) are held by a file under `home` and need nothing here.
   */
  attemptHolds?: AttemptHoldStore
  /** Unique id of this controller process, for the lease. */
  owner: string
  clock?: () => Date
  sleep?: (ms: number) => Promise<void>
  pollIntervalMs?: number
  /** How long to keep retrying when every candidate is out of capacity. 0 = fail at once. */
  retryUntilUpMs?: number
  /** Most candidates tried per launch round (dstack tries 25). */
  maxCandidatesPerRound?: number
  /**
   * How long one candidate's launch may take, every remote call and retry under it included
   * (http/deadline.ts); its failure then is transient and the next candidate is tried.
   * Default SKYHOP_CANDIDATE_TIMEOUT_SECONDS, else 180 s; 0 sets no deadline (the simulator).
   */
  candidateBudgetMs?: number
  /**
   * How long a launch round goes on starting candidates (longer with retryUntilUpMs): past it
   * the round fails with what it saw. Default SKYHOP_LAUNCH_TIMEOUT_SECONDS, else 900 s; 0 sets none.
   */
  launchBudgetMs?: number
  /**
   * How often a `spot: auto` job looks for spot (respot.ts): while it runs on on-demand (to
   * migrate back), and between tries while it waits for spot capacity before its deadline
   * forces on-demand. Default SKYHOP_RESPOT_INTERVAL_SECONDS, else 300 s; 0 turns both off.
   */
  respotIntervalMs?: number
  onEvent?: (event: ControllerEvent) => void
  /** Aborting stops driving (the job keeps running; another controller can take over). */
  signal?: AbortSignal
  /** Environment the secrets are read from (the launching process's). */
  env?: NodeJS.ProcessEnv
  /**
   * Shared poller for many jobs in one process (sweeps): backend status calls are batched
   * per provider on one cadence instead of one call per job. Without it, each poll is direct.
   */
  poller?: BatchPoller
}
