"""No duplicate intake: every intake sent twice at the same moment with the same
Idempotency-Key, through a 2-worker gunicorn on PostgreSQL, makes exactly one order; one
answer is 201, the other 200, and both name that order."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select

from dispatch.models import IdempotencyKey, WorkOrder
from tests.conftest import PASSWORD
from tests.reliability.conftest import client_thread, make_crew, order_body, report
from tests.reliability.stack import Api

pytestmark = pytest.mark.postgres

PAIRS = 8  # 16 client threads: 8 pairs, each pair sending the same request at once


def run_duplicate_intakes(pg_url: str, web, n: int) -> None:
    crew = make_crew(pg_url, dispatchers=1)
    answers: dict[int, list[tuple[int, int | None]]] = {i: [] for i in range(n)}
    problems: list[str] = []
    lock = threading.Lock()

    def sender(pair: int, side: int, barrier: threading.Barrier) -> None:
        with Api(web.base_url).login(crew.dispatchers[0], PASSWORD) as api:
            for i in range(pair, n, PAIRS):
                barrier.wait()
                status, body = api.post("/api/orders", order_body(i), headers={"Idempotency-Key": f"intake-{i}"})
                with lock:
                    answers[i].append((status, body.get("id") if isinstance(body, dict) else None))
                    if status not in (200, 201):
                        problems.append(f"intake {i}: {status} {body}")

    started = time.monotonic()
    threads = []
    for pair in range(PAIRS):
        barrier = threading.Barrier(2)
        threads += [client_thread(sender, problems, lock, barrier, pair, side, barrier) for side in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    assert not problems, problems[:10]

    for i, pair in answers.items():
        statuses, ids = sorted(s for s, _ in pair), {oid for _, oid in pair}
        assert statuses == [200, 201], (i, pair)
        assert len(ids) == 1 and None not in ids, (i, pair)

    from core.db import Database

    database = Database(pg_url)
    try:
        with database.session_scope() as session:
            orders = session.scalar(select(func.count()).select_from(WorkOrder))
            keys = session.scalar(select(func.count()).select_from(IdempotencyKey))
            answered = {pair[0][1] for pair in answers.values()}
            stored = set(session.scalars(select(WorkOrder.id)))
    finally:
        database.dispose()
    assert orders == n, f"{orders} orders for {n} intakes"
    assert keys == n
    assert stored == answered
    report(
        "duplicate_intake", intakes=n, requests=2 * n, orders=orders, seconds=round(elapsed, 1),
        requests_per_s=round(2 * n / elapsed),
    )  # fmt: skip


def test_intakes_sent_twice_at_once_make_one_order_each(pg_url, web_factory):
    run_duplicate_intakes(pg_url, web_factory(pg_url, workers=2), 250)


@pytest.mark.soak
def test_soak_ten_thousand_intakes_sent_twice_make_ten_thousand_orders(pg_url, web_factory):
    run_duplicate_intakes(pg_url, web_factory(pg_url, workers=2), 10_000)
