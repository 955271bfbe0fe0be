"""The live board's snapshot: what it holds, whom it shows it to, and where the feed resumes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.clock import now as suite_now
from tests.conftest import Auth
from tests.integration.helpers import act, create_order

NORTH = {"lat": 34.34, "lon": 108.94}
SOUTH = {"lat": 34.19, "lon": 108.95}


@pytest.fixture
def api(app):
    return app.test_client()


@pytest.fixture
def dispatcher(app, network):
    return Auth(app.test_client()).token("dispatcher")


def _board(client, headers) -> dict:
    response = client.get("/api/board", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_the_snapshot_holds_open_orders_technicians_and_the_last_seq(api, dispatcher, network):
    first = create_order(api, dispatcher, **SOUTH)
    second = create_order(api, dispatcher, phone="13900139000", **NORTH)
    act(api, dispatcher, second, "assign", technician_id=network.techs[0].id)
    board = _board(api, dispatcher)
    events = api.get("/api/events?after=0", headers=dispatcher).get_json()
    assert board["last_seq"] == events["items"][-1]["seq"] == 3
    by_id = {o["id"]: o for o in board["orders"]}
    assert set(by_id) == {first["id"], second["id"]}
    assert by_id[first["id"]]["queue"] == "unassigned"
    assert by_id[second["id"]]["queue"] == "in_progress"
    assert by_id[second["id"]]["technician_id"] == network.techs[0].id
    assert by_id[first["id"]]["contact_phone"] == "+8613800138000"
    techs = {t["id"]: t for t in board["technicians"]}
    assert set(techs) == {t.id for t in network.techs}
    assert techs[network.techs[0].id]["load"] == 1
    assert techs[network.techs[1].id]["load"] == 0
    assert techs[network.techs[0].id]["position"] == "home"
    assert techs[network.techs[0].id]["outlet_name"] == "North"
    assert {s["code"] for s in board["skills"]} == {"water_heater", "air_conditioner", "washing_machine"}
    assert {o["name"] for o in board["outlets"]} == {"North", "South"}


def test_last_seq_is_zero_on_an_empty_board(api, dispatcher):
    board = _board(api, dispatcher)
    assert (board["last_seq"], board["orders"]) == (0, [])


def test_closed_and_cancelled_orders_leave_the_board_and_completed_ones_await_the_callback(
    app, api, dispatcher, network
):
    cancelled = create_order(api, dispatcher, **SOUTH)
    act(api, dispatcher, cancelled, "cancel", reason="customer fixed it")
    done = create_order(api, dispatcher, phone="13900139000", **SOUTH)
    tech = Auth(app.test_client()).token("tech2")
    order = act(api, dispatcher, done, "assign", technician_id=network.techs[1].id).get_json()
    for action in ("accept", "depart", "arrive"):
        response = act(api, tech, order, action)
        assert response.status_code == 200, response.get_json()
        order = response.get_json()
    board = _board(api, dispatcher)
    assert [(o["id"], o["status"], o["queue"]) for o in board["orders"]] == [(done["id"], "on_site", "in_progress")]


def test_returned_orders_have_their_own_queue(app, api, dispatcher, network, db_session):
    from dispatch.models import WorkOrder

    order = create_order(api, dispatcher, **SOUTH)
    act(api, dispatcher, order, "assign", technician_id=network.techs[1].id)
    # Arrange the completed-then-returned states directly: the photo proof is not this test's subject.
    row = db_session.get(WorkOrder, order["id"])
    row.status = "completed"
    db_session.commit()
    board = _board(api, dispatcher)
    assert board["orders"][0]["queue"] == "awaiting_callback"
    row.status = "returned"
    db_session.commit()
    assert _board(api, dispatcher)["orders"][0]["queue"] == "returned"
    row.technician_id = None
    db_session.commit()
    assert _board(api, dispatcher)["orders"][0]["queue"] == "unassigned"


def test_orders_due_within_the_risk_window_or_overdue_are_at_risk(app, api, dispatcher, network, db_session):
    from dispatch.models import WorkOrder

    soon = create_order(api, dispatcher, **SOUTH)
    later = create_order(api, dispatcher, phone="13900139000", **SOUTH)
    late = create_order(api, dispatcher, phone="13900139001", **SOUTH)
    now = suite_now()
    for oid, due in ((soon["id"], now + timedelta(hours=3)), (later["id"], now + timedelta(hours=20)),
                     (late["id"], now - timedelta(hours=1))):  # fmt: skip
        db_session.get(WorkOrder, oid).due_at = due
    db_session.commit()
    flags = {o["id"]: o["at_risk"] for o in _board(api, dispatcher)["orders"]}
    assert flags == {soon["id"]: True, later["id"]: False, late["id"]: True}
    app.config["BOARD_RISK_HOURS"] = 2
    flags = {o["id"]: o["at_risk"] for o in _board(api, dispatcher)["orders"]}
    assert flags == {soon["id"]: False, later["id"]: False, late["id"]: True}


def test_the_snapshot_carries_the_rules_that_sort_every_order_the_events_bring(app, api, dispatcher, network):
    app.config["BOARD_RISK_HOURS"] = 6
    waiting = create_order(api, dispatcher, **SOUTH)
    placed = act(api, dispatcher, create_order(api, dispatcher, phone="13900139000", **SOUTH), "assign",
                 technician_id=network.techs[0].id).get_json()  # fmt: skip
    board = _board(api, dispatcher)
    rules = board["rules"]
    assert rules["risk_hours"] == board["risk_hours"] == 6
    # Every status the board shows, and nothing else; each with its queue, with and without a technician.
    assert rules["queues"] == {
        "new": {"unassigned": "unassigned", "assigned": "in_progress"},
        "assigned": {"unassigned": "in_progress", "assigned": "in_progress"},
        "accepted": {"unassigned": "in_progress", "assigned": "in_progress"},
        "en_route": {"unassigned": "in_progress", "assigned": "in_progress"},
        "on_site": {"unassigned": "in_progress", "assigned": "in_progress"},
        "returned": {"unassigned": "unassigned", "assigned": "returned"},
        "completed": {"unassigned": "awaiting_callback", "assigned": "awaiting_callback"},
        "waiting_parts": {"unassigned": "waiting_parts", "assigned": "waiting_parts"},
    }
    assert set(rules["open_statuses"]) == set(rules["queues"]) - {"completed", "waiting_parts"}
    assert set(rules["load_statuses"]) == {"assigned", "accepted", "en_route", "on_site", "returned"}
    # The rules give each order of the snapshot the queue the server gave it.
    for order in board["orders"]:
        placement = "unassigned" if order["technician_id"] is None else "assigned"
        assert rules["queues"][order["status"]][placement] == order["queue"]
    assert {o["id"]: o["queue"] for o in board["orders"]} == {waiting["id"]: "unassigned", placed["id"]: "in_progress"}


def test_an_outlet_dispatcher_sees_only_their_outlet_and_unplaced_orders(app, api, dispatcher, network, db_session):
    from dispatch.models import WorkOrder

    north = create_order(api, dispatcher, **NORTH)
    south = create_order(api, dispatcher, phone="13900139000", **SOUTH)
    unplaced = create_order(api, dispatcher, phone="13900139001", **SOUTH)
    db_session.get(WorkOrder, unplaced["id"]).outlet_id = None
    db_session.commit()
    headers = Auth(app.test_client()).token("south_dispatcher")
    board = _board(api, headers)
    assert {o["id"] for o in board["orders"]} == {south["id"], unplaced["id"]}
    assert north["id"] not in {o["id"] for o in board["orders"]}
    assert {t["id"] for t in board["technicians"]} == {network.techs[1].id, network.techs[2].id}
    assert [o["name"] for o in board["outlets"]] == ["South"]


def test_a_manager_reads_the_board(app, api, dispatcher, network):
    create_order(api, dispatcher, **SOUTH)
    headers = Auth(app.test_client()).token("manager")
    assert len(_board(api, headers)["orders"]) == 1


def test_a_technician_may_not_read_the_board(app, api, network):
    headers = Auth(app.test_client()).token("tech1")
    assert api.get("/api/board", headers=headers).status_code == 403


def test_an_anonymous_caller_is_401(api, network):
    assert api.get("/api/board").status_code == 401


def test_the_board_page_is_for_staff_only(app, network):
    for username, expected in (("dispatcher", 200), ("manager", 200), ("admin", 200), ("tech1", 403)):
        client = app.test_client()
        Auth(client).login(username)
        assert client.get("/board").status_code == expected, username
    anonymous = app.test_client().get("/board")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_the_board_page_carries_its_settings_and_csrf_token_without_inline_script(app, network):
    import json
    import re

    client = Auth(app.test_client())
    client.login("dispatcher")
    html = client.client.get("/board").get_data(as_text=True)
    assert re.search(r'<meta name="csrf-token" content="[^"]+">', html)
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    for attrs, _body in scripts:
        assert "src=" in attrs or 'type="application/json"' in attrs, attrs
    settings = json.loads(
        re.search(r'<script type="application/json" id="board-settings">(.*?)</script>', html, re.S)[1]
    )
    assert settings["can_act"] is True
    assert settings["tile_url"] == ""
    assert settings["status"]["new"] == "New"


def test_the_board_page_speaks_chinese(app, network):
    import json
    import re

    client = Auth(app.test_client())
    client.login("dispatcher")
    client.client.post("/lang/zh", data={"csrf_token": _token(client.client)})
    html = client.client.get("/board").get_data(as_text=True)
    settings = json.loads(re.search(r'id="board-settings">(.*?)</script>', html, re.S)[1])
    assert settings["status"]["new"] != "New"
    assert "实时" in html or "看板" in html


def _token(client) -> str:
    import re

    html = client.get("/board").get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)">', html)[1]


def test_the_map_tile_url_comes_from_the_configuration(app, network):
    import json
    import re

    app.config["MAP_TILE_URL"] = "https://tiles.example/{z}/{x}/{y}.png"
    client = Auth(app.test_client())
    client.login("dispatcher")
    html = client.client.get("/board").get_data(as_text=True)
    settings = json.loads(re.search(r'id="board-settings">(.*?)</script>', html, re.S)[1])
    assert settings["tile_url"] == "https://tiles.example/{z}/{x}/{y}.png"


def test_the_snapshot_is_compressed_for_browsers_that_accept_it_and_html_is_not(app, api, dispatcher, network):
    import gzip
    import json

    for i in range(30):
        create_order(api, dispatcher, phone=f"1390013{i:04d}")
    plain = api.get("/api/board", headers=dispatcher)
    packed = api.get("/api/board", headers={**dispatcher, "Accept-Encoding": "gzip"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert len(packed.data) < len(plain.data) / 3
    unpacked = json.loads(gzip.decompress(packed.data))
    assert unpacked["orders"] == plain.get_json()["orders"] and len(unpacked["orders"]) == 30
    page = api.get("/login", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in page.headers  # pages carry the CSRF token: not compressed (BREACH)
