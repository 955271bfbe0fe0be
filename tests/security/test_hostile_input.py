"""Hostile input: SQL injection in every filter, oversized and deeply nested bodies, unicode
edge cases in free text, and customer links that cannot be guessed and do expire."""

from __future__ import annotations

import io
import json
from datetime import timedelta

from tests.conftest import Auth
from tests.integration.helpers import order_body
from tests.security.conftest import logged_in_client

INJECTIONS = [
    "' OR '1'='1",
    "1 OR 1=1",
    "1; DROP TABLE work_orders; --",
    "%' OR 1=1 --",
    "') UNION SELECT id, number FROM work_orders --",
    '" OR ""="',
    "\\' OR 1=1 #",
    "%",
]

# Every list endpoint and the filter/search parameters it takes.
LIST_FILTERS = {
    "/api/orders": ["status", "outlet_id", "technician_id", "skill", "priority", "q", "page", "per_page"],
    "/api/technicians": ["outlet_id", "skill", "active", "page"],
    "/api/complaints": ["status", "level", "outlet_id", "page"],
    "/api/customers": ["phone"],
    "/api/events": ["after", "limit"],
    "/api/callbacks": ["after_days", "page"],
    "/api/reviews": ["page", "per_page"],
    "/api/kpis": ["month", "by"],
    "/api/kpis/orders": ["month", "kpi", "technician_id", "outlet_id"],
    "/api/kpis/risk-watch": ["month"],
    "/api/outlets": ["page"],
    "/api/users": ["page"],
}
PAGE_FILTERS = {
    "/orders": ["q", "status", "priority", "outlet_id", "page"],
    "/admin/technicians": ["outlet_id", "skill", "page"],
    "/kpis": ["month"],
    "/kpis/orders": ["month", "kpi", "technician_id", "outlet_id"],
    "/callbacks": ["after_days", "page"],
    "/reviews": ["page"],
}
DEFAULTS = {"/api/kpis": "month=2026-11", "/api/kpis/orders": "month=2026-11&kpi=completion_24h"}


def _items(body) -> list:
    if isinstance(body, dict):
        for key in ("items", "orders"):
            if key in body:
                return body[key]
    return []


def _ids(body) -> set:
    return {i.get("id", i.get("order_id")) for i in _items(body) if isinstance(i, dict)}


def test_sql_injection_in_every_api_filter_is_just_a_strange_value(app, world, db_session):
    """Each payload gives 200 or 400, never 500, and never a row the caller could not see
    without it (the South dispatcher and tech2 see only South's order). Admins are covered
    by the schemathesis run, which sends arbitrary strings to the same parameters."""
    from sqlalchemy import func, select

    from dispatch.models import WorkOrder

    orders_before = db_session.scalar(select(func.count()).select_from(WorkOrder))
    db_session.rollback()
    client = app.test_client()
    problems = []
    for username in ("south_dispatcher", "tech2"):
        headers = Auth(client).token(username)
        for path, params in LIST_FILTERS.items():
            base = DEFAULTS.get(path, "")
            baseline = client.get(f"{path}?{base}", headers=headers)
            allowed = _ids(baseline.get_json()) if baseline.status_code == 200 else set()
            for param in params:
                for payload in INJECTIONS:
                    response = client.get(path, query_string=_query(base, param, payload), headers=headers)
                    where = f"{username} {path}?{param}={payload!r}: {response.status_code}"
                    if response.status_code not in (200, 400, 403, 404):
                        problems.append(where)
                    elif response.status_code == 200 and not _ids(response.get_json()) <= allowed:
                        problems.append(f"{where} returned rows beyond the caller's own")
                    elif response.status_code == 400 and param not in json.dumps(response.get_json()):
                        problems.append(f"{where} does not name the field")
    assert not problems, "\n".join(problems)
    assert db_session.scalar(select(func.count()).select_from(WorkOrder)) == orders_before


def test_a_search_for_an_injection_string_finds_nothing(app, world):
    client = app.test_client()
    headers = Auth(client).token("admin")
    assert _ids(client.get("/api/orders", headers=headers).get_json())  # there are orders to leak
    for payload in INJECTIONS[:6]:
        body = client.get("/api/orders", query_string={"q": payload}, headers=headers).get_json()
        assert _items(body) == [], payload


def test_sql_injection_in_page_filters_never_breaks_a_page(app, world):
    client, _ = logged_in_client(app, "south_dispatcher")
    north_number = world.north_order["number"]
    problems = []
    for path, params in PAGE_FILTERS.items():
        for param in params:
            for payload in INJECTIONS:
                response = client.get(path, query_string={param: payload})
                if response.status_code not in (200, 400):
                    problems.append(f"{path}?{param}={payload!r}: {response.status_code}")
                elif north_number in response.get_data(as_text=True):
                    problems.append(f"{path}?{param}={payload!r} shows North's order to the South dispatcher")
    assert not problems, "\n".join(problems)


def _query(base: str, param: str, payload: str) -> dict:
    query = dict(pair.split("=", 1) for pair in base.split("&") if pair)
    query[param] = payload
    return query


# --- sizes and shapes -------------------------------------------------------------------------------


def test_a_body_over_the_limit_is_413_for_json_and_for_uploads(app, world):
    app.config["MAX_CONTENT_LENGTH"] = 256 * 1024
    client = app.test_client()
    headers = Auth(client).token("admin")
    big = order_body(description="x" * (300 * 1024))
    response = client.post("/api/orders", json=big, headers=headers)
    assert response.status_code == 413 and response.is_json
    tech = Auth(client).token("tech1")
    data = {"photo": (io.BytesIO(b"\xff\xd8" + b"0" * (300 * 1024)), "big.jpg", "image/jpeg")}
    response = client.post(
        f"/api/orders/{world.north_open['id']}/photos", data=data, headers=tech, content_type="multipart/form-data"
    )
    assert response.status_code == 413 and response.is_json
    # A page form too (the public request form).
    response = client.post("/request", data={"description": "x" * (300 * 1024)})
    assert response.status_code == 413


def test_deeply_nested_json_is_400_never_500(app, world):
    client = app.test_client()
    headers = Auth(client).token("admin")
    for depth in (50, 1000, 100_000):
        nested = "[" * depth + "]" * depth
        for raw in (nested, '{"name": ' + nested + "}", '{"a":' * depth + "1" + "}" * depth):
            response = client.post("/api/orders", data=raw, content_type="application/json", headers=headers)
            assert response.status_code == 400, (depth, raw[:20], response.status_code)
            assert response.is_json


def test_malformed_json_and_wrong_content_types_are_400(app, world):
    client = app.test_client()
    headers = Auth(client).token("admin")
    for raw, ctype in (
        ("{", "application/json"),
        ('{"name": "a",}', "application/json"),
        ("\xff\xfe", "application/json"),
        ("NaN", "application/json"),
        ('{"lat": NaN, "lon": Infinity}', "application/json"),
        ("name=a", "application/x-www-form-urlencoded"),
        ("", "text/plain"),
    ):
        response = client.post("/api/orders", data=raw, content_type=ctype, headers=headers)
        assert response.status_code in (400, 415), (raw, ctype, response.status_code)
        assert response.is_json


# --- unicode -----------------------------------------------------------------------------------------

KEPT = [
    "مرحبا \u200f右到左\u200e mixed",  # RTL and LTR marks
    "🔧🚿 热水器漏水 👨‍👩‍👧",  # emoji, a ZWJ sequence
    "e\u0301 \u00e9 \ufeff zero\u200bwidth",  # combining mark, BOM, zero-width space
    "𠀀𪚥 supplementary CJK",
    "<script>alert(1)</script> & \"quotes\" 'single'",
]


def test_unicode_in_free_text_is_stored_and_echoed_exactly(app, world):
    client = app.test_client()
    headers = Auth(client).token("admin")
    for text in KEPT:
        response = client.post("/api/orders", json=order_body(description=text, name=text[:100]), headers=headers)
        assert response.status_code == 201, (text, response.get_json())
        order = client.get(f"/api/orders/{response.get_json()['id']}", headers=headers).get_json()
        assert order["description"] == text
        assert order["customer"]["name"] == text[:100] or order.get("contact_name") == text[:100]


UNSTORABLE = [
    '"bad\\u0000nul"',  # NUL: PostgreSQL cannot store it in text
    '"lone \\ud800 surrogate"',
    '"lone low \\udfff surrogate"',
    '"reversed \\udc00\\ud800 pair"',
]


def test_nul_and_lone_surrogates_are_400_naming_the_field(app, world, db_session):
    from sqlalchemy import func, select

    from dispatch.models import WorkOrder

    before = db_session.scalar(select(func.count()).select_from(WorkOrder))
    db_session.rollback()
    client = app.test_client()
    headers = Auth(client).token("admin")
    for field in ("description", "address", "name", "product_model"):
        for raw in UNSTORABLE:
            body = json.dumps(order_body())[:-1] + f', "{field}": {raw}' + "}"
            response = client.post("/api/orders", data=body, content_type="application/json", headers=headers)
            assert response.status_code == 400, (field, raw, response.get_data(as_text=True)[:300])
            assert field in response.get_json()["detail"]["json"], response.get_json()
    # In a query string and a page form too.
    response = client.get("/api/orders", query_string={"q": "a\x00b"}, headers=headers)
    assert response.status_code == 400 and "q" in response.get_json()["detail"]["json"]
    response = client.post("/request", data={"description": "a\x00b"})
    assert response.status_code == 400
    assert db_session.scalar(select(func.count()).select_from(WorkOrder)) == before  # nothing half-written


def test_ids_beyond_the_database_range_are_404_in_paths_and_400_in_fields(app, world):
    client = app.test_client()
    headers = Auth(client).token("admin")
    for huge in ("2147483648", "9223372036854775808", "1" * 5000):
        assert client.get(f"/api/orders/{huge}", headers=headers).status_code == 404
        response = client.get("/api/orders", query_string={"outlet_id": huge}, headers=headers)
        assert response.status_code == 400 and "outlet_id" in response.get_json()["detail"]["json"]
    response = client.post("/api/plans", json={"outlet_id": 2**40}, headers=headers)
    assert response.status_code == 400 and "outlet_id" in response.get_json()["detail"]["json"]


def test_text_over_its_length_is_400_naming_the_field(app, world):
    client = app.test_client()
    headers = Auth(client).token("admin")
    for field, limit in (("description", 2000), ("address", 255), ("name", 100), ("product_model", 100)):
        response = client.post("/api/orders", json=order_body(**{field: "长" * (limit + 1)}), headers=headers)
        assert response.status_code == 400
        assert field in response.get_json()["detail"]["json"]
        assert client.post("/api/orders", json=order_body(**{field: "长" * limit}), headers=headers).status_code in (
            201,
            200,
        )


def test_unicode_edge_cases_in_other_free_text_fields(app, world):
    """Notes, reasons and names elsewhere: either kept or a 400 naming the field; never a 500."""
    client = app.test_client()
    admin, dispatcher = Auth(client).token("admin"), Auth(client).token("dispatcher")
    open_order = client.get(f"/api/orders/{world.north_open['id']}", headers=dispatcher).get_json()
    calls = [
        ("POST", f"/api/orders/{open_order['id']}/transitions", dispatcher, "reason", {"action": "unassign"}),
        ("PATCH", f"/api/technicians/{world.tech_ids[0]}", admin, "name", {}),
        ("PATCH", f"/api/outlets/{world.north_id}", admin, "name", {}),
        ("PATCH", f"/api/users/{world.tech_user_id}", admin, "display_name", {}),
        ("POST", f"/api/orders/{world.north_order['id']}/complaint/escalations", dispatcher, "reason", {}),
    ]
    problems = []
    for method, path, headers, field, extra in calls:
        for raw in ('"nul\\u0000"', '"\\ud800"'):
            body = dict(extra)
            if "version" not in body and "transitions" in path:
                body["version"] = open_order["version"]
            text = json.dumps(body)[:-1] + (", " if body else "") + f'"{field}": {raw}' + "}"
            response = client.open(path, method=method, data=text, content_type="application/json", headers=headers)
            if response.status_code != 400 or field not in json.dumps(response.get_json()):
                problems.append(f"{method} {path} {field}={raw}: {response.status_code} {response.get_data()[:200]!r}")
    assert not problems, "\n".join(problems)


# --- customer links ---------------------------------------------------------------------------------


def test_tracking_links_are_long_random_and_only_the_real_one_works(app, world):
    from tests.security.test_access_matrix import fresh_token

    token = fresh_token(app, world.north_order["id"])
    assert len(token) >= 32 and token.isascii()
    assert fresh_token(app, world.north_order["id"]) != token  # a reissue is a new secret
    token = fresh_token(app, world.north_order["id"])
    client = app.test_client()
    assert client.get(f"/api/track/{token}").status_code == 200
    for wrong in (token[:-1], token[:8], token + "A", token.upper() if token.upper() != token else token.lower(),
                  "x", "0" * 32, "a" * 200, "a" * 5000, "%00", "..%2F..%2Fetc%2Fpasswd", "' OR '1'='1"):  # fmt: skip
        assert client.get(f"/api/track/{wrong}").status_code == 404, wrong
        assert client.get(f"/t/{wrong}").status_code == 404, wrong


def test_an_expired_link_stops_working_and_says_so(app, world, db_session):
    from core.db import utcnow
    from dispatch.models import WorkOrder
    from tests.security.test_access_matrix import fresh_token

    token = fresh_token(app, world.north_order["id"])
    client = app.test_client()
    assert client.get(f"/api/track/{token}").status_code == 200
    db_session.get(WorkOrder, world.north_order["id"]).tracking_expires_at = utcnow() - timedelta(seconds=1)
    db_session.commit()
    assert client.get(f"/api/track/{token}").status_code == 410
    assert client.get(f"/t/{token}").status_code == 410
    page_client, csrf = logged_in_client(app, None)
    response = page_client.post(f"/t/{token}/note", data={"note": "hello", "csrf_token": csrf})
    assert response.status_code == 410
    # A link that has not expired yet still works.
    db_session.get(WorkOrder, world.north_order["id"]).tracking_expires_at = utcnow() + timedelta(hours=1)
    db_session.commit()
    assert client.get(f"/api/track/{token}").status_code == 200


# --- uploads (the photo issue's checks, rechecked with hostile files) ------------------------------


def test_hostile_uploads_are_refused_and_a_stored_photo_is_only_ever_served_as_a_jpeg(app, world, tmp_path):
    from tests.integration.helpers import act
    from tests.security.conftest import jpeg

    client = app.test_client()
    tech = Auth(client).token("tech1")
    order = world.north_open
    for step in ("accept", "depart", "arrive"):
        order = act(client, tech, order, step).get_json()
    assert order["status"] == "on_site", order
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'
    html = b"<html><script>alert(1)</script></html>"
    polyglot = b"\xff\xd8\xff\xe0" + html  # a JPEG's magic bytes, then HTML
    for data, name, ctype in (
        (svg, "proof.svg", "image/svg+xml"),
        (svg, "proof.jpg", "image/jpeg"),
        (html, "proof.jpg", "image/jpeg"),
        (polyglot, "proof.jpg", "image/jpeg"),
        (b"", "proof.jpg", "image/jpeg"),
        (b"GIF89a" + b"\x00" * 64, "proof.gif", "image/gif"),
    ):
        form = {"photo": (io.BytesIO(data), name, ctype)}
        response = client.post(
            f"/api/orders/{order['id']}/photos", data=form, headers=tech, content_type="multipart/form-data"
        )
        assert response.status_code == 400, (name, ctype, data[:12], response.status_code)
        assert "photo" in json.dumps(response.get_json()), response.get_json()
    # A real picture under a hostile file name is stored under a name of the server's choosing.
    form = {"photo": (io.BytesIO(jpeg(11)), "../../../../tmp/evil.html", "text/html")}
    response = client.post(
        f"/api/orders/{order['id']}/photos", data=form, headers=tech, content_type="multipart/form-data"
    )
    assert response.status_code == 201, response.get_json()
    assert not (tmp_path.parent / "evil.html").exists()
    served = client.get(f"/api/photos/{response.get_json()['id']}", headers=tech)
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert served.data[:2] == b"\xff\xd8"
