"""No lost update: stale-edit races over HTTP against a 2-worker gunicorn on PostgreSQL.

For each order, four dispatchers read it at the same version and send an assignment to a
different technician at the same moment. Exactly one wins; every loser gets 409 with the
current version, reloads and tries again until it wins too. At the end every write that was
answered 200 is in the event trail, in the order of the versions it was given, and the order
holds the last one: nothing was lost and nothing was written twice.
"""

from __future__ import annotations

import threading
import time

import pytest

from dispatch.models import WorkOrder, WorkOrderEvent
from tests.conftest import PASSWORD
from tests.reliability.conftest import create_orders, make_crew, report
from tests.reliability.stack import Api

pytestmark = pytest.mark.postgres

RACERS = 4


def test_every_stale_edit_loser_gets_409_and_no_write_is_lost(pg_url, web_factory):
    races = 100
    crew = make_crew(pg_url, dispatchers=RACERS, technicians=RACERS)
    web = web_factory(pg_url, workers=2)
    orders = create_orders(web.base_url, crew.dispatchers[0], races)
    clients = [Api(web.base_url).login(name, PASSWORD) for name in crew.dispatchers]

    barrier = threading.Barrier(RACERS)
    first_try: dict[int, list[int]] = {o["id"]: [] for o in orders}  # statuses of the simultaneous first attempts
    wins: dict[int, dict[int, int]] = {o["id"]: {} for o in orders}  # order → version it got → technician
    problems: list[str] = []
    lock = threading.Lock()

    def racer(k: int) -> None:
        api, tech = clients[k], crew.technician_ids[k]
        for order in orders:
            version, first = order["version"], True
            barrier.wait()  # everyone holds the same, soon stale, version 1
            for _attempt in range(RACERS + 1):
                status, body = api.post(
                    f"/api/orders/{order['id']}/transitions",
                    {"action": "assign", "version": version, "technician_id": tech},
                )
                with lock:
                    if first:
                        first_try[order["id"]].append(status)
                    if status == 200:
                        if body["version"] in wins[order["id"]]:
                            problems.append(f"order {order['id']}: version {body['version']} granted twice")
                        wins[order["id"]][body["version"]] = tech
                first = False
                if status == 200:
                    break
                if status != 409 or not isinstance(body.get("current_version"), int):
                    with lock:
                        problems.append(f"order {order['id']}: {status} {body}")
                    break
                if body["current_version"] <= version:
                    with lock:
                        problems.append(
                            f"order {order['id']}: 409 names version {body['current_version']} <= {version}"
                        )
                version = body["current_version"]
            else:
                with lock:
                    problems.append(f"order {order['id']}: technician {tech} never won")

    started = time.monotonic()
    threads = [threading.Thread(target=racer, args=(k,)) for k in range(RACERS)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
    finally:
        for api in clients:
            api.close()
    elapsed = time.monotonic() - started
    assert not problems, problems[:10]

    losers = sum(statuses.count(409) for statuses in first_try.values())
    for order_id, statuses in first_try.items():
        assert sorted(statuses) == [200] + [409] * (RACERS - 1), (order_id, statuses)

    from core.db import Database

    database = Database(pg_url)
    try:
        with database.session_scope() as session:
            rows = {o.id: o for o in session.query(WorkOrder).filter(WorkOrder.id.in_(list(wins)))}
            trail: dict[int, list[WorkOrderEvent]] = {}
            for event in session.query(WorkOrderEvent).order_by(WorkOrderEvent.seq):
                trail.setdefault(event.order_id, []).append(event)
            for order_id, granted in wins.items():
                row = rows[order_id]
                assert sorted(granted) == list(range(2, 2 + RACERS)), (order_id, granted)
                assert row.version == 1 + RACERS
                assigns = [e for e in trail[order_id] if e.kind == "assign"]
                # The trail holds every granted write, in version order: none lost, none doubled.
                assert [e.data["technician_id"] for e in assigns] == [granted[v] for v in sorted(granted)]
                assert len(trail[order_id]) == row.version  # created + one event per write
                assert row.technician_id == granted[row.version]
    finally:
        database.dispose()
    report(
        "lost_update", races=races, racers=RACERS, first_try_losers_409=losers,
        writes=races * RACERS, seconds=round(elapsed, 1),
    )  # fmt: skip
