"""The customer's tracking link everywhere it is needed: the thank-you page after /request
(with a QR code), the customer's phone through the notice outbox, the order page (re-issued
by staff, read out after a hotline call), and what the link shows: the survey, the completion
time, and a friendly page when the link is bad, expired or its order cancelled."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from core.db import utcnow
from dispatch.models import Notification, WorkOrder
from dispatch.notify import NotifySettings, tracking_link_notices
from tests.integration.helpers import act, create_order
from tests.integration.test_pages import HOTLINE, REQUEST, html_of, post_form

GATEWAYS = {"NOTIFY_SMS_URL": "http://127.0.0.1:9/sms", "NOTIFY_WECHAT_URL": "http://127.0.0.1:9/wechat"}


@pytest.fixture
def app_config(app_config):
    """SMS and WeChat gateways configured (never called: nothing here delivers the outbox)."""
    return {**app_config, **GATEWAYS}


def link_on(html: str) -> str:
    match = re.search(r'id="tracking-url" value="(http://localhost/t/[^"]+)"', html)
    assert match, "no tracking link on the page"
    return match.group(1)


class Row:
    def __init__(self, n: Notification) -> None:
        self.channel, self.recipient, self.kind, self.body = n.channel, n.recipient, n.kind, n.body


def outbox(db_session, order_id: int) -> list[Row]:
    """The order's queued notices, read in a transaction that ends at once (SQLite's writers wait)."""
    query = select(Notification).where(Notification.order_id == order_id).order_by(Notification.id)
    rows = [Row(n) for n in db_session.scalars(query)]
    db_session.rollback()
    return rows


def test_the_thank_you_page_gives_the_customer_their_link_with_a_qr_code(app, client, network, csrf_from):
    response = post_form(client, csrf_from, "/request", REQUEST)
    assert response.status_code == 302
    page = client.get(response.headers["Location"])
    html = html_of(page)
    link = link_on(html)
    assert "<svg" in html and 'id="tracking-qr"' in html and 'id="copy-link"' in html
    assert "copy-link.js" in html and "<script>" not in html  # the copy button's script is a file (CSP)
    tracking = client.get(link.removeprefix("http://localhost"))
    assert tracking.status_code == 200
    number = re.search(r'id="order-number">([^<]+)<', html).group(1)
    assert number in html_of(tracking)
    # Another browser opening the same thank-you address sees the number, never the link.
    stranger = app.test_client().get(response.headers["Location"])
    assert stranger.status_code == 200 and "/t/" not in html_of(stranger)


def test_a_new_order_texts_the_link_to_the_customer_once_per_configured_channel(client, network, db_session, auth):
    headers = auth.token("dispatcher")
    order = create_order(client, headers)
    rows = outbox(db_session, order["id"])
    assert sorted(n.channel for n in rows) == ["sms", "wechat"]
    assert {n.recipient for n in rows} == {"+8613800138000"} and {n.kind for n in rows} == {"tracking_link"}
    assert all(order["tracking_url"] in n.body and order["number"] in n.body for n in rows)
    assert "报修单" in rows[0].body  # the customer chose no language: Chinese and English
    # Re-issuing sends the new link (a new key); the same link is never queued twice.
    reissued = client.post(f"/api/orders/{order['id']}/tracking-link", headers=headers).get_json()["tracking_url"]
    rows = outbox(db_session, order["id"])
    assert len(rows) == 4 and sum(reissued in n.body for n in rows) == 2


def test_no_text_goes_out_without_a_gateway_or_to_a_landline(client, network, db_session, auth):
    headers = auth.token("dispatcher")
    created = create_order(client, headers)
    order = db_session.get(WorkOrder, created["id"])
    assert tracking_link_notices(NotifySettings(), order, created["tracking_url"]) == []
    db_session.rollback()
    landline = create_order(client, headers, channel="hotline", phone="029-88881234")
    assert outbox(db_session, landline["id"]) == []


def test_a_dispatcher_issues_a_new_link_on_the_order_page_and_the_old_one_stops_working(
    client, auth, network, csrf_from, db_session
):
    headers = auth.token("dispatcher")
    order = create_order(client, headers)
    old = order["tracking_url"].removeprefix("http://localhost")
    auth.login("dispatcher")
    page = html_of(client.get(f"/orders/{order['id']}"))
    assert 'id="reissue-link"' in page and 'id="tracking-url"' not in page  # only a digest is kept
    response = client.post(f"/orders/{order['id']}/tracking-link", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 302
    page = html_of(client.get(f"/orders/{order['id']}"))
    new = link_on(page).removeprefix("http://localhost")
    assert new != old and client.get(new).status_code == 200
    gone = client.get(old)
    assert gone.status_code == 404 and gone.mimetype == "text/html"
    assert sum(new in n.body for n in outbox(db_session, order["id"])) == 2  # sent by SMS and WeChat
    assert "已发送到客户手机" in page or "sent to the customer" in page


def test_a_manager_sees_no_link_panel_and_may_not_issue_one(client, auth, network, csrf_from):
    order = create_order(client, auth.token("dispatcher"))
    auth.login("manager")
    page = html_of(client.get(f"/orders/{order['id']}"))
    assert 'id="reissue-link"' not in page
    assert client.post(f"/orders/{order['id']}/tracking-link", data={"csrf_token": csrf_from(page)}).status_code == 403


def test_the_hotline_confirmation_shows_the_link_to_read_out(client, auth, network, csrf_from, db_session):
    auth.login("dispatcher")
    response = post_form(client, csrf_from, "/hotline", HOTLINE)
    page = html_of(client.get(response.headers["Location"]))
    assert 'id="tracking-link-read-out"' in page
    link = link_on(page).removeprefix("http://localhost")
    assert client.get(link).status_code == 200
    number = db_session.scalar(select(WorkOrder.number))
    db_session.rollback()
    assert number in html_of(client.get(link))


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("zh-CN", ("此链接无效", "此链接已过期", "此报修已取消")),
        ("en", ("does not work", "has expired", "was cancelled")),
    ],
)
def test_a_bad_an_expired_and_a_cancelled_link_show_a_friendly_page_not_json(
    client, auth, network, db_session, language, words
):
    headers = auth.token("dispatcher")
    hdr = {"Accept-Language": language}
    bad = client.get("/t/not-a-real-link", headers=hdr)
    assert (bad.status_code, bad.mimetype) == (404, "text/html") and words[0] in html_of(bad)
    assert 'href="/request"' in html_of(bad)  # a way on: a new request

    expired = create_order(client, headers)
    row = db_session.get(WorkOrder, expired["id"])
    row.tracking_expires_at = utcnow()
    db_session.commit()
    page = client.get(expired["tracking_url"].removeprefix("http://localhost"), headers=hdr)
    assert (page.status_code, page.mimetype) == (410, "text/html") and words[1] in html_of(page)

    cancelled = create_order(client, headers)
    assert act(client, headers, cancelled, "cancel", reason="duplicate").status_code == 200
    page = client.get(cancelled["tracking_url"].removeprefix("http://localhost"), headers=hdr)
    assert (page.status_code, page.mimetype) == (410, "text/html")
    assert words[2] in html_of(page) and cancelled["number"] in html_of(page)


def test_after_completion_the_page_shows_when_and_asks_with_a_labelled_rating(client, auth, network):
    headers, tech = auth.token("dispatcher"), auth.token("tech1")
    order = create_order(client, headers)
    link = order["tracking_url"].removeprefix("http://localhost")
    order = act(client, headers, order, "assign", technician_id=network.techs[0].id).get_json()
    page = html_of(client.get(link, headers={"Accept-Language": "zh-CN"}))
    assert "已为您安排师傅" in page and 'id="track-completed"' not in page
    for step in ("accept", "depart", "arrive"):
        order = act(client, tech, order, step).get_json()
    assert "师傅已到达现场" in html_of(client.get(link, headers={"Accept-Language": "zh-CN"}))
    act(client, tech, order, "complete")
    page = html_of(client.get(link, headers={"Accept-Language": "en"}))
    assert re.search(r'id="track-completed">\d{4}-\d\d-\d\d \d\d:\d\d<', page)
    assert "We promise completion by" not in page
    fieldset = page[page.index('id="survey-score"') : page.index("</fieldset>", page.index('id="survey-score"'))]
    assert len(re.findall(r'<label><input type="radio" name="score" value="\d" required><span>', fieldset)) == 5
    assert "great" in fieldset and "bad" in fieldset
    assert client.get(f"/api/track/{link.removeprefix('/t/')}").get_json()["completed_at"]
