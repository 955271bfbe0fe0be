"""No lost intake: intakes through a 2-worker gunicorn on PostgreSQL while a worker is killed
with SIGKILL at a steady pace. Clients retry whatever got no answer (a dropped connection, a
5xx) with the same Idempotency-Key, as a well-behaved API client does. Every order a client
saw confirmed is in the database, and no intake made two orders."""

from __future__ import annotations

import http.client
import os
import signal
import threading
import time

import pytest
from sqlalchemy import select

from dispatch.models import IdempotencyKey, WorkOrder
from tests.conftest import PASSWORD
from tests.reliability.conftest import make_crew, order_body, report
from tests.reliability.stack import Api

pytestmark = pytest.mark.postgres

CLIENTS = 8
MAX_ATTEMPTS = 50


def run_intakes_under_kills(pg_url: str, web, n: int, kill_every_s: float, min_kills: int = 1) -> None:
    """`n` intakes (more if needed: the clients go on until `min_kills` workers were killed)."""
    crew = make_crew(pg_url, dispatchers=1)
    confirmed: dict[int, int] = {}  # intake → order id the client was told
    retries = {"dropped": 0, "server_error": 0}
    problems: list[str] = []
    lock = threading.Lock()
    done = threading.Event()
    kills: list[int] = []

    sent = [0]

    def take() -> int | None:
        with lock:
            if sent[0] >= n and (len(kills) >= min_kills or sent[0] >= 20 * n):
                return None
            sent[0] += 1
            return sent[0] - 1

    def client(k: int) -> None:
        api = Api(web.base_url, timeout=30)
        for attempt in range(MAX_ATTEMPTS):  # logging in may also hit a dying worker
            try:
                api.login(crew.dispatchers[0], PASSWORD)
                break
            except (OSError, http.client.HTTPException):
                time.sleep(0.05 * attempt)
        while (i := take()) is not None:
            for attempt in range(MAX_ATTEMPTS):
                try:
                    status, body = api.post("/api/orders", order_body(i), headers={"Idempotency-Key": f"intake-{i}"})
                except (OSError, http.client.HTTPException):
                    with lock:
                        retries["dropped"] += 1
                    time.sleep(min(1.0, 0.05 * (attempt + 1)))
                    continue
                if status >= 500:
                    with lock:
                        retries["server_error"] += 1
                    time.sleep(min(1.0, 0.05 * (attempt + 1)))
                    continue
                with lock:
                    if status in (200, 201):
                        confirmed[i] = body["id"]
                    else:
                        problems.append(f"intake {i}: {status} {body}")
                break
            else:
                with lock:
                    problems.append(f"intake {i}: no answer after {MAX_ATTEMPTS} attempts")
        api.close()

    def killer() -> None:
        # Kill a serving worker every `kill_every_s`, counted from when both serve again (a
        # replacement takes seconds to load the app; killing it while it boots proves nothing).
        while not done.wait(kill_every_s):
            try:
                web.wait_ready(timeout=120)
                if not done.is_set():
                    kills.append(web.kill_worker(signal.SIGKILL))
            except (RuntimeError, ProcessLookupError):
                pass  # it died meanwhile: try at the next beat

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    kill_thread = threading.Thread(target=killer)
    kill_thread.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    kill_thread.join()
    elapsed = time.monotonic() - started
    assert not problems, problems[:10]

    from core.db import Database

    database = Database(pg_url)
    try:
        with database.session_scope() as session:
            stored = dict(session.execute(select(WorkOrder.id, WorkOrder.description)).all())
            keys = dict(session.execute(select(IdempotencyKey.key, IdempotencyKey.order_id)).all())
    finally:
        database.dispose()
    lost = {i: oid for i, oid in confirmed.items() if oid not in stored or stored[oid] != f"order {i}"}
    assert not lost, f"{len(lost)} confirmed intakes missing, e.g. {list(lost.items())[:5]}"
    n = sent[0]
    assert len(confirmed) == n
    # No duplicates: one order per intake, each under its key.
    assert sorted(stored.values()) == sorted(f"order {i}" for i in range(n)), "an intake made two orders"
    assert keys == {f"intake-{i}": oid for i, oid in confirmed.items()}
    assert len(kills) >= min_kills, "the workers were not killed as planned"
    report(
        "lost_intake", intakes=n, orders=len(stored), worker_kills=len(kills), kill_every_s=kill_every_s,
        dropped_retried=retries["dropped"], server_errors_retried=retries["server_error"],
        seconds=round(elapsed, 1), intakes_per_s=round(n / elapsed, 1),
    )  # fmt: skip


def test_no_confirmed_intake_is_lost_while_workers_are_killed(pg_url, web_factory):
    run_intakes_under_kills(pg_url, web_factory(pg_url, workers=2), 200, kill_every_s=2, min_kills=3)


@pytest.mark.soak
def test_soak_ten_thousand_intakes_with_a_worker_killed_every_30_s(pg_url, web_factory):
    n = int(os.environ.get("SOAK_INTAKES", "10000"))  # smaller on a loaded machine
    run_intakes_under_kills(pg_url, web_factory(pg_url, workers=2), n, kill_every_s=30, min_kills=5)
