"""Appointment slots the plan can keep: offered only where a technician-day can honour them,
booked under the technician-day's lock (controlled clock: `now` is given)."""

from __future__ import annotations

import threading
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import update

from dispatch.models import WorkOrder
from dispatch.planning import PlanningSettings, SlotTaken, book_slot, slots_for_draft, slots_for_order
from technicians.network import update_technician
from tests.integration.helpers import create_order

SOUTH = {"lat": 34.201, "lon": 108.951}


@pytest.fixture
def settings(app):
    return PlanningSettings(timezone=app.config["TIMEZONE"], horizon_days=3)


@pytest.fixture
def one_technician(db_session, network):
    """Tech 2 alone, 09:00–17:00, room for one order a day."""
    update_technician(
        db_session, network.techs[1].id, {"shift_start": time(9), "shift_end": time(17), "daily_capacity": 1},
        actor_id=None,
    )  # fmt: skip
    for tech in (network.techs[0], network.techs[2]):
        update_technician(db_session, tech.id, {"active": False}, actor_id=None)
    return network.techs[1]


def _evening(settings) -> datetime:
    return datetime(2030, 3, 6, 18, 0, tzinfo=settings.timezone)


def _new_order(client, auth, db_session, now, **extra) -> int:
    order = create_order(client, auth.token("dispatcher"), **{**SOUTH, **extra})
    db_session.execute(
        update(WorkOrder).where(WorkOrder.id == order["id"]).values(created_at=now, due_at=now + timedelta(hours=40))
    )
    db_session.commit()
    return order["id"]


def test_slots_are_two_hour_windows_within_shifts_labelled_and_cheapest_first(
    client, auth, db_session, settings, one_technician
):
    now = _evening(settings)
    slots = slots_for_order(db_session, _new_order(client, auth, db_session, now), settings, now)
    local = [(s.start.astimezone(settings.timezone), s.end.astimezone(settings.timezone)) for s in slots]
    assert local and all(e - s == timedelta(hours=2) for s, e in local)
    assert all(time(9) <= s.time() and e.time() <= time(17) for s, e in local)
    assert {s.date() for s, _ in local} <= {now.date() + timedelta(days=1), now.date() + timedelta(days=2)}
    assert max(s for s, _ in local) < now + timedelta(hours=40)  # never past the order's due time
    assert [s.cost_m for s in slots] == sorted(s.cost_m for s in slots)
    assert slots[0].label == "best" and {s.label for s in slots} <= {"best", "good", "possible"}


def test_slots_for_a_skill_nobody_has_are_none(db_session, settings, one_technician):
    from technicians.models import Skill

    db_session.add(Skill(code="refrigerator", name_en="Refrigerator", name_zh="冰箱"))
    db_session.commit()
    now = _evening(settings)
    draft = slots_for_draft(db_session, settings, lat=SOUTH["lat"], lon=SOUTH["lon"], skill="refrigerator", now=now)
    assert draft == []
    served = slots_for_draft(db_session, settings, lat=SOUTH["lat"], lon=SOUTH["lon"], skill="water_heater", now=now)
    assert served, "the same place with a skill someone has gets slots"


def test_a_booked_slot_becomes_the_hard_window_and_the_day_fills(client, auth, db_session, settings, one_technician):
    now = _evening(settings)
    order_id = _new_order(client, auth, db_session, now)
    slot = slots_for_order(db_session, order_id, settings, now)[0]
    placed = book_slot(db_session, order_id, slot.start, settings, now)
    assert slot.start <= placed.eta <= slot.end
    db_session.expire_all()
    order = db_session.get(WorkOrder, order_id)
    assert (order.appointment_start, order.appointment_end, order.status) == (slot.start, slot.end, "assigned")
    db_session.rollback()
    other = _new_order(client, auth, db_session, now, phone="13900139000")
    left = slots_for_order(db_session, other, settings, now)
    assert slot.start.date() not in {s.start.date() for s in left}  # that day is full now


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # real concurrent writers
def test_two_customers_cannot_both_get_the_last_place_of_a_day(
    app, client, auth, db_session, settings, one_technician, database_url
):
    from web.extensions import db

    now = _evening(settings)
    orders = [_new_order(client, auth, db_session, now, phone=f"1390013900{i}") for i in range(2)]
    slot = slots_for_order(db_session, orders[0], settings, now)[0]
    same_day = [s for s in slots_for_order(db_session, orders[1], settings, now) if s.start == slot.start]
    assert same_day, "both are offered the same last place"
    barrier = threading.Barrier(2)
    outcomes: dict[int, object] = {}

    def book(order_id: int) -> None:
        with app.app_context():
            session = db.new_session()
            try:
                barrier.wait()
                outcomes[order_id] = book_slot(session, order_id, slot.start, settings, now)
            except SlotTaken as taken:
                outcomes[order_id] = taken
            finally:
                session.close()

    threads = [threading.Thread(target=book, args=(oid,)) for oid in orders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    taken = [o for o in outcomes.values() if isinstance(o, SlotTaken)]
    booked = [o for o in outcomes.values() if not isinstance(o, SlotTaken)]
    assert len(booked) == 1 and len(taken) == 1, outcomes
    assert slot.start.date() not in {s.start.date() for s in taken[0].slots}  # the fresh list
    assert taken[0].slots, "the other days still have room"


def test_the_api_lists_and_books_slots_and_answers_409_with_a_fresh_list(
    app, client, auth, db_session, settings, one_technician
):
    headers = auth.token("dispatcher")
    order = create_order(client, headers, **SOUTH)
    listed = client.get(f"/api/orders/{order['id']}/slots", headers=headers)
    assert listed.status_code == 200, listed.get_json()
    items = listed.get_json()["items"]
    assert items and {"start", "end", "label", "cost_km"} <= set(items[0])
    booked = client.post(f"/api/orders/{order['id']}/slots", json={"start": items[0]["start"]}, headers=headers)
    assert booked.status_code == 200, booked.get_json()
    # A time not on offer (any more): 409 with the fresh list. (The same slot again is on
    # offer: a placed order's slots are ranked without its own place.)
    gone = (datetime.fromisoformat(items[0]["start"]) + timedelta(minutes=1)).isoformat()
    again = client.post(f"/api/orders/{order['id']}/slots", json={"start": gone}, headers=headers)
    assert again.status_code == 409 and "slots" in again.get_json()
    draft = client.post("/api/slots", json={"lat": SOUTH["lat"], "lon": SOUTH["lon"], "skill": "water_heater"})
    assert draft.status_code == 200 and isinstance(draft.get_json()["items"], list)
    bad = client.post("/api/slots", json={"lat": 34.2, "lon": 108.9, "skill": "nothing_like_it"})
    assert bad.status_code == 400 and "skill" in str(bad.get_json())


def test_a_placed_order_changes_its_slot_and_moves_to_a_place_that_keeps_it(
    client, auth, db_session, settings, day_shifts_for_all
):
    """A placed order, not accepted yet, is offered the other slots (ranked without its own
    place); booking one makes it the order's window and moves it there (issue 20)."""
    from dispatch.models import RouteStop
    from dispatch.planning import place_new_order

    now = _evening(settings)
    order_id = _new_order(client, auth, db_session, now)
    first = place_new_order(db_session, order_id, settings, now)
    assert not isinstance(first, str), first
    offered = slots_for_order(db_session, order_id, settings, now)
    later = [s for s in offered if s.start.astimezone(settings.timezone).date() > first.eta.date()]
    assert later, "a placed order still gets the other days' slots"
    chosen = later[0]
    version = db_session.get(WorkOrder, order_id).version
    moved = book_slot(db_session, order_id, chosen.start, settings, now)
    db_session.expire_all()
    order = db_session.get(WorkOrder, order_id)
    assert (order.appointment_start, order.appointment_end) == (chosen.start, chosen.end)
    assert order.version > version and order.status == "assigned" and order.technician_id == moved.technician_id
    stop = db_session.get(RouteStop, order_id)
    assert chosen.start <= stop.eta <= chosen.end
    assert db_session.query(RouteStop).filter(RouteStop.order_id == order_id).count() == 1


def test_an_accepted_order_is_offered_no_slots(client, auth, network, db_session, settings, day_shifts_for_all):
    """Its technician agreed to the time: it changes by a call, not by a slot."""
    from dispatch.planning import place_new_order

    now = _evening(settings)
    tokens = {t.id: auth.token(f"tech{i + 1}") for i, t in enumerate(network.techs)}
    order_id = _new_order(client, auth, db_session, now)
    placed = place_new_order(db_session, order_id, settings, now)
    assert slots_for_order(db_session, order_id, settings, now), "offered while not accepted"
    tech = tokens[placed.technician_id]
    version = client.get(f"/api/orders/{order_id}", headers=tech).get_json()["version"]
    accepted = client.post(
        f"/api/tech/orders/{order_id}/actions", json={"action": "accept", "version": version}, headers=tech
    )
    assert accepted.status_code == 200, accepted.get_json()
    assert slots_for_order(db_session, order_id, settings, now) == []


@pytest.fixture
def day_shifts_for_all(db_session, network):
    for tech in network.techs:
        update_technician(db_session, tech.id, {"shift_start": time(9), "shift_end": time(17)}, actor_id=None)


def test_a_dispatcher_books_a_slot_from_the_order_page(client, auth, network, db_session, day_shifts_for_all):
    """The staff order page lists the slots when asked and books the one picked (real clock)."""
    import re

    from tests.conftest import _csrf_from

    order = create_order(client, auth.token("dispatcher"), **SOUTH)
    auth.login("dispatcher")
    page = client.get(f"/orders/{order['id']}").get_data(as_text=True)
    assert f"/orders/{order['id']}?slots=1" in page
    listed = client.get(f"/orders/{order['id']}?slots=1").get_data(as_text=True)
    starts = re.findall(r'name="start" value="([^"]+)"', listed)
    assert starts, "the slots are listed"
    bad = client.post(f"/orders/{order['id']}/slot", data={"start": "soon", "csrf_token": _csrf_from(listed)})
    assert bad.status_code == 400 and "is not one of the times offered" in bad.get_data(as_text=True)
    done = client.post(f"/orders/{order['id']}/slot", data={"start": starts[-1], "csrf_token": _csrf_from(listed)})
    assert done.status_code == 302
    db_session.expire_all()
    booked = db_session.get(WorkOrder, order["id"])
    assert booked.appointment_start == datetime.fromisoformat(starts[-1]) and booked.technician_id is not None
    db_session.rollback()  # SQLite: an open read would hold the app's next write
    shown = client.get(f"/orders/{order['id']}").get_data(as_text=True)
    assert "Booked:" in shown
