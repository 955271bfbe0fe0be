"""The customer's link in Chromium: a customer submits /request on their phone, follows the
link from the thank-you page to the tracking page, and answers the survey once the job is done;
a bad link shows a friendly page; a dispatcher issues a new link on the order page.
Screenshots in Chinese and English (phone 390x844, the order page at 1440x900)."""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS, _watched
from tests.browser.test_customer_walk import Api
from tests.conftest import PASSWORD

WORDS = {
    "zh": {
        "name": "您的姓名", "phone": "手机号码", "address": "地址", "product": "家电类型", "submit": "提交报修",
        "open": "打开我的进度页面", "new": "待派单", "finding": "我们正在为您安排师傅。", "done": "服务已完成。",
        "bad": "此链接无效", "reissue": "生成并发送新链接", "read": "请把此链接念给客户",
    },
    "en": {
        "name": "Your name", "phone": "Mobile number", "address": "Address", "product": "Appliance",
        "submit": "Send request", "open": "Open my tracking page", "new": "New",
        "finding": "We are finding a technician for you.", "done": "The job is done.",
        "bad": "This link does not work", "reissue": "Make and send a new link", "read": "Read this link to the customer",
    },
}  # fmt: skip
LOCALES = {"zh": "zh-CN", "en": "en-US"}


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture(params=["zh", "en"])
def lang(request) -> str:
    return request.param


@pytest.fixture
def customer_phone(browser, lang):
    context, csp = _watched(
        browser, viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True,
        locale=LOCALES[lang],
    )  # fmt: skip
    page = context.new_page()
    yield page
    context.close()
    csp.check()


@pytest.fixture
def desktop(browser, lang):
    context, csp = _watched(browser, viewport={"width": 1440, "height": 900}, locale=LOCALES[lang])
    page = context.new_page()
    yield page
    context.close()
    csp.check()


def test_a_customer_follows_the_link_from_the_thank_you_page_and_answers_the_survey(
    live_server, live_network, customer_phone, lang
):
    base, _app = live_server
    page, words = customer_phone, WORDS[lang]
    page.goto(f"{base}/request")
    page.get_by_label(words["name"]).fill("王女士")
    page.get_by_label(words["phone"]).fill("139 1234 5678")
    page.get_by_label(words["address"]).fill("西安市雁塔区小寨东路 1 号 3 栋 201")
    page.get_by_label(words["product"]).select_option("water_heater")
    page.get_by_role("button", name=words["submit"]).click()

    number = page.locator("#order-number").inner_text()
    link = page.locator("#tracking-url").input_value()
    assert re.fullmatch(rf"{re.escape(base)}/t/[A-Za-z0-9_-]{{20,}}", link)
    expect(page.locator("#tracking-qr svg")).to_be_visible()
    page.locator("#copy-link").click()
    expect(page.locator("#copy-state")).not_to_be_empty()  # copied, or told how to copy it
    shot(page, f"request-received-link-{lang}")

    page.get_by_role("link", name=words["open"]).click()
    expect(page).to_have_url(link)
    expect(page.locator("h1")).to_have_text(number)
    expect(page.locator("#track-status")).to_have_text(words["new"])
    expect(page.locator("#track-stage")).to_have_text(words["finding"])
    shot(page, f"track-new-{lang}")

    # The staff do the job over the API; the open page follows by itself.
    dispatcher, tech = Api(base, "dispatcher"), Api(base, "tech2")
    order = next(o for o in dispatcher.get("/api/orders?q=" + number)["items"] if o["number"] == number)
    order = dispatcher.act(order, "assign", technician_id=live_network["techs"][1])
    for step in ("accept", "depart", "arrive", "complete"):
        order = tech.act(order, step)
    expect(page.locator("#survey")).to_be_visible()
    expect(page.locator("#track-stage")).to_have_text(words["done"])
    expect(page.locator("#track-completed")).to_have_text(re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d"))
    # Each radio button sits inside its own labelled box (no full-width input on a row of its own).
    boxes = page.locator("#survey-score label")
    expect(boxes).to_have_count(5)
    # Read all five tops in one call once the page has loaded: it reloads itself as the order moves
    # on, and restores its scroll position after a reload, which moved one box between two reads.
    page.wait_for_load_state("load")
    tops = boxes.evaluate_all("labels => labels.map(label => label.getBoundingClientRect().top)")
    assert max(tops) - min(tops) < 2, f"the five scores share one row: {tops}"
    page.locator("#survey-fixed label").nth(0).click()
    boxes.nth(4).click()
    expect(page.locator("#survey-score input[value='5']")).to_be_checked()
    shot(page, f"track-survey-{lang}")
    page.locator("#survey button[type=submit]").click()
    expect(page.locator("#survey")).to_have_count(0)
    shot(page, f"track-survey-answered-{lang}")


def test_a_bad_tracking_link_shows_a_friendly_page(live_server, customer_phone, lang):
    base, _app = live_server
    page = customer_phone
    response = page.goto(f"{base}/t/this-is-not-a-link")
    assert response.status == 404 and "text/html" in response.headers["content-type"]
    expect(page.locator("h1")).to_have_text(WORDS[lang]["bad"])
    expect(page.locator("#track-gone a[href='/request']")).to_be_visible()
    shot(page, f"track-bad-link-{lang}")
    response = page.goto(f"{base}/no/such/page")
    assert response.status == 404
    expect(page.locator("#error-home")).to_be_visible()
    shot(page, f"error-404-{lang}")


def test_a_dispatcher_issues_a_new_link_on_the_order_page(live_server, live_network, desktop, lang):
    base, _app = live_server
    page, words = desktop, WORDS[lang]
    order = Api(base, "dispatcher").post(
        "/api/orders", {"name": "李先生", "phone": "13800138000", "address": "西安市碑林区南大街 2 号",
                        "product_category": "water_heater", "lat": 34.25, "lon": 108.94},
    )  # fmt: skip
    page.goto(f"{base}/login")
    page.locator("input[name=username]").fill("dispatcher")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.goto(f"{base}/orders/{order['id']}")
    page.get_by_role("button", name=words["reissue"]).click()
    expect(page.locator("#tracking-link-read-out")).to_contain_text(words["read"])
    new = page.locator("#tracking-url").input_value()
    assert new != order["tracking_url"]
    assert requests.get(order["tracking_url"], timeout=10).status_code == 404
    assert requests.get(new, timeout=10).status_code == 200
    page.locator("#tracking-link").scroll_into_view_if_needed()
    shot(page, f"order-tracking-link-{lang}")
