"""Issue 20 items 3-5 on a real database: an order waiting for a part leaves the route and comes
back on `part_arrived`; ETAs never fall inside a technician's break (instant placement and
re-optimisation, on a controlled clock); a technician who drops out gets their unstarted
orders re-planned as a proposal that applies like any other."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import select

from core.accounts import Actor
from dispatch.lifecycle import Status
from dispatch.models import PartsRequest, RouteStop, WorkOrder, WorkOrderEvent
from dispatch.planning import place_new_order, propose
from dispatch.planning.day import load_day
from tests.clock import now as suite_now
from tests.integration.helpers import create_order

NORTH = (34.331, 108.941)
SOUTH = (34.201, 108.951)


def _auto(app):
    app.config["AUTO_ASSIGN_ON_INTAKE"] = True
    app.extensions.pop("intake_settings", None)


def _tech_move(client, headers, order_id, action):
    version = client.get(f"/api/orders/{order_id}", headers=headers).get_json()["version"]
    r = client.post(
        f"/api/tech/orders/{order_id}/actions", json={"action": action, "version": version}, headers=headers
    )
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def _local_today(app):
    return suite_now().astimezone(app.config["TIMEZONE"]).date()


# --- waiting for parts ----------------------------------------------------------------------


def test_an_order_waiting_for_a_part_leaves_the_route_and_comes_back_when_it_arrives(
    app, client, network, auth, db_session
):
    _auto(app)
    dispatcher, tech1 = auth.token("dispatcher"), auth.token("tech1")
    order = create_order(client, dispatcher, lat=NORTH[0], lon=NORTH[1])
    assert order["technician"]["id"] == network.techs[0].id
    for action in ("accept", "depart", "arrive"):
        on_site = _tech_move(client, tech1, order["id"], action)
    expected = _local_today(app) + timedelta(days=2)
    body = {
        "version": on_site["version"],
        "part": "温控器 thermostat",
        "quantity": 1,
        "expected_on": expected.isoformat(),
    }
    r = client.post(
        f"/api/tech/orders/{order['id']}/part-request", json=body, headers={**tech1, "Idempotency-Key": "part-1"}
    )
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "waiting_parts" and r.get_json()["technician"] is None
    # a replay from the phone's offline queue changes nothing (the order is out of the technician's sight now)
    again = client.post(
        f"/api/tech/orders/{order['id']}/part-request", json=body, headers={**tech1, "Idempotency-Key": "part-1"}
    )
    assert again.status_code == 200 and again.get_json()["version"] == r.get_json()["version"]

    db_session.expire_all()
    assert db_session.get(RouteStop, order["id"]) is None, "off the route"
    request = db_session.scalars(select(PartsRequest).where(PartsRequest.order_id == order["id"])).one()
    assert (request.part, request.quantity, request.expected_on, request.visit) == ("温控器 thermostat", 1, expected, 1)
    request_id = request.id
    db_session.rollback()  # end the read: SQLite lets one writer at a time
    assert order["id"] not in [i["id"] for i in client.get("/api/tech/today", headers=tech1).get_json()["items"]]
    day = load_day(db_session, _settings(app), suite_now().astimezone(app.config["TIMEZONE"]))
    db_session.rollback()
    assert order["id"] not in day.jobs, "no plan places an order whose part has not come"
    queue = client.get("/api/parts/waiting", headers=dispatcher).get_json()["items"]
    assert [(q["order_id"], q["part"], q["expected_on"]) for q in queue] == [
        (order["id"], "温控器 thermostat", expected.isoformat())
    ]
    # the customer's tracking page says so, with the day as their language writes it
    from dispatch.customer import reissue_tracking_link

    token_, _ = reissue_tracking_link(db_session, order["id"], Actor.system())
    db_session.rollback()
    for lang, words in (("zh", ("正在等待配件", f"{expected.month}月{expected.day}日")),
                        ("en", ("Waiting for a part", f"{expected.strftime('%b')} {expected.day}"))):  # fmt: skip
        html = client.get(f"/t/{token_}", headers={"Accept-Language": lang}).get_data(as_text=True)
        assert all(w in html for w in words), (lang, words)
    # a new order nearby goes to the technician as if the waiting one were not there
    other = create_order(client, dispatcher, phone="13900139001", lat=NORTH[0], lon=NORTH[1])
    assert other["technician"]["id"] == network.techs[0].id
    db_session.rollback()  # reading the technician's id began a transaction: end it

    version = client.get(f"/api/orders/{order['id']}", headers=dispatcher).get_json()["version"]
    back = client.post(f"/api/orders/{order['id']}/part-arrived", json={"version": version}, headers=dispatcher)
    assert back.status_code == 200, back.get_json()
    out = back.get_json()
    assert out["placed"] and out["order"]["status"] == "assigned" and out["eta"]
    assert out["order"]["visit_count"] == 2, "the follow-up is a visit like a second one"
    db_session.expire_all()
    assert db_session.get(RouteStop, order["id"]) is not None, "back on a route"
    assert db_session.get(PartsRequest, request_id).arrived_at is not None
    kinds = db_session.scalars(
        select(WorkOrderEvent.kind).where(WorkOrderEvent.order_id == order["id"]).order_by(WorkOrderEvent.seq)
    ).all()
    assert [k for k in kinds if k != "tracking_link"][-3:] == ["need_part", "part_arrived", "assign"]
    db_session.rollback()
    assert client.get("/api/parts/waiting", headers=dispatcher).get_json()["items"] == []


def test_a_part_request_names_each_bad_field(app, client, network, auth):
    _auto(app)
    dispatcher, tech1 = auth.token("dispatcher"), auth.token("tech1")
    order = create_order(client, dispatcher, lat=NORTH[0], lon=NORTH[1])
    for action in ("accept", "depart", "arrive"):
        on_site = _tech_move(client, tech1, order["id"], action)
    yesterday = (_local_today(app) - timedelta(days=1)).isoformat()
    body = {"version": on_site["version"], "part": "  ", "quantity": 1, "expected_on": yesterday}
    r = client.post(f"/api/tech/orders/{order['id']}/part-request", json=body, headers=tech1)
    assert r.status_code == 400
    assert set(r.get_json()["detail"]["json"]) == {"part", "expected_on"}, r.get_json()
    # the generic transition cannot skip the part
    r = client.post(
        f"/api/orders/{order['id']}/transitions", json={"action": "need_part", "version": on_site["version"]},
        headers=tech1,
    )  # fmt: skip
    assert r.status_code == 400 and "part" in str(r.get_json())
    # an order that waits for nothing: part_arrived is a conflict
    r = client.post(f"/api/orders/{order['id']}/part-arrived", json={"version": on_site["version"]}, headers=dispatcher)
    assert r.status_code == 409


# --- breaks -----------------------------------------------------------------------------------


def _settings(app):
    from web.wiring import planning_settings

    with app.app_context():
        return planning_settings()


def _morning(app):
    """09:00 today in the service area: the controlled clock of the break tests (the orders
    are due a day after they were made, so no lateness pulls one onto another route)."""
    tz = app.config["TIMEZONE"]
    return datetime.combine(_local_today(app), time(9, 0), tzinfo=tz)


WINDOW = (time(11, 0), time(14, 0))
BREAK_MIN = 60


def _give_north_a_break(db_session, network):
    from technicians.network import update_outlet

    update_outlet(
        db_session, network.north.id,
        {"break_start": WINDOW[0], "break_end": WINDOW[1], "break_minutes": BREAK_MIN}, actor_id=None,
    )  # fmt: skip


def _has_break(visits, service_s, day_start):
    """Whether the timed visits (arrival datetimes, in order) leave a whole break inside the
    window between two of them, and no visit inside it: the property the customer relies on."""
    w0 = day_start.replace(hour=WINDOW[0].hour)
    w1 = day_start.replace(hour=WINDOW[1].hour)
    length = timedelta(minutes=BREAK_MIN)
    for a, b in zip(visits, visits[1:], strict=False):
        free_from, free_to = max(a + timedelta(seconds=service_s), w0), min(b, w1)
        if free_to - free_from >= length:
            return True
    return False


def _north_orders(client, headers, n):
    # spread a little around the North outlet, so the route has real legs
    return [
        create_order(client, headers, phone=f"139001390{i:02d}", lat=NORTH[0] + 0.002 * i, lon=NORTH[1] + 0.001 * i)
        for i in range(n)
    ]


def test_instant_placement_never_puts_an_eta_inside_the_break(app, client, network, auth, db_session):
    _give_north_a_break(db_session, network)
    headers = auth.token("dispatcher")  # auto-assignment off: the orders are placed on the controlled clock
    orders = _north_orders(client, headers, 8)
    settings, now = _settings(app), _morning(app)
    for o in orders:
        outcome = place_new_order(db_session, o["id"], settings, now)
        assert not isinstance(outcome, str), outcome
        assert outcome.technician_id == network.techs[0].id
    db_session.expire_all()
    stops = db_session.scalars(
        select(RouteStop).where(RouteStop.technician_id == network.techs[0].id).order_by(RouteStop.seq)
    ).all()
    assert len(stops) == 8
    etas = [s.eta for s in stops]
    service = 60 * settings.service_minutes["repair"]
    assert etas[-1] > now.replace(hour=14), "the day runs past the break window: the break must be inside it"
    assert _has_break(etas, service, now), [e.astimezone(now.tzinfo).strftime("%H:%M") for e in etas]


def test_a_reoptimised_plan_keeps_the_break_too(app, client, network, auth, db_session):
    _give_north_a_break(db_session, network)
    headers = auth.token("dispatcher")
    orders = _north_orders(client, headers, 8)
    settings, now = _settings(app), _morning(app)
    proposal = propose(db_session, settings, Actor(user_id=network.dispatcher.id, role="dispatcher"), time_limit_s=2,
                       now=now)  # fmt: skip
    route = proposal.payload["routes"][str(network.techs[0].id)]
    assert sorted(route) == sorted(o["id"] for o in orders)
    etas = [datetime.fromisoformat(proposal.payload["etas"][str(oid)]) for oid in route]
    assert _has_break(etas, 60 * settings.service_minutes["repair"], now)


def test_without_a_break_the_same_day_has_no_hour_free(app, client, network, auth, db_session):
    """The property above is not true by accident: without the break the visits follow each other."""
    headers = auth.token("dispatcher")
    orders = _north_orders(client, headers, 8)
    settings, now = _settings(app), _morning(app)
    for o in orders:
        place_new_order(db_session, o["id"], settings, now)
    db_session.expire_all()
    etas = [
        s.eta
        for s in db_session.scalars(
            select(RouteStop).where(RouteStop.technician_id == network.techs[0].id).order_by(RouteStop.seq)
        )
    ]
    assert not _has_break(etas, 60 * settings.service_minutes["repair"], now)


# --- a technician drops out -------------------------------------------------------------------


def test_a_dropped_out_technicians_unstarted_orders_get_a_proposal(app, client, network, auth, db_session):
    _auto(app)
    dispatcher, tech2 = auth.token("dispatcher"), auth.token("tech2")
    orders = [create_order(client, dispatcher, phone=f"1390013910{i}", lat=SOUTH[0], lon=SOUTH[1]) for i in range(3)]
    assert {o["technician"]["id"] for o in orders} == {network.techs[1].id}
    _tech_move(client, tech2, orders[0]["id"], "accept")  # accepted, not started: still re-planned

    r = client.post(
        f"/api/technicians/{network.techs[1].id}/drop-out", json={"reason": "sick", "time_limit_s": 1},
        headers=dispatcher,
    )  # fmt: skip
    assert r.status_code == 201, r.get_json()
    plan = r.get_json()
    moves = {m["order_id"]: (m["from"], m["to"]) for m in plan["diff"]["moves"]}
    assert moves == {o["id"]: (network.techs[1].id, network.techs[0].id) for o in orders}, plan
    db_session.expire_all()
    assert {db_session.get(WorkOrder, o["id"]).technician_id for o in orders} == {network.techs[1].id}, "a proposal"
    db_session.rollback()

    applied = client.post(f"/api/plans/{plan['id']}/apply", json={}, headers=dispatcher).get_json()
    assert sorted(applied["applied"]) == sorted(o["id"] for o in orders), applied
    db_session.expire_all()
    rows = [db_session.get(WorkOrder, o["id"]) for o in orders]
    assert {(w.technician_id, w.status) for w in rows} == {(network.techs[0].id, Status.ASSIGNED.value)}
    db_session.rollback()
    # and they are offered no new work today (after the shifts, a new order waits for a later
    # day, and then the dropped-out technician, back by then, may well be the nearest)
    later = create_order(client, dispatcher, phone="13900139200", lat=SOUTH[0], lon=SOUTH[1])
    if later["technician"]["id"] == network.techs[1].id:
        stop = db_session.scalar(select(RouteStop).where(RouteStop.order_id == later["id"]))
        assert stop.eta.astimezone(app.config["TIMEZONE"]).date() > _local_today(app), later
    else:
        assert later["technician"]["id"] == network.techs[0].id, later


def test_a_drop_out_names_a_bad_reason_and_stays_in_the_dispatchers_outlet(client, network, auth):
    south = auth.token("south_dispatcher")
    r = client.post(f"/api/technicians/{network.techs[1].id}/drop-out", json={"reason": "bored"}, headers=south)
    assert r.status_code == 400 and "reason" in str(r.get_json())
    r = client.post(f"/api/technicians/{network.techs[0].id}/drop-out", json={"reason": "sick"}, headers=south)
    assert r.status_code == 403


@pytest.fixture(autouse=True)
def _fresh_settings(app):
    app.extensions.pop("planning_settings", None)


def test_the_timeline_shows_each_working_days_break_window(app, client, network, auth, db_session):
    _give_north_a_break(db_session, network)
    north_tech = network.techs[0].id
    db_session.rollback()
    body = client.get("/api/timeline?days=2", headers=auth.token("dispatcher")).get_json()
    rows = {r["id"]: r for r in body["rows"]}
    tz = app.config["TIMEZONE"]
    breaks = rows[north_tech]["breaks"]
    assert len(breaks) == 2 and {b["minutes"] for b in breaks} == {BREAK_MIN}
    first = datetime.fromisoformat(breaks[0]["start"]).astimezone(tz)
    assert (first.hour, first.minute) == (11, 0)
    assert all(r["breaks"] == [] for tid, r in rows.items() if tid != north_tech), "the South outlet has no break"


def test_a_dispatcher_marks_a_technician_out_from_the_technicians_page(app, client, network, auth, db_session):
    """The technician's own page has the drop-out form: it produces the proposal and opens the
    board on it; the page then says since when they are out (issue 20)."""
    from tests.conftest import _csrf_from

    _auto(app)
    dispatcher = auth.token("dispatcher")
    orders = [create_order(client, dispatcher, phone=f"1390013920{i}", lat=SOUTH[0], lon=SOUTH[1]) for i in range(2)]
    assert {o["technician"]["id"] for o in orders} == {network.techs[1].id}
    auth.login("dispatcher")
    page = client.get(f"/admin/technicians/{network.techs[1].id}")
    html = page.get_data(as_text=True)
    url = f"/admin/technicians/{network.techs[1].id}/drop-out"
    assert f'action="{url}"' in html and 'value="vehicle"' in html
    token = _csrf_from(html)
    bad = client.post(url, data={"reason": "bored", "csrf_token": token})
    assert bad.status_code == 400 and "Pick one of the reasons" in bad.get_data(as_text=True)
    done = client.post(url, data={"reason": "vehicle", "csrf_token": token})
    assert done.status_code == 302 and "/board?plan=" in done.headers["Location"]
    plan_id = int(done.headers["Location"].rsplit("=", 1)[1])
    plan = client.get(f"/api/plans/{plan_id}", headers=dispatcher).get_json()
    assert plan["dropped_technician_id"] == network.techs[1].id
    assert sorted(plan["released"]) == sorted(o["id"] for o in orders)
    assert {m["to"] for m in plan["diff"]["moves"]} == {network.techs[0].id}
    after = client.get(f"/admin/technicians/{network.techs[1].id}").get_data(as_text=True)
    assert 'data-testid="out-today"' in after and "Vehicle broken down" in after
    assert f'action="{url}"' not in after


def test_only_a_dispatcher_of_the_outlet_marks_a_technician_out_from_the_page(client, network, auth):
    from tests.conftest import _csrf_from

    auth.login("south_dispatcher")
    html = client.get(f"/admin/technicians/{network.techs[0].id}").get_data(as_text=True)
    assert "/drop-out" not in html
    r = client.post(
        f"/admin/technicians/{network.techs[0].id}/drop-out", data={"reason": "sick", "csrf_token": _csrf_from(html)}
    )
    assert r.status_code == 403
