"""Security tests: a seeded world with objects on both sides of every permission line.

North: tech1's order, taken to completion with a proof photo (so it has a verdict, a photo
and a customer); South: tech2's order. Plus a leave, an SLA rule and a North plan proposal,
so every route with an id in its path gets a real one.
"""

from __future__ import annotations

import io
import random
import re
from dataclasses import dataclass, field

import pytest
from PIL import Image, ImageDraw

from tests.conftest import PASSWORD, Auth
from tests.integration.helpers import act, create_order

NORTH = {"lat": 34.34, "lon": 108.94}
SOUTH = {"lat": 34.19, "lon": 108.95}


@pytest.fixture
def app_config(app_config) -> dict:
    # The matrix and the fuzzers send hundreds of requests a minute from one address.
    return {**app_config, "RATELIMIT_ENABLED": False}


def jpeg(seed: int = 1, size=(640, 480)) -> bytes:
    rnd = random.Random(seed)
    img = Image.new("RGB", size, tuple(rnd.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(img)
    for _ in range(20):
        x, y = rnd.randrange(size[0]), rnd.randrange(size[1])
        draw.ellipse([x, y, x + rnd.randrange(40, 300), y + rnd.randrange(40, 300)], fill=(rnd.randrange(256), 0, 90))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return out.getvalue()


@dataclass
class World:
    """Plain ids only: touching ORM objects would open a transaction on the test's session,
    and SQLite's BEGIN IMMEDIATE would then block the app's writers."""

    tech_ids: list
    north_id: int
    south_id: int
    north_order: dict
    south_order: dict
    north_open: dict  # tech1's too, still open (assigned)
    customer_id: int
    customer_phone: str
    photo_id: int
    proposal_id: int
    rule_id: int
    tech_user_id: int
    compensation_id: int
    ids: dict = field(default_factory=dict)


def upload(client, headers, order_id: int, data: bytes, path: str = "/api/orders/{id}/photos"):
    form = {"photo": (io.BytesIO(data), "proof.jpg", "image/jpeg"), "lat": "34.34", "lon": "108.94"}
    return client.post(path.format(id=order_id), data=form, headers=headers, content_type="multipart/form-data")


@pytest.fixture
def world(app, network, db_session) -> World:
    from dispatch.models import WorkOrder

    client = app.test_client()
    auth = Auth(client)
    dispatcher, admin, tech1 = auth.token("dispatcher"), auth.token("admin"), auth.token("tech1")
    north = create_order(client, dispatcher, phone="13800138001", **NORTH)
    south = create_order(client, dispatcher, phone="13800138002", **SOUTH)
    north = act(client, dispatcher, north, "assign", technician_id=network.techs[0].id).get_json()
    north_open = create_order(client, dispatcher, phone="13800138003", **NORTH)
    north_open = act(client, dispatcher, north_open, "assign", technician_id=network.techs[0].id).get_json()
    south = act(client, dispatcher, south, "assign", technician_id=network.techs[1].id).get_json()
    for step in ("accept", "depart", "arrive"):
        north = act(client, tech1, north, step).get_json()
    photo = upload(client, tech1, north["id"], jpeg())
    assert photo.status_code == 201, photo.get_json()
    north = client.get(f"/api/orders/{north['id']}", headers=tech1).get_json()
    north = act(client, tech1, north, "complete").get_json()
    assert north["status"] == "completed", north
    complaint = client.post(f"/api/orders/{north['id']}/complaint", json={"summary": "late"}, headers=dispatcher)
    assert complaint.status_code == 201, complaint.get_json()
    comp = client.post(
        f"/api/orders/{north['id']}/complaint/compensations",
        json={"amount": "50.00", "reason": "late"},
        headers=dispatcher,
    )
    assert comp.status_code == 201, comp.get_json()
    plan = client.post("/api/plans", json={"outlet_id": network.north.id, "time_limit_s": 1}, headers=dispatcher)
    assert plan.status_code == 201, plan.get_json()
    rule = client.post(
        "/api/sla-rules", json={"name": "vip", "priority": "vip", "completion_minutes": 720}, headers=admin
    )
    assert rule.status_code == 201, rule.get_json()
    world = World(
        tech_ids=[t.id for t in network.techs],
        north_id=network.north.id,
        south_id=network.south.id,
        north_order=north,
        south_order=south,
        north_open=north_open,
        customer_id=db_session.get(WorkOrder, north["id"]).customer_id,
        customer_phone="13800138001",
        photo_id=photo.get_json()["id"],
        proposal_id=plan.get_json()["id"],
        rule_id=rule.get_json()["id"],
        tech_user_id=network.techs[0].user_id,
        compensation_id=comp.get_json()["compensations"][0]["id"],
    )
    db_session.rollback()
    return world


def csrf_token_of(client) -> str:
    """The CSRF token bound to the client's session (every page's language form has one)."""
    html = client.get("/request").get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"', html
    )
    assert match, "no CSRF token on /request"
    return match.group(1)


def logged_in_client(app, username: str | None):
    """A test client with a browser session for `username` (None: anonymous) and its CSRF token."""
    client = app.test_client()
    if username is not None:
        response = Auth(client).login(username, PASSWORD)
        assert response.status_code == 302, f"login as {username} failed: {response.status_code}"
    return client, csrf_token_of(client)
