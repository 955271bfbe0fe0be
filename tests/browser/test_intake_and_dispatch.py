"""A customer asks for a repair on their phone; a dispatcher assigns it from the order page."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import select

from tests.browser.conftest import screenshot
from tests.conftest import PASSWORD


def test_a_customer_requests_a_repair_from_a_phone_in_chinese(live_server, live_network, phone_page):
    base, app = live_server
    page = phone_page
    page.goto(f"{base}/request")
    expect(page.locator("h1")).to_have_text("报修")
    page.get_by_label("您的姓名").fill("王女士")
    page.get_by_label("手机号码").fill("139 1234 5678")
    page.get_by_label("地址").fill("西安市雁塔区小寨东路 1 号 3 栋 201")
    page.get_by_label("家电类型").select_option("water_heater")
    page.get_by_label("故障描述").fill("热水器不出热水 <script>alert(1)</script>")
    screenshot(page, "request-form-phone-zh")
    page.get_by_role("button", name="提交报修").click()
    expect(page.locator("#order-number")).to_have_text(re.compile(r"WO-\d{8}-\d{4}"))
    screenshot(page, "request-received-phone-zh")

    from dispatch.models import WorkOrder
    from web.extensions import db

    with app.app_context(), db.session_scope() as session:
        order = session.scalars(select(WorkOrder)).one()
        assert (order.channel, order.contact_phone, order.status) == ("web", "+8613912345678", "new")
        assert order.geocode_status == "failed"  # no geocoder configured: kept, flagged


def test_a_bad_phone_number_is_shown_next_to_its_field(live_server, live_network, phone_page):
    base, _ = live_server
    page = phone_page
    page.goto(f"{base}/request")
    page.get_by_label("您的姓名").fill("王女士")
    page.get_by_label("手机号码").fill("12345")
    page.get_by_label("地址").fill("西安市雁塔区")
    page.get_by_role("button", name="提交报修").click()
    expect(page.locator('.error[data-field="phone"]')).to_be_visible()
    screenshot(page, "request-form-error-zh")


def test_a_dispatcher_takes_a_call_and_assigns_the_order(live_server, live_network, page):
    base, _ = live_server
    page.goto(f"{base}/login")
    page.get_by_label("Username").fill("dispatcher")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/board$"))  # a dispatcher starts on the live board

    page.get_by_role("link", name="New order").click()
    page.get_by_label("Customer name").fill("Mr Li")
    page.get_by_label("Phone").fill("13800138000")
    page.get_by_label("Address").fill("1 Keji Road, Xi'an")
    # No geocoder here: the dispatcher clicks the map where the customer is (near South).
    spot = page.evaluate("() => window.locationPicker.map.latLngToContainerPoint([34.20, 108.95])")
    page.locator("#pick-map").click(position={"x": spot["x"], "y": spot["y"]})
    expect(page.locator("input[name=coord_datum]")).to_have_value("wgs84")
    page.get_by_label("Product", exact=True).select_option("water_heater")
    page.get_by_label("Priority").select_option("urgent")
    page.get_by_role("button", name="Create order").click()

    expect(page.locator("#order-status")).to_have_text("New")
    # The system's suggestion comes first: the nearest technician with the skill (South).
    first = page.locator("#actions select[name=technician_id] option").first
    expect(first).to_contain_text("★ Tech 2")
    expect(first).to_contain_text("km")
    page.locator("#actions select[name=technician_id]").select_option(str(live_network["techs"][1]))
    page.get_by_role("button", name="Assign").click()
    expect(page.locator("#order-status")).to_have_text("Assigned")
    expect(page.locator("#events tbody tr")).to_have_count(2)
    screenshot(page, "order-assigned-en")

    page.get_by_role("button", name="中文").click()
    expect(page.locator("#order-status")).to_have_text("已派单")
    screenshot(page, "order-assigned-zh")
