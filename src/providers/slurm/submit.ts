// What skyhop hands sbatch: the resource flags for a job on a partition, the job's name
// and tag, and the batch script. Pure, so that the exact argument vectors are tested.
import {createHash} from 'node:crypto'

import type {Offer} from '../../model/catalog.js'
import {ProviderError} from '../../errors.js'
import {shellQuote} from '../../runner/contract.js'
import type {JobSpec} from '../../model/job-spec.js'

export interface SubmitShape {
  partition: string
  nodes: number
  cpusPerTask: number | null
  memoryMB: number | null
  /** Per node, e.g. `gpu:a100:8`; null for none. */
  gres: string | null
  account: string | null
  qos: string | null
}

/**
 * The variables the batch job gets from the submitting process, beside the job's secrets
 * (passed by name, their values in sbatch's own environment). The job's other variables
 * come from the attempt's env file.
 */
export const EXPORTED_ENV = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'TMPDIR']

/**
 * Resources for a job on one partition. Accelerators become `--gres=<name>:<count>`,
 * where `gresByAccelerator` maps the canonical accelerator (`A100-80GB`) to the
 * cluster's GRES name and type (`gpu:a100`, or an NPU's `npu:910b`).
 */
export function shapeFor(
  spec: JobSpec,
  offer: Offer,
  options: {gresByAccelerator: Record<string, string>; account?: string | null; qos?: string | null},
): SubmitShape {
  let gres: string | null = null
  if (offer.accelerator) {
    const name = options.gresByAccelerator[offer.accelerator.name]
    if (!name) {
      throw new ProviderError('slurm', 'user', `no GRES is configured for accelerator ${offer.accelerator.name}`, {
        code: 'SLURM_GRES_UNMAPPED',
        hint: `Map it in config: providers.slurm.gres: {"${offer.accelerator.name}": "gpu:<type>"}`,
      })
    }
    gres = `${name}:${offer.accelerator.count}`
  }
  const cpus = spec.resources.cpus ? Math.max(1, Math.ceil(spec.resources.cpus.value)) : null
  const memoryMB = spec.resources.memoryGB ? Math.max(1, Math.ceil(spec.resources.memoryGB.value * 1024)) : null
  return {
    partition: offer.instanceType,
    nodes: Math.max(1, spec.nodes),
    cpusPerTask: cpus,
    memoryMB,
    gres,
    account: options.account ?? null,
    qos: options.qos ?? null,
  }
}

export function resourceArgs(shape: SubmitShape): string[] {
  // The runner is one task; a multi-node job's own srun uses the other nodes.
  const args = [`--partition=${shape.partition}`, `--nodes=${shape.nodes}`, shape.nodes === 1 ? '--ntasks=1' : '--ntasks-per-node=1']
  if (shape.cpusPerTask !== null) args.push(`--cpus-per-task=${shape.cpusPerTask}`)
  if (shape.memoryMB !== null) args.push(`--mem=${shape.memoryMB}M`)
  if (shape.gres !== null) args.push(`--gres=${shape.gres}`)
  if (shape.account) args.push(`--account=${shape.account}`)
  if (shape.qos) args.push(`--qos=${shape.qos}`)
  return args
}

export interface SbatchInput {
  shape: SubmitShape
  jobName: string
  tag: string
  attemptDir: string
  batchScript: string
  /** Let Slurm requeue the job when it is preempted (preemptible partitions). */
  requeue: boolean
  /** Names of the submitting environment's variables to pass (only those set). */
  exportNames: string[]
}

export function sbatchArgs(input: SbatchInput): string[] {
  const exported = input.exportNames.length > 0 ? input.exportNames.join(',') : 'NONE'
  return [
    '--parsable',
    `--job-name=${input.jobName}`,
    `--comment=${input.tag}`,
    ...resourceArgs(input.shape),
    input.requeue ? '--requeue' : '--no-requeue',
    `--chdir=${input.attemptDir}`,
    `--output=${input.attemptDir}/slurm.out`,
    `--export=${exported}`,
    input.batchScript,
  ]
}

/** Files of a gang's attempt directory that the batch script writes: Slurm's node names and their addresses, rank order. */
export const GANG_NODE_NAMES_FILE = 'node-names'
export const GANG_NODE_IPS_FILE = 'node-ips'

/** The attempt directory's file naming the FIFO the batch script waits on for the job's secrets: `NODE PATH`. */
export const SECRETS_FIFO_FILE = 'secrets-fifo'

/** How long a batch script waits for its secrets once it started; then it ends (exit 75), and the attempt is launched again. */
export const SECRETS_WAIT_SECONDS = 600

/**
 * The batch script's wait for the job's secrets. They never travel in sbatch's environment:
 * slurmctld keeps a batch job's environment on disk, in clear, in its StateSaveLocation
 * (`hash.N/job.ID/environment`) until MinJobAge after the job ends. Instead the script makes a
 * FIFO in node-local memory (/dev/shm; the node's temporary directory where there is none),
 * names it in the attempt directory, and reads `NAME=BASE64` lines from it until `end`. The
 * controller writes them into it with `srun --jobid=ID --overlap` (slurm-provider.ts
 * deliverSecrets): a step's stdin, which Slurm carries over its own connections and stores
 * nowhere. The values land in this shell's environment, from which srun passes them to the
 * runner (`--export=ALL`); the FIFO and its name are removed at once.
 */
function secretsWait(dir: string): string[] {
  const name = `${dir}/${SECRETS_FIFO_FILE}`
  return [
    "# The job's secrets: from the controller through a FIFO in memory, never sbatch's environment (see submit.ts).",
    `sk_name=${name}`,
    'sk_sd=$(mktemp -d /dev/shm/skyhop-secrets.XXXXXX 2>/dev/null || mktemp -d) || { echo "skyhop: cannot make a directory for the secrets" >&2; exit 75; }',
    'mkfifo -m 600 "$sk_sd/fifo" && exec 3<>"$sk_sd/fifo" || { rm -rf "$sk_sd"; echo "skyhop: cannot make the secrets FIFO" >&2; exit 75; }',
    // A job cancelled while it waits leaves neither the FIFO nor its name behind.
    `trap 'rm -rf "$sk_sd"; rm -f "$sk_name"; exit 143' TERM INT`,
    `printf '%s %s\\n' "$SLURMD_NODENAME" "$sk_sd/fifo" >"$sk_name.tmp" && mv -f "$sk_name.tmp" "$sk_name" || { rm -rf "$sk_sd"; exit 75; }`,
    'sk_ok=',
    `while IFS= read -r -t ${SECRETS_WAIT_SECONDS} sk_v <&3; do`,
    '  [ "$sk_v" = end ] && { sk_ok=1; break; }',
    "  # Split at the first '=' only: base64 ends in '=' padding.",
    '  sk_n=${sk_v%%=*}',
    '  sk_v=${sk_v#*=}',
    '  [[ $sk_n =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || continue',
    "  # The x keeps a value's trailing newlines, which $( ) would strip.",
    `  sk_val=$(printf '%s' "$sk_v" | base64 -d && echo x) || { sk_ok=; break; }`,
    '  export "$sk_n=${sk_val%x}"',
    'done',
    'exec 3<&-',
    'trap - TERM INT; rm -rf "$sk_sd"; rm -f "$sk_name"',
    'unset sk_v sk_n sk_val sk_sd sk_name',
    `[ -n "$sk_ok" ] || { echo "skyhop: the job's secrets did not arrive within ${SECRETS_WAIT_SECONDS} s (its controller is gone?)" >&2; exit 75; }`,
  ]
}

/**
 * The batch script. The runner runs as a job step (srun), not as the batch shell: when
 * Slurm chooses a job for preemption it sends SIGTERM to the tasks of its steps at once,
 * but the batch shell hears nothing until GraceTime is over. `scancel --signal=TERM`
 * reaches the same tasks. The CPUs are passed on explicitly because srun stopped
 * inheriting `--cpus-per-task` from the batch job in Slurm 22.11. The task is the runner
 * under its keeper (`--keep`): a step ends when its task exits, and Slurm then kills what
 * is left of it, so a runner killed mid-job would take a job that could have finished with
 * it; the keeper waits for the job instead, and its end is the job's own status.
 *
 * A gang (nodes > 1) is one step with one runner per node. Before the step starts, the
 * batch script writes Slurm's own node list as the peer list: the names as
 * `scontrol show hostnames` expands SLURM_JOB_NODELIST, and each node's NodeAddr (what
 * Slurm itself reaches the node at: an address, or a host name where slurm.conf has one),
 * renamed into place so that a runner never reads half of it. A runner's rank is its
 * node's place in that list (SLURMD_NODENAME), which is SLURM_NODEID on every cluster
 * where the expanded list is in node-table order; SLURM_NODEID when the name is missing.
 */
export function renderBatchScript(input: {
  attemptId: string
  attemptDir: string
  runnerPath: string
  cpusPerTask: number | null
  nodes?: number
  /** A container that wraps the step (containers.ts stepWrap): srun's options and the runner's command prefix. */
  wrap?: {srunOptions: string[]; prefix: string[]}
  /** The job has secrets: the script waits for them (secretsWait) before it starts the runner. */
  secrets?: boolean
}): string {
  const cpus = input.cpusPerTask === null ? '' : ` --cpus-per-task=${input.cpusPerTask}`
  const nodes = input.nodes ?? 1
  // The container's words, quoted: srun's own options, then what runs the runner inside.
  const wrap = [...(input.wrap?.srunOptions ?? []), ...(input.wrap?.prefix ?? [])].map((w) => ` ${shellQuote(w)}`).join('')
  const head = [
    '#!/bin/bash',
    `# skyhop attempt ${input.attemptId.replace(/[^A-Za-z0-9._-]/g, '_')}: written by skyhop's Slurm provider.`,
    "# The runner runs as a job step so that Slurm's preemption SIGTERM reaches it at once.",
  ]
  if (nodes <= 1) {
    const dir = shellQuote(input.attemptDir)
    return [
      ...head,
      // The node, for whoever must reach it after the job (a container's leftovers: slurm-provider.ts).
      `printf '%s\\n' "$SLURMD_NODENAME" >${dir}/${GANG_NODE_NAMES_FILE}.tmp && mv -f ${dir}/${GANG_NODE_NAMES_FILE}.tmp ${dir}/${GANG_NODE_NAMES_FILE}`,
      ...(input.secrets ? secretsWait(dir) : []),
      `exec srun --nodes=1 --ntasks=1${cpus} --export=ALL --quiet${wrap} bash ${shellQuote(input.runnerPath)} --keep ${shellQuote(input.attemptDir)}`,
      '',
    ].join('\n')
  }
  const dir = shellQuote(input.attemptDir)
  // Runs in each task: the rank, then the runner in place of this shell. $0 is the runner, $1 the attempt directory.
  const task = [
    'rank=$SLURM_NODEID i=0',
    `while IFS= read -r n; do [ "$n" = "$SLURMD_NODENAME" ] && rank=$i; i=$((i + 1)); done <"$1/${GANG_NODE_NAMES_FILE}"`,
    'SKYHOP_RUNNER_NODE_RANK=$rank exec bash "$0" --keep "$1"',
  ].join('; ')
  return [
    ...head,
    `# A gang of ${nodes} nodes: Slurm's node list is the peer list (see submit.ts).`,
    `dir=${dir}`,
    'fail() { echo "skyhop: $*" >&2; exit 70; }',
    'names=$(scontrol show hostnames "$SLURM_JOB_NODELIST") || fail "cannot expand the node list $SLURM_JOB_NODELIST"',
    `addrs=$(sinfo --noheader --all --Node --nodes="$SLURM_JOB_NODELIST" --format='%N %o') || fail "cannot read the nodes' addresses"`,
    'ips=',
    'count=0',
    'for name in $names; do',
    '  addr=$(awk -v n="$name" \'$1 == n {print $2; exit}\' <<<"$addrs")',
    '  [ -n "$addr" ] || fail "Slurm gave no address for node $name"',
    '  ips+="$addr"$\'\\n\'',
    '  count=$((count + 1))',
    'done',
    `[ "$count" -eq ${nodes} ] || fail "the job has $count nodes ($SLURM_JOB_NODELIST), not ${nodes}"`,
    `printf '%s\\n' "$names" >"$dir/${GANG_NODE_NAMES_FILE}.tmp" && mv -f "$dir/${GANG_NODE_NAMES_FILE}.tmp" "$dir/${GANG_NODE_NAMES_FILE}" || fail "cannot write $dir/${GANG_NODE_NAMES_FILE}"`,
    `printf '%s' "$ips" >"$dir/${GANG_NODE_IPS_FILE}.tmp" && mv -f "$dir/${GANG_NODE_IPS_FILE}.tmp" "$dir/${GANG_NODE_IPS_FILE}" || fail "cannot write $dir/${GANG_NODE_IPS_FILE}"`,
    ...(input.secrets ? secretsWait('"$dir"') : []),
    `exec srun --nodes=${nodes} --ntasks-per-node=1${cpus} --export=ALL --quiet${wrap} bash -c ${shellQuote(task)} ${shellQuote(input.runnerPath)} "$dir"`,
    '',
  ].join('\n')
}

/** A Slurm job name from skyhop's: letters, digits, `.`, `_`, `-`; at most 100 characters. */
export function slurmJobName(jobName: string, attempt: number): string {
  const clean =
    jobName
      .replace(/[^A-Za-z0-9._-]+/g, '-')
      .replace(/-{2,}/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 80) || 'job'
  return `skyhop-${clean}-a${attempt}`
}

/**
 * The comment that marks a job as skyhop's: `skyhop:<attemptId>:<key>`. The key part is
 * a hash when the idempotency key is not made of safe characters or is long.
 */
export function slurmTag(attemptId: string, idempotencyKey: string): string {
  const safe = /^[A-Za-z0-9._-]{1,64}$/
  const attempt = safe.test(attemptId) ? attemptId : hash(attemptId)
  const key = idempotencyKey === attemptId ? '' : `:${safe.test(idempotencyKey) ? idempotencyKey : hash(idempotencyKey)}`
  return `${TAG_PREFIX}${attempt}${key}`
}

export const TAG_PREFIX = 'skyhop:'

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 32)
}

/** What "no idea" is worth in minutes: a year, where Slurm itself puts a start it cannot tell. */
export const UNKNOWN_START_MINUTES = 365 * 24 * 60

/**
 * Minutes until `startAt` (Slurm's local time). Slurm answers a year or more ahead when it
 * cannot tell (running jobs without time limits), sometimes in year 6110 or 10193: that is
 * "unknown", capped at a year, not a number of minutes to believe.
 */
export function minutesUntil(startAt: string, now: Date): {minutes: number; known: boolean} | null {
  const m = /^(\d{4,})-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/.exec(startAt)
  if (!m) return null
  const ms = m[1].length === 4 ? Date.parse(startAt) : Number.NaN
  if (Number.isNaN(ms)) return {minutes: UNKNOWN_START_MINUTES, known: false}
  const minutes = Math.max(0, Math.ceil((ms - now.getTime()) / 60_000))
  return minutes < 300 * 24 * 60 ? {minutes, known: true} : {minutes: Math.min(minutes, UNKNOWN_START_MINUTES), known: false}
}
