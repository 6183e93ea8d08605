#!/usr/bin/env bash
# Starts a small multi-node Slurm cluster on this one machine (Debian's slurm-wlm +
# munge) for skyhop's Slurm provider and its tests. Installs the packages when run as
# root and they are missing, writes /etc/slurm/slurm.conf, starts munged (as the munge
# user), slurmctld and one slurmd per node, and waits until every node is idle.
#
# Several nodes on one host: one slurmd per node, each started as `slurmd -N <node>`,
# all with NodeHostname = this host, each with its own NodeAddr (127.0.0.1, 127.0.0.2,
# ...: every 127/8 address is this machine's loopback), its own Port, and its own spool
# directory, pid file and log (`%n` in slurm.conf). Debian's slurm-wlm (22.05) runs
# this as packaged: slurmctld accepts nodes that share a NodeHostname and talks to each
# slurmd on its own port, so no rebuild with --enable-multiple-slurmd is needed. Network
# namespaces (ip netns + veth) would work too but need a bridge, routes and teardown,
# and leave a half-built network behind when a run dies; distinct loopback addresses
# already give every node its own address, which is what a gang's peer list shows.
#
# Idempotent: when the daemons already run with the same configuration it only
# checks their health and puts the partitions and the nodes back in service (a test
# may have left a partition DOWN). When the configuration changed, or with --restart,
# it restarts the daemons by their pid files; job state is kept unless --clean.
#
# Partitions (the one-node pair keeps a single node, so that one-node jobs behave as on
# a one-node cluster: a `high` job must take the node from a `low` job, not find an
# idle one beside it):
#   low        node 1       PriorityTier=1  PreemptMode=REQUEUE GraceTime=10  (spot-like)
#   high       node 1       PriorityTier=10 PreemptMode=OFF                   (on-demand-like)
#   gang-low   every node   as low,  Hidden (multi-node jobs)
#   gang-high  every node   as high, Hidden
# Every node has GRES npu:4 and gpu:kunlun:4 over stand-in device nodes this script makes
# (copies of /dev/null; the machine has no accelerators), for the tests of the accelerators a
# container gets; jobs that ask for no --gres are unaffected.
# The gang partitions are Hidden so that skyhop's default (every visible partition is
# an offer) plans one-node jobs as before; name them in providers.slurm.partitions to
# use them. Preemption is by partition tier across all four (a `high` job preempts a
# `gang-low` job on node 1, a `gang-high` job preempts `low`).
#
# Environment: SKYHOP_SLURM_CLUSTER (ClusterName, default skyhop),
# SKYHOP_SLURM_NODES (nodes, 1-64, default 4), SKYHOP_SLURM_GRACE (GraceTime of the
# preemptible partitions, default 10), SKYHOP_SLURM_FORCE=1 to overwrite a slurm.conf
# that this script did not write.
set -euo pipefail

usage() {
  echo "usage: $0 [--restart] [--clean]" >&2
  echo "  --restart  restart the daemons even if they are healthy" >&2
  echo "  --clean    also forget all jobs (wipe slurmctld's state); implies --restart" >&2
}

started_ms=$(($(date +%s%N) / 1000000))
restart=0
clean=0
for arg in "$@"; do
  case "$arg" in
    --restart) restart=1 ;;
    --clean) clean=1; restart=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage; exit 2 ;;
  esac
done

log() { printf 'slurm-up: %s\n' "$*" >&2; }
die() { printf 'slurm-up: error: %s\n' "$*" >&2; exit 1; }

CONF_DIR=/etc/slurm
CONF="$CONF_DIR/slurm.conf"
MARKER='# managed by skyhop scripts/slurm-up.sh'
CLUSTER="${SKYHOP_SLURM_CLUSTER:-skyhop}"
GRACE="${SKYHOP_SLURM_GRACE:-10}"
NODES="${SKYHOP_SLURM_NODES:-4}"
STATE_DIR=/var/lib/slurm/slurmctld
SPOOL_DIR=/var/lib/slurm/slurmd
LOG_DIR=/var/log/slurm
CTLD_PID=/run/slurmctld.pid
# One per node: %n is the node's name (slurmd -N).
SLURMD_PID_PATTERN=/run/slurmd-%n.pid
# Where slurm-up.sh of the one-node days kept its slurmd's pid (stopped on upgrade).
LEGACY_SLURMD_PID=/run/slurmd.pid
MUNGE_KEY=/etc/munge/munge.key

case "$NODES" in
  '' | *[!0-9]*) die "SKYHOP_SLURM_NODES must be a number of nodes (1-64), not '$NODES'" ;;
esac
[ "$NODES" -ge 1 ] && [ "$NODES" -le 64 ] || die "SKYHOP_SLURM_NODES must be 1-64, not $NODES"
NODE_NAMES=()
for i in $(seq "$NODES"); do NODE_NAMES+=("n$i"); done
slurmd_pidfile() { echo "${SLURMD_PID_PATTERN//%n/$1}"; }

# Not root: all we can do is say whether a cluster already answers.
if [ "$(id -u)" -ne 0 ]; then
  if command -v sinfo >/dev/null 2>&1 && sinfo -h -o %P >/dev/null 2>&1; then
    log "not root; Slurm already answers, leaving it as it is"
    exit 0
  fi
  die "Slurm is not running and starting it needs root (sudo bash $0)"
fi

# ---------------------------------------------------------------- install
export PATH="$PATH:/usr/sbin:/sbin"
need_install=0
for bin in slurmctld slurmd sinfo sbatch srun munged; do
  command -v "$bin" >/dev/null 2>&1 || need_install=1
done
if [ "$need_install" -eq 1 ]; then
  log "installing slurm-wlm and munge (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  # Keep the packages' maintainer scripts from starting daemons with their stock
  # configuration (there may be no init system at all, as in containers).
  policy_added=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    policy_added=1
  fi
  trap '[ "$policy_added" -eq 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
  if [ "$policy_added" -eq 1 ]; then rm -f /usr/sbin/policy-rc.d; policy_added=0; fi
  trap - EXIT
fi

# One run at a time: CI and developers may call this concurrently.
exec 9>/run/skyhop-slurm-up.lock
flock -w 120 9 || die "another slurm-up.sh holds /run/skyhop-slurm-up.lock"

# ---------------------------------------------------------------- munge
munge_ok() { munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; }

if [ ! -s "$MUNGE_KEY" ]; then
  log "creating $MUNGE_KEY"
  install -d -o munge -g munge -m 0700 /etc/munge
  if command -v mungekey >/dev/null 2>&1; then
    mungekey --create --keyfile="$MUNGE_KEY" --force
  else
    dd if=/dev/urandom of="$MUNGE_KEY" bs=1 count=1024 status=none
  fi
fi
chown munge:munge "$MUNGE_KEY"
chmod 0400 "$MUNGE_KEY"
install -d -o munge -g munge -m 0755 /run/munge
install -d -o munge -g munge -m 0700 /var/log/munge /var/lib/munge

if ! munge_ok; then
  log "starting munged"
  # A munged that died leaves its socket and pid file behind and refuses to start.
  rm -f /run/munge/munge.socket.2 /run/munge/munge.socket.2.lock /run/munge/munged.pid
  runuser -u munge -- /usr/sbin/munged 9>&-
  for _ in $(seq 50); do munge_ok && break; sleep 0.1; done
  munge_ok || die "munged did not start (see /var/log/munge/munged.log)"
fi

# ---------------------------------------------------------------- slurm.conf
# slurmd -N finds its node by name; NodeHostname must still be this host's name.
host="$(hostname -s)"
cpus="$(nproc)"
mem_total_mb=$(($(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024))
# Modest on purpose: Slurm drains a node whose RealMemory exceeds what it finds.
real_memory=$((mem_total_mb / 2))
[ "$real_memory" -gt 8192 ] && real_memory=8192
[ "$real_memory" -lt 256 ] && real_memory=256

new_conf="$(mktemp)"
trap 'rm -f "$new_conf"' EXIT
cat >"$new_conf" <<EOF
$MARKER
# $NODES nodes on this host (one slurmd each, on 127.0.0.1, 127.0.0.2, ...), a
# one-node pair of partitions and a Hidden pair over every node; see the script for why.
ClusterName=$CLUSTER
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
SwitchType=switch/none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
# Schedule a batch job at the next pass (within 1 s) instead of up to 3 s later: launches
# on an idle test cluster start about 1 s sooner.
SchedulerParameters=batch_sched_delay=0
# GRES over stand-in device nodes (this machine has no accelerators; see gres.conf and
# standin_devices below): every node has npu:4 (Ascend, as Huawei's sites name it, a GRES
# with no plugin: Slurm sets no variable for it) and gpu:kunlun:4 (a gres/gpu, for which
# Slurm sets SLURM_JOB_GPUS and SLURM_STEP_GPUS). Jobs that ask for no --gres get none and
# are scheduled as before; skyhop's container tests ask for them (docs/providers/slurm.md).
GresTypes=gpu,npu
# No slurmdbd: sacct has no data. Finished jobs stay visible to squeue and
# scontrol for MinJobAge seconds, which is what the skyhop adapter reads.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$LOG_DIR/jobcomp.log
MinJobAge=3600
# Preemption: a job in \`high\` takes the node from a job in \`low\`: the tasks of the
# low job's steps get SIGTERM at once, on every node of the job (the batch shell itself does not, which is
# why skyhop runs its runner as an srun step), SIGKILL once GraceTime is over (at
# slurmctld's next time-limit check), and the job is requeued.
PreemptType=preempt/partition_prio
PreemptMode=REQUEUE
JobRequeue=1
KillWait=5
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
MessageTimeout=10
InactiveLimit=0
StateSaveLocation=$STATE_DIR
# Per node (%n, the name slurmd -N gives): several slurmd share this host.
SlurmdSpoolDir=$SPOOL_DIR/%n
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID_PATTERN
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
EOF
i=0
for name in "${NODE_NAMES[@]}"; do
  i=$((i + 1))
  echo "NodeName=$name NodeHostname=$host NodeAddr=127.0.0.$i Port=$((6817 + i)) CPUs=$cpus RealMemory=$real_memory Gres=gpu:kunlun:4,npu:4 State=UNKNOWN"
done >>"$new_conf"
all_nodes="n[1-$NODES]"
[ "$NODES" -eq 1 ] && all_nodes=n1
cat >>"$new_conf" <<EOF
PartitionName=low Nodes=n1 Default=YES MaxTime=INFINITE State=UP PriorityTier=1 PreemptMode=REQUEUE GraceTime=$GRACE
PartitionName=high Nodes=n1 Default=NO MaxTime=INFINITE State=UP PriorityTier=10 PreemptMode=OFF
PartitionName=gang-low Nodes=$all_nodes Default=NO Hidden=YES MaxTime=INFINITE State=UP PriorityTier=1 PreemptMode=REQUEUE GraceTime=$GRACE
PartitionName=gang-high Nodes=$all_nodes Default=NO Hidden=YES MaxTime=INFINITE State=UP PriorityTier=10 PreemptMode=OFF
EOF

# gres.conf: the same stand-in files for every node (all nodes are this host). Slurm takes
# the number in each file's name as the device's global index (SLURM_JOB_GPUS=2 is
# /dev/xpu2; `scontrol show job -d` says IDX:2 for /dev/davinci2).
GRES_CONF="$CONF_DIR/gres.conf"
new_gres="$(mktemp)"
trap 'rm -f "$new_conf" "$new_gres"' EXIT
cat >"$new_gres" <<EOF
$MARKER
# Stand-in device nodes (character devices 1:3, as /dev/null): this machine has no NPUs
# or GPUs. They let Slurm allocate devices by name and podman pass exactly those into a
# container, which is what skyhop's Slurm container tests check.
Name=npu File=/dev/davinci[0-3]
Name=gpu Type=kunlun File=/dev/xpu[0-3]
EOF

# The stand-ins themselves, and the shared nodes the vendors' container recipes pass
# besides (src/runner/container.ts): Ascend's davinci_manager, devmm_svm and hisi_hdc,
# Kunlunxin's xpuctrl. Each is a copy of /dev/null (major 1, minor 3): reading gives
# nothing, writing is discarded. A real device node of that name is never replaced.
standin_devices() {
  local dev
  for dev in davinci0 davinci1 davinci2 davinci3 davinci_manager devmm_svm hisi_hdc xpu0 xpu1 xpu2 xpu3 xpuctrl; do
    if [ -e "/dev/$dev" ]; then
      [ "$(stat -c %t:%T "/dev/$dev")" = 1:3 ] || die "/dev/$dev exists and is not a stand-in (1:3): a real device? Not touching it"
      continue
    fi
    mknod -m 0666 "/dev/$dev" c 1 3
  done
}
standin_devices

if [ -e "$CONF" ] && ! grep -qF "$MARKER" "$CONF" && [ "${SKYHOP_SLURM_FORCE:-0}" != 1 ]; then
  die "$CONF was not written by this script; set SKYHOP_SLURM_FORCE=1 to replace it"
fi
if ! cmp -s "$new_conf" "$CONF" 2>/dev/null; then
  log "writing $CONF"
  install -d -m 0755 "$CONF_DIR"
  install -m 0644 "$new_conf" "$CONF"
  restart=1
fi
if ! cmp -s "$new_gres" "$GRES_CONF" 2>/dev/null; then
  log "writing $GRES_CONF"
  install -m 0644 "$new_gres" "$GRES_CONF"
  restart=1
fi

# ---------------------------------------------------------------- daemons
# The pid a daemon wrote, if that process is still the daemon.
daemon_pid() { # name pidfile
  local pid
  [ -s "$2" ] || return 1
  pid="$(cat "$2")"
  [ -n "$pid" ] && alive "$pid" && [ "$(cat "/proc/$pid/comm")" = "$1" ] && echo "$pid"
}

# Running and not a zombie: where pid 1 does not reap (containers), a daemon that
# exited stays in /proc as a zombie.
alive() {
  local st
  st="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}

stop_daemon() { # name pidfile
  local pid
  pid="$(daemon_pid "$1" "$2")" || { rm -f "$2"; return 0; }
  log "stopping $1 (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do alive "$pid" || break; sleep 0.1; done
  if alive "$pid"; then
    log "$1 (pid $pid) ignored SIGTERM for 10 s; SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$2"
}

# Every slurmd pid file of ours: the nodes of this configuration, nodes of an earlier
# one with more nodes, and the one-node script's /run/slurmd.pid.
slurmd_pidfiles() {
  local f
  for f in "${SLURMD_PID_PATTERN//%n/*}" "$LEGACY_SLURMD_PID"; do
    # shellcheck disable=SC2086 # the glob is meant to expand
    for g in $f; do [ -e "$g" ] && echo "$g"; done
  done
  return 0
}

# A daemon of ours without its pid file would hold the ports; refuse to guess.
ours=" $(daemon_pid slurmctld "$CTLD_PID" || true) "
for f in $(slurmd_pidfiles); do ours+="$(daemon_pid slurmd "$f" || true) "; done
for name in slurmctld slurmd; do
  for pid in $(pgrep -x "$name" || true); do
    case "$ours" in *" $pid "*) continue ;; esac
    # Daemonizing leaves zombies behind where pid 1 does not reap (containers), and a
    # daemon's own short-lived children carry its name; neither is a second daemon.
    read -r _ _ pstate ppid _ <"/proc/$pid/stat" 2>/dev/null || continue
    [ "$pstate" = Z ] && continue
    case "$ours" in *" $ppid "*) continue ;; esac
    die "$name (pid $pid) runs without a pid file of this script; stop it first (it is not ours to kill)"
  done
done

healthy() { sinfo -h -o %P >/dev/null 2>&1; }

all_slurmd_up() {
  local name
  for name in "${NODE_NAMES[@]}"; do daemon_pid slurmd "$(slurmd_pidfile "$name")" >/dev/null || return 1; done
}

if [ "$restart" -eq 0 ] && daemon_pid slurmctld "$CTLD_PID" >/dev/null && all_slurmd_up && healthy; then
  log "slurmctld and $NODES slurmd already running with this configuration"
else
  # All slurmd at once: each may take a moment to end its threads.
  for f in $(slurmd_pidfiles); do stop_daemon slurmd "$f" & done
  wait
  stop_daemon slurmctld "$CTLD_PID"
  install -d -o root -g root -m 0755 "$STATE_DIR" "$SPOOL_DIR" "$LOG_DIR"
  for name in "${NODE_NAMES[@]}"; do install -d -o root -g root -m 0755 "$SPOOL_DIR/$name"; done
  if [ "$clean" -eq 1 ]; then
    log "wiping slurmctld state ($STATE_DIR)"
    find "$STATE_DIR" -mindepth 1 -delete
  fi
  # slurmctld refuses state saved under another ClusterName.
  if [ -s "$STATE_DIR/clustername" ] && [ "$(cat "$STATE_DIR/clustername")" != "$CLUSTER" ]; then
    log "state in $STATE_DIR belongs to cluster $(cat "$STATE_DIR/clustername"); wiping it"
    find "$STATE_DIR" -mindepth 1 -delete
  fi
  log "starting slurmctld"
  slurmctld 9>&- || die "slurmctld did not start (see $LOG_DIR/slurmctld.log)"
  for _ in $(seq 100); do healthy && break; sleep 0.2; done
  healthy || die "slurmctld does not answer (see $LOG_DIR/slurmctld.log)"
  log "starting $NODES slurmd (${NODE_NAMES[*]})"
  for name in "${NODE_NAMES[@]}"; do
    slurmd -N "$name" 9>&- || die "slurmd -N $name did not start (see $LOG_DIR/slurmd-$name.log)"
  done
fi

# ---------------------------------------------------------------- ready
# Back to service whatever a previous run or test left behind.
for part in low high gang-low gang-high; do
  scontrol update PartitionName="$part" State=UP >/dev/null 2>&1 || true
done

# Every node idle (or busy with jobs); a drained or down one is resumed once.
deadline=$((SECONDS + 60))
resumed=" "
while :; do
  waiting=()
  while read -r name state; do
    case "$state" in
      idle | mix | alloc | comp) ;;
      drain* | drng | down* | fail*)
        case "$resumed" in *" $name "*) ;; *)
          log "node $name is $state; resuming it"
          scontrol update NodeName="$name" State=RESUME >/dev/null 2>&1 || true
          resumed+="$name "
          ;;
        esac
        waiting+=("$name:$state")
        ;;
      *) waiting+=("$name:$state") ;;
    esac
  done < <(sinfo -h -N --all -o '%N %t' 2>/dev/null | sort -u)
  seen="$(sinfo -h -N --all -o %N 2>/dev/null | sort -u | wc -l)"
  [ "${#waiting[@]}" -eq 0 ] && [ "$seen" -eq "$NODES" ] && break
  if [ "$SECONDS" -ge "$deadline" ]; then
    scontrol show node >&2 || true
    die "nodes not ready after 60 s: ${waiting[*]:-only $seen of $NODES known} (see $LOG_DIR/slurmd-<node>.log)"
  fi
  sleep 0.2
done
nodes_at="$(sinfo -h -N --all -o '%N@%o' | sort -u | tr '\n' ' ')"
log "ready in $(($(date +%s%N) / 1000000 - started_ms)) ms: cluster $CLUSTER, $NODES nodes ($cpus CPUs, ${real_memory} MB each): ${nodes_at% }; partitions: $(sinfo -h --all -o %R | tr '\n' ' ' | sed 's/ $//')"
