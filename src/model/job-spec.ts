// The normalized job: what a job file means once parsed, validated and typed. Every
// later stage (planner, controller, providers) works on this and never on raw YAML.
// Units are in the field names (…Hours, …Seconds, …GB); money carries its currency.
import type {UsageSpec} from './usage.js'

export const RUNTIMES = [
  'cuda',
  'rocm',
  'cann',
  'neuware',
  'dtk',
  'xpu',
  'musa',
  'maca',
  'corex',
  'supa',
  'neuron',
  'xla',
  'habana',
  'oneapi',
  'cpu',
] as const
export type Runtime = (typeof RUNTIMES)[number]

export const CURRENCIES = ['USD', 'CNY'] as const
export type Currency = (typeof CURRENCIES)[number]

export interface Money {
  amount: number
  currency: Currency
}

export type SpotPolicy = 'spot' | 'on-demand' | 'auto'
export type Objective = 'cost' | 'time' | 'balanced'
export type RecoveryStrategy = 'eager-next-region' | 'same-region-first'

/** A numeric requirement; `atLeast` is true for the `8+` form. */
export interface Quantity {
  value: number
  atLeast: boolean
}

export interface Range {
  min: number
  max: number
}

/**
 * One acceptable accelerator configuration. `H100:8` is names=[H100-80GB…], count 8..8.
 * A filter (`{vendor: nvidia, memory: 40GB.., count: 1..8}`) leaves names null.
 */
export interface AcceleratorRequest {
  /** Canonical registry names; null means any accelerator that passes the other filters. */
  names: string[] | null
  /** Lower-case vendor ids (`nvidia`, `huawei`, …); null = any vendor. */
  vendors: string[] | null
  /** Memory per device in GB. */
  memoryGB: {min?: number; max?: number} | null
  count: Range
  /** The request as the user wrote it, for messages. */
  text: string
}

/**
 * `accelerators: auto`. As loaded, `choice` is null and `accelerators` holds one open request
 * (AUTO_REQUEST: any accelerator, any count): the planner then also takes CPU-only machines
 * when the runtimes allow `cpu`. Once the job's earlier runs chose a configuration (the
 * right-sizing `plan --right-size` applies), `accelerators`, `cpus` and `memoryGB` are that
 * configuration's and `choice` says why; `launch` stores that spec, so the controller's
 * re-plans stay within it.
 */
export interface AutoAccelerators {
  choice: AutoChoice | null
}

export interface AutoChoice {
  /** Earlier runs of the job (by name and usage fingerprint) the choice is made from. */
  runs: number
  /** What they measured: "3 runs used ≤ 21 GB of 80 GB and were 2% busy". */
  measured: string
  /**
   * `as-measured`: nothing smaller would cost less, so the configuration the latest run had;
   * otherwise the right-sizing option planned instead of it.
   */
  kind: 'as-measured' | 'fewer-accelerators' | 'smaller-accelerators' | 'cpu-only'
  /** The configuration chosen, the way a job file writes it: `H100:1`, `any accelerator with ≥ 28 GB`, `cpu`. */
  request: string
  /** One line for people: the measurement, and what was chosen instead of what. */
  text: string
  /**
   * The resources as the job file wrote them: the job's runs are found by these (its usage
   * fingerprint), whatever each run was sized to.
   */
  written: Omit<JobSpec['resources'], 'auto'> & {auto: {choice: null}}
}

/** The open request `accelerators: auto` plans with before any run chose: any accelerator, any count. */
export const AUTO_REQUEST: AcceleratorRequest = {
  names: null,
  vendors: null,
  memoryGB: null,
  count: {min: 1, max: 4096},
  text: 'auto',
}

export interface AcceleratorConfig {
  name: string
  count: number
}

export interface DataSource {
  /** Where the bytes live, e.g. `s3://bucket/path`; informational. */
  uri: string | null
  provider: string
  region: string | null
  sizeGB: number
}

export type InterconnectPolicy = 'required' | 'preferred' | 'any'

export interface JobSpec {
  name: string
  resources: {
    /** Alternatives; empty means the job needs no accelerator. */
    accelerators: AcceleratorRequest[]
    /** `ordered`: try alternatives in the order written; `any`: let the objective choose. */
    acceleratorOrder: 'ordered' | 'any'
    /** Software stacks the job can run on; null means any (or `cpu` only if no accelerator). */
    runtimes: Runtime[] | null
    cpus: Quantity | null
    memoryGB: Quantity | null
    diskGB: number | null
    /**
     * For a gang (nodes > 1), how the fabric between its nodes counts: `required`, `preferred`,
     * `any`. Null (or absent, in specs stored before it existed): `preferred` for a gang.
     */
    interconnect?: InterconnectPolicy | null
    /**
     * Written `accelerators: auto`: skyhop chooses the accelerators (docs/planner.md#accelerators-auto).
     * Absent otherwise, so the specs (and usage fingerprints) of other jobs stay as they were.
     */
    auto?: AutoAccelerators
  }
  spot: SpotPolicy
  /** How long the job takes on a reference configuration; null when unknown. */
  work: {reference: AcceleratorConfig | null; hours: number} | null
  /** Relative throughput per canonical accelerator name (per device); wins over TFLOPS. */
  throughput: Record<string, number> | null
  /** Absolute deadline as an ISO-8601 UTC string. */
  deadline: string | null
  budget: Money | null
  /** Hard ceiling on the hourly price of one node. */
  maxPrice: Money | null
  placement: {
    providers: {allow: string[] | null; deny: string[]}
    /** Entries are `region` or `provider/region`. */
    regions: {allow: string[] | null; deny: string[]}
  }
  data: DataSource[]
  /** `image:` as written: a VM image name or id, or a container reference (see `container`). */
  image: string | null
  /**
   * Set when `image:` names a container image (`docker:` prefix or a registry reference): the
   * runner runs setup and run inside it. A VM provider must not resolve `image` as a VM image
   * then. Absent in specs stored before it existed: read it as null.
   */
  container?: ContainerImage | null
  envs: Record<string, string>
  /** Env var names whose values come from the launching environment and are never stored. */
  secrets: string[]
  setup: string | null
  run: string
  /**
   * The job's code: a local directory (absolute, resolved against the job file's directory).
   * Local runs in it, Slurm stages a copy on the shared filesystem, a cloud instance unpacks
   * workdirArchive into its own working directory.
   */
  workdir: string | null
  /**
   * The workdir as packed and uploaded at launch for a cloud (its archive's sha256 and size):
   * every attempt fetches these bytes, whatever the directory holds later. Absent when the
   * job never needed an upload.
   */
  workdirArchive?: WorkdirArchive | null
  /**
   * The job file's `files:`: what is placed at a path on the machine before setup, copied or
   * mounted (docs/job-file.md#files-and-outputs). Absent in specs stored before it existed,
   * and when the file has none.
   */
  files?: FileEntry[]
  /**
   * What the launch found of each bucket object a `files:` entry copies (its size and ETag, by
   * the entry's path): the runner checks what it downloads against them. Absent when none.
   */
  fileObjects?: FileObject[]
  /** The job file's `outputs:`: paths on the machine uploaded after the run and at each checkpoint save. */
  outputs?: OutputEntry[]
  checkpoint: {dir: string | null; intervalSeconds: number | null; store: CheckpointStoreSpec | null}
  recovery: {
    strategy: RecoveryStrategy
    /** Limit on relaunches after preemption or lost capacity. */
    maxRestarts: number
    /** The job's own exit codes that warrant a restart (e.g. a known flaky NCCL exit). */
    restartOnExitCodes: number[]
    /** Limit on restarts for the job's own failures listed above. */
    maxRestartsOnErrors: number
    /** Grace the job gets on cancel or preemption when the backend gives no notice of its own. */
    graceSeconds: number
    /** The signal the job receives on a notice. */
    signal: 'SIGTERM' | 'SIGINT' | 'SIGUSR1' | 'SIGUSR2' | 'SIGHUP'
  }
  /** Release an instance that outlives its job by more than this. */
  idleTimeoutSeconds: number
  objective: Objective
  /** Sweep dimensions; null when the file has no matrix. */
  matrix: Record<string, Array<string | number | boolean>> | null
  /** Number of nodes of one gang, launched all or nothing; every node gets the same accelerators. */
  nodes: number
  /**
   * Other tools' variable names the runner sets beside SKYHOP_* (docs/job-contract.md).
   * Absent in specs stored before it existed: read it as [].
   */
  compat?: CompatName[]
  /**
   * The job file's `usage:`: sampling interval and idle policy (docs/utilisation.md). Absent
   * in specs stored before it existed, and when the file says nothing: sample every 10 s, no policy.
   */
  usage?: UsageSpec
  /** Set when the file has a `service:` block: the job is served by replicas (docs/serve.md). Absent otherwise. */
  service?: ServiceSpec | null
}

/** A service's `service:` block, normalized: durations in seconds, replicas as bounds. */
export interface ServiceSpec {
  /** The port a replica's server listens on (a VM's); on local each replica gets its own. */
  port: number
  readiness: {path: string; initialDelaySeconds: number; timeoutSeconds: number}
  /** min = max for a fixed count; targetQpsPerReplica null means no autoscaling. */
  replicas: {min: number; max: number; targetQpsPerReplica: number | null}
  upscaleDelaySeconds: number
  downscaleDelaySeconds: number
  spot: {baseOnDemand: number; spread: 'zones' | 'providers' | 'none'}
  slo: {p95LatencySeconds: number} | null
  /** Name of the environment variable holding the load balancer's API key; never the key. */
  apiKeyEnv: string | null
  /** Where the load balancer listens: 127.0.0.1 unless told otherwise; port 0 = any free one. */
  host: string
  lbPort: number
}

/** A container image reference (docker/OCI grammar), parsed from the job file's `image:`. */
export interface ContainerImage {
  /** The reference without the `docker:` prefix: what the container runtime is given. */
  reference: string
  /** Registry host[:port]; null for the runtime's default registry (Docker Hub). */
  registry: string | null
  repository: string
  tag: string | null
  digest: string | null
}

/** The job file's `compat:` names (the runner's COMPAT_NAMES, src/runner/contract.ts). */
export type CompatName = 'skypilot' | 'dstack' | 'torchrun'

/** A parsed job together with where it came from. */
export interface LoadedJob {
  spec: JobSpec
  file: string
  /** The raw document, kept for `init`/`validate --json` round-trips. */
  raw: unknown
}

/** An object store bucket that carries checkpoints between attempts (job file or config). */
export interface CheckpointStoreSpec {
  /** s3://, oss://, cos:// or obs:// BUCKET/PREFIX. */
  url: string
  region: string
  endpoint: string | null
  syncIntervalSeconds: number | null
}

/** A workdir archive in the job's object store, named by its content. */
export interface WorkdirArchive {
  sha256: string
  bytes: number
}

/** The bucket URL schemes a `files:` or `outputs:` entry may name (gs:// signed with a service-account key, checkpoint/checkpoint-store.ts). */
export type BucketScheme = 's3' | 'oss' | 'obs' | 'cos' | 'gs'

/**
 * The cloud each kind of bucket belongs to, by provider name: where its data lives for the
 * planner, and the only cloud whose instances can mount it with their own role.
 */
export const BUCKET_CLOUD: Record<BucketScheme, string> = {s3: 'aws', oss: 'aliyun', obs: 'huaweicloud', cos: 'tencentcloud', gs: 'gcp'}

/** One object (or, for a mount, a prefix) in a bucket, with where to reach it. */
export interface BucketRef {
  scheme: BucketScheme
  bucket: string
  /** Without a leading slash; '' for the bucket's root. */
  key: string
  /** The bucket's region and S3-compatible endpoint; null: the checkpoint store's when it is of the same scheme. */
  region: string | null
  endpoint: string | null
}

/** One `files:` entry: `path` is absolute on the machine. */
export interface FileEntry {
  path: string
  source: {kind: 'local'; path: string; directory: boolean} | ({kind: 'bucket'} & BucketRef)
  mode: 'copy' | 'mount'
}

/** A copied bucket object as the launch found it (HEAD): the runner checks the download against it. */
export interface FileObject {
  /** The FileEntry's path; for an object found under a prefix, where it lands (`ENTRY/REST OF KEY`). */
  path: string
  /** Set for an object found under a prefix entry (a source ending in `/`): that entry's path. */
  entry?: string
  /** Set with `entry`: the object's key in the entry's bucket. */
  key?: string
  bytes: number
  /** The store's ETag without quotes; null when it sent none. */
  etag: string | null
  /** Whether the ETag is the MD5 of the bytes (checkpoint/transfers.ts isMd5Etag); absent: no. */
  md5?: boolean
  /**
   * Set for a local source packed for a cloud: the sha256 of its archive in the job's store
   * (`PREFIX/workdirs/SHA256.tar`, as a workdir's), which the runner checks and unpacks.
   */
  sha256?: string
}

/** One `outputs:` entry: `path` on the machine goes to `to` as one archive, `PREFIX/NAME.tar`. */
export interface OutputEntry {
  path: string
  to: {kind: 'store'} | ({kind: 'bucket'} & BucketRef)
}
