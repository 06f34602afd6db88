#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for one test run, from Debian's `postgresql` package
# (scripts/install-bridge.sh installs it): initdb into FOLDER, listen on a free loopback port.
#
#   scripts/pg-cluster.sh start FOLDER   prints the cluster's URL (postgres://postgres@127.0.0.1:PORT/postgres)
#   scripts/pg-cluster.sh stop FOLDER    stops it and removes FOLDER
#
# As root the cluster runs as the `postgres` system user, since PostgreSQL refuses to run as root.
# Durability is off (fsync, synchronous_commit): the tests crash hosts, never the cluster.
set -euo pipefail
action=${1:?start or stop}
folder=${2:?a folder for the cluster}
bindir=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -1)")
if [ ! -x "$bindir/initdb" ]; then
    echo "PostgreSQL is not installed: run scripts/install-bridge.sh" >&2
    exit 1
fi
as_user=()
if [ "$(id -u)" -eq 0 ]; then as_user=(runuser -u postgres --); fi

case "$action" in
start)
    mkdir -p "$folder"
    if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$folder"; fi
    "${as_user[@]}" "$bindir/initdb" -D "$folder/data" -U postgres -A trust -E UTF8 >"$folder/initdb.log" 2>&1
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "${as_user[@]}" "$bindir/pg_ctl" -D "$folder/data" -l "$folder/log" -w \
        -o "-p $port -k $folder -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400" \
        start >/dev/null
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    ;;
stop)
    if [ -d "$folder/data" ]; then
        "${as_user[@]}" "$bindir/pg_ctl" -D "$folder/data" -m immediate stop >/dev/null 2>&1 || true
    fi
    rm -rf "$folder"
    ;;
*)
    echo "usage: $0 start|stop FOLDER" >&2
    exit 2
    ;;
esac
