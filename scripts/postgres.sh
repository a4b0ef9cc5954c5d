#!/usr/bin/env bash
# Local PostgreSQL for the store tests (Debian's postgresql package, cluster 15/main).
#
#   scripts/postgres.sh start   start the cluster if needed and create role/database fleetwise
#   scripts/postgres.sh stop    stop the cluster if it is running
#   scripts/postgres.sh url     print the SQLAlchemy URL of the test database
#
# Idempotent; needs root (or the postgres user) for start/stop. Listens on 127.0.0.1 only.
set -euo pipefail

PG_VERSION=15
PG_CLUSTER=main
PG_HOST=127.0.0.1
PG_PORT=5432
DB_NAME=fleetwise
DB_ROLE=fleetwise
DB_PASSWORD=fleetwise

die() { echo "postgres.sh: $*" >&2; exit 1; }

cluster_status() {
  # Prints the status column (online/down) of our cluster, or nothing if it does not exist.
  pg_lsclusters --no-header 2>/dev/null | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" \
    '$1 == v && $2 == c { print $4 }'
}

as_postgres() {
  if [ "$(id -un)" = postgres ]; then
    "$@"
  elif [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    die "need root or the postgres user to manage the cluster"
  fi
}

psql_admin() {
  as_postgres psql --no-psqlrc --quiet --tuples-only --no-align -v ON_ERROR_STOP=1 \
    --port "$PG_PORT" "$@"
}

wait_ready() {
  for _ in $(seq 1 60); do
    pg_isready --quiet --host "$PG_HOST" --port "$PG_PORT" && return 0
    sleep 0.5
  done
  die "server on $PG_HOST:$PG_PORT did not become ready (see /var/log/postgresql/)"
}

start() {
  command -v pg_ctlcluster >/dev/null || die "PostgreSQL is not installed (apt-get install postgresql)"
  local status
  status="$(cluster_status)"
  [ -n "$status" ] || die "cluster $PG_VERSION/$PG_CLUSTER does not exist (pg_createcluster $PG_VERSION $PG_CLUSTER)"
  if [ "$status" != online ]; then
    local out
    # pg_ctlcluster exits 2 if another caller started the cluster in the meantime.
    if ! out="$(pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start 2>&1)"; then
      [ "$(cluster_status)" = online ] || die "could not start cluster: $out"
    fi
  fi
  wait_ready
  ensure "SELECT 1 FROM pg_roles WHERE rolname = '$DB_ROLE'" \
    "CREATE ROLE $DB_ROLE LOGIN PASSWORD '$DB_PASSWORD'"
  psql_admin -c "ALTER ROLE $DB_ROLE LOGIN PASSWORD '$DB_PASSWORD'"
  ensure "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'" \
    "CREATE DATABASE $DB_NAME OWNER $DB_ROLE"
}

ensure() {
  # ensure EXISTS_QUERY CREATE_STATEMENT: create unless present; a concurrent creator is fine.
  [ "$(psql_admin -c "$1")" = 1 ] && return 0
  psql_admin -c "$2" 2>/dev/null || [ "$(psql_admin -c "$1")" = 1 ] || die "failed: $2"
}

stop() {
  if [ "$(cluster_status)" = online ]; then
    pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" stop
  fi
}

url() {
  echo "postgresql+psycopg://$DB_ROLE:$DB_PASSWORD@$PG_HOST:$PG_PORT/$DB_NAME"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) url ;;
  *) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac
