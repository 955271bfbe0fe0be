"""The customer's side and closing the loop: tracking link, survey, callbacks, second visits."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from core.db import utcnow
from dispatch.models import Survey, WorkOrder
from tests.integration.helpers import act, create_order


@pytest.fixture
def dispatcher(network, auth):
    return auth.token("dispatcher")


def token_of(order: dict) -> str:
    return order["tracking_url"].rsplit("/t/", 1)[1]


def done(client, auth, network, dispatcher, **fields) -> dict:
    """An order walked to completed by tech2."""
    order = create_order(client, dispatcher, **fields)
    token = token_of(order)
    tech = auth.token("tech2")
    order = act(client, dispatcher, order, "assign", technician_id=network.techs[1].id).get_json()
    for step in ("accept", "depart", "arrive", "complete"):
        order = act(client, tech, order, step).get_json()
    assert order["status"] == "completed"
    return {**order, "token": token}


def test_each_order_gets_an_unguessable_link_stored_only_as_a_digest(client, dispatcher, db_session):
    order = create_order(client, dispatcher)
    token = token_of(order)
    assert len(token) >= 22 and re.fullmatch(r"[A-Za-z0-9_-]+", token)  # ≥ 128 bits of url-safe base64
    stored = db_session.get(WorkOrder, order["id"]).tracking_digest
    assert stored and token not in stored
    db_session.rollback()
    assert client.get(f"/api/orders/{order['id']}", headers=dispatcher).get_json()["tracking_url"] is None
    view = client.get(f"/api/track/{token}").get_json()
    assert view["number"] == order["number"] and view["status"] == "new" and view["can_cancel"]
    assert "phone" not in view and "address" not in view
    altered = token[:-1] + ("y" if token.endswith("x") else "x")  # one character off (never the same token)
    assert client.get(f"/api/track/{altered}").status_code == 404
    assert client.get(f"/t/{token}").status_code == 200


def test_the_customer_cancels_before_dispatch_but_not_after(client, dispatcher, network, csrf_from):
    order = create_order(client, dispatcher)
    token = token_of(order)
    page = client.get(f"/t/{token}").get_data(as_text=True)
    response = client.post(f"/t/{token}/cancel", data={"csrf_token": csrf_from(page), "reason": "fixed it myself"})
    assert response.status_code == 302
    assert client.get(f"/api/track/{token}").get_json()["status"] == "cancelled"

    other = create_order(client, dispatcher, phone="13900139000")
    act(client, dispatcher, other, "assign", technician_id=network.techs[1].id)
    token = token_of(other)
    page = client.get(f"/t/{token}").get_data(as_text=True)
    client.post(f"/t/{token}/cancel", data={"csrf_token": csrf_from(page)})
    after = client.get(f"/t/{token}").get_data(as_text=True)
    assert "already on it" in after
    assert client.get(f"/api/track/{token}").get_json()["status"] == "assigned"


def test_a_customer_note_reaches_the_order_trail(client, dispatcher, csrf_from):
    order = create_order(client, dispatcher)
    token = token_of(order)
    page = client.get(f"/t/{token}").get_data(as_text=True)
    client.post(f"/t/{token}/note", data={"csrf_token": csrf_from(page), "note": "The gate code is 1234"})
    trail = client.get(f"/api/orders/{order['id']}/events", headers=dispatcher).get_json()["items"]
    assert trail[-1]["kind"] == "customer_note" and trail[-1]["actor_role"] == "customer"
    assert trail[-1]["data"]["text"] == "The gate code is 1234"


def test_the_survey_opens_after_completion_and_is_answered_once(
    app, client, auth, network, dispatcher, csrf_from, db_session
):
    order = done(client, auth, network, dispatcher)
    anonymous = app.test_client()
    page = anonymous.get(f"/t/{order['token']}").get_data(as_text=True)
    assert 'id="survey"' in page
    form = {"csrf_token": csrf_from(page), "fixed": "yes", "score": "5", "comment": "quick and tidy"}
    anonymous.post(f"/t/{order['token']}/survey", data=form)
    again = anonymous.post(f"/t/{order['token']}/survey", data=form)
    assert "answered already" in anonymous.get(again.location).get_data(as_text=True)
    surveys = db_session.scalars(select(Survey)).all()
    assert [(s.score, s.fixed, s.flagged) for s in surveys] == [(5, True, False)]
    db_session.rollback()


def test_a_survey_answered_from_a_technicians_session_is_flagged(
    app, client, auth, network, dispatcher, csrf_from, db_session
):
    order = done(client, auth, network, dispatcher)
    phone = app.test_client()
    from tests.conftest import Auth

    Auth(phone).login("tech2")
    page = phone.get(f"/t/{order['token']}").get_data(as_text=True)
    phone.post(f"/t/{order['token']}/survey", data={"csrf_token": csrf_from(page), "fixed": "yes", "score": "5"})
    survey = db_session.scalars(select(Survey)).one()
    assert survey.flagged and "technician" in survey.flag_reason
    db_session.rollback()


def test_callbacks_close_resolved_orders_and_return_unresolved_ones_for_a_second_visit(
    app, client, auth, network, dispatcher, db_session
):
    resolved = done(client, auth, network, dispatcher)
    unresolved = done(client, auth, network, dispatcher, phone="13900139000")
    unreached = done(client, auth, network, dispatcher, phone="13900139001")
    for o in (resolved, unresolved, unreached):  # completed four days ago
        db_session.get(WorkOrder, o["id"]).completed_at = utcnow() - timedelta(days=4)
    db_session.commit()
    clerk = auth.token("manager")
    queue = client.get("/api/callbacks", headers=clerk).get_json()
    assert {o["id"] for o in queue["items"]} == {resolved["id"], unresolved["id"], unreached["id"]}
    assert client.get("/api/callbacks?after_days=5", headers=clerk).get_json()["items"] == []

    def call(o, **body):
        fresh = client.get(f"/api/orders/{o['id']}", headers=clerk).get_json()
        return client.post(
            f"/api/orders/{o['id']}/callbacks", json={"version": fresh["version"], **body}, headers=clerk
        )

    closed = call(resolved, reached=True, resolved=True, score=5)
    assert closed.status_code == 200 and closed.get_json()["status"] == "closed"
    returned = call(unresolved, reached=True, resolved=False, score=2, problems=["fee_not_per_price_list"])
    assert returned.get_json()["status"] == "returned" and returned.get_json()["visit_count"] == 2
    assert call(unreached, reached=False).get_json()["status"] == "completed"
    assert {o["id"] for o in client.get("/api/callbacks", headers=clerk).get_json()["items"]} == set(), (
        "retry waits 4 h"
    )
    assert call(unreached, reached=True).status_code == 400  # resolved? must be said

    # The technician's phone shows the second visit and why.
    tech_view = client.get(f"/api/orders/{unresolved['id']}/events", headers=auth.token("tech2")).get_json()["items"]
    assert tech_view[-1]["kind"] == "return"
    assert tech_view[-1]["data"]["reason"] == "callback: customer says it is not fixed; fee_not_per_price_list"
    # A closed order's link keeps working for the grace period, then expires.
    assert client.get(f"/api/track/{resolved['token']}").status_code == 200
    db_session.get(WorkOrder, resolved["id"]).tracking_expires_at = utcnow() - timedelta(seconds=1)
    db_session.commit()
    assert client.get(f"/api/track/{resolved['token']}").status_code == 410
    assert client.get(f"/t/{resolved['token']}").status_code == 410


def test_reissuing_a_link_invalidates_the_old_one(client, dispatcher, auth):
    order = create_order(client, dispatcher)
    old = token_of(order)
    new = client.post(f"/api/orders/{order['id']}/tracking-link", headers=dispatcher).get_json()["tracking_url"]
    assert client.get(f"/api/track/{old}").status_code == 404
    assert client.get(f"/api/track/{new.rsplit('/t/', 1)[1]}").status_code == 200
    assert client.post(f"/api/orders/{order['id']}/tracking-link", headers=auth.token("tech1")).status_code == 403


def test_the_customer_file_shows_every_order_feedback_and_repeat_repairs(client, auth, network, dispatcher, db_session):
    first = done(client, auth, network, dispatcher)
    again = create_order(client, dispatcher, description="leaking again")
    db_session.get(WorkOrder, again["id"]).created_at = utcnow() + timedelta(days=20)  # came back 20 days later
    db_session.commit()
    customer_id = first["customer"]["id"]
    auth.login("dispatcher")
    page = client.get(f"/customers/{customer_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert first["number"] in html and again["number"] in html
    assert "repeat repair within 30 days" in html
    auth.login("tech2")
    assert client.get(f"/customers/{customer_id}").status_code == 403


def test_the_customer_moves_the_appointment_within_the_allowed_windows(client, dispatcher, csrf_from, db_session):
    from zoneinfo import ZoneInfo

    order = create_order(client, dispatcher)
    token = token_of(order)
    page = client.get(f"/t/{token}").get_data(as_text=True)
    start = (
        (utcnow() + timedelta(days=2))
        .astimezone(ZoneInfo("Asia/Shanghai"))
        .replace(hour=14, minute=0, second=0, microsecond=0)
    )
    form = {
        "csrf_token": csrf_from(page),
        "start": start.strftime("%Y-%m-%dT%H:%M"),
        "end": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
    }
    client.post(f"/t/{token}/reschedule", data=form)
    moved = db_session.get(WorkOrder, order["id"])
    assert moved.appointment_start == start and moved.appointment_end == start + timedelta(hours=2)
    db_session.rollback()
    too_long = form | {"end": (start + timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M")}
    after = client.get(client.post(f"/t/{token}/reschedule", data=too_long).location).get_data(as_text=True)
    assert "1 to 4 hours" in after


def test_a_cancelled_orders_link_stops_working_after_the_grace_period_as_a_closed_ones_does(
    client, dispatcher, db_session, csrf_from
):
    from dispatch.customer import LinkExpired, order_for_token
    from dispatch.moves import TRACKING_GRACE

    by_staff = create_order(client, dispatcher)
    act(client, dispatcher, by_staff, "cancel", reason="duplicate")
    by_customer = create_order(client, dispatcher, phone="13900139001")
    token = token_of(by_customer)
    page = client.get(f"/t/{token}").get_data(as_text=True)
    assert client.post(f"/t/{token}/cancel", data={"csrf_token": csrf_from(page)}).status_code == 302
    reissued = client.post(f"/api/orders/{by_staff['id']}/tracking-link", headers=dispatcher).get_json()
    tokens = [token_of(by_staff), token, reissued["tracking_url"].rsplit("/t/", 1)[1]]

    assert [client.get(f"/api/track/{link}").get_json()["status"] for link in tokens[1:]] == ["cancelled"] * 2
    now = utcnow()
    for link in tokens[1:]:
        order_for_token(db_session, link, now + TRACKING_GRACE - timedelta(hours=1))
        with pytest.raises(LinkExpired):  # a new link for an ended order does not start the grace again
            order_for_token(db_session, link, now + TRACKING_GRACE + timedelta(hours=1))
    db_session.rollback()

    # An order cancelled before the end was recorded: it counts from its cancellation.
    db_session.get(WorkOrder, by_staff["id"]).tracking_expires_at = None
    db_session.commit()
    order_for_token(db_session, tokens[2], now + TRACKING_GRACE - timedelta(hours=1))
    with pytest.raises(LinkExpired):
        order_for_token(db_session, tokens[2], now + TRACKING_GRACE + timedelta(hours=1))
    db_session.rollback()
