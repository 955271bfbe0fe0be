"""The production process model, started the way an operator starts it (`deploy/run-local.sh`,
which `make prod` runs): two gunicorn instances with deploy/gunicorn.conf.py, one scheduler and
nginx with deploy/nginx.conf, on PostgreSQL (TEST_DATABASE_URL) and a private Redis.

Checked through nginx: readiness; a Socket.IO client (upgraded to WebSocket) hears about an
order created on the *other* instance (found from each instance's own metrics); one instance
killed outright and nginx still serves, the socket reconnects and hears on.

Process launching is the operator's script itself; tests/reliability/stack.py (another
suite's helpers) supplies the child-process wrapper, free ports, the private Redis and the
HTTP client, so nothing here duplicates them.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import socketio
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from tests.conftest import PASSWORD, Network, _truncate_postgres, skip_or_fail
from tests.integration.helpers import order_body
from tests.reliability.stack import ROOT, Api, Proc, children_of, free_port, private_redis

NGINX = os.environ.get("NGINX", "/usr/sbin/nginx")
READY_TIMEOUT_S = 60.0


@dataclass
class Stack:
    proc: Proc
    run_dir: Path
    url: str
    web_ports: list[int]
    database_url: str
    token: str = ""
    events: list[dict] = field(default_factory=list)

    def direct(self, port: int) -> str:
        return f"http://127.0.0.1:{port}"

    def socket_clients(self, port: int) -> float:
        """`dispatch_socketio_clients` as the instance on `port` reports it."""
        import urllib.request

        with urllib.request.urlopen(f"{self.direct(port)}/metrics", timeout=5) as response:
            body = response.read().decode()
        for family in text_string_to_metric_families(body):
            for sample in family.samples:
                if sample.name == "dispatch_socketio_clients":
                    return sample.value
        raise AssertionError(f"no dispatch_socketio_clients on port {port}")

    def web_pids(self, port: int) -> list[int]:
        master = int((self.run_dir / f"web-{port}.pid").read_text().strip())
        return [master, *children_of(master)]


def _wait(predicate, timeout: float, what: str, stack: Stack | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    tail = f"\n--- run-local.sh output ---\n{stack.proc.log_tail(60)}" if stack else ""
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{tail}")


def _ready(url: str) -> bool:
    with Api(url, timeout=3) as api:
        try:
            status, _ = api.get("/readyz")
        except OSError:
            return False
    return status == 200


@pytest.fixture(scope="module")
def stack(postgres_url, tmp_path_factory) -> Iterator[Stack]:
    for tool in (NGINX, "envsubst"):
        if shutil.which(tool) is None:
            skip_or_fail(f"{tool} is not installed (Debian: nginx-light, gettext-base)")
    _truncate_postgres(postgres_url)
    from core.db import Database
    from technicians.models import Skill

    database = Database(postgres_url)
    try:
        with database.session_scope() as session:
            session.add_all(
                Skill(code=code, name_en=code, name_zh=code)
                for code in ("water_heater", "air_conditioner", "washing_machine")
            )
            session.commit()
            Network(session)
    finally:
        database.dispose()

    with private_redis() as redis:
        run_dir = tmp_path_factory.mktemp("prod")
        ports = [free_port(), free_port()]
        listen = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": postgres_url,
            "REDIS_URL": redis.url,
            "WEB_PORTS": " ".join(map(str, ports)),
            "LISTEN": str(listen),
            "RUN_DIR": str(run_dir),
            "SECRET_KEY": "prod-stack-test-secret",
            "GEOCODER_PROVIDER": "none",
            "AUTO_ASSIGN_ON_INTAKE": "0",
            "SCHEDULER_INTERVAL_S": "2",
            "GUNICORN_THREADS": "16",
            "LOGIN_LIMIT": "100 per minute",
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("RATELIMIT_STORAGE_URI", None)
        proc = Proc(["bash", str(ROOT / "deploy" / "run-local.sh")], env, run_dir / "run-local.log")
        stack = Stack(proc, run_dir, f"http://127.0.0.1:{listen}", ports, postgres_url)
        started: list[int] = []
        try:
            _wait(lambda: "is serving on" in proc.log_tail(200) or not proc.alive, READY_TIMEOUT_S, "the stack", stack)
            assert proc.alive, f"run-local.sh exited:\n{proc.log_tail(60)}"
            started = [int(f.read_text()) for f in run_dir.glob("*.pid") if f.read_text().strip().isdigit()]
            with Api(stack.url) as api:
                stack.token = api.login("dispatcher", PASSWORD).token
            yield stack
        finally:
            proc.stop(timeout=30)
        # Ctrl-C (here SIGTERM) stops everything the script started.
        assert [pid for pid in started if _alive(pid)] == [], proc.log_tail(30)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture(scope="module")
def board(stack) -> Iterator[socketio.Client]:
    """A dispatcher's Socket.IO client connected through nginx, collecting order events."""
    client = socketio.Client(reconnection_delay=0.2, reconnection_delay_max=1)
    client.on("order_event", lambda payload: stack.events.append(payload))
    client.connect(stack.url, headers={"Authorization": f"Bearer {stack.token}"}, wait_timeout=10)
    yield client
    client.disconnect()


def _created_ids(stack: Stack) -> set[int]:
    return {e["order"]["id"] for e in list(stack.events) if e["event"]["kind"] == "created"}


def _create_order(stack: Stack, base_url: str) -> int:
    with Api(base_url, token=stack.token) as api:
        phone = "139" + str(uuid.uuid4().int)[:8]
        status, body = api.post("/api/orders", order_body(phone=phone))
    assert status == 201, body
    return body["id"]


def test_readiness_through_nginx_checks_the_database_and_redis(stack):
    with Api(stack.url) as api:
        status, body = api.get("/readyz")
        assert (status, body["checks"]) == (200, {"database": "ok", "redis": "ok"})
        status, _ = api.get("/healthz")
        assert status == 200
        # The public entrance does not serve metrics; each instance does, to loopback.
        status, _ = api.get("/metrics")
        assert status == 404


def test_the_scheduler_runs_and_holds_the_lease(stack):
    pid = int((stack.run_dir / "scheduler.pid").read_text())
    assert Path(f"/proc/{pid}").exists()
    from core.db import make_engine

    engine = make_engine(stack.database_url)
    try:
        _wait(
            lambda: _advisory_locks(engine) >= 1, 15, "the scheduler's advisory lock", stack
        )  # its lease on PostgreSQL
    finally:
        engine.dispose()


def _advisory_locks(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")).scalar_one()


def test_a_socket_on_one_instance_hears_an_order_created_on_the_other(stack, board):
    _wait(lambda: board.transport() == "websocket", 10, "the upgrade to WebSocket through nginx", stack)
    counts = {port: stack.socket_clients(port) for port in stack.web_ports}
    assert sorted(counts.values()) == [0, 1], counts  # nginx pinned the socket to one instance
    holder = next(port for port, n in counts.items() if n == 1)
    other = next(port for port in stack.web_ports if port != holder)

    order_id = _create_order(stack, stack.direct(other))  # straight to the instance without the socket
    _wait(lambda: order_id in _created_ids(stack), 10, f"the event of order {order_id} via Redis", stack)
    local_id = _create_order(stack, stack.direct(holder))
    _wait(lambda: local_id in _created_ids(stack), 10, f"the event of order {local_id}", stack)


def test_a_socket_on_one_instance_loses_what_its_user_lost_through_the_other(stack):
    """Rights changed through one instance reach a socket held by the other within a few seconds
    (web/realtime.py RightsWatch): a new outlet moves it to that outlet's events, a password
    change closes it."""
    with Api(stack.url) as api:
        admin_token = api.login("admin", PASSWORD).token
        status, users = api.get("/api/users?per_page=100")
    with Api(stack.url) as api:
        south_token = api.login("south_dispatcher", PASSWORD).token
    assert status == 200, users
    user = next(u for u in users["items"] if u["username"] == "south_dispatcher")
    user_id, north_id = user["id"], next(o for o in _outlet_ids(stack) if o != user["outlet_id"])
    holder, other = stack.web_ports
    heard: list[int] = []
    drops: list[float] = []
    moved: list[float] = []
    client = socketio.Client(reconnection_delay=0.2, reconnection_delay_max=1)
    client.on("order_event", lambda payload: heard.append(payload["order"]["id"]))
    client.on("disconnect", lambda *_: drops.append(time.monotonic()))
    client.on("rights_changed", lambda *_: moved.append(time.monotonic()))
    client.connect(stack.direct(holder), headers={"Authorization": f"Bearer {south_token}"}, wait_timeout=10)

    def create(lat: float, lon: float) -> int:
        with Api(stack.direct(other), token=stack.token) as api:
            body = order_body(phone="139" + str(uuid.uuid4().int)[:8], lat=lat, lon=lon)
            status, order = api.post("/api/orders", body)
        assert status == 201, order
        return order["id"]

    def change(values: dict) -> None:
        with Api(stack.direct(other), token=admin_token) as api:
            status, body = api.request("PATCH", f"/api/users/{user_id}", values)
        assert status == 200, body

    try:
        south = create(34.19, 108.95)
        _wait(lambda: south in heard, 10, "the south order's event via Redis", stack)

        change({"outlet_id": north_id})
        _wait(lambda: moved, 10, "the socket to be moved to the new outlet", stack)
        south_again, north = create(34.19, 108.95), create(34.34, 108.94)
        _wait(lambda: north in heard, 10, "the new outlet's event", stack)
        assert south_again not in heard, "the socket still hears the outlet its user lost"

        change({"password": "another-pass-2026"})  # revokes the token the socket was opened with
        _wait(lambda: drops, 10, "the socket of the revoked token to be closed", stack)
        late = create(34.34, 108.94)
        time.sleep(1)
        assert not client.connected and late not in heard
    finally:
        client.disconnect()


def _outlet_ids(stack: Stack) -> list[int]:
    with Api(stack.url, token=stack.token) as api:
        status, body = api.get("/api/outlets")
    assert status == 200, body
    return [o["id"] for o in (body["items"] if isinstance(body, dict) else body)]


def test_nginx_keeps_serving_when_an_instance_dies_and_the_socket_moves_over(stack, board):
    holder = next(port for port in stack.web_ports if stack.socket_clients(port) == 1)
    survivor = next(port for port in stack.web_ports if port != holder)
    for pid in stack.web_pids(holder):  # a crash: no graceful shutdown
        os.kill(pid, signal.SIGKILL)

    for _ in range(6):
        with Api(stack.url) as api:
            status, body = api.get("/readyz")
        assert status == 200, body

    _wait(lambda: board.connected and stack.socket_clients(survivor) == 1, 15, "the socket to reconnect", stack)
    order_id = _create_order(stack, stack.url)  # through nginx: only the survivor can take it
    _wait(lambda: order_id in _created_ids(stack), 10, f"the event of order {order_id} after failover", stack)
