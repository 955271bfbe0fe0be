"""The back office's two pages — the authenticity reviewer's and the callback clerk's — and
the customer's word at callback as an authenticity signal."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import select

from core.db import utcnow
from dispatch.authenticity import OrderSignals, PhotoSignals, assess
from dispatch.models import AuthenticityVerdict, Callback, WorkOrder, WorkOrderEvent
from tests.integration.helpers import act, create_order
from tests.integration.test_photos import picture, upload, with_exif
from web.pages import callbacks as callbacks_page
from web.pages import reviews as reviews_page


def walk_to_completed(client, dispatcher, tech, tech_id, *, photo: bytes | None = None, checkin=None, **fields):
    """An order walked to completed; `photo` uploaded on site, `checkin` = (lat, lon, accuracy)."""
    order = create_order(client, dispatcher, **fields)
    order = act(client, dispatcher, order, "assign", technician_id=tech_id).get_json()
    order = act(client, tech, order, "accept").get_json()
    order = act(client, tech, order, "depart").get_json()
    where = dict(zip(("lat", "lon", "accuracy_m"), checkin, strict=True)) if checkin else {}
    order = act(client, tech, order, "arrive", **where).get_json()
    if photo is not None:
        assert upload(client, tech, order["id"], photo, lat=34.2101, lon=108.95, accuracy_m=10).status_code == 201
        order = client.get(f"/api/orders/{order['id']}", headers=tech).get_json()
    order = act(client, tech, order, "complete").get_json()
    assert order["status"] == "completed", order
    return order


@pytest.fixture
def tokens(network, auth, db_session):
    """API tokens by user name, plus the ids tests need (read once: after a rollback of
    `db_session` a lazy reload would hold SQLite's write lock)."""
    found = {name: auth.token(name) for name in ("dispatcher", "manager", "tech1", "tech2")}
    found["south_tech_id"], found["north_tech_id"] = network.techs[1].id, network.techs[0].id
    found["manager_id"] = network.manager.id
    db_session.rollback()
    return found


def page_login(client, csrf_from, username: str):
    client.get("/logout")
    page = client.get("/login").get_data(as_text=True)
    response = client.post(
        "/login", data={"username": username, "password": "test-pass-123", "csrf_token": csrf_from(page)}
    )
    assert response.status_code == 302


def rows(html: str, table_id: str) -> list[int]:
    body = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    return [int(i) for i in re.findall(r'data-order-id="(\d+)"', body)]


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


# --- the customer's word as a signal (pure) --------------------------------------------------


def signals(**overrides) -> OrderSignals:
    base = dict(address=(34.21, 108.95), checkin=None, on_site_from=None, completed_at=None, photos_required=0,
                photos=[PhotoSignals(photo_id=1, source="camera", taken_at=None, gps=None, device=None)])  # fmt: skip
    return OrderSignals(**{**base, **overrides})


def test_a_customers_confirmation_settles_doubts_but_not_failures_and_a_denial_fails():
    doubtful = assess(signals())
    assert doubtful.status == "doubtful" and [r["code"] for r in doubtful.reasons] == ["no_checkin_location"]
    confirmed = assess(signals(customer_confirmed=True))
    assert confirmed.status == "verified"
    assert [r["code"] for r in confirmed.reasons] == ["no_checkin_location", "customer_confirmed_visit"]
    reused = [PhotoSignals(photo_id=1, source="camera", taken_at=None, gps=None, device=None, exact_copy_of_orders=[7])]
    assert assess(signals(photos=reused, customer_confirmed=True)).status == "failed"
    denied = assess(signals(checkin=(34.21, 108.95, 10.0), customer_confirmed=False))
    assert denied.status == "failed" and [r["code"] for r in denied.reasons] == ["customer_denies_visit"]
    assert assess(signals(checkin=(34.21, 108.95, 10.0), customer_confirmed=None)).status == "verified"


# --- the reviewer's page ---------------------------------------------------------------------


def test_the_review_queue_is_for_reviewers_scoped_to_their_outlet_and_paged(
    app, client, network, tokens, csrf_from, monkeypatch
):
    south = [
        walk_to_completed(client, tokens["dispatcher"], tokens["tech2"], tokens["south_tech_id"], phone=f"1390013900{i}")
        for i in range(3)
    ]  # fmt: skip
    north = walk_to_completed(client, tokens["dispatcher"], tokens["tech1"], tokens["north_tech_id"])
    honest = walk_to_completed(
        client, tokens["dispatcher"], tokens["tech2"], tokens["south_tech_id"], checkin=(34.2101, 108.9501, 8)
    )
    assert client.get("/reviews").status_code == 302  # to the login page

    page_login(client, csrf_from, "tech2")
    assert client.get("/reviews").status_code == 403
    assert client.get(f"/reviews/{south[0]['id']}").status_code == 403

    page_login(client, csrf_from, "manager")
    html = client.get("/reviews").get_data(as_text=True)
    assert sorted(rows(html, "review-queue")) == sorted([o["id"] for o in south] + [north["id"]])
    assert honest["id"] not in rows(html, "review-queue")  # verified: nothing to review
    assert "Checked in without a position" in html and "Tech 2" in html and "South" in html
    assert 'href="/reviews"' in html and 'href="/callbacks"' in html  # the nav links

    page_login(client, csrf_from, "south_dispatcher")
    html = client.get("/reviews").get_data(as_text=True)
    assert sorted(rows(html, "review-queue")) == sorted(o["id"] for o in south)
    assert client.get(f"/reviews/{north['id']}").status_code == 404  # another outlet's order

    monkeypatch.setattr(reviews_page, "PER_PAGE", 2)
    first = client.get("/reviews").get_data(as_text=True)
    second = client.get("/reviews?page=2").get_data(as_text=True)
    assert "Page 1 of 2" in first and "Page 2 of 2" in second
    assert len(rows(first, "review-queue")) == 2 and len(rows(second, "review-queue")) == 1
    assert set(rows(first, "review-queue")) | set(rows(second, "review-queue")) == {o["id"] for o in south}
    assert client.get("/reviews?page=abc").status_code == 200  # a bad page number is page 1


def test_the_detail_shows_each_photo_beside_the_earlier_copy_and_photo_gps_only_to_managers(
    app, client, network, tokens, csrf_from, db_session
):
    app.config["PROOF_PHOTOS_REQUIRED"] = 1
    app.extensions.pop("intake_settings", None)
    shot = picture(seed=31, exif=with_exif(taken="2026:11:20 10:00:00", gps=(34.2101, 108.9502)))
    first = walk_to_completed(client, tokens["dispatcher"], tokens["tech2"], tokens["south_tech_id"],
                              photo=shot, checkin=(34.2101, 108.9501, 8))  # fmt: skip
    copy = walk_to_completed(client, tokens["dispatcher"], tokens["tech2"], tokens["south_tech_id"],
                             photo=shot, checkin=(34.2101, 108.9501, 8), phone="13900139011")  # fmt: skip
    verdict = db_session.get(AuthenticityVerdict, copy["id"])
    assert verdict.status == "failed" and "photo_reused" in [r["code"] for r in verdict.reasons]
    db_session.rollback()
    own = client.get(f"/api/orders/{copy['id']}/photos", headers=tokens["manager"]).get_json()["items"][0]["id"]
    earlier = client.get(f"/api/orders/{first['id']}/photos", headers=tokens["manager"]).get_json()["items"][0]["id"]

    other = walk_to_completed(client, tokens["dispatcher"], tokens["tech2"], tokens["south_tech_id"],
                              photo=picture(seed=32), phone="13900139012")  # fmt: skip
    page_login(client, csrf_from, "manager")
    html = client.get(f"/reviews/{copy['id']}").get_data(as_text=True)
    pair = html.split(f'data-photo-id="{own}"', 1)[1].split("</div>", 1)[0]
    assert f"/reviews/{copy['id']}/photos/{own}?size=thumb" in pair
    assert f"/reviews/{copy['id']}/photos/{earlier}?size=thumb" in pair  # side by side
    assert first["number"] in pair and "the same file, byte for byte" in pair
    data = json.loads(
        re.search(r'<script type="application/json" id="review-data">(.*?)</script>', html, re.S).group(1)
    )
    assert data["address"] == [34.21, 108.95] and data["checkin"] == [34.2101, 108.9501, 8.0]
    assert [(p["id"], round(p["lat"], 4), round(p["lon"], 4)) for p in data["photos"]] == [(own, 34.2101, 108.9502)]
    assert "<script>" not in html.split('id="review-data"', 1)[1]  # no inline script: reviews.js draws the map

    # The earlier photo (evidence) is served without EXIF; a photo outside the case is not.
    served = client.get(f"/reviews/{copy['id']}/photos/{earlier}?size=thumb")
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert not Image.open(io.BytesIO(served.data)).getexif()
    stranger = client.get(f"/api/orders/{other['id']}/photos", headers=tokens["manager"]).get_json()["items"][0]["id"]
    assert client.get(f"/reviews/{copy['id']}/photos/{stranger}").status_code == 404

    page_login(client, csrf_from, "dispatcher")  # reviews, but may not see where photos were taken
    html = client.get(f"/reviews/{copy['id']}").get_data(as_text=True)
    data = json.loads(re.search(r'id="review-data">(.*?)</script>', html, re.S).group(1))
    assert data["photos"] == [] and data["checkin"] == [34.2101, 108.9501, 8.0]
    assert "108.9502" not in html


def test_a_decision_on_the_page_is_an_event_and_bad_input_is_a_clear_400(
    app, client, network, tokens, csrf_from, db_session
):
    order = walk_to_completed(client, tokens["dispatcher"], tokens["tech2"], tokens["south_tech_id"])
    verified = walk_to_completed(client, tokens["dispatcher"], tokens["tech2"], tokens["south_tech_id"],
                                 checkin=(34.2101, 108.9501, 8), phone="13900139021")  # fmt: skip
    page_login(client, csrf_from, "manager")
    html = client.get(f"/reviews/{order['id']}").get_data(as_text=True)
    token = csrf_of(html)

    assert client.post(f"/reviews/{order['id']}", data={"decision": "confirmed"}).status_code == 400  # no CSRF
    missing = client.post(f"/reviews/{order['id']}", data={"csrf_token": token, "note": "hm"})
    assert missing.status_code == 400
    assert 'data-field="decision">Choose accept or reject.' in missing.get_data(as_text=True)
    wrong = client.post(f"/reviews/{order['id']}", data={"csrf_token": token, "decision": "maybe"})
    assert wrong.status_code == 400 and 'data-field="decision"' in wrong.get_data(as_text=True)
    long = client.post(
        f"/reviews/{order['id']}", data={"csrf_token": token, "decision": "confirmed", "note": "x" * 501}
    )
    assert long.status_code == 400 and 'data-field="note"' in long.get_data(as_text=True)
    assert db_session.get(AuthenticityVerdict, order["id"]).review_decision is None  # nothing half-written
    db_session.rollback()

    done = client.post(
        f"/reviews/{order['id']}", data={"csrf_token": token, "decision": "confirmed", "note": "called the customer"}
    )
    assert done.status_code == 302 and done.headers["Location"].endswith("/reviews")
    row = db_session.get(AuthenticityVerdict, order["id"])
    assert (row.review_decision, row.review_note, row.reviewed_by_id) == (
        "confirmed",
        "called the customer",
        tokens["manager_id"],
    )
    event = db_session.scalars(
        select(WorkOrderEvent).where(WorkOrderEvent.order_id == order["id"]).order_by(WorkOrderEvent.seq.desc())
    ).first()
    assert (event.kind, event.actor_role, event.data["decision"]) == ("authenticity_review", "manager", "confirmed")
    db_session.rollback()
    after = client.get("/reviews").get_data(as_text=True)
    assert "Decision recorded for" in after and order["id"] not in rows(after, "review-queue")

    refused = client.post(f"/reviews/{verified['id']}", data={"csrf_token": token, "decision": "rejected"})
    assert refused.status_code == 409 and "a verified order needs no review" in refused.get_data(as_text=True)


# --- the callback clerk's page ---------------------------------------------------------------


def completed_days_ago(db_session, orders, days=4):
    for o in orders:
        db_session.get(WorkOrder, o["id"]).completed_at = utcnow() - timedelta(days=days)
    db_session.commit()


def test_the_callback_queue_is_for_clerks_scoped_paged_with_script_and_history(
    app, client, network, tokens, csrf_from, db_session, monkeypatch
):
    south = [
        walk_to_completed(client, tokens["dispatcher"], tokens["tech2"], tokens["south_tech_id"], phone=f"1390013903{i}")
        for i in range(2)
    ]  # fmt: skip
    north = walk_to_completed(client, tokens["dispatcher"], tokens["tech1"], tokens["north_tech_id"])
    fresh = walk_to_completed(
        client, tokens["dispatcher"], tokens["tech2"], tokens["south_tech_id"], phone="13900139039"
    )
    completed_days_ago(db_session, [*south, north])

    page_login(client, csrf_from, "tech2")
    assert client.get("/callbacks").status_code == 403
    page_login(client, csrf_from, "manager")
    assert sorted(rows(client.get("/callbacks").get_data(as_text=True), "callback-queue")) == sorted(
        [o["id"] for o in south] + [north["id"]]
    )  # not `fresh`: completed today
    assert fresh["id"] in rows(client.get("/callbacks?after_days=0").get_data(as_text=True), "callback-queue")

    page_login(client, csrf_from, "south_dispatcher")
    assert sorted(rows(client.get("/callbacks").get_data(as_text=True), "callback-queue")) == sorted(
        o["id"] for o in south
    )
    assert client.get(f"/callbacks/{north['id']}").status_code == 404
    monkeypatch.setattr(callbacks_page, "PER_PAGE", 1)
    assert "Page 2 of 2" in client.get("/callbacks?page=2").get_data(as_text=True)

    html = client.get(f"/callbacks/{south[0]['id']}").get_data(as_text=True)
    script = html.split('id="callback-script"', 1)[1].split("</div>", 1)[0]
    assert "Did our technician come to your home?" in script and "张三" in script and "Tech 2" in script
    history = html.split('id="customer-orders"', 1)[1].split("</table>", 1)[0]
    assert south[0]["number"] in history
    assert 'value="no_visit"' in html and 'value="fee_not_per_price_list"' in html


def test_the_callback_form_closes_returns_or_retries_and_names_bad_fields(
    app, client, network, tokens, csrf_from, db_session
):
    resolved, unresolved, unreached = (
        walk_to_completed(client, tokens["dispatcher"], tokens["tech2"], tokens["south_tech_id"], phone=f"1390013904{i}")
        for i in range(3)
    )  # fmt: skip
    completed_days_ago(db_session, [resolved, unresolved, unreached])
    page_login(client, csrf_from, "manager")

    def post(order, **form):
        html = client.get(f"/callbacks/{order['id']}").get_data(as_text=True)
        version = re.search(r'id="version" name="version" type="hidden" value="(\d+)"', html).group(1)
        return client.post(f"/callbacks/{order['id']}", data={"csrf_token": csrf_of(html), "version": version, **form})

    def errors(response) -> dict[str, str]:
        return dict(re.findall(r'<p class="error" data-field="(\w+)">([^<]+)</p>', response.get_data(as_text=True)))

    bad = post(unresolved, reached="yes")
    assert bad.status_code == 400 and errors(bad) == {"resolved": "say whether the problem is solved"}
    bad = post(unresolved, reached="yes", resolved="no", score="9", problems="made_up")
    assert bad.status_code == 400 and set(errors(bad)) == {"score", "problems"}
    bad = post(unreached, reached="no", retry_at="2020-01-01T10:00")
    assert bad.status_code == 400 and errors(bad) == {"retry_at": "must be in the future, within 7 days"}
    assert post(unresolved).status_code == 400 and "reached" in errors(post(unresolved))
    stale = client.post(f"/callbacks/{resolved['id']}", data={
        "csrf_token": csrf_of(client.get(f"/callbacks/{resolved['id']}").get_data(as_text=True)),
        "version": "1", "reached": "yes", "resolved": "yes"})  # fmt: skip
    assert stale.status_code == 409 and "changed by someone else" in stale.get_data(as_text=True)
    assert db_session.scalars(select(Callback)).all() == []  # nothing half-written
    db_session.rollback()

    def told(response) -> str:
        assert response.status_code == 302 and response.headers["Location"].endswith("/callbacks")
        return client.get("/callbacks").get_data(as_text=True)

    assert "is closed" in told(post(resolved, reached="yes", resolved="yes", score="5"))
    assert "goes back to the technician for a second visit" in told(
        post(unresolved, reached="yes", resolved="no", score="2", problems=["no_service_card"], note="still leaks")
    )
    retry_local = (utcnow() + timedelta(days=1)).astimezone(app.config["TIMEZONE"]).replace(second=0, microsecond=0)
    queue = told(post(unreached, reached="no", retry_at=retry_local.strftime("%Y-%m-%dT%H:%M")))
    assert "will come back to the queue for another try" in queue
    assert rows(queue, "callback-queue") == []  # closed, returned, and one waiting for its retry

    statuses = {o["id"]: db_session.get(WorkOrder, o["id"]).status for o in (resolved, unresolved, unreached)}
    assert statuses == {resolved["id"]: "closed", unresolved["id"]: "returned", unreached["id"]: "completed"}
    retry = db_session.scalars(select(Callback).where(Callback.order_id == unreached["id"])).one().retry_at
    assert retry == retry_local  # the clerk's local time, kept as the instant it names
    db_session.rollback()

    # The returned order is on the technician's phone with the reason, and on the board.
    client = app.test_client()  # without the clerk's page session
    (item,) = [
        i
        for i in client.get("/api/tech/today", headers=tokens["tech2"]).get_json()["items"]
        if i["id"] == unresolved["id"]
    ]
    assert item["status"] == "returned" and item["visit_count"] == 2
    assert item["return_info"]["reason"] == "callback: customer says it is not fixed; no_service_card"
    board = {o["id"]: o for o in client.get("/api/board", headers=tokens["dispatcher"]).get_json()["orders"]}
    assert board[unresolved["id"]]["queue"] == "returned"


# --- the customer's word feeds the verdict, end to end ----------------------------------------


def test_a_customer_who_confirms_the_visit_clears_a_doubt_and_one_who_denies_it_fails_the_order(
    app, client, network, tokens, db_session
):
    doubtful = walk_to_completed(client, tokens["dispatcher"], tokens["tech2"], tokens["south_tech_id"])
    honest = walk_to_completed(client, tokens["dispatcher"], tokens["tech2"], tokens["south_tech_id"],
                               checkin=(34.2101, 108.9501, 8), phone="13900139051")  # fmt: skip
    assert [v["order_id"] for v in client.get("/api/reviews", headers=tokens["manager"]).get_json()["items"]] == [
        doubtful["id"]
    ]

    def call(order, **body):
        fresh = client.get(f"/api/orders/{order['id']}", headers=tokens["manager"]).get_json()
        response = client.post(f"/api/orders/{order['id']}/callbacks", json={"version": fresh["version"], **body},
                               headers=tokens["manager"])  # fmt: skip
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    assert call(doubtful, reached=True, resolved=True, score=5)["status"] == "closed"
    verdict = client.get(f"/api/orders/{doubtful['id']}/authenticity", headers=tokens["manager"]).get_json()
    assert verdict["status"] == "verified"
    assert [r["code"] for r in verdict["reasons"]] == ["no_checkin_location", "customer_confirmed_visit"]

    denied = call(honest, reached=True, resolved=False, problems=["no_visit"])
    assert denied["status"] == "returned"
    verdict = client.get(f"/api/orders/{honest['id']}/authenticity", headers=tokens["manager"]).get_json()
    assert verdict["status"] == "failed" and verdict["visit"] == 1
    assert [r["code"] for r in verdict["reasons"]] == ["customer_denies_visit"]
    assert [v["order_id"] for v in client.get("/api/reviews", headers=tokens["manager"]).get_json()["items"]] == [
        honest["id"]
    ]
    trail = client.get(f"/api/orders/{honest['id']}/events", headers=tokens["manager"]).get_json()["items"]
    assert trail[-1]["kind"] == "return" and trail[-1]["data"]["reason"] == (
        "callback: customer says nobody came; customer says it is not fixed"
    )
    assert trail[-1]["data"]["callback"]["authenticity"] == "failed"
