"""Intake over the JSON API: validation, idempotency, numbering, geocoding fallbacks."""

from __future__ import annotations

import re
import threading

import pytest

from dispatch.models import IdempotencyKey, WorkOrder, WorkOrderEvent
from tests.integration.helpers import create_order, order_body


@pytest.fixture
def headers(network, auth):
    return auth.token("dispatcher")


def test_a_valid_order_is_created_new_with_a_readable_number_and_one_event(client, headers, db_session):
    order = create_order(client, headers)
    assert order["status"] == "new"
    assert re.fullmatch(r"WO-\d{8}-\d{4}", order["number"])
    assert order["customer"]["phone"] == "+8613800138000"
    assert order["geocode_status"] == "ok"
    assert order["required_skill"] == "water_heater"
    events = db_session.query(WorkOrderEvent).filter_by(order_id=order["id"]).all()
    assert [(e.kind, e.to_status) for e in events] == [("created", "new")]


def test_the_due_time_follows_the_24_hour_policy(client, headers):
    from datetime import datetime, timedelta

    order = create_order(client, headers)
    created = datetime.fromisoformat(order["created_at"])
    assert datetime.fromisoformat(order["due_at"]) - created == timedelta(hours=24)


def test_the_due_time_follows_a_configured_priority_rule(app, client, headers):
    from datetime import datetime, timedelta

    from dispatch.sla.policy import SlaPolicy

    app.extensions.pop("intake_settings", None)
    app.config["SLA_PRIORITY_HOURS"] = {"vip": 8}
    order = create_order(client, headers, priority="vip")
    assert datetime.fromisoformat(order["due_at"]) - datetime.fromisoformat(order["created_at"]) == timedelta(hours=8)
    assert SlaPolicy(priority_hours={"vip": 8}).completion_hours("normal", "repair") == 24


def test_order_numbers_count_up_within_a_day(client, headers):
    first = create_order(client, headers)
    second = create_order(client, headers, phone="13900139000")
    assert int(second["number"][-4:]) == int(first["number"][-4:]) + 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "", "Length"),
        ("phone", "12345", "not a valid phone number"),
        ("phone", "not a phone", "not a phone number"),
        ("address", "", "Length"),
        ("product_category", "spaceship", "must be one of"),
        ("required_skill", "spaceship", "must be one of"),
        ("issue_category", "magic", "Must be one of"),
        ("priority", "asap", "Must be one of"),
        ("channel", "pigeon", "Must be one of"),
        ("lat", 123.0, "less than or equal to 90"),
        ("lon", "east", "Not a valid number"),
        ("coord_datum", "nad27", "Must be one of"),
        ("description", "x" * 2001, "Length"),
        ("in_warranty", "perhaps", "Not a valid boolean"),
        ("appointment_start", "tomorrow", "Not a valid datetime"),
    ],
)
def test_each_bad_field_is_a_400_that_names_it(client, headers, db_session, field, value, message):
    response = client.post("/api/orders", json=order_body(**{field: value}), headers=headers)
    assert response.status_code == 400
    errors = response.get_json()["detail"]["json"]
    assert field in errors, errors
    assert message.lower() in " ".join(errors[field]).lower()
    assert db_session.query(WorkOrder).count() == 0


def test_every_bad_field_is_named_at_once(client, headers):
    body = {"name": "", "phone": "1", "address": "", "product_category": "nope", "priority": "zz", "lat": "a"}
    response = client.post("/api/orders", json=body, headers=headers)
    assert response.status_code == 400
    assert set(response.get_json()["detail"]["json"]) >= {
        "name",
        "phone",
        "address",
        "product_category",
        "priority",
        "lat",
    }


def test_missing_fields_are_named(client, headers):
    response = client.post("/api/orders", json={}, headers=headers)
    assert response.status_code == 400
    assert set(response.get_json()["detail"]["json"]) >= {"name", "phone", "address", "product_category"}


def test_a_body_that_is_not_json_is_a_400_not_a_500(client, headers):
    response = client.post("/api/orders", data="{not json", headers={**headers, "Content-Type": "application/json"})
    assert response.status_code == 400


def test_only_one_coordinate_is_refused(client, headers):
    response = client.post("/api/orders", json=order_body(lon=None), headers=headers)
    assert response.status_code == 400
    assert response.get_json()["detail"]["json"] == {"lon": ["give both latitude and longitude, or neither"]}


def test_an_appointment_that_ends_before_it_starts_is_refused(client, headers):
    response = client.post(
        "/api/orders",
        json=order_body(appointment_start="2030-01-02T10:00:00+08:00", appointment_end="2030-01-02T09:00:00+08:00"),
        headers=headers,
    )
    assert response.status_code == 400
    assert "appointment_end" in response.get_json()["detail"]["json"]


def test_a_retry_with_the_same_idempotency_key_returns_the_same_order(client, headers, db_session):
    key = {"Idempotency-Key": "retry-1"}
    first = client.post("/api/orders", json=order_body(), headers={**headers, **key})
    second = client.post("/api/orders", json=order_body(), headers={**headers, **key})
    assert first.status_code == 201
    assert second.status_code == 200
    assert second.get_json()["id"] == first.get_json()["id"]
    assert db_session.query(WorkOrder).count() == 1


def test_the_same_key_with_a_different_body_is_refused(client, headers, db_session):
    key = {"Idempotency-Key": "retry-2"}
    client.post("/api/orders", json=order_body(), headers={**headers, **key})
    response = client.post("/api/orders", json=order_body(name="李四"), headers={**headers, **key})
    assert response.status_code == 422
    assert "Idempotency-Key" in response.get_json()["message"]
    assert db_session.query(WorkOrder).count() == 1


def test_concurrent_retries_with_one_key_create_one_order(app, network, db_session):
    """Eight clients send the same request with the same key at the same moment."""
    from tests.conftest import Auth

    headers = Auth(app.test_client()).token("dispatcher")
    barrier = threading.Barrier(8)
    results: list[int] = []

    def send() -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post("/api/orders", json=order_body(), headers={**headers, "Idempotency-Key": "race"})
        results.append(response.get_json()["id"] if response.status_code in (200, 201) else response.status_code)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1 and isinstance(results[0], int), results
    assert db_session.query(WorkOrder).count() == 1
    assert db_session.query(IdempotencyKey).count() == 1


def test_an_unreachable_geocoder_keeps_the_order_flagged_for_retry(client, headers):
    order = create_order(client, headers, lat=None, lon=None)
    assert order["status"] == "new"
    assert order["geocode_status"] == "failed"
    assert order["lat"] is None


def test_the_geocoder_places_an_address_and_caches_it(app, headers):
    from tests.fakes.geo_server import FakeGeoServer

    address = "西安市雁塔区小寨东路 1 号"
    with FakeGeoServer({address: (34.2245, 108.9475)}) as server:
        app.config.update(GEOCODER_PROVIDER="nominatim", GEOCODER_URL=server.url, GEOCODER_TIMEOUT=2)
        app.extensions.pop("intake_settings", None)
        client = app.test_client()
        first = create_order(client, headers, lat=None, lon=None, address=address)
        second = create_order(client, headers, lat=None, lon=None, address=address, phone="13900139000")
        assert first["geocode_status"] == "ok"
        assert (first["lat"], first["lon"]) == pytest.approx((34.2245, 108.9475))
        assert (second["lat"], second["lon"]) == (first["lat"], first["lon"])
        assert len(server.requests) == 1, "the second lookup must come from the cache"
        assert first["outlet_id"] is not None


def test_coordinates_picked_on_a_chinese_map_are_converted_to_wgs84(client, headers):
    from dispatch.geocoding import to_wgs84

    order = create_order(client, headers, lat=34.2625, lon=108.9540, coord_datum="bd09")
    expected = to_wgs84(34.2625, 108.9540, "bd09")
    assert (order["lat"], order["lon"]) == pytest.approx(expected)
    assert abs(order["lat"] - 34.2625) > 0.001  # BD-09 really was shifted back


def test_the_order_goes_to_the_nearest_outlet(client, headers, network):
    order = create_order(client, headers, lat=34.34, lon=108.94)
    assert order["outlet_id"] == network.north.id


def test_a_returning_customer_is_the_same_customer(client, headers):
    first = create_order(client, headers)
    second = create_order(client, headers, name="张三丰")
    assert first["customer"]["id"] == second["customer"]["id"]
    customer = client.get(f"/api/customers/{first['customer']['id']}", headers=headers).get_json()
    assert customer["name"] == "张三丰"
    assert {o["id"] for o in customer["orders"]} == {first["id"], second["id"]}
    by_phone = client.get("/api/customers?phone=138 0013 8000", headers=headers).get_json()
    assert by_phone["id"] == first["customer"]["id"]


def test_technicians_and_managers_cannot_create_orders(client, auth, network):
    for who in ("tech1", "manager"):
        response = client.post("/api/orders", json=order_body(), headers=auth.token(who))
        assert response.status_code == 403


def test_anonymous_callers_get_401(client, network):
    assert client.post("/api/orders", json=order_body()).status_code == 401
    assert client.get("/api/orders").status_code == 401


def test_orders_kept_while_the_geocoder_was_down_are_located_later(app, headers, db_session):
    from dispatch.intake import retry_geocoding
    from tests.fakes.geo_server import FakeGeoServer
    from web.wiring import intake_settings

    address = "西安市雁塔区小寨东路 1 号"
    client = app.test_client()
    waiting = create_order(client, headers, lat=None, lon=None, address=address)
    assert waiting["geocode_status"] == "failed" and waiting["outlet_id"] is None
    with FakeGeoServer({address: (34.2245, 108.9475)}) as server:
        app.config.update(GEOCODER_PROVIDER="nominatim", GEOCODER_URL=server.url, GEOCODER_TIMEOUT=2)
        app.extensions.pop("intake_settings", None)
        with app.app_context():
            counts = retry_geocoding(db_session, intake_settings())
    assert counts["ok"] == 1
    db_session.expire_all()
    order = db_session.get(WorkOrder, waiting["id"])
    assert order.geocode_status == "ok" and order.lat == pytest.approx(34.2245) and order.outlet_id is not None
    kinds = [e.kind for e in db_session.query(WorkOrderEvent).filter_by(order_id=order.id).order_by(WorkOrderEvent.seq)]
    assert kinds == ["created", "geocoded"]
    db_session.rollback()
