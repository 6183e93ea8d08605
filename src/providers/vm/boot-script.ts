// The startup script every VM cloud gives its instances as cloud-init user data (a
// `#!/bin/bash` part, which cloud-init runs once as root at first boot). It:
//   1. writes the attempt directory of src/runner/contract.ts (run.sh, setup.sh, env,
//      runner.conf) and skyhop-runner.sh itself, each gzip+base64 so any bytes survive (a
//      gang's nodes fetch the runner from the job's store instead: rankDiscovery); the
//      job's secrets never: they are fetched into the script's environment from a one-time
//      object of the job's store, which is deleted at once (secretsFetch);
//   2. runs the runner with the cloud's notice source (its metadata endpoint);
//   3. mirrors the runner's events and the job's output to the serial console, one
//      prefixed line each, which skyhop reads back through the cloud's console-output API
//      (the status and log channel: nothing inbound is opened, no SSH key is needed);
//   4. polls a cloud-specific probe for a stop request (AWS: an instance tag exposed in
//      IMDS) and hands it to the runner as `stop-request` + SIGTERM, the local contract;
//   5. prints the runner's exit and powers the machine off; instances are launched to
//      terminate on shutdown, so nothing idles and nothing bills after the job.
// Deterministic for a given request: a retried launch sends byte-identical user data,
// which the clouds' idempotency tokens require.
import {mountLines} from './bucket-mounts.js'
import {readFile} from 'node:fs/promises'
import {gzipSync} from 'node:zlib'

import {
  checkpointRunnerConfig,
  holdRunnerConfig,
  shipRunnerConfig,
  workdirRunnerConfig,
  jobRunnerConfig,
  noticeSignalRunnerConfig,
  renderContainerArgs,
  renderEnv,
  renderRunnerConf,
  runnerScriptPath,
} from '../attempt-dir.js'
import {BugError, ProviderError} from '../../errors.js'
import {isValidEnvName, shellQuote} from '../../runner/contract.js'
import {CONTAINER_RUNTIMES, deviceArgs, UnknownVendorError} from '../../runner/container.js'
import {loadRegistry} from '../../catalog/accelerators.js'
import type {LaunchRequest} from '../provider.js'
import {gangRunnerConfig} from './gang.js'

/** Console line prefixes (see console-channel.ts). */
export const CONSOLE_PREFIX = {boot: 'SKYHOP-BOOT', event: 'SKYHOP-EV', log: 'SKYHOP-LOG', exit: 'SKYHOP-EXIT'} as const

export interface BootScriptInput {
  request: LaunchRequest
  /** The contents of skyhop-runner.sh (readRunnerScript()). */
  runnerScript: string
  /** RunnerConfig.noticeSources, e.g. `['aws']` or `['aws=http://127.0.0.1:8080']`. */
  noticeSources: string[]
  /**
   * Bash that prints a pending stop request (`cancel 30`, `preempt`) or nothing; run every
   * poll interval. null: no watcher (the cloud offers no inbound-free channel).
   */
  stopRequestProbe: string | null
  /** Where the mirror lines go. Default /dev/ttyS0, the serial console the APIs return. */
  consoleDevice?: string
  /** Parent of the attempt directories. Default /var/lib/skyhop/attempts. */
  baseDir?: string
  /**
   * The runner's metadata poll interval (its notice reaches the job within it; default 1),
   * and the stop-request probe's interval (default 5: a stop request is skyhop's own, not
   * the cloud's deadline, and each probe forks).
   */
  pollIntervalSeconds?: number
  /** Default `shutdown -h now`. */
  shutdownCommand?: string
  /**
   * Files other than runner.conf go gzipped and base64'd (default), for user data sent as
   * written; false writes them as text, for user data gzipped as a whole (bootUserData).
   */
  packFiles?: boolean
  /**
   * The node GETs the runner from the job's store (request.gang.runner) instead of carrying it:
   * always for a gang, and for one node when the user data would not hold it (bootUserData).
   */
  runnerFromStore?: boolean
  /**
   * Bash that prints this node's instance id, for a gang node to find its rank. Default: the
   * id cloud-init records (/var/lib/cloud/data/instance-id); a cloud whose images run the
   * script without cloud-init (Compute Engine's startup-script) asks its metadata server.
   */
  instanceIdCommand?: string
  /** Seconds between the exit line and the power-off, so the console is flushed. Default 5. */
  flushSeconds?: number
}

/**
 * The runner as the instance gets it: without its comment lines, blank lines and leading
 * blanks (the shebang stays), and without the sections this attempt cannot use. User data
 * is small (EC2: 16 KB; a container job without a store came within 300 bytes of it with the
 * indentation), the comments are a third of the runner, and a VM polls one cloud's notice
 * endpoint and runs no container; the installed copy keeps everything. A section is the
 * lines between `# ship-section NAME` and `# ship-section-end`, whole definitions only, and
 * `sections` names those to keep (all when undefined). Bash reads what is kept the same
 * either way (test/unit/providers/boot-script-runner.test.ts compares bash's own reading).
 */
export function shippedRunner(script: string, sections?: ReadonlySet<string>): string {
  const lines = script.split('\n')
  const kept: string[] = [lines[0]]
  let dropping = false
  for (const line of lines.slice(1)) {
    const start = /^# ship-section ([a-z0-9-]+)/.exec(line)
    if (start) dropping = sections !== undefined && !sections.has(start[1])
    else if (line.startsWith('# ship-section-end')) dropping = false
    else if (!dropping && !/^\s*(#.*)?$/.test(line)) kept.push(line.trimStart())
  }
  return kept.join('\n')
}

/**
 * The runner sections (shippedRunner) a VM attempt uses: the notice poller of each of its
 * notice sources (`aws`, `aws=http://…`), the container's when the job has an image, and the
 * shipper's and the utilisation sampler's when the attempt ships its output and samples to
 * the job's store.
 */
export function runnerSections(noticeSources: readonly string[], container: boolean, ship = false, files = false): Set<string> {
  const sections = new Set(noticeSources.map((source) => `notice-${source.split('=')[0]}`))
  if (container) sections.add('container')
  if (files) sections.add('files')
  // The sampler's lines reach skyhop only through the shipper: without it they would stay on the instance.
  if (ship) for (const section of ['ship', 'usage']) sections.add(section)
  return sections
}

/**
 * The instance's accelerators for a container job, the vendor's way (container.ts), once per
 * runtime: which one the instance has is known only there (the runner picks its file).
 */
function containerArgFiles(request: LaunchRequest): Record<string, string> {
  const acc = request.offer.accelerator
  if (!request.spec.container || !acc || acc.count < 1) return {}
  const vendor = loadRegistry().resolve(acc.name)?.vendor
  if (!vendor) return {}
  const files: Record<string, string> = {}
  for (const runtime of CONTAINER_RUNTIMES) {
    let args: string[]
    try {
      // A VM's devices are its accelerators, all of them; the driver paths are the vendor image's.
      args = deviceArgs(runtime, {vendor, indices: Array.from({length: acc.count}, (_, i) => i)})
    } catch (error) {
      if (error instanceof UnknownVendorError)
        throw new ProviderError(request.offer.provider, 'user', `${acc.name}: ${error.message}`, {code: 'CONTAINER_DEVICES_UNKNOWN'})
      throw error
    }
    if (args.length > 0) files[`container-args-${runtime}`] = renderContainerArgs(args)
  }
  return files
}

/**
 * For a container job, before the runner starts: podman from the distribution's packages when
 * the VM image has neither podman nor docker (never under a test's root prefix, which runs on
 * the test machine); the runtime that answers goes into runner.conf, with its accelerator
 * arguments (containerArgFiles); with the job's secrets SKYHOP_REGISTRY_USERNAME and
 * SKYHOP_REGISTRY_PASSWORD (fetched like every secret, never in user data) the image is pulled
 * after a login into an auth file of its own, removed right after (the password on stdin,
 * never an argument). A pull that fails here is the runner's to report: it pulls again, and
 * records image-pull-failed.
 */
function containerPrepare(request: LaunchRequest): string {
  if (!request.spec.container) return ''
  const image = shellQuote(request.spec.container.reference)
  const registry = shellQuote(request.spec.container.registry ?? 'docker.io')
  return `if [[ -z \${SKYHOP_BOOT_ROOT-} ]] && ! command -v podman >/dev/null 2>&1 && ! command -v docker >/dev/null 2>&1; then
  { apt-get update -qq && apt-get install -y -qq podman; } || dnf install -y podman || yum install -y podman
fi >>"$D/runner.log" 2>&1
sk_rt=
for sk_r in podman docker; do "$sk_r" version >/dev/null 2>&1 && sk_rt=$sk_r && break; done
if [[ -n $sk_rt ]]; then
  printf '\\ncontainerRuntime=%s\\n' "$sk_rt" >>"$D/runner.conf"
  [[ -f $D/container-args-$sk_rt ]] && mv -f "$D/container-args-$sk_rt" "$D/container-args"
  if [[ -n \${SKYHOP_REGISTRY_USERNAME-} && -n \${SKYHOP_REGISTRY_PASSWORD-} ]] && sk_a=$(mktemp -d); then
    if [[ $sk_rt == docker ]]; then sk_g=(--config "$sk_a") sk_o=(); else sk_g=() sk_o=(--authfile "$sk_a/auth.json"); fi
    printf '%s' "$SKYHOP_REGISTRY_PASSWORD" | "$sk_rt" \${sk_g[@]+"\${sk_g[@]}"} login \${sk_o[@]+"\${sk_o[@]}"} --username "$SKYHOP_REGISTRY_USERNAME" --password-stdin ${registry} &&
      "$sk_rt" \${sk_g[@]+"\${sk_g[@]}"} pull \${sk_o[@]+"\${sk_o[@]}"} ${image}
    rm -rf -- "$sk_a"
  fi >>"$D/runner.log" 2>&1
fi`
}

/** gzip (mtime 0, so deterministic) then base64. */
function packed(text: string): string {
  return gzipSync(Buffer.from(text, 'utf8'), {level: 9}).toString('base64')
}

/** The attempt id as a safe directory name. */
export function attemptDirName(attemptId: string): string {
  return attemptId.replace(/[^A-Za-z0-9._-]/g, '_')
}

/** The files of the attempt directory, by name. */
export function attemptFiles(input: BootScriptInput, attemptDir: string): Record<string, string> {
  const {request} = input
  const {spec} = request
  // An instance without the job's code would run the job wrong, not fail it: refuse the launch.
  const workdir = request.checkpointSync?.workdir ?? request.workdir ?? null
  if (spec.workdir !== null && !workdir) {
    throw new ProviderError(
      request.offer.provider,
      'user',
      `workdir ${spec.workdir} was not uploaded for this job, so an instance could not get it`,
      {
        code: 'WORKDIR_NOT_UPLOADED',
        hint: 'Launch the job again with a checkpoint store (docs/job-file.md#workdir): launch uploads the workdir when a cloud is a candidate.',
      },
    )
  }
  // User data is readable by anyone allowed to describe the instance: a secret never goes
  // there, only the signed URLs of the one-time object it travels in (secretsFetch).
  if (Object.keys(request.secrets ?? {}).length > 0 && !request.secretsObject) {
    throw new ProviderError(
      request.offer.provider,
      'unavailable',
      `the job has secrets (${Object.keys(request.secrets!)
        .map((n) => `$${n}`)
        .join(', ')}) and no checkpoint store to pass them to an instance through`,
      {
        code: 'SECRETS_NEED_STORE',
        scope: 'provider',
        hint: 'Set checkpoint.store in the job file or checkpoint_store in the config (docs/job-file.md#secrets): skyhop never puts secrets in user data.',
      },
    )
  }
  // The job's files: and outputs: reach an instance only through the job's store (transfersUrl).
  if (request.transfers && request.transfers.url === null) {
    throw new ProviderError(
      request.offer.provider,
      'unavailable',
      'the job has files: or outputs: and no checkpoint store to pass their signed list to an instance through',
      {
        code: 'FILES_NEED_STORE',
        scope: 'provider',
        hint: 'Set checkpoint.store in the job file or checkpoint_store in the config (docs/job-file.md#files-and-outputs).',
      },
    )
  }
  const env = {...request.env, SKYHOP_PREEMPT_NOTICE: `${attemptDir}/preempt-notice`}
  const files: Record<string, string> = {
    'run.sh': spec.run,
    env: renderEnv(env),
    'runner.conf': renderRunnerConf({
      graceSeconds: request.graceSeconds,
      signal: spec.recovery.signal,
      // The job's workdir is a directory on the launching machine: here its archive is
      // unpacked into the attempt's own `work` (each rank's, in a gang).
      workdir: 'work',
      noticeSources: input.noticeSources,
      pollIntervalSeconds: input.pollIntervalSeconds ?? 1,
      ...checkpointRunnerConfig(request.checkpointSync),
      ...workdirRunnerConfig({workdir: workdir ?? undefined}),
      ...holdRunnerConfig(request.hold),
      ...shipRunnerConfig(request.ship),
      ...(request.transfers?.url ? {transfersUrl: request.transfers.url} : {}),
      ...jobRunnerConfig(spec),
      ...noticeSignalRunnerConfig(request),
      ...gangRunnerConfig(request),
      // containerRuntime is added at boot: the one the instance has (containerPrepare).
      ...(spec.container ? {containerImage: spec.container.reference} : {}),
    }),
    ...containerArgFiles(request),
  }
  // A gang's nodes fetch the runner from the job's store at boot (rankDiscovery).
  if (!runnerFromStore(input)) {
    files['skyhop-runner.sh'] = shippedRunner(
      input.runnerScript,
      runnerSections(input.noticeSources, (spec.container ?? null) !== null, !!request.ship, !!request.transfers?.url),
    )
  }
  if (spec.setup) files['setup.sh'] = spec.setup
  return files
}

/**
 * A cloud attempt's secrets as their one-time object holds them: one `NAME=BASE64(VALUE)`
 * line each, which the boot script decodes into the runner's environment (secretsFetch).
 * base64 keeps any bytes of a value (newlines, quotes) data.
 */
export function renderSecretsObject(secrets: Record<string, string>): string {
  return Object.entries(secrets)
    .map(([name, value]) => {
      if (!isValidEnvName(name)) throw new BugError(`secret name "${name}" is not a variable name`)
      return `${name}=${Buffer.from(value, 'utf8').toString('base64')}\n`
    })
    .join('')
}

/** The boot script's fetch of the secrets object (secretsFetch): tries, each's timeout, the pause between them. */
const SECRETS_FETCH = {tries: 12, trySeconds: 30, pauseSeconds: 5}

/**
 * From a create call's answer to the boot script's first line: the instance leaving
 * `pending`, the OS booting and cloud-init starting the script. A minute or two on the
 * clouds skyhop launches on; ten allow a slow image's first boot (a large GPU image, a
 * Windows-sized disk restored from a snapshot).
 */
export const SECRETS_BOOT_MARGIN_SECONDS = 600

/**
 * How long a cloud attempt's secrets URLs must work: the launch call's own budget (the
 * candidate's, within which the instance is created), the boot margin, a gang node's wait for
 * its rank (which comes first in the script), and the fetch's own retries. With the defaults:
 * 180 + 600 + 420 = 1,200 s (20 minutes) for one node, 1,800 s for a gang's. A boot later than
 * that cannot fetch them: it ends like a lost node, and the attempt is launched again with a
 * fresh object (docs/job-file.md#secrets).
 */
export function secretsUrlSeconds(candidateSeconds: number, gang: boolean): number {
  const fetch = SECRETS_FETCH.tries * (SECRETS_FETCH.trySeconds + SECRETS_FETCH.pauseSeconds)
  return Math.ceil(candidateSeconds) + SECRETS_BOOT_MARGIN_SECONDS + (gang ? GANG_RANK_TIMEOUT_SECONDS : 0) + fetch
}

/**
 * The boot script's part that brings the job's secrets into its own environment, from which
 * the runner and the job inherit them: a GET of the one-time object (retried for a minute:
 * the provider wrote it just before the launch), then its DELETE, so nothing of them is
 * left in the store once the instance has them (a gang's nodes share the object, which the
 * controller deletes when the attempt is released). Nothing is written to the instance's disk:
 * the object lands in a variable, and the decoding reads it through a pipe. An object that
 * cannot be fetched ends the boot like a lost node (no exit code; the controller launches
 * again, with a fresh object).
 */
function secretsFetch(request: LaunchRequest): string {
  const object = request.secretsObject
  if (!object || Object.keys(request.secrets ?? {}).length === 0) return ''
  return `sk_secret_fail() {
  sk_say "${CONSOLE_PREFIX.event} {\\"ts\\":\\"$(date -u +%Y-%m-%dT%H:%M:%S.000Z)\\",\\"event\\":\\"error\\",\\"message\\":\\"$1\\"}"
  sk_say "${CONSOLE_PREFIX.exit} 75 none"
  sk_poweroff 75
}
sk_sec=
for sk_try in $(seq ${SECRETS_FETCH.tries}); do
  sk_sec=$(curl -sf -m ${SECRETS_FETCH.trySeconds} ${shellQuote(object.getUrl)}) && break
  sk_sec=
  sleep ${SECRETS_FETCH.pauseSeconds}
done
[[ -n $sk_sec ]] || sk_secret_fail 'the job secrets could not be fetched from the object store'
${
  isGang(request)
    ? '# Every node of the gang reads this one object: the controller deletes it when the attempt is released.'
    : `curl -sf -m 30 -X DELETE ${shellQuote(object.deleteUrl)} >/dev/null 2>&1 || true`
}
while IFS= read -r sk_v; do
  # Split at the first '=' only: base64 ends in '=' padding, which read would drop.
  sk_n=\${sk_v%%=*}
  sk_v=\${sk_v#*=}
  [[ $sk_n =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || continue
  # The x keeps a value's trailing newlines, which $( ) would strip.
  sk_val=$(printf '%s' "$sk_v" | base64 -d && echo x) || sk_secret_fail "secret $sk_n is not base64 in the object store"
  export "$sk_n=\${sk_val%x}"
done < <(printf '%s\\n' "$sk_sec")
unset sk_sec sk_n sk_v sk_val sk_try`
}

const STOP_REQUEST = '^(cancel|preempt)( [0-9]{1,6})?$'

/** How long a gang's node waits for its runner and rank list (the runner waits as long for the peers: peersTimeoutSeconds). */
export const GANG_RANK_TIMEOUT_SECONDS = 600

/** A multi-node attempt with its objects in the job's store (a provider refuses one without). */
function isGang(request: LaunchRequest): boolean {
  return !!request.gang && (request.spec.nodes ?? 1) > 1
}

function runnerFromStore(input: BootScriptInput): boolean {
  return isGang(input.request) || (!!input.request.gang && input.runnerFromStore === true)
}

/**
 * A gang node's runner and rank. One RunInstances gives every node the same user data, and
 * that user data holds the boot script and the gang's signed URLs but not the runner (EC2's
 * 16 KB would not hold both): the node GETs the runner from the job's store, where the
 * provider put it before the launch. Its rank is its place in the gang's rank list (instance
 * ids, rank order, written once every node's address is known), found by the instance id
 * cloud-init records in /var/lib/cloud/data/instance-id. A node that is not on the list, or
 * an object that never comes, ends the node without an exit code (LOST).
 */
function rankDiscovery(input: BootScriptInput): string {
  const {request} = input
  if (!runnerFromStore(input)) return 'N="$D"'
  const gang = request.gang!
  const fetchRunner = `sk_fail() {
  sk_say "${CONSOLE_PREFIX.event} {\\"ts\\":\\"$(date -u +%Y-%m-%dT%H:%M:%S.000Z)\\",\\"event\\":\\"error\\",\\"message\\":\\"$1\\"}"
  sk_say "${CONSOLE_PREFIX.exit} 75 none"
  sk_poweroff 75
}
sk_fetch() { # URL FILE WHAT: one of the gang's objects, waited for as the runner waits for its peers
  local waited=0
  until curl -sf -m 30 -o "$2.tmp" "$1" && mv -f "$2.tmp" "$2"; do
    (( waited >= ${GANG_RANK_TIMEOUT_SECONDS} )) && sk_fail "$3 never appeared in the object store"
    sleep 2
    waited=$((waited + 2))
  done
}
sk_fetch ${shellQuote(gang.runner.getUrl)} "$D/skyhop-runner.sh" 'the runner'`
  if (!isGang(request)) return `${fetchRunner}\nN="$D"`
  return `${fetchRunner}
${
  input.instanceIdCommand
    ? `sk_id=$( { ${input.instanceIdCommand}; } 2>/dev/null | tr -d '[:space:]')
[[ -n $sk_id ]] || sk_fail 'the metadata server gave no instance id: cannot find this node in the gang'`
    : `sk_id=$(tr -d '[:space:]' <"\${SKYHOP_BOOT_ROOT-}/var/lib/cloud/data/instance-id" 2>/dev/null)
[[ -n $sk_id ]] || sk_fail 'cloud-init recorded no instance id: cannot find this node in the gang'`
}
sk_fetch ${shellQuote(gang.nodeIds.getUrl)} "$D/node-ids" 'the gang rank list'
sk_ids=$(cat "$D/node-ids")
sk_rank=0
for sk_n in $sk_ids; do
  [[ $sk_n == "$sk_id" ]] && break
  sk_rank=$((sk_rank + 1))
done
[[ " $sk_ids " == *" $sk_id "* ]] || sk_fail "instance $sk_id is not in the gang rank list"
# The runner takes its rank from here and writes its files into node-<rank>/.
export SKYHOP_RUNNER_NODE_RANK=$sk_rank
N="$D/node-$sk_rank"
mkdir -p "$N"`
}

export function bootScript(input: BootScriptInput): string {
  const {request} = input
  const base = input.baseDir ?? '/var/lib/skyhop/attempts'
  const dir = `${base}/${attemptDirName(request.attemptId)}`
  const poll = input.pollIntervalSeconds ?? 5
  const files = attemptFiles(input, dir)
  // runner.conf goes as text: its signed URLs share one session token with each other and
  // with the rank list's URL below, which the user data's own gzip then stores once (packed
  // separately, each copy would cost its full length against EC2's 16 KB).
  const fileLines = Object.entries(files)
    .map(([name, text]) =>
      name === 'runner.conf' || input.packFiles === false
        ? `sk_text ${shellQuote(name)} ${shellQuote(text)}`
        : `sk_file ${shellQuote(name)} ${shellQuote(packed(text))}`,
    )
    .join('\n')
  const probe = input.stopRequestProbe
  const watcher =
    probe === null
      ? '# No stop-request probe: stop requests arrive through the cloud agent (stopRequestScript), or as SIGTERM at power-off.'
      : `sk_probe() {
${probe
  .split('\n')
  .map((l) => `  ${l}`)
  .join('\n')}
}
sk_re=${shellQuote(STOP_REQUEST)}
(
  while kill -0 "$sk_runner" 2>/dev/null; do
    sleep ${poll}
    req=$(sk_probe 2>/dev/null | head -c 64 | tr -d '\\r\\n')
    if [[ $req =~ $sk_re ]]; then
      printf '%s\\n' "$req" >"$D/stop-request.tmp" && mv -f "$D/stop-request.tmp" "$D/stop-request"
      # The runner itself, once it wrote runner.pid (its traps are set then); its keeper
      # passes signals to the job only after the runner is gone.
      for sk_i in $(seq 50); do [[ -s $N/runner.pid ]] && break; sleep 0.1; done
      sk_rpid=$(cat "$N/runner.pid" 2>/dev/null)
      kill -TERM "\${sk_rpid:-$sk_runner}" 2>/dev/null
      break
    fi
  done
) &`
  return `#!/bin/bash
# skyhop boot script (cloud-init user data), generated by skyhop; do not edit.
# job ${shellQuote(request.jobId)}, attempt ${shellQuote(request.attemptId)} (#${request.attempt})
# Writes the attempt directory, runs skyhop-runner.sh, mirrors its events and output to
# the serial console (${CONSOLE_PREFIX.event} / ${CONSOLE_PREFIX.log} lines, read back with the cloud's
# console-output API), and powers off when the job ends.
set -u
umask 077
# SKYHOP_BOOT_* are never set under cloud-init; they let a test host run this script as a
# fake cloud would (test/fakes): a root prefix, a file as the console, no power-off.
D="\${SKYHOP_BOOT_ROOT-}"${shellQuote(dir)}
CONSOLE="\${SKYHOP_BOOT_CONSOLE:-${input.consoleDevice ?? '/dev/ttyS0'}}"
sk_say() { printf '%s\\n' "$*" >>"$CONSOLE" 2>/dev/null || true; }
sk_file() { printf '%s' "$2" | base64 -d | gzip -dc >"$D/$1"; }
sk_text() { printf '%s' "$2" >"$D/$1"; }
mkdir -p "$D"
${fileLines}
sk_poweroff() { # RC: the machine's end, after the console has had time to flush
  sync
  [[ -n \${SKYHOP_BOOT_NO_SHUTDOWN-} ]] && exit "$1"
  sleep ${input.flushSeconds ?? 5}
  ${input.shutdownCommand ?? 'shutdown -h now'}
  exit "$1"
}
${rankDiscovery(input)}
${secretsFetch(request)}
${containerPrepare(request)}
${mountLines(request.spec.files, request.offer.region, CONSOLE_PREFIX)}
# The job contract promises SKYHOP_CHECKPOINT_DIR exists (the local provider creates it too).
# Under a test's root prefix the directory moves with the prefix, and env says so.
sk_ckpt="\${SKYHOP_BOOT_ROOT-}"${shellQuote(request.checkpointDir)}
mkdir -p "$sk_ckpt" 2>/dev/null || true
if [[ -n \${SKYHOP_BOOT_ROOT-} ]]; then
  # %q: bash's own quoting, read back by the job's shell that sources env.
  printf 'export SKYHOP_CHECKPOINT_DIR=%q\\n' "$sk_ckpt" >>"$D/env"
fi
: >>"$N/events.jsonl"
: >>"$N/output.log"
sk_say ${shellQuote(`${CONSOLE_PREFIX.boot} ${request.attemptId}`)}
# Under its keeper (--keep): a runner killed mid-job does not end the machine; the keeper
# waits for the job, whose own status (job.status) is then reported.
bash "$D/skyhop-runner.sh" --keep "$D" </dev/null >>"$D/runner.log" 2>&1 &
sk_runner=$!
# bash's read is unbuffered on a pipe (mawk is not), so each line reaches the console at once.
sk_mirror() { # PREFIX NUMBERED FILE
  local n=0 line
  tail --pid="$sk_runner" -s 1 -n +1 -F "$3" 2>/dev/null | while IFS= read -r line || [[ -n $line ]]; do
    n=$((n + 1))
    if [[ $2 == 1 ]]; then printf '%s %d %s\\n' "$1" "$n" "$line"; else printf '%s %s\\n' "$1" "$line"; fi
  done >>"$CONSOLE" 2>/dev/null
}
sk_mirror ${CONSOLE_PREFIX.event} 0 "$N/events.jsonl" &
sk_mirror_events=$!
sk_mirror ${CONSOLE_PREFIX.log} 1 "$N/output.log" &
sk_mirror_log=$!
${watcher}
wait "$sk_runner"
sk_rc=$?
# The mirrors end on their own a second after the runner; give them that second.
wait "$sk_mirror_events" "$sk_mirror_log" 2>/dev/null
sk_job=$(cat "$N/exit_code" 2>/dev/null || cat "$N/job.status" 2>/dev/null || echo none)
sk_say "${CONSOLE_PREFIX.exit} $sk_rc $sk_job"
sk_poweroff "$sk_rc"
`
}

/**
 * A script that delivers a stop request to a running attempt, for clouds that run commands
 * in the guest through their agent (Alibaba Cloud Assistant, Tencent TAT): the same
 * `stop-request` file and SIGTERM the probe in bootScript() delivers.
 */
export function stopRequestScript(
  attemptId: string,
  kind: 'cancel' | 'preempt',
  graceSeconds: number,
  baseDir = '/var/lib/skyhop/attempts',
): string {
  const grace = Math.max(0, Math.round(graceSeconds))
  return `#!/bin/bash
D="\${SKYHOP_BOOT_ROOT-}"${shellQuote(`${baseDir}/${attemptDirName(attemptId)}`)}
# A gang's runner keeps its pid in node-<rank>/ (one rank per instance).
sk_pid=$(cat "$D/runner.pid" "$D"/node-*/runner.pid 2>/dev/null | head -n 1)
[[ -n $sk_pid ]] || { echo "no running attempt in $D"; exit 0; }
printf '%s\\n' ${shellQuote(`${kind} ${grace}`)} >"$D/stop-request.tmp" && mv -f "$D/stop-request.tmp" "$D/stop-request"
kill -TERM "$sk_pid" 2>/dev/null || true
`
}

/** Reads the runner at launch time, so a launch always ships the runner of this install. */
export async function readRunnerScript(): Promise<string> {
  return readFile(runnerScriptPath(), 'utf8')
}

/**
 * The boot script as user data: as written when it fits the cloud's limit (`fits` applies
 * the cloud's own measure), else gzipped, which cloud-init unpacks itself; `fits` is false
 * when even that is too large.
 */
export function userData(script: string, fits: (data: Buffer) => boolean, asText?: string): {data: Buffer; fits: boolean} {
  const plain = Buffer.from(script, 'utf8')
  if (fits(plain)) return {data: plain, fits: true}
  const packed = gzipSync(Buffer.from(asText ?? script, 'utf8'), {level: 9})
  return {data: packed, fits: fits(packed)}
}

/**
 * The boot script of `input` as user data (userData): with its files packed when it fits as
 * written, else with them as text and the whole gzipped once. gzip over base64 of gzip gains
 * little; over the text it packs the runner about fourfold, which is what keeps an attempt
 * with a store's signed URLs (checkpoint, hold, workdir) within EC2's and CVM's 16 KB.
 */
export function bootUserData(
  input: BootScriptInput,
  fits: (data: Buffer) => boolean,
): {data: Buffer; fits: boolean; runnerFromStore: boolean} {
  const carried = userData(bootScript(input), fits, bootScript({...input, packFiles: false}))
  if (carried.fits || runnerFromStore(input) || !input.request.gang) return {...carried, runnerFromStore: runnerFromStore(input)}
  // Still too large, and the job has a store: the node GETs the runner from it, as a gang's do.
  const fetched = {...input, runnerFromStore: true}
  return {...userData(bootScript(fetched), fits, bootScript({...fetched, packFiles: false})), runnerFromStore: true}
}
