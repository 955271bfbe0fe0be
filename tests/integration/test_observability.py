"""Health, readiness, request ids in responses and logs, and the Prometheus metrics."""

from __future__ import annotations

import io
import json
import logging
import os
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from core.db import utcnow
from tests.conftest import PASSWORD, skip_or_fail
from tests.integration.helpers import create_order

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} from an exposition text."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _scrape(client, **kwargs) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain")
    return _samples(response.get_data(as_text=True))


@pytest.fixture
def log_lines():
    """Every record logged while the test runs, as the production JSON handler writes it."""
    from web.observability import log_handler

    buffer = io.StringIO()
    handler = log_handler("json", buffer)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(old_level)


def test_liveness_answers_without_touching_the_database(app_config, tmp_path):
    from web import create_app

    app = create_app({**app_config, "DATABASE_URL": f"sqlite:///{tmp_path}/missing/dir/x.db"})
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readiness_checks_the_database(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"] == {"database": "ok"}


@pytest.mark.parametrize(
    "broken_url",
    ["postgresql://postgres@127.0.0.1:1/nowhere", "sqlite:///{tmp}/no/such/dir/x.db"],
    ids=["postgresql-refused", "sqlite-unopenable"],
)
def test_readiness_is_503_naming_the_database_when_it_is_unreachable(app_config, tmp_path, broken_url):
    from web import create_app

    app = create_app({**app_config, "DATABASE_URL": broken_url.format(tmp=tmp_path)})
    try:
        response = app.test_client().get("/readyz")
    finally:
        app.extensions["database"].dispose()
    assert response.status_code == 503
    body = response.get_json()
    assert body["failed"] == ["database"]
    assert body["detail"]["checks"]["database"].startswith("unreachable")
    assert "database" in body["message"]


def test_readiness_pings_redis_when_configured_and_names_it_when_it_is_down(app, client):
    # Set after create_app: an app created with REDIS_URL would leave Flask-SocketIO's
    # process-wide server options pointing at Redis for every later test.
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["failed"] == ["redis"]
    assert body["detail"]["checks"]["database"] == "ok"
    assert body["detail"]["checks"]["redis"].startswith("unreachable")

    app.config["REDIS_URL"] = REDIS_URL
    response = client.get("/readyz")
    if response.status_code == 503 and response.get_json()["failed"] == ["redis"]:
        skip_or_fail(f"Redis at {REDIS_URL} is unreachable")
    assert response.status_code == 200
    assert response.get_json()["checks"] == {"database": "ok", "redis": "ok"}


def test_a_sane_request_id_from_the_proxy_is_echoed_and_logged(client, log_lines):
    response = client.get("/healthz", headers={"X-Request-ID": "0f3c2a9be1d84c55a0e7c1d2b3a4f5e6"})
    assert response.headers["X-Request-ID"] == "0f3c2a9be1d84c55a0e7c1d2b3a4f5e6"
    access = [line for line in log_lines() if line["logger"] == "dispatch.access"]
    assert len(access) == 1
    line = access[0]
    assert line["request_id"] == "0f3c2a9be1d84c55a0e7c1d2b3a4f5e6"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/healthz", 200)
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["user_id"] is None
    assert line["level"] == "INFO" and "time" in line


@pytest.mark.parametrize("given", ["", "short", "bad id with spaces", "x" * 200, "evil\u2028line"])
def test_a_missing_or_insane_request_id_is_replaced_by_a_new_one(client, given):
    response = client.get("/healthz", headers={"X-Request-ID": given} if given else {})
    rid = response.headers["X-Request-ID"]
    assert rid != given and len(rid) == 32 and int(rid, 16) >= 0


def test_every_line_logged_in_a_request_carries_its_id_and_the_user(app, client, auth, network, log_lines):
    headers = auth.token("dispatcher")
    response = client.get("/api/orders", headers={**headers, "X-Request-ID": "req-0001-abcd"})
    assert response.status_code == 200
    mine = [line for line in log_lines() if line.get("request_id") == "req-0001-abcd"]
    assert [line["logger"] for line in mine] == ["dispatch.access"]
    assert mine[0]["user_id"] == network.dispatcher.id
    assert mine[0]["endpoint"] == "/api/orders"

    # A line the app logs itself during a request carries the id as well.
    with app.test_request_context("/", headers={"X-Request-ID": "req-0002-abcd"}):
        app.preprocess_request()
        app.logger.warning("something worth a look")
    [line] = [line for line in log_lines() if line["message"] == "something worth a look"]
    assert line["request_id"] == "req-0002-abcd" and line["level"] == "WARNING"


def test_metrics_count_requests_by_endpoint_and_status_and_time_them(client):
    before = _scrape(client)
    for _ in range(3):
        client.get("/healthz")
    client.get("/no/such/page")
    client.open("/healthz", method="BREW")  # made-up methods share one label value
    after = _scrape(client)

    def delta(name, **labels):
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0) - before.get(key, 0)

    assert delta("dispatch_http_requests_total", method="GET", endpoint="/healthz", status="200") == 3
    assert delta("dispatch_http_requests_total", method="GET", endpoint="<unmatched>", status="404") == 1
    assert delta("dispatch_http_requests_total", method="other", endpoint="<unmatched>", status="405") == 1
    assert delta("dispatch_http_request_duration_seconds_count", endpoint="/healthz") == 3
    assert delta("dispatch_http_request_duration_seconds_bucket", endpoint="/healthz", le="+Inf") == 3
    assert ("dispatch_socketio_clients", ()) in after


def test_metrics_report_open_orders_and_sla_breaches_from_the_database(client, auth, network, db_session):
    from dispatch.models import SlaClock

    headers = auth.token("dispatcher")
    first = create_order(client, headers)
    create_order(client, headers, phone="13900139000")
    act = client.post(
        f"/api/orders/{first['id']}/transitions",
        json={"action": "assign", "version": first["version"], "technician_id": network.techs[0].id},
        headers=headers,
    )
    assert act.status_code == 200, act.get_json()
    # One completion clock already breached (as the sweep would have marked it).
    clock = db_session.get(SlaClock, (first["id"], "completion"))
    assert clock is not None
    clock.breached_at = utcnow() - timedelta(minutes=5)
    db_session.commit()

    samples = _scrape(client)
    assert samples[("dispatch_open_orders", (("status", "new"),))] == 1
    assert samples[("dispatch_open_orders", (("status", "assigned"),))] == 1
    assert samples[("dispatch_open_orders", (("status", "on_site"),))] == 0
    assert samples[("dispatch_sla_breaches_total", (("clock", "completion"),))] == 1
    assert samples[("dispatch_sla_breached_running", (("clock", "completion"),))] == 1


def test_socketio_clients_are_counted_while_connected(app, client, auth, network):
    from web.extensions import socketio

    key = ("dispatch_socketio_clients", ())
    start = _scrape(client)[key]
    auth.login("dispatcher")
    sockets = [socketio.test_client(app, flask_test_client=client) for _ in range(2)]
    assert all(s.is_connected() for s in sockets)
    assert _scrape(client)[key] == start + 2
    sockets[0].disconnect()
    assert _scrape(client)[key] == start + 1
    refused = socketio.test_client(app)  # anonymous: refused, never counted
    assert not refused.is_connected()
    assert _scrape(client)[key] == start + 1
    sockets[1].disconnect()
    assert _scrape(client)[key] == start


def test_metrics_are_refused_from_another_machine_without_the_token(app_config):
    from web import create_app

    app = create_app({**app_config, "METRICS_TOKEN": "s3cret-metrics-token"})
    client = app.test_client()
    outside = {"REMOTE_ADDR": "203.0.113.7"}
    try:
        refused = client.get("/metrics", environ_base=outside)
        assert refused.status_code == 403
        assert "metrics token" in refused.get_json()["message"]
        wrong = client.get("/metrics", environ_base=outside, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 403
        # Relayed by a proxy on this machine: still outside.
        relayed = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"})
        assert relayed.status_code == 403
        allowed = client.get("/metrics", environ_base=outside, headers={"Authorization": "Bearer s3cret-metrics-token"})
        assert allowed.status_code == 200
        assert client.get("/metrics").status_code == 200  # loopback, no proxy
    finally:
        app.extensions["database"].dispose()


def test_without_a_configured_token_no_bearer_opens_metrics_from_outside(client):
    response = client.get(
        "/metrics", environ_base={"REMOTE_ADDR": "198.51.100.2"}, headers={"Authorization": "Bearer "}
    )
    assert response.status_code == 403


def test_a_request_stopped_by_the_rate_limiter_still_gets_an_id_a_log_line_and_a_count(app_config, network, log_lines):
    from web import create_app

    app = create_app({**app_config, "LOGIN_LIMIT": "1 per minute"})
    client = app.test_client()
    try:
        before = _scrape(client)
        wrong = {"username": "dispatcher", "password": "not-the-password"}
        assert client.post("/api/auth/login", json=wrong).status_code == 401
        limited = client.post("/api/auth/login", json=wrong, headers={"X-Request-ID": "limited-0001"})
        assert limited.status_code == 429
        assert limited.headers["X-Request-ID"] == "limited-0001"
        key = ("dispatch_http_requests_total", (("endpoint", "/api/auth/login"), ("method", "POST"), ("status", "429")))
        assert _scrape(client)[key] - before.get(key, 0) == 1
        lines = {line["logger"]: line for line in log_lines() if line.get("request_id") == "limited-0001"}
        assert set(lines) == {"flask-limiter", "dispatch.access"}  # the limiter's own line too
        assert lines["dispatch.access"]["status"] == 429
    finally:
        app.extensions["database"].dispose()


def test_the_access_log_names_the_user_without_asking_the_database(app_config, network, log_lines):
    """A view that rolled back (which expires the logged-in user, as intake does before it
    geocodes) and then lost the database still answers what it answered, and its log line
    names the user: the line is written from the user's key, not by reloading the user (a
    PostgreSQL restart once turned such finished requests into 500s)."""
    from flask_login import current_user
    from sqlalchemy import event

    from tests.integration.helpers import database_gone
    from web import create_app
    from web.extensions import db

    app = create_app(app_config)

    @app.post("/api/test-rollback-then-lose-the-database")
    def rollback_then_lose_the_database():
        assert current_user.is_authenticated  # loaded, as every API view's role check does
        db.session.rollback()  # every instance in the session is expired, the user too
        event.listen(db.engine, "before_cursor_execute", database_gone)
        return {"done": True}

    client = app.test_client()
    login = client.post("/api/auth/login", json={"username": "dispatcher", "password": PASSWORD})
    headers = {"Authorization": f"Bearer {login.get_json()['token']}", "X-Request-ID": "req-rollback-0001"}
    response = client.post("/api/test-rollback-then-lose-the-database", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    [line] = [line for line in log_lines() if line.get("request_id") == "req-rollback-0001"]
    assert line["status"] == 200 and line["user_id"] == network.dispatcher.id
