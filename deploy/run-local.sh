#!/usr/bin/env bash
# `make prod`: the production process model on this machine, against the local PostgreSQL and
# Redis. Migrates, then starts WEB_PORTS gunicorn instances (one worker each, deploy/gunicorn.conf.py),
# one scheduler and nginx (deploy/nginx.conf) as ordinary processes, prints the URL, and stops
# every one of them on Ctrl-C (or SIGTERM). Nothing system-wide is touched.
#
#   DATABASE_URL   postgresql://postgres@127.0.0.1:5432/dispatch_prod (created if missing)
#   REDIS_URL      redis://127.0.0.1:6379/0
#   WEB_PORTS      "8001 8002"       one gunicorn instance per port
#   LISTEN         8080              nginx's port
#   RUN_DIR        instance/prod     pid files, nginx config and logs, metrics folders, secret key
#   SECRET_KEY     kept in $RUN_DIR/secret_key when not given
#   DEMO=1         load the demo city into an empty database
#   NGINX          /usr/sbin/nginx
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BIN:-$ROOT/.venv/bin}
NGINX=${NGINX:-/usr/sbin/nginx}
WEB_PORTS=${WEB_PORTS:-"8001 8002"}
LISTEN=${LISTEN:-8080}
RUN_DIR=${RUN_DIR:-$ROOT/instance/prod}
SCHEDULER_INTERVAL_S=${SCHEDULER_INTERVAL_S:-30}

export DATABASE_URL=${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/dispatch_prod}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
export APP_ENV=production
export PROXY_FIX_X_FOR=${PROXY_FIX_X_FOR:-1}
export SCHEDULER_IN_PROCESS=0
export FLASK_APP=wsgi

mkdir -p "$RUN_DIR/tmp"
RUN_DIR=$(cd "$RUN_DIR" && pwd)
if [ -z "${SECRET_KEY:-}" ]; then
    if [ ! -s "$RUN_DIR/secret_key" ]; then
        (umask 077 && "$BIN/python" -c 'import secrets; print(secrets.token_hex(32))' > "$RUN_DIR/secret_key")
    fi
    SECRET_KEY=$(cat "$RUN_DIR/secret_key")
fi
export SECRET_KEY

cd "$ROOT"

# ---- the database: create it if missing, then migrate
"$BIN/python" - <<'PY'
import os

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

url = make_url(os.environ["DATABASE_URL"])
if url.get_backend_name() == "postgresql":
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (url.database,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(url.database)))
            print(f"created database {url.database}")
PY
"$BIN/alembic" upgrade head
if [ "${DEMO:-0}" = "1" ]; then
    "$BIN/flask" seed-demo --if-empty
fi

# ---- the processes
PIDS=()
stop_all() {
    trap - INT TERM EXIT
    echo "stopping ${#PIDS[@]} processes" >&2
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM
trap 'stop_all' EXIT

UPSTREAMS=""
for port in $WEB_PORTS; do
    PROMETHEUS_MULTIPROC_DIR="$RUN_DIR/metrics-$port" GUNICORN_BIND="127.0.0.1:$port" \
        "$BIN/gunicorn" -c deploy/gunicorn.conf.py --pid "$RUN_DIR/web-$port.pid" wsgi:app &
    PIDS+=($!)
    UPSTREAMS="$UPSTREAMS server 127.0.0.1:$port max_fails=1 fail_timeout=10s;"
done

"$BIN/flask" scheduler --interval "$SCHEDULER_INTERVAL_S" &
PIDS+=($!)
echo $! > "$RUN_DIR/scheduler.pid"

# nginx: the site template plus a whole nginx.conf whose files all live in RUN_DIR.
export DISPATCH_LISTEN="127.0.0.1:$LISTEN" DISPATCH_TLS="" DISPATCH_UPSTREAMS="$UPSTREAMS" \
    DISPATCH_STATIC_ROOT="$ROOT/web/static" DISPATCH_ACCESS_LOG="$RUN_DIR/nginx-access.log" \
    DISPATCH_RUN_DIR="$RUN_DIR"
if [ "$(id -u)" = "0" ]; then
    # As root nginx would hand its workers to `nobody`, who may not read this checkout.
    export DISPATCH_USER_DIRECTIVE="user root;"
else
    export DISPATCH_USER_DIRECTIVE=""
fi
mkdir -p "$RUN_DIR/tmp"
envsubst '${DISPATCH_LISTEN} ${DISPATCH_TLS} ${DISPATCH_UPSTREAMS} ${DISPATCH_STATIC_ROOT} ${DISPATCH_ACCESS_LOG}' \
    < deploy/nginx.conf > "$RUN_DIR/dispatch-site.conf"
envsubst '${DISPATCH_RUN_DIR} ${DISPATCH_USER_DIRECTIVE}' < deploy/nginx-local.conf > "$RUN_DIR/nginx.conf"
"$NGINX" -t -q -p "$RUN_DIR" -c "$RUN_DIR/nginx.conf"
"$NGINX" -p "$RUN_DIR" -c "$RUN_DIR/nginx.conf" -g 'daemon off;' &
PIDS+=($!)

# ---- ready when /readyz answers 200 through nginx
URL="http://127.0.0.1:$LISTEN"
"$BIN/python" - "$URL/readyz" "${PIDS[@]}" <<'PY'
import os
import sys
import time
import urllib.request

url, pids = sys.argv[1], [int(p) for p in sys.argv[2:]]
deadline = time.monotonic() + 90
while True:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            if response.status == 200:
                break
    except OSError:
        pass
    for pid in pids:
        # A child that already exited is a zombie until the shell reaps it: read its state.
        try:
            with open(f"/proc/{pid}/stat") as stat:
                exited = stat.read().rsplit(")", 1)[1].split()[0] == "Z"
        except FileNotFoundError:
            exited = True
        if exited:
            sys.exit(f"process {pid} exited while starting; its output is above")
    if time.monotonic() > deadline:
        sys.exit(f"not ready after 90 s: {url}")
    time.sleep(0.3)
PY
echo ""
echo "  Dispatch (APP_ENV=production) is serving on $URL"
echo "  web instances: $WEB_PORTS (metrics: curl http://127.0.0.1:<port>/metrics), scheduler pid $(cat "$RUN_DIR/scheduler.pid")"
echo "  database $DATABASE_URL, redis $REDIS_URL; nginx logs and pid files in $RUN_DIR"
echo "  Ctrl-C stops everything"
echo ""

wait
