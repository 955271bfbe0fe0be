"""The policy lab in Chromium: a manager starts a small run from the form, the run's page
follows its progress by itself and shows the report, in English and in Chinese, on a desk
screen and on a phone; nothing on it breaks the Content-Security-Policy."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS, _watched
from tests.conftest import PASSWORD

VIEWS = {"desk": {"viewport": {"width": 1440, "height": 900}}, "phone": {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}}  # fmt: skip


def _log_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(re.compile(r"/(board|orders|tech)$"))


def test_a_manager_runs_the_lab_and_reads_the_report_in_both_languages(browser, live_server, live_network):
    base, _app = live_server
    context, csp = _watched(browser, locale="en-US", **VIEWS["desk"])
    page = context.new_page()
    _log_in(page, base, "manager")
    page.locator("header nav a", has_text="Policy lab").click()
    page.locator("input[name=days]").fill("1")
    page.locator("input[name=seeds]").fill("2")
    page.locator("input[name=technicians]").fill("2")
    page.locator("input[name=orders_per_day]").fill("2")
    page.locator("#lab-form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/lab/runs/\d+$"))
    run_url = page.url
    expect(page.locator("#lab-table")).to_be_visible(timeout=600_000)  # the page refreshes itself
    expect(page.locator("#lab-table thead")).to_contain_text("Hindsight bound")
    expect(page.locator("#chart-completion_24h_rate canvas")).to_be_visible()  # ECharts drew it
    drawn = page.evaluate(
        """() => ['completion_24h_rate', 'km'].map(function (f) {
             var o = echarts.getInstanceByDom(document.getElementById('chart-' + f)).getOption();
             return [o.yAxis[0].data, o.series[0].data.length];
           })"""
    )
    assert [n for _, n in drawn] == [4, 4]  # three policies + the bound, in both pictures
    assert drawn[0][0][0] == "Hindsight bound"  # drawn bottom up: the bound last in the list
    context.close()
    csp.check()

    for locale, lang in (("en-US", "en"), ("zh-CN", "zh")):
        for view, options in VIEWS.items():
            context, csp = _watched(browser, locale=locale, **options)
            page = context.new_page()
            _log_in(page, base, "manager")
            page.goto(run_url)
            expect(page.locator("#lab-table")).to_be_visible()
            expect(page.locator("#chart-km canvas")).to_be_visible()
            if lang == "zh":
                expect(page.locator("#lab-table")).to_contain_text("24小时完成率")
                expect(page.locator("#lab-table")).not_to_contain_text("Hindsight")
                axis = page.evaluate(
                    "() => echarts.getInstanceByDom(document.getElementById('chart-km')).getOption().yAxis[0].data"
                )
                assert "事后最优界" in axis and not any("Hindsight" in a for a in axis), axis
            page.screenshot(path=str(SCREENSHOTS / f"lab-report-{lang}-{view}.png"), full_page=True)
            page.goto(f"{base}/lab")
            page.screenshot(path=str(SCREENSHOTS / f"lab-form-{lang}-{view}.png"), full_page=True)
            context.close()
            csp.check()
