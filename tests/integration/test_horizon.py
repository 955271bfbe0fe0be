"""The planning horizon: a technician's route per working day, today and the next ones, and a
new order placed on the day and place that serves it best (controlled clock: `now` is given)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import update

from dispatch.models import RouteStop, WorkOrder
from dispatch.planning import PlanningSettings, place_new_order
from technicians.network import update_technician
from tests.integration.helpers import create_order

SOUTH = {"lat": 34.201, "lon": 108.951}


@pytest.fixture
def settings(app):
    return PlanningSettings(timezone=app.config["TIMEZONE"], horizon_days=3)


@pytest.fixture
def day_shifts(db_session, network):
    """Everyone works 09:00–17:00, every day."""
    for tech in network.techs:
        update_technician(db_session, tech.id, {"shift_start": time(9), "shift_end": time(17)}, actor_id=None)


def _evening(settings) -> datetime:
    return datetime(2030, 3, 6, 18, 0, tzinfo=settings.timezone)  # a Wednesday, after every shift


def _new_order(client, auth, db_session, now, **extra) -> int:
    order = create_order(client, auth.token("dispatcher"), **{**SOUTH, **extra})
    db_session.execute(
        update(WorkOrder).where(WorkOrder.id == order["id"]).values(created_at=now, due_at=now + timedelta(hours=24))
    )
    db_session.commit()
    return order["id"]


def test_an_order_at_six_in_the_evening_goes_on_tomorrows_route_within_a_shift(
    client, auth, network, db_session, settings, day_shifts
):
    now = _evening(settings)
    order_id = _new_order(client, auth, db_session, now)
    placed = place_new_order(db_session, order_id, settings, now)
    assert not isinstance(placed, str), placed
    eta = placed.eta.astimezone(settings.timezone)
    tomorrow = now.date() + timedelta(days=1)
    assert eta.date() == tomorrow and time(9) <= eta.time() <= time(17)
    assert placed.technician_id == network.techs[1].id  # the South technician, nearest
    db_session.expire_all()
    stop = db_session.get(RouteStop, order_id)
    assert stop.technician_id == network.techs[1].id and stop.eta == placed.eta
    assert db_session.get(WorkOrder, order_id).status == "assigned"


def test_with_today_alone_the_evening_order_waits(client, auth, network, db_session, settings, day_shifts):
    now = _evening(settings)
    order_id = _new_order(client, auth, db_session, now)
    one_day = PlanningSettings(timezone=settings.timezone, horizon_days=1)
    assert place_new_order(db_session, order_id, one_day, now, cached=False) == "no_shift"


def test_a_later_order_fills_the_next_free_day_when_tomorrow_is_full(
    client, auth, network, db_session, settings, day_shifts
):
    now = _evening(settings)
    update_technician(db_session, network.techs[1].id, {"daily_capacity": 1}, actor_id=None)
    update_technician(db_session, network.techs[0].id, {"active": False}, actor_id=None)
    first = place_new_order(db_session, _new_order(client, auth, db_session, now), settings, now)
    second = place_new_order(db_session, _new_order(client, auth, db_session, now, phone="13900139000"), settings, now)
    days = [p.eta.astimezone(settings.timezone).date() - now.date() for p in (first, second)]
    assert days == [timedelta(days=1), timedelta(days=2)]
    third = place_new_order(db_session, _new_order(client, auth, db_session, now, phone="13900139001"), settings, now)
    assert third == "no_capacity_or_time"  # every day of the horizon is full


def test_nobody_working_in_the_horizon_is_said_so(client, auth, network, db_session, settings, day_shifts):
    now = _evening(settings)
    for tech in network.techs:
        update_technician(db_session, tech.id, {"work_days": "1"}, actor_id=None)  # Mondays only
    order_id = _new_order(client, auth, db_session, now)
    assert place_new_order(db_session, order_id, settings, now, cached=False) == "no_shift"


def test_each_morning_the_coming_days_are_re_planned_with_that_days_knowledge(
    app, client, auth, network, db_session, settings, day_shifts
):
    from datetime import date as date_cls

    from dispatch.jobs import GuardedJobs
    from technicians.network import add_leave

    now = _evening(settings)
    order_id = _new_order(client, auth, db_session, now)
    placed = place_new_order(db_session, order_id, settings, now)
    assert placed.technician_id == network.techs[1].id  # tomorrow, provisionally, on the South technician
    tomorrow: date_cls = now.date() + timedelta(days=1)
    add_leave(db_session, network.techs[1].id, tomorrow, tomorrow, "sick", actor_id=None)  # learnt overnight
    morning = datetime.combine(tomorrow, time(7), tzinfo=settings.timezone)
    quick = PlanningSettings(timezone=settings.timezone, horizon_days=3, time_limit_s=1)
    # The job the scheduler runs each morning (under the scheduler's singleton lock).
    jobs = GuardedJobs(app.extensions["database"], interval_s=30, clock=lambda: morning, planning=quick)
    try:
        assert jobs.replan_tick() >= 1
    finally:
        jobs.lock.release()  # its PostgreSQL advisory lock holds a connection of its own
    db_session.expire_all()
    order = db_session.get(WorkOrder, order_id)
    stop = db_session.get(RouteStop, order_id)
    assert order.technician_id == network.techs[0].id  # the North technician, who works today
    eta = stop.eta.astimezone(settings.timezone)
    assert eta.date() == tomorrow and time(9) <= eta.time() <= time(17)


def test_the_timeline_shows_tomorrows_planned_visit_travelling_from_home(
    client, auth, network, db_session, settings, day_shifts
):
    now = _evening(settings)
    order_id = _new_order(client, auth, db_session, now)
    placed = place_new_order(db_session, order_id, settings, now)
    tomorrow = (now + timedelta(days=1)).date().isoformat()
    body = client.get(f"/api/timeline?date={tomorrow}&days=1", headers=auth.token("dispatcher")).get_json()
    stop = next(s for s in body["stops"] if s["order_id"] == order_id)
    assert stop["technician_id"] == placed.technician_id
    assert datetime.fromisoformat(stop["arrival"]) == placed.eta
    # The day starts at home: the drive is the one from home, at the start of the shift.
    shift = next(r for r in body["rows"] if r["id"] == placed.technician_id)["shifts"][0]
    gap = datetime.fromisoformat(stop["travel_start"]) - datetime.fromisoformat(shift["start"])
    assert abs(gap.total_seconds()) <= 2  # rounding of the drive's seconds


def test_the_morning_re_plan_is_scheduled_at_its_local_hour_only_with_days_ahead(app, settings):
    from apscheduler.schedulers.background import BackgroundScheduler

    from dispatch.jobs import GuardedJobs

    def installed(planning):
        scheduler = BackgroundScheduler(timezone=settings.timezone)  # not started: only its jobs are read
        GuardedJobs(app.extensions["database"], interval_s=30, planning=planning).install(scheduler, 30)
        return scheduler.get_job("replan_horizon")

    early = PlanningSettings(timezone=settings.timezone, horizon_days=3, replan_at=time(5, 30))
    job = installed(early)
    evening = _evening(settings)
    fires = job.trigger.get_next_fire_time(None, evening)
    assert fires == datetime.combine(evening.date() + timedelta(days=1), time(5, 30), tzinfo=settings.timezone)
    assert installed(PlanningSettings(timezone=settings.timezone, horizon_days=1)) is None  # today alone: nothing ahead
