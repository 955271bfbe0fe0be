"""Correcting an order's address and position (PATCH /api/orders/<id>) and the address search
(GET /api/geocode) the hotline form uses; on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dispatch.geocoding import to_wgs84
from dispatch.models import WorkOrder, WorkOrderEvent
from tests.integration.helpers import create_order

SOUTH = (34.201, 108.951)
PLACE = "西安市雁塔区小寨东路 1 号"


@pytest.fixture
def headers(network, auth):
    return auth.token("dispatcher")


def patch(client, headers, order, **body):
    return client.patch(f"/api/orders/{order['id']}", json={"version": order["version"], **body}, headers=headers)


def test_an_order_without_a_position_is_located_and_then_placed_like_a_new_one(app, client, headers, network):
    app.config["AUTO_ASSIGN_ON_INTAKE"] = True
    app.extensions.pop("intake_settings", None)
    order = create_order(client, headers, lat=None, lon=None)
    assert (order["status"], order["geocode_status"]) == ("new", "failed")
    response = patch(client, headers, order, lat=SOUTH[0], lon=SOUTH[1])
    assert response.status_code == 200, response.get_json()
    fixed = response.get_json()
    assert (fixed["lat"], fixed["lon"]) == pytest.approx(SOUTH)
    assert fixed["geocode_status"] == "ok"
    assert fixed["address"] == order["address"], "a position alone keeps the address"
    assert fixed["status"] == "assigned" and fixed["technician"]["id"] == network.techs[1].id
    assert fixed["version"] > order["version"]


def test_the_correction_is_an_event_with_the_old_and_new_address(client, headers, db_session):
    order = create_order(client, headers)
    response = patch(client, headers, order, address="西安市碑林区南大街 2 号", lat=34.25, lon=108.94)
    assert response.status_code == 200, response.get_json()
    event = db_session.scalars(
        select(WorkOrderEvent).where(WorkOrderEvent.order_id == order["id"], WorkOrderEvent.kind == "relocated")
    ).one()
    assert event.data["address"] == [order["address"], "西安市碑林区南大街 2 号"]
    assert event.data["moved"] is True
    db_session.rollback()  # end the read (SQLite: a reader holding a transaction blocks writers)
    page = client.get(f"/api/orders/{order['id']}", headers=headers).get_json()
    assert page["address"] == "西安市碑林区南大街 2 号"


def test_a_stale_version_is_a_409_and_nothing_changes(client, headers, db_session):
    order = create_order(client, headers)
    assert patch(client, headers, order, lat=34.25, lon=108.94).status_code == 200
    response = patch(client, headers, order, address="elsewhere 9")
    assert response.status_code == 409
    db_session.expire_all()
    assert db_session.get(WorkOrder, order["id"]).address == order["address"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lat": 91, "lon": 108.9}, "lat"),
        ({"lat": 34.2}, "lon"),
        ({"address": ""}, "address"),
        ({}, "address"),
        ({"lat": 34.2, "lon": 108.9, "coord_datum": "mars"}, "coord_datum"),
        ({"address": "x" * 256}, "address"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(client, headers, body, field, db_session):
    order = create_order(client, headers)
    response = patch(client, headers, order, **body)
    assert response.status_code == 400, response.get_json()
    assert field in str(response.get_json())
    db_session.expire_all()
    assert db_session.get(WorkOrder, order["id"]).version == order["version"]


def test_a_pick_on_an_amap_map_is_stored_in_wgs84(client, headers):
    order = create_order(client, headers)
    fixed = patch(client, headers, order, lat=34.2625, lon=108.9540, coord_datum="gcj02").get_json()
    assert (fixed["lat"], fixed["lon"]) == pytest.approx(to_wgs84(34.2625, 108.9540, "gcj02"))
    assert abs(fixed["lon"] - 108.9540) > 0.003


def test_an_address_alone_is_geocoded_and_an_unknown_one_is_refused(app, client, headers):
    from tests.fakes.geo_server import FakeGeoServer

    order = create_order(client, headers, lat=None, lon=None, address="somewhere vague")
    with FakeGeoServer({PLACE: (34.2245, 108.9475)}) as server:
        app.config.update(GEOCODER_PROVIDER="nominatim", GEOCODER_URL=server.url, GEOCODER_TIMEOUT=2)
        app.extensions.pop("intake_settings", None)
        unknown = patch(client, headers, order, address="无此地址 99 号")
        assert unknown.status_code == 400 and "address" in unknown.get_json()["detail"]["json"]
        fixed = patch(client, headers, order, address=PLACE)
        assert fixed.status_code == 200, fixed.get_json()
        assert (fixed.get_json()["lat"], fixed.get_json()["lon"]) == pytest.approx((34.2245, 108.9475))


def test_closed_orders_and_other_roles_are_refused(client, headers, auth):
    order = create_order(client, headers)
    for who in ("tech1", "manager"):
        assert patch(client, auth.token(who), order, lat=34.2, lon=108.9).status_code in (403, 404)
    cancelled = client.post(
        f"/api/orders/{order['id']}/transitions",
        json={"action": "cancel", "version": order["version"], "reason": "x"},
        headers=headers,
    ).get_json()
    assert patch(client, headers, cancelled, lat=34.2, lon=108.9).status_code == 409
    assert client.patch(f"/api/orders/{order['id']}", json={"version": 1, "lat": 34.2, "lon": 108.9}).status_code == 401


def test_the_address_search_lists_candidates_from_the_geocoder(app, client, headers):
    from tests.fakes.geo_server import FakeGeoServer

    places = {PLACE: (34.2245, 108.9475), "西安市雁塔区小寨西路 8 号": (34.2240, 108.9400)}
    assert client.get("/api/geocode?q=小寨", headers=headers).get_json() == {"items": [], "status": "unavailable"}
    with FakeGeoServer(places) as server:
        app.config.update(GEOCODER_PROVIDER="nominatim", GEOCODER_URL=server.url, GEOCODER_TIMEOUT=2)
        app.extensions.pop("intake_settings", None)
        found = client.get("/api/geocode?q=小寨", headers=headers).get_json()
        assert found["status"] == "ok"
        assert {(round(c["lat"], 4), round(c["lon"], 4)) for c in found["items"]} == {
            (34.2245, 108.9475),
            (34.224, 108.94),
        }
        assert client.get("/api/geocode?q=无此地址", headers=headers).get_json() == {"items": [], "status": "not_found"}
        assert client.get("/api/geocode?q=", headers=headers).status_code == 400
        assert client.get("/api/geocode?q=x&limit=99", headers=headers).status_code == 400


def _csrf(html: str) -> str:
    from tests.conftest import _csrf_from

    return _csrf_from(html)


def test_the_order_page_locates_an_order_with_a_pick_on_the_map(client, headers, auth, db_session):
    order = create_order(client, headers, lat=None, lon=None)
    auth.login("dispatcher")
    page = client.get(f"/orders/{order['id']}").get_data(as_text=True)
    assert 'id="correct-location"' in page and 'name="lat"' in page and 'type="hidden"' in page
    response = client.post(
        f"/orders/{order['id']}/location",
        data={
            "csrf_token": _csrf(page),
            "version": str(order["version"]),
            "address": order["address"],
            "lat": "34.2625",
            "lon": "108.954",
            "coord_datum": "gcj02",
        },  # fmt: skip
    )
    assert response.status_code == 303
    db_session.expire_all()
    stored = db_session.get(WorkOrder, order["id"])
    assert (stored.lat, stored.lon) == pytest.approx(to_wgs84(34.2625, 108.954, "gcj02"))
    assert stored.geocode_status == "ok"
    db_session.rollback()
    again = client.post(
        f"/orders/{order['id']}/location",
        data={
            "csrf_token": _csrf(page),
            "version": str(order["version"]),
            "address": "x",
            "lat": "34.2",
            "lon": "108.9",
        },
        follow_redirects=True,
    )
    assert again.status_code == 200
    assert "changed by someone else" in again.get_data(as_text=True)


def test_the_hotline_form_asks_for_no_coordinates(client, auth, network):
    auth.login("dispatcher")
    html = client.get("/hotline").get_data(as_text=True)
    assert 'id="location-picker"' in html and 'id="caller-lookup"' in html
    assert (
        'name="lat" type="hidden"' in html
        or 'type="hidden" name="lat"' in html
        or 'id="lat" name="lat" type="hidden"' in html
    )
    assert "Latitude" not in html
