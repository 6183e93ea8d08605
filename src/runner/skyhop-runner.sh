#!/usr/bin/env bash
# skyhop-runner.sh: runs one attempt of a skyhop job on an execution host.
#
#   bash skyhop-runner.sh ATTEMPT_DIR
#   bash skyhop-runner.sh --keep ATTEMPT_DIR   (the runner under a keeper; see --keep below)
#
# The attempt directory is the whole interface (src/runner/contract.ts is the spec):
# the runner reads run.sh, setup.sh, env and runner.conf, runs setup then run in a
# process group of their own, watches for an interruption notice, hands the job its
# grace window, and writes runner.pid, job.pgid, output.log, events.jsonl and exit_code.
# Its own exit code is the job's (128+N when the job died of signal N).
#
# A gang (numNodes > 1 in runner.conf) runs one runner per node, each with its rank
# (nodeRank, or SKYHOP_RUNNER_NODE_RANK from the launcher): each writes its files into
# ATTEMPT_DIR/node-<rank>/, waits for the peer list (nodeIps, nodeIpsFile or nodeIpsUrl),
# exports SKYHOP_NUM_NODES, SKYHOP_NODE_RANK, SKYHOP_NODE_IPS and SKYHOP_HEAD_IP (and the
# `compat` aliases) to the job, and shares any notice it gets with the others through
# gangNoticeFile or gangNoticePutUrl/gangNoticeGetUrl, so every rank stops by one deadline.
#
# Needs: Linux, bash >= 4.3 (5.1+ notices a job's exit at once; older ones within
# 200 ms), GNU coreutils (date, mv, sleep, mkdir); curl for a cloud metadata source
# only when bash lacks /dev/tcp, for an https one, and after a failed read; flock (util-linux) only when capacity slots are configured;
# curl, tar and find only when a checkpoint store is configured.
#
# Where notices come from:
#   - SIGTERM, SIGINT or SIGUSR1 to the runner (Slurm preemption and scancel, Kubernetes
#     pod deletion, the local provider). The file `stop-request` says `cancel` or
#     `preempt` (default preempt), optionally followed by the grace in seconds.
#   - the cloud metadata endpoints named in noticeSources, read by one background poller
#     per source that wakes the runner with SIGUSR2, within pollIntervalSeconds (default 1)
#     of the notice appearing:
#       aws           IMDSv2: PUT /latest/api/token, GET /latest/meta-data/spot/instance-action
#                     (and events/recommendations/rebalance, recorded, not acted on)
#       gcp           GET /computeMetadata/v1/instance/preempted (Metadata-Flavor: Google),
#                     as a hanging GET (wait_for_change); plain polls when that fails
#       azure         GET /metadata/scheduledevents?api-version=2020-07-01 (Metadata: true)
#       aliyun        PUT /latest/api/token, GET /latest/meta-data/instance/spot/termination-time
#       tencentcloud  GET /latest/meta-data/spot/termination-time (UTC+8 wall time)
#       huaweicloud   nothing is polled: Huawei Cloud documents no in-guest endpoint for
#                     spot reclaim notices (only CCE's Node Problem Detector, which drains
#                     the node, so the notice reaches the runner as a SIGTERM). The runner
#                     records a `warning` event saying so instead of pretending to poll.
#
# Job names and env values are data: env holds single-quoted `export` lines written by
# skyhop and is sourced only by the job's own shell (so a job's PATH or IFS never changes
# the runner); runner.conf is parsed here, never sourced; metadata answers are matched
# with regular expressions and handed to `date -d` as arguments only.
#
# Process tree: runner (own group) ─┬─ job wrapper (own group = job.pgid) ─ setup, then
#                                   │    run in place of the wrapper (exec)
#                                   └─ metadata poller (only with noticeSources)

# The whole script is one compound command: bash reads it completely before running any
# of it, so replacing or editing this file (an upgrade) never changes a running runner.
{
set -u
# The umask the job gets back: from /proc without a fork (a command substitution forks even
# for a builtin, ~1 ms each on the way to the job's first line), else from `umask`.
sr_umask=
if [[ -r /proc/self/status ]]; then
  while read -r sr_k sr_v; do [[ $sr_k == Umask: ]] && { sr_umask=$sr_v; break; }; done </proc/self/status
fi
[[ $sr_umask =~ ^[0-7]{3,4}$ ]] || sr_umask=$(umask)
umask 077 # events and notices may name paths of the job; keep them to the user

sr_bash_ok=1
if (( BASH_VERSINFO[0] < 4 || (BASH_VERSINFO[0] == 4 && BASH_VERSINFO[1] < 3) )); then sr_bash_ok=0; fi
# `wait -n -p` (bash 5.1) lets the runner wait for "the job or the next tick" at once.
sr_wait_p=0
if (( BASH_VERSINFO[0] > 5 || (BASH_VERSINFO[0] == 5 && BASH_VERSINFO[1] >= 1) )); then sr_wait_p=1; fi
# Tests force the pre-5.1 path to keep it honest.
if [[ ${SKYHOP_RUNNER_COMPAT_WAIT-} == 1 ]]; then sr_wait_p=0; fi

# --keep: a keeper around the runner, for hosts where the runner's end is the attempt's end
# (a Slurm step ends, and Slurm kills what is left, when its task exits; a cloud instance
# powers off when its boot script does). The keeper runs the runner as its child and exits
# with its status. When the runner dies before recording exit_code (killed), the job runs on
# in its own process group: the keeper waits for the job's own status (job.status, which
# the job's shell writes) or for the group to end, forwards signals to the group meanwhile
# (the runner cannot), and exits with that status. A killed runner never turns a job that
# ran to its end into a lost attempt that runs again.
if [[ ${1-} == --keep && $# -eq 2 && -n $2 ]]; then
  sk_runner= sk_pgid= sk_self=${BASH_SOURCE[0]}
  # Handlers, not ignores: the runner starts with the default ones. While the runner lives
  # it hears signals itself (Slurm signals every process of the step); after it, the job's
  # group gets them from here.
  sk_forward() { [[ -n $sk_pgid ]] && kill -s "$1" -- "-$sk_pgid" 2>/dev/null; }
  for sk_sig in TERM INT USR1 USR2 HUP QUIT; do trap "sk_forward $sk_sig" "$sk_sig"; done
  bash "$sk_self" "$2" &
  sk_runner=$!
  while :; do
    wait "$sk_runner"
    sk_st=$?
    kill -0 "$sk_runner" 2>/dev/null || break
  done
  wait "$sk_runner" 2>/dev/null
  sk_s2=$?
  (( sk_s2 == 127 )) || sk_st=$sk_s2
  # The runner's own files: ATTEMPT_DIR, or a gang rank's node-<rank>/ (the one whose
  # runner.pid is this child's).
  sk_out=
  for sk_f in "$2/runner.pid" "$2"/node-*/runner.pid; do
    [[ -r $sk_f && $(<"$sk_f") == "$sk_runner" ]] && { sk_out=${sk_f%/runner.pid}; break; }
  done
  if [[ -z $sk_out || -s $sk_out/exit_code ]]; then exit "$sk_st"; fi
  # A runner killed just after it started the job's shell, before that shell wrote job.pgid
  # (its first act): the shell still carries the runner's command line (not --keep), and
  # job.pgid comes. Waited for while such a process lives (the runner's other subshells go
  # within a second of it). The chaos suite found a job run twice through this window.
  sk_forks() {
    local f a d r k
    for f in /proc/[0-9]*/cmdline; do
      d= r= k=
      while IFS= read -r -d '' a; do
        case $a in "$1") d=1 ;; *skyhop-runner.sh) r=1 ;; --keep) k=1 ;; esac
      done 2>/dev/null <"$f"
      [[ $d$r$k == 11 ]] && read -r a 2>/dev/null <"${f%cmdline}stat" && [[ ${a##*) } != [ZX]* ]] && return 0
    done
    return 1
  }
  while [[ ! -s $sk_out/job.pgid ]] && sk_forks "$2"; do sleep 0.1 & wait $! 2>/dev/null; done
  [[ -s $sk_out/job.pgid ]] || exit "$sk_st"
  sk_pgid=$(<"$sk_out/job.pgid")
  [[ $sk_pgid =~ ^[0-9]+$ ]] || exit "$sk_st"
  echo "skyhop-runner: the runner died (status $sk_st) before the job ended; waiting for the job's own status" >&2
  # Alive: a process of the group that is not a zombie (an init that reaps slowly keeps them).
  sk_alive() {
    local f stat fields
    kill -0 -- "-$sk_pgid" 2>/dev/null || return 1
    [[ -r /proc/self/stat ]] || return 0
    for f in /proc/[0-9]*/stat; do
      read -r stat 2>/dev/null <"$f" || continue
      read -r -a fields <<<"${stat##*) }"
      [[ ${fields[2]-} == "$sk_pgid" && ${fields[0]-} != Z && ${fields[0]-} != X ]] && return 0
    done
    return 1
  }
  while [[ ! -s $sk_out/job.status ]] && sk_alive; do
    sleep 1 &
    wait $! 2>/dev/null
  done
  if [[ -s $sk_out/job.status ]]; then
    sk_st=$(<"$sk_out/job.status")
    [[ $sk_st =~ ^[0-9]+$ ]] || sk_st=255
  fi
  exit "$sk_st"
fi

if [[ $# -ne 1 || -z $1 ]]; then
  echo "usage: bash skyhop-runner.sh [--keep] ATTEMPT_DIR" >&2
  exit 64
fi
if (( ! sr_bash_ok )); then
  echo "skyhop-runner: bash >= 4.3 is required (this is $BASH_VERSION)" >&2
  exit 69
fi
# The attempt directory's physical path, by going there and back (no subshell: see sr_umask).
if ! CDPATH= builtin cd -P -- "$1" 2>/dev/null; then
  echo "skyhop-runner: no such attempt directory: $1" >&2
  exit 66
fi
sr_dir=$PWD
builtin cd -- "$OLDPWD" 2>/dev/null || true

# Signals are caught before anything else and handled by the main loop; runner.pid is
# written only once they are, so whoever reads it can signal the runner safely.
sr_pending=()
sr_poller_pids=()
trap 'sr_pending+=(TERM)' TERM
trap 'sr_pending+=(INT)' INT
trap 'sr_pending+=(USR1)' USR1
trap 'sr_pending+=(POLL)' USR2
trap '(( ${#sr_poller_pids[@]} == 0 )) || kill "${sr_poller_pids[@]}" 2>/dev/null' EXIT

# ---------------------------------------------------------------- time and events

if [[ -n ${EPOCHREALTIME-} ]]; then
  # EPOCHREALTIME's separator follows the locale; digits only is always microseconds.
  sr_now() { local t=${EPOCHREALTIME//[!0-9]/}; NOW_MS=$(( 10#$t / 1000 )); }
else
  sr_now() { NOW_MS=$(date +%s%3N); }
fi

# ms since the epoch -> ISO-8601 UTC with milliseconds, in ISO. No fork: this is on the
# path from a notice to the job's signal.
sr_iso() {
  local ms=$1 secs
  TZ=UTC0 printf -v secs '%(%Y-%m-%dT%H:%M:%S)T' $(( ms / 1000 ))
  printf -v ISO '%s.%03dZ' "$secs" $(( ms % 1000 ))
}

# Any string -> a JSON string literal, in JSON.
sr_json_str() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\r'/\\r}
  s=${s//$'\t'/\\t}
  s=${s//[$'\x01'-$'\x1f'$'\x7f']/?}
  JSON="\"$s\""
}

# ms -> seconds with three decimals, as a JSON number, in SECS.
sr_secs() {
  local ms=$1 sign=
  if (( ms < 0 )); then sign=-; ms=$(( -ms )); fi
  printf -v SECS '%s%d.%03d' "$sign" $(( ms / 1000 )) $(( ms % 1000 ))
}

# sr_emit NAME [KEY JSON_VALUE]...: one JSON line appended to events.jsonl. A single
# short write to an O_APPEND file, so lines from the runner and the job's wrapper
# never interleave. sr_emit_at MS NAME ... records a moment already past.
sr_emit() {
  sr_now
  sr_emit_at "$NOW_MS" "$@"
}

sr_emit_at() {
  local name=$2 line
  sr_iso "$1"
  shift 2
  line="{\"ts\":\"$ISO\",\"event\":\"$name\""
  while (( $# >= 2 )); do
    line+=",\"$1\":$2"
    shift 2
  done
  printf '%s}\n' "$line" >>"$sr_out/events.jsonl"
}

sr_write_atomic() { # PATH CONTENT
  local tmp="$1.tmp.$BASHPID"
  printf '%s\n' "$2" >"$tmp" && mv -f -- "$tmp" "$1"
}

# A runner.conf value as shellQuote (contract.ts) writes it, or a plain word, in UNQ.
sr_unquote() {
  local v=$1
  if [[ ${#v} -ge 2 && $v == \'*\' ]]; then
    v=${v:1:${#v}-2}
    local bare=${v//"'\\''"/}
    [[ $bare == *"'"* ]] && return 1
    UNQ=${v//"'\\''"/"'"}
  elif [[ $v =~ ^[A-Za-z0-9_./:=@+,%-]*$ ]]; then
    UNQ=$v
  else
    return 1
  fi
}

# A variable the env file sets, in ENVV (empty when it sets none). The file is skyhop's
# `export NAME='value'` lines, read here as data; a line of another shape (or no env file
# parse at all) falls back to sourcing the file in a subshell, so the job's variables never
# change the runner's own shell either way.
sr_env_value() { # NAME
  local line found=
  ENVV=
  if [[ -f $sr_dir/env ]]; then
    while IFS= read -r line || [[ -n $line ]]; do
      [[ $line == "export $1="* ]] || continue
      if sr_unquote "${line#"export $1="}"; then ENVV=$UNQ found=1; else found=; break; fi
    done <"$sr_dir/env"
    if [[ -z $found ]] && grep -q -- "$1" "$sr_dir/env" 2>/dev/null; then
      ENVV=$(
        . "$sr_dir/env" >/dev/null 2>&1
        printf '%s' "${!1-}"
      )
    fi
  fi
}

# ---------------------------------------------------------------- the rank

# A gang (numNodes > 1) is one runner per node over one attempt directory: each writes its
# own files into node-<rank>/ and reads the shared run.sh, setup.sh, env, runner.conf and
# stop-request. The rank is needed before runner.pid can be written, so numNodes and
# nodeRank are read here, ahead of the full parse below (which checks the rest).
# SKYHOP_RUNNER_NODE_RANK, set by the launcher (Slurm: from SLURM_NODEID), wins over nodeRank.
sr_out=$sr_dir
sr_nodes=1
sr_rank=0
sr_rank_bad=
if [[ -f $sr_dir/runner.conf ]]; then
  while IFS= read -r sr_line || [[ -n $sr_line ]]; do
    case $sr_line in
      numNodes=*) sr_unquote "${sr_line#*=}" && sr_nodes=$UNQ ;;
      nodeRank=*) sr_unquote "${sr_line#*=}" && sr_rank=$UNQ ;;
    esac
  done <"$sr_dir/runner.conf"
fi
[[ -n ${SKYHOP_RUNNER_NODE_RANK-} ]] && sr_rank=$SKYHOP_RUNNER_NODE_RANK
if ! [[ $sr_nodes =~ ^[1-9][0-9]{0,5}$ ]]; then
  sr_rank_bad="numNodes must be a whole number >= 1, not $sr_nodes"
  sr_nodes=1
elif ! [[ $sr_rank =~ ^(0|[1-9][0-9]{0,5})$ ]] || (( sr_rank >= sr_nodes )); then
  sr_rank_bad="the node rank must be a whole number below numNodes ($sr_nodes), not $sr_rank"
  sr_rank=0
elif (( sr_nodes > 1 )); then
  sr_out=$sr_dir/node-$sr_rank
  mkdir -p -- "$sr_out" 2>/dev/null || { sr_rank_bad="cannot create $sr_out"; sr_out=$sr_dir; }
fi

sr_write_atomic "$sr_out/runner.pid" "$$"

sr_fail() { # runner error before the job could start: no exit_code, the attempt is LOST
  # A gang's rank that was placing a files: entry for the others tells them it failed.
  [[ -n ${sr_files_lock-} ]] && : >"$sr_files_lock/failed" 2>/dev/null
  sr_json_str "$1"
  sr_emit error message "$JSON"
  echo "skyhop-runner: $1" >&2
  exit 70
}

# ---------------------------------------------------------------- runner.conf

# "1.5" -> 1500 in MS; decimals past milliseconds are dropped.
sr_sec_to_ms() {
  [[ $1 =~ ^([0-9]{1,9})(\.([0-9]*))?$ ]] || return 1
  local i=${BASH_REMATCH[1]} f="${BASH_REMATCH[3]}000"
  MS=$(( 10#$i * 1000 + 10#${f:0:3} ))
}

[[ -z $sr_rank_bad ]] || sr_fail "$sr_rank_bad"

declare -A sr_conf=()
[[ -f $sr_dir/runner.conf ]] || sr_fail "runner.conf is missing in $sr_dir"
sr_lineno=0
while IFS= read -r sr_line || [[ -n $sr_line ]]; do
  sr_lineno=$(( sr_lineno + 1 ))
  [[ -z $sr_line || $sr_line == '#'* ]] && continue
  [[ $sr_line == *=* ]] || sr_fail "runner.conf:$sr_lineno: expected KEY=value"
  sr_key=${sr_line%%=*}
  sr_unquote "${sr_line#*=}" || sr_fail "runner.conf:$sr_lineno: value of $sr_key is not shell-quoted"
  case $sr_key in
    graceSeconds | signal | noticeSignalLeadSeconds | workdir | noticeSources | pollIntervalSeconds | lingerSeconds | killMarginSeconds | slotDir | slots | slotWaitSeconds | \
      checkpointGet | checkpointPut | checkpointSyncSeconds | holdFile | holdUrl | holdTimeoutSeconds | \
      nodeIps | nodeIpsFile | nodeIpsUrl | peersTimeoutSeconds | gangNoticeFile | gangNoticePutUrl | gangNoticeGetUrl | compat | secretNames | \
      containerImage | containerRuntime | workdirUrl | workdirSha256 | sampleIntervalSeconds | shipUrl | shipSeconds | \
      shipSegmentBytes | transfersFile | transfersUrl)
      sr_conf[$sr_key]=$UNQ ;;
    *) ;; # keys from a newer skyhop are ignored, not fatal
  esac
done <"$sr_dir/runner.conf"

sr_sec_to_ms "${sr_conf[graceSeconds]-30}" || sr_fail "graceSeconds must be a number of seconds"
sr_grace_ms=$MS
sr_sec_to_ms "${sr_conf[pollIntervalSeconds]-1}" || sr_fail "pollIntervalSeconds must be a number of seconds"
sr_poll_ms=$MS
(( sr_poll_ms >= 100 )) || sr_poll_ms=100
sr_sec_to_ms "${sr_conf[lingerSeconds]-0}" || sr_fail "lingerSeconds must be a number of seconds"
sr_linger_ms=$MS
sr_ckpt_get=${sr_conf[checkpointGet]-}
sr_ckpt_put=${sr_conf[checkpointPut]-}
# With a checkpoint store the margin is the upload's time after the job is killed (a job
# that exits on its own leaves the upload all the time up to the deadline).
sr_margin_default=1.5
[[ -n $sr_ckpt_put ]] && sr_margin_default=30
# A container's SIGKILL goes through its runtime (`podman kill`), which takes a second or so.
[[ -z $sr_ckpt_put && -n ${sr_conf[containerImage]-} ]] && sr_margin_default=3
sr_sec_to_ms "${sr_conf[killMarginSeconds]-$sr_margin_default}" || sr_fail "killMarginSeconds must be a number of seconds"
sr_margin_ms=$MS

# A service replica serves through its notice: its signal waits until this long before the kill.
sr_sec_to_ms "${sr_conf[noticeSignalLeadSeconds]-0}" || sr_fail "noticeSignalLeadSeconds must be a number of seconds"
sr_lead_ms=$MS

sr_sig=${sr_conf[signal]-SIGTERM}
sr_sig=${sr_sig^^}
sr_sig=${sr_sig#SIG}
case $sr_sig in
  TERM | INT | USR1 | USR2 | HUP | QUIT) ;;
  *) sr_fail "signal must be one of SIGTERM SIGINT SIGUSR1 SIGUSR2 SIGHUP SIGQUIT, not ${sr_conf[signal]}" ;;
esac
# POSIX fixes these numbers; USR1 and USR2 differ between architectures, so bash says.
case $sr_sig in
  HUP) sr_signum=1 ;; INT) sr_signum=2 ;; QUIT) sr_signum=3 ;; TERM) sr_signum=15 ;;
  *) sr_signum=$(kill -l "$sr_sig") ;;
esac

# A relative workdir is under the runner's own directory: each rank of a gang gets its own.
sr_workdir=${sr_conf[workdir]-$sr_out/work}
[[ $sr_workdir == /* ]] || sr_workdir="$sr_out/$sr_workdir"
# The job's code on a cloud: an archive skyhop packed and uploaded at launch, fetched by a
# signed GET into the workdir before setup (sr_workdir_fetch). runner.conf is skyhop's, which
# checks that workdirSha256 comes with it.
sr_wd_url=${sr_conf[workdirUrl]-}

sr_slot_dir=${sr_conf[slotDir]-}
sr_slots=${sr_conf[slots]-0}
[[ $sr_slots =~ ^[0-9]{1,6}$ ]] || sr_fail "slots must be a whole number"
sr_slot_wait=${sr_conf[slotWaitSeconds]--1}
[[ $sr_slot_wait =~ ^-?[0-9]{1,9}$ ]] || sr_fail "slotWaitSeconds must be a whole number (-1: wait forever)"

sr_hold_file=${sr_conf[holdFile]-}
sr_hold_url=${sr_conf[holdUrl]-}
sr_hold_timeout=${sr_conf[holdTimeoutSeconds]-3600}
[[ $sr_hold_timeout =~ ^[0-9]{1,9}$ ]] || sr_fail "holdTimeoutSeconds must be a whole number of seconds"
[[ -z $sr_hold_url ]] || command -v curl >/dev/null 2>&1 || sr_fail "holdUrl needs curl"

# The gang's peer list (rank order) comes from runner.conf, a file, or a signed GET; the
# job starts once it is known. One node needs none: it is the whole gang, at 127.0.0.1.
sr_ips=()
sr_ips_file=${sr_conf[nodeIpsFile]-}
sr_ips_url=${sr_conf[nodeIpsUrl]-}
sr_peers_timeout=${sr_conf[peersTimeoutSeconds]-600}
[[ $sr_peers_timeout =~ ^[0-9]{1,9}$ ]] || sr_fail "peersTimeoutSeconds must be a whole number of seconds"
sr_peers_from=
if [[ -n ${sr_conf[nodeIps]-} ]]; then
  sr_peers_from=nodeIps
elif [[ -n $sr_ips_file ]]; then
  sr_peers_from=nodeIpsFile
elif [[ -n $sr_ips_url ]]; then
  sr_peers_from=nodeIpsUrl
  command -v curl >/dev/null 2>&1 || sr_fail "nodeIpsUrl needs curl"
elif (( sr_nodes > 1 )); then
  sr_fail "a gang of $sr_nodes nodes needs its peer list: nodeIps, nodeIpsFile or nodeIpsUrl"
fi

# A notice at one rank is the gang's: published to gangNoticeFile or gangNoticePutUrl, and
# watched for in gangNoticeFile or at gangNoticeGetUrl.
sr_gang_file=${sr_conf[gangNoticeFile]-}
sr_gang_put=${sr_conf[gangNoticePutUrl]-}
sr_gang_get=${sr_conf[gangNoticeGetUrl]-}
if [[ -n $sr_gang_put || -n $sr_gang_get ]]; then
  command -v curl >/dev/null 2>&1 || sr_fail "gangNoticePutUrl and gangNoticeGetUrl need curl"
fi

# compat: the variable names other tools' jobs expect, beside SKYHOP_*.
read -r -a sr_compat <<<"${sr_conf[compat]-}"
for sr_entry in ${sr_compat[@]+"${sr_compat[@]}"}; do
  case $sr_entry in
    skypilot | dstack | torchrun) ;;
    *) sr_fail "compat: unknown name $sr_entry (known: skypilot dstack torchrun)" ;;
  esac
done

# secretNames: the job's secrets arrive in this runner's own environment, never in env or
# any other file here; the job inherits them. A runner started without one (a relaunch by
# hand, a boot that could not fetch them) fails before the job can run without it.
read -r -a sr_secret_names <<<"${sr_conf[secretNames]-}"
for sr_entry in ${sr_secret_names[@]+"${sr_secret_names[@]}"}; do
  [[ $sr_entry =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || sr_fail "secretNames: $sr_entry is not a variable name"
  [[ -n ${!sr_entry+set} ]] || sr_fail "secret \$$sr_entry is not in the runner's environment"
  export "$sr_entry"
done

# The head keeps the gang's checkpoint (torch and DeepSpeed save from rank 0); every rank
# restores it, since each node may have a disk of its own. The kill margin stays the one
# computed with the store, so every rank gets the same grace.
(( sr_rank == 0 )) || sr_ckpt_put=

sr_sources=()
sr_warnings=()
read -r -a sr_entries <<<"${sr_conf[noticeSources]-}"
for sr_entry in ${sr_entries[@]+"${sr_entries[@]}"}; do
  sr_name=${sr_entry%%=*}
  sr_base=
  [[ $sr_entry == *=* ]] && sr_base=${sr_entry#*=}
  case $sr_name in
    aws | azure) sr_default=http://169.254.169.254 ;;
    gcp) sr_default=http://metadata.google.internal ;;
    aliyun) sr_default=http://100.100.100.200 ;;
    tencentcloud) sr_default=http://metadata.tencentyun.com ;;
    huaweicloud)
      sr_warnings+=("huaweicloud: no documented in-guest spot reclaim endpoint; nothing is polled, notices arrive as signals (CCE drains the node)")
      continue ;;
    *) sr_fail "unknown notice source: $sr_name" ;;
  esac
  sr_base=${sr_base:-$sr_default}
  [[ $sr_base =~ ^https?://[A-Za-z0-9._:@%-]+(/[A-Za-z0-9._~/%-]*)?$ ]] || sr_fail "notice source $sr_name: not a base URL: $sr_base"
  sr_sources+=("$sr_name=${sr_base%/}")
done
# Plain-HTTP metadata is read over bash's /dev/tcp (no fork per poll); curl is the
# fallback, and the only way for an https:// base.
sr_tcp_ok=0
sr_have_curl=1
if (( ${#sr_sources[@]} > 0 )); then
  # Port 0 never accepts: what matters is whether bash knows /dev/tcp at all (a bash
  # built without it looks for a file of that name).
  sr_tcp_probe=$({ exec 3<>/dev/tcp/127.0.0.1/0; } 2>&1)
  [[ $sr_tcp_probe == *"No such file"* ]] || sr_tcp_ok=1
fi
if (( ${#sr_sources[@]} > 0 )) && ! command -v curl >/dev/null 2>&1; then
  sr_have_curl=0
  if (( sr_tcp_ok )); then
    sr_warnings+=("curl not found: only plain-HTTP metadata is read (bash /dev/tcp), and no fallback after a failed read")
  else
    sr_warnings+=("curl not found: cloud metadata notices cannot be polled; only signals are seen")
    sr_sources=()
  fi
fi

# Where the job finds its deadline. The env file may name it.
sr_env_value SKYHOP_PREEMPT_NOTICE
sr_notice_file=$ENVV
[[ -n $sr_notice_file ]] || sr_notice_file="$sr_out/preempt-notice"

# A checkpoint store: checkpointGet and checkpointPut are URLs skyhop signed for this
# attempt (no credential is on this host); the directory they carry is the job's
# SKYHOP_CHECKPOINT_DIR.
sr_ckpt_dir=
if [[ -n $sr_ckpt_get || -n $sr_ckpt_put ]]; then
  sr_sec_to_ms "${sr_conf[checkpointSyncSeconds]-300}" || sr_fail "checkpointSyncSeconds must be a number of seconds"
  sr_ckpt_sync_ms=$MS
  for sr_tool in curl tar find; do
    command -v "$sr_tool" >/dev/null 2>&1 || sr_fail "a checkpoint store is configured but $sr_tool is not installed"
  done
  sr_env_value SKYHOP_CHECKPOINT_DIR
  sr_ckpt_dir=$ENVV
  [[ $sr_ckpt_dir == /* ]] || sr_fail "a checkpoint store is configured but env names no absolute SKYHOP_CHECKPOINT_DIR"
fi

[[ -f $sr_dir/run.sh ]] || sr_fail "run.sh is missing in $sr_dir"

# A container image: setup and run go inside one container (setup's changes stay for run),
# started by the job's wrapper with `RUNTIME run --rm --init`. The runtime's argument list
# from skyhop (the accelerators, the vendor's way) is container-args, one per line. The
# attempt directory, the workdir, the checkpoint directory and the notice file's directory
# are mounted at the same paths, so the job sees the contract unchanged.
# ship-section slurm-devices: never on a VM (only the Slurm provider writes container-devices)
# A comma list of device indices ("1,2", Slurm's "0-1,3") in LIST, sorted and distinct; false
# when TEXT is none (empty) or not such a list (Slurm's NoDevFiles, a UUID).
sr_index_list() { # TEXT
  local -a parts=()
  local -A seen=()
  local p a b i
  IFS=, read -r -a parts <<<"$1"
  for p in ${parts[@]+"${parts[@]}"}; do
    if [[ $p =~ ^([0-9]{1,6})-([0-9]{1,6})$ ]]; then
      a=$((10#${BASH_REMATCH[1]})) b=$((10#${BASH_REMATCH[2]}))
      (( a <= b && b - a < 4096 )) || return 1
      for (( i = a; i <= b; i++ )); do seen[$i]=1; done
    elif [[ $p =~ ^[0-9]{1,6}$ ]]; then
      seen[$((10#$p))]=1
    else
      return 1
    fi
  done
  (( ${#seen[@]} > 0 )) || return 1
  LIST=$(printf '%s\n' "${!seen[@]}" | sort -n | paste -sd, -)
}

# This node's IDX list of GRES NAME in `scontrol show job -d` (per-node lines such as
# `Nodes=n1 CPU_IDs=0 Mem=0 GRES=gpu:a100:2(IDX:0-1),npu:2(IDX:1-2)`), in IDX: the indices
# Slurm gives a GRES it sets no variable for (any but gpu, e.g. Ascend's npu). False when
# scontrol does not answer or names no line of this node.
sr_gres_idx() { # NAME
  local out line nodes gres re
  IDX=
  [[ -n ${SLURM_JOB_ID-} && -n ${SLURMD_NODENAME-} && $1 =~ ^[A-Za-z0-9_]+$ ]] || return 1
  out=$(scontrol show job -d "$SLURM_JOB_ID" 2>/dev/null) || return 1
  re="(^|,)$1(:[^:(,]+)?:[0-9]+\\(IDX:([0-9,-]+)\\)"
  while IFS= read -r line; do
    [[ $line =~ ^[[:space:]]*Nodes=([^[:space:]]+)[[:space:]].*GRES=([^[:space:]]*) ]] || continue
    nodes=${BASH_REMATCH[1]} gres=${BASH_REMATCH[2]}
    # Nodes with the same allocation share a line (Nodes=n[1-2]).
    if [[ $nodes != "$SLURMD_NODENAME" ]]; then
      [[ $nodes == *'['* || $nodes == *,* ]] || continue
      scontrol show hostnames "$nodes" 2>/dev/null | grep -qxF -- "$SLURMD_NODENAME" || continue
    fi
    [[ $gres =~ $re ]] && IDX=${BASH_REMATCH[3]}
    return 0
  done <<<"$out"
  return 1
}

# container-devices (contract.ts): the accelerators allocated to this job on this node, read
# where the file says (the first variable set, else scontrol's IDX for the GRES), passed the
# vendor's way by expanding its template (container.ts deviceTemplate) onto sr_ctr_args.
# Only those: never the node's others. A job that asked for devices and finds none fails.
sr_ctr_devices() { # FILE
  local line v from= text= vendor= gres= i a
  local -a words=() envs=() tmpl=() idx=()
  while IFS= read -r line || [[ -n $line ]]; do
    [[ -z $line ]] && continue
    IFS=$'\t' read -r -a words <<<"$line"
    case ${words[0]} in
      vendor) vendor=${words[1]-} ;;
      from) envs=("${words[@]:1}") ;;
      gres) gres=${words[1]-} ;;
      each | list | once | exists) tmpl+=("$line") ;;
      *) sr_fail "container-devices: unknown line '${words[0]}'" ;;
    esac
  done <"$1"
  for v in ${envs[@]+"${envs[@]}"}; do
    [[ $v =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || sr_fail "container-devices: '$v' is not a variable name"
    [[ -n ${!v-} ]] || continue
    from=$v text=${!v}
    break
  done
  if [[ -z $from && -n $gres ]] && sr_gres_idx "$gres" && [[ -n $IDX ]]; then
    from="scontrol show job -d ($gres)" text=$IDX
  fi
  if [[ -z $from ]]; then
    local where=
    (( ${#envs[@]} == 0 )) || where="none of ${envs[*]} is set"
    [[ -z $gres ]] || where+="${where:+ and }scontrol shows no IDX of GRES $gres for this node"
    sr_fail "the job asked for $vendor accelerators, but none were found allocated on node ${SLURMD_NODENAME:-?}: $where"
  fi
  if ! sr_index_list "$text"; then
    [[ $text == *NoDevFiles* ]] && sr_fail "$from is NoDevFiles: the site's gres.conf gives the job's GRES no File=, so Slurm cannot say which $vendor devices are the job's"
    sr_fail "$from='$text' is not a list of device indices"
  fi
  IFS=, read -r -a idx <<<"$LIST"
  local first=${#sr_ctr_args[@]}
  for line in "${tmpl[@]}"; do
    IFS=$'\t' read -r -a words <<<"$line"
    case ${words[0]} in
      each) for i in "${idx[@]}"; do for a in "${words[@]:1}"; do sr_ctr_args+=("${a//'{i}'/$i}"); done; done ;;
      list) for a in "${words[@]:1}"; do sr_ctr_args+=("${a//'{list}'/$LIST}"); done ;;
      once) sr_ctr_args+=("${words[@]:1}") ;;
      exists) [[ -e ${words[1]} ]] && sr_ctr_args+=("${words[@]:2}") ;;
    esac
  done
  local args_json= from_json
  sr_json_str "$from"
  from_json=$JSON
  for (( i = first; i < ${#sr_ctr_args[@]}; i++ )); do
    sr_json_str "${sr_ctr_args[i]}"
    args_json+="${args_json:+,}$JSON"
  done
  sr_emit container-devices vendor "\"$vendor\"" from "$from_json" indices "[$LIST]" args "[$args_json]"
}
# ship-section-end

sr_ctr_image=${sr_conf[containerImage]-}
sr_ctr_rt=${sr_conf[containerRuntime]-podman}
sr_ctr_name=
sr_ctr_args=()
sr_ctr_mounts=()
if [[ -n $sr_ctr_image ]]; then
  [[ $sr_ctr_rt =~ ^(/[^:]*/)?(podman|docker)$ ]] || sr_fail "containerRuntime must be podman or docker (or a path to one), not $sr_ctr_rt"
  command -v "$sr_ctr_rt" >/dev/null 2>&1 || sr_fail "the job's image is a container ($sr_ctr_image) but $sr_ctr_rt is not installed here"
  if [[ -f $sr_dir/container-args ]]; then mapfile -t sr_ctr_args <"$sr_dir/container-args"; fi
  if [[ -f $sr_dir/container-devices ]]; then sr_ctr_devices "$sr_dir/container-devices"; fi
  # The name ties the container to this runner: whoever cleans up after it finds it in container.name.
  sr_ctr_name=${sr_dir##*/}
  sr_ctr_name="skyhop-${sr_ctr_name//[!A-Za-z0-9_.-]/_}-r$sr_rank-$$"
  sr_env_value SKYHOP_CHECKPOINT_DIR
  sr_ckpt_mnt=$ENVV
  for sr_p in "$sr_dir" "$sr_workdir" "$sr_ckpt_mnt" "${sr_notice_file%/*}"; do
    [[ $sr_p == /* ]] || continue
    # `-v SRC:DST` splits at colons, and a comma ends a --mount field: such a path cannot be mounted as itself.
    [[ $sr_p == *[:,]* ]] && sr_fail "cannot mount $sr_p into the container: the path contains ':' or ','"
    mkdir -p -- "$sr_p" 2>/dev/null
    sr_ctr_mounts+=("$sr_p")
  done
  sr_write_atomic "$sr_out/container.name" "$sr_ctr_name"
fi

# ---------------------------------------------------------------- state

sr_job_pid=        # pid of the job's process group leader
sr_deadline_ms=    # when the host takes the machine (or the grace ends)
sr_kill_at_ms=     # when the runner sends SIGKILL: the deadline minus the margin
sr_signalled=      # the job got its signal
sr_signal_at_ms=   # when a notice's signal held back by noticeSignalLeadSeconds is due
sr_killed=         # the job got SIGKILL from the runner
sr_cancelled=
sr_noticed=
sr_slot_fds=()     # the capacity slots' lock files this runner holds open
# Its children must not hold the slots: a job that outlives its runner would keep them.
sr_close_slots() {
  local fd
  for fd in ${sr_slot_fds[@]+"${sr_slot_fds[@]}"}; do exec {fd}>&-; done
}


sr_srcs_json='['
for sr_entry in ${sr_sources[@]+"${sr_sources[@]}"}; do
  sr_json_str "$sr_entry"
  [[ $sr_srcs_json == '[' ]] || sr_srcs_json+=,
  sr_srcs_json+=$JSON
done
sr_srcs_json+=']'
sr_json_str "$BASH_VERSION"
sr_gang_fields=()
(( sr_nodes > 1 )) && sr_gang_fields=(rank "$sr_rank" numNodes "$sr_nodes")
sr_secs "$sr_grace_ms"
sr_emit runner-start pid "$$" bash "$JSON" noticeSources "$sr_srcs_json" graceSeconds "$SECS" \
  ${sr_gang_fields[@]+"${sr_gang_fields[@]}"}
for sr_w in ${sr_warnings[@]+"${sr_warnings[@]}"}; do
  sr_json_str "$sr_w"
  sr_emit warning message "$JSON"
done

# ---------------------------------------------------------------- stops and notices

# Sets the deadline (only ever earlier), tells the job, and records it. The job hears
# first; the records follow with the times things happened.
#   sr_stop KIND DEADLINE_MS SOURCE [KEY JSON]...   KIND: preempt | cancel
sr_stop() {
  local kind=$1 deadline=$2 source=$3
  shift 3
  sr_now
  local now=$NOW_MS
  if [[ -z $sr_deadline_ms ]] || (( deadline < sr_deadline_ms )); then
    sr_deadline_ms=$deadline
    local left=$(( deadline - now )) margin=$sr_margin_ms
    # A short grace keeps most of itself: the margin is at most a quarter of it.
    if (( left > 0 && margin > left / 4 )); then margin=$(( left / 4 )); fi
    sr_kill_at_ms=$(( deadline - margin ))
    (( sr_kill_at_ms >= now )) || sr_kill_at_ms=$now
  fi
  sr_iso "$sr_kill_at_ms"
  local kill_iso=$ISO
  if [[ $kind == cancel ]]; then
    sr_cancelled=1
  else
    sr_noticed=1
    # The job's deadline is when it will be killed, not when the host goes away. It is
    # in place before the job's signal, which is the job's cue to read it.
    local notice_dir=${sr_notice_file%/*}
    [[ -d $notice_dir ]] || mkdir -p -- "$notice_dir" 2>/dev/null
    sr_write_atomic "$sr_notice_file" "$kill_iso"
  fi
  local signalled_at=
  if [[ $kind == preempt && -z $sr_signalled ]] && (( sr_lead_ms > 0 && sr_kill_at_ms - sr_lead_ms > now )); then
    sr_signal_at_ms=$(( sr_kill_at_ms - sr_lead_ms )) # the main loop signals then
  elif [[ -z $sr_signalled && -n $sr_job_pid ]]; then
    sr_signalled=1
    kill -s "$sr_sig" -- "-$sr_job_pid" 2>/dev/null
    sr_now
    signalled_at=$NOW_MS
  fi
  sr_json_str "$source"
  local src_json=$JSON
  sr_iso "$sr_deadline_ms"
  local deadline_iso=$ISO
  local name=notice
  [[ $kind == cancel ]] && name=cancel
  sr_emit_at "$now" "$name" source "$src_json" deadline "\"$deadline_iso\"" killAt "\"$kill_iso\"" "$@"
  if [[ -n $signalled_at ]]; then
    sr_secs $(( sr_kill_at_ms - signalled_at ))
    sr_emit_at "$signalled_at" signal signal "\"SIG$sr_sig\"" pgid "$sr_job_pid" remainingSeconds "$SECS"
  fi
  [[ $kind == preempt && $source != gang ]] && sr_gang_publish
}

# Tells the rest of the gang this rank's deadline. The file is written only when it does
# not already hold an earlier one, and read back: a rank that noticed at the same moment
# may have replaced it with a later one, and then it is written again, so the file settles
# on the earliest at once. The signed PUT goes in the background, so a slow store never
# holds up this rank's job.
sr_gang_published=
sr_gang_publish() {
  local have=
  [[ $sr_gang_published == "$sr_deadline_ms" ]] && return 0
  sr_gang_published=$sr_deadline_ms
  if [[ -n $sr_gang_file ]]; then
    local try
    for (( try = 0; try < 5; try++ )); do
      have=
      [[ -f $sr_gang_file ]] && read -r have <"$sr_gang_file" 2>/dev/null
      [[ $have =~ ^[0-9]{1,15}$ ]] && (( have <= sr_deadline_ms )) && break
      sr_write_atomic "$sr_gang_file" "$sr_deadline_ms" || { sr_emit warning message '"cannot write gangNoticeFile"'; break; }
    done
  fi
  if [[ -n $sr_gang_put ]]; then
    (
      trap - TERM INT USR1 USR2 EXIT
      local body="$sr_out/.gang-notice-out" try
      printf '%s' "$sr_deadline_ms" >"$body"
      for (( try = 1; try <= 3; try++ )); do
        sr_ckpt_transfer PUT "$sr_gang_put" "$body" 10 "$sr_out/.gang-notice-answer"
        [[ $HTTP_CODE == 2* ]] && break
        [[ $HTTP_CODE == 400 || $HTTP_CODE == 401 || $HTTP_CODE == 403 ]] && break
        sleep 1
      done
      rm -f -- "$body" "$sr_out/.gang-notice-answer"
      if [[ $HTTP_CODE == 2* ]]; then
        sr_emit gang-notice published true tries "$try"
      else
        sr_json_str "the gang notice could not be published: HTTP $HTTP_CODE${CODE:+ $CODE} (curl exit $CURL_RC)"
        sr_emit warning message "$JSON"
      fi
    ) &
    sr_gang_pub_pids+=($!)
  fi
}
sr_gang_pub_pids=()

# Another rank's notice: acted on exactly as this rank's own, with that rank's deadline,
# unless this rank already stops earlier. Two ranks noticing at once can both publish, the
# later deadline last; the rank with the earlier one then sees the later and publishes
# again, so the gang settles on the earliest.
sr_gang_notice() { # DEADLINE_MS DETAIL
  [[ $1 =~ ^[0-9]{1,15}$ ]] || return 0
  if [[ -n $sr_deadline_ms ]] && (( $1 >= sr_deadline_ms )); then
    if (( $1 > sr_deadline_ms )) && [[ -n $sr_gang_published ]]; then
      sr_gang_published=
      sr_gang_publish
    fi
    return 0
  fi
  sr_json_str "$2"
  sr_stop preempt "$1" gang detail "$JSON"
}

# The shared file is read each pass of the runner's loops (no fork: `read`).
sr_gang_check_file() {
  local d=
  [[ -n $sr_gang_file && -f $sr_gang_file ]] || return 0
  read -r d <"$sr_gang_file" 2>/dev/null
  sr_gang_notice "$d" gangNoticeFile
}

# A signal to the runner: the stop-request file says what it means.
sr_on_runner_signal() {
  local sig=$1 kind=preempt grace_ms=$sr_grace_ms req= word=
  if [[ -f $sr_dir/stop-request ]]; then
    read -r word req <"$sr_dir/stop-request" || true
    [[ $word == cancel ]] && kind=cancel
    if [[ -n $req ]] && sr_sec_to_ms "$req"; then grace_ms=$MS; fi
  fi
  sr_now
  local from=signal
  [[ -f $sr_dir/stop-request ]] && from=stop-request
  sr_stop "$kind" $(( NOW_MS + grace_ms )) "$from" receivedSignal "\"SIG$sig\""
}

# A poller found a notice; it left the details in .metadata-notice.NAME.
sr_on_poll_notice() {
  local f source deadline detail
  for f in "$sr_out"/.metadata-notice.*; do
    [[ -f $f ]] || continue
    source= deadline= detail=
    IFS=$'\t' read -r source deadline detail <"$f" || true
    rm -f -- "$f"
    [[ $deadline =~ ^[0-9]+$ ]] || continue
    if [[ $source == gang ]]; then
      sr_gang_notice "$deadline" "${detail-}"
      continue
    fi
    sr_json_str "${detail-}"
    sr_stop preempt "$deadline" "$source" detail "$JSON"
  done
}

sr_handle_pending() {
  local sig
  while (( ${#sr_pending[@]} > 0 )); do
    sig=${sr_pending[0]}
    sr_pending=("${sr_pending[@]:1}")
    if [[ $sig == POLL ]]; then sr_on_poll_notice; else sr_on_runner_signal "$sig"; fi
  done
  sr_gang_check_file
}

# ---------------------------------------------------------------- metadata poller

# One poller per notice source, each a process of its own, so GCP's hanging GET never
# holds up another source's poll. Each leaves its notice in .metadata-notice.NAME and
# wakes the runner with SIGUSR2.
#
# Polls must be cheap at one a second: the poller speaks HTTP/1.1 itself over bash's
# /dev/tcp, on one kept-alive connection, and sleeps on a pipe that is never written, so
# a quiet tick forks nothing. curl (with short connect and total timeouts) takes over for
# https:// bases, for a bash built without network redirections, and after any failed
# exchange until curl gets an answer again: bash cannot time out a connect, so only an
# endpoint that has just answered is reconnected to without curl.

sr_http_fd=    # the kept-alive connection, or empty
sr_http_peer=  # host/port it goes to
sr_http_bad=   # the last exchange failed: curl first, until one succeeds
sr_sleep_fd=   # a pipe nobody writes to: `read -t` on it is a sleep without a fork

sr_http_close() {
  if [[ -n $sr_http_fd ]]; then exec {sr_http_fd}>&-; fi
  sr_http_fd=
}

# Sleeps MS milliseconds (bash's `read -t` on the idle pipe; `sleep` without one).
sr_nap() {
  (( $1 > 0 )) || return 0
  sr_secs "$1"
  if [[ -n $sr_sleep_fd ]]; then
    read -r -t "$SECS" -u "$sr_sleep_fd" _ 2>/dev/null
  else
    sleep "$SECS"
  fi
  return 0
}

# The response head and body of one exchange on fd $1, within $2 seconds per read: the
# status in HTTP_CODE, the ETag in ETAG, the body in BODY; SR_KEEP=1 when the server keeps
# the connection open. Content-Length, chunked, and read-to-close bodies are understood.
sr_http_read() {
  local fd=$1 max=$2 line name value len= chunked= size chunk
  SR_KEEP=1
  IFS= read -r -t "$max" -u "$fd" line || return 1
  line=${line%$'\r'}
  [[ $line =~ ^HTTP/1\.([01])\ ([0-9]{3}) ]] || return 1
  [[ ${BASH_REMATCH[1]} == 0 ]] && SR_KEEP=
  HTTP_CODE=${BASH_REMATCH[2]}
  while :; do
    IFS= read -r -t "$max" -u "$fd" line || return 1
    line=${line%$'\r'}
    [[ -z $line ]] && break
    name=${line%%:*}
    value=${line#*:}
    value=${value#"${value%%[! ]*}"}
    case ${name,,} in
      content-length) [[ $value =~ ^[0-9]{1,9}$ ]] && len=$value ;;
      transfer-encoding) [[ ${value,,} == *chunked* ]] && chunked=1 ;;
      connection) [[ ${value,,} == *close* ]] && SR_KEEP= ;;
      etag) ETAG=$value ;;
    esac
  done
  BODY=
  if [[ -n $chunked ]]; then
    while :; do
      IFS= read -r -t "$max" -u "$fd" line || return 1
      line=${line%$'\r'}
      line=${line%%;*}
      [[ $line =~ ^[0-9A-Fa-f]{1,7}$ ]] || return 1
      size=$(( 16#$line ))
      if (( size == 0 )); then
        # trailers, up to the empty line
        while IFS= read -r -t "$max" -u "$fd" line && [[ -n ${line%$'\r'} ]]; do :; done
        break
      fi
      IFS= read -r -t "$max" -N "$size" -u "$fd" chunk || return 1
      BODY+=$chunk
      IFS= read -r -t "$max" -u "$fd" line || return 1
      (( ${#BODY} <= 65536 )) || return 1
    done
  elif [[ -n $len ]]; then
    (( len <= 65536 )) || return 1
    if (( len > 0 )); then IFS= read -r -t "$max" -N "$len" -u "$fd" BODY || return 1; fi
  else
    SR_KEEP=
    IFS= read -r -d '' -t "$max" -u "$fd" BODY
    (( ${#BODY} <= 65536 )) || return 1
  fi
  return 0
}

# One exchange through curl: the same results as sr_http.
sr_http_curl() { # METHOD URL MAX [HEADER]...
  local method=$1 url=$2 max=$3 out head h arg=()
  shift 3
  for h in "$@"; do arg+=(-H "$h"); done
  # Metadata services must never be reached through a proxy.
  out=$(curl -sS -i --noproxy '*' --connect-timeout 1 --max-time "$max" -X "$method" ${arg[@]+"${arg[@]}"} -- "$url" 2>/dev/null) || return 1
  [[ $out == *$'\r\n\r\n'* ]] || return 1
  head=${out%%$'\r\n\r\n'*}
  BODY=${out#*$'\r\n\r\n'}
  [[ $head =~ ^HTTP/[0-9.]+\ ([0-9]{3}) ]] || return 1
  HTTP_CODE=${BASH_REMATCH[1]}
  local l
  while IFS= read -r l; do
    l=${l%$'\r'}
    if [[ ${l,,} == etag:* ]]; then
      ETAG=${l#*:}
      ETAG=${ETAG#"${ETAG%%[! ]*}"}
    fi
  done <<<"$head"
  return 0
}

# sr_http METHOD URL MAX_SECONDS [HEADER]... -> 0 with HTTP_CODE, BODY and ETAG (empty
# when the server sent none); 1 when no answer came (HTTP_CODE 000).
sr_http() {
  local method=$1 url=$2 max=$3 hostport host port path req h fresh
  shift 3
  HTTP_CODE=000 BODY= ETAG=
  if (( ! sr_tcp_ok )) || [[ ( -n $sr_http_bad && $sr_have_curl == 1 ) || $url != http://* || $url == *@* ]]; then
    if sr_http_curl "$method" "$url" "$max" "$@"; then sr_http_bad=; return 0; fi
    HTTP_CODE=000 BODY= ETAG=
    sr_http_bad=1
    return 1
  fi
  hostport=${url#http://}
  path=/${hostport#*/}
  [[ $hostport == */* ]] || path=/
  hostport=${hostport%%/*}
  host=${hostport%:*}
  port=80
  [[ $hostport == *:* ]] && port=${hostport##*:}
  req="$method $path HTTP/1.1"$'\r\n'"Host: $hostport"$'\r\n'
  for h in "$@"; do req+="$h"$'\r\n'; done
  [[ $method == GET ]] || req+=$'Content-Length: 0\r\n'
  req+=$'\r\n'
  # A kept-alive connection the server has meanwhile closed fails at once; one retry on
  # a fresh connection covers that. A fresh connection that fails is not retried.
  while :; do
    fresh=
    if [[ -z $sr_http_fd || $sr_http_peer != "$host/$port" ]]; then
      sr_http_close
      { exec {sr_http_fd}<>"/dev/tcp/$host/$port"; } 2>/dev/null || { sr_http_fd=; break; }
      sr_http_peer="$host/$port"
      fresh=1
    fi
    if printf '%s' "$req" >&"$sr_http_fd" 2>/dev/null && sr_http_read "$sr_http_fd" "$max"; then
      [[ -n $SR_KEEP ]] || sr_http_close
      return 0
    fi
    sr_http_close
    HTTP_CODE=000 BODY= ETAG=
    [[ -n $fresh ]] && break
  done
  sr_http_bad=1
  return 1
}

sr_parse_time() { # TEXT -> T_MS
  T_MS=
  [[ -n $1 && ${#1} -le 64 ]] || return 1
  T_MS=$(date -u -d "$1" +%s%3N 2>/dev/null) || { T_MS=; return 1; }
  [[ $T_MS =~ ^[0-9]+$ ]] || { T_MS=; return 1; }
}

sr_token_ok() { [[ $1 =~ ^[A-Za-z0-9+/=_.-]{1,512}$ ]]; }

# Each sr_poll_<source> BASE returns 0 with N_DEADLINE (ms) and N_DETAIL when the host
# has scheduled this machine's interruption. SR_LAG is how long the notice may have been
# up before this poll saw it (one poll interval; nothing after a hanging GET's answer).
sr_aws_token= sr_aws_token_until=0 sr_aws_rebalance=
# ship-section notice-aws: only on a VM whose attempt uses it (shippedRunner)
sr_poll_aws() {
  local base=$1 hdr=()
  sr_now
  if [[ -z $sr_aws_token ]] || (( NOW_MS >= sr_aws_token_until )); then
    sr_aws_token=
    if sr_http PUT "$base/latest/api/token" 2 'X-aws-ec2-metadata-token-ttl-seconds: 21600' &&
      [[ $HTTP_CODE == 200 ]] && sr_token_ok "$BODY"; then
      sr_aws_token=$BODY
      sr_aws_token_until=$(( NOW_MS + 21000000 ))
    fi
  fi
  # Without a token this is an IMDSv1 request, which instances that allow v1 answer.
  [[ -n $sr_aws_token ]] && hdr=("X-aws-ec2-metadata-token: $sr_aws_token")
  # A rebalance recommendation says the interruption risk went up; it is recorded, once,
  # and the job runs on until the interruption notice itself.
  if [[ -z $sr_aws_rebalance ]] && sr_http GET "$base/latest/meta-data/events/recommendations/rebalance" 2 ${hdr[@]+"${hdr[@]}"} &&
    [[ $HTTP_CODE == 200 ]]; then
    sr_aws_rebalance=1
    local notice_time=
    [[ $BODY =~ \"noticeTime\"[[:space:]]*:[[:space:]]*\"([^\"]{1,64})\" ]] && notice_time=${BASH_REMATCH[1]}
    sr_json_str "$notice_time"
    sr_emit rebalance source '"aws"' noticeTime "$JSON"
  fi
  sr_http GET "$base/latest/meta-data/spot/instance-action" 2 ${hdr[@]+"${hdr[@]}"} || return 1
  [[ $HTTP_CODE == 401 ]] && sr_aws_token=
  [[ $HTTP_CODE == 200 ]] || return 1
  local action=unknown time=
  [[ $BODY =~ \"action\"[[:space:]]*:[[:space:]]*\"([^\"]*)\" ]] && action=${BASH_REMATCH[1]}
  [[ $BODY =~ \"time\"[[:space:]]*:[[:space:]]*\"([^\"]*)\" ]] && time=${BASH_REMATCH[1]}
  N_DETAIL="action=$action time=$time"
  if sr_parse_time "$time"; then N_DEADLINE=$T_MS; else sr_now; N_DEADLINE=$(( NOW_MS + sr_grace_ms )); fi
}
# ship-section-end

# GCP: instance/preempted, read with the metadata server's hanging GET
# (?wait_for_change=true&last_etag=E&timeout_sec=T), which answers as soon as the value's
# ETag differs from E, or with the unchanged value after T seconds. The first read is a
# plain GET, for the value and its ETag; each answer re-arms the wait with the ETag it
# carries, so no change between two waits is missed. When the hanging GET fails (the
# server answers 503 during maintenance events, or the connection breaks), the poller
# falls back to a plain GET every poll interval and tries the hanging GET again later.
sr_gcp_etag= sr_gcp_hang_after=0
SR_GCP_WAIT_S=60
# ship-section notice-gcp: only on a VM whose attempt uses it (shippedRunner)
sr_poll_gcp() {
  local base=$1 url="$1/computeMetadata/v1/instance/preempted" hang=
  sr_now
  if [[ -n $sr_gcp_etag ]] && (( NOW_MS >= sr_gcp_hang_after )); then
    hang=1
    url+="?wait_for_change=true&last_etag=$sr_gcp_etag&timeout_sec=$SR_GCP_WAIT_S"
  fi
  if [[ -n $hang ]]; then
    if ! sr_http GET "$url" $(( SR_GCP_WAIT_S + 5 )) 'Metadata-Flavor: Google' || [[ $HTTP_CODE != 200 ]]; then
      # The hanging GET failed: plain polls for the next 30 s.
      sr_now
      sr_gcp_hang_after=$(( NOW_MS + 30000 ))
      SR_NEXT=poll
      return 1
    fi
    SR_NEXT=now
  else
    sr_http GET "$url" 2 'Metadata-Flavor: Google' || return 1
    [[ $HTTP_CODE == 200 ]] || return 1
    SR_NEXT=poll
  fi
  [[ $ETAG =~ ^[A-Za-z0-9_-]{1,128}$ ]] && sr_gcp_etag=$ETAG
  [[ ${BODY^^} == TRUE* ]] || return 1
  # GCP gives no time: 30 s from the notice to hard off, which began up to one poll
  # interval before a plain poll saw it, and just now for a hanging GET's answer.
  sr_now
  local lag=$sr_poll_ms
  [[ -n $hang ]] && lag=0
  N_DEADLINE=$(( NOW_MS + 30000 - lag ))
  N_DETAIL="preempted=TRUE${hang:+ (wait_for_change)}"
}
# ship-section-end

sr_azure_name=
sr_azure_named=
# ship-section notice-azure: only on a VM whose attempt uses it (shippedRunner)
sr_poll_azure() {
  local base=$1
  if [[ -z $sr_azure_named ]]; then
    # Scheduled events list every VM of an availability set; keep only ours.
    if sr_http GET "$base/metadata/instance/compute/name?api-version=2021-02-01&format=text" 2 'Metadata: true' &&
      [[ $HTTP_CODE == 200 && $BODY =~ ^[A-Za-z0-9._-]{1,128}$ ]]; then
      sr_azure_name=$BODY
      sr_azure_named=1
    fi
  fi
  sr_http GET "$base/metadata/scheduledevents?api-version=2020-07-01" 2 'Metadata: true' || return 1
  [[ $HTTP_CODE == 200 ]] || return 1
  local rest=$BODY ev not_before= found=
  while [[ $rest == *'{'* ]]; do
    rest=${rest#*'{'}
    ev=${rest%%'{'*}
    [[ $ev =~ \"EventType\"[[:space:]]*:[[:space:]]*\"Preempt\" ]] || continue
    if [[ -n $sr_azure_name && $ev =~ \"Resources\"[[:space:]]*:[[:space:]]*\[([^]]*)\] ]]; then
      [[ ${BASH_REMATCH[1]} == *"\"$sr_azure_name\""* ]] || continue
    fi
    found=1
    [[ $ev =~ \"NotBefore\"[[:space:]]*:[[:space:]]*\"([^\"]*)\" ]] && not_before=${BASH_REMATCH[1]}
    break
  done
  [[ -n $found ]] || return 1
  N_DETAIL="EventType=Preempt NotBefore=$not_before"
  if sr_parse_time "$not_before"; then
    N_DEADLINE=$T_MS
  else
    sr_now
    N_DEADLINE=$(( NOW_MS + 30000 - sr_poll_ms )) # Azure promises at least 30 s
  fi
}
# ship-section-end

sr_ali_token= sr_ali_token_until=0
# ship-section notice-aliyun: only on a VM whose attempt uses it (shippedRunner)
sr_poll_aliyun() {
  local base=$1 hdr=()
  sr_now
  if [[ -z $sr_ali_token ]] || (( NOW_MS >= sr_ali_token_until )); then
    sr_ali_token=
    if sr_http PUT "$base/latest/api/token" 2 'X-aliyun-ecs-metadata-token-ttl-seconds: 21600' &&
      [[ $HTTP_CODE == 200 ]] && sr_token_ok "$BODY"; then
      sr_ali_token=$BODY
      sr_ali_token_until=$(( NOW_MS + 21000000 ))
    fi
  fi
  # Without a token this is a normal-mode request, which non-hardened instances answer.
  [[ -n $sr_ali_token ]] && hdr=("X-aliyun-ecs-metadata-token: $sr_ali_token")
  sr_http GET "$base/latest/meta-data/instance/spot/termination-time" 2 ${hdr[@]+"${hdr[@]}"} || return 1
  [[ $HTTP_CODE == 401 || $HTTP_CODE == 403 ]] && sr_ali_token=
  [[ $HTTP_CODE == 200 && -n $BODY ]] || return 1
  local t=${BODY//[$'\r\n']/}
  N_DETAIL="termination-time=$t"
  if sr_parse_time "$t"; then N_DEADLINE=$T_MS; else sr_now; N_DEADLINE=$(( NOW_MS + sr_grace_ms )); fi
}
# ship-section-end

# The gang's notice at a signed GET (404 until a rank publishes): the body is the deadline
# in ms since the epoch.
sr_poll_gang() {
  local url=$1
  sr_http GET "$url" 5 || return 1
  [[ $HTTP_CODE == 200 ]] || return 1
  local d=${BODY//[$' \r\n']/}
  [[ $d =~ ^[0-9]{1,15}$ ]] || return 1
  # Each deadline once; the poller goes on, for an earlier one another rank may publish.
  [[ $d == "$sr_gang_seen" ]] && return 1
  sr_gang_seen=$d
  N_DEADLINE=$d
  N_DETAIL=gangNoticeGetUrl
}
sr_gang_seen=

# ship-section notice-tencentcloud: only on a VM whose attempt uses it (shippedRunner)
sr_poll_tencentcloud() {
  local base=$1
  sr_http GET "$base/latest/meta-data/spot/termination-time" 2 || return 1
  [[ $HTTP_CODE == 200 && -n $BODY ]] || return 1
  local t=${BODY//[$'\r\n']/}
  N_DETAIL="termination-time=$t"
  # Tencent answers wall time in UTC+8 without saying so.
  if [[ $t =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}[\ T][0-9]{2}:[0-9]{2}:[0-9]{2}$ ]]; then t="$t +0800"; fi
  if sr_parse_time "$t"; then N_DEADLINE=$T_MS; else sr_now; N_DEADLINE=$(( NOW_MS + sr_grace_ms )); fi
}
# ship-section-end

# sr_poller NAME BASE: polls one source until it reports a notice or the runner is gone.
# pollIntervalSeconds is the longest a notice waits before the runner hears of it: a poll
# starts that long after the previous one started, less the time the last poll took, so
# the answer is in before the interval is over.
SR_HANDOVER_MS=50
sr_poller() {
  trap - TERM INT USR1 USR2 EXIT
  trap '' PIPE # a connection the server closed is an error to handle, not a death
  sr_close_slots
  # Bytes, not characters: Content-Length counts bytes.
  LC_ALL=C
  local name=$1 base=$2 runner=$$ started took=0 wait_ms
  { exec {sr_sleep_fd}<> <(:); } 2>/dev/null || sr_sleep_fd=
  while kill -0 "$runner" 2>/dev/null; do
    sr_now
    started=$NOW_MS
    N_DEADLINE=
    N_DETAIL=
    SR_NEXT=poll
    if "sr_poll_$name" "$base"; then
      sr_write_atomic "$sr_out/.metadata-notice.$name" "$name"$'\t'"$N_DEADLINE"$'\t'"${N_DETAIL//$'\t'/ }"
      kill -USR2 "$runner" 2>/dev/null
      [[ $name == gang ]] || exit 0
    fi
    sr_now
    took=$(( NOW_MS - started ))
    # A hanging GET that waited its time is re-armed at once; one that came back sooner
    # (a change that was not a notice, or a server that does not hang) waits like a poll,
    # so nothing can turn this loop into a busy one.
    [[ $SR_NEXT == now ]] && (( took >= sr_poll_ms )) && continue
    # The next answer is due within the interval of this poll's start, hand-over to the
    # job included: sleep the interval less this poll's time twice (it took this long,
    # the next will take about as long) and the hand-over's allowance.
    wait_ms=$(( sr_poll_ms - took - (took < 200 ? took : 200) - SR_HANDOVER_MS ))
    sr_nap "$wait_ms"
  done
}

# ---------------------------------------------------------------- checkpoint store

# The store's own error code from an XML error body (<Code>AccessDenied</Code>), in CODE.
sr_store_code() {
  CODE=
  [[ -f $1 ]] || return 0
  local head
  head=$(head -c 4096 -- "$1" 2>/dev/null | tr -d '\r\n')
  [[ $head =~ \<Code\>([A-Za-z0-9._-]{1,64})\</Code\> ]] && CODE=${BASH_REMATCH[1]}
  return 0
}

# sr_ckpt_transfer GET|PUT URL FILE MAX_SECONDS [ANSWER_FILE] -> HTTP_CODE ("000" when nothing came
# back), CURL_RC, CODE. The URL is a bearer credential: it goes to curl as an argument
# and nowhere else (curl's own messages are dropped, its exit code is kept).
sr_ckpt_transfer() {
  local method=$1 url=$2 file=$3 max=$4 answer=${5:-$sr_out/.checkpoint-answer}
  rm -f -- "$answer"
  if [[ $method == PUT ]]; then
    # -T streams the file (no size limit in memory); the Content-Type is part of what
    # skyhop signed; no Expect: 100-continue round trip.
    HTTP_CODE=$(curl -sS -g --connect-timeout 10 --max-time "$max" -T "$file" -H 'Content-Type: application/octet-stream' \
      -H 'Expect:' -o "$answer" -w '%{http_code}' -- "$url" 2>/dev/null)
  else
    HTTP_CODE=$(curl -sS -g --connect-timeout 10 --max-time "$max" -o "$file" -w '%{http_code}' -- "$url" 2>/dev/null)
    answer=$file
  fi
  CURL_RC=$?
  [[ $HTTP_CODE =~ ^[0-9]{3}$ ]] || HTTP_CODE=000
  CODE=
  [[ $HTTP_CODE == 2* ]] || sr_store_code "$answer"
}

sr_bytes() { BYTES=$(stat -c %s -- "$1" 2>/dev/null) || BYTES=0; }

# Restores the checkpoint directory from the store before the job starts. Nothing there
# yet (404) is a first attempt. A refusal (an expired or wrong URL) or a store that
# cannot be reached fails the attempt rather than start the job from scratch over work
# the store still holds.
sr_ckpt_restore() {
  local tmp="$sr_out/.checkpoint-in.tar" try delay=1 t0
  mkdir -p -- "$sr_ckpt_dir" || sr_fail "cannot create the checkpoint directory $sr_ckpt_dir"
  sr_now
  t0=$NOW_MS
  for (( try = 1; ; try++ )); do
    sr_ckpt_transfer GET "$sr_ckpt_get" "$tmp" 900
    case $HTTP_CODE in
      200)
        sr_bytes "$tmp"
        tar -xf "$tmp" -C "$sr_ckpt_dir" 2>/dev/null || sr_fail "checkpoint restore: the archive from the store is damaged ($BYTES bytes)"
        rm -f -- "$tmp"
        : >"$sr_out/.checkpoint-synced"
        sr_now
        sr_secs $(( NOW_MS - t0 ))
        sr_emit checkpoint-restore found true bytes "$BYTES" seconds "$SECS" tries "$try"
        return 0 ;;
      404)
        rm -f -- "$tmp"
        sr_emit checkpoint-restore found false tries "$try"
        return 0 ;;
      400 | 401 | 403)
        sr_fail "checkpoint restore: the store refused the signed URL (HTTP $HTTP_CODE${CODE:+ $CODE})" ;;
    esac
    if (( try >= 5 )); then
      sr_fail "checkpoint restore: the store did not answer after $try tries (HTTP $HTTP_CODE, curl exit $CURL_RC)"
    fi
    sleep "$delay"
    delay=$(( delay * 2 ))
  done
}

# Fetches the workdir archive (workdirUrl) and unpacks it into the workdir. The object is
# named by its sha256, and the bytes are checked against it before tar sees them: an object
# cut short or replaced never becomes the job's code. A refusal fails the attempt at once;
# a store that does not answer is tried 5 times. (Kept short: the runner rides in EC2's
# 16 KB of user data.)
sr_workdir_fetch() {
  local tmp="$sr_out/.workdir.tar" try
  for (( try = 1; ; try++ )); do
    sr_ckpt_transfer GET "$sr_wd_url" "$tmp" 1800
    [[ $HTTP_CODE == 200 ]] && break
    [[ $HTTP_CODE == 4* ]] && sr_fail "workdir: the store refused the signed GET (HTTP $HTTP_CODE${CODE:+ $CODE})"
    (( try >= 5 )) && sr_fail "workdir: the store did not answer after $try tries (HTTP $HTTP_CODE)"
    sleep "$try"
  done
  sr_bytes "$tmp"
  [[ $(sha256sum <"$tmp") == "${sr_conf[workdirSha256]} "* ]] || sr_fail "workdir: the archive from the store is not the one packed at launch"
  tar -xf "$tmp" -C "$sr_workdir" --no-same-owner && rm -f -- "$tmp" || sr_fail "workdir: cannot unpack it into $sr_workdir"
  sr_emit workdir-fetch bytes "$BYTES" tries "$try"
}

# ship-section files: only on a VM whose job has files: or outputs: (shippedRunner)
# The job's files: and outputs: (docs/job-file.md#files-and-outputs), from a list skyhop wrote
# (transfersFile) or signed (transfersUrl, GET once), one tab-separated line each:
#   copy DEST SRC               a local path, on skyhop's own filesystem (local, Slurm)
#   get DEST BYTES ETAG URL     a bucket object by a signed GET, checked before it is moved
#                               into place: ETAG (md5:HEX, etag:VALUE or -) goes as If-Match,
#                               so an object changed since the launch answers 412; then its
#                               size, and for md5:, the MD5 of the bytes
#   untar DEST SHA256 NAME URL  a local source packed at launch (a cloud instance): the
#                               archive's sha256 checked, unpacked; NAME is its one file, or -
#   out PATH URL                PATH archived and PUT by a signed URL after the run and at
#                               each checkpoint save (rank 0 only)
# Every file lands under a temporary name and is renamed only once whole and checked, so a
# transfer cut short never leaves a file the job would trust. A refusal fails the attempt.
sr_transfers_load() {
  sr_transfers=$sr_out/.transfers
  if [[ -n ${sr_conf[transfersUrl]-} ]]; then
    local try
    for (( try = 1; ; try++ )); do
      sr_ckpt_transfer GET "${sr_conf[transfersUrl]}" "$sr_transfers" 300
      [[ $HTTP_CODE == 200 ]] && break
      [[ $HTTP_CODE == 4* ]] && sr_fail "files: the store refused the signed GET of the list (HTTP $HTTP_CODE${CODE:+ $CODE})"
      (( try >= 5 )) && sr_fail "files: the store did not answer after $try tries (HTTP $HTTP_CODE)"
      sleep "$try"
    done
  else
    cp -- "${sr_conf[transfersFile]}" "$sr_transfers" 2>/dev/null || sr_fail "files: cannot read ${sr_conf[transfersFile]}"
  fi
  chmod 600 -- "$sr_transfers"
}

# sr_files_get URL FILE ETAG: a GET of a bucket object with If-Match (none for ETAG "-" or
# empty) -> HTTP_CODE, CURL_RC, CODE, as sr_ckpt_transfer. The URL goes to curl alone.
sr_files_get() {
  local match=()
  [[ -n $3 && $3 != - ]] && match=(-H "If-Match: \"$3\"")
  HTTP_CODE=$(curl -sS -g --connect-timeout 10 --max-time 3600 ${match[@]+"${match[@]}"} -o "$2" -w '%{http_code}' -- "$1" 2>/dev/null)
  CURL_RC=$?
  [[ $HTTP_CODE =~ ^[0-9]{3}$ ]] || HTTP_CODE=000
  CODE=
  [[ $HTTP_CODE == 2* ]] || sr_store_code "$2"
}

sr_files_fetch() {
  local kind dest a b url part try md5 n=0 host
  host=$(hostname 2>/dev/null || echo host)
  while IFS=$'\t' read -r kind dest a b url; do
    [[ $kind == copy || $kind == get || $kind == untar ]] || continue
    n=$(( n + 1 ))
    # The ranks of a gang that share this directory and a machine (local; Slurm nodes on one
    # host) place each entry once: the first to make the lock directory does it, the others
    # wait for it to say done (or failed) rather than replace the path under a running job.
    sr_files_lock="$sr_dir/.files-$host-$n"
    if ! mkdir -- "$sr_files_lock" 2>/dev/null; then
      sr_files_lock=
      until [[ -e $sr_dir/.files-$host-$n/done ]]; do
        [[ -e $sr_dir/.files-$host-$n/failed ]] && sr_fail "files: $dest: the rank placing it failed"
        sleep 0.2
      done
      continue
    fi
    part="$dest.skyhop-part-$$"
    mkdir -p -- "${dest%/*}" 2>/dev/null
    rm -rf -- "$part"
    if [[ $kind == copy ]]; then
      cp -a -- "$a" "$part" 2>/dev/null || { rm -rf -- "$part"; sr_fail "files: cannot copy $a to $dest"; }
      sr_bytes "$part"
    elif [[ $kind == untar ]]; then
      for (( try = 1; ; try++ )); do
        sr_ckpt_transfer GET "$url" "$part.tar" 3600
        [[ $HTTP_CODE == 200 ]] && break
        rm -f -- "$part.tar"
        [[ $HTTP_CODE == 4* ]] && sr_fail "files: $dest: the store refused the signed GET (HTTP $HTTP_CODE${CODE:+ $CODE})"
        (( try >= 5 )) && sr_fail "files: $dest: the store did not answer after $try tries (HTTP $HTTP_CODE)"
        sleep "$try"
      done
      sr_bytes "$part.tar"
      [[ $(sha256sum <"$part.tar") == "$a "* ]] || { rm -f -- "$part.tar"; sr_fail "files: $dest: the archive from the store is not the one packed at launch"; }
      mkdir -p -- "$part" && tar -xf "$part.tar" -C "$part" --no-same-owner 2>/dev/null || { rm -rf -- "$part" "$part.tar"; sr_fail "files: $dest: cannot unpack it"; }
      rm -f -- "$part.tar"
      if [[ $b != - ]]; then
        mv -T -- "$part/$b" "$part.one" && rm -rf -- "$part" && mv -T -- "$part.one" "$part" || { rm -rf -- "$part" "$part.one"; sr_fail "files: $dest: $b is not in its archive"; }
      fi
    else
      for (( try = 1; ; try++ )); do
        sr_files_get "$url" "$part" "${b#*:}"
        [[ $HTTP_CODE == 200 ]] && break
        rm -f -- "$part"
        [[ $HTTP_CODE == 412 ]] && sr_fail "files: $dest: the object changed since the launch (HTTP 412); launch the job again to take the new one"
        [[ $HTTP_CODE == 4* ]] && sr_fail "files: $dest: the store refused the signed GET (HTTP $HTTP_CODE${CODE:+ $CODE})"
        (( try >= 5 )) && sr_fail "files: $dest: the store did not answer after $try tries (HTTP $HTTP_CODE)"
        sleep "$try"
      done
      sr_bytes "$part"
      [[ $BYTES == "$a" ]] || { rm -f -- "$part"; sr_fail "files: $dest: got $BYTES bytes, the object had $a at launch"; }
      if [[ $b == md5:* ]]; then
        md5=$(md5sum <"$part")
        [[ ${md5%% *} == "${b#md5:}" ]] || { rm -f -- "$part"; sr_fail "files: $dest: the bytes are not the object's (MD5 differs from its ETag)"; }
      fi
    fi
    # A file replaces a file in one rename, so a job already running beside this one on the
    # machine (another replica of a service, placing the same path) never finds it missing;
    # a directory has to go first, as rename cannot replace one that holds anything.
    if [[ -d $part || ( -d $dest && ! -L $dest ) ]]; then rm -rf -- "$dest"; fi
    mv -T -- "$part" "$dest" 2>/dev/null || { rm -rf -- "$part"; sr_fail "files: cannot move the copy into $dest"; }
    sr_json_str "$dest"
    sr_emit file-fetch path "$JSON" bytes "$BYTES"
    : >"$sr_files_lock/done"
    sr_files_lock=
  done <"$sr_transfers"
}

# sr_outputs_save REASON MAX_SECONDS: each output path that changed since its last upload.
sr_outputs_save() {
  local reason=$1 max=$2 kind path url rest n=0 tmp mark next
  [[ -n ${sr_transfers-} && $sr_rank == 0 ]] || return 0
  while IFS=$'\t' read -r kind path url rest; do
    [[ $kind == out ]] || continue
    n=$(( n + 1 ))
    tmp="$sr_out/.output-$n.tar" mark="$sr_out/.output-$n-synced" next="$sr_out/.output-$n-next"
    [[ -e $path ]] || continue
    [[ -e $mark && -z $(find "$path" -newer "$mark" -print -quit 2>/dev/null) ]] && continue
    : >"$next"
    if [[ -d $path ]]; then tar -cf "$tmp" -C "$path" . 2>/dev/null; else tar -cf "$tmp" -C "${path%/*}/" "${path##*/}" 2>/dev/null; fi
    sr_bytes "$tmp"
    sr_ckpt_transfer PUT "$url" "$tmp" "$max"
    rm -f -- "$tmp"
    sr_json_str "$path"
    if [[ $HTTP_CODE == 2* ]]; then
      mv -f -- "$next" "$mark"
      sr_emit output-save path "$JSON" reason "\"$reason\"" ok true bytes "$BYTES"
    else
      sr_emit output-save path "$JSON" reason "\"$reason\"" ok false bytes "$BYTES" httpStatus "${HTTP_CODE#0}"
    fi
  done <"$sr_transfers"
}
# ship-section-end

# sr_ckpt_save REASON MAX_SECONDS: copies the checkpoint directory to the store when it
# changed since the last copy. A PUT replaces the object whole or not at all, so a copy cut
# short leaves the previous checkpoint in place.
sr_ckpt_save() {
  local reason=$1 max=$2 tmp="$sr_out/.checkpoint-out.tar" next="$sr_out/.checkpoint-next" mark="$sr_out/.checkpoint-synced" t0 rc
  [[ -d $sr_ckpt_dir ]] || return 0
  if [[ -e $mark ]]; then
    [[ -n $(find "$sr_ckpt_dir" -newer "$mark" -print -quit 2>/dev/null) ]] || return 0
  else
    [[ -n $(ls -A -- "$sr_ckpt_dir" 2>/dev/null) ]] || return 0
  fi
  # Marked before the copy: whatever changes during it is newer and goes next time.
  : >"$next"
  sr_now
  t0=$NOW_MS
  tar -cf "$tmp" -C "$sr_ckpt_dir" . 2>/dev/null
  rc=$?
  if (( rc != 0 )); then
    rm -f -- "$tmp"
    sr_json_str "the checkpoint directory changed while it was being archived (tar exit $rc); it is copied again next time"
    sr_emit checkpoint-save reason "\"$reason\"" ok false message "$JSON"
    return 1
  fi
  sr_bytes "$tmp"
  sr_ckpt_transfer PUT "$sr_ckpt_put" "$tmp" "$max"
  rm -f -- "$tmp"
  sr_now
  sr_secs $(( NOW_MS - t0 ))
  if [[ $HTTP_CODE == 2* ]]; then
    mv -f -- "$next" "$mark"
    sr_emit checkpoint-save reason "\"$reason\"" ok true bytes "$BYTES" seconds "$SECS"
    return 0
  fi
  sr_json_str "the store answered HTTP $HTTP_CODE${CODE:+ $CODE} (curl exit $CURL_RC)"
  sr_emit checkpoint-save reason "\"$reason\"" ok false bytes "$BYTES" seconds "$SECS" httpStatus "${HTTP_CODE#0}" message "$JSON"
  return 1
}

# Copies a changed directory every checkpointSyncSeconds while the job runs. Runs in a
# process group of its own, so the final copy can stop it and its curl at once.
sr_ckpt_syncer() {
  trap - TERM INT USR1 USR2 EXIT
  sr_close_slots
  local runner=$$
  sr_secs "$sr_ckpt_sync_ms"
  local every=$SECS
  while kill -0 "$runner" 2>/dev/null; do
    sleep "$every"
    kill -0 "$runner" 2>/dev/null || break
    sr_ckpt_save periodic 900
    [[ -n $sr_transfers ]] && sr_outputs_save periodic 900
  done
}

# ship-section ship: only on a VM whose attempt ships its files (a cloud attempt with a store)
# What a cloud attempt leaves on its instance goes to the job's store as the checkpoint does:
# output.log and samples.jsonl, each cut into segment objects of shipSegmentBytes, each PUT
# whole while it is the file's current one (a PUT replaces an object whole or not at all).
# The signed PUT URLs come in one list (shipUrl, GET at start): `t ISSUED EXPIRES` (epoch
# seconds), `m 0 URL` (a GET of the list itself), then "KIND INDEX URL" lines: `o` the head's
# output.log, `s` the head's samples, `s<RANK>` another rank's (every rank ships its samples,
# only the head its log). The controller signs the list again once two thirds of its URLs'
# life has passed; from five sixths on this runner reads the list's first line through the
# newest `m` URL it has, each ship interval until it finds a newer list, and then takes the
# whole list (kept in .ship-urls, so the last copy at the end uses the newest URLs). How much
# of each file the store holds is kept in .ship-o / .ship-s, so the last copy at the end sends
# only what changed. Shipping never fails the job: a refusal stops it, with a warning.
sr_ship_o=() sr_ship_s=() sr_ship_issued=0 sr_ship_expires=0 sr_ship_m= sr_ship_next=0
# sr_ship_parse FILE: takes a list's URLs (this rank's); fails when it holds none for this rank.
sr_ship_parse() {
  local k i u mine=s
  (( sr_rank > 0 )) && mine=s$sr_rank
  local -a o=() m=()
  local issued=0 expires=0 url=
  while read -r k i u; do
    if [[ $k == t ]]; then
      [[ $i =~ ^[0-9]{1,12}$ && $u =~ ^[0-9]{1,12}$ ]] && issued=$i expires=$u
      continue
    fi
    [[ $i =~ ^[0-9]{1,5}$ && $u =~ ^https?://[^[:space:]]+$ ]] || continue
    [[ $k == m ]] && url=$u
    [[ $k == o ]] && (( sr_rank == 0 )) && o[10#$i]=$u
    [[ $k == "$mine" ]] && m[10#$i]=$u
  done <"$1"
  (( ${#m[@]} > 0 )) || return 1
  sr_ship_o=(); for i in "${!o[@]}"; do sr_ship_o[i]=${o[i]}; done
  sr_ship_s=(); for i in "${!m[@]}"; do sr_ship_s[i]=${m[i]}; done
  sr_ship_issued=$issued sr_ship_expires=$expires sr_ship_m=$url
  # Fetched again from five sixths of the URLs' life on; a list without its `t` line never.
  sr_ship_next=0
  (( expires > issued )) && sr_ship_next=$(( issued + (expires - issued) * 5 / 6 ))
  return 0
}
sr_ship_load() {
  local tmp="$sr_out/.ship-list" try
  for (( try = 1; try <= 5; try++ )); do
    sr_ckpt_transfer GET "$sr_ship_url" "$tmp" 60 && [[ $HTTP_CODE == 200 ]] && break
    [[ $HTTP_CODE == 4* ]] && break
    sleep "$try"
  done
  if [[ $HTTP_CODE == 200 ]] && sr_ship_parse "$tmp"; then
    mv -f -- "$tmp" "$sr_out/.ship-urls"
    return 0
  fi
  rm -f -- "$tmp"
  sr_ship_url=
  sr_emit warning message "\"the signed URLs to ship output.log and samples.jsonl could not be fetched (HTTP $HTTP_CODE): they stay on this machine\""
  return 1
}
# Takes the list the controller signed again, once it is there (see above). Never fails the
# shipping: the URLs in hand are used until they are refused.
sr_ship_renew() {
  local head="$sr_out/.ship-head" tmp="$sr_out/.ship-list" t i e code
  (( sr_ship_next > 0 )) && [[ -n $sr_ship_m ]] || return 0
  sr_now
  (( NOW_MS / 1000 >= sr_ship_next )) || return 0
  # Its first line only (a ranged GET): the whole list is some 290 KB, more for a gang.
  code=$(curl -sS -g --connect-timeout 10 --max-time 30 -r 0-63 -o "$head" -w '%{http_code}' -- "$sr_ship_m" 2>/dev/null)
  read -r t i e 2>/dev/null <"$head"
  rm -f -- "$head"
  if [[ $code == 4* ]]; then
    # The list's own URL is refused (expired): no newer list can be fetched any more.
    sr_ship_next=0
    return 0
  fi
  [[ $code == 20[06] && $t == t && $i =~ ^[0-9]{1,12}$ ]] && (( 10#$i > sr_ship_issued )) || return 0
  sr_ckpt_transfer GET "$sr_ship_m" "$tmp" 120
  if [[ $HTTP_CODE == 200 ]] && sr_ship_parse "$tmp"; then
    mv -f -- "$tmp" "$sr_out/.ship-urls"
    sr_emit ship-urls-renewed expiresAt "\"$(TZ=UTC0 printf '%(%Y-%m-%dT%H:%M:%SZ)T' "$sr_ship_expires")\""
  else
    rm -f -- "$tmp"
  fi
  return 0
}
# sr_ship FILE o|s MAX_SECONDS: PUTs every segment of FILE that grew since its last PUT.
sr_ship() {
  local f="$sr_out/$1" k=$2 max=$3 tmp="$sr_out/.ship-out" at size seg n url
  [[ -e $sr_out/.ship-stop ]] && return 1
  at=$(cat "$sr_out/.ship-$k" 2>/dev/null) && [[ $at =~ ^[0-9]+$ ]] || at=0
  sr_bytes "$f"
  size=$BYTES
  seg=$(( at / sr_ship_seg ))
  while (( size > at )); do
    [[ $k == o ]] && url=${sr_ship_o[seg]-} || url=${sr_ship_s[seg]-}
    if [[ -z $url ]]; then
      : >"$sr_out/.ship-stop"
      sr_emit warning message "\"$1 is larger than the $(( seg * sr_ship_seg )) bytes this attempt may ship; the rest stays on this machine\""
      return 1
    fi
    tail -c +$(( seg * sr_ship_seg + 1 )) -- "$f" 2>/dev/null | head -c "$sr_ship_seg" >"$tmp"
    sr_bytes "$tmp"
    n=$BYTES
    sr_ckpt_transfer PUT "$url" "$tmp" "$max" "$sr_out/.ship-answer"
    rm -f -- "$tmp"
    if [[ $HTTP_CODE != 2* ]]; then
      # A refused URL (expired, or the store's policy) stays refused: shipping stops.
      if [[ $HTTP_CODE == 4* ]]; then
        : >"$sr_out/.ship-stop"
        sr_emit warning message "\"the store refused to take $1 (HTTP $HTTP_CODE${CODE:+ $CODE}); it stays on this machine\""
      fi
      return 1
    fi
    at=$(( seg * sr_ship_seg + n ))
    sr_write_atomic "$sr_out/.ship-$k" "$at"
    (( n == sr_ship_seg )) || break
    seg=$(( seg + 1 ))
  done
}
# A gang's other ranks ship their samples only: their output.log is the console's.
sr_ship_files() {
  local max=$1
  if (( sr_rank == 0 )); then
    sr_ship output.log o "$max" || return 1
  fi
  sr_ship samples.jsonl s "$max"
}
sr_shipper() {
  trap - TERM INT USR1 USR2 EXIT
  sr_close_slots
  local runner=$$
  while kill -0 "$runner" 2>/dev/null; do
    sleep "$sr_ship_every"
    sr_ship_renew
    sr_ship_files 120
  done
}
sr_ship_start() {
  sr_ship_url=${sr_conf[shipUrl]}
  sr_ship_every=${sr_conf[shipSeconds]-30}
  [[ $sr_ship_every =~ ^[1-9][0-9]{0,5}$ ]] || sr_fail "shipSeconds must be a whole number of seconds"
  sr_ship_seg=${sr_conf[shipSegmentBytes]-262144}
  [[ $sr_ship_seg =~ ^[1-9][0-9]{3,9}$ ]] || sr_fail "shipSegmentBytes must be a whole number of bytes (at least 1000)"
  sr_ship_load || return 0
  set -m
  sr_shipper &
  sr_shipper_pid=$!
  set +m
}
# Once skyhop sees the attempt ended, the store holds all of the files that could be shipped:
# on a notice within what is left of the grace (5 s at least).
sr_ship_end() {
  kill -s KILL -- "-$sr_shipper_pid" 2>/dev/null
  wait "$sr_shipper_pid" 2>/dev/null
  sr_now
  local max=120
  [[ -n $sr_deadline_ms ]] && max=$(( (sr_deadline_ms - NOW_MS) / 1000 ))
  (( max >= 5 )) || max=5
  HTTP_CODE=0
  # The newest URLs: the shipper (a process of its own) may have taken a list signed again.
  sr_ship_parse "$sr_out/.ship-urls" 2>/dev/null
  if sr_ship_files "$max"; then
    # The head's bytes are its log's; another rank's, its samples' (all it ships).
    if (( sr_rank == 0 )); then sr_bytes "$sr_out/output.log"; else sr_bytes "$sr_out/samples.jsonl"; fi
    sr_emit ship ok true bytes "$BYTES"
  else
    sr_emit ship ok false httpStatus "$(( 10#${HTTP_CODE:-0} ))"
  fi
}
# ship-section-end

# ---------------------------------------------------------------- the job

sr_load_env() {
  if [[ -f $sr_dir/env ]]; then . "$sr_dir/env"; fi
  export SKYHOP_PREEMPT_NOTICE=${SKYHOP_PREEMPT_NOTICE:-$sr_notice_file}
  sr_gang_env
}

# The gang's variables, after env so that they are the runner's truth. Plain assignments:
# the values are never parsed as code.
sr_gang_env() {
  local ips head=127.0.0.1 c
  ips=$head
  if (( ${#sr_ips[@]} > 0 )); then
    printf -v ips '%s\n' "${sr_ips[@]}"
    ips=${ips%$'\n'}
    head=${sr_ips[0]}
  fi
  export SKYHOP_NUM_NODES=$sr_nodes SKYHOP_NODE_RANK=$sr_rank SKYHOP_NODE_IPS=$ips SKYHOP_HEAD_IP=$head
  # The names set here, which a container gets passed by name (sr_ctr_command).
  SR_GANG_NAMES=(SKYHOP_NUM_NODES SKYHOP_NODE_RANK SKYHOP_NODE_IPS SKYHOP_HEAD_IP)
  local per_node=${SKYHOP_NUM_ACCELERATORS_PER_NODE-0}
  for c in ${sr_compat[@]+"${sr_compat[@]}"}; do
    case $c in
      skypilot)
        export SKYPILOT_NODE_IPS=$ips SKYPILOT_NODE_RANK=$sr_rank SKYPILOT_NUM_NODES=$sr_nodes SKYPILOT_NUM_GPUS_PER_NODE=$per_node
        SR_GANG_NAMES+=(SKYPILOT_NODE_IPS SKYPILOT_NODE_RANK SKYPILOT_NUM_NODES SKYPILOT_NUM_GPUS_PER_NODE) ;;
      dstack)
        export DSTACK_NODE_RANK=$sr_rank DSTACK_NODES_NUM=$sr_nodes DSTACK_MASTER_NODE_IP=$head DSTACK_NODES_IPS=$ips \
          DSTACK_GPUS_PER_NODE=$per_node
        SR_GANG_NAMES+=(DSTACK_NODE_RANK DSTACK_NODES_NUM DSTACK_MASTER_NODE_IP DSTACK_NODES_IPS DSTACK_GPUS_PER_NODE) ;;
      torchrun)
        export MASTER_ADDR=$head MASTER_PORT=${MASTER_PORT:-29500} WORLD_SIZE=$sr_nodes NODE_RANK=$sr_rank NNODES=$sr_nodes
        SR_GANG_NAMES+=(MASTER_ADDR MASTER_PORT WORLD_SIZE NODE_RANK NNODES) ;;
    esac
  done
}

# Stops this attempt's container (the runtime's client may be gone: SIGKILL took it).
sr_ctr_kill() {
  [[ -n $sr_ctr_name ]] || return 0
  "$sr_ctr_rt" kill --signal "$1" "$sr_ctr_name" >/dev/null 2>&1
}

# ship-section container: only on a VM whose attempt uses it (shippedRunner)
# The container's command (bash in the image): sources env, then runs setup and run each in a
# process group of their own, and forwards the signals the container's init passes on to
# that group, as the runner does to the job's group outside. Writes setup-exit and run-start
# into the mounted events.jsonl. Arguments: ATTEMPT_DIR OUT_DIR SECRETS NAME…, the NAMEs being the
# runner's own variables, which keep their values over env's as outside. Inside (no comments
# and no indentation there: the boot script ships the runner without comment lines and
# leading blanks, strings included): job
# control gives each job a group of its own, and its "Done" notices go to the entry's stderr,
# not the job's, so the job gets the original (fd 9); after the loop a last `wait` takes the
# status bash kept when a signal cut the previous wait short after the job ended. The job's
# secrets come on stdin, `NAME LENGTH` then LENGTH bytes each (sr_ctr_secrets), the count
# being the third argument: an `--env NAME` would have the runtime write the value into the
# container's configuration on disk (podman's config.json and its state database).
# shellcheck disable=SC2016 # expanded inside the container
sr_ctr_entry='
d=$1 o=$2 ns=$3
shift 3
declare -A keep=()
for n in "$@"; do keep[$n]=${!n-}; done
if [[ -f $d/env ]]; then . "$d/env"; fi
for n in "$@"; do export "$n=${keep[$n]}"; done
if (( ns > 0 )); then
had=${LC_ALL+1} lc=${LC_ALL-}
LC_ALL=C
for (( i = 0; i < ns; i++ )); do
read -r n len && [[ $n =~ ^[A-Za-z_][A-Za-z0-9_]*$ && $len =~ ^[0-9]+$ ]] && read -r -N "$len" v || exit 70
export "$n=$v"
done
if [[ -n $had ]]; then LC_ALL=$lc; else unset LC_ALL; fi
unset v lc had
fi
exec 0</dev/null
emit() {
local t=${EPOCHREALTIME//[!0-9]/} s
t=$(( 10#$t / 1000 ))
TZ=UTC0 printf -v s "%(%Y-%m-%dT%H:%M:%S)T" $(( t / 1000 ))
printf "{\"ts\":\"%s.%03dZ\",\"event\":\"%s\"%s}\n" "$s" $(( t % 1000 )) "$1" "${2-}" >>"$o/events.jsonl"
}
job=
fwd() { [[ -n $job ]] && kill -s "$1" -- "-$job" 2>/dev/null; }
for sig in TERM INT USR1 USR2 HUP QUIT; do trap "fwd $sig" "$sig"; done
set -m
exec 9>&2 2>/dev/null
run() {
"$@" 2>&9 9>&- &
job=$!
while :; do
wait "$job"
st=$?
kill -0 "$job" 2>/dev/null || break
done
wait "$job" 2>/dev/null
s2=$?
(( s2 == 127 )) || st=$s2
job=
return "$st"
}
if [[ -f $d/setup.sh ]]; then
run bash "$d/setup.sh"
st=$?
emit setup-exit ",\"exitCode\":$st"
(( st == 0 )) || exit "$st"
fi
emit run-start
run bash "$d/run.sh"
'

# The runtime's command line for this job's container (wrapper side; env is loaded).
sr_ctr_command() {
  local p
  CTR_CMD=("$sr_ctr_rt" run --rm --init --name "$sr_ctr_name" --workdir "$sr_workdir")
  for p in "${sr_ctr_mounts[@]}"; do CTR_CMD+=(--volume "$p:$p"); done
  # The runner's truth, set after env (sr_load_env), passed by name: the runtime reads the
  # values from this shell; the entry keeps them over what env says, as sr_load_env does.
  CTR_CMD+=(--env SKYHOP_PREEMPT_NOTICE)
  for p in "${SR_GANG_NAMES[@]}"; do CTR_CMD+=(--env "$p"); done
  # Secrets through stdin (sr_ctr_secrets), never --env: the runtime would keep them on disk.
  (( ${#sr_secret_names[@]} == 0 )) || CTR_CMD+=(--interactive)
  CTR_CMD+=(${sr_ctr_args[@]+"${sr_ctr_args[@]}"} "$sr_ctr_image" bash -c "$sr_ctr_entry" skyhop-entry "$sr_dir" "$sr_out")
  CTR_CMD+=("${#sr_secret_names[@]}")
  CTR_CMD+=(SKYHOP_PREEMPT_NOTICE "${SR_GANG_NAMES[@]}")
}

# The job's secrets for the container's entry, on its stdin: `NAME LENGTH` and the value's
# bytes, for each of secretNames (from this shell's environment, where the runner got them).
sr_ctr_secrets() {
  local n v
  LC_ALL=C
  for n in ${sr_secret_names[@]+"${sr_secret_names[@]}"}; do
    v=${!n}
    printf '%s %d\n%s' "$n" "${#v}" "$v"
  done
}

# SIGNAL CLIENT_PID: the job's signal to its container. A container still being created
# cannot be signalled yet: retried every 0.1 s while the client lives, for at most 10 s.
sr_ctr_forward() {
  local i
  for (( i = 0; i < 100; i++ )); do
    sr_ctr_kill "$1" && return 0
    kill -0 "$2" 2>/dev/null || return 0
    sleep 0.1
  done
}
# ship-section-end

# Runs in the job's own process group: setup (if any), then run in place of this shell.
sr_job_main() {
  trap - TERM INT USR1 USR2 EXIT
  # The runner writes job.pgid too, but this shell may get ahead of it: whoever sees a
  # setup-start or run-start event must find job.pgid.
  sr_write_atomic "$sr_out/job.pgid" "$BASHPID"
  sr_close_slots
  exec </dev/null >>"$sr_out/output.log" 2>&1
  umask "$sr_umask"
  cd -- "$sr_workdir" || { echo "skyhop-runner: cannot enter workdir $sr_workdir"; sr_write_atomic "$sr_out/job.status" 1; exit 1; }
  if [[ -n $sr_ctr_image ]]; then
    # setup-start here; setup-exit and run-start come from inside the container.
    # An image that is not here is pulled first, so that a pull failure is told apart from
    # the job's own: an `image-pull-failed` event and exit 125 (the runtime's own failure, as
    # docker run reports it).
    if ! "$sr_ctr_rt" image inspect "$sr_ctr_image" >/dev/null 2>&1 && ! "$sr_ctr_rt" pull "$sr_ctr_image"; then
      sr_json_str "cannot pull container image $sr_ctr_image with $sr_ctr_rt (see output.log)"
      sr_emit image-pull-failed message "$JSON" exitCode 125
      sr_write_atomic "$sr_out/job.status" 125
      exit 125
    fi
    [[ -f $sr_dir/setup.sh ]] && sr_emit setup-start
    sr_load_env
    sr_ctr_command
    # The runtime's client runs in a process group of its own, out of reach of the job's
    # signal: podman's client was seen to exit 0 at once on a SIGTERM, losing the job's
    # status. This shell forwards the signal to the container through the runtime instead;
    # the container's init (--init) hands it to the entry, which signals the job's group.
    local client status s2
    set -m
    "${CTR_CMD[@]}" < <(sr_ctr_secrets) &
    client=$!
    set +m
    trap 'sr_ctr_forward TERM "$client"' TERM
    trap 'sr_ctr_forward INT "$client"' INT
    trap 'sr_ctr_forward USR1 "$client"' USR1
    trap 'sr_ctr_forward USR2 "$client"' USR2
    trap 'sr_ctr_forward HUP "$client"' HUP
    trap 'sr_ctr_forward QUIT "$client"' QUIT
    while :; do
      wait "$client"
      status=$?
      kill -0 "$client" 2>/dev/null || break
    done
    # A signal may have cut the last wait short after the client ended: bash kept its status.
    wait "$client" 2>/dev/null
    s2=$?
    (( s2 == 127 )) || status=$s2
    trap '' TERM INT USR1 USR2 HUP QUIT
    sr_write_atomic "$sr_out/job.status" "$status"
    exit "$status"
  fi
  if [[ -f $sr_dir/setup.sh ]]; then
    # A stop during setup reaches setup through the group; this shell outlives it only
    # to not start run.
    local stop_sig= st
    trap 'stop_sig=TERM' TERM
    trap 'stop_sig=INT' INT
    trap 'stop_sig=USR1' USR1
    trap 'stop_sig=USR2' USR2
    trap 'stop_sig=HUP' HUP
    trap 'stop_sig=QUIT' QUIT
    sr_emit setup-start
    (sr_load_env && exec bash "$sr_dir/setup.sh")
    st=$?
    sr_emit setup-exit exitCode "$st"
    # A job that ends here records its status as well: a runner that died meanwhile must
    # not leave the attempt without one (it would be run again).
    [[ -n $stop_sig ]] && (( st == 0 )) && st=$(( 128 + $(kill -l "$stop_sig") ))
    if (( st != 0 )); then
      trap '' TERM INT USR1 USR2 HUP QUIT
      sr_write_atomic "$sr_out/job.status" "$st"
      exit "$st"
    fi
    trap - TERM INT USR1 USR2 HUP QUIT
  fi
  sr_emit run-start
  sr_load_env
  # Not `exec`: this shell outlives run.sh to record its exit status in a file, because
  # bash's own `wait` in the runner can lose it when a signal lands mid-wait (seen under
  # Slurm, which signals every process of the step), and because the runner may die
  # before the job does: job.status is then the only record of how the job ended, and
  # what keeps skyhop from running a finished job again. A no-op trap keeps this shell alive
  # through the job's signal; run.sh itself starts with default handlers.
  trap ':' TERM INT USR1 USR2 HUP QUIT
  bash "$sr_dir/run.sh"
  local status=$?
  # Ignored, not trapped, from here: the `mv` that records the status inherits the
  # ignore, so a second SIGTERM (Slurm signals the step, then the runner the group) cannot
  # kill it half way and lose the status.
  trap '' TERM INT USR1 USR2 HUP QUIT
  sr_write_atomic "$sr_out/job.status" "$status"
  exit "$status"
}

# Ends the runner when the job never started (stopped while waiting for a slot).
sr_finish_unstarted() {
  local code=$(( 128 + sr_signum ))
  sr_emit exit exitCode "$code" signal "\"SIG$sr_sig\"" beforeDeadline true started false
  sr_write_atomic "$sr_out/exit_code" "$code"
  exit "$code"
}

# Tested first: mkdir is a fork and an exec (~2 ms) on the way to the job's first line, and
# the workdir is often there already (a job's own directory; the local provider makes its
# default one).
[[ -d $sr_workdir ]] || mkdir -p -- "$sr_workdir" 2>/dev/null

# Capacity slots: hold flocks for as long as the job runs (the kernel lets go when the
# runner dies, so a crashed attempt never keeps a slot). A gang holds one slot per rank,
# all taken at once by its head: two gangs queued together never hold half of them each
# and wait on each other for ever. The other ranks wait for the head's word (gang-slots
# in ATTEMPT_DIR, the slots it holds) whatever slotWaitSeconds says: the head decides.
if [[ -n $sr_slot_dir ]] && (( sr_slots > 0 )); then
  command -v flock >/dev/null 2>&1 || sr_fail "capacity slots need flock (util-linux)"
  mkdir -p -- "$sr_slot_dir" || sr_fail "cannot create slot directory $sr_slot_dir"
  sr_slot_need=1
  (( sr_nodes > 1 )) && sr_slot_need=$sr_nodes
  (( sr_slot_need <= sr_slots )) || sr_fail "a gang of $sr_nodes ranks needs $sr_nodes capacity slots; there are $sr_slots"
  sr_slot_ids=()
  sr_waited=
  sr_now
  sr_wait_until=$(( NOW_MS + sr_slot_wait * 1000 ))
  while :; do
    if (( sr_nodes > 1 && sr_rank > 0 )); then
      if [[ -s $sr_dir/gang-slots ]]; then
        read -r -a sr_slot_ids <"$sr_dir/gang-slots"
        break
      fi
    else
      for (( sr_i = 0; sr_i < sr_slots && ${#sr_slot_fds[@]} < sr_slot_need; sr_i++ )); do
        exec {sr_fd}>>"$sr_slot_dir/slot-$sr_i.lock"
        if flock -n "$sr_fd"; then
          sr_slot_fds+=("$sr_fd")
          sr_slot_ids+=("$sr_i")
        else
          exec {sr_fd}>&-
        fi
      done
      (( ${#sr_slot_fds[@]} == sr_slot_need )) && break
      # Some but not all: give them back, for a job or a gang that fits now.
      sr_close_slots
      sr_slot_fds=()
      sr_slot_ids=()
    fi
    sr_handle_pending
    [[ -n $sr_deadline_ms ]] && sr_finish_unstarted
    sr_now
    if (( sr_rank == 0 && sr_slot_wait >= 0 && NOW_MS >= sr_wait_until )); then
      sr_emit no-slot slots "$sr_slots"
      echo "skyhop-runner: all $sr_slots slots are busy" >&2
      exit 75
    fi
    if [[ -z $sr_waited ]]; then
      sr_emit slot-wait slots "$sr_slots"
      sr_waited=1
    fi
    sleep 0.25 &
    wait $! 2>/dev/null
  done
  (( sr_nodes > 1 && sr_rank == 0 )) && sr_write_atomic "$sr_dir/gang-slots" "${sr_slot_ids[*]}"
  sr_emit slot slot "${sr_slot_ids[sr_rank]:-${sr_slot_ids[0]}}" slots "$sr_slots"
fi

sr_handle_pending
[[ -n $sr_deadline_ms ]] && sr_finish_unstarted

# The peer list, rank order: one address per node, each a host name or an IP address.
sr_peers_parse() { # TEXT WHERE
  local words=() w
  read -r -d '' -a words <<<"$1" || true
  for w in ${words[@]+"${words[@]}"}; do
    [[ $w =~ ^[A-Za-z0-9._:%-]{1,253}$ ]] || sr_fail "the peer list from $2 holds something that is not an address"
  done
  (( ${#words[@]} == sr_nodes )) || sr_fail "the peer list from $2 has ${#words[@]} addresses for a gang of $sr_nodes nodes"
  sr_ips=("${words[@]}")
}

if [[ -n $sr_peers_from ]]; then
  sr_now
  sr_peers_t0=$NOW_MS
  sr_peers_until=$(( NOW_MS + sr_peers_timeout * 1000 ))
  while :; do
    case $sr_peers_from in
      nodeIps) sr_peers_parse "${sr_conf[nodeIps]}" nodeIps; break ;;
      nodeIpsFile)
        # The writer renames the list into place, so a file that is there is whole.
        if [[ -f $sr_ips_file ]]; then
          sr_peers_parse "$(<"$sr_ips_file")" nodeIpsFile
          break
        fi ;;
      nodeIpsUrl)
        # The URL is a bearer credential: an argument to curl, nowhere else.
        sr_peers_body=$(curl -sS -g --connect-timeout 10 --max-time 30 -w '\n%{http_code}' -- "$sr_ips_url" 2>/dev/null)
        sr_peers_code=${sr_peers_body##*$'\n'}
        if [[ $sr_peers_code == 200 ]]; then
          sr_peers_parse "${sr_peers_body%$'\n'*}" nodeIpsUrl
          break
        fi
        [[ $sr_peers_code == 400 || $sr_peers_code == 401 || $sr_peers_code == 403 ]] &&
          sr_fail "peers: the store refused the signed URL (HTTP $sr_peers_code)" ;;
    esac
    sr_handle_pending
    [[ -n $sr_deadline_ms ]] && sr_finish_unstarted
    sr_now
    if (( NOW_MS >= sr_peers_until )); then
      sr_emit peers-expired timeoutSeconds "$sr_peers_timeout"
      echo "skyhop-runner: the gang's peer list did not come within ${sr_peers_timeout}s" >&2
      exit 75
    fi
    if [[ $sr_peers_from == nodeIpsFile ]]; then sleep 0.1 & else sleep 1 & fi
    wait $! 2>/dev/null
  done
  sr_now
  sr_secs $(( NOW_MS - sr_peers_t0 ))
  sr_json_str "$sr_peers_from"
  sr_emit peers count "${#sr_ips[@]}" seconds "$SECS" from "$JSON"
fi

# A held attempt: skyhop launched it before the attempt it replaces had stopped (a move
# from on-demand to spot made only once spot was there). It must not restore the
# checkpoint or start the job until that attempt's last checkpoint is saved: skyhop says
# so by creating holdFile, or the object at holdUrl (a signed GET; 404 until then).
if [[ -n $sr_hold_file || -n $sr_hold_url ]]; then
  sr_now
  sr_hold_until=$(( NOW_MS + sr_hold_timeout * 1000 ))
  sr_hold_t0=$NOW_MS
  sr_emit hold-wait timeoutSeconds "$sr_hold_timeout"
  while :; do
    if [[ -n $sr_hold_file ]]; then
      [[ -e $sr_hold_file ]] && break
    else
      # The URL is a bearer credential: an argument to curl, nowhere else.
      sr_hold_code=$(curl -sS -g --connect-timeout 10 --max-time 30 -o /dev/null -w '%{http_code}' -- "$sr_hold_url" 2>/dev/null)
      [[ $sr_hold_code == 200 ]] && break
      [[ $sr_hold_code == 400 || $sr_hold_code == 401 || $sr_hold_code == 403 ]] && sr_fail "hold: the store refused the signed URL (HTTP $sr_hold_code)"
    fi
    sr_handle_pending
    [[ -n $sr_deadline_ms ]] && sr_finish_unstarted
    sr_now
    if (( NOW_MS >= sr_hold_until )); then
      sr_emit hold-expired timeoutSeconds "$sr_hold_timeout"
      echo "skyhop-runner: not released within ${sr_hold_timeout}s of launch; the attempt it replaces may still hold the checkpoint" >&2
      exit 75
    fi
    if [[ -n $sr_hold_file ]]; then sleep 0.25 & else sleep 2 & fi
    wait $! 2>/dev/null
  done
  sr_now
  sr_secs $(( NOW_MS - sr_hold_t0 ))
  sr_emit hold-released seconds "$SECS"
fi

if [[ -n $sr_wd_url ]]; then
  sr_workdir_fetch
  sr_handle_pending
  [[ -n $sr_deadline_ms ]] && sr_finish_unstarted
fi

sr_transfers=
if [[ -n ${sr_conf[transfersFile]-}${sr_conf[transfersUrl]-} ]]; then
  sr_transfers_load
  sr_files_fetch
  sr_handle_pending
  [[ -n $sr_deadline_ms ]] && sr_finish_unstarted
fi

if [[ -n $sr_ckpt_get ]]; then
  sr_ckpt_restore
  sr_handle_pending
  [[ -n $sr_deadline_ms ]] && sr_finish_unstarted
fi

# A cloud attempt's files shipped to the job's store: a gang's head's only.
sr_shipper_pid=
# Every rank of a gang ships (its samples; the head its output.log too).
[[ -n ${sr_conf[shipUrl]-} ]] && sr_ship_start

for sr_entry in ${sr_sources[@]+"${sr_sources[@]}"}; do
  sr_poller "${sr_entry%%=*}" "${sr_entry#*=}" &
  sr_poller_pids+=($!)
done
if [[ -n $sr_gang_get ]]; then
  sr_poller gang "$sr_gang_get" &
  sr_poller_pids+=($!)
fi

# ---------------------------------------------------------------- utilisation sampler

# Every sampleIntervalSeconds (default 10; 0: never) a process of its own appends one JSON
# line to samples.jsonl: the CPU the job's process tree used since the last line (in cores)
# and its resident memory, read from /proc (a container's processes included: those below
# the init whose pid the runtime's `inspect` gives), and the raw output of each accelerator vendor's
# tool found on PATH. The tools' output is not parsed here: skyhop parses it
# (src/providers/usage-samples.ts), where each format is tested against recorded real
# output, so a new tool version needs no new runner. Only empty lines and table borders
# (nothing but + - = | and spaces) are dropped and runs of spaces squeezed: a small sample.
# A tool that is missing is never run; one that hangs is stopped by `timeout`; whatever
# one prints is data: a string in the line, never a reason for the sampler to stop.
# Needs coreutils' timeout and nproc; getconf when there is one (else 100 Hz and 4 KiB pages).
#
#   {"ts":…,"cpu":1.97,"cores":2,"rssKB":…,"memKB":…,"procs":3,
#    "tools":[{"tool":"nvidia-smi","rc":0,"lines":["0, 87, 22000, 81559"]},…]}
sr_usage_interval_ms=10000
if [[ -n ${sr_conf[sampleIntervalSeconds]-} ]]; then
  sr_sec_to_ms "${sr_conf[sampleIntervalSeconds]}" || sr_fail "sampleIntervalSeconds must be a number of seconds"
  sr_usage_interval_ms=$MS
  (( sr_usage_interval_ms == 0 || sr_usage_interval_ms >= 200 )) || sr_usage_interval_ms=200
fi

# ship-section usage: only on a VM whose attempt ships its samples (no other way off the machine)
sr_usage_tools=(
  'nvidia-smi|--query-gpu=index,utilization.gpu,memory.used,memory.total|--format=csv,noheader,nounits'
  'ixsmi|--format=csv,noheader|--query-gpu=index,name,memory.total,memory.used,utilization.gpu,temperature.gpu'
  'npu-smi|info'
  'rocm-smi|--showuse|--showmeminfo|vram|--json'
  'hy-smi|--showuse|--showmeminfo|vram|--json'
  'cnmon|info|-e|-m|-u|-j'
  'xpu-smi'
  'xpu_smi'
  'mx-smi'
  'mthreads-gmi'
)

# The job's process tree: its process group, and whatever descends from a member (a child
# that made a group of its own) or from ROOT (a container's init: a child of the runtime's
# conmon or containerd-shim, not of the job). Sets U_TICKS (utime+stime, and those of
# reaped children), U_RSS_KB, U_PROCS and U_ROOT_START (ROOT's start time, empty when it is
# gone). One `read` per process: no fork.
sr_usage_tree() { # PGID [ROOT]
  local pgid=$1 root=${2-} f k n i pass added
  local -a fields pid=() ppid=() pgrp=() ticks=() rss=() member=()
  U_ROOT_START=
  for f in /proc/[0-9]*/stat; do
    read -r -a fields 2>/dev/null <"$f" || continue
    # comm (field 2) may hold spaces: the fields after it start past the one ending in ')'.
    k=1
    while [[ ${fields[k]-)} != *')' ]]; do k=$(( k + 1 )); done
    pid+=("${fields[0]}")
    ppid+=("${fields[k+2]-0}")
    pgrp+=("${fields[k+3]-0}")
    ticks+=($(( ${fields[k+12]-0} + ${fields[k+13]-0} + ${fields[k+14]-0} + ${fields[k+15]-0} )))
    rss+=("${fields[k+22]-0}")
    [[ ${fields[0]} == "$root" ]] && U_ROOT_START=${fields[k+19]-}
  done
  n=${#pid[@]}
  local -A in=()
  [[ -n $U_ROOT_START ]] && in[$root]=1
  for (( i = 0; i < n; i++ )); do
    [[ ${pgrp[i]} == "$pgid" ]] && in[${pid[i]}]=1
  done
  for (( pass = 0; pass < 4; pass++ )); do
    added=0
    for (( i = 0; i < n; i++ )); do
      [[ -z ${in[${pid[i]}]-} && -n ${in[${ppid[i]}]-} ]] || continue
      in[${pid[i]}]=1
      added=1
    done
    (( added )) || break
  done
  U_TICKS=0 U_RSS_KB=0 U_PROCS=0
  for (( i = 0; i < n; i++ )); do
    [[ -n ${in[${pid[i]}]-} ]] || continue
    U_TICKS=$(( U_TICKS + ticks[i] ))
    U_RSS_KB=$(( U_RSS_KB + rss[i] * sr_usage_page_kb ))
    U_PROCS=$(( U_PROCS + 1 ))
  done
}

# One tool's answer as a JSON object in TOOL_JSON, within sr_usage_tool_timeout seconds.
sr_usage_tool() {
  local spec=$1 name args out rc line lines='' count=0 words
  IFS='|' read -r -a args <<<"$spec"
  name=${args[0]}
  args=("${args[@]:1}")
  if [[ $name == cnmon ]]; then
    # cnmon writes its JSON to cnmon_info.json in the working directory.
    out=$(cd -- "$sr_out/.usage" 2>/dev/null && rm -f cnmon_info.json &&
      timeout -k 1 "$sr_usage_tool_timeout" "$name" "${args[@]}" >/dev/null 2>&1 && cat cnmon_info.json 2>/dev/null)
  else
    out=$(timeout -k 1 "$sr_usage_tool_timeout" "$name" ${args[@]+"${args[@]}"} 2>/dev/null)
  fi
  rc=$?
  while IFS= read -r line; do
    [[ $line =~ ^[-+=|[:space:]]*$ ]] && continue # empty, or a table's border
    (( count < 200 )) || break
    # Words joined by one space: runs of spaces squeezed (an extglob substitution costs ~5 ms a line).
    read -r -a words <<<"$line"
    line="${words[*]}"
    sr_json_str "${line:0:400}"
    lines+=${lines:+,}$JSON
    count=$(( count + 1 ))
  done <<<"$out"
  TOOL_JSON="{\"tool\":\"$name\",\"rc\":$rc,\"lines\":[$lines]}"
}

sr_usage_sampler() { # PGID
  trap - TERM INT USR1 USR2 EXIT
  sr_close_slots
  local pgid=$1 runner=$$ spec tools=() t0 prev_ticks prev_ms cpu dt d json wait_ms
  local hz cores mem_kb=0 key value unit ctr_pid= ctr_start=
  hz=$(getconf CLK_TCK 2>/dev/null) && [[ $hz =~ ^[1-9][0-9]{0,5}$ ]] || hz=100
  sr_usage_page_kb=$(getconf PAGESIZE 2>/dev/null) && [[ $sr_usage_page_kb =~ ^[1-9][0-9]{0,7}$ ]] || sr_usage_page_kb=4096
  sr_usage_page_kb=$(( sr_usage_page_kb / 1024 ))
  cores=$(nproc 2>/dev/null) && [[ $cores =~ ^[1-9][0-9]{0,5}$ ]] || cores=1
  if [[ -r /proc/meminfo ]]; then
    while read -r key value unit; do
      [[ $key == MemTotal: ]] && { mem_kb=$value; break; }
    done </proc/meminfo
  fi
  sr_usage_tool_timeout=$(( sr_usage_interval_ms / 2000 ))
  (( sr_usage_tool_timeout >= 2 )) || sr_usage_tool_timeout=2
  (( sr_usage_tool_timeout <= 10 )) || sr_usage_tool_timeout=10
  for spec in "${sr_usage_tools[@]}"; do
    command -v "${spec%%|*}" >/dev/null 2>&1 && tools+=("$spec")
  done
  (( ${#tools[@]} == 0 )) || mkdir -p -- "$sr_out/.usage" 2>/dev/null
  { exec {sr_sleep_fd}<> <(:); } 2>/dev/null || sr_sleep_fd=
  sr_usage_tree "$pgid"
  prev_ticks=$U_TICKS
  sr_now
  prev_ms=$NOW_MS
  while kill -0 "$runner" 2>/dev/null && kill -0 -- "-$pgid" 2>/dev/null; do
    sr_now
    # Napped a second at a time: a runner killed outright (kill -9 never reaches this
    # process) leaves no sampler behind for longer than that.
    wait_ms=$(( sr_usage_interval_ms - (NOW_MS - prev_ms) ))
    while (( wait_ms > 0 )) && kill -0 "$runner" 2>/dev/null; do
      if (( wait_ms > 1000 )); then
        sr_nap 1000
        wait_ms=$(( wait_ms - 1000 ))
      else
        sr_nap "$wait_ms"
        wait_ms=0
      fi
    done
    kill -0 "$runner" 2>/dev/null || break
    # A container's processes descend from its init, which the runtime started: its pid is
    # asked of the runtime until it answers (the container may still be being pulled or
    # created), then kept while that process (same start time) lives.
    if [[ -n $sr_ctr_name && -z $ctr_pid ]]; then
      ctr_pid=$(timeout -k 1 "$sr_usage_tool_timeout" "$sr_ctr_rt" inspect --format '{{.State.Pid}}' "$sr_ctr_name" 2>/dev/null)
      [[ $ctr_pid =~ ^[1-9][0-9]*$ ]] || ctr_pid=
      ctr_start=
    fi
    sr_usage_tree "$pgid" "$ctr_pid"
    if [[ -n $ctr_pid ]]; then
      [[ -z $ctr_start ]] && ctr_start=$U_ROOT_START
      [[ -n $U_ROOT_START && $U_ROOT_START == "$ctr_start" ]] || ctr_pid=
    fi
    sr_now
    dt=$(( NOW_MS - prev_ms ))
    (( dt > 0 )) || dt=1
    d=$(( U_TICKS - prev_ticks ))
    (( d >= 0 )) || d=0 # a member left without a reaper in the tree: its time goes with it
    # cores busy, in hundredths: ticks / hz / seconds
    cpu=$(( d * 100000 / (hz * dt) ))
    prev_ticks=$U_TICKS
    prev_ms=$NOW_MS
    json=
    for spec in ${tools[@]+"${tools[@]}"}; do
      sr_usage_tool "$spec"
      json+=${json:+,}$TOOL_JSON
    done
    sr_iso "$NOW_MS"
    printf -v d '%d.%02d' $(( cpu / 100 )) $(( cpu % 100 ))
    printf '{"ts":"%s","cpu":%s,"cores":%s,"rssKB":%s,"memKB":%s,"procs":%s,"tools":[%s]}\n' \
      "$ISO" "$d" "$cores" "$U_RSS_KB" "$mem_kb" "$U_PROCS" "$json" >>"$sr_out/samples.jsonl"
  done
}
# ship-section-end

sr_usage_pid=
sr_usage_start() {
  (( sr_usage_interval_ms > 0 )) || return 0
  # A VM attempt that cannot ship its samples is sent the runner without the sampler.
  declare -F sr_usage_sampler >/dev/null || return 0
  [[ -r /proc/self/stat ]] || { sr_emit warning message '"no /proc here: the job'"'"'s CPU and memory are not sampled"'; return 0; }
  sr_usage_sampler "$sr_job_pid" &
  sr_usage_pid=$!
  sr_poller_pids+=("$sr_usage_pid")
}
sr_usage_stop() {
  [[ -n $sr_usage_pid ]] || return 0
  kill "$sr_usage_pid" 2>/dev/null
  wait "$sr_usage_pid" 2>/dev/null
  sr_usage_pid=
}

# `set -m` puts the background job in a process group of its own (pgid = its pid),
# with nothing beyond bash; the runner keeps its own group.
set -m
sr_job_main &
sr_job_pid=$!
sr_syncer_pid=
if [[ -n $sr_ckpt_put ]] && (( sr_ckpt_sync_ms > 0 )); then
  sr_ckpt_syncer &
  sr_syncer_pid=$!
fi
set +m
sr_write_atomic "$sr_out/job.pgid" "$sr_job_pid"
sr_usage_start

sr_status=
while :; do
  sr_handle_pending
  # The job may have ended while a trap ran (Slurm signals the whole step at once); bash
  # has reaped it and keeps its status, which `wait` returns at once.
  if ! kill -0 "$sr_job_pid" 2>/dev/null; then
    wait "$sr_job_pid" 2>/dev/null
    sr_status=$?
    break
  fi
  sr_now
  if [[ -n $sr_signal_at_ms && -z $sr_signalled ]] && (( NOW_MS >= sr_signal_at_ms )); then
    sr_signalled=1
    kill -s "$sr_sig" -- "-$sr_job_pid" 2>/dev/null
    sr_secs $(( sr_kill_at_ms - NOW_MS ))
    sr_emit signal signal "\"SIG$sr_sig\"" pgid "$sr_job_pid" remainingSeconds "$SECS"
  fi
  if [[ -n $sr_kill_at_ms && -z $sr_killed ]] && (( NOW_MS >= sr_kill_at_ms )); then
    kill -s KILL -- "-$sr_job_pid" 2>/dev/null
    # The container outlives its runtime client: it gets its SIGKILL from the runtime.
    sr_ctr_kill KILL
    sr_killed=1
    sr_secs $(( sr_deadline_ms - NOW_MS ))
    sr_emit kill signal '"SIGKILL"' pgid "$sr_job_pid" secondsBeforeDeadline "$SECS"
  fi
  sr_tick=1000
  (( sr_wait_p )) || sr_tick=200
  # The gang's file is read each tick: a tick is at most the poll interval.
  [[ -n $sr_gang_file ]] && (( sr_tick > sr_poll_ms )) && sr_tick=$sr_poll_ms
  if [[ -n $sr_signal_at_ms && -z $sr_signalled ]]; then
    sr_left=$(( sr_signal_at_ms - NOW_MS ))
    (( sr_left < sr_tick )) && sr_tick=$sr_left
    (( sr_tick >= 1 )) || sr_tick=1
  fi
  if [[ -n $sr_kill_at_ms && -z $sr_killed ]]; then
    sr_left=$(( sr_kill_at_ms - NOW_MS ))
    (( sr_left < sr_tick )) && sr_tick=$sr_left
    (( sr_tick >= 1 )) || sr_tick=1
  fi
  sr_secs "$sr_tick"
  sleep "$SECS" &
  sr_sleep_pid=$!
  if (( sr_wait_p )); then
    sr_who=
    wait -n -p sr_who "$sr_job_pid" "$sr_sleep_pid"
    sr_rc=$?
    # Never `wait` for the tick's sleep after killing it: when a signal already took it,
    # that wait can block until the job ends (seen under Slurm). Bash reaps it anyway.
    if [[ ${sr_who-} == "$sr_job_pid" ]]; then
      sr_status=$sr_rc
      kill "$sr_sleep_pid" 2>/dev/null
      break
    fi
    if [[ -z ${sr_who-} ]]; then # woken by a signal
      kill "$sr_sleep_pid" 2>/dev/null
    fi
  else
    wait "$sr_sleep_pid" 2>/dev/null
    kill "$sr_sleep_pid" 2>/dev/null
    if ! kill -0 "$sr_job_pid" 2>/dev/null; then
      wait "$sr_job_pid"
      sr_status=$?
      break
    fi
  fi
done
# The job's own record of its status wins; without it (SIGKILL took the whole group),
# what bash's wait said, as long as it is a real exit status.
if [[ -s $sr_out/job.status ]]; then
  sr_status=$(<"$sr_out/job.status")
elif ! [[ $sr_status =~ ^[0-9]+$ ]] || (( sr_status > 255 )); then
  if [[ -n $sr_killed ]]; then sr_status=137; else sr_status=255; fi
fi
sr_now
sr_end_ms=$NOW_MS
# A stop that comes after the job ended changes nothing: it is not recorded.

# Is a live process left in group PGID? Zombies do not count: an init that reaps
# slowly (containers) keeps them around, and `kill -0` would see them.
sr_group_alive() {
  local pgid=$1 f stat fields
  kill -0 -- "-$pgid" 2>/dev/null || return 1
  [[ -r /proc/self/stat ]] || return 0
  for f in /proc/[0-9]*/stat; do
    read -r stat 2>/dev/null <"$f" || continue
    # after "pid (comm) ": state ppid pgrp ...
    read -r -a fields <<<"${stat##*) }"
    [[ ${fields[2]-} == "$pgid" && ${fields[0]-} != Z && ${fields[0]-} != X ]] && return 0
  done
  return 1
}

# A container whose client is gone (killed) or that outlived it is stopped and removed.
if [[ -n $sr_ctr_name ]]; then
  sr_ctr_kill KILL
  "$sr_ctr_rt" rm --force "$sr_ctr_name" >/dev/null 2>&1
fi

# Whatever the job left in its group goes too, gently first.
if sr_group_alive "$sr_job_pid"; then
  kill -s TERM -- "-$sr_job_pid" 2>/dev/null
  for (( sr_i = 0; sr_i < 20; sr_i++ )); do
    sleep 0.1
    sr_group_alive "$sr_job_pid" || break
  done
  kill -s KILL -- "-$sr_job_pid" 2>/dev/null
  sr_leftovers=true
else
  sr_leftovers=false
fi

# The gang's notice goes out before exit_code too: the other ranks depend on it.
if (( ${#sr_gang_pub_pids[@]} > 0 )); then wait "${sr_gang_pub_pids[@]}" 2>/dev/null; fi

# The last copy of the checkpoint, before exit_code: whoever starts the next attempt on
# seeing exit_code finds it in the store. On a notice it has what is left of the grace.
if [[ -n $sr_ckpt_put ]]; then
  if [[ -n $sr_syncer_pid ]]; then
    kill -s KILL -- "-$sr_syncer_pid" 2>/dev/null
    wait "$sr_syncer_pid" 2>/dev/null
  fi
  sr_now
  sr_ckpt_max=900
  if [[ -n $sr_deadline_ms ]]; then sr_ckpt_max=$(( (sr_deadline_ms - NOW_MS) / 1000 )); fi
  if (( sr_ckpt_max >= 1 )); then
    sr_ckpt_save exit "$sr_ckpt_max"
  elif [[ -d $sr_ckpt_dir ]]; then
    sr_json_str "no time left before the deadline to copy the checkpoint; the store keeps the previous one"
    sr_emit checkpoint-save reason '"exit"' ok false message "$JSON"
  fi
fi

# The job's outputs, after the run (in what is left of the grace after a notice).
if [[ -n $sr_transfers ]]; then
  sr_now
  sr_out_max=900
  if [[ -n $sr_deadline_ms ]]; then sr_out_max=$(( (sr_deadline_ms - NOW_MS) / 1000 )); (( sr_out_max >= 5 )) || sr_out_max=5; fi
  sr_outputs_save exit "$sr_out_max"
fi

sr_usage_stop
# The last copy of output.log and samples.jsonl, before exit_code (and the instance's end).
[[ -n $sr_shipper_pid ]] && sr_ship_end
sr_exit_sig=null
if (( sr_status > 128 )); then
  sr_name=$(kill -l $(( sr_status - 128 )) 2>/dev/null) && sr_exit_sig="\"SIG${sr_name#SIG}\""
fi
if [[ -z $sr_deadline_ms ]]; then
  sr_before=null
  sr_dl=null
elif [[ -z $sr_killed ]] && (( sr_end_ms <= sr_deadline_ms )); then
  sr_before=true
else
  sr_before=false
fi
if [[ -n $sr_deadline_ms ]]; then sr_iso "$sr_deadline_ms"; sr_dl="\"$ISO\""; fi
sr_iso "$sr_end_ms"
sr_emit exit exitCode "$sr_status" signal "$sr_exit_sig" beforeDeadline "$sr_before" deadline "$sr_dl" \
  endedAt "\"$ISO\"" leftoverProcesses "$sr_leftovers"
# exit_code comes last: whoever sees it can trust the events are complete.
sr_write_atomic "$sr_out/exit_code" "$sr_status"

if (( ${#sr_poller_pids[@]} > 0 )); then kill "${sr_poller_pids[@]}" 2>/dev/null; fi
if (( sr_linger_ms > 0 )) && (( ${#sr_pending[@]} == 0 )); then
  sr_secs "$sr_linger_ms"
  sleep "$SECS" &
  wait $! 2>/dev/null
fi
exit "$sr_status"
}
