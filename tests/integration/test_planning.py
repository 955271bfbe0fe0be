"""Assignment with OR-Tools: the instant path at intake, suggestions, re-optimisation
proposals and their atomic application."""

from __future__ import annotations

import random
import threading
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from core.accounts import Actor
from dispatch.models import RouteStop, WorkOrder, WorkOrderEvent
from dispatch.moves import transition
from tests.clock import local_today
from tests.conftest import Auth
from tests.integration.helpers import act, create_order

NORTH = (34.331, 108.941)
SOUTH = (34.201, 108.951)


@pytest.fixture
def dispatcher(app, network, auth):
    app.config["AUTO_ASSIGN_ON_INTAKE"] = True
    app.extensions.pop("intake_settings", None)
    return auth.token("dispatcher")


def at(point, **extra):
    return {"lat": point[0], "lon": point[1], **extra}


def test_a_new_order_goes_to_the_nearest_technician_with_the_skill(client, dispatcher, network, db_session):
    south = create_order(client, dispatcher, **at(SOUTH))
    north = create_order(client, dispatcher, phone="13900139000", **at(NORTH))
    assert (south["status"], south["technician"]["id"]) == ("assigned", network.techs[1].id)
    assert (north["status"], north["technician"]["id"]) == ("assigned", network.techs[0].id)
    assert not north["assignment_locked"], "the system's choice is not a dispatcher's lock"
    event = db_session.scalars(
        select(WorkOrderEvent).where(WorkOrderEvent.order_id == north["id"], WorkOrderEvent.kind == "assign")
    ).one()
    assert event.actor_role == "system" and event.data["by"] == "instant_insertion"
    assert event.data["extra_km"] < 5
    stop = db_session.get(RouteStop, north["id"])
    assert stop.technician_id == network.techs[0].id and stop.eta is not None


def test_an_order_nobody_can_do_stays_unassigned(client, dispatcher, db_session):
    from technicians.models import Skill

    db_session.add(Skill(code="refrigerator", name_en="Refrigerator", name_zh="冰箱"))
    db_session.commit()
    order = create_order(client, dispatcher, product_category="refrigerator", **at(SOUTH))
    assert order["status"] == "new" and order["technician"] is None


def test_an_order_without_a_location_waits_for_the_dispatcher(client, dispatcher):
    order = create_order(client, dispatcher, lat=None, lon=None)
    assert order["status"] == "new" and order["geocode_status"] == "failed"


def test_a_technician_on_leave_is_passed_over(client, dispatcher, network, db_session):
    from technicians.network import add_leave

    today = local_today()
    add_leave(db_session, network.techs[1].id, today - timedelta(days=1), today + timedelta(days=1), actor_id=None)
    order = create_order(client, dispatcher, **at(SOUTH))
    assert order["technician"]["id"] == network.techs[0].id  # the North technician, further away


def test_a_full_technician_is_passed_over(app, client, dispatcher, network, db_session):
    from technicians.network import update_technician

    app.config["PLANNING_HORIZON_DAYS"] = 1  # today alone: tomorrow would take it (test_horizon.py)
    app.extensions.pop("intake_settings", None)
    app.extensions.pop("planning_settings", None)
    update_technician(db_session, network.techs[1].id, {"daily_capacity": 1}, actor_id=None)
    first = create_order(client, dispatcher, **at(SOUTH))
    second = create_order(client, dispatcher, phone="13900139000", **at(SOUTH))
    assert first["technician"]["id"] == network.techs[1].id
    assert second["technician"]["id"] == network.techs[0].id


def test_suggestions_list_the_best_technicians_first(app, client, network, auth):
    headers = auth.token("dispatcher")  # auto-assignment off: the order waits
    order = create_order(client, headers, **at(SOUTH))
    body = client.get(f"/api/orders/{order['id']}/suggestions", headers=headers).get_json()
    assert [s["technician_id"] for s in body["items"]] == [network.techs[1].id, network.techs[0].id]
    assert body["items"][0]["extra_km"] < body["items"][1]["extra_km"]
    assert body["items"][0]["name"] == "Tech 2"
    assert client.get(f"/api/orders/{order['id']}/suggestions", headers=auth.token("tech1")).status_code == 403


def _misassign(db_session, order_id, tech_id):
    """Assign as the system would (not a dispatcher's lock), however far away."""
    order = db_session.get(WorkOrder, order_id)
    transition(db_session, order_id, "assign", Actor.system(), version=order.version, technician_id=tech_id)


def test_reoptimisation_proposes_moves_that_save_driving_and_applies_them(client, network, auth, db_session):
    headers = auth.token("dispatcher")
    orders = [create_order(client, headers, phone=f"1390013900{i}", **at(NORTH)) for i in range(3)]
    for o in orders:
        _misassign(db_session, o["id"], network.techs[1].id)  # North jobs on the South technician
    proposal = client.post("/api/plans", json={"time_limit_s": 1}, headers=headers)
    assert proposal.status_code == 201, proposal.get_json()
    plan = proposal.get_json()
    moved = {m["order_id"]: m["to"] for m in plan["diff"]["moves"]}
    assert moved == {o["id"]: network.techs[0].id for o in orders}
    assert plan["diff"]["km_saved"] > 0 and plan["after"]["km"] < plan["before"]["km"]
    # Nothing changed yet.
    assert {db_session.get(WorkOrder, o["id"]).technician_id for o in orders} == {network.techs[1].id}
    db_session.rollback()  # release SQLite's write lock before the next request

    applied = client.post(f"/api/plans/{plan['id']}/apply", json={}, headers=headers).get_json()
    assert sorted(applied["applied"]) == sorted(o["id"] for o in orders) and applied["skipped"] == {}
    db_session.expire_all()
    assert {db_session.get(WorkOrder, o["id"]).technician_id for o in orders} == {network.techs[0].id}
    db_session.rollback()
    again = client.post(f"/api/plans/{plan['id']}/apply", json={}, headers=headers)
    assert again.status_code == 409


def test_a_dispatchers_reassignment_puts_the_order_in_its_cheapest_place_on_the_new_route(
    client, dispatcher, network, auth, db_session
):
    """At 10:00 local time (core.clock): late in the evening the 00:00–23:59 shift cannot take a
    third visit, and the order would rightly go last."""
    from datetime import UTC, datetime, time

    from core import clock

    tz = ZoneInfo("Asia/Shanghai")
    morning = datetime.combine(local_today(), time(10), tzinfo=tz).astimezone(UTC)  # as utcnow() gives it
    with clock.use(clock.ManualClock(morning)):
        _reassign_into_the_cheapest_place(client, dispatcher, network, db_session)


def _reassign_into_the_cheapest_place(client, dispatcher, network, db_session):
    south = network.techs[1].id
    west = create_order(client, dispatcher, phone="13900139001", **at((34.17, 108.95)))
    east = create_order(client, dispatcher, phone="13900139002", **at((34.17, 109.05)))
    assert {west["technician"]["id"], east["technician"]["id"]} == {south}
    between = create_order(client, dispatcher, phone="13900139003", **at((34.17, 109.00)))
    _misassign(db_session, between["id"], network.techs[0].id)  # on the North technician's day
    db_session.rollback()
    current = client.get(f"/api/orders/{between['id']}", headers=dispatcher).get_json()

    moved = act(client, dispatcher, current, "assign", technician_id=south)

    assert moved.status_code == 200, moved.get_json()
    db_session.expire_all()
    stops = db_session.scalars(select(RouteStop).where(RouteStop.technician_id == south).order_by(RouteStop.seq))
    day = [(s.order_id, s.seq) for s in stops]
    assert [seq for _, seq in day] == [0, 1, 2]
    assert [oid for oid, _ in day] in ([west["id"], between["id"], east["id"]], [east["id"], between["id"], west["id"]])
    stop = db_session.get(RouteStop, between["id"])
    assert stop.eta is not None
    assert db_session.scalars(select(RouteStop).where(RouteStop.technician_id == network.techs[0].id)).all() == []
    event = db_session.scalars(
        select(WorkOrderEvent)
        .where(WorkOrderEvent.order_id == between["id"], WorkOrderEvent.kind == "assign")
        .order_by(WorkOrderEvent.seq.desc())
    ).first()
    assert event.actor_role == "dispatcher" and event.data["position"] == 1
    assert event.data["eta"] == stop.eta.isoformat()
    assert db_session.get(WorkOrder, between["id"]).assignment_locked  # a person's choice: the optimiser keeps it


def test_a_dispatcher_may_assign_beyond_what_the_route_can_take(client, dispatcher, network, db_session):
    """The route is full (capacity 1): the dispatcher's choice still stands, last on the list."""
    from technicians.network import update_technician

    first = create_order(client, dispatcher, phone="13900139001", **at(SOUTH))
    update_technician(db_session, network.techs[1].id, {"daily_capacity": 1}, actor_id=None)
    db_session.rollback()
    extra = create_order(client, dispatcher, phone="13900139002", **at(NORTH))
    assert extra["technician"]["id"] == network.techs[0].id

    moved = act(client, dispatcher, extra, "assign", technician_id=network.techs[1].id)

    assert moved.status_code == 200, moved.get_json()
    db_session.expire_all()
    stops = db_session.scalars(
        select(RouteStop).where(RouteStop.technician_id == network.techs[1].id).order_by(RouteStop.seq)
    )
    assert [s.order_id for s in stops] == [first["id"], extra["id"]]


def test_applying_a_plan_keeps_a_place_for_an_order_assigned_after_it_was_made(client, network, auth, db_session):
    headers = auth.token("dispatcher")
    north = network.techs[0].id
    first = create_order(client, headers, phone="13900139001", **at(NORTH))
    _misassign(db_session, first["id"], network.techs[1].id)  # a North job on the South technician
    db_session.rollback()
    plan = client.post("/api/plans", json={"time_limit_s": 1}, headers=headers).get_json()
    assert plan["routes"][str(north)] == [first["id"]]
    late = create_order(client, headers, phone="13900139002", **at(NORTH))
    assert act(client, headers, late, "assign", technician_id=north).status_code == 200

    assert client.post(f"/api/plans/{plan['id']}/apply", json={}, headers=headers).status_code == 200

    db_session.expire_all()
    stops = db_session.scalars(select(RouteStop).where(RouteStop.technician_id == north).order_by(RouteStop.seq))
    assert [(s.order_id, s.seq) for s in stops] == [(first["id"], 0), (late["id"], 1)]


def test_a_dispatchers_manual_choice_is_kept_by_the_optimiser(client, network, auth, db_session):
    headers = auth.token("dispatcher")
    order = create_order(client, headers, **at(NORTH))
    act(client, headers, order, "assign", technician_id=network.techs[1].id)  # manual: locked
    plan = client.post("/api/plans", json={"time_limit_s": 1}, headers=headers).get_json()
    assert plan["diff"]["moves"] == []
    assert plan["routes"][str(network.techs[1].id)] == [order["id"]]


def test_an_order_changed_after_the_proposal_is_left_alone(client, network, auth, db_session):
    headers = auth.token("dispatcher")
    orders = [create_order(client, headers, phone=f"1390013900{i}", **at(NORTH)) for i in range(2)]
    for o in orders:
        _misassign(db_session, o["id"], network.techs[1].id)
    plan = client.post("/api/plans", json={"time_limit_s": 1}, headers=headers).get_json()
    tech2 = Auth(client.application.test_client()).token("tech2")
    accepted = act(client, tech2, client.get(f"/api/orders/{orders[0]['id']}", headers=headers).get_json(), "accept")
    assert accepted.status_code == 200
    result = client.post(f"/api/plans/{plan['id']}/apply", json={}, headers=headers).get_json()
    assert result["applied"] == [orders[1]["id"]]
    assert list(result["skipped"]) == [str(orders[0]["id"])]
    db_session.expire_all()
    assert db_session.get(WorkOrder, orders[0]["id"]).technician_id == network.techs[1].id  # acceptance kept


def test_competing_plans_and_manual_assignments_never_double_assign(app, network, db_session):
    """Dispatchers assign by hand while two proposals are applied, all at once."""
    client = app.test_client()
    headers = Auth(client).token("dispatcher")
    ids = []
    for i in range(12):
        point = NORTH if i % 2 else SOUTH
        ids.append(create_order(client, headers, phone=f"139001390{i:02d}", **at(point))["id"])
        _misassign(db_session, ids[-1], network.techs[1].id if i % 2 else network.techs[0].id)
    proposals = [
        client.post("/api/plans", json={"time_limit_s": 0.5}, headers=headers).get_json()["id"] for _ in range(2)
    ]
    barrier = threading.Barrier(6)
    outcomes: list[tuple[str, int]] = []

    def apply(pid: int) -> None:
        c = app.test_client()
        barrier.wait()
        outcomes.append(("apply", c.post(f"/api/plans/{pid}/apply", json={}, headers=headers).status_code))

    def manual(seed: int) -> None:
        c = app.test_client()
        rnd = random.Random(seed)
        barrier.wait()
        for oid in rnd.sample(ids, 4):
            order = c.get(f"/api/orders/{oid}", headers=headers).get_json()
            tech = network.techs[rnd.choice([0, 1])].id
            outcomes.append(("manual", act(c, headers, order, "assign", technician_id=tech).status_code))

    threads = [threading.Thread(target=apply, args=(p,)) for p in proposals]
    threads += [threading.Thread(target=manual, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(code in (200, 409) for _, code in outcomes), outcomes
    db_session.expire_all()
    for oid in ids:
        order = db_session.get(WorkOrder, oid)
        assigns = db_session.scalars(
            select(WorkOrderEvent)
            .where(WorkOrderEvent.order_id == oid, WorkOrderEvent.kind == "assign")
            .order_by(WorkOrderEvent.seq)
        ).all()
        # The order's technician is the one its last recorded assignment named: no write lost or doubled.
        assert order.technician_id == assigns[-1].data["technician_id"]
        # Versions only move forward, one step per recorded change.
        changes = db_session.scalars(select(WorkOrderEvent).where(WorkOrderEvent.order_id == oid)).all()
        assert order.version == len(changes)


def test_an_outlet_that_opted_in_is_dispatched_on_schedule_and_others_are_not(app, client, network, auth, db_session):
    from core.db import utcnow
    from dispatch.jobs import auto_dispatch
    from dispatch.planning import PlanningSettings
    from technicians.network import update_outlet
    from web.extensions import db

    headers = auth.token("dispatcher")  # auto-assignment at intake is off: orders wait
    south = create_order(client, headers, **at(SOUTH))
    north = create_order(client, headers, phone="13900139000", **at(NORTH))
    update_outlet(db_session, network.south.id, {"auto_dispatch": True}, actor_id=None)
    db_session.rollback()
    settings = PlanningSettings(timezone=app.config["TIMEZONE"], time_limit_s=0.5)
    assert auto_dispatch(db, settings, utcnow()) == {network.south.id: 1}
    assert db_session.get(WorkOrder, south["id"]).technician_id == network.techs[1].id
    assert db_session.get(WorkOrder, north["id"]).status == "new", "North did not opt in"
    event = db_session.scalars(
        select(WorkOrderEvent).where(WorkOrderEvent.order_id == south["id"], WorkOrderEvent.kind == "assign")
    ).one()
    assert event.actor_role == "system" and event.data["by"] == "reoptimisation"
    db_session.rollback()
    assert auto_dispatch(db, settings, utcnow()) == {}, "nothing left to move"


def test_an_evening_assignment_goes_on_the_technicians_next_working_day(app, client, dispatcher, network, db_session):
    """After the shifts a dispatcher's choice is tomorrow's work: the order is assigned and placed
    on the technician's next day of the horizon, not refused as "off duty today"."""
    from datetime import datetime, time

    from dispatch.planning.manual import assign
    from technicians.network import update_technician
    from web.wiring import planning_settings

    order = create_order(client, dispatcher, phone="13900139001", **at(SOUTH))
    _misassign(db_session, order["id"], network.techs[0].id)
    south = network.techs[1].id
    for tech in network.techs:
        update_technician(db_session, tech.id, {"shift_start": time(8), "shift_end": time(18)}, actor_id=None)
    tz = app.config["TIMEZONE"]
    evening = datetime.combine(local_today(), time(21), tzinfo=tz)
    with app.app_context():
        settings = planning_settings()
    version = db_session.get(WorkOrder, order["id"]).version
    db_session.rollback()

    assign(db_session, order["id"], south, Actor(None, "dispatcher"), settings, version=version, now=evening)

    db_session.expire_all()
    assert db_session.get(WorkOrder, order["id"]).technician_id == south
    stop = db_session.get(RouteStop, order["id"])
    assert stop.technician_id == south
    assert stop.eta.astimezone(tz).date() == evening.date() + timedelta(days=1)
    assert time(8) <= stop.eta.astimezone(tz).time() < time(18)
    event = db_session.scalars(
        select(WorkOrderEvent)
        .where(WorkOrderEvent.order_id == order["id"], WorkOrderEvent.kind == "assign")
        .order_by(WorkOrderEvent.seq.desc())
    ).first()
    assert event.data["day"] == (evening.date() + timedelta(days=1)).isoformat()
