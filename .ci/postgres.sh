#!/usr/bin/env bash
# Start a throwaway PostgreSQL cluster on a free loopback port and print its URL.
# Usage: eval "$(.ci/postgres.sh start DIR)"  ...  .ci/postgres.sh stop DIR
# The cluster runs as an unprivileged user (initdb refuses root) and trusts loopback only.
set -euo pipefail

action=${1:?start or stop}
dir=${2:?directory for the cluster}
bindir=$(dirname "$(readlink -f "$(command -v pg_ctl || echo /usr/lib/postgresql/15/bin/pg_ctl)")")
runas=()
if [ "$(id -u)" = 0 ]; then
    user=postgres
    id "$user" >/dev/null 2>&1 || useradd --system --no-create-home "$user"
    runas=(runuser -u "$user" --)
fi

case "$action" in
start)
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown "$user" "$dir"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "${runas[@]}" "$bindir/initdb" -D "$dir/data" -U spyagency --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1
    "${runas[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >/dev/null
    echo "export SPYAGENCY_TEST_POSTGRES_URL=postgresql+psycopg://spyagency@127.0.0.1:$port/postgres"
    ;;
stop)
    if [ -d "$dir/data" ]; then
        "${runas[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    fi
    ;;
*)
    echo "unknown action $action" >&2
    exit 2
    ;;
esac
