"""The in-memory day of the instant path: patched from the event log, read afresh when the
network changes, and never trusted blindly when it writes a technician's route."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from dispatch.models import RouteStop, WorkOrder
from dispatch.planning.live_day import day_cache
from tests.clock import local_today
from tests.conftest import Auth
from tests.integration.helpers import act, create_order

SOUTH = {"lat": 34.201, "lon": 108.951}


@pytest.fixture
def dispatcher(app, network):
    app.config["AUTO_ASSIGN_ON_INTAKE"] = True
    app.extensions.pop("intake_settings", None)
    return Auth(app.test_client()).token("dispatcher")


def _cache(db_session):
    return day_cache(db_session)


def test_later_orders_are_placed_from_the_patched_day_not_a_fresh_read(app, client, dispatcher, network, db_session):
    first = create_order(client, dispatcher, **SOUTH)
    cache = _cache(db_session)
    rebuilds = cache.rebuilds
    second = create_order(client, dispatcher, phone="13900139000", **SOUTH)
    assert (first["technician"]["id"], second["technician"]["id"]) == (network.techs[1].id,) * 2
    assert cache.rebuilds == rebuilds and cache.patches >= 1
    stops = db_session.scalars(
        select(RouteStop.order_id).where(RouteStop.technician_id == network.techs[1].id).order_by(RouteStop.seq)
    ).all()
    assert sorted(stops) == sorted([first["id"], second["id"]])


def test_a_manual_assignment_elsewhere_reaches_the_cached_day(app, client, dispatcher, network, db_session):
    """Tech 2 (South) has room for one more job; a dispatcher fills it by hand; the next new
    order must see that through the event log and go to the other technician."""
    from technicians.network import update_technician

    app.config["PLANNING_HORIZON_DAYS"] = 1  # today alone: tech 2's tomorrow would take it otherwise
    app.extensions.pop("planning_settings", None)

    update_technician(db_session, network.techs[1].id, {"daily_capacity": 2}, actor_id=None)
    create_order(client, dispatcher, **SOUTH)  # tech 2, 1 of 2; the day is now cached
    app.config["AUTO_ASSIGN_ON_INTAKE"] = False
    app.extensions.pop("intake_settings", None)
    manual = create_order(client, dispatcher, phone="13900139001", **SOUTH)
    assert act(client, dispatcher, manual, "assign", technician_id=network.techs[1].id).status_code == 200
    app.config["AUTO_ASSIGN_ON_INTAKE"] = True
    app.extensions.pop("intake_settings", None)
    rebuilds = _cache(db_session).rebuilds
    third = create_order(client, dispatcher, phone="13900139002", **SOUTH)
    assert third["technician"]["id"] == network.techs[0].id  # tech 2 is full
    assert _cache(db_session).rebuilds == rebuilds  # patched, not re-read


def test_a_leave_added_after_the_day_was_cached_is_respected_at_once(client, dispatcher, network, db_session):
    from technicians.network import add_leave

    create_order(client, dispatcher, **SOUTH)  # cache the day
    today = local_today()
    add_leave(db_session, network.techs[1].id, today - timedelta(days=1), today + timedelta(days=1), actor_id=None)
    order = create_order(client, dispatcher, phone="13900139000", **SOUTH)
    assert order["technician"]["id"] == network.techs[0].id


def test_a_position_update_does_not_throw_the_day_away(client, dispatcher, network, db_session):
    from core.db import utcnow
    from technicians.models import Technician

    create_order(client, dispatcher, **SOUTH)
    cache = _cache(db_session)
    rebuilds = cache.rebuilds
    tech = db_session.get(Technician, network.techs[1].id)
    tech.last_lat, tech.last_lon, tech.last_seen_at = 34.2, 108.95, utcnow()
    db_session.commit()
    create_order(client, dispatcher, phone="13900139000", **SOUTH)
    assert cache.rebuilds == rebuilds


def test_a_change_that_bypassed_the_event_log_is_caught_before_a_route_is_written(
    app, client, dispatcher, network, db_session
):
    """An order moved to tech 2 by a raw UPDATE (no event) is not in the cached day; the
    placement sees tech 2's orders differ from its copy, reads the day again, and keeps the
    moved order on tech 2's route instead of wiping its stop."""
    app.config["AUTO_ASSIGN_ON_INTAKE"] = False
    app.extensions.pop("intake_settings", None)
    stray = create_order(client, dispatcher, phone="13900139009", **SOUTH)
    app.config["AUTO_ASSIGN_ON_INTAKE"] = True
    app.extensions.pop("intake_settings", None)
    create_order(client, dispatcher, **SOUTH)  # caches the day, stray unassigned in it
    db_session.execute(
        update(WorkOrder)
        .where(WorkOrder.id == stray["id"])
        .values(technician_id=network.techs[1].id, status="assigned")
    )
    db_session.commit()
    rebuilds = _cache(db_session).rebuilds
    placed = create_order(client, dispatcher, phone="13900139000", **SOUTH)
    assert placed["technician"]["id"] == network.techs[1].id
    assert _cache(db_session).rebuilds == rebuilds + 1
    db_session.expire_all()
    route = db_session.scalars(select(RouteStop.order_id).where(RouteStop.technician_id == network.techs[1].id)).all()
    assert stray["id"] in route and placed["id"] in route


def test_the_cache_tells_one_database_from_another(app, client, network, db_session, app_config, tmp_path):
    """Two databases that reached the same event number are not confused (a restore, or the
    test suite's truncated PostgreSQL schema): the event the cache applied last must still
    be there as it was."""
    from core.accounts import Actor
    from core.db import Database, utcnow
    from core.migrate import upgrade
    from dispatch.events import record_event
    from dispatch.models import Customer
    from dispatch.planning import PlanningSettings
    from dispatch.planning.live_day import DayCache
    from technicians.models import Skill

    settings = PlanningSettings.from_config(app.config)
    headers = Auth(app.test_client()).token("dispatcher")
    create_order(app.test_client(), headers, lat=34.30, lon=108.90)  # one event: created
    cache = DayCache()
    first = cache.current(db_session, settings, utcnow())
    assert [round(o.lat, 2) for o in first.day.orders.values()] == [34.30]

    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    upgrade(url)
    other = Database(url)
    try:
        with other.session_scope() as session:
            customer = Customer(phone="+8613900000000", name="B")
            session.add_all([Skill(code="water_heater", name_en="Water heater", name_zh="热水器"), customer])
            session.flush()
            order = WorkOrder(
                number="B-1", channel="api", customer_id=customer.id, contact_name="B", contact_phone=customer.phone,
                address="B", lat=34.10, lon=108.99, product_category="water_heater", issue_category="repair",
                required_skill="water_heater", due_at=utcnow() + timedelta(hours=24), status="new",
            )  # fmt: skip
            session.add(order)
            session.flush()
            record_event(session, order, "created", Actor.system(), to_status="new")
            session.commit()
            second = cache.current(session, settings, utcnow())
            assert second.seq == first.seq == 1
            assert cache.rebuilds == 2
            assert [round(o.lat, 2) for o in second.day.orders.values()] == [34.10]
    finally:
        other.dispose()
