"""An open Socket.IO connection loses what its user lost: a new outlet, a lower role, a
deactivation or a password change (which revokes bearer tokens) reaches sockets opened before
it (web/realtime.py RightsWatch): they are moved to the rooms of the user's rights now, or
closed when the login or token they were opened with has ended."""

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


class Ear:
    """What one socket heard, kept across reads (the test client hands each message out once)."""

    def __init__(self, sio):
        self.sio, self.messages = sio, []

    def _pull(self) -> None:
        if self.sio.is_connected():  # nothing more arrives on a closed socket
            self.messages += self.sio.get_received()

    def orders(self) -> list[int]:
        self._pull()
        return [m["args"][0]["order"]["id"] for m in self.messages if m["name"] == "order_event"]

    def told_of_new_rights(self) -> bool:
        self._pull()
        return any(m["name"] == "rights_changed" for m in self.messages)

    def wait_for_the_watch(self) -> None:
        """Until the watch closed the socket or moved it to other rooms (or 5 s went by)."""
        deadline = time.monotonic() + WAIT_S
        while self.sio.is_connected() and not self.told_of_new_rights() and time.monotonic() < deadline:
            time.sleep(0.05)


def test_a_dispatcher_moved_to_another_outlet_hears_the_new_one_and_no_longer_the_old(app, admin, network, sockets):
    before = Ear(sockets(flask_test_client=browser(app, "south_dispatcher")))
    assert before.sio.is_connected()
    change_user(app, admin, network.south_dispatcher.id, outlet_id=network.north.id)
    before.wait_for_the_watch()
    south = create_order(app.test_client(), admin, **SOUTH)
    north = create_order(app.test_client(), admin, **NORTH)
    assert south["id"] not in before.orders(), "the socket opened before the move still hears the old outlet"
    assert before.told_of_new_rights() and before.orders() == [north["id"]], "it follows the new outlet"


def test_a_dispatcher_demoted_to_technician_stops_hearing_dispatch_events(app, admin, network, sockets):
    before = Ear(sockets(flask_test_client=browser(app, "dispatcher")))
    assert before.sio.is_connected()
    change_user(app, admin, network.dispatcher.id, role="technician")
    before.wait_for_the_watch()
    order = create_order(app.test_client(), admin, **NORTH)
    assert order["id"] not in before.orders(), "the demoted user's socket still hears the dispatch room"


def test_a_deactivated_api_clients_socket_is_closed(app, admin, network, sockets):
    before = Ear(sockets(headers=Auth(app.test_client()).token("manager")))
    assert before.sio.is_connected()
    change_user(app, admin, network.manager.id, active=False)
    before.wait_for_the_watch()
    order = create_order(app.test_client(), admin, **NORTH)
    assert order["id"] not in before.orders(), "the deactivated user's socket still hears"
    assert not before.sio.is_connected()


def test_a_password_change_closes_the_sockets_opened_with_the_revoked_token(app, admin, network, sockets):
    token = Auth(app.test_client()).token("dispatcher")
    before = Ear(sockets(headers=token))
    bystander = Ear(sockets(headers=Auth(app.test_client()).token("manager")))
    assert before.sio.is_connected() and bystander.sio.is_connected()
    change_user(app, admin, network.dispatcher.id, password="a-new-password-2026")
    before.wait_for_the_watch()
    order = create_order(app.test_client(), admin, **NORTH)
    assert order["id"] not in before.orders(), "a socket outlived its revoked token"
    assert not before.sio.is_connected()
    assert not sockets(headers=token).is_connected(), "the revoked token opens no new socket"
    assert order["id"] in bystander.orders(), "another user's socket is untouched"


def test_a_socket_whose_rights_did_not_change_is_left_alone(app, admin, network, sockets):
    board = Ear(sockets(flask_test_client=browser(app, "south_dispatcher")))
    change_user(app, admin, network.south_dispatcher.id, display_name="South desk")  # not a right
    time.sleep(0.6)  # three sweeps
    south = create_order(app.test_client(), admin, **SOUTH)
    assert board.orders() == [south["id"]] and not board.told_of_new_rights()
