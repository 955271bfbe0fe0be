"""SLA clocks with a controlled clock: deadlines from rules, warnings and breaches exactly once,
sweeps after downtime, and one scheduler at a time."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from core.accounts import Actor
from core.leases import SingletonLock
from dispatch.jobs import GuardedJobs
from dispatch.models import WorkOrder, WorkOrderEvent
from dispatch.moves import transition
from dispatch.sla.clocks import order_clocks
from dispatch.sla.sweep import sweep

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # 10:00 in Xi'an


@pytest.fixture
def headers(network, auth):
    return auth.token("dispatcher")


def intake_at(app, headers, when: datetime, **fields) -> int:
    """Create an order as if it were taken in at `when`."""
    from dispatch.intake import OrderRequest, submit_order
    from tests.integration.helpers import order_body
    from web.wiring import intake_settings

    body = order_body(**fields)
    with app.test_request_context():
        from web.extensions import db

        order, _ = submit_order(
            db.session, OrderRequest(channel="api", **body), Actor(None, "dispatcher"), intake_settings(), now=when
        )
        return order.id


def c(warnings: int, breaches: int, escalations: int = 0) -> dict[str, int]:
    return {"sla_warning": warnings, "sla_breach": breaches, "sla_escalation": escalations}


def sla_events(db_session, order_id=None) -> list[tuple[str, str]]:
    query = (
        select(WorkOrderEvent)
        .where(WorkOrderEvent.kind.in_(["sla_warning", "sla_breach"]))
        .order_by(WorkOrderEvent.seq)
    )
    if order_id is not None:
        query = query.where(WorkOrderEvent.order_id == order_id)
    rows = [(e.kind, e.data["clock"]) for e in db_session.scalars(query)]
    db_session.rollback()
    return rows


def test_intake_starts_contact_and_completion_clocks_from_the_defaults(app, headers, db_session):
    oid = intake_at(app, headers, T0)
    clocks = {c.clock: c for c in order_clocks(db_session, oid)}
    assert set(clocks) == {"contact", "completion"}
    assert clocks["contact"].due_at == T0 + timedelta(minutes=30)
    assert clocks["contact"].warn_at == T0 + timedelta(minutes=24)
    assert clocks["completion"].due_at == T0 + timedelta(hours=24)
    assert db_session.get(WorkOrder, oid).due_at == T0 + timedelta(hours=24)
    db_session.rollback()


def test_the_most_specific_rule_sets_the_deadlines(app, client, headers, auth, db_session):
    admin = auth.token("admin")
    generic = {
        "name": "complaints",
        "issue_category": "complaint",
        "contact_minutes": 20,
        "completion_minutes": 24 * 60 * 30,
    }
    specific = {"name": "vip complaints", "issue_category": "complaint", "priority": "vip", "contact_minutes": 10,
                "arrival_minutes": 120, "completion_minutes": 1440, "warn_ratio": 0.5}  # fmt: skip
    assert client.post("/api/sla-rules", json=generic, headers=admin).status_code == 201
    assert client.post("/api/sla-rules", json=specific, headers=admin).status_code == 201
    vip = intake_at(app, headers, T0, issue_category="complaint", priority="vip")
    normal = intake_at(app, headers, T0, issue_category="complaint", phone="13900139000")
    vip_clocks = {c.clock: c for c in order_clocks(db_session, vip)}
    assert vip_clocks["contact"].due_at == T0 + timedelta(minutes=10)
    assert vip_clocks["contact"].warn_at == T0 + timedelta(minutes=5)
    assert vip_clocks["arrival"].due_at == T0 + timedelta(hours=2)
    normal_clocks = {c.clock: c for c in order_clocks(db_session, normal)}
    assert normal_clocks["contact"].due_at == T0 + timedelta(minutes=20)
    assert normal_clocks["completion"].due_at == T0 + timedelta(days=30)
    assert "arrival" not in normal_clocks
    db_session.rollback()


def test_bad_rules_are_refused_and_only_admins_write_them(client, headers, auth):
    admin = auth.token("admin")
    bad = client.post("/api/sla-rules", json={"name": "", "priority": "asap", "contact_minutes": 0}, headers=admin)
    assert bad.status_code == 400
    assert set(bad.get_json()["detail"]["json"]) == {"name", "priority", "contact_minutes"}
    assert client.post("/api/sla-rules", json={"name": "x"}, headers=headers).status_code == 403


def test_a_warning_then_a_breach_each_fire_once(app, headers, db_session):
    oid = intake_at(app, headers, T0)
    assert sweep(db_session, T0 + timedelta(minutes=23)) == c(0, 0)
    assert sweep(db_session, T0 + timedelta(minutes=24)) == c(1, 0)
    assert sweep(db_session, T0 + timedelta(minutes=25)) == c(0, 0)
    assert sweep(db_session, T0 + timedelta(minutes=30)) == c(0, 1)
    assert sweep(db_session, T0 + timedelta(minutes=31)) == c(0, 0)
    assert sla_events(db_session, oid) == [("sla_warning", "contact"), ("sla_breach", "contact")]


def test_a_sweep_after_downtime_catches_up_on_everything_once(app, headers, db_session):
    oid = intake_at(app, headers, T0)
    assert sweep(db_session, T0 + timedelta(hours=30)) == c(2, 2, 1)
    assert sweep(db_session, T0 + timedelta(hours=31)) == c(0, 0)
    assert sorted(sla_events(db_session, oid)) == sorted(
        [
            ("sla_warning", "contact"),
            ("sla_warning", "completion"),
            ("sla_breach", "contact"),
            ("sla_breach", "completion"),
        ]
    )


def test_a_clock_stopped_in_time_never_warns(app, headers, network, db_session):
    oid = intake_at(app, headers, T0)
    order = db_session.get(WorkOrder, oid)
    transition(db_session, oid, "assign", Actor(None, "dispatcher"), version=order.version,
               technician_id=network.techs[1].id, now=T0 + timedelta(minutes=5))  # fmt: skip
    tech = Actor(None, "technician", technician_id=network.techs[1].id)
    order = db_session.get(WorkOrder, oid)
    transition(db_session, oid, "accept", tech, version=order.version, now=T0 + timedelta(minutes=6))
    order = db_session.get(WorkOrder, oid)
    transition(db_session, oid, "contact", tech, version=order.version, now=T0 + timedelta(minutes=10))
    sweep(db_session, T0 + timedelta(hours=1))
    assert sla_events(db_session, oid) == []
    sweep(db_session, T0 + timedelta(hours=20))
    assert sla_events(db_session, oid) == [("sla_warning", "completion")]


def test_a_cancelled_order_stops_all_its_clocks(app, headers, db_session):
    oid = intake_at(app, headers, T0)
    order = db_session.get(WorkOrder, oid)
    transition(db_session, oid, "cancel", Actor(None, "dispatcher"), version=order.version, reason="dup", now=T0)
    assert sweep(db_session, T0 + timedelta(days=2)) == c(0, 0)


def test_sweeps_running_at_once_record_each_breach_once(app, headers, db_session):
    from web.extensions import db

    ids = [intake_at(app, headers, T0, phone=f"1390013{i:04d}") for i in range(20)]
    db_session.rollback()
    barrier = threading.Barrier(4)
    totals = []

    def run() -> None:
        with app.app_context(), db.session_scope() as session:
            barrier.wait()
            totals.append(sweep(session, T0 + timedelta(hours=25)))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(t["sla_breach"] for t in totals) == 40  # contact + completion × 20 orders
    events = db_session.scalar(
        select(func.count()).select_from(WorkOrderEvent).where(WorkOrderEvent.kind == "sla_breach")
    )
    assert events == 40
    per_order = db_session.execute(
        select(WorkOrderEvent.order_id, func.count())
        .where(WorkOrderEvent.kind == "sla_breach")
        .group_by(WorkOrderEvent.order_id)
    ).all()
    assert sorted(per_order) == [(i, 2) for i in ids]
    db_session.rollback()


def test_breaches_reach_the_board_after_commit_with_their_sequence(app, auth, client, headers, db_session):
    from web.extensions import socketio

    oid = intake_at(app, headers, T0)
    auth.login("dispatcher")
    board = socketio.test_client(app, flask_test_client=client)
    sweep(db_session, T0 + timedelta(minutes=31))
    received = [m["args"][0] for m in board.get_received() if m["name"] == "order_event"]
    assert [(e["event"]["kind"], e["event"]["data"]["clock"]) for e in received] == [
        ("sla_breach", "contact"),
        ("sla_warning", "contact"),
    ]
    seqs = [e["event"]["seq"] for e in received]
    assert seqs == sorted(seqs) and received[0]["order"]["id"] == oid
    board.disconnect()


def test_only_one_scheduler_sweeps_and_another_takes_over_when_it_stops(app, headers, db_session):
    from web.extensions import db

    intake_at(app, headers, T0)
    db_session.rollback()
    now = [T0 + timedelta(hours=30)]
    first = GuardedJobs(db, interval_s=30, clock=lambda: now[0])
    second = GuardedJobs(db, interval_s=30, clock=lambda: now[0])
    second.lock.holder = "other-host:1"  # a second process
    assert first.tick() == c(2, 2, 1)
    assert second.tick() is None, "the second scheduler must stay idle"
    assert first.tick() == c(0, 0)
    first.lock.release()  # the first one stops (on PostgreSQL: its connection closes)
    now[0] += timedelta(seconds=1)
    assert second.tick() == c(0, 0)
    assert first.tick() is None
    second.lock.release()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # PostgreSQL uses advisory locks
def test_an_expired_sqlite_lease_passes_to_the_next_scheduler(app, db_session):
    from web.extensions import db

    a, b = SingletonLock(db, "x", ttl=timedelta(seconds=60)), SingletonLock(db, "x", ttl=timedelta(seconds=60))
    b.holder = "other:2"
    assert a.acquire(T0) and not b.acquire(T0 + timedelta(seconds=59))
    assert b.acquire(T0 + timedelta(seconds=61)), "a holder that stopped renewing loses the lease"
    assert not a.acquire(T0 + timedelta(seconds=62))


def test_a_rule_that_pauses_overnight_counts_only_the_outlets_opening_hours(
    app, client, headers, auth, network, db_session
):
    from datetime import time as dtime
    from zoneinfo import ZoneInfo

    from technicians.network import update_outlet

    update_outlet(db_session, network.south.id, {"opens_at": dtime(9), "closes_at": dtime(18)}, actor_id=None)
    admin = auth.token("admin")
    rule = {"name": "office hours", "contact_minutes": 120, "pause_overnight": True}
    assert client.post("/api/sla-rules", json=rule, headers=admin).status_code == 201
    shanghai = ZoneInfo("Asia/Shanghai")
    evening = datetime(2026, 11, 24, 17, 0, tzinfo=shanghai)
    oid = intake_at(app, headers, evening)  # at the South outlet
    contact = {c.clock: c for c in order_clocks(db_session, oid)}["contact"]
    assert contact.due_at == datetime(2026, 11, 25, 10, 0, tzinfo=shanghai)
    db_session.rollback()


def test_opening_hours_must_make_sense(client, auth, network):
    admin = auth.token("admin")
    bad = client.patch(
        f"/api/outlets/{network.south.id}", json={"opens_at": "18:00:00", "closes_at": "09:00:00"}, headers=admin
    )
    assert bad.status_code == 400 and "closes_at" in bad.get_json()["detail"]["json"]
    half = client.patch(f"/api/outlets/{network.south.id}", json={"opens_at": "09:00:00"}, headers=admin)
    assert half.status_code == 400


def test_the_callback_clock_follows_the_configured_callback_days_and_warning_ratio(
    app, client, auth, network, db_session
):
    from tests.integration.helpers import act, create_order

    app.config.update(SLA_CALLBACK_DAYS=3, SLA_WARN_RATIO=0.5)
    dispatcher, tech = auth.token("dispatcher"), auth.token("tech2")
    order = create_order(client, dispatcher)
    order = act(client, dispatcher, order, "assign", technician_id=network.techs[1].id).get_json()
    for step in ("accept", "depart", "arrive"):
        order = act(client, tech, order, step).get_json()
    done = client.post(f"/api/tech/orders/{order['id']}/actions", json={"action": "complete", "version": order["version"]},
                       headers=tech)  # fmt: skip
    assert done.status_code == 200, done.get_json()
    callback = {c.clock: c for c in order_clocks(db_session, order["id"])}["callback"]
    assert callback.due_at - callback.started_at == timedelta(days=3)
    assert callback.warn_at - callback.started_at == timedelta(days=1.5)
    db_session.rollback()


def test_the_callback_clock_starts_at_completion_and_stops_at_closing(app, headers, network, db_session):
    oid = intake_at(app, headers, T0)
    tech = Actor(None, "technician", technician_id=network.techs[1].id)
    steps = [("assign", Actor(None, "dispatcher"), {"technician_id": network.techs[1].id}), ("accept", tech, {}),
             ("contact", tech, {}), ("depart", tech, {}), ("arrive", tech, {}), ("complete", tech, {})]  # fmt: skip
    for i, (action, actor, extra) in enumerate(steps):
        order = db_session.get(WorkOrder, oid)
        transition(db_session, oid, action, actor, version=order.version, now=T0 + timedelta(minutes=5 + i), **extra)
    done_at = T0 + timedelta(minutes=10)
    callback = {c.clock: c for c in order_clocks(db_session, oid)}["callback"]
    assert (callback.started_at, callback.due_at) == (done_at, done_at + timedelta(days=7))
    db_session.rollback()
    assert sweep(db_session, done_at + timedelta(days=6)) == c(1, 0)  # the callback warning (80 % of 7 days)
    order = db_session.get(WorkOrder, oid)
    transition(
        db_session,
        oid,
        "close",
        Actor(None, "dispatcher"),
        version=order.version,
        now=done_at + timedelta(days=6, hours=1),
    )
    assert sweep(db_session, done_at + timedelta(days=8)) == c(0, 0)
