// The contract between skyhop and the runner on an execution host (see
// skyhop-runner.sh beside this file). Everything an attempt needs is written into one
// attempt directory; the runner reads it, runs the job, and writes back events, logs and
// the exit code into the same directory. Providers only move this directory around
// (local: a path; Slurm: a shared path; clouds: user-data + SSH/object storage).
//
// ATTEMPT_DIR/
//   run.sh            the job's `run` script (bash), written verbatim
//   setup.sh          the job's `setup` script, if any
//   env               one `export KEY='value'` line per variable, single-quote escaped; never
//                     a secret: those reach the runner in its own environment (secretNames)
//   runner.conf       KEY=value lines, values shell-quoted (see RunnerConfig)
//   --- written by the runner ---
//   runner.pid        pid of the runner itself
//   job.pgid          process group id of the job (setup and run)
//   output.log        stdout and stderr of setup and run, interleaved
//   events.jsonl      one JSON object per line (see RunnerEvent)
//   job.status        the job's exit status (run.sh's, or setup's when setup ended it), written
//                     atomically by the job's own shell even when the runner is gone: the
//                     record providers fall back on when the runner died without exit_code
//   exit_code         the job's exit code, written atomically when it ends
//   stop-request      written by skyhop before signalling the runner: `cancel` or `preempt`
//   container-args    with containerImage: the runtime's extra arguments, one per line (container.ts)
//   container-devices with containerImage, where the devices are known only on the node (a
//                     Slurm job's allocation): where to read their indices and the vendor's
//                     device template, tab-separated lines (container.ts renderContainerDevices):
//                       vendor V | from VAR… | gres NAME | each ARG… | list ARG… | once ARG… | exists PATH ARG…
//                     The runner takes the first VAR that is set, else this node's IDX list of
//                     GRES NAME from `scontrol show job -d` (ranges expanded, sorted, distinct;
//                     anything but indices, e.g. Slurm's NoDevFiles, fails: exit 70, event
//                     `error`, as does finding none), then appends the template to container-args'
//                     arguments: `each` once per index with {i} replaced, `list` with {list} the
//                     comma-separated indices, `once` as is, `exists` when PATH exists on the node
//   container.name    written by the runner: the name of the attempt's container, if any
//   samples.jsonl     written by the runner's sampler every sampleIntervalSeconds: one JSON line
//                     {ts, cpu (cores busy), cores, rssKB, memKB, procs, tools: [{tool, rc, lines}]}
//                     (docs/utilisation.md); .usage/ is its scratch directory
//
// Details the runner and its writers agree on (added with the runner itself):
//   runner.conf keys are the RunnerConfig field names; `noticeSources` is one value with
//     the entries separated by spaces. The runner parses the file; it never sources it.
//   stop-request may carry the grace in seconds after the kind: `preempt 20`. Without it
//     the runner uses graceSeconds. No file at all means `preempt`.
//   preempt-notice    the default SKYHOP_PREEMPT_NOTICE when env does not name one. On a
//     notice the runner writes there the ISO time at which the job will be SIGKILLed:
//     the host's deadline minus the runner's margin, i.e. the job's real deadline.
//   .metadata-notice.NAME  hand-over from the runner's metadata poller for source NAME to
//     the runner; internal.
//   The runner's exit code is the job's (128+N when the job died of signal N); 75 when
//   it gave up waiting for a capacity slot, for a held attempt's go or for a gang's peer
//   list; 64-70 for its own errors (no exit_code then).
//   A relative workdir is under the runner's own directory (ATTEMPT_DIR, or node-<rank>/).
//
// A gang (numNodes > 1): one runner per node over the same ATTEMPT_DIR (a shared path, or
// a copy per node). Each rank writes runner.pid, job.pgid, output.log, events.jsonl,
// job.status, exit_code, the default preempt-notice and its internal files into
// ATTEMPT_DIR/node-<rank>/, and reads run.sh, setup.sh, env, runner.conf and stop-request
// from ATTEMPT_DIR. The job starts once the peer list is known (event `peers`); it gets
// SKYHOP_NUM_NODES, SKYHOP_NODE_RANK, SKYHOP_NODE_IPS (newline-separated, rank order) and
// SKYHOP_HEAD_IP (for one node: 1, 0, 127.0.0.1, 127.0.0.1), and the aliases `compat`
// names. A preempt notice at any rank is written (deadline, ms since the epoch) to
// gangNoticeFile or PUT to gangNoticePutUrl (Content-Type application/octet-stream);
// every rank reads gangNoticeFile / GETs gangNoticeGetUrl (404 until then) each
// pollIntervalSeconds and stops by that deadline (event `notice`, source `gang`). Only
// the head (rank 0) saves the checkpoint to the store; every rank restores it. With
// capacity slots the head takes one per rank at once and lists them in ATTEMPT_DIR/gang-slots,
// which the other ranks wait for.
//
// A container image (containerImage): setup and run go inside one container, started by the
// job's wrapper as `RUNTIME run --rm --init --name NAME --workdir WORKDIR -v P:P… --env
// SKYHOP_PREEMPT_NOTICE --env SKYHOP_NUM_NODES… ARGS… IMAGE bash -c ENTRY`, where P is each of
// ATTEMPT_DIR, the workdir, SKYHOP_CHECKPOINT_DIR and the notice file's directory (same path
// inside), ARGS are container-args, and ENTRY sources env and runs setup.sh then run.sh, each in
// a process group of its own that gets the signals the container's init passes on. With
// secretNames the runtime also gets `--interactive`, and ENTRY reads the secrets from its stdin
// (`NAME LENGTH` then LENGTH bytes each, from the runner's environment) before the job starts
// with stdin at /dev/null. The image
// needs bash. The runtime's client runs in a process group of its own; the job's wrapper
// forwards the job's signal through the runtime (`kill --signal SIG NAME`) to the container's
// init, which hands it to ENTRY; at the deadline the runner kills the container the same way
// with SIGKILL, whose time is why the kill margin defaults to 3 s then. The container's exit
// code is the job's.
//
// Imports nothing from the rest of skyhop except types, so it can be reused by every provider.

export interface RunnerConfig {
  /** Seconds the job gets between the notice and SIGKILL when the backend gives none. */
  graceSeconds: number
  /** Signal delivered to the job's process group on a notice or cancel. */
  signal: string
  /**
   * On an interruption notice (not a cancel), the job's signal waits until this many seconds
   * before the kill instead of coming at once (the notice file is written at once either
   * way): a service replica's server keeps serving through its notice and is drained by its
   * controller before the signal. A cancel meanwhile signals at once. Unset or 0: at once.
   */
  noticeSignalLeadSeconds?: number
  /** Working directory for setup and run. */
  workdir: string
  /**
   * Where notices come from besides signals to the runner: `aws`, `gcp`, `azure`,
   * `aliyun`, `tencentcloud`, `huaweicloud`; each may be followed by `=BASE_URL` to point it
   * at another metadata server (tests).
   */
  noticeSources: string[]
  /**
   * The longest a metadata notice waits before the runner acts on it: polls start that often
   * (a little more often, by the time a poll takes); GCP's hanging GET answers at once and
   * falls back to polls at this interval. 1 s unless a provider says otherwise.
   */
  pollIntervalSeconds: number
  /** Seconds the runner keeps the job alive after its own exit for log shipping; 0 normally. */
  lingerSeconds?: number
  /**
   * How long before the deadline the runner sends SIGKILL, so that it can still record the
   * kill and the exit before the host takes the machine. Default 1.5; never more than a
   * quarter of the remaining grace.
   */
  killMarginSeconds?: number
  /**
   * Capacity slots shared by attempts on one host (the local provider): the runner holds a
   * flock on one of `slots` files in `slotDir` while the job runs. Unset: no limit.
   */
  slotDir?: string
  slots?: number
  /** Seconds to wait for a free slot; -1 waits for ever (a queue), 0 gives up at once. */
  slotWaitSeconds?: number
  /**
   * A checkpoint store: presigned URLs of the job's checkpoint archive. The runner restores
   * SKYHOP_CHECKPOINT_DIR from checkpointGet before the job starts (404: nothing yet), and
   * copies it to checkpointPut every checkpointSyncSeconds when it changed (0: never while
   * running) and once more when the job exits, before exit_code. With a store, the kill
   * margin defaults to 30 s, the upload's time after a SIGKILL.
   */
  checkpointGet?: string
  checkpointPut?: string
  checkpointSyncSeconds?: number
  /**
   * The job's code on a cloud: a presigned GET of the workdir archive packed at launch. The
   * runner fetches it before setup, checks its sha256 against workdirSha256 and unpacks it
   * into the workdir; any mismatch or refusal fails the attempt before the job starts.
   */
  workdirUrl?: string
  workdirSha256?: string
  /**
   * A held attempt (launched before the attempt it replaces has stopped): the runner
   * neither restores the checkpoint nor starts the job until holdFile exists, or the
   * presigned GET holdUrl answers 200, and gives up (exit 75, no exit_code) after
   * holdTimeoutSeconds (default 3600).
   */
  holdFile?: string
  holdUrl?: string
  holdTimeoutSeconds?: number
  /**
   * A cloud attempt's files shipped to the job's store (docs/utilisation.md#where-samples-go):
   * a presigned GET of the list of signed PUT URLs (`t ISSUED EXPIRES`, `m 0 URL` the list's own
   * GET, `o INDEX URL` for the head's output.log's segments, `s INDEX URL` for its samples.jsonl's,
   * `s<RANK> INDEX URL` for a gang rank's), fetched at start and again through `m` once the
   * controller has signed it again (from 5/6 of the URLs' life on). Every shipSeconds (default 30)
   * the runner PUTs each segment of shipSegmentBytes (default 256 KiB) that grew, and once more
   * after the job, before exit_code. Shipping never fails the job.
   */
  shipUrl?: string
  shipSeconds?: number
  shipSegmentBytes?: number
  /**
   * A gang (multi-node attempt, docs/job-contract.md): numNodes runners, one per node, each
   * with its nodeRank (the launcher may override it with SKYHOP_RUNNER_NODE_RANK). With
   * numNodes > 1 a runner writes its own files into ATTEMPT_DIR/node-<rank>/.
   */
  numNodes?: number
  nodeRank?: number
  /**
   * The gang's addresses, rank order: known at launch (space-separated), or a file the runner
   * waits for, or a presigned GET it polls until 200; at most peersTimeoutSeconds (default 600).
   */
  nodeIps?: string[]
  nodeIpsFile?: string
  nodeIpsUrl?: string
  peersTimeoutSeconds?: number
  /**
   * A notice at one rank is a notice to the gang: the rank that got it publishes the deadline
   * (epoch ms) to the file (shared filesystem) or the presigned PUT, and every rank watches the
   * file or the presigned GET each pollIntervalSeconds.
   */
  gangNoticeFile?: string
  gangNoticePutUrl?: string
  gangNoticeGetUrl?: string
  /** Other tools' variable names the job gets beside SKYHOP_* (the job file's `compat:`). */
  compat?: CompatName[]
  /**
   * The names of the job's secrets. Their values are never written into the attempt
   * directory: the runner gets them in its own process environment (the local provider's
   * spawn, Slurm's `--export`, a cloud's boot script reading them from a one-time object)
   * and the job inherits them; a container gets them on its entry's stdin (see above), as
   * `--env` would have the runtime write them into the container's configuration on disk.
   * A runner whose environment lacks one fails before the job starts (exit 70, event `error`).
   */
  secretNames?: string[]
  /** A container image reference: setup and run go inside it (see above). */
  containerImage?: string
  /** `podman` (default) or `docker`, or an absolute path to one of them. */
  containerRuntime?: string
  /** The runtime's extra arguments, e.g. the accelerators from deviceArgs (container.ts); written to container-args. */
  containerArgs?: string[]
  /**
   * Seconds between the runner's utilisation samples (samples.jsonl: CPU and memory of the
   * job's process tree, each vendor tool's output); default 10, 0 for none (docs/utilisation.md).
   */
  sampleIntervalSeconds?: number
  /**
   * The job's files: and outputs: (docs/job-file.md#files-and-outputs): a list of transfers,
   * one tab-separated line each (`copy DEST SRC`, `get DEST BYTES ETAG URL`, `out PATH URL`),
   * written into the attempt directory by skyhop (transfersFile, on skyhop's own filesystem)
   * or fetched by a signed GET (transfersUrl, a cloud instance). The runner places every
   * copy and get before setup, and PUTs each output after the run and at each checkpoint save.
   */
  transfersFile?: string
  transfersUrl?: string
}

/** The job file's `compat:` names, each a set of aliases the runner exports (docs/job-contract.md). */
export const COMPAT_NAMES = ['skypilot', 'dstack', 'torchrun'] as const
export type CompatName = (typeof COMPAT_NAMES)[number]

/**
 * How a held attempt learns that it may start: a file skyhop creates (a provider whose
 * attempts see skyhop's filesystem), or an object skyhop writes to the job's checkpoint
 * store, read through a presigned GET (a cloud instance).
 */
export type AttemptHold = {file: string; timeoutSeconds: number} | {url: string; timeoutSeconds: number}

export type RunnerEventName =
  | 'runner-start'
  | 'setup-start'
  | 'setup-exit'
  | 'run-start'
  | 'notice' // an interruption notice arrived (fields: source, deadline)
  | 'rebalance' // AWS raised the interruption risk (a rebalance recommendation); the job runs on (fields: source, noticeTime)
  | 'cancel' // a cancel request arrived
  | 'signal' // the job's process group was signalled (fields: signal, remainingSeconds)
  | 'kill' // the grace ran out: SIGKILL
  | 'exit' // the job ended (fields: exitCode, signal, beforeDeadline)
  | 'warning' // something the runner cannot do here, e.g. a notice source it cannot poll (fields: message)
  | 'error' // the runner could not start the job; no exit_code follows (fields: message)
  | 'slot-wait' // all capacity slots are busy; the attempt is queued (fields: slots)
  | 'slot' // a capacity slot was taken (fields: slot, slots)
  | 'no-slot' // gave up waiting for a slot; the runner exits 75 without an exit_code (fields: slots)
  | 'checkpoint-restore' // before the job: the store's archive unpacked (fields: found, bytes, seconds, tries)
  | 'workdir-fetch' // before setup: the workdir archive fetched, checked and unpacked (fields: bytes, tries)
  | 'file-fetch' // before setup: one files: entry copied or downloaded, checked and moved into place (fields: path, bytes)
  | 'output-save' // an outputs: path archived and PUT (fields: path, reason, ok, bytes, httpStatus on failure)
  | 'checkpoint-save' // the directory copied to the store (fields: reason periodic|exit, ok, bytes, seconds, httpStatus, message)
  | 'hold-wait' // a held attempt waits for skyhop's go (fields: timeoutSeconds)
  | 'hold-released' // the go came; restore and the job follow (fields: seconds)
  | 'hold-expired' // no go within holdTimeoutSeconds; the runner exits 75 without an exit_code (fields: timeoutSeconds)
  | 'peers' // a gang's peer list is known; the job may start (fields: count, seconds, from)
  | 'peers-expired' // no peer list within peersTimeoutSeconds; the runner exits 75 without an exit_code (fields: timeoutSeconds)
  | 'gang-notice' // this rank's notice reached gangNoticePutUrl (fields: published, tries)
  | 'ship' // after the job: output.log and samples.jsonl copied to the store (fields: ok, bytes: the log's, a gang rank's samples', httpStatus)
  | 'ship-urls-renewed' // the ship list the controller signed again was taken (fields: expiresAt)
  | 'container-devices' // the devices allocated on this node, from container-devices (fields: vendor, from, indices, args)
  | 'image-pull-failed' // the container image could not be pulled; the job never started, its exit code is 125 (fields: message, exitCode)

export interface RunnerEvent {
  /** ISO-8601 time with milliseconds. */
  ts: string
  event: RunnerEventName
  [field: string]: unknown
}

/** The SKYHOP_* environment every attempt gets (documented in docs/job-contract.md). */
export interface JobContractEnv {
  SKYHOP_JOB_ID: string
  SKYHOP_JOB_NAME: string
  SKYHOP_ATTEMPT: string
  SKYHOP_RESTART_COUNT: string
  SKYHOP_CHECKPOINT_DIR: string
  SKYHOP_GRACE_SECONDS: string
  SKYHOP_PREEMPT_NOTICE: string
}

/** Single-quotes a value for bash so that it is always data, never code. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

export function isValidEnvName(name: string): boolean {
  return ENV_NAME.test(name)
}

/** What the runner accepts in `noticeSources`, with the metadata base URL it polls by default. */
export const NOTICE_SOURCES = {
  aws: 'http://169.254.169.254',
  gcp: 'http://metadata.google.internal',
  azure: 'http://169.254.169.254',
  aliyun: 'http://100.100.100.200',
  tencentcloud: 'http://metadata.tencentyun.com',
  /** Nothing is polled: Huawei Cloud documents no in-guest spot reclaim endpoint. */
  huaweicloud: null,
} as const
export type NoticeSource = keyof typeof NOTICE_SOURCES

/** Signals the runner can deliver as the job's notice. */
export const RUNNER_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGUSR1', 'SIGUSR2', 'SIGHUP', 'SIGQUIT'] as const

export type StopKind = 'cancel' | 'preempt'
