"""A dispatcher marks a technician out from the technician's own page: the reason is picked
there, and the board opens on the proposal that re-plans their unstarted orders (issue 20).
Screenshots of the technician page and of the board with the proposal, at the desk, zh and en."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_customer_walk import HOME, Api
from tests.browser.test_map_and_hotline import login

WORDS = {
    "zh": {"out": "今天剩余时间停工", "since": "不在岗", "reason": "车辆故障"},
    "en": {"out": "is out for the rest of the day", "since": "Out since", "reason": "Vehicle broken down"},
}


def test_a_dispatcher_marks_a_technician_out_from_their_page_and_the_board_shows_the_plan(
    live_server, live_network, browser
):
    base, _app = live_server
    dispatcher = Api(base, "dispatcher")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    south, north = live_network["techs"][1], live_network["techs"][0]
    for locale, shots in (("zh-CN", "zh"), ("en-US", "en")):
        orders = [
            dispatcher.post("/api/orders", {"name": "王女士", "phone": f"1391234567{i}", "address": "西安市雁塔区小寨东路 1 号",
                                            "product_category": "water_heater", "lat": HOME[0], "lon": HOME[1]})
            for i in range(2)
        ]  # fmt: skip
        tech = south if shots == "zh" else north  # each language marks another technician out
        for order in orders:
            dispatcher.act(order, "assign", technician_id=tech)
        context = browser.new_context(viewport={"width": 1440, "height": 900}, locale=locale)
        try:
            page = context.new_page()
            login(page, base)  # the context's language
            page.goto(f"{base}/admin/technicians/{tech}")
            page.select_option("#drop-out-reason", "vehicle")
            page.locator("#drop-out").scroll_into_view_if_needed()
            page.screenshot(path=str(SCREENSHOTS / f"technician-drop-out-{shots}.png"))
            page.locator("#drop-out button[type=submit]").click()
            expect(page).to_have_url(re.compile(r"/board\?plan=\d+$"))
            summary = page.locator("#plan-summary")
            expect(summary).to_contain_text(WORDS[shots]["out"], timeout=20000)
            expect(page.locator("#plan-moves tr")).to_have_count(2)
            page.screenshot(path=str(SCREENSHOTS / f"board-drop-out-plan-{shots}.png"))
            page.goto(f"{base}/admin/technicians/{tech}")
            expect(page.locator("[data-testid=out-today]")).to_contain_text(WORDS[shots]["reason"])
            expect(page.locator("[data-testid=out-today]")).to_contain_text(WORDS[shots]["since"])
            page.locator("#drop-out").scroll_into_view_if_needed()
            page.screenshot(path=str(SCREENSHOTS / f"technician-out-today-{shots}.png"))
        finally:
            context.close()
