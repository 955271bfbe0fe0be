"""Customers' personal data: masked phones for roles that do not call customers, an audit row
for every look at a customer's file, no customer data across outlets, the retention sweep,
and the security headers every response carries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tests.conftest import Auth
from tests.integration.helpers import act, create_order

FULL = "+8613800138000"
MASKED = "138****8000"


def _get_order(app, username, order_id):
    headers = Auth(app.test_client()).token(username)
    return app.test_client().get(f"/api/orders/{order_id}", headers=headers)


def test_managers_see_a_masked_phone_dispatchers_and_the_assigned_technician_the_full_one(app, network):
    dispatcher = Auth(app.test_client()).token("dispatcher")
    order = create_order(app.test_client(), dispatcher)
    order = act(app.test_client(), dispatcher, order, "assign", technician_id=network.techs[1].id).get_json()

    assert _get_order(app, "dispatcher", order["id"]).get_json()["customer"]["phone"] == FULL
    assert _get_order(app, "tech2", order["id"]).get_json()["customer"]["phone"] == FULL
    assert _get_order(app, "manager", order["id"]).get_json()["customer"]["phone"] == MASKED

    board = app.test_client().get("/api/board", headers=Auth(app.test_client()).token("manager")).get_json()
    assert {o["contact_phone"] for o in board["orders"]} == {MASKED}


def test_the_order_page_masks_the_phone_for_a_manager(app, network):
    dispatcher = Auth(app.test_client()).token("dispatcher")
    order = create_order(app.test_client(), dispatcher)
    manager = app.test_client()
    Auth(manager).login("manager")
    html = manager.get(f"/orders/{order['id']}").get_data(as_text=True)
    assert MASKED in html and "13800138000" not in html and "138 0013 8000" not in html


def test_every_look_at_a_customer_file_is_audited(app, network, db_session):
    from core.audit import AuditEntry

    dispatcher = Auth(app.test_client()).token("dispatcher")
    order = create_order(app.test_client(), dispatcher)
    customer_id = order["customer"]["id"]
    api = app.test_client().get(f"/api/customers/{customer_id}", headers=dispatcher)
    assert api.status_code == 200 and api.get_json()["phone"] == FULL
    page = app.test_client()
    Auth(page).login("manager")
    html = page.get(f"/customers/{customer_id}").get_data(as_text=True)
    assert MASKED in html

    db_session.rollback()
    views = db_session.scalars(
        select(AuditEntry).where(AuditEntry.entity == "customer", AuditEntry.action == "view")
    ).all()
    assert [(v.entity_id, v.actor_id) for v in views] == [
        (customer_id, network.dispatcher.id),
        (customer_id, network.manager.id),
    ]


def test_a_dispatcher_of_another_outlet_cannot_open_the_customer_file(app, network):
    dispatcher = Auth(app.test_client()).token("dispatcher")
    order = create_order(app.test_client(), dispatcher, lat=34.34, lon=108.94)  # North
    assert order["outlet_id"] == network.north.id
    south = Auth(app.test_client()).token("south_dispatcher")
    customer_id = order["customer"]["id"]
    assert app.test_client().get(f"/api/customers/{customer_id}", headers=south).status_code == 404
    assert app.test_client().get("/api/customers?phone=13800138000", headers=south).status_code == 404
    page = app.test_client()
    Auth(page).login("south_dispatcher")
    assert page.get(f"/customers/{customer_id}").status_code == 404


# --- retention ---------------------------------------------------------------------


def _age(db_session, order_id: int, days: int) -> None:
    from core.db import utcnow
    from dispatch.models import WorkOrderEvent

    db_session.execute(
        update(WorkOrderEvent).where(WorkOrderEvent.order_id == order_id).values(at=utcnow() - timedelta(days=days))
    )
    db_session.commit()


def test_the_retention_sweep_anonymizes_customers_long_done_and_nobody_else(app, network, db_session):
    from dispatch.models import Customer, WorkOrder
    from dispatch.privacy import anonymize_stale_customers
    from web.wiring import photo_store

    dispatcher = Auth(app.test_client()).token("dispatcher")
    old = create_order(app.test_client(), dispatcher, phone="13800000001", name="老客户", description="门口有狗")
    act(app.test_client(), dispatcher, old, "cancel", reason="customer fixed it")
    recent = create_order(app.test_client(), dispatcher, phone="13800000002", name="新客户")
    act(app.test_client(), dispatcher, recent, "cancel", reason="customer fixed it")
    still_open = create_order(app.test_client(), dispatcher, phone="13800000003", name="在修客户")
    _age(db_session, old["id"], 400)
    _age(db_session, still_open["id"], 400)

    result = anonymize_stale_customers(db_session, months=12, store=photo_store(app.config))
    assert (result.customers, result.orders) == (1, 1)
    db_session.expire_all()
    gone = db_session.get(Customer, old["customer"]["id"])
    assert (gone.name, gone.phone, gone.address, gone.anonymized_at is not None) == (
        "—",
        f"anon-{gone.id}",
        "",
        True,
    )
    order = db_session.get(WorkOrder, old["id"])
    assert (order.contact_name, order.address, order.description) == ("—", "", "")
    assert order.lat == round(old["lat"], 2) and order.status == "cancelled"
    for kept in (recent, still_open):
        assert db_session.get(Customer, kept["customer"]["id"]).anonymized_at is None
    # A second run finds nothing more to do.
    assert anonymize_stale_customers(db_session, months=12, store=photo_store(app.config)).customers == 0


def test_the_retention_command_reports_what_it_did(app, network, db_session):
    dispatcher = Auth(app.test_client()).token("dispatcher")
    old = create_order(app.test_client(), dispatcher)
    act(app.test_client(), dispatcher, old, "cancel", reason="duplicate")
    _age(db_session, old["id"], 800)
    db_session.rollback()
    result = app.test_cli_runner().invoke(args=["anonymize-customers", "--months", "24"])
    assert result.exit_code == 0, result.output
    assert "anonymized 1 customers (1 orders)" in result.output


# --- headers and configuration ---------------------------------------------------------------


def test_every_page_carries_a_strict_content_security_policy(client, network):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_the_map_tile_host_is_the_only_outside_image_source(app_config):
    from web import create_app

    app = create_app({**app_config, "MAP_TILE_URL": "https://{s}.tile.example.org/{z}/{x}/{y}.png"})
    try:
        csp = app.test_client().get("/login").headers["Content-Security-Policy"]
        assert "img-src 'self' data: blob: https://*.tile.example.org" in csp
    finally:
        app.extensions["database"].dispose()


def test_production_refuses_to_start_without_a_secret_key(monkeypatch, tmp_path):
    from web.config import from_environment

    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY must be set"):
        from_environment(tmp_path)


def test_production_cookies_are_secure_and_http_only_and_hsts_is_sent(monkeypatch, app_config, network, csrf_from):
    from web import create_app

    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    config = {k: v for k, v in app_config.items() if k != "SECRET_KEY"}
    app = create_app(config)
    try:
        client = app.test_client()
        page = client.get("/login", base_url="https://dispatch.example")
        assert "max-age=31536000" in page.headers["Strict-Transport-Security"]
        token = csrf_from(page.get_data(as_text=True))
        login = client.post(
            "/login",
            data={"username": "dispatcher", "password": "test-pass-123", "csrf_token": token},
            base_url="https://dispatch.example",
            headers={"Referer": "https://dispatch.example/login"},  # Flask-WTF checks it over HTTPS
        )
        assert login.status_code == 302, login.get_data(as_text=True)
        cookie = login.headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    finally:
        app.extensions["database"].dispose()


SECRETS = {
    "name": "隐私客户",
    "phone": "13800000009",
    "address": "西安市碑林区隐秘巷 9 号",
    "note": "门禁密码 4321，狗很凶",
    "cancel": "我在医院，电话 13911112222",
    "completion": "客户李四说她丈夫不在家",
    "summary": "customer says the technician was rude to her mother",
    "compensation": "dent in Mrs Li's new floor",
    "photo": "Li Si, 13800000009, home 34.2101,108.9502",
}


def _photo_with_a_home(seed: int = 7) -> bytes:
    """A proof photo as phones make them: GPS of the customer's home in EXIF and a comment."""
    import io

    from PIL import Image

    from tests.integration.test_photos import picture, with_exif

    image = Image.open(io.BytesIO(picture(seed=seed)))
    out = io.BytesIO()
    image.save(out, "JPEG", exif=with_exif("2026:11:24 10:30:00", (34.2101, 108.9502)), comment=SECRETS["photo"])
    return out.getvalue()


def test_retention_leaves_no_personal_text_in_any_table_and_no_location_in_any_photo_file(
    app, client, auth, network, db_session, csrf_from
):
    import io

    from PIL import Image

    from core.db import Base
    from dispatch.models import Photo
    from dispatch.privacy import anonymize_stale_customers
    from tests.integration.test_photos import upload
    from web.wiring import photo_store

    dispatcher, manager, tech = auth.token("dispatcher"), auth.token("manager"), auth.token("tech2")
    who = {"phone": SECRETS["phone"], "name": SECRETS["name"], "address": SECRETS["address"]}

    # One order done: a note from the customer, a photo, a completion report, a complaint.
    done = create_order(client, dispatcher, **who)
    token = done["tracking_url"].rsplit("/t/", 1)[1]
    page = client.get(f"/t/{token}").get_data(as_text=True)
    client.post(f"/t/{token}/note", data={"csrf_token": csrf_from(page), "note": SECRETS["note"]})
    done = client.get(f"/api/orders/{done['id']}", headers=dispatcher).get_json()
    done = act(client, dispatcher, done, "assign", technician_id=network.techs[1].id).get_json()
    for step in ("accept", "depart", "arrive"):
        done = act(client, tech, done, step).get_json()
    assert upload(client, tech, done["id"], _photo_with_a_home()).status_code == 201
    report = {"checklist": [], "parts": [], "fee": 0, "notes": SECRETS["completion"]}
    assert client.post(f"/api/orders/{done['id']}/completion-report", json=report, headers=tech).status_code == 201
    done = client.get(f"/api/orders/{done['id']}", headers=tech).get_json()
    done = act(client, tech, done, "complete").get_json()
    complaint = client.post(
        f"/api/orders/{done['id']}/complaint", json={"summary": SECRETS["summary"]}, headers=manager
    )
    assert complaint.status_code == 201
    compensation = {"amount": "50", "reason": SECRETS["compensation"], "approve": True}
    url = f"/api/orders/{done['id']}/complaint/compensations"
    assert client.post(url, json=compensation, headers=manager).status_code == 201
    done = client.get(f"/api/orders/{done['id']}", headers=manager).get_json()
    assert act(client, manager, done, "close").status_code == 200
    # And one the customer cancelled, saying why.
    cancelled = create_order(client, dispatcher, **who)
    token = cancelled["tracking_url"].rsplit("/t/", 1)[1]
    page = client.get(f"/t/{token}").get_data(as_text=True)
    client.post(f"/t/{token}/cancel", data={"csrf_token": csrf_from(page), "reason": SECRETS["cancel"]})

    def readable() -> set[str]:
        """Which secrets any column of any table still holds."""
        found = set()
        for table in Base.metadata.sorted_tables:
            text = repr(db_session.execute(table.select()).all())
            found |= {k for k, v in SECRETS.items() if v in text}
        db_session.rollback()
        return found

    assert readable() == set(SECRETS) - {"photo"}  # the test sees what it looks for
    store = photo_store(app.config)
    photo = db_session.scalars(select(Photo).where(Photo.order_id == done["id"])).one()
    keys = (photo.original_key, photo.view_key, photo.thumb_key)
    db_session.rollback()
    assert Image.open(io.BytesIO(store.get(keys[0]))).getexif().get_ifd(0x8825), "the original has GPS to remove"

    _age(db_session, done["id"], 400)
    _age(db_session, cancelled["id"], 400)
    assert anonymize_stale_customers(db_session, months=12, store=store).customers == 1

    assert readable() == set()
    for key in keys:
        data = store.get(key)
        image = Image.open(io.BytesIO(data))
        assert not image.getexif().get_ifd(0x8825), f"{key} still has GPS"
        assert b"13800000009" not in data and b"34.2101" not in data and b"Li Si" not in data, key
        assert "comment" not in image.info, key
    original = Image.open(io.BytesIO(store.get(keys[0])))
    assert original.getexif().get_ifd(0x8769).get(36867) == "2026:11:24 10:30:00"  # when it was taken stays
