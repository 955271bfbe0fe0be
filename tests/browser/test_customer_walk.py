"""The customer's walk on their phone: the tracking link shows the status and the technician,
takes a note and a new appointment, keeps the ETA live while the technician drives, and
asks for the survey once the job is done. Everything the staff do happens over real HTTP."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import requests
from babel.dates import format_skeleton
from playwright.sync_api import expect
from sqlalchemy import select

from tests.browser.conftest import SCREENSHOTS
from tests.clock import now as suite_now
from tests.conftest import PASSWORD

HOME = (34.21, 108.95)


class Api:
    def __init__(self, base: str, username: str) -> None:
        self.base = base
        response = requests.post(
            f"{base}/api/auth/login", json={"username": username, "password": PASSWORD}, timeout=10
        )
        assert response.status_code == 200, response.text
        self.headers = {"Authorization": f"Bearer {response.json()['token']}"}

    def post(self, path: str, body: dict) -> dict:
        response = requests.post(f"{self.base}{path}", json=body, headers=self.headers, timeout=10)
        assert response.status_code in (200, 201), response.text
        return response.json()

    def get(self, path: str) -> dict:
        return requests.get(f"{self.base}{path}", headers=self.headers, timeout=10).json()

    def act(self, order: dict, action: str, **extra) -> dict:
        return self.post(
            f"/api/orders/{order['id']}/transitions", {"action": action, "version": order["version"], **extra}
        )


def test_the_customer_follows_their_repair_from_the_link_to_the_survey(live_server, live_network, phone_page):
    base, app = live_server
    page = phone_page
    dispatcher, tech = Api(base, "dispatcher"), Api(base, "tech2")
    order = dispatcher.post("/api/orders", {"name": "王女士", "phone": "13912345678", "address": "西安市雁塔区小寨东路 1 号",
                                            "product_category": "water_heater", "lat": HOME[0], "lon": HOME[1]})  # fmt: skip
    link = order["tracking_url"]

    page.goto(link)
    expect(page.locator("#track-status")).to_have_text("待派单")
    expect(page.locator("body")).to_have_attribute("data-live", "1")
    expect(page.locator("#track-technician")).to_be_hidden()

    # The dispatcher assigns: the open page changes by itself (the cancel button goes away).
    order = dispatcher.act(order, "assign", technician_id=live_network["techs"][1])
    expect(page.locator("#track-technician")).to_have_text("T师傅")
    expect(page.locator("#track-status")).to_have_text("已派单")

    page.locator("#note").fill("门禁密码 1234")
    page.locator("form[action$='/note'] button").click()
    expect(page.locator("p.flash.info")).to_be_visible()

    tz = ZoneInfo(app.config["APP_TIMEZONE"])
    day = suite_now().astimezone(tz).date() + timedelta(days=2)
    page.locator("#start").fill(datetime.combine(day, time(10, 0)).strftime("%Y-%m-%dT%H:%M"))
    page.locator("#end").fill(datetime.combine(day, time(12, 0)).strftime("%Y-%m-%dT%H:%M"))
    page.locator("#reschedule button").click()
    # The day in words (the day after tomorrow has its date and weekday) and the window.
    words = format_skeleton("MMMEd", day, locale="zh")
    expect(page.locator("#track-appointment")).to_have_text(f"{words} 10:00–12:00")

    trail = dispatcher.get(f"/api/orders/{order['id']}/events")["items"]
    kinds = [(e["kind"], e["actor_role"]) for e in trail]
    assert ("customer_note", "customer") in kinds and ("rescheduled", "customer") in kinds
    assert [e["data"]["text"] for e in trail if e["kind"] == "customer_note"] == ["门禁密码 1234"]

    # En route: the ETA follows the technician's reported position.
    order = tech.act(dispatcher.get(f"/api/orders/{order['id']}"), "accept")
    order = tech.act(order, "depart")
    expect(page.locator("#track-status")).to_have_text("在途")
    tech.post("/api/tech/position", {"lat": 34.32, "lon": 108.95})
    # The planned ETA (the assignment gave the order a place in the route) gives way to the live one.
    expect(page.locator("body")).to_have_attribute("data-track-live", "1")
    expect(page.locator("#track-eta")).to_be_visible()
    far_iso = page.locator("body").get_attribute("data-track-eta")
    tech.post("/api/tech/position", {"lat": 34.215, "lon": 108.95})
    expect(page.locator("body")).not_to_have_attribute("data-track-eta", far_iso)
    near_iso = page.locator("body").get_attribute("data-track-eta")
    assert datetime.fromisoformat(near_iso) < datetime.fromisoformat(far_iso)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "track-live-eta.png"), full_page=True)

    # Done: the survey appears without a reload by hand.
    order = tech.act(order, "arrive", lat=HOME[0], lon=HOME[1])
    tech.act(order, "complete")
    expect(page.locator("#survey")).to_be_visible()
    page.locator("#survey input[name=fixed][value=yes]").check()
    page.locator("#survey input[name=score][value='5']").check()
    page.locator("#comment").fill("师傅很专业")
    page.locator("#survey button[type=submit]").click()
    expect(page.locator("#survey")).to_have_count(0)
    page.screenshot(path=str(SCREENSHOTS / "track-survey-answered.png"), full_page=True)

    from dispatch.models import Survey
    from web.extensions import db

    with app.app_context(), db.session_scope() as session:
        survey = session.scalars(select(Survey)).one()
        assert (survey.fixed, survey.score, survey.comment, survey.flagged) == (True, 5, "师傅很专业", False)


def test_the_customer_complains_and_the_dispatcher_handles_it_on_the_order_page(live_server, live_network, page):
    """The other end of the walk: the complaint panel of the dispatcher's order page."""
    base, _ = live_server
    dispatcher = Api(base, "dispatcher")
    order = dispatcher.post("/api/orders", {"name": "王女士", "phone": "13912345678", "address": "西安市雁塔区小寨东路 1 号",
                                            "product_category": "water_heater", "issue_category": "complaint",
                                            "description": "The technician left a mess"})  # fmt: skip
    page.goto(f"{base}/login")
    page.get_by_label("Username").fill("dispatcher")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{base}/orders/{order['id']}")
    # A complaint taken in by a dispatcher is theirs from intake (首问负责).
    expect(page.locator("#complaint-owner")).to_have_text("dispatcher")
    expect(page.locator("#complaint-clocks tbody tr")).to_have_count(4)

    form = page.locator("#complaint-compensation")
    form.locator("input[name=amount]").fill("150")
    form.locator("input[name=reason]").fill("cleaning")
    form.locator("input[name=paid_first]").check()
    form.locator("input[name=approve]").check()
    form.locator("button").click()
    expect(page.locator("#compensations")).to_contain_text("¥150.00")
    form = page.locator("#complaint-compensation")
    form.locator("input[name=amount]").fill("800")
    form.locator("input[name=reason]").fill("new cabinet door")
    form.locator("button").click()
    expect(page.locator("#compensations tbody tr")).to_have_count(2)
    page.locator("#compensations tbody tr").nth(1).get_by_role("button").click()  # approve: above the limit
    expect(page.locator("p.flash.error")).to_contain_text("small-claim limit")

    page.locator("#complaint-milestone select").select_option("contacted")
    page.locator("#complaint-milestone button").click()
    page.locator("#complaint-escalate input[name=reason]").fill("the outlet refuses to pay")
    page.locator("#complaint-escalate button").click()
    expect(page.locator("#complaint-level")).to_have_text("Outlet manager")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#complaint").screenshot(path=str(SCREENSHOTS / "order-complaint-panel.png"))
