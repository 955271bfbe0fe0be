"""No order assigned twice and no technician double-booked, under real concurrency.

Eight dispatchers (each logged in on its own, over HTTP against a 2-worker gunicorn on
PostgreSQL) and the optimiser work on the same orders round after round. Each round the
optimiser proposes a plan; then every dispatcher reads the order list once and fires
assignments, re-assignments, un-assignments and priority changes at its share of the orders (about two
dispatchers per order) from that now stale read, while the optimiser applies its plan.

Afterwards, for every order:
- the event trail is one unbroken chain: each event starts from the status and technician the
  previous one left, and there is exactly one event per version (no two writes won the same
  version);
- the trail ends at the technician and status the order holds;
- every write the clients were told succeeded is in the trail, and nothing else is;
and for every technician, the planned stops of the orders they hold never share a slot and
never overlap in time.
"""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict
from datetime import timedelta

import pytest
from sqlalchemy import select

from dispatch.models import RouteStop, WorkOrder, WorkOrderEvent
from dispatch.planning import DEFAULT_SERVICE_MINUTES
from tests.conftest import PASSWORD
from tests.reliability.conftest import client_thread, create_orders, make_crew, morning_timezone, report
from tests.reliability.stack import Api

pytestmark = pytest.mark.postgres

DISPATCHERS = 8
OPEN_FOR_PLANS = ("new", "assigned")


def read_all_orders(api: Api) -> list[dict]:
    orders, page = [], 1
    while True:
        status, body = api.get(f"/api/orders?per_page=200&page={page}")
        assert status == 200, body
        orders += body["items"]
        if page >= body["meta"]["pages"]:
            return orders
        page += 1


def run_assignment_races(pg_url: str, web_factory, n_orders: int, rounds: int, technicians: int, solve_s: float):
    crew = make_crew(pg_url, dispatchers=DISPATCHERS, technicians=technicians)
    web = web_factory(pg_url, workers=2, env={"APP_TIMEZONE": morning_timezone()})
    create_orders(web.base_url, crew.dispatchers[0], n_orders)
    clients = [Api(web.base_url, timeout=120).login(name, PASSWORD) for name in crew.dispatchers]
    planner = Api(web.base_url, timeout=300).login(crew.dispatchers[0], PASSWORD)
    rng = random.Random(2026)
    tally = defaultdict(int)
    problems: list[str] = []
    lock = threading.Lock()
    started = time.monotonic()

    try:
        for round_no in range(rounds):
            status, proposal = planner.post("/api/plans", {"time_limit_s": solve_s})
            assert status == 201, proposal
            tally["plan_moves"] += len(proposal["diff"]["moves"])
            go = threading.Barrier(DISPATCHERS + 1)
            seeds = [rng.random() for _ in range(DISPATCHERS)]

            def dispatcher(k: int, seed: float, go: threading.Barrier) -> None:
                api, my_rng = clients[k], random.Random(seed)
                snapshot = [o for o in read_all_orders(api) if o["status"] in OPEN_FOR_PLANS]
                mine = [o for o in snapshot if my_rng.random() < 2 / DISPATCHERS]
                go.wait()
                for order in mine:
                    current = order["technician"]["id"] if order["technician"] else None
                    path, dice = f"/api/orders/{order['id']}/transitions", my_rng.random()
                    if dice < 0.2:  # a change that leaves the technician as it is
                        path = f"/api/orders/{order['id']}/priority"
                        body = {"priority": my_rng.choice(["normal", "urgent", "vip"]), "version": order["version"]}
                    elif current is not None and dice < 0.5:
                        body = {"action": "unassign", "version": order["version"]}
                    else:
                        choices = [t for t in crew.technician_ids if t != current]
                        body = {
                            "action": "assign",
                            "version": order["version"],
                            "technician_id": my_rng.choice(choices),
                        }
                    status, answer = api.post(path, body)
                    for _retry in range(3):
                        # A deadlock victim (two transactions locking the same rows in
                        # opposite order) is rolled back and answered 503 + Retry-After with
                        # nothing written; a real client tries again, so does this one.
                        if status != 503:
                            break
                        with lock:
                            tally["retried_503"] += 1
                        time.sleep(0.05)
                        status, answer = api.post(path, body)
                    with lock:
                        if status == 200:
                            tally["won"] += 1
                        elif status == 409 and "current_version" in answer:
                            tally["stale_409"] += 1
                        else:
                            problems.append(f"order {order['id']} {body}: {status} {answer}")

            def optimiser(proposal_id: int, delay: float, go: threading.Barrier) -> None:
                go.wait()
                time.sleep(delay)
                status, answer = planner.post(f"/api/plans/{proposal_id}/apply", {})
                with lock:
                    if status == 200:
                        tally["plan_applied"] += len(answer["applied"])
                        tally["plan_skipped"] += len(answer["skipped"])
                    elif status == 409:
                        tally["plan_409"] += 1
                    else:
                        problems.append(f"apply plan {proposal_id}: {status} {answer}")

            threads = [client_thread(dispatcher, problems, lock, go, k, seeds[k], go) for k in range(DISPATCHERS)]
            threads.append(client_thread(optimiser, problems, lock, go, proposal["id"], rng.uniform(0, 0.5), go))
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert not problems, (round_no, problems[:10])
    finally:
        for api in [*clients, planner]:
            api.close()
    elapsed = time.monotonic() - started

    from core.db import Database

    database = Database(pg_url)
    try:
        with database.session_scope() as session:
            orders = {o.id: o for o in session.scalars(select(WorkOrder))}
            trail: dict[int, list[WorkOrderEvent]] = defaultdict(list)
            for event in session.scalars(select(WorkOrderEvent).order_by(WorkOrderEvent.seq)):
                trail[event.order_id].append(event)
            stops = list(session.scalars(select(RouteStop)))
            writes = check_trails(orders, trail)
            check_no_double_booking(orders, stops)
    finally:
        database.dispose()
    assert writes == tally["won"] + tally["plan_applied"], (writes, dict(tally))
    assert tally["stale_409"] > 0, "the dispatchers never collided: the test did not race"
    assert tally["plan_applied"] > 0, "the optimiser never applied a move: the test did not race it"
    report(
        "assignment_races", orders=n_orders, rounds=rounds, dispatchers=DISPATCHERS, technicians=technicians,
        double_assignments=0, seconds=round(elapsed, 1), **tally,
    )  # fmt: skip


def check_trails(orders: dict[int, WorkOrder], trail: dict[int, list[WorkOrderEvent]]) -> int:
    """Walk every order's trail; return the number of writes after creation."""
    writes = 0
    for order_id, order in orders.items():
        events = trail[order_id]
        assert events[0].kind == "created"
        assert len(events) == order.version, f"order {order_id}: {len(events)} events for version {order.version}"
        status, tech = "new", None
        for event in events[1:]:
            assert event.from_status == status, (
                f"order {order_id} seq {event.seq}: from {event.from_status}, was {status}"
            )
            if event.kind == "assign":
                new = event.data["technician_id"]
                previous = event.data.get("previous_technician_id")
                assert (previous == tech) if previous is not None else (tech in (None, new)), (
                    f"order {order_id} seq {event.seq}: took over from {previous} but {tech} held it"
                )
                tech = new
            elif event.kind == "priority":
                assert event.to_status == status
            elif event.kind == "unassign":
                assert event.data["previous_technician_id"] == tech, f"order {order_id} seq {event.seq}"
                tech = None
            else:
                raise AssertionError(f"order {order_id}: unexpected {event.kind}")
            status = event.to_status
            writes += 1
        assert (order.status, order.technician_id) == (status, tech), f"order {order_id} differs from its trail"
    return writes


def check_no_double_booking(orders: dict[int, WorkOrder], stops: list[RouteStop]) -> None:
    """The stops a technician is planned to make for the orders they hold: distinct slots,
    ETAs in slot order, and each visit over before the next begins."""
    live: dict[int, list[RouteStop]] = defaultdict(list)
    for stop in stops:
        order = orders[stop.order_id]
        if order.technician_id == stop.technician_id and order.status == "assigned":
            live[stop.technician_id].append(stop)
    for tech_id, tech_stops in live.items():
        seqs = [s.seq for s in tech_stops]
        assert len(seqs) == len(set(seqs)), f"technician {tech_id}: two orders in one slot {sorted(seqs)}"
        timed = sorted((s for s in tech_stops if s.eta is not None), key=lambda s: s.seq)
        for before, after in zip(timed, timed[1:], strict=False):
            service = timedelta(minutes=DEFAULT_SERVICE_MINUTES[orders[before.order_id].issue_category])
            assert after.eta >= before.eta + service, (
                f"technician {tech_id} double-booked: order {before.order_id} at {before.eta} "
                f"and order {after.order_id} at {after.eta}"
            )


def test_dispatchers_and_optimiser_racing_never_assign_an_order_twice(pg_url, web_factory):
    run_assignment_races(pg_url, web_factory, n_orders=200, rounds=2, technicians=5, solve_s=1)


@pytest.mark.soak
def test_soak_a_thousand_orders_ten_rounds_no_double_assignment(pg_url, web_factory):
    run_assignment_races(pg_url, web_factory, n_orders=1000, rounds=10, technicians=30, solve_s=10)


def test_concurrent_intakes_placed_at_once_never_share_a_technicians_slot(pg_url, web_factory):
    """The instant path under concurrency: eight clients file orders at once and each is placed
    into a technician's day as it arrives (AUTO_ASSIGN_ON_INTAKE=1, the production default).
    Two placements writing the same day at the same moment must not both win a slot."""
    crew = make_crew(pg_url, dispatchers=1, technicians=4)
    web = web_factory(pg_url, workers=2, env={"APP_TIMEZONE": morning_timezone(), "AUTO_ASSIGN_ON_INTAKE": "1"})
    started = time.monotonic()
    created = create_orders(web.base_url, crew.dispatchers[0], 120, threads=8)
    elapsed = time.monotonic() - started

    from core.db import Database

    database = Database(pg_url)
    try:
        with database.session_scope() as session:
            orders = {o.id: o for o in session.scalars(select(WorkOrder))}
            stops = list(session.scalars(select(RouteStop)))
            assert len(orders) == len(created) == 120
            placed = [o for o in orders.values() if o.status == "assigned"]
            assert placed, "no order was placed: the instant path did not run"
            check_no_double_booking(orders, stops)
            by_stop = {s.order_id: s for s in stops}
            for order in placed:  # every placed order has its slot in its technician's day
                assert order.id in by_stop and by_stop[order.id].technician_id == order.technician_id, order.id
    finally:
        database.dispose()
    report("instant_placement_races", orders=120, placed=len(placed), stops=len(stops), seconds=round(elapsed, 1))
