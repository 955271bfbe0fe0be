"""Waiting for parts in the browser: the technician records the part on the phone (390×844),
the order waits in the board's "waiting for parts" queue (1440×900), the dispatcher marks the
part arrived and the order is planned again. Screenshots in Chinese and English."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_board import call, move, open_board, order_item, show_queue, token
from tests.browser.test_tech_app import assigned_order, phone  # noqa: F401  (the phone fixture)
from tests.clock import now as suite_now

WORDS = {
    "zh": {"box": "需要配件", "waiting": "已登记待件", "expected": "预计", "arrived": "配件已到", "planned": "已重新安排"},
    "en": {"box": "A part is needed", "waiting": "waits for its part", "expected": "expected", "arrived": "Part arrived",
           "planned": "is planned again"},
}  # fmt: skip


def _english(page):
    page.locator(".tech-menu summary").click()
    with page.expect_navigation():
        page.locator(".tech-menu button", has_text="English").click()
    expect(page.locator("body")).to_have_attribute("data-ready", "1")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_part_recorded_on_the_phone_waits_on_the_board_until_it_arrives(
    browser,
    live_server,
    live_network,
    phone,  # noqa: F811  (the fixture imported above)
    contexts,
    lang,
):
    base, app = live_server
    words = WORDS[lang]
    dispatcher, tech = token(base, "dispatcher"), token(base, "tech2")
    me = live_network["techs"][1]
    order = assigned_order(base, dispatcher, me, "13800138000", description="热水器不加热", product_model="JSQ25-13")
    for step in ("accept", "depart", "arrive"):
        order = move(base, tech, order, step, lat=34.21, lon=108.95)

    context, page = phone(base)
    if lang == "en":
        _english(page)
    page.locator(f'#order-list li[data-order-id="{order["id"]}"]').click()
    box = page.locator("#part-box")
    expect(box).to_be_visible()
    expect(box.locator("summary")).to_contain_text(words["box"])
    box.locator("summary").click()
    page.locator("#part-name").fill("温控器 JSQ25 thermostat")
    page.locator("#part-qty").fill("2")
    expected = (suite_now().astimezone(app.config["TIMEZONE"]).date() + timedelta(days=2)).isoformat()
    page.locator("#part-date").fill(expected)
    box.scroll_into_view_if_needed()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"tech-part-form-{lang}.png"))
    page.locator("#part-submit").click()
    expect(page.locator("#list-message")).to_contain_text(words["waiting"])
    expect(page.locator("#queue-status")).to_have_attribute("data-pending", "0")
    expect(page.locator(f'#order-list li[data-order-id="{order["id"]}"]')).to_have_count(0)
    status, body = call(base, "GET", f"/api/orders/{order['id']}", dispatcher)
    assert (status, body["status"], body["technician"]) == (200, "waiting_parts", None)

    board, bpage = open_board(browser, base, locale="zh-CN" if lang == "zh" else "en-US", size=(1440, 900))
    contexts.append(board)
    show_queue(bpage, "waiting_parts")
    row = order_item(bpage, order["id"])
    expect(row.locator(".row-part .part")).to_contain_text(
        re.compile(r"温控器 JSQ25 thermostat.*2|2.*温控器 JSQ25 thermostat")
    )
    expect(row.locator(".row-part .part")).to_contain_text(words["expected"])
    expect(bpage.locator('.queue-tab[data-queue="waiting_parts"] .count')).to_have_text("1")
    bpage.screenshot(path=str(SCREENSHOTS / f"board-parts-queue-{lang}.png"))
    row.locator("button.part-arrived").click()
    expect(bpage.locator("#board-message")).to_contain_text(words["planned"])
    expect(bpage.locator('.queue-tab[data-queue="waiting_parts"] .count')).to_have_text("0")
    status, body = call(base, "GET", f"/api/orders/{order['id']}", dispatcher)
    assert body["status"] == "assigned" and body["visit_count"] == 2
