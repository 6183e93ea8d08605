#!/usr/bin/env bash
# Makes podman usable on this machine for skyhop's container tests, offline: installs
# Debian's podman (and runc) when run as root and missing, builds the test image
# localhost/skyhop-test:busybox from Debian packages (no registry is contacted), and checks
# that `podman run --rm IMAGE true` works.
#
# The image: a rootfs of busybox-static (sh, sleep, cat, …) and bash-static (the runner's
# job scripts are bash), fetched with `apt-get download` and unpacked with `dpkg-deb -x`,
# plus /etc/os-release (ID=skyhop-test) and /skyhop-test-marker, then `podman import`.
#
# Configuration it may write, only when a plain `podman run` fails here, to
# /etc/containers/containers.conf.d/90-skyhop.conf (marked as written by this script):
#   - runtime = "runc": crun refuses a cgroup v1 host with controllers in the v2 hierarchy
#     too ("cgroups in hybrid mode not supported"); runc runs there.
#   - default_ulimits at or below this shell's hard limits (nofile, and nproc ≤ 32768, which
#     podman's conmon runs under): podman's defaults (1048576, 4194304) need
#     CAP_SYS_RESOURCE to raise, which a container or VM sandbox often withholds
#     ("setrlimit RLIMIT_NOFILE: Operation not permitted").
#
# Idempotent: an existing image is kept unless --rebuild. Environment: SKYHOP_TEST_IMAGE
# (default localhost/skyhop-test:busybox).
set -euo pipefail

IMAGE="${SKYHOP_TEST_IMAGE:-localhost/skyhop-test:busybox}"
CONF_DIR=/etc/containers/containers.conf.d
CONF="$CONF_DIR/90-skyhop.conf"
MARKER='# managed by skyhop scripts/podman-up.sh'

log() { printf 'podman-up: %s\n' "$*" >&2; }
die() { printf 'podman-up: error: %s\n' "$*" >&2; exit 1; }

rebuild=0
for arg in "$@"; do
  case "$arg" in
    --rebuild) rebuild=1 ;;
    -h | --help) echo "usage: $0 [--rebuild]" >&2; exit 0 ;;
    *) echo "usage: $0 [--rebuild]" >&2; exit 2 ;;
  esac
done

root=0
[ "$(id -u)" -eq 0 ] && root=1

missing=()
command -v podman >/dev/null 2>&1 || missing+=(podman)
command -v runc >/dev/null 2>&1 || missing+=(runc)
if [ ${#missing[@]} -gt 0 ]; then
  [ $root -eq 1 ] || die "${missing[*]} missing and installing needs root (sudo bash $0)"
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ $rebuild -eq 1 ]; then podman rmi -f "$IMAGE" >/dev/null 2>&1 || true; fi
if ! podman image exists "$IMAGE"; then
  work=$(mktemp -d)
  trap 'rm -rf -- "$work"' EXIT
  log "building $IMAGE from busybox-static and bash-static"
  (cd "$work" && apt-get download busybox-static bash-static >/dev/null 2>&1) ||
    die "apt-get download busybox-static bash-static failed (is the Debian mirror reachable?)"
  mkdir -p "$work/pkg" "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/tmp"
  for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$work/pkg"; done
  cp "$work/pkg/bin/busybox" "$work/rootfs/bin/busybox"
  cp "$work/pkg/bin/bash-static" "$work/rootfs/bin/bash"
  # Only the applets the tests and the runner's in-container entry use, as links.
  for applet in sh cat echo ls sleep true false kill mkdir rm mv date env id printf test touch grep sed; do
    ln -sf busybox "$work/rootfs/bin/$applet"
  done
  chmod 1777 "$work/rootfs/tmp"
  printf 'ID=skyhop-test\nNAME="skyhop test image"\nVERSION_ID=1\n' >"$work/rootfs/etc/os-release"
  echo 'inside the skyhop test image' >"$work/rootfs/skyhop-test-marker"
  tar -C "$work/rootfs" -c . | podman import --change 'CMD ["/bin/sh"]' --change 'ENV PATH=/bin' - "$IMAGE" >/dev/null
fi

probe() { podman run --rm "$IMAGE" true 2>&1; }
if ! out=$(probe); then
  log "podman run failed: $out"
  [ $root -eq 1 ] || die "fixing podman's configuration needs root"
  if [ -f "$CONF" ] && ! grep -qF "$MARKER" "$CONF"; then die "$CONF was not written by this script; not touching it"; fi
  nofile=$(ulimit -Hn)
  nproc=$(ulimit -Hu)
  [ "$nofile" = unlimited ] && nofile=1048576
  if [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; then nproc=32768; fi
  mkdir -p "$CONF_DIR"
  {
    echo "$MARKER"
    echo '[containers]'
    echo "default_ulimits = [\"nofile=$nofile:$nofile\", \"nproc=$nproc:$nproc\"]"
    echo '[engine]'
    echo 'runtime = "runc"'
  } >"$CONF"
  log "wrote $CONF (runc, ulimits nofile=$nofile nproc=$nproc)"
  out=$(probe) || die "podman still cannot run a container: $out"
fi
log "ok: podman $(podman version --format '{{.Client.Version}}') runs $IMAGE"
