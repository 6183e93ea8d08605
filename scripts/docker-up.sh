#!/usr/bin/env bash
# Makes docker usable on this machine for skyhop's container tests, offline and without
# touching the machine's network or any other daemon: installs Debian's docker.io when run as
# root and missing (its packaged service is not started), starts a private dockerd unless one
# already answers on its socket, and loads the test image localhost/skyhop-test:busybox from
# podman's store (scripts/podman-up.sh builds it; no registry is contacted).
#
# The daemon: socket /run/skyhop-docker/docker.sock (no TCP), data under
# /var/lib/skyhop-docker, state under /run/skyhop-docker, and --iptables=false
# --ip6tables=false --ip-forward=false --bridge=none: no firewall rules, no bridge, so
# containers get no network (the tests need none) and podman's networking is left alone. Its
# log is /var/log/skyhop-dockerd.log. Tests reach it with
# DOCKER_HOST=unix:///run/skyhop-docker/docker.sock (test/helpers/docker.ts).
#
# Idempotent: a daemon that answers is kept; an image already loaded is kept unless --rebuild.
set -euo pipefail

IMAGE="${SKYHOP_TEST_IMAGE:-localhost/skyhop-test:busybox}"
RUN_DIR=/run/skyhop-docker
SOCK="$RUN_DIR/docker.sock"
DATA=/var/lib/skyhop-docker
LOG=/var/log/skyhop-dockerd.log
export DOCKER_HOST="unix://$SOCK"

log() { printf 'docker-up: %s\n' "$*" >&2; }
die() { printf 'docker-up: error: %s\n' "$*" >&2; exit 1; }

rebuild=0
for arg in "$@"; do
  case "$arg" in
    --rebuild) rebuild=1 ;;
    -h | --help) echo "usage: $0 [--rebuild]" >&2; exit 0 ;;
    *) echo "usage: $0 [--rebuild]" >&2; exit 2 ;;
  esac
done

[ "$(id -u)" -eq 0 ] || die "the private dockerd runs as root (sudo bash $0)"
if ! command -v dockerd >/dev/null 2>&1; then
  log "installing docker.io"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io >/dev/null
fi

if ! docker version >/dev/null 2>&1; then
  mkdir -p "$RUN_DIR" "$DATA"
  log "starting dockerd on $SOCK"
  setsid dockerd --host "$DOCKER_HOST" --data-root "$DATA" --exec-root "$RUN_DIR/exec" \
    --pidfile "$RUN_DIR/dockerd.pid" --iptables=false --ip6tables=false --ip-forward=false --bridge=none \
    </dev/null >>"$LOG" 2>&1 &
  for _ in $(seq 100); do
    docker version >/dev/null 2>&1 && break
    sleep 0.2
  done
  docker version >/dev/null 2>&1 || die "dockerd did not answer on $SOCK within 20 s (see $LOG)"
fi

if [ $rebuild -eq 1 ]; then docker rmi -f "$IMAGE" >/dev/null 2>&1 || true; fi
if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
  podman image exists "$IMAGE" 2>/dev/null || die "$IMAGE is not in podman's store: run scripts/podman-up.sh first"
  log "loading $IMAGE from podman"
  podman save "$IMAGE" | docker load >/dev/null
fi

out=$(docker run --rm --network none "$IMAGE" true 2>&1) || die "docker cannot run $IMAGE: $out"
log "ok: docker $(docker version --format '{{.Server.Version}}') on $SOCK runs $IMAGE"
