"""Today's miss forecast on the board, in a real browser: the at-risk queue shows each order's
chance of missing its promise, likeliest first, and redraws when the scheduler announces a new
forecast; the order panel shows it with when it was computed."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import expect
from sqlalchemy import update

from core.db import utcnow
from dispatch.models import WorkOrder
from dispatch.planning import PlanningSettings
from simulation import forecast
from tests.browser.conftest import SCREENSHOTS, demo_board
from tests.browser.test_board import call, move, new_order, open_board, order_item, show_queue, token
from web.extensions import db


def refresh(app) -> None:
    with app.app_context():
        planning = PlanningSettings.from_config(app.config)  # as the scheduler's: a 3-day horizon
        forecast.refresh(db, planning, forecast.ForecastSettings(), utcnow())


def due_in(app, order_id: int, hours: float) -> None:
    with app.app_context(), db.session_scope() as session:
        session.execute(
            update(WorkOrder).where(WorkOrder.id == order_id).values(due_at=utcnow() + timedelta(hours=hours))
        )
        session.commit()


def test_the_at_risk_queue_shows_the_miss_chance_likeliest_first(browser, live_server, live_network, contexts):
    base, app = live_server
    tok = token(base, "dispatcher")
    # Near the South outlet, due in 2 hours: reachable. 75 km north, due in 3 hours: not.
    near = new_order(base, tok, "13800138001", product_category="air_conditioner", lat=34.205, lon=108.955)
    far = new_order(base, tok, "13800138002", product_category="air_conditioner", lat=34.88, lon=108.95)
    due_in(app, near["id"], 2)
    due_in(app, far["id"], 3)
    context, page = open_board(browser, base, size=(1440, 900))
    contexts.append(context)
    show_queue(page, "at_risk")
    expect(page.locator("#queue-list li[data-order-id]")).to_have_count(2)
    expect(page.locator("#queue-list .row-forecast")).to_have_count(0)  # no forecast yet
    refresh(app)  # as the scheduler does: the board hears of it and reads it
    expect(order_item(page, far["id"]).locator(".row-forecast")).to_have_text("100 % likely to miss 24 h")
    expect(order_item(page, near["id"]).locator(".row-forecast")).to_have_text("0 % likely to miss 24 h")
    # Likeliest miss first, though the near order is due sooner.
    expect(page.locator("#queue-list li[data-order-id]").first).to_have_attribute("data-order-id", str(far["id"]))
    order_item(page, far["id"]).click()
    expect(page.locator("#panel-forecast")).to_have_text(
        re.compile(r"^100 % likely to miss 24 h · forecast at \d\d:\d\d$")
    )


def test_screenshots_of_the_forecast_on_the_board(browser, live_server, contexts):
    base, app = live_server
    from dispatch.demo import seed_demo

    with app.app_context(), db.session_scope() as session:
        seed_demo(session, orders=150, timezone=app.config["TIMEZONE"])
    refresh(app)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for locale, lang, name in (("en-US", "en", "board-forecast-en"), ("zh-CN", "zh", "board-forecast-zh")):
        page = demo_board(browser, contexts, base, locale, lang)
        expect(page.locator("#connection")).to_have_attribute("data-state", "live")
        show_queue(page, "at_risk")
        first = page.locator("#queue-list li[data-order-id]").first
        expect(first.locator(".row-forecast")).to_be_visible()
        if lang == "zh":
            expect(first.locator(".row-forecast")).to_have_text(re.compile(r"^\d+% 可能(超出24小时|错过预约时段)$"))
        first.click()
        expect(page.locator("#panel-forecast")).to_be_visible()
        page.wait_for_timeout(300)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def test_what_if_another_technician_takes_it_from_the_order_panel(browser, live_server, live_network, contexts):
    base, app = live_server
    tok = token(base, "dispatcher")
    north, south = live_network["techs"][0], live_network["techs"][1]
    # Near the North outlet, given to the South technician (22 km away), due in 1 h 30 min.
    order = new_order(base, tok, "13800138003", lat=34.40, lon=108.94)
    move(base, tok, order, "assign", technician_id=south)
    due_in(app, order["id"], 1.5)
    refresh(app)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for locale, lang in (("en-US", "en"), ("zh-CN", "zh")):
        context, page = open_board(browser, base, locale=locale, size=(1440, 900))
        contexts.append(context)
        if lang == "zh":
            page.locator("form[action$='/lang/zh'] button").click()
            expect(page.locator("h1")).to_have_text("调度看板")
            expect(page.locator("#connection")).to_have_attribute("data-state", "live")
        show_queue(page, "at_risk")
        order_item(page, order["id"]).click()
        page.locator("#panel-actions button.primary").first.click()  # Reassign: the suggestions
        page.locator("#assign-select").select_option(str(north))
        page.locator("#suggestions-box button.what-if").click()
        row = page.locator(f'.what-if-orders li[data-order-id="{order["id"]}"]')
        expect(row).to_have_class(re.compile(r"(^|\s)better(\s|$)"))
        arrow = (
            r"\d+ % likely to miss 24 h → \d+ % likely to miss 24 h"
            if lang == "en"
            else r"\d+% 可能超出24小时 → \d+% 可能超出24小时"
        )
        expect(row.locator("span")).to_have_text(re.compile("^" + arrow + "$"))
        page.wait_for_timeout(300)
        page.screenshot(path=str(SCREENSHOTS / f"board-forecast-what-if-{lang}.png"))
    # Nothing was written: the order is still the South technician's.
    assert call(base, "GET", f"/api/orders/{order['id']}", tok)[1]["technician"]["id"] == south
