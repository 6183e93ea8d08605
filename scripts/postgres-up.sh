#!/usr/bin/env bash
# Makes a PostgreSQL server on 127.0.0.1 for skyhop's shared state (docs/state.md) and its
# tests: installs Debian's `postgresql` when run as root and missing, starts the Debian
# cluster (pg_ctlcluster; the newest installed major version, cluster `main`) listening on
# 127.0.0.1:$SKYHOP_PG_PORT, and creates the role and database `skyhop` (the role may create
# databases: each test file makes its own and drops it). Prints the URL on stdout.
#
# Idempotent: a running cluster is left running, an existing role gets its password set
# again, an existing database is kept. Environment: SKYHOP_PG_PORT (default 5432),
# SKYHOP_PG_PASSWORD (default skyhop: a local test server, not a secret worth keeping).
set -euo pipefail

PORT="${SKYHOP_PG_PORT:-5432}"
PASSWORD="${SKYHOP_PG_PASSWORD:-skyhop}"
CLUSTER=main

log() { printf 'postgres-up: %s\n' "$*" >&2; }
die() { printf 'postgres-up: error: %s\n' "$*" >&2; exit 1; }

for arg in "$@"; do
  case "$arg" in
    -h | --help) echo "usage: $0  (prints postgres://skyhop:…@127.0.0.1:PORT/skyhop)" >&2; exit 0 ;;
    *) echo "usage: $0" >&2; exit 2 ;;
  esac
done

[ "$(id -u)" = 0 ] || die 'run as root (it installs and starts the Debian cluster)'

if ! command -v pg_ctlcluster >/dev/null || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  log 'installing postgresql'
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi

VERSION="$(ls /usr/lib/postgresql | sort -n | tail -1)"
if ! pg_lsclusters -h | awk -v v="$VERSION" -v c="$CLUSTER" '$1 == v && $2 == c {found = 1} END {exit !found}'; then
  log "creating cluster $VERSION/$CLUSTER on port $PORT"
  pg_createcluster "$VERSION" "$CLUSTER" --port "$PORT" >/dev/null
fi

CONF="/etc/postgresql/$VERSION/$CLUSTER/postgresql.conf"
changed=0
set_conf() {
  local key="$1" value="$2"
  if ! grep -Eq "^$key = $value([[:space:]]|$)" "$CONF"; then
    sed -i -E "/^#?$key = /d" "$CONF"
    echo "$key = $value			# skyhop scripts/postgres-up.sh" >>"$CONF"
    changed=1
  fi
}
set_conf listen_addresses "'127.0.0.1'"
set_conf port "$PORT"

status="$(pg_lsclusters -h | awk -v v="$VERSION" -v c="$CLUSTER" '$1 == v && $2 == c {print $4}')"
if [ "$status" = online ] && [ "$changed" = 1 ]; then
  log 'configuration changed: restarting'
  pg_ctlcluster "$VERSION" "$CLUSTER" restart
elif [ "$status" != online ]; then
  log "starting cluster $VERSION/$CLUSTER"
  pg_ctlcluster "$VERSION" "$CLUSTER" start
fi

for _ in $(seq 1 50); do
  pg_isready -q -h 127.0.0.1 -p "$PORT" && break
  sleep 0.2
done
pg_isready -q -h 127.0.0.1 -p "$PORT" || die "PostgreSQL does not answer on 127.0.0.1:$PORT (see /var/log/postgresql/postgresql-$VERSION-$CLUSTER.log)"

# The password reaches psql through the environment and its variable quoting (:'pw').
cd /
SKYHOP_PG_PASSWORD_="$PASSWORD" su postgres -c "psql -X -q -v ON_ERROR_STOP=1 -p $PORT -v pw=\"\$SKYHOP_PG_PASSWORD_\"" <<'SQL' >/dev/null
SELECT format('CREATE ROLE skyhop LOGIN CREATEDB PASSWORD %L', :'pw') WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'skyhop') \gexec
SELECT format('ALTER ROLE skyhop LOGIN CREATEDB PASSWORD %L', :'pw') \gexec
SELECT 'CREATE DATABASE skyhop OWNER skyhop' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'skyhop') \gexec
-- The tests drop their scratch databases WITH (FORCE), which must end every session on them,
-- an autovacuum worker's too: that needs pg_signal_backend.
GRANT pg_signal_backend TO skyhop;
SQL
log "ready on 127.0.0.1:$PORT"
echo "postgres://skyhop:$PASSWORD@127.0.0.1:$PORT/skyhop"
