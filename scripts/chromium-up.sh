#!/usr/bin/env bash
# Makes a headless browser usable on this machine for the dashboard's tests and its
# screenshot (test/helpers/browser.ts, scripts/dashboard-screenshot.ts): installs Debian's
# `chromium` when run as root and it is missing (with fonts-dejavu-core, so text has a
# font), then checks that it starts headless and renders a page: --no-sandbox when run as
# root, because chromium's sandbox needs user namespaces a root shell in a container rarely
# has. Offline once installed: nothing here contacts anything but the Debian mirror.
#
# Idempotent: an installed chromium is only checked. Environment: SKYHOP_CHROMIUM (default
# /usr/bin/chromium), the binary the tests drive.
set -euo pipefail

CHROMIUM="${SKYHOP_CHROMIUM:-/usr/bin/chromium}"

log() { printf 'chromium-up: %s\n' "$*" >&2; }
die() { printf 'chromium-up: error: %s\n' "$*" >&2; exit 1; }

for arg in "$@"; do
  case "$arg" in
    -h | --help) echo "usage: $0" >&2; exit 0 ;;
    *) echo "usage: $0" >&2; exit 2 ;;
  esac
done

if [ ! -x "$CHROMIUM" ]; then
  [ "$CHROMIUM" = /usr/bin/chromium ] || die "$CHROMIUM (SKYHOP_CHROMIUM) is not an executable"
  [ "$(id -u)" = 0 ] || die "chromium is not installed; run this script as root to install Debian's chromium"
  log "installing Debian's chromium"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi

args=(--headless --disable-gpu --disable-dev-shm-usage --no-first-run)
[ "$(id -u)" = 0 ] && args+=(--no-sandbox)
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
# Debian's wrapper script prints a shell warning on some hosts; only the page matters.
dom="$(timeout 60 "$CHROMIUM" "${args[@]}" --user-data-dir="$profile" --dump-dom \
  'data:text/html,<p id="probe">skyhop-chromium-ok</p>' 2>/dev/null || true)"
case "$dom" in
  *skyhop-chromium-ok*) ;;
  *) die "$CHROMIUM did not render a page headless (${args[*]}); run it by hand to see why" ;;
esac
log "$("$CHROMIUM" --version 2>/dev/null) starts headless"
