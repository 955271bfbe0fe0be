"""An open Socket.IO connection loses what its user lost: a new outlet, a lower role, a
deactivation or a password change (which revokes bearer tokens) reaches sockets opened before
it (web/realtime.py RightsWatch), so they stop hearing what the user may no longer see."""

from __future__ import annotations

import time

import pytest

from tests.conftest import Auth
from tests.integration.helpers import create_order

NORTH = {"lat": 34.34, "lon": 108.94, "phone": "13800138001"}
SOUTH = {"lat": 34.19, "lon": 108.95, "phone": "13900139002"}
WAIT_S = 5.0


@pytest.fixture
def app_config(app_config):
    """The real watch, checking every 0.2 s instead of 2 s to keep the tests short."""
    return {**app_config, "SOCKET_RIGHTS_EVERY_S": 0.2}


@pytest.fixture
def admin(app, network):
    return Auth(app.test_client()).token("admin")


@pytest.fixture
def sockets(app):
    from web.extensions import socketio

    opened = []

    def open_(**kwargs):
        sio = socketio.test_client(app, **kwargs)
        opened.append(sio)
        return sio

    yield open_
    for sio in opened:
        if sio.is_connected():
            sio.disconnect()


def browser(app, username: str):
    client = app.test_client()
    Auth(client).login(username)
    return client


def change_user(app, admin, user_id: int, **values) -> None:
    response = app.test_client().patch(f"/api/users/{user_id}", json=values, headers=admin)
    assert response.status_code == 200, response.get_json()


def wait_for_the_watch(sio) -> None:
    """Give the watch its chance (it disconnects; a watch that recomputed rooms would keep it)."""
    deadline = time.monotonic() + WAIT_S
    while sio.is_connected() and time.monotonic() < deadline:
        time.sleep(0.05)


def heard(sio) -> list[int]:
    """The orders this socket heard of (nothing once it is closed)."""
    if not sio.is_connected():
        return []
    return [m["args"][0]["order"]["id"] for m in sio.get_received() if m["name"] == "order_event"]


def test_a_dispatcher_moved_to_another_outlet_stops_hearing_the_old_one(app, admin, network, sockets):
    client = browser(app, "south_dispatcher")
    before = sockets(flask_test_client=client)
    assert before.is_connected()
    change_user(app, admin, network.south_dispatcher.id, outlet_id=network.north.id)
    wait_for_the_watch(before)
    south = create_order(app.test_client(), admin, **SOUTH)
    assert south["id"] not in heard(before), "the socket opened before the move still hears the old outlet"

    after = sockets(flask_test_client=client)  # the page reconnects with the same login
    assert after.is_connected()
    north = create_order(app.test_client(), admin, **NORTH)
    create_order(app.test_client(), admin, **{**SOUTH, "phone": "13900139003"})
    assert heard(after) == [north["id"]], "a reconnected socket hears the new outlet only"


def test_a_dispatcher_demoted_to_technician_stops_hearing_dispatch_events(app, admin, network, sockets):
    before = sockets(flask_test_client=browser(app, "dispatcher"))
    assert before.is_connected()
    change_user(app, admin, network.dispatcher.id, role="technician")
    wait_for_the_watch(before)
    order = create_order(app.test_client(), admin, **NORTH)
    assert order["id"] not in heard(before), "the demoted user's socket still hears the dispatch room"


def test_a_deactivated_api_clients_socket_stops_hearing(app, admin, network, sockets):
    token = Auth(app.test_client()).token("manager")
    before = sockets(headers=token)
    assert before.is_connected()
    change_user(app, admin, network.manager.id, active=False)
    wait_for_the_watch(before)
    order = create_order(app.test_client(), admin, **NORTH)
    assert order["id"] not in heard(before), "the deactivated user's socket still hears"


def test_a_password_change_ends_the_sockets_opened_with_the_revoked_token(app, admin, network, sockets):
    token = Auth(app.test_client()).token("dispatcher")
    before = sockets(headers=token)
    bystander = sockets(headers=Auth(app.test_client()).token("manager"))
    assert before.is_connected() and bystander.is_connected()
    change_user(app, admin, network.dispatcher.id, password="a-new-password-2026")
    wait_for_the_watch(before)
    order = create_order(app.test_client(), admin, **NORTH)
    assert order["id"] not in heard(before), "a socket outlived its revoked token"
    assert not sockets(headers=token).is_connected(), "the revoked token opens no new socket"
    assert order["id"] in heard(bystander), "another user's socket is untouched"


def test_a_socket_whose_rights_did_not_change_stays_open(app, admin, network, sockets):
    board = sockets(flask_test_client=browser(app, "south_dispatcher"))
    change_user(app, admin, network.south_dispatcher.id, display_name="South desk")  # not a right
    time.sleep(0.6)  # three sweeps
    south = create_order(app.test_client(), admin, **SOUTH)
    assert board.is_connected() and heard(board) == [south["id"]]
