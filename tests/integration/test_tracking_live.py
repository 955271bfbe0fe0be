"""The customer's live tracking: a real Socket.IO client joins with the link's token over real
HTTP, hears the ETA move when the technician reports a position, and hears nothing else."""

from __future__ import annotations

import queue
import threading
from datetime import datetime, timedelta

import pytest
import requests
import socketio
from werkzeug.serving import make_server

from core.db import utcnow
from dispatch.models import WorkOrder
from routing.geo import haversine_m
from technicians.models import Outlet

PUBLIC_FIELDS = {"number", "status", "technician", "eta", "eta_local", "live", "can_reschedule", "can_cancel",
                 "survey_open", "visit_day", "visit_from", "visit_to"}  # fmt: skip
HOME = (34.21, 108.95)  # the order's address (tests/integration/helpers.VALID_ORDER)


@pytest.fixture
def server(app):
    """The test's app (SQLite or PostgreSQL) served over real HTTP on a free port."""
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}"
    http.shutdown()
    thread.join(timeout=5)


class Api:
    def __init__(self, base: str, username: str) -> None:
        self.base = base
        response = requests.post(f"{base}/api/auth/login", json={"username": username, "password": "test-pass-123"})
        assert response.status_code == 200, response.text
        self.headers = {"Authorization": f"Bearer {response.json()['token']}"}

    def post(self, path: str, body: dict) -> requests.Response:
        return requests.post(f"{self.base}{path}", json=body, headers=self.headers, timeout=10)

    def act(self, order: dict, action: str, **extra) -> dict:
        response = self.post(f"/api/orders/{order['id']}/transitions",
                             {"action": action, "version": order["version"], **extra})  # fmt: skip
        assert response.status_code == 200, response.text
        return response.json()


class Watcher:
    """A tracking page's socket: everything it hears, in order."""

    def __init__(self, base: str, token: str) -> None:
        self.heard: queue.Queue[dict] = queue.Queue()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("tracking", self.heard.put, namespace="/track")
        self.sio.connect(base, namespaces=["/track"], auth={"token": token}, transports=["websocket"], wait_timeout=5)

    def next(self, timeout: float = 5) -> dict:
        return self.heard.get(timeout=timeout)

    def nothing(self, wait: float = 0.5) -> bool:
        try:
            self.heard.get(timeout=wait)
        except queue.Empty:
            return True
        return False

    def close(self) -> None:
        self.sio.disconnect()


@pytest.fixture
def watch(server):
    watchers: list[Watcher] = []

    def open_(token: str) -> Watcher:
        w = Watcher(server, token)
        watchers.append(w)
        return w

    yield open_
    for w in watchers:
        w.close()


def en_route_order(server, network, phone="13800138000") -> tuple[dict, str, Api]:
    dispatcher, tech = Api(server, "dispatcher"), Api(server, "tech2")
    response = dispatcher.post("/api/orders", {"name": "张三", "phone": phone, "address": "西安市雁塔区小寨东路 1 号",
                                               "product_category": "water_heater", "lat": HOME[0], "lon": HOME[1]})  # fmt: skip
    assert response.status_code == 201, response.text
    order = response.json()
    token = order["tracking_url"].rsplit("/t/", 1)[1]
    order = dispatcher.act(order, "assign", technician_id=network.techs[1].id)
    order = tech.act(order, "accept")
    order = tech.act(order, "depart")
    return order, token, tech


def expected_minutes(db_session, network, lat: float, lon: float) -> float:
    outlet = db_session.get(Outlet, network.south.id)
    metres = float(haversine_m([(lat, lon)], [HOME])[0, 0])
    minutes = metres * outlet.detour_factor / (outlet.speed_kmh / 3.6) / 60
    db_session.rollback()
    return minutes


def test_the_tracking_page_hears_the_eta_move_as_the_technician_drives(server, network, watch, db_session):
    order, token, tech = en_route_order(server, network)
    page = watch(token)
    assert page.sio.connected

    far = (34.30, 108.95)  # about 10 km north
    before = utcnow()
    response = tech.post("/api/tech/position", {"lat": far[0], "lon": far[1], "accuracy_m": 15})
    assert response.status_code == 200 and response.json()["tracking_updates"] == 1
    update = page.next()
    assert set(update) == PUBLIC_FIELDS  # nothing but the customer's own view
    assert update["status"] == "en_route" and update["live"] is True and update["technician"] == "T师傅"
    eta_far = datetime.fromisoformat(update["eta"])
    minutes = expected_minutes(db_session, network, *far)
    assert abs((eta_far - before).total_seconds() / 60 - minutes) < 2

    near = (34.22, 108.95)  # about 1 km away
    tech.post("/api/tech/position", {"lat": near[0], "lon": near[1]})
    eta_near = datetime.fromisoformat(page.next()["eta"])
    assert eta_near < eta_far - timedelta(minutes=10)

    tech.act(order, "arrive", lat=HOME[0], lon=HOME[1])
    arrived = page.next()
    assert arrived["status"] == "on_site" and arrived["eta"] is None


def test_a_page_hears_only_its_own_order(server, network, watch):
    order, token, tech = en_route_order(server, network)
    _other, other_token, _ = en_route_order(server, network, phone="13900139000")
    mine, theirs = watch(token), watch(other_token)
    tech.act(order, "arrive", lat=HOME[0], lon=HOME[1])
    assert mine.next()["status"] == "on_site"
    assert theirs.nothing(0.5)


def test_a_bad_or_expired_token_is_refused(server, network, db_session):
    order, token, _ = en_route_order(server, network)
    altered = token[:-1] + ("y" if token.endswith("x") else "x")  # one character off, never the token itself
    for bad in (altered, "", None):
        client = socketio.Client(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            client.connect(server, namespaces=["/track"], auth={"token": bad}, transports=["websocket"], wait_timeout=5)

    stored = db_session.get(WorkOrder, order["id"])
    stored.tracking_expires_at = utcnow() - timedelta(minutes=1)
    db_session.commit()
    client = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(server, namespaces=["/track"], auth={"token": token}, transports=["websocket"], wait_timeout=5)


def test_a_position_needs_a_technician_and_valid_coordinates(server, network):
    tech = Api(server, "tech2")
    bad = tech.post("/api/tech/position", {"lat": 123, "lon": 108.9})
    assert bad.status_code == 400 and "lat" in bad.json()["detail"]["json"]
    assert Api(server, "dispatcher").post("/api/tech/position", {"lat": 34.2, "lon": 108.9}).status_code == 403
    assert requests.post(f"{server}/api/tech/position", json={"lat": 34.2, "lon": 108.9}, timeout=5).status_code == 401


def test_a_tracking_push_that_meets_a_dead_database_is_a_warning_and_the_change_stands(
    client, auth, network, db_session, monkeypatch, caplog
):
    """The push to the tracking page reads the order again after the commit; when the database
    has gone away meanwhile (a restart), the change the user made still answers 200 and the log
    gets one warning, not an error with a stack trace."""
    import web.realtime_tracking
    from tests.integration.helpers import database_gone

    headers = auth.token("dispatcher")
    order = client.post("/api/orders", json={"name": "张三", "phone": "13800138000", "address": "西安市雁塔区小寨东路 1 号",
                                             "product_category": "water_heater", "lat": HOME[0], "lon": HOME[1]},
                        headers=headers).get_json()  # fmt: skip
    monkeypatch.setattr(web.realtime_tracking, "public_update", database_gone)
    caplog.clear()
    response = client.post(f"/api/orders/{order['id']}/transitions", headers=headers,
                           json={"action": "assign", "version": order["version"], "technician_id": network.techs[1].id})  # fmt: skip
    assert response.status_code == 200, response.get_json()
    assert db_session.get(WorkOrder, order["id"]).technician_id == network.techs[1].id
    pushes = [r for r in caplog.records if "tracking update for order" in r.getMessage()]
    assert [(r.levelname, r.exc_info) for r in pushes] == [("WARNING", None)]
    assert "administrator command" in pushes[0].getMessage()
