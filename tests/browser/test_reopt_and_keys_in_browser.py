"""Re-optimisation previewed and ticked, the order panel's facts, and the board's keyboard, in a
real browser (Chromium, 1440×900): issue 17 items 3 and 6, with the screenshots of both."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_board import ROOT, call, new_order, open_board, order_item, show_queue, token
from tests.conftest import skip_or_fail

SIZE = (1440, 900)


@pytest.fixture(autouse=True)
def _vendor_files():
    if not (ROOT / "web" / "static" / "vendor" / "vis-timeline-graph2d.min.js").exists():
        skip_or_fail("web/static/vendor has no vis-timeline: run `make setup` (npm ci copies it)")


def board(browser, base, contexts, locale="en-US"):
    context, page = open_board(browser, base, size=SIZE, locale=locale)
    contexts.append(context)
    page.wait_for_selector(".board-timeline[data-ready]")
    return page


def north_jobs_on_the_south_technician(app, base, dispatcher, south, n=3):
    from core.accounts import Actor
    from dispatch.models import WorkOrder
    from dispatch.moves import transition
    from web.extensions import db

    orders = [new_order(base, dispatcher, f"1380013800{i}", lat=34.34, lon=108.94 + i / 100) for i in range(n)]
    with app.app_context(), db.session_scope() as session:
        for order in orders:
            version = session.get(WorkOrder, order["id"]).version
            transition(session, order["id"], "assign", Actor.system(), version=version, technician_id=south)
    return orders


def test_reoptimisation_previews_the_ticked_moves_and_applies_only_those(browser, live_server, live_network, contexts):
    base, app = live_server
    dispatcher = token(base, "dispatcher")
    north, south = live_network["techs"][0], live_network["techs"][1]
    orders = north_jobs_on_the_south_technician(app, base, dispatcher, south)
    page = board(browser, base, contexts)

    page.get_by_role("button", name="Re-optimise").click()
    summary = page.locator("#plan-summary")
    expect(summary).to_contain_text(re.compile(r"^Saves [\d.]+ km"), timeout=30000)
    expect(summary).to_contain_text("3 orders change technician")
    expect(page.locator("#plan-moves tr")).to_have_count(3)
    # Every ticked move is previewed: a dashed line on the map, a ghost block in the new row.
    expect(page.locator("#board-map path.plan-move")).to_have_count(3)
    expect(page.locator("#timeline .vis-item.tl-ghost")).to_have_count(3)
    expect(page.locator(f'#timeline .tl-ghost .tl-label[data-order-id="{orders[0]["id"]}"]')).to_be_visible()

    kept = orders[1]
    page.locator(f'#plan-moves tr[data-order-id="{kept["id"]}"] input[type=checkbox]').uncheck()
    expect(page.locator("#board-map path.plan-move")).to_have_count(2)
    expect(page.locator("#timeline .vis-item.tl-ghost")).to_have_count(2)
    expect(page.locator("#plan-count")).to_have_text("2 of 3 moves ticked")
    show_queue(page, "in_progress")
    for order in orders:  # nothing changed yet
        expect(order_item(page, order["id"])).to_contain_text("Tech 2")

    page.get_by_role("button", name="Apply the ticked moves").click()

    result = page.locator("#plan-result")
    expect(result).to_contain_text("Applied: 2 moved.")
    expect(result.locator("li.moved")).to_have_count(2)
    expect(result).to_contain_text(f"{orders[0]['number']} → Tech 1")
    expect(page.locator("#board-map path.plan-move")).to_have_count(0)  # the preview is gone
    expect(page.locator("#timeline .vis-item.tl-ghost")).to_have_count(0)
    expect(order_item(page, orders[0]["id"])).to_contain_text("Tech 1")
    expect(order_item(page, orders[2]["id"])).to_contain_text("Tech 1")
    expect(order_item(page, kept["id"])).to_contain_text("Tech 2")
    for order, tech in ((orders[0], north), (kept, south), (orders[2], north)):
        status, fresh = call(base, "GET", f"/api/orders/{order['id']}", dispatcher)
        assert fresh["technician"]["id"] == tech


def test_a_plan_no_better_than_todays_is_not_offered(browser, live_server, live_network, contexts):
    base, app = live_server
    dispatcher = token(base, "dispatcher")
    order = new_order(base, dispatcher, "13800138009", lat=34.20, lon=108.95)  # the South technician's
    status, _ = call(base, "POST", f"/api/orders/{order['id']}/transitions", dispatcher,
                     {"action": "assign", "version": order["version"], "technician_id": live_network["techs"][1]})  # fmt: skip
    assert status == 200
    page = board(browser, base, contexts)
    page.get_by_role("button", name="Re-optimise").click()
    expect(page.locator("#plan-summary")).to_have_text(
        "No better plan found: today's plan stays as it is.", timeout=30000
    )
    expect(page.locator("#plan-apply")).to_be_hidden()
    expect(page.locator("#plan-table")).to_be_hidden()


def test_the_order_panel_shows_clocks_product_fault_a_phone_to_call_and_history_in_words(
    browser, live_server, live_network, contexts
):
    base, _ = live_server
    dispatcher = token(base, "dispatcher")
    order = new_order(base, dispatcher, "13800138000", product_model="JSQ30-16", description="没有热水")
    for locale, texts in (
        ("en-US", ["Water heater · JSQ30-16", "Repair · 没有热水", "Complete (24-hour promise)", " left", "Created"]),
        ("zh-CN", ["JSQ30-16", "维修 · 没有热水", "还剩", "建单"]),
    ):
        page = board(browser, base, contexts, locale=locale)
        if locale == "zh-CN":
            page.locator("form[action$='/lang/zh'] button").click()
            expect(page.locator("#connection")).to_have_attribute("data-state", "live")
        order_item(page, order["id"]).click()
        phone = page.locator("#panel-phone a.tel")
        expect(phone).to_have_text("138 0013 8000")
        expect(phone).to_have_attribute("href", "tel:+8613800138000")
        panel = page.locator("#order-panel")
        for text in texts:
            expect(panel).to_contain_text(text)
        expect(page.locator("#panel-clocks .clock")).to_have_count(2)  # contact and completion
        expect(page.locator("#panel-events li").first).to_be_visible()
        history = page.locator("#panel-events").inner_text()
        assert "T0" not in history  # no ISO timestamps
        # Times in the service area's zone (Asia/Shanghai), like the due time above them.
        local = call(base, "GET", f"/api/orders/{order['id']}", dispatcher)[1]["created_at"]
        from datetime import datetime
        from zoneinfo import ZoneInfo

        created = datetime.fromisoformat(local).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
        assert created in history, history


def test_the_keyboard_searches_moves_in_the_queue_opens_closes_assigns_and_helps(
    browser, live_server, live_network, contexts
):
    base, _ = live_server
    dispatcher = token(base, "dispatcher")
    first = new_order(base, dispatcher, "13800138000", lat=34.20, lon=108.95)
    second = new_order(base, dispatcher, "13800138001", lat=34.20, lon=108.96)
    page = board(browser, base, contexts)
    page.locator("body").click(position={"x": 5, "y": 5})

    page.keyboard.press("/")
    expect(page.locator("#board-search")).to_be_focused()
    page.keyboard.type("jk?")  # typed into the search, not taken as keys
    expect(page.locator("#board-search")).to_have_value("jk?")
    expect(page.locator("#keys-help")).to_be_hidden()
    page.keyboard.press("Escape")  # leaves the field
    expect(page.locator("#board-search")).not_to_be_focused()
    page.locator("#board-search").fill("")
    page.locator("body").click(position={"x": 5, "y": 5})

    page.keyboard.press("j")
    expect(order_item(page, first["id"])).to_be_focused()
    page.keyboard.press("j")
    expect(order_item(page, second["id"])).to_be_focused()
    page.keyboard.press("k")
    expect(order_item(page, first["id"])).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#panel-number")).to_have_text(first["number"])
    page.keyboard.press("Escape")
    expect(page.locator("#order-panel")).to_be_hidden()

    page.keyboard.press("?")
    help_box = page.locator("#keys-help")
    expect(help_box).to_be_visible()
    expect(help_box).to_contain_text("Assign the open order to the top suggestion")
    page.keyboard.press("Escape")
    expect(help_box).to_be_hidden()

    order_item(page, second["id"]).click()
    expect(page.locator("#panel-number")).to_have_text(second["number"])
    page.locator("#panel-number").click()  # focus out of the row, not in a field
    page.keyboard.press("a")
    expect(page.locator("#panel-technician")).to_have_text("Tech 2")  # the nearest, top suggestion
    status, fresh = call(base, "GET", f"/api/orders/{second['id']}", dispatcher)
    assert (fresh["status"], fresh["technician"]["id"]) == ("assigned", live_network["techs"][1])

    # A key in the cancel reason is text, not a shortcut.
    page.locator("#cancel-reason").click()
    page.keyboard.type("a")
    expect(page.locator("#cancel-reason")).to_have_value("a")
    page.keyboard.press("Escape")
    expect(page.locator("#order-panel")).to_be_visible()  # Esc in a field leaves the panel open


def test_the_help_overlay_speaks_chinese(browser, live_server, live_network, contexts):
    base, _ = live_server
    page = board(browser, base, contexts, locale="zh-CN")
    page.locator("form[action$='/lang/zh'] button").click()
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("?")
    expect(page.locator("#keys-help")).to_contain_text("键盘快捷键")
    expect(page.locator("#keys-help")).to_contain_text("把打开的工单派给首选推荐师傅")


def test_screenshots_of_the_order_panel_and_the_reoptimisation_preview(browser, live_server, contexts):
    base, app = live_server
    from dispatch.demo import DEMO_PASSWORD, seed_demo
    from web.extensions import db

    with app.app_context(), db.session_scope() as session:
        seed_demo(session, orders=150, timezone=app.config["TIMEZONE"])
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for locale, lang in (("en-US", "en"), ("zh-CN", "zh")):
        context = browser.new_context(viewport={"width": SIZE[0], "height": SIZE[1]}, locale=locale)
        contexts.append(context)
        page = context.new_page()
        page.goto(f"{base}/login")
        page.locator("input[name=username]").fill("dispatcher")
        page.locator("input[name=password]").fill(DEMO_PASSWORD)
        page.locator("form button[type=submit]").last.click()
        page.wait_for_url(re.compile(r"/board$"))
        if lang == "zh":
            page.locator("form[action$='/lang/zh'] button").click()
        expect(page.locator("#connection")).to_have_attribute("data-state", "live")
        page.wait_for_selector(".board-timeline[data-ready]")
        show_queue(page, "in_progress")
        page.locator("#queue-list li[data-order-id]").nth(1).click()
        expect(page.locator("#panel-clocks .clock").first).to_be_visible()
        expect(page.locator("#panel-events li").first).to_be_visible()
        page.wait_for_timeout(300)
        page.screenshot(path=str(SCREENSHOTS / f"board-panel-{lang}.png"))
        page.locator("#reoptimise").click()
        expect(page.locator("#plan-summary")).to_have_class(re.compile(r"\b(better|none)\b"), timeout=60000)
        page.wait_for_timeout(500)
        page.screenshot(path=str(SCREENSHOTS / f"board-reopt-{lang}.png"))
        page.keyboard.press("?")
        page.wait_for_timeout(200)
        page.screenshot(path=str(SCREENSHOTS / f"board-keys-{lang}.png"))
