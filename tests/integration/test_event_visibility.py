"""One event-visibility rule for feeds, pages and sockets (dispatch/visibility.py): a technician
learns that a complaint or a compensation happened on their order, never what it says."""

from __future__ import annotations

import pytest

from tests.conftest import Auth
from tests.integration.helpers import act, create_order

SUMMARY = "customer says the technician was rude"
REASON = "goodwill for the rude visit"
AMOUNT = "137.25"  # three digits before the point: no timestamp's seconds can spell it
INTERNAL = ("complaint_opened", "compensation_added", "compensation_approved")


@pytest.fixture
def complained_order(app, network):
    """An order assigned to tech1, then a complaint about it with a compensation, by a dispatcher."""
    client = app.test_client()
    dispatcher = Auth(client).token("dispatcher")
    order = create_order(client, dispatcher)
    act(client, dispatcher, order, "assign", technician_id=network.techs[0].id)
    return order


def complain(app, order: dict) -> None:
    client = app.test_client()
    dispatcher = Auth(client).token("dispatcher")
    opened = client.post(f"/api/orders/{order['id']}/complaint", json={"summary": SUMMARY}, headers=dispatcher)
    assert opened.status_code == 201, opened.get_json()
    body = {"amount": AMOUNT, "reason": REASON, "paid_first": False, "approve": True}
    added = client.post(f"/api/orders/{order['id']}/complaint/compensations", json=body, headers=dispatcher)
    assert added.status_code == 201, added.get_json()


def by_kind(events: list[dict]) -> dict[str, dict]:
    return {e["kind"]: e["data"] for e in events}


def test_the_feeds_tell_a_technician_a_complaint_happened_but_not_what_it_says(app, complained_order):
    complain(app, complained_order)
    client = app.test_client()
    tech = Auth(client).token("tech1")
    trail = client.get(f"/api/orders/{complained_order['id']}/events", headers=tech).get_json()["items"]
    feed = client.get("/api/events?after=0", headers=tech).get_json()["items"]
    for events in (trail, feed):
        seen = by_kind(events)
        assert all(seen[kind] == {} for kind in INTERNAL), seen
        assert SUMMARY not in str(events) and REASON not in str(events) and AMOUNT not in str(events)
    assert [e["seq"] for e in feed] == sorted(e["seq"] for e in trail), "the feed keeps every number"


def test_the_order_page_does_not_show_a_technician_the_complaint_about_them(app, complained_order):
    complain(app, complained_order)
    client = app.test_client()
    Auth(client).login("tech1")
    page = client.get(f"/orders/{complained_order['id']}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert SUMMARY not in html and REASON not in html


def test_a_dispatcher_still_reads_every_event_whole(app, complained_order):
    complain(app, complained_order)
    client = app.test_client()
    dispatcher = Auth(client).token("dispatcher")
    for url in (f"/api/orders/{complained_order['id']}/events", "/api/events?after=0"):
        seen = by_kind(client.get(url, headers=dispatcher).get_json()["items"])
        assert seen["complaint_opened"]["summary"] == SUMMARY
        assert seen["compensation_added"]["reason"] == REASON and seen["compensation_added"]["amount"] == AMOUNT


def test_the_technicians_socket_gets_the_same_redacted_view_and_the_boards_the_whole_event(app, complained_order):
    from web.extensions import socketio

    sockets = {}
    for name in ("tech1", "dispatcher"):
        client = app.test_client()
        Auth(client).login(name)
        sockets[name] = socketio.test_client(app, flask_test_client=client)
        assert sockets[name].is_connected()
    try:
        complain(app, complained_order)
        received = {
            name: [m["args"][0] for m in sio.get_received() if m["name"] == "order_event"]
            for name, sio in sockets.items()
        }
    finally:
        for sio in sockets.values():
            sio.disconnect()
    phone = by_kind([m["event"] for m in received["tech1"]])
    assert set(INTERNAL) <= set(phone), "the phone still hears that its order changed"
    assert all(phone[kind] == {} for kind in INTERNAL), phone
    assert SUMMARY not in str(received["tech1"]) and REASON not in str(received["tech1"])
    board = by_kind([m["event"] for m in received["dispatcher"]])
    assert board["complaint_opened"]["summary"] == SUMMARY and board["compensation_added"]["reason"] == REASON
