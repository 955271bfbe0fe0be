"""Events reach Socket.IO clients after commit, in the right rooms, and never for a rollback."""

from __future__ import annotations

import pytest

from tests.conftest import Auth
from tests.integration.helpers import act, create_order


@pytest.fixture
def socket_for(app):
    from web.extensions import socketio

    clients = []

    def connect(flask_client):
        sio = socketio.test_client(app, flask_test_client=flask_client)
        clients.append(sio)
        return sio

    yield connect
    for sio in clients:
        if sio.is_connected():
            sio.disconnect()


def _events(sio) -> list[dict]:
    return [m["args"][0] for m in sio.get_received() if m["name"] == "order_event"]


def test_an_anonymous_socket_is_refused(app, socket_for, network):
    sio = socket_for(app.test_client())
    assert not sio.is_connected()


def test_a_board_receives_each_event_with_its_sequence_number(app, auth, client, socket_for, network):
    auth.login("dispatcher")
    board = socket_for(client)
    assert board.is_connected()
    headers = Auth(app.test_client()).token("dispatcher")
    order = create_order(app.test_client(), headers)
    act(app.test_client(), headers, order, "assign", technician_id=network.techs[1].id)
    events = _events(board)
    assert [e["event"]["kind"] for e in events] == ["created", "assign"]
    assert events[1]["event"]["seq"] == events[0]["event"]["seq"] + 1
    assert events[1]["order"]["status"] == "assigned"
    assert events[1]["order"]["version"] == order["version"] + 1


def test_a_technician_hears_only_about_their_own_orders(app, socket_for, network):
    phones = {}
    for name in ("tech1", "tech2"):
        c = app.test_client()
        Auth(c).login(name)
        phones[name] = socket_for(c)
    headers = Auth(app.test_client()).token("dispatcher")
    order = create_order(app.test_client(), headers)
    act(app.test_client(), headers, order, "assign", technician_id=network.techs[1].id)  # tech2
    assert [e["event"]["kind"] for e in _events(phones["tech2"])] == ["assign"]
    assert _events(phones["tech1"]) == []


def test_an_outlet_dispatcher_hears_only_their_outlet(app, socket_for, network):
    c = app.test_client()
    Auth(c).login("south_dispatcher")
    south = socket_for(c)
    headers = Auth(app.test_client()).token("dispatcher")
    create_order(app.test_client(), headers, lat=34.34, lon=108.94)  # North
    create_order(app.test_client(), headers, lat=34.19, lon=108.95, phone="13900139000")  # South
    assert [e["order"]["outlet_id"] for e in _events(south)] == [network.south.id]


def test_nothing_is_sent_for_a_change_that_was_rolled_back(app, auth, client, socket_for, network, db_session):
    """An event written in a transaction that rolls back is never announced; one that
    commits is announced once, after the commit."""
    from core.accounts import Actor
    from dispatch.events import record_event
    from dispatch.models import WorkOrder

    auth.login("dispatcher")
    board = socket_for(client)
    order_id = create_order(app.test_client(), Auth(app.test_client()).token("dispatcher"))["id"]
    board.get_received()
    order = db_session.get(WorkOrder, order_id)

    record_event(db_session, order, "note", Actor.system(), data={"text": "rolled back"})
    assert _events(board) == [], "nothing may be sent before the commit"
    db_session.rollback()
    assert _events(board) == []

    record_event(db_session, db_session.get(WorkOrder, order_id), "note", Actor.system(), data={"text": "kept"})
    db_session.commit()
    assert [e["event"]["data"]["text"] for e in _events(board)] == ["kept"]
