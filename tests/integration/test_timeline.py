"""The board's timeline: the technicians' days as data (`GET /api/timeline`), a drop on them
(`POST /api/orders/<id>/placement`) and pinning (`POST /api/orders/<id>/pin`)."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from dispatch.models import RouteStop, WorkOrder, WorkOrderEvent
from tests.clock import local_today
from tests.integration.helpers import act, create_order

SOUTH = (34.201, 108.951)
NEAR_SOUTH = (34.205, 108.955)


@pytest.fixture
def dispatcher(app, network, auth):
    app.config["AUTO_ASSIGN_ON_INTAKE"] = True
    app.extensions.pop("intake_settings", None)
    return auth.token("dispatcher")


def unassigned_order(app, client, headers, point=SOUTH, **extra) -> dict:
    """An order that waits in the queue (no instant assignment)."""
    app.config["AUTO_ASSIGN_ON_INTAKE"] = False
    app.extensions.pop("intake_settings", None)
    try:
        return create_order(client, headers, lat=point[0], lon=point[1], **extra)
    finally:
        app.config["AUTO_ASSIGN_ON_INTAKE"] = True
        app.extensions.pop("intake_settings", None)


def route_of(db_session, tech_id: int) -> list[int]:
    """The technician's stops in visiting order (the read ends its transaction: on SQLite an
    open one would hold the database's write lock against the app)."""
    db_session.expire_all()
    stops = select(RouteStop.order_id).where(RouteStop.technician_id == tech_id).order_by(RouteStop.seq)
    route = list(db_session.scalars(stops))
    db_session.rollback()
    return route


def place(client, headers, order: dict, tech_id: int, before: int | None = None, **extra):
    body = {"technician_id": tech_id, "before_order_id": before, "version": order["version"], **extra}
    return client.post(f"/api/orders/{order['id']}/placement", json=body, headers=headers)


def test_an_unassigned_order_dropped_before_a_stop_is_assigned_at_that_place(
    app, client, dispatcher, network, db_session
):
    south = network.techs[1].id
    first = create_order(client, dispatcher, lat=SOUTH[0], lon=SOUTH[1])
    second = create_order(client, dispatcher, phone="13900139000", lat=NEAR_SOUTH[0], lon=NEAR_SOUTH[1])
    head, tail = route_of(db_session, south)
    assert {head, tail} == {first["id"], second["id"]}
    waiting = unassigned_order(app, client, dispatcher, phone="13700137000")
    assert waiting["status"] == "new"

    response = place(client, dispatcher, waiting, south, before=tail)

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["order"]["status"] == "assigned" and body["order"]["technician"]["id"] == south
    assert body["order"]["assignment_locked"], "a dispatcher's drop holds the order where it was put"
    assert [s["order_id"] for s in body["route"]] == [head, waiting["id"], tail]
    etas = [datetime.fromisoformat(s["eta"]) for s in body["route"]]
    assert etas == sorted(etas), "the new ETAs follow the new order of visits"
    assert route_of(db_session, south) == [head, waiting["id"], tail]
    event = db_session.scalars(
        select(WorkOrderEvent).where(WorkOrderEvent.order_id == waiting["id"], WorkOrderEvent.kind == "assign")
    ).one()
    assert event.data["position"] == 1 and event.actor_role == "dispatcher"


def test_a_stop_dropped_earlier_in_its_own_row_is_re_sequenced_and_keeps_its_status(
    client, dispatcher, network, db_session, auth
):
    south = network.techs[1].id
    first = create_order(client, dispatcher, lat=SOUTH[0], lon=SOUTH[1])
    second = create_order(client, dispatcher, phone="13900139000", lat=NEAR_SOUTH[0], lon=NEAR_SOUTH[1])
    head, tail = route_of(db_session, south)
    last = first if tail == first["id"] else second
    accepted = act(client, auth.token("tech2"), last, "accept").get_json()
    assert accepted["status"] == "accepted"

    response = place(client, dispatcher, accepted, south, before=head)

    assert response.status_code == 200, response.get_json()
    order = response.get_json()["order"]
    assert order["status"] == "accepted", "re-sequencing is no reassignment: the technician's acceptance stands"
    assert order["version"] == accepted["version"] + 1
    assert route_of(db_session, south) == [tail, head]
    kinds = db_session.scalars(select(WorkOrderEvent.kind).where(WorkOrderEvent.order_id == tail)).all()
    assert kinds[-1] == "resequence"


def test_a_drop_on_a_technician_without_the_skill_is_refused_with_the_reason_and_changes_nothing(
    app, client, dispatcher, network, db_session
):
    waiting = unassigned_order(app, client, dispatcher)
    washing_machines_only = network.techs[2].id

    response = place(client, dispatcher, waiting, washing_machines_only)
    chinese = place(client, {**dispatcher, "Accept-Language": "zh-CN"}, waiting, washing_machines_only)

    assert response.status_code == 422
    assert response.get_json()["reason"] == "skill"
    assert response.get_json()["message"] == "Tech 3 lacks the skill Water heater"
    assert chinese.status_code == 422 and chinese.get_json()["message"] == "Tech 3 不具备“热水器”技能"
    db_session.expire_all()
    order = db_session.get(WorkOrder, waiting["id"])
    assert (order.status, order.technician_id, order.version) == ("new", None, waiting["version"])
    assert route_of(db_session, washing_machines_only) == []


def test_a_drop_made_from_a_stale_version_is_a_conflict_with_the_current_version(
    app, client, dispatcher, network, db_session
):
    waiting = unassigned_order(app, client, dispatcher)
    moved = act(client, dispatcher, waiting, "assign", technician_id=network.techs[0].id).get_json()

    response = place(client, dispatcher, waiting, network.techs[1].id)

    assert response.status_code == 409
    assert response.get_json()["current_version"] == moved["version"]
    db_session.expire_all()
    assert db_session.get(WorkOrder, waiting["id"]).technician_id == network.techs[0].id
    assert route_of(db_session, network.techs[1].id) == []


def test_a_reassignment_closes_up_the_day_the_order_left(app, client, dispatcher, network, db_session):
    south, north = network.techs[1].id, network.techs[0].id
    first = create_order(client, dispatcher, lat=SOUTH[0], lon=SOUTH[1])
    second = create_order(client, dispatcher, phone="13900139000", lat=NEAR_SOUTH[0], lon=NEAR_SOUTH[1])
    head, tail = route_of(db_session, south)
    leaving = first if head == first["id"] else second
    before = db_session.get(RouteStop, tail).eta
    db_session.rollback()

    response = place(client, dispatcher, leaving, north)

    assert response.status_code == 200, response.get_json()
    assert route_of(db_session, north) == [head]
    assert route_of(db_session, south) == [tail]
    assert db_session.get(RouteStop, tail).eta < before, "the next stop moves up into the freed time"


def test_the_timeline_has_a_row_per_technician_in_scope_and_a_block_per_planned_stop(client, dispatcher, network, auth):
    order = create_order(client, dispatcher, lat=SOUTH[0], lon=SOUTH[1])

    everyone = client.get("/api/timeline", headers=dispatcher).get_json()
    south_only = client.get("/api/timeline?days=2", headers=auth.token("south_dispatcher")).get_json()

    assert [r["name"] for r in everyone["rows"]] == ["Tech 1", "Tech 2", "Tech 3"]
    assert [r["name"] for r in south_only["rows"]] == ["Tech 2", "Tech 3"]
    assert all(len(r["shifts"]) == 2 for r in south_only["rows"]), "one shift a day asked for"
    (stop,) = everyone["stops"]
    assert (stop["order_id"], stop["technician_id"], stop["number"]) == (
        order["id"],
        network.techs[1].id,
        order["number"],
    )
    start, end = datetime.fromisoformat(stop["start"]), datetime.fromisoformat(stop["end"])
    assert (end - start).total_seconds() == 45 * 60, "a water heater repair takes the repair's service minutes"
    assert datetime.fromisoformat(stop["travel_start"]) <= datetime.fromisoformat(stop["arrival"]) <= start
    assert stop["late"] is False and stop["pinned"] is False


def test_the_timeline_refuses_a_range_beyond_the_planning_horizon(client, dispatcher):
    response = client.get("/api/timeline?days=30", headers=dispatcher)
    assert response.status_code == 400 and "days" in str(response.get_json()["detail"])


def test_a_pinned_order_is_held_and_an_unpinned_one_released(client, dispatcher, network, db_session):
    order = create_order(client, dispatcher, lat=SOUTH[0], lon=SOUTH[1])
    assert not order["assignment_locked"]

    pinned = client.post(f"/api/orders/{order['id']}/pin", json={"pinned": True, "version": order["version"]},
                         headers=dispatcher).get_json()  # fmt: skip
    released = client.post(f"/api/orders/{order['id']}/pin", json={"pinned": False, "version": pinned["version"]},
                           headers=dispatcher).get_json()  # fmt: skip

    assert pinned["assignment_locked"] and not released["assignment_locked"]
    kinds = db_session.scalars(select(WorkOrderEvent.kind).where(WorkOrderEvent.order_id == order["id"])).all()
    assert kinds[-2:] == ["pin", "unpin"]


def test_a_drop_on_a_full_technician_is_refused_as_no_room_left(app, client, dispatcher, network, db_session):
    from technicians.network import update_technician

    update_technician(db_session, network.techs[1].id, {"daily_capacity": 1}, actor_id=None)
    create_order(client, dispatcher, lat=SOUTH[0], lon=SOUTH[1])  # takes the one place
    waiting = unassigned_order(app, client, dispatcher, phone="13700137000")

    response = place(client, dispatcher, waiting, network.techs[1].id)

    assert response.status_code == 422
    assert response.get_json()["reason"] == "capacity"
    assert response.get_json()["message"] == "Tech 2 has no room left today (daily capacity 1)"


def test_a_drop_on_a_technician_on_leave_is_refused_as_off_duty(app, client, dispatcher, network, db_session):
    from datetime import timedelta

    from technicians.network import add_leave

    today = local_today()
    add_leave(db_session, network.techs[0].id, today - timedelta(days=1), today + timedelta(days=1), actor_id=None)
    waiting = unassigned_order(app, client, dispatcher)

    response = place(client, dispatcher, waiting, network.techs[0].id)

    assert response.status_code == 422 and response.get_json()["reason"] == "off_duty"


NORTH = (34.34, 108.94)


def _order_events(sio) -> list[dict]:
    return [m["args"][0] for m in sio.get_received() if m["name"] == "order_event"]


def test_a_drop_s_event_carries_the_rows_it_changed_each_board_its_own_outlet_s_and_no_phone_any(
    app, client, dispatcher, network, auth
):
    """What a board needs to redraw the rows a drop changed comes with the drop's event (no
    second read of the timeline), under the timeline's own rule: a board of one outlet gets its
    own technicians' rows only, and a technician's phone gets none."""
    from tests.conftest import Auth
    from web.extensions import socketio

    north, south = network.techs[0].id, network.techs[1].id
    moving = create_order(client, dispatcher, lat=NORTH[0], lon=NORTH[1])
    staying = create_order(client, dispatcher, phone="13900139000", lat=SOUTH[0], lon=SOUTH[1])
    assert (moving["technician"]["id"], staying["technician"]["id"]) == (north, south)
    sockets = {}
    for name in ("dispatcher", "south_dispatcher", "tech2"):
        c = app.test_client()
        Auth(c).login(name)
        sockets[name] = socketio.test_client(app, flask_test_client=c)
    try:
        response = place(client, dispatcher, moving, south, before=staying["id"])
        assert response.status_code == 200, response.get_json()
        (everyone,) = [e for e in _order_events(sockets["dispatcher"]) if e["event"]["kind"] == "assign"]
        (south_board,) = [e for e in _order_events(sockets["south_dispatcher"]) if e["event"]["kind"] == "assign"]
        (phone,) = [e for e in _order_events(sockets["tech2"]) if e["event"]["kind"] == "assign"]
    finally:
        for sio in sockets.values():
            sio.disconnect()

    days = everyone["timeline"]
    assert sorted(r["id"] for r in days["rows"]) == sorted([north, south]), "the row it left and the one it joined"
    route = [(s["technician_id"], s["order_id"]) for s in sorted(days["stops"], key=lambda s: s["seq"])]
    assert route == [(south, moving["id"]), (south, staying["id"])], "dropped before the stop it was dropped on"
    first = days["stops"][0] if days["stops"][0]["order_id"] == moving["id"] else days["stops"][1]
    assert datetime.fromisoformat(first["start"]) < datetime.fromisoformat(first["end"])
    assert first["pinned"] is True and first["version"] == response.get_json()["order"]["version"]
    assert days["days"] >= 1 and days["first_day"]

    assert [r["id"] for r in south_board["timeline"]["rows"]] == [south], "another outlet's technician stays out"
    assert {s["technician_id"] for s in south_board["timeline"]["stops"]} == {south}
    assert "timeline" not in phone


def test_a_pin_s_event_carries_the_row_with_the_visit_pinned(app, client, dispatcher, network):
    from tests.conftest import Auth
    from web.extensions import socketio

    order = create_order(client, dispatcher, lat=SOUTH[0], lon=SOUTH[1])
    board_client = app.test_client()
    Auth(board_client).login("dispatcher")
    board = socketio.test_client(app, flask_test_client=board_client)
    try:
        pinned = client.post(f"/api/orders/{order['id']}/pin", json={"pinned": True, "version": order["version"]},
                             headers=dispatcher)  # fmt: skip
        assert pinned.status_code == 200, pinned.get_json()
        (event,) = [e for e in _order_events(board) if e["event"]["kind"] == "pin"]
    finally:
        board.disconnect()
    (stop,) = event["timeline"]["stops"]
    assert stop["order_id"] == order["id"] and stop["pinned"] is True


def _local_today(app):
    from core.db import utcnow

    return utcnow().astimezone(app.config["TIMEZONE"]).date()


@pytest.fixture
def day_shifts(db_session, network):
    """08:00–20:00: with the network's 00:00–23:59 shifts tomorrow's first visit starts at midnight,
    a rounding away from today's date."""
    from datetime import time

    from technicians.network import update_technician

    for tech in network.techs:
        update_technician(db_session, tech.id, {"shift_start": time(8), "shift_end": time(20)}, actor_id=None)


def test_an_order_dropped_on_tomorrow_goes_on_tomorrows_route(app, client, dispatcher, network, db_session, day_shifts):
    from datetime import timedelta

    south = network.techs[1].id
    tomorrow = _local_today(app) + timedelta(days=1)
    waiting = unassigned_order(app, client, dispatcher)

    response = place(client, dispatcher, waiting, south, day=tomorrow.isoformat())

    assert response.status_code == 200, response.get_json()
    db_session.expire_all()
    stop = db_session.get(RouteStop, waiting["id"])
    assert stop.technician_id == south
    assert stop.eta.astimezone(app.config["TIMEZONE"]).date() == tomorrow
    db_session.rollback()
    day = client.get(f"/api/timeline?date={tomorrow.isoformat()}", headers=dispatcher).get_json()
    assert [s["order_id"] for s in day["stops"]] == [waiting["id"]], "on tomorrow's row of the timeline"


def test_a_visit_moved_to_another_technicians_day_leaves_no_stop_on_the_first(
    app, client, dispatcher, network, db_session, day_shifts
):
    from datetime import timedelta

    north, south = network.techs[0].id, network.techs[1].id
    tomorrow = _local_today(app) + timedelta(days=1)
    waiting = unassigned_order(app, client, dispatcher)
    first = place(client, dispatcher, waiting, south, day=tomorrow.isoformat()).get_json()

    response = place(client, dispatcher, first["order"], north, day=tomorrow.isoformat())

    assert response.status_code == 200, response.get_json()
    assert route_of(db_session, south) == [], "nothing left on the day it left"
    assert route_of(db_session, north) == [waiting["id"]]


def test_a_drop_beyond_the_planning_horizon_is_refused_naming_the_day(app, client, dispatcher, network):
    from datetime import timedelta

    waiting = unassigned_order(app, client, dispatcher)
    far = _local_today(app) + timedelta(days=20)

    response = place(client, dispatcher, waiting, network.techs[1].id, day=far.isoformat())

    assert response.status_code == 400
    assert "day" in response.get_json()["detail"]["json"], response.get_json()
