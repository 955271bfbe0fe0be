"""The lifecycle over the API: the whole walk, illegal moves, stale writes, who may do what."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from dispatch.models import WorkOrder, WorkOrderEvent
from tests.clock import local_today
from tests.integration.helpers import act, create_order


@pytest.fixture
def dispatcher(network, auth):
    return auth.token("dispatcher")


@pytest.fixture
def order(client, dispatcher):
    return create_order(client, dispatcher, lat=34.20, lon=108.95)


def ok(response) -> dict:
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_an_order_walks_the_whole_lifecycle_with_one_event_per_step(
    client, auth, network, dispatcher, order, db_session
):
    tech = network.techs[1]  # South, water heater
    tech_headers = auth.token("tech2")
    order = ok(act(client, dispatcher, order, "assign", technician_id=tech.id))
    assert order["status"] == "assigned" and order["technician"]["id"] == tech.id and order["assignment_locked"]
    order = ok(act(client, tech_headers, order, "accept"))
    order = ok(act(client, tech_headers, order, "contact"))
    assert order["status"] == "accepted" and order["contacted_at"]
    order = ok(act(client, tech_headers, order, "depart"))
    order = ok(act(client, tech_headers, order, "arrive", lat=34.2001, lon=108.9502, accuracy_m=8))
    order = ok(act(client, tech_headers, order, "complete"))
    assert order["completed_at"]
    order = ok(act(client, dispatcher, order, "return", reason="customer says it still leaks"))
    assert order["status"] == "returned" and order["visit_count"] == 2
    order = ok(act(client, tech_headers, order, "depart"))
    order = ok(act(client, tech_headers, order, "arrive", lat=34.2001, lon=108.9502))
    order = ok(act(client, tech_headers, order, "complete"))
    order = ok(act(client, dispatcher, order, "close"))
    assert order["status"] == "closed" and order["closed_at"]

    trail = ok(client.get(f"/api/orders/{order['id']}/events", headers=dispatcher))["items"]
    assert [(e["kind"], e["to_status"]) for e in trail] == [
        ("created", "new"), ("assign", "assigned"), ("accept", "accepted"), ("contact", "accepted"),
        ("depart", "en_route"), ("arrive", "on_site"), ("complete", "completed"), ("return", "returned"),
        ("depart", "en_route"), ("arrive", "on_site"), ("complete", "completed"), ("close", "closed"),
    ]  # fmt: skip
    seqs = [e["seq"] for e in trail]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    arrive = trail[5]
    assert arrive["lat"] == pytest.approx(34.2001) and arrive["accuracy_m"] == 8
    assert 0 < arrive["data"]["distance_to_address_m"] < 50
    assert trail[7]["data"]["reason"] == "customer says it still leaks"
    assert db_session.query(WorkOrderEvent).count() == len(trail)


def test_an_illegal_move_is_a_409_naming_the_allowed_ones(client, network, dispatcher, order):
    response = act(client, dispatcher, order, "close")
    assert response.status_code == 409
    body = response.get_json()
    assert body["allowed"] == ["assign", "cancel"]
    assert "allowed now: assign, cancel" in body["message"]


def test_a_stale_write_is_a_409_and_changes_nothing(client, network, dispatcher, order, db_session):
    ok(act(client, dispatcher, order, "assign", technician_id=network.techs[1].id))
    stale = act(client, dispatcher, order, "cancel", reason="duplicate")  # still version 1
    assert stale.status_code == 409
    assert stale.get_json()["current_version"] == order["version"] + 1
    assert db_session.get(WorkOrder, order["id"]).status == "assigned"


def test_two_dispatchers_racing_on_one_order_one_wins(app, network, order, db_session):
    from tests.conftest import Auth

    headers = Auth(app.test_client()).token("dispatcher")
    barrier = threading.Barrier(6)
    codes: list[int] = []

    def assign(tech_id: int) -> None:
        client = app.test_client()
        barrier.wait()
        codes.append(act(client, headers, order, "assign", technician_id=tech_id).status_code)

    threads = [threading.Thread(target=assign, args=(network.techs[i % 2].id,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200, 409, 409, 409, 409, 409]
    events = db_session.query(WorkOrderEvent).filter_by(order_id=order["id"], kind="assign").count()
    assert events == 1


def test_a_reason_is_required_to_cancel(client, network, dispatcher, order):
    response = act(client, dispatcher, order, "cancel")
    assert response.status_code == 400
    assert "reason" in response.get_json()["detail"]["json"]


def test_a_technician_without_the_skill_cannot_be_assigned(client, network, dispatcher, order):
    response = act(client, dispatcher, order, "assign", technician_id=network.techs[2].id)  # washing machines only
    assert response.status_code == 400
    assert "lacks the skill 'water_heater'" in response.get_json()["detail"]["json"]["technician_id"][0]


def test_a_technician_on_leave_is_never_offered_work(client, network, dispatcher, order, db_session):
    from technicians.network import add_leave

    tech = network.techs[1]
    today = local_today()
    add_leave(db_session, tech.id, today - timedelta(days=1), today + timedelta(days=1), "sick", actor_id=None)
    response = act(client, dispatcher, order, "assign", technician_id=tech.id)
    assert response.status_code == 400
    assert "on leave" in response.get_json()["detail"]["json"]["technician_id"][0]


def test_an_inactive_technician_cannot_be_assigned(client, network, dispatcher, order, db_session):
    from technicians.network import update_technician

    update_technician(db_session, network.techs[1].id, {"active": False}, actor_id=None)
    response = act(client, dispatcher, order, "assign", technician_id=network.techs[1].id)
    assert response.status_code == 400
    assert "not active" in response.get_json()["detail"]["json"]["technician_id"][0]


def test_only_the_assigned_technician_may_accept(client, auth, network, dispatcher, order):
    order = ok(act(client, dispatcher, order, "assign", technician_id=network.techs[1].id))
    other = auth.token("tech1")
    # Another technician cannot even see the order.
    assert act(client, other, order, "accept").status_code == 404
    assert client.get(f"/api/orders/{order['id']}", headers=other).status_code == 404
    assert client.get(f"/api/orders/{order['id']}/events", headers=other).status_code == 404


def test_a_technician_lists_only_their_own_orders(client, auth, network, dispatcher):
    mine = create_order(client, dispatcher)
    create_order(client, dispatcher, phone="13900139000")
    ok(act(client, dispatcher, mine, "assign", technician_id=network.techs[1].id))
    listed = ok(client.get("/api/orders", headers=auth.token("tech2")))
    assert [o["id"] for o in listed["items"]] == [mine["id"]]
    assert listed["items"][0]["allowed_actions"] == ["accept", "reject"]
    assert ok(client.get("/api/orders", headers=auth.token("tech1")))["items"] == []


def test_a_rejection_returns_the_order_to_the_queue_with_its_reason(client, auth, network, dispatcher, order):
    order = ok(act(client, dispatcher, order, "assign", technician_id=network.techs[1].id))
    tech = auth.token("tech2")
    assert act(client, tech, order, "reject").status_code == 400
    order = ok(act(client, tech, order, "reject", reason="van broke down"))
    assert order["status"] == "new" and order["technician"] is None


def test_a_technician_cannot_close_or_assign(client, auth, network, dispatcher, order):
    order = ok(act(client, dispatcher, order, "assign", technician_id=network.techs[1].id))
    tech = auth.token("tech2")
    response = act(client, tech, order, "assign", technician_id=network.techs[1].id)
    assert response.status_code == 403


def test_a_manager_may_review_but_not_dispatch(client, auth, network, dispatcher, order):
    manager = auth.token("manager")
    assert act(client, manager, order, "assign", technician_id=network.techs[1].id).status_code == 403
    assert client.get(f"/api/orders/{order['id']}", headers=manager).status_code == 200


def test_an_outlet_dispatcher_sees_and_assigns_only_within_their_outlet(client, auth, network, dispatcher):
    north_order = create_order(client, dispatcher, lat=34.34, lon=108.94)
    south_order = create_order(client, dispatcher, lat=34.19, lon=108.95, phone="13900139000")
    south = auth.token("south_dispatcher")
    listed = {o["id"] for o in ok(client.get("/api/orders", headers=south))["items"]}
    assert listed == {south_order["id"]}
    assert client.get(f"/api/orders/{north_order['id']}", headers=south).status_code == 404
    response = act(client, south, south_order, "assign", technician_id=network.techs[0].id)  # a North technician
    assert response.status_code == 403


def test_order_lists_are_paged_and_filtered(client, network, dispatcher):
    for i in range(5):
        create_order(client, dispatcher, phone=f"1390013900{i}")
    page = ok(client.get("/api/orders?per_page=2&page=2", headers=dispatcher))
    assert page["meta"] == {"page": 2, "per_page": 2, "total": 5, "pages": 3}
    assert len(page["items"]) == 2
    found = ok(client.get("/api/orders?q=13900139003", headers=dispatcher))
    assert len(found["items"]) == 1
    assert ok(client.get("/api/orders?status=closed", headers=dispatcher))["items"] == []
    assert client.get("/api/orders?status=bogus", headers=dispatcher).status_code == 400
    assert client.get("/api/orders?per_page=1000", headers=dispatcher).status_code == 400


def test_search_text_with_sql_wildcards_is_taken_literally(client, network, dispatcher):
    create_order(client, dispatcher)
    assert ok(client.get("/api/orders?q=%25", headers=dispatcher))["items"] == []
    assert ok(client.get("/api/orders?q=' OR 1=1 --", headers=dispatcher))["items"] == []


def test_the_event_feed_returns_what_came_after_a_sequence_number(client, auth, network, dispatcher, order):
    feed = ok(client.get("/api/events?after=0", headers=dispatcher))
    first = feed["last_seq"]
    order = ok(act(client, dispatcher, order, "assign", technician_id=network.techs[1].id))
    feed = ok(client.get(f"/api/events?after={first}", headers=dispatcher))
    assert [(e["kind"], e["order_id"]) for e in feed["items"]] == [("assign", order["id"])]
    # A technician's feed holds only their own orders' events.
    other = ok(client.get("/api/events?after=0", headers=auth.token("tech1")))
    assert other["items"] == []


def test_a_dispatcher_changes_the_priority_and_it_is_recorded(client, auth, network, dispatcher, order):
    response = client.post(
        f"/api/orders/{order['id']}/priority", json={"priority": "vip", "version": order["version"]}, headers=dispatcher
    )
    assert response.status_code == 200
    assert response.get_json()["priority"] == "vip"
    stale = client.post(
        f"/api/orders/{order['id']}/priority",
        json={"priority": "urgent", "version": order["version"]},
        headers=dispatcher,
    )
    assert stale.status_code == 409
    bad = client.post(
        f"/api/orders/{order['id']}/priority", json={"priority": "asap", "version": 2}, headers=dispatcher
    )
    assert bad.status_code == 400 and "priority" in bad.get_json()["detail"]["json"]
    assert (
        client.post(
            f"/api/orders/{order['id']}/priority", json={"priority": "vip", "version": 2}, headers=auth.token("manager")
        ).status_code
        == 403
    )
    trail = client.get(f"/api/orders/{order['id']}/events", headers=dispatcher).get_json()["items"]
    assert trail[-1]["kind"] == "priority" and trail[-1]["data"] == {"from": "normal", "to": "vip"}
