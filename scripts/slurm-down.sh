#!/usr/bin/env bash
# Stops the Slurm cluster that scripts/slurm-up.sh started: every slurmd (one per node,
# /run/slurmd-<node>.pid, and /run/slurmd.pid of the one-node days), then slurmctld,
# each by the pid file it wrote (never by name). Job state survives for the
# next slurm-up.sh unless it is run with --clean. With --munge it also stops munged.
set -euo pipefail

stop_munge=0
for arg in "$@"; do
  case "$arg" in
    --munge) stop_munge=1 ;;
    -h | --help) echo "usage: $0 [--munge]" >&2; exit 0 ;;
    *) echo "usage: $0 [--munge]" >&2; exit 2 ;;
  esac
done

log() { printf 'slurm-down: %s\n' "$*" >&2; }

[ "$(id -u)" -eq 0 ] || { log "error: needs root"; exit 1; }

# Running and not a zombie: where pid 1 does not reap (containers), a daemon that
# exited stays in /proc as a zombie.
alive() {
  local st
  st="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}

stop_daemon() { # name pidfile
  local pid
  [ -s "$2" ] || { log "$1 is not running (no $2)"; return 0; }
  pid="$(cat "$2")"
  if [ -z "$pid" ] || [ ! -r "/proc/$pid/comm" ] || [ "$(cat "/proc/$pid/comm")" != "$1" ]; then
    log "$1 is not running (stale $2)"
    rm -f "$2"
    return 0
  fi
  log "stopping $1 (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do alive "$pid" || break; sleep 0.1; done
  if alive "$pid"; then
    log "$1 (pid $pid) ignored SIGTERM for 10 s; SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$2"
}

for pidfile in /run/slurmd-*.pid /run/slurmd.pid; do
  [ -e "$pidfile" ] || continue
  stop_daemon slurmd "$pidfile" &
done
wait
stop_daemon slurmctld /run/slurmctld.pid
if [ "$stop_munge" -eq 1 ]; then
  stop_daemon munged /run/munge/munged.pid
fi
