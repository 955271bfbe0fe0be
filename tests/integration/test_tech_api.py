"""The technician's phone app over HTTP: today's list (own orders only, in route order, with
ETA, history and return reasons), replay-safe moves and photos, the completion report."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image
from sqlalchemy import delete, event

from dispatch.models import Photo, RouteStop, WorkOrderEvent
from tests.clock import now as suite_now
from tests.integration.helpers import act, create_order


def jpeg(colour=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), colour).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def dispatcher(auth):
    return auth.token("dispatcher")


@pytest.fixture
def tech2(auth):
    return auth.token("tech2")


def assigned(client, dispatcher, tech_id, **extra) -> dict:
    order = create_order(client, dispatcher, **extra)
    response = act(client, dispatcher, order, "assign", technician_id=tech_id)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def on_site(client, dispatcher, tech, tech_id, **extra) -> dict:
    order = assigned(client, dispatcher, tech_id, **extra)
    for step in ("accept", "depart", "arrive"):
        order = act(client, tech, order, step, lat=34.2, lon=108.95).get_json()
    assert order["status"] == "on_site"
    return order


def today(client, headers) -> list[dict]:
    response = client.get("/api/tech/today", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def test_today_lists_only_my_orders_in_route_order_with_eta(client, db_session, network, dispatcher, tech2):
    me, other = network.techs[1].id, network.techs[2].id
    a = assigned(client, dispatcher, me, phone="13800138001")
    b = assigned(client, dispatcher, me, phone="13800138002", address="西安市碑林区南大街 2 号")
    c = assigned(client, dispatcher, me, phone="13800138003")
    theirs = assigned(client, dispatcher, other, phone="13800138004", product_category="washing_machine")
    eta = datetime(2030, 1, 1, 2, 0, tzinfo=UTC)
    db_session.execute(delete(RouteStop).where(RouteStop.technician_id == me))  # a plan of our own instead
    for order, seq in ((a, 2), (b, 1), (c, 3)):
        db_session.add(RouteStop(order_id=order["id"], technician_id=me, seq=seq, eta=eta + timedelta(hours=seq)))
    db_session.commit()

    items = today(client, tech2)
    assert [i["id"] for i in items] == [b["id"], a["id"], c["id"]]
    assert theirs["id"] not in [i["id"] for i in items]
    first = items[0]
    assert first["route_seq"] == 1 and datetime.fromisoformat(first["eta"]) == eta + timedelta(hours=1)
    assert first["customer"] == {"name": "张三", "phone": "+8613800138002"} or first["customer"]["name"] == "张三"
    assert first["address"] == "西安市碑林区南大街 2 号"
    assert first["navigate_url"].startswith("https://uri.amap.com/navigation?to=108.95")
    assert first["allowed_actions"] == ["accept", "reject"]
    assert first["checklist"] == ["diagnose", "replace_parts", "test_run", "explain_to_customer", "clean_up"]
    assert first["due_at"] and first["history"] == []


def test_the_customers_earlier_orders_at_the_address_come_with_each_order(client, network, dispatcher, tech2):
    me = network.techs[1].id
    earlier = create_order(client, dispatcher, phone="13800138009", description="漏水")
    elsewhere = create_order(client, dispatcher, phone="13800138009", address="西安市未央区凤城八路 8 号")
    now = assigned(client, dispatcher, me, phone="13800138009")
    (item,) = today(client, tech2)
    assert item["id"] == now["id"]
    assert [h["number"] for h in item["history"]] == [earlier["number"]]
    assert item["history"][0]["description"] == "漏水"
    assert elsewhere["number"] not in [h["number"] for h in item["history"]]


def test_a_returned_order_says_why(client, network, dispatcher, tech2):
    me = network.techs[1].id
    order = on_site(client, dispatcher, tech2, me)
    order = act(client, tech2, order, "complete").get_json()
    order = act(client, dispatcher, order, "return", reason="still leaks under the tank").get_json()
    (item,) = today(client, tech2)
    assert item["status"] == "returned" and item["visit_count"] == 2
    assert item["return_info"]["reason"] == "still leaks under the tank"
    assert item["allowed_actions"] == ["contact", "depart"]


def test_the_phone_shows_the_eta_the_customer_sees_planned_then_live_while_driving(
    app, client, db_session, network, dispatcher, tech2
):
    from dispatch import tracking
    from dispatch.models import WorkOrder

    me = network.techs[1].id
    order = assigned(client, dispatcher, me, phone="13800138002", lat=34.25, lon=108.95)
    planned = suite_now().replace(microsecond=0) + timedelta(hours=2)
    db_session.execute(delete(RouteStop).where(RouteStop.technician_id == me))
    db_session.add(RouteStop(order_id=order["id"], technician_id=me, seq=1, eta=planned))
    db_session.commit()
    (item,) = today(client, tech2)
    assert datetime.fromisoformat(item["eta"]) == planned and item["eta_live"] is False

    for step in ("accept", "depart"):
        order = act(client, tech2, order, step).get_json()
    # 5.6 km south of the customer: the live ETA drives from there, as the tracking page says.
    assert client.post("/api/tech/position", json={"lat": 34.2, "lon": 108.95}, headers=tech2).status_code == 200
    (item,) = today(client, tech2)
    db_session.expire_all()
    with app.app_context():
        customer_sees = tracking.public_update(
            db_session, db_session.get(WorkOrder, order["id"]), app.config["TIMEZONE"]
        )
    db_session.rollback()
    assert item["eta_live"] is True and customer_sees["live"] is True
    assert item["eta"] == customer_sees["eta"] and datetime.fromisoformat(item["eta"]) != planned

    order = act(client, tech2, order, "arrive", lat=34.25, lon=108.95).get_json()
    (item,) = today(client, tech2)
    assert item["status"] == "on_site" and item["eta"] is None  # there already


def test_the_phone_gets_the_customers_number_as_people_read_it(client, network, dispatcher, tech2):
    assigned(client, dispatcher, network.techs[1].id, phone="13800138002")
    (item,) = today(client, tech2)
    assert item["customer"]["phone"] == "+8613800138002"  # for the tel: link
    assert item["customer"]["phone_display"] == "138 0013 8002"


@pytest.mark.parametrize("path", ["/api/tech/orders/{id}/actions", "/api/orders/{id}/transitions"])
def test_checking_in_makes_the_check_in_position_the_technicians_last_known_one(
    client, db_session, network, dispatcher, tech2, path
):
    from technicians.models import Technician

    me = network.techs[1].id
    order = assigned(client, dispatcher, me)
    for step in ("accept", "depart"):
        order = act(client, tech2, order, step).get_json()
    before = suite_now()
    body = {"action": "arrive", "version": order["version"], "lat": 34.2101, "lon": 108.9502, "accuracy_m": 12}
    response = client.post(path.format(id=order["id"]), json=body, headers=tech2)
    assert response.status_code == 200, response.get_json()
    db_session.expire_all()
    tech = db_session.get(Technician, me)
    assert (tech.last_lat, tech.last_lon) == (34.2101, 108.9502)
    assert tech.last_seen_at.astimezone(UTC) >= before - timedelta(seconds=1)
    db_session.rollback()


def statements_while(app, action) -> int:
    """How many SQL statements `action()` sent to the database."""
    from web.extensions import db

    sent = []
    with app.app_context():
        engine = db.engine
    listener = lambda *args: sent.append(args[2])  # noqa: E731  (the statement)
    event.listen(engine, "before_cursor_execute", listener)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return len(sent)


def test_a_whole_day_is_read_in_the_same_few_queries_however_many_orders_it_holds(
    app, client, network, dispatcher, tech2
):
    me = network.techs[1].id
    returned = on_site(client, dispatcher, tech2, me, phone="13800138001")
    returned = act(client, tech2, returned, "complete").get_json()
    act(client, dispatcher, returned, "return", reason="still leaks")
    earlier = {"13800138002": create_order(client, dispatcher, phone="13800138002", description="上次")}
    assigned(client, dispatcher, me, phone="13800138002")
    today(client, tech2)  # the first call of a login warms what every request reads once
    two = statements_while(app, lambda: today(client, tech2))

    for n in range(3, 8):
        phone = f"1380013800{n}"
        earlier[phone] = create_order(client, dispatcher, phone=phone, description=f"上次 {n}")
        assigned(client, dispatcher, me, phone=phone)
    seven = statements_while(app, lambda: today(client, tech2))
    items = today(client, tech2)

    assert len(items) == 7 and seven == two, (two, seven)
    assert two <= 12  # the request's own reads (login, technician) and six for the day
    # Each order still gets its own customer's history, and the returned one its reason.
    for item in items:
        phone = item["customer"]["phone"].removeprefix("+86")
        expected = [earlier[phone]["number"]] if phone in earlier else []
        assert [h["number"] for h in item["history"]] == expected, item["number"]
    [again] = [i for i in items if i["visit_count"] == 2]
    assert again["return_info"]["reason"] == "still leaks"


def test_only_technicians_use_the_app(client, auth, network):
    assert client.get("/api/tech/today").status_code == 401
    assert client.get("/api/tech/today", headers=auth.token("dispatcher")).status_code == 403
    assert client.post("/api/orders/1/completion-report", json={}, headers=auth.token("manager")).status_code == 403
    page = client.get("/tech")
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    auth.login("dispatcher")
    assert client.get("/tech").status_code == 403


def test_the_page_the_worker_and_the_manifest(client, auth, network):
    auth.login("tech2")
    home = client.get("/")
    assert home.headers["Location"].endswith("/tech")
    page = client.get("/tech")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="tech-settings"' in html and "<script>" not in html  # no inline script
    assert 'capture="environment"' in html and 'accept="image/*"' in html
    worker = client.get("/tech/sw.js")
    assert worker.status_code == 200 and worker.headers["Service-Worker-Allowed"] == "/tech"
    assert "javascript" in worker.headers["Content-Type"]
    manifest = client.get("/tech/manifest.webmanifest")
    assert manifest.status_code == 200 and manifest.get_json()["start_url"] == "/tech"


def test_every_script_and_style_the_phone_loads_is_in_the_offline_shell(client, auth, network):
    from web.pages.tech import SHELL_FILES

    auth.login("tech2")
    html = client.get("/tech").get_data(as_text=True)
    loaded = set(re.findall(r'<script src="(/static/[^"?]+)', html))
    loaded |= set(re.findall(r'<link rel="stylesheet" href="(/static/[^"?]+)', html))
    assert "/static/common.js" in loaded and "/static/tech.js" in loaded
    worker = client.get("/tech/sw.js").get_data(as_text=True)
    shell = set(json.loads(re.search(r"var SHELL = (\[.*?\]);", worker, re.S).group(1)))
    assert loaded <= shell  # the service worker caches each, so the app starts offline
    assert {p.removeprefix("/static/") for p in loaded} <= set(SHELL_FILES)  # and a change renames the cache


def test_the_page_is_in_chinese(client, auth, network):
    auth.login("tech2")
    html = client.get("/tech", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "我的工单" in html and "拍照" in html
    assert "完工" in html  # in the JSON data block (escaped or not) or the form
    english = client.get("/tech", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "My jobs" in english and "Take a photo" in english


def test_a_replayed_move_applies_once(client, db_session, network, dispatcher, tech2):
    order = assigned(client, dispatcher, network.techs[1].id)
    body = {"action": "accept", "version": order["version"]}
    first = client.post(
        f"/api/tech/orders/{order['id']}/actions", json=body, headers={**tech2, "Idempotency-Key": "k-1"}
    )
    assert first.status_code == 200 and first.get_json()["status"] == "accepted"
    again = client.post(
        f"/api/tech/orders/{order['id']}/actions", json=body, headers={**tech2, "Idempotency-Key": "k-1"}
    )
    assert again.status_code == 200 and again.get_json()["version"] == first.get_json()["version"]
    other = client.post(
        f"/api/tech/orders/{order['id']}/actions", json=body, headers={**tech2, "Idempotency-Key": "k-2"}
    )
    assert other.status_code == 409
    kinds = [
        e.kind for e in db_session.query(WorkOrderEvent).filter_by(order_id=order["id"]).order_by(WorkOrderEvent.seq)
    ]
    assert kinds.count("accept") == 1


def test_a_move_on_an_order_the_dispatcher_changed_is_a_conflict(client, network, dispatcher, tech2):
    order = assigned(client, dispatcher, network.techs[1].id)
    moved = act(client, dispatcher, order, "assign", technician_id=network.techs[0].id).get_json()
    assert moved["technician"]["id"] == network.techs[0].id
    body = {"action": "accept", "version": order["version"]}
    response = client.post(
        f"/api/tech/orders/{order['id']}/actions", json=body, headers={**tech2, "Idempotency-Key": "k"}
    )
    assert response.status_code == 404  # no longer mine: not even visible


def test_a_replayed_photo_is_stored_once(client, db_session, network, dispatcher, tech2):
    order = on_site(client, dispatcher, tech2, network.techs[1].id)
    data = jpeg()
    url = f"/api/tech/orders/{order['id']}/photos"
    first = client.post(url, data={"photo": (io.BytesIO(data), "a.jpg"), "source": "camera"}, headers=tech2)
    assert first.status_code == 201, first.get_json()
    again = client.post(url, data={"photo": (io.BytesIO(data), "a.jpg"), "source": "camera"}, headers=tech2)
    assert again.status_code == 200 and again.get_json()["id"] == first.get_json()["id"]
    assert db_session.query(Photo).filter_by(order_id=order["id"]).count() == 1
    db_session.rollback()  # SQLite: end the read before the next request writes
    (item,) = today(client, tech2)
    assert item["photo_ids"] == [first.get_json()["id"]]


def test_the_completion_report_is_validated_and_recorded_once(client, db_session, network, dispatcher, tech2, auth):
    me = network.techs[1].id
    order = assigned(client, dispatcher, me)
    url = f"/api/orders/{order['id']}/completion-report"
    good = {
        "checklist": ["diagnose", "test_run"],
        "parts": [{"name": "温控器", "qty": 1}],
        "fee": 0,
        "notes": "换了温控器",
    }
    assert client.post(url, json=good, headers=tech2).status_code == 409  # not on site yet
    order = on_site(client, dispatcher, tech2, me, phone="13800138111")
    url = f"/api/orders/{order['id']}/completion-report"

    bad = client.post(url, json={**good, "checklist": ["dance"]}, headers=tech2)
    assert bad.status_code == 400 and "checklist" in bad.get_json()["detail"]["json"]
    bad = client.post(url, json={**good, "fee": -1, "parts": [{"name": "", "qty": 0}]}, headers=tech2)
    assert bad.status_code == 400 and {"fee", "parts"} <= set(bad.get_json()["detail"]["json"])
    assert client.post(url, json=good, headers=auth.token("tech3")).status_code == 404
    assert client.post(url, json=good, headers=dispatcher).status_code == 403

    first = client.post(url, json=good, headers={**tech2, "Idempotency-Key": "report-1"})
    assert first.status_code == 201, first.get_json()
    data = first.get_json()["data"]
    assert data["checklist"] == ["diagnose", "test_run"] and data["parts"] == [{"name": "温控器", "qty": 1}]
    assert data["fee"] == 0 and data["visit"] == 1
    again = client.post(url, json=good, headers={**tech2, "Idempotency-Key": "report-1"})
    assert again.status_code == 200 and again.get_json()["seq"] == first.get_json()["seq"]
    reports = db_session.query(WorkOrderEvent).filter_by(order_id=order["id"], kind="completion_report").count()
    assert reports == 1
    db_session.rollback()
    (item,) = [i for i in today(client, tech2) if i["id"] == order["id"]]
    assert item["report_submitted"] is True


def test_an_in_warranty_job_charged_needs_a_reason(client, network, dispatcher, tech2):
    order = on_site(client, dispatcher, tech2, network.techs[1].id, in_warranty=True)
    url = f"/api/orders/{order['id']}/completion-report"
    bad = client.post(url, json={"fee": 80}, headers=tech2)
    assert bad.status_code == 400 and "fee_note" in bad.get_json()["detail"]["json"]
    ok = client.post(url, json={"fee": 80, "fee_note": "人为损坏"}, headers=tech2)
    assert ok.status_code == 201


def test_checklists_come_from_the_config(app, client, network, dispatcher, tech2):
    app.config["TECH_CHECKLISTS"] = {"repair": ["photo_before", "photo_after"]}
    order = on_site(client, dispatcher, tech2, network.techs[1].id)
    (item,) = today(client, tech2)
    assert item["checklist"] == ["photo_before", "photo_after"]
    url = f"/api/orders/{order['id']}/completion-report"
    assert client.post(url, json={"checklist": ["diagnose"]}, headers=tech2).status_code == 400
    assert client.post(url, json={"checklist": ["photo_after"]}, headers=tech2).status_code == 201


def test_rejecting_from_the_phone_needs_a_reason(client, network, dispatcher, tech2):
    order = assigned(client, dispatcher, network.techs[1].id)
    url = f"/api/tech/orders/{order['id']}/actions"
    bad = client.post(url, json={"action": "reject", "version": order["version"]}, headers=tech2)
    assert bad.status_code == 400
    ok = client.post(url, json={"action": "reject", "version": order["version"], "reason": "不在服务区"}, headers=tech2)
    assert ok.status_code == 200 and ok.get_json()["status"] == "new"
    assert today(client, tech2) == []
    closed = client.post(url, json={"action": "close", "version": 1}, headers=tech2)
    assert closed.status_code == 400  # not a technician's move
