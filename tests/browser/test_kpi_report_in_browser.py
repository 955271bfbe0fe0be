"""The monthly report from the KPI page in Chromium: a manager, in Chinese and in English, at a
desk and on a phone, finds "Monthly report (XLSX)" and "Report (PDF)" beside the month and
downloads both files of the month shown."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_board import move, new_order, token
from tests.conftest import PASSWORD

VIEWPORTS = {"desk": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
WORDS = {"en-US": ("Monthly report (XLSX)", "Report (PDF)"), "zh-CN": ("月度报告（XLSX）", "报告（PDF）")}


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
@pytest.mark.parametrize("size", ["desk", "phone"])
def test_a_manager_downloads_the_months_report_from_the_kpi_page(browser, live_server, live_network, locale, size):
    base, _ = live_server
    dispatcher = token(base, "dispatcher")
    tech = token(base, "tech1")
    order = move(base, dispatcher, new_order(base, dispatcher, "13900139001"), "assign",
                 technician_id=live_network["techs"][0])  # fmt: skip
    for step in ("accept", "depart", "arrive", "complete"):
        extra = {"lat": 34.21, "lon": 108.95, "accuracy_m": 10} if step == "arrive" else {}
        order = move(base, tech, order, step, **extra)
    context = browser.new_context(viewport=VIEWPORTS[size], locale=locale, accept_downloads=True)
    page = context.new_page()
    page.goto(f"{base}/login")
    page.locator("input[name=username]").fill("manager")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(re.compile(r"/(board|orders|kpis)$"))
    page.goto(f"{base}/kpis")
    xlsx_words, pdf_words = WORDS[locale]
    xlsx_link, pdf_link = page.locator("#report-xlsx"), page.locator("#report-pdf")
    assert xlsx_link.inner_text().strip() == xlsx_words and pdf_link.inner_text().strip() == pdf_words
    shown = page.locator("select[name=month]").input_value()
    assert xlsx_link.get_attribute("href").endswith(f"report.xlsx?month={shown}")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"kpi-report-links-{locale[:2]}-{size}.png"), full_page=False)
    with page.expect_download() as pdf:
        pdf_link.click()
    assert pdf.value.suggested_filename == f"kpi-report-{shown}.pdf"
    assert pdf.value.path().read_bytes()[:5] == b"%PDF-"
    with page.expect_download() as xlsx:
        xlsx_link.click()
    assert xlsx.value.suggested_filename == f"kpi-report-{shown}.xlsx"
    assert xlsx.value.path().read_bytes()[:2] == b"PK"
    context.close()
