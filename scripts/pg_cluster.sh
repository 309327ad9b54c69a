#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests and benchmarks (contract §17),
# from Debian's postgresql package: initdb in DIR, a private port on
# 127.0.0.1, stopped and removed by `stop`.
#
#   scripts/pg_cluster.sh start DIR   # prints the cluster's URL; also in DIR/url
#   scripts/pg_cluster.sh stop DIR    # stops it and removes DIR
#
# The URL names the superuser `cascade` (no password, 127.0.0.1 only) and the
# database `postgres`; tests create a database each. The role `cascade_pw`
# (password `cascade-test-password`, scram-sha-256) exists for tests of bad
# credentials. PostgreSQL refuses to run as root, so under root the cluster
# runs as the system user `cascade-pg` (created if missing). fsync stays on:
# the tests that kill servers rely on PostgreSQL's real durability.
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
(($# == 2)) || usage
action=$1
dir=$2

pg_bin() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
  [[ -n $bin && -x $bin/initdb ]] || {
    echo "pg_cluster.sh: PostgreSQL's server is not installed (scripts/deps.sh installs postgresql)" >&2
    exit 1
  }
  echo "$bin"
}

# Runs a command as the cluster's owner.
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u cascade-pg -- "$@"
  else
    "$@"
  fi
}

case "$action" in
  start)
    bin=$(pg_bin)
    if [[ $(id -u) -eq 0 ]] && ! id cascade-pg >/dev/null 2>&1; then
      useradd --system --no-create-home --shell /usr/sbin/nologin cascade-pg
    fi
    # A cluster left by an earlier run that died: stop it, start afresh.
    if [[ -f $dir/data/postmaster.pid ]]; then
      as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    mkdir -p "$dir"
    [[ $(id -u) -ne 0 ]] || chown cascade-pg "$dir"
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_owner "$bin/initdb" -D "$dir/data" -U cascade --auth=trust --encoding=UTF8 --locale=C \
      >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 300
fsync = on
synchronous_commit = on
log_min_messages = warning
EOF
    cat >"$dir/data/pg_hba.conf" <<EOF
local all all trust
host all cascade_pw 127.0.0.1/32 scram-sha-256
host all all 127.0.0.1/32 trust
EOF
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null ||
      { cat "$dir/server.log" >&2; exit 1; }
    as_owner "$bin/psql" -q -h "$dir" -p "$port" -U cascade -d postgres -v ON_ERROR_STOP=1 \
      -c "CREATE ROLE cascade_pw LOGIN PASSWORD 'cascade-test-password'" >/dev/null
    url="postgresql://cascade@127.0.0.1:$port/postgres"
    echo "$url" >"$dir/url"
    echo "$url"
    ;;
  stop)
    [[ -d $dir ]] || exit 0
    bin=$(pg_bin)
    if [[ -f $dir/data/postmaster.pid ]]; then
      as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null
    fi
    rm -rf "$dir"
    ;;
  *) usage ;;
esac
