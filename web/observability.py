"""Operations: liveness and readiness, request ids, JSON logs and Prometheus metrics.

`register(app)` adds
- `GET /healthz`: the process answers (no database, no Redis);
- `GET /readyz`: the database answers `SELECT 1` and Redis (when configured) answers PING,
  else 503 naming the dependency that failed;
- a request id per request: the proxy's `X-Request-ID` when it looks sane, otherwise a new
  one; echoed in the response and present in every log line written during the request;
- one JSON log line per request (method, path, status, duration_ms, request_id, user_id);
- `GET /metrics` in Prometheus' text format, from loopback or with `METRICS_TOKEN`.

Metrics live in prometheus-client's default registry. Under gunicorn, `PROMETHEUS_MULTIPROC_DIR`
switches prometheus-client to its multiprocess mode (values in files that outlive a worker
restart; deploy/gunicorn.conf.py wipes the folder at start and marks dead workers). Figures
that are facts of the database (open orders, SLA breaches) are counted at scrape time, so every
instance reports the same numbers whichever one is scraped.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import re
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from flask import Flask, Response, g, has_request_context, jsonify, request
from flask_babel import gettext as _
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from pythonjsonlogger.json import JsonFormatter
from sqlalchemy import func, select, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from dispatch.lifecycle import OPEN
from dispatch.models import SlaClock, WorkOrder
from web.errors import error_body
from web.extensions import db, limiter

ACCESS_LOG = logging.getLogger("dispatch.access")
# What a proxy may hand us as a request id: nginx's $request_id (32 hex), a UUID, or any
# short token of safe characters. Anything else (log injection, megabyte headers) is replaced.
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
_UNMATCHED = "<unmatched>"
# Label values must stay few: a made-up method is counted as "other".
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

HTTP_REQUESTS = Counter(
    "dispatch_http_requests",
    "HTTP requests answered, by method, endpoint (the route's rule) and status.",
    ["method", "endpoint", "status"],
)
HTTP_LATENCY = Histogram(
    "dispatch_http_request_duration_seconds",
    "Time from the request's arrival in Flask to its response, by endpoint.",
    ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
SOCKETIO_CLIENTS = Gauge(
    "dispatch_socketio_clients",
    "Socket.IO clients connected to this instance's live workers.",
    multiprocess_mode="livesum",
)


# ---------------------------------------------------------------- figures from the database


def open_orders_by_status(session: Session) -> dict[str, int]:
    """Open work orders per status (every open status present, zero included)."""
    rows = session.execute(
        select(WorkOrder.status, func.count())
        .where(WorkOrder.status.in_([s.value for s in OPEN]))
        .group_by(WorkOrder.status)
    ).all()
    counts = {s.value: 0 for s in sorted(OPEN)}
    counts.update({status: n for status, n in rows})
    return counts


def sla_breaches_by_clock(session: Session) -> tuple[dict[str, int], dict[str, int]]:
    """(every breach ever recorded, breaches of clocks still running) per clock kind."""
    rows = session.execute(
        select(
            SlaClock.clock,
            func.count(),
            func.count().filter(SlaClock.stopped_at.is_(None)),
        )
        .where(SlaClock.breached_at.is_not(None))
        .group_by(SlaClock.clock)
    ).all()
    return {clock: total for clock, total, _ in rows}, {clock: running for clock, _, running in rows}


class DatabaseFigures:
    """A collector that asks the database at scrape time (a few indexed counts)."""

    def __init__(self, database: Any) -> None:
        self.database = database

    def collect(self) -> Iterator[Metric]:
        with self.database.session_scope() as session:
            open_orders = open_orders_by_status(session)
            breaches, running = sla_breaches_by_clock(session)
        gauge = GaugeMetricFamily("dispatch_open_orders", "Open work orders by status.", labels=["status"])
        for status, n in open_orders.items():
            gauge.add_metric([status], n)
        yield gauge
        total = CounterMetricFamily(
            "dispatch_sla_breaches", "SLA clocks that ever passed their deadline, by clock.", labels=["clock"]
        )
        for clock, n in sorted(breaches.items()):
            total.add_metric([clock], n)
        yield total
        current = GaugeMetricFamily(
            "dispatch_sla_breached_running",
            "SLA clocks past their deadline and still running (the order is still late), by clock.",
            labels=["clock"],
        )
        for clock, n in sorted(running.items()):
            current.add_metric([clock], n)
        yield current


class _Collected:
    """Adapts a list of collectors to one registry entry."""

    def __init__(self, collectors: Iterable[Any]) -> None:
        self.collectors = list(collectors)

    def collect(self) -> Iterator[Metric]:
        for collector in self.collectors:
            yield from collector.collect()


def scrape(database: Any) -> bytes:
    """The exposition text: this process's (or all workers') metrics plus database figures."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_Collected([REGISTRY]))
    registry.register(DatabaseFigures(database))
    return generate_latest(registry)


# ---------------------------------------------------------------- Socket.IO hooks


def socket_connected() -> None:
    SOCKETIO_CLIENTS.inc()


def socket_disconnected() -> None:
    SOCKETIO_CLIENTS.dec()


# ---------------------------------------------------------------- logging


class RequestContextFilter(logging.Filter):
    """Puts the request id (and the user, once known) on every record logged in a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context():
            record.request_id = g.get("request_id")
        elif not hasattr(record, "request_id"):
            record.request_id = None
        return True


def log_handler(log_format: str = "json", stream: Any = None) -> logging.Handler:
    """A handler writing JSON lines (or, for a developer's terminal, plain text), with the
    request id on every record."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if log_format == "json":
        handler.setFormatter(
            JsonFormatter(
                ["levelname", "name", "message"],
                rename_fields={"levelname": "level", "name": "logger"},
                timestamp="time",  # ISO 8601, UTC
                json_ensure_ascii=False,
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    handler.addFilter(RequestContextFilter())
    return handler


def configure_logging(log_format: str = "json", level: str = "INFO") -> None:
    """Install `log_handler` on the root logger, once per process."""
    root = logging.getLogger()
    if any(getattr(h, "_dispatch_handler", False) for h in root.handlers):
        return
    handler = log_handler(log_format)
    handler._dispatch_handler = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)


# ---------------------------------------------------------------- request id, access log, metrics


def _request_id() -> str:
    given = request.headers.get("X-Request-ID", "")
    return given if _SANE_REQUEST_ID.match(given) else uuid.uuid4().hex


def _user_id() -> int | None:
    """The logged-in user's id, from the key Flask-Login's user (kept in g) was loaded by:
    never a query, even when a rollback in the view expired the instance and the database has
    gone away since (reading `user.id` would then reload it, and the access log line turn a
    finished request into a 500)."""
    user = g.get("_login_user")
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    state = sa_inspect(user, raiseerr=False)
    if state is not None:
        return state.identity[0] if state.identity else None
    return getattr(user, "id", None)


def _from_loopback() -> bool:
    """A direct connection from this machine: a request relayed by a proxy (X-Forwarded-For)
    counts as coming from outside even when the proxy itself runs here."""
    if request.headers.get("X-Forwarded-For"):
        return False
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


def _has_metrics_token(token: str | None) -> bool:
    if not token:
        return False
    given = request.headers.get("Authorization", "")
    scheme, _sep, value = given.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode())


def register(app: Flask) -> None:
    """Health, readiness, request ids, access log and metrics for `app`."""
    if not app.testing:  # pytest captures logs itself; tests attach `log_handler` to a buffer
        configure_logging(app.config.get("LOG_FORMAT", "json"), app.config.get("LOG_LEVEL", "INFO"))

    def _start() -> None:
        g.request_id = _request_id()
        g.request_started = time.perf_counter()

    # First of all before-request hooks: a request another hook ends early (the rate
    # limiter's 429, CSRF's 400) is still timed, counted and logged with its id.
    app.before_request_funcs.setdefault(None, []).insert(0, _start)

    @app.after_request
    def _finish(response: Response) -> Response:
        if "request_id" not in g:  # a request that never reached the hooks (routing-level failure)
            _start()
        request_id = g.request_id
        response.headers["X-Request-ID"] = request_id
        duration = time.perf_counter() - g.request_started
        endpoint = request.url_rule.rule if request.url_rule is not None else _UNMATCHED
        method = request.method if request.method in _METHODS else "other"
        HTTP_REQUESTS.labels(method, endpoint, str(response.status_code)).inc()
        HTTP_LATENCY.labels(endpoint).observe(duration)
        ACCESS_LOG.info(
            "%s %s %s %.1f ms",
            request.method,
            request.path,
            response.status_code,
            duration * 1000,
            extra={
                "method": request.method,
                "path": request.path,
                "endpoint": endpoint,
                "status": response.status_code,
                "duration_ms": round(duration * 1000, 2),
                "user_id": _user_id(),
                "remote_addr": request.remote_addr,
            },
        )
        return response

    @app.get("/healthz")
    @app.doc(hide=True)
    @limiter.exempt
    def healthz():
        """Liveness: the process answers; touches nothing else."""
        return jsonify(status="ok")

    @app.get("/readyz")
    @app.doc(hide=True)
    @limiter.exempt
    def readyz():
        """Readiness: the database and Redis (when configured) answer."""
        checks: dict[str, str] = {}
        try:
            with db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
            app.logger.warning("readiness: database check failed: %s", exc)
            checks["database"] = _("unreachable (%(error)s)", error=type(exc).__name__)
        redis_url = app.config.get("REDIS_URL")
        if redis_url:
            try:
                import redis

                client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
                try:
                    client.ping()
                finally:
                    client.close()
                checks["redis"] = "ok"
            except Exception as exc:  # noqa: BLE001
                app.logger.warning("readiness: redis check failed: %s", exc)
                checks["redis"] = _("unreachable (%(error)s)", error=type(exc).__name__)
        failed = sorted(name for name, state in checks.items() if state != "ok")
        if failed:
            message = _("not ready: %(failed)s", failed=", ".join(failed))
            return jsonify(error_body(503, message, {"checks": checks}, failed=failed)), 503
        return jsonify(status="ready", checks=checks)

    @app.get("/metrics")
    @app.doc(hide=True)
    @limiter.exempt
    def metrics():
        """Prometheus metrics: from loopback, or with `Authorization: Bearer <METRICS_TOKEN>`."""
        if not (_from_loopback() or _has_metrics_token(app.config.get("METRICS_TOKEN"))):
            message = _("metrics are served to this machine, or with the metrics token (Authorization: Bearer)")
            return jsonify(error_body(403, message)), 403
        return Response(scrape(db), content_type=CONTENT_TYPE_LATEST)
