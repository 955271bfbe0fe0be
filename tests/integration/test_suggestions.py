"""The dispatcher's suggestions say the truth: lateness against the order's due time, and the
order's own technician labelled as such (choosing them changes nothing)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.db import utcnow
from dispatch.models import WorkOrder
from tests.integration.helpers import act, create_order

SOUTH = (34.201, 108.951)


@pytest.fixture
def dispatcher(app, network, auth):
    app.config["AUTO_ASSIGN_ON_INTAKE"] = True
    app.extensions.pop("intake_settings", None)
    return auth.token("dispatcher")


def make_overdue(db_session, order_id: int, days: int) -> None:
    order = db_session.get(WorkOrder, order_id)
    order.due_at = utcnow() - timedelta(days=days)
    db_session.commit()


def test_an_order_overdue_for_days_is_suggested_as_days_overdue_not_minutes_late(client, network, auth, db_session):
    headers = auth.token("dispatcher")  # auto-assignment off: the order waits
    order = create_order(client, headers, lat=SOUTH[0], lon=SOUTH[1])
    make_overdue(db_session, order["id"], days=8)

    best = client.get(f"/api/orders/{order['id']}/suggestions", headers=headers).get_json()["items"][0]

    assert best["overdue_minutes"] >= 8 * 24 * 60
    assert best["late_minutes"] >= 8 * 24 * 60, "late against the due time, not against now"


def test_the_order_page_words_an_overdue_suggestion_in_days(client, network, auth, db_session):
    order = create_order(client, auth.token("dispatcher"), lat=SOUTH[0], lon=SOUTH[1])
    make_overdue(db_session, order["id"], days=8)
    auth.login("dispatcher")

    page = client.get(f"/orders/{order['id']}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    chinese = client.get(f"/orders/{order['id']}", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)

    assert "already 8 days overdue" in page
    assert "已超时 8 天" in chinese


def test_the_orders_own_technician_is_labelled_current(client, dispatcher, network):
    order = create_order(client, dispatcher, lat=SOUTH[0], lon=SOUTH[1])
    assert order["technician"]["id"] == network.techs[1].id

    items = client.get(f"/api/orders/{order['id']}/suggestions", headers=dispatcher).get_json()["items"]

    assert {s["technician_id"]: s["current"] for s in items} == {network.techs[1].id: True, network.techs[0].id: False}


def test_choosing_the_technician_who_accepted_the_order_changes_nothing(client, dispatcher, network, auth):
    order = create_order(client, dispatcher, lat=SOUTH[0], lon=SOUTH[1])
    accepted = act(client, auth.token("tech2"), order, "accept").get_json()
    trail = client.get(f"/api/orders/{order['id']}/events", headers=dispatcher).get_json()["items"]

    response = act(client, dispatcher, accepted, "assign", technician_id=network.techs[1].id)

    assert response.status_code == 200, response.get_json()
    again = response.get_json()
    assert (again["status"], again["version"]) == ("accepted", accepted["version"])
    assert client.get(f"/api/orders/{order['id']}/events", headers=dispatcher).get_json()["items"] == trail


def test_choosing_the_current_technician_from_a_stale_read_is_still_a_conflict(client, dispatcher, network, auth):
    order = create_order(client, dispatcher, lat=SOUTH[0], lon=SOUTH[1])
    act(client, auth.token("tech2"), order, "accept")

    response = act(client, dispatcher, order, "assign", technician_id=network.techs[1].id)

    assert response.status_code == 409
