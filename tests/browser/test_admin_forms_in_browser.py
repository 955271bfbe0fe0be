"""The admin forms in Chromium at 1440x900: an admin picks a technician's home base on the map
and ticks their work days; a manager sees the same page as text; anyone changes their own
password. Screenshots in Chinese and English."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from technicians.models import Technician
from tests.browser.conftest import SCREENSHOTS, _watched
from tests.conftest import PASSWORD, skip_or_fail
from web.extensions import db

ROOT = Path(__file__).resolve().parents[2]
DESKTOP = {"width": 1440, "height": 900}


@pytest.fixture(autouse=True)
def _vendor_files():
    if not (ROOT / "web" / "static" / "vendor" / "leaflet.js").exists():
        skip_or_fail("web/static/vendor is missing: run `make setup` (npm ci copies Leaflet)")


def logged_in(browser, base: str, username: str, locale: str):
    context, csp = _watched(browser, viewport=DESKTOP, locale=locale)
    page = context.new_page()
    page.goto(f"{base}/login")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(re.compile(r"/(board|orders|tech)$"))
    lang = "zh" if locale.startswith("zh") else "en"
    page.goto(f"{base}/account/password")
    page.locator(f"form[action='/lang/{lang}'] button").click()
    return context, csp, page


def shoot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_an_admin_picks_the_home_base_on_the_map_and_ticks_work_days(browser, live_server, live_network):
    base, app = live_server
    tech_id = live_network["techs"][1]  # South, works every day
    context, csp, page = logged_in(browser, base, "admin", "en-US")
    page.goto(f"{base}/admin/technicians/{tech_id}")
    home_map = page.get_by_test_id("home-map")
    expect(home_map).to_have_attribute("data-ready", "1")
    expect(page.locator("input[name=work_days]")).to_have_count(7)
    shoot(page, "admin-technician-en")

    lat, lon = page.locator("input[name=home_lat]"), page.locator("input[name=home_lon]")
    before = (float(lat.input_value()), float(lon.input_value()))
    box = home_map.bounding_box()
    home_map.click(position={"x": box["width"] * 0.75, "y": box["height"] * 0.25})  # north-east of the pin
    picked = (float(lat.input_value()), float(lon.input_value()))
    assert picked[0] > before[0] and picked[1] > before[1], (before, picked)
    expect(home_map).to_have_attribute("data-pin", f"{picked[0]},{picked[1]}")

    # Saturday and Sunday off: untick them by their labels
    for day in ("Sat", "Sun"):
        page.get_by_label(day, exact=True).uncheck()
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash")).to_contain_text("Saved.")

    with app.app_context(), db.session_scope() as session:
        tech = session.get(Technician, tech_id)
        assert tech.work_days == "12345"
        assert (tech.home_lat, tech.home_lon) == pytest.approx(picked, abs=1e-6)
    expect(page.locator("input[name=work_days]:checked")).to_have_count(5)
    page.goto(f"{base}/admin/technicians")
    expect(page.locator("table.list")).to_contain_text("Mon Tue Wed Thu Fri")
    shoot(page, "admin-technicians-en")
    page.goto(f"{base}/admin/users")
    expect(page.locator("select[name=role] option:checked")).to_have_text("Technician")
    shoot(page, "admin-users-en")
    context.close()
    csp.check()


def test_the_admin_forms_in_chinese_and_a_managers_read_only_view(browser, live_server, live_network):
    base, _ = live_server
    tech_id = live_network["techs"][1]
    context, csp, page = logged_in(browser, base, "admin", "zh-CN")
    page.goto(f"{base}/admin/technicians/{tech_id}")
    expect(page.get_by_test_id("home-map")).to_have_attribute("data-ready", "1")
    expect(page.get_by_label("周六", exact=True)).to_be_checked()
    shoot(page, "admin-technician-zh")
    page.goto(f"{base}/admin/users")
    expect(page.locator("select[name=role]")).to_have_value("technician")
    expect(page.locator("select[name=role] option:checked")).to_have_text("技师")
    shoot(page, "admin-users-zh")
    page.goto(f"{base}/admin/technicians")
    expect(page.locator("table.list")).to_contain_text("空调、热水器")
    shoot(page, "admin-technicians-zh")
    context.close()
    csp.check()

    for locale, lang in (("zh-CN", "zh"), ("en-US", "en")):
        context, csp, page = logged_in(browser, base, "manager", locale)
        page.goto(f"{base}/admin/technicians/{tech_id}")
        facts = page.get_by_test_id("technician-facts")
        expect(facts).to_be_visible()
        expect(page.locator("main input:not([type=hidden]), main select")).to_have_count(0)
        shoot(page, f"admin-technician-readonly-{lang}")
        page.goto(f"{base}/account/password")
        page.locator("input[name=current_password]").fill("not-my-pass-1")
        page.locator("input[name=new_password]").fill("brand-new-pass-7")
        page.locator("input[name=new_password_again]").fill("brand-new-pass-7")
        page.locator("main button[type=submit]").click()
        expect(page.locator("[data-field=current_password]")).to_be_visible()
        shoot(page, f"account-password-{lang}")
        context.close()
        csp.check()
