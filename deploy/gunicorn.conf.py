"""Gunicorn settings for one web instance: `gunicorn -c deploy/gunicorn.conf.py wsgi:app`.

Flask-SocketIO's deployment guide: gunicorn's own load balancer cannot keep a Socket.IO
client on one worker, so each gunicorn runs exactly ONE worker, and the app scales out by
running more gunicorn instances on other ports behind nginx (`ip_hash`, sticky), with Redis
(REDIS_URL) carrying events between them. In threading mode (simple-websocket) the worker
is `gthread`; every open WebSocket holds one thread, so `threads` bounds the connected boards
and phones per instance plus the requests in flight.

Everything comes from the environment so that systemd units, docker-compose and
deploy/run-local.sh share this one file:
  GUNICORN_BIND      address to listen on            (default 127.0.0.1:8001)
  GUNICORN_THREADS   threads of the single worker    (default 100)
  GUNICORN_TIMEOUT   seconds a silent worker lives   (default 60)
  PROMETHEUS_MULTIPROC_DIR  metrics folder for this instance (wiped at start)
"""

from __future__ import annotations

import os
import shutil

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8001")
workers = 1  # never more: see the docstring (sticky sessions are nginx's job)
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "100"))
# gthread keeps the worker's heartbeat on its main thread, so a long-lived WebSocket does not
# count as a silent worker; `timeout` only catches a worker that is truly stuck.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 20
keepalive = 5
# Gunicorn's control socket (`gunicornc`) defaults to one path per user, which several
# instances on one machine would fight over: off unless GUNICORN_CONTROL_SOCKET names one.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "")
control_socket_disable = not control_socket
# No max_requests: a recycled worker would drop every WebSocket it holds.
proc_name = os.environ.get("GUNICORN_PROC_NAME", f"dispatch-web-{bind.rsplit(':', 1)[-1]}")
# The app writes one JSON line per request itself (web/observability.py, with the request
# id and the user); gunicorn's access log would only repeat it.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": ["levelname", "name", "message"],
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": "time",
        }
    },
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
    # Gunicorn merges this over its defaults shallowly: the root logger must be named here.
    # The app installs its own JSON handler on root (web/observability.py).
    "root": {"level": "WARNING", "handlers": []},
    "loggers": {
        "gunicorn.error": {"handlers": ["stderr"], "level": loglevel.upper(), "propagate": False},
        "gunicorn.access": {"handlers": [], "propagate": False},
    },
}


def on_starting(server) -> None:
    """Start every instance with an empty metrics folder: files left by a previous run would
    be summed into the new one's figures."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder, exist_ok=True)


def child_exit(server, worker) -> None:
    """A dead worker's live gauges (connected Socket.IO clients) must stop counting."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
