"""Today's miss forecast (issue 21 item 6) on a day built by hand, under a controlled clock.

Tech 2 (South outlet) has two stops: A, round the corner, due tomorrow, and then B, some 50 km
north, due in three hours: after A and the drive (about 2 h 10 min at 30 km/h with the 1.3
detour) B cannot be finished in time. C, also far north and due in two hours, is on no route:
no one can reach it in time. Tech 1 (North outlet) is idle, some 35 km from B.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

import pytest
from sqlalchemy import delete, func, select, update

from dispatch.jobs import GuardedJobs
from dispatch.models import OrderForecast, RouteStop, WorkOrder
from dispatch.planning import PlanningSettings
from simulation import forecast
from tests.conftest import Auth
from tests.integration.helpers import create_order

FAR_NORTH = {"lat": 34.65, "lon": 108.95}


@pytest.fixture
def now(app):
    return datetime(2026, 3, 4, 10, 0, tzinfo=app.config["TIMEZONE"])  # a Wednesday morning, in the past: tokens live


@pytest.fixture
def planning(app):
    return PlanningSettings(timezone=app.config["TIMEZONE"], horizon_days=1)


@pytest.fixture
def day(client, auth, network, db_session, now):
    headers = auth.token("dispatcher")
    tech2 = network.techs[1]
    made = {}
    for name, place, phone, hours in (
        ("A", {"lat": 34.202, "lon": 108.952}, "13800138001", 20),
        ("B", FAR_NORTH, "13800138002", 3),
        ("C", {**FAR_NORTH, "product_category": "air_conditioner"}, "13800138003", 2),
    ):
        made[name] = (create_order(client, headers, phone=phone, **place)["id"], hours)
    for name, (order_id, hours) in list(made.items()):
        db_session.execute(
            update(WorkOrder)
            .where(WorkOrder.id == order_id)
            .values(created_at=now - timedelta(hours=1), due_at=now + timedelta(hours=hours))
        )
        made[name] = order_id
    db_session.execute(delete(RouteStop))
    for seq, name in enumerate(("A", "B")):
        db_session.execute(
            update(WorkOrder)
            .where(WorkOrder.id == made[name])
            .values(status="assigned", technician_id=tech2.id, version=WorkOrder.version + 1)
        )
        db_session.add(RouteStop(order_id=made[name], technician_id=tech2.id, seq=seq, eta=now))
    db_session.commit()
    return made


def stored(db_session) -> dict[int, float]:
    db_session.expire_all()
    rows = dict(db_session.execute(select(OrderForecast.order_id, OrderForecast.p_miss)).all())
    db_session.rollback()  # SQLite: let go of the database for the next writer
    return rows


def test_the_order_that_cannot_be_reached_in_time_is_the_likeliest_miss(app, db_session, day, now, planning):
    from web.extensions import db

    count = forecast.refresh(db, planning, forecast.ForecastSettings(), now)
    p = stored(db_session)
    assert count == 3 and set(p) == set(day.values())
    assert p[day["C"]] == 1.0  # on no route, and no one has room for it in time
    assert p[day["B"]] > 0.7 and p[day["B"]] == max(p[day["A"]], p[day["B"]])
    assert p[day["A"]] < 0.05  # round the corner, first stop, due tomorrow
    rows = db_session.scalars(select(OrderForecast)).all()
    assert {r.computed_at for r in rows} == {now} and {r.seeds for r in rows} == {50}


def test_the_same_seed_gives_the_same_numbers(app, db_session, day, now, planning):
    from web.extensions import db

    forecast.refresh(db, planning, forecast.ForecastSettings(), now)
    first = stored(db_session)
    forecast.refresh(db, planning, forecast.ForecastSettings(), now)
    assert stored(db_session) == first
    forecast.refresh(db, planning, forecast.ForecastSettings(seed=7), now)
    other = stored(db_session)
    assert other[day["A"]] < 0.05 and other[day["C"]] == 1.0  # another seed: other draws, same picture


def test_the_scheduler_job_stores_the_forecast_and_tells_the_boards(app, auth, client, db_session, day, now, planning):
    from web.extensions import db, socketio

    auth.login("dispatcher")
    board = socketio.test_client(app, flask_test_client=client)
    assert board.is_connected()
    jobs = GuardedJobs(
        db, 30, clock=lambda: now, forecast=partial(forecast.refresh, db, planning, forecast.ForecastSettings())
    )
    try:
        assert jobs.forecast_tick() == 3
    finally:
        jobs.lock.release()  # PostgreSQL: the lock's own connection closes
    heard = [m["args"][0] for m in board.get_received() if m["name"] == "forecast"]
    assert heard == [{"computed_at": now.isoformat()}]
    assert len(stored(db_session)) == 3
    board.disconnect()
    assert GuardedJobs(db, 30, clock=lambda: now).forecast_tick() is None  # no forecast configured: nothing


def test_the_board_reads_the_forecast_likeliest_first_and_in_the_panel(app, client, auth, db_session, day, now):
    from web.extensions import db

    forecast.refresh(
        db, PlanningSettings(timezone=app.config["TIMEZONE"], horizon_days=1), forecast.ForecastSettings(), now
    )
    headers = auth.token("dispatcher")
    body = client.get("/api/forecast", headers=headers).get_json()
    assert [i["order_id"] for i in body["items"]][0] == day["C"]
    assert body["items"][0]["text"] == "100 % likely to miss 24 h"
    assert body["every_minutes"] == 5
    zh = client.get("/api/forecast", headers={**headers, "Accept-Language": "zh"}).get_json()
    assert zh["items"][0]["text"] == "100% 可能超出24小时"
    panel = client.get(f"/api/board/orders/{day['C']}", headers=headers).get_json()
    assert panel["forecast"]["p_miss"] == 1.0 and panel["forecast"]["text"] == "100 % likely to miss 24 h"
    assert panel["forecast"]["computed_text"] == "forecast at 10:00"
    assert client.get("/api/board", headers=headers).get_json()["rules"]["forecast_risk"] == 0.5
    # An outlet's dispatcher reads only the forecast of the orders they may see.
    south = client.get("/api/forecast", headers=Auth(app.test_client()).token("south_dispatcher")).get_json()
    assert {i["order_id"] for i in south["items"]} <= {i["order_id"] for i in zh["items"]}


def test_what_if_another_technician_takes_the_far_order(app, client, auth, network, db_session, day, now, planning):
    from core import clock

    headers = auth.token("dispatcher")
    north, south = network.techs[0].id, network.techs[1].id
    before_rows = stored(db_session)
    with clock.use(lambda: now):
        res = client.post("/api/forecast/what-if", json={"order_id": day["B"], "technician_id": north}, headers=headers)
    assert res.status_code == 200, res.get_json()
    rows = {r["order_id"]: r for r in res.get_json()["orders"]}
    assert day["B"] in rows and rows[day["B"]]["before"] > 0.7 and rows[day["B"]]["after"] < 0.3
    assert res.get_json()["seeds"] == 50
    db_session.expire_all()
    assert db_session.get(WorkOrder, day["B"]).technician_id == south  # nothing written
    assert stored(db_session) == before_rows


def test_what_if_an_extra_technician_up_north(app, client, auth, db_session, day, now):
    from core import clock

    headers = auth.token("dispatcher")
    extra = {"lat": 34.64, "lon": 108.95, "skills": ["air_conditioner"]}
    with clock.use(lambda: now):
        res = client.post("/api/forecast/what-if", json={"extra_technician": extra}, headers=headers)
    assert res.status_code == 200, res.get_json()
    rows = {r["order_id"]: r for r in res.get_json()["orders"]}
    assert rows[day["C"]]["before"] == 1.0 and rows[day["C"]]["after"] < 0.3
    assert day["A"] not in rows  # untouched by the move


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"order_id": 1}, "technician_id"),
        ({}, "order_id"),
        ({"extra_technician": {"lat": 95, "lon": 108.9, "skills": ["x"]}}, "extra_technician"),
        ({"order_id": 1, "technician_id": 1, "extra_technician": {"lat": 1, "lon": 1, "skills": ["x"]}},
         "extra_technician"),
    ],
)  # fmt: skip
def test_what_if_names_the_bad_field(client, auth, network, body, field):
    res = client.post("/api/forecast/what-if", json=body, headers=auth.token("dispatcher"))
    assert 400 <= res.status_code < 500
    assert field in str(res.get_json()["detail"])


def test_what_if_refuses_a_technician_without_the_skill_and_is_for_dispatchers(
    app, client, auth, network, db_session, day, now
):
    from core import clock

    body = {"order_id": day["B"], "technician_id": network.techs[2].id}  # washing machines only
    with clock.use(lambda: now):
        res = client.post("/api/forecast/what-if", json=body, headers=auth.token("dispatcher"))
    assert res.status_code == 400
    assert res.get_json()["detail"]["json"] == {"technician_id": ["the technician lacks the order's skill"]}
    unknown = client.post(
        "/api/forecast/what-if", json={"order_id": 10**6, "technician_id": 1}, headers=auth.token("dispatcher")
    )
    assert unknown.status_code == 400 and "order_id" in unknown.get_json()["detail"]["json"]
    manager = client.post("/api/forecast/what-if", json=body, headers=Auth(app.test_client()).token("manager"))
    assert manager.status_code == 403
    assert db_session.scalar(select(func.count()).select_from(OrderForecast)) == 0
