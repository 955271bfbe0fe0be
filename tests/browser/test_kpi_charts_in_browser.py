"""The KPI page's pictures in Chromium, on the demo city (seeded for 27 November 2026): a click
on an outlet's bar opens exactly that outlet's failing orders; the tables sort numerically and
names in pinyin order; the Chinese layout holds at 1440 px and on a tablet. Screenshots in
Chinese and English at 1440x900 and 820x1180."""

from __future__ import annotations

import re
import shutil
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from dispatch.demo import DEMO_PASSWORD, seed_demo
from dispatch.models import WorkOrder
from technicians.models import Outlet
from tests.browser.conftest import SCREENSHOTS, _watched
from tests.browser.test_board import call, token
from tests.conftest import skip_or_fail
from web import create_app
from web.extensions import db

ROOT = Path(__file__).resolve().parents[2]
MONTH = "2026-11"
DEMO_NOW = datetime(2026, 11, 27, 4, 0, tzinfo=UTC)  # the demo's 30 days: 28 October to 27 November
DESK, TABLET = {"width": 1440, "height": 900}, {"width": 820, "height": 1180}


@pytest.fixture(autouse=True)
def _vendor_files():
    if not (ROOT / "web" / "static" / "vendor" / "echarts.min.js").exists():
        skip_or_fail("web/static/vendor is missing: run `make setup` (npm ci copies ECharts)")


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory, sqlite_template):
    """The app on its own SQLite file holding the demo city, served on a free port."""
    tmp = tmp_path_factory.mktemp("kpi-charts")
    shutil.copy(sqlite_template, tmp / "live.db")
    app = create_app(
        {
            "TESTING": True, "DATABASE_URL": f"sqlite:///{tmp / 'live.db'}", "SECRET_KEY": "browser-test",
            "RATELIMIT_STORAGE_URI": "memory://", "GEOCODER_PROVIDER": "none", "REDIS_URL": None,
            "AUTO_ASSIGN_ON_INTAKE": False, "PHOTO_STORAGE_DIR": str(tmp / "photos"),
        }
    )  # fmt: skip
    with app.app_context(), db.session_scope() as session:
        seed_demo(session, timezone=app.config["TIMEZONE"], now=DEMO_NOW)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", app
    server.shutdown()
    thread.join(timeout=5)
    app.extensions["database"].dispose()


def logged_in(browser, base: str, locale: str, viewport: dict, username: str = "manager"):
    context, csp = _watched(browser, viewport=viewport, locale=locale)
    page = context.new_page()
    page.goto(f"{base}/login")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(DEMO_PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(re.compile(r"/(board|orders|kpis)$"))
    lang = "zh" if locale.startswith("zh") else "en"
    page.goto(f"{base}/account/password")
    page.locator(f"form[action='/lang/{lang}'] button").click()
    return context, csp, page


def open_kpis(page, base: str) -> None:
    page.goto(f"{base}/kpis?month={MONTH}")
    expect(page.locator("#chart-outlets canvas")).to_have_count(1)
    expect(page.locator("#chart-reasons")).to_have_attribute("data-ready", "1")
    expect(page.locator("#chart-daily")).to_have_attribute("data-ready", "1")


def bar_centre(page, chart_id: str, series: int, index: int) -> tuple[float, float]:
    """Where a bar is drawn in the viewport (the chart scrolled into view): ECharts' own layout
    of that bar (x, y, width, height within the chart)."""
    page.locator(f"#{chart_id}").scroll_into_view_if_needed()
    box = page.evaluate(
        """([id, series, index]) => {
            const el = document.getElementById(id);
            const r = el.getBoundingClientRect();
            const bar = echarts.getInstanceByDom(el).getModel().getSeriesByIndex(series).getData().getItemLayout(index);
            return [r.left + bar.x + bar.width / 2, r.top + bar.y + bar.height / 2];
        }""",
        [chart_id, series, index],
    )
    return box[0], box[1]


def test_a_click_on_an_outlets_bar_opens_exactly_its_failing_orders(browser, demo_server):
    base, app = demo_server
    manager = token(base, "manager", DEMO_PASSWORD)
    status, outlets = call(base, "GET", f"/api/kpis?month={MONTH}&by=outlet", manager)
    assert status == 200 and len(outlets["items"]) == 3, outlets
    context, csp, page = logged_in(browser, base, "en-US", DESK)
    open_kpis(page, base)
    shown = page.evaluate("JSON.parse(document.getElementById('chart-data').textContent).outlets")
    # The outlet with the lowest 24-hour completion (the first series), by the chart's own order.
    index = min(range(len(shown)), key=lambda i: shown[i]["completion_24h_rate"])
    outlet = shown[index]
    row = next(r for r in outlets["items"] if r["key"] == outlet["key"])
    assert outlet["completion_24h_rate"] == row["completion_24h_rate"] < 1

    page.mouse.click(*bar_centre(page, "chart-outlets", 0, index))
    page.wait_for_url(re.compile(r"/kpis/orders\?"))
    assert (
        f"outlet_id={outlet['key']}" in page.url and "kpi=completion_24h" in page.url and "outcome=failed" in page.url
    )
    expect(page.locator("#drill-title")).to_contain_text(outlet["name"])
    numbers = page.locator("#kpi-orders tbody tr td:first-child").all_inner_texts()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "kpi-drill-outlet-failing-en.png"), full_page=True)

    # Exactly the API's failing orders of that outlet, as many as its figure leaves out of its decided orders.
    status, found = call(
        base, "GET", f"/api/kpis/orders?month={MONTH}&kpi=completion_24h&outlet_id={outlet['key']}", manager
    )
    assert status == 200
    failing = [i["number"] for i in found["items"] if i["passed"] is False]
    assert sorted(numbers) == sorted(failing) and failing
    assert len(failing) == row["decided"] - round(row["completion_24h_rate"] * row["decided"])
    # ... and in the database every one of them is that outlet's order of the month.
    with app.app_context(), db.session_scope() as session:
        orders = session.query(WorkOrder).filter(WorkOrder.number.in_(numbers)).all()
        assert {o.outlet_id for o in orders} == {outlet["key"]} and len(orders) == len(numbers)
        assert session.get(Outlet, outlet["key"]).name == outlet["name"]
    context.close()
    csp.check()


def test_a_click_on_a_technicians_bar_and_on_a_reason_opens_the_orders_behind_them(browser, demo_server):
    base, _ = demo_server
    manager = token(base, "manager", DEMO_PASSWORD)
    context, csp, page = logged_in(browser, base, "en-US", DESK)
    open_kpis(page, base)
    ranked = page.evaluate("JSON.parse(document.getElementById('chart-data').textContent).ranking")
    worst = ranked[-1]  # drawn at the bottom of the ranking: the chart runs best first, top down
    page.mouse.click(*bar_centre(page, "chart-ranking", 0, 0))
    page.wait_for_url(re.compile(rf"technician_id={worst['key']}\b"))
    numbers = page.locator("#kpi-orders tbody tr td:first-child").all_inner_texts()
    status, found = call(
        base, "GET", f"/api/kpis/orders?month={MONTH}&kpi=completion_24h&technician_id={worst['key']}", manager
    )
    assert status == 200
    assert sorted(numbers) == sorted(i["number"] for i in found["items"] if i["passed"] is False)

    # The reasons: the longest bar (drawn at the top) opens the orders failing for that reason.
    status, pictures = call(base, "GET", f"/api/kpis/pictures?month={MONTH}", manager)
    assert status == 200
    biggest = max(pictures["reasons"], key=lambda g: g["orders"])
    open_kpis(page, base)
    series = ["completion_24h", "satisfaction", "compliance", "authenticity"].index(biggest["kpi"])
    texts = page.evaluate(
        "echarts.getInstanceByDom(document.getElementById('chart-reasons')).getOption().yAxis[0].data"
    )
    page.mouse.click(*bar_centre(page, "chart-reasons", series, texts.index(biggest["text"])))
    page.wait_for_url(re.compile(r"/kpis/orders\?"))
    assert f"reason={biggest['reason']}" in page.url.replace("%3A", ":")
    expect(page.locator("#kpi-orders tbody tr")).to_have_count(biggest["orders"])
    context.close()
    csp.check()


def test_the_tables_sort_numerically_and_names_in_pinyin_order(browser, demo_server):
    base, _ = demo_server
    context, csp, page = logged_in(browser, base, "zh-CN", DESK)
    open_kpis(page, base)
    table = page.locator("#outlet-kpis")
    table.locator("th button.sort").nth(0).click()
    # 高 (gāo), 未 (wèi), 雁 (yàn): pinyin order, not the code points' (未 U+672A, 雁 U+96C1, 高 U+9AD8)
    expect(table.locator("tbody td.name")).to_have_text(["高新服务网点", "未央服务网点", "雁塔服务网点"])
    # The technicians' table is sorted by the server (a page of 50): the heading is a link.
    technicians = page.locator("#technician-kpis")
    column = technicians.locator("thead th").filter(has_text="满意度")
    column.locator("a.sort").click()
    expect(column).to_have_attribute("aria-sort", "ascending")
    column.locator("a.sort").click()
    expect(column).to_have_attribute("aria-sort", "descending")
    assert "sort=satisfaction_rate" in page.url and "dir=desc" in page.url
    index = technicians.locator("thead th").all_inner_texts().index(column.inner_text())
    cells = technicians.locator(f"tbody tr td:nth-child({index + 1})")
    keys = [c.get_attribute("data-sort") for c in cells.all()]
    values = [float(k) for k in keys if k]
    assert values == sorted(values, reverse=True) and len(set(values)) > 2
    assert all(not k for k in keys[len(values) :]), "a team without the figure sorts last"
    # The drill-down a bar opens, in Chinese: only the failing orders, and it says so.
    page.goto(f"{base}/kpis/orders?month={MONTH}&kpi=completion_24h&outlet_id=1&outcome=failed")
    expect(page.locator("#drill-outcome")).to_have_text("仅未达标的")
    expect(page.locator("#kpi-orders tbody tr.failed").first).to_be_visible()
    expect(page.locator("#kpi-orders tbody tr:not(.failed)")).to_have_count(0)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "kpi-drill-outlet-failing-zh.png"), full_page=True)
    context.close()
    csp.check()


@pytest.mark.parametrize(
    "locale, viewport, name",
    [
        ("zh-CN", DESK, "kpis-charts-zh-1440"), ("en-US", DESK, "kpis-charts-en-1440"),
        ("zh-CN", TABLET, "kpis-charts-zh-tablet"), ("en-US", TABLET, "kpis-charts-en-tablet"),
        ("zh-CN", {"width": 1024, "height": 768}, "kpis-charts-zh-1024"),
    ],
)  # fmt: skip
def test_the_kpi_page_holds_its_layout_in_chinese_and_english(browser, demo_server, locale, viewport, name):
    base, _ = demo_server
    context, csp, page = logged_in(browser, base, locale, viewport)
    open_kpis(page, base)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    # No name wraps (one character a line) and no "100.0 %" breaks: each such cell is one line; a
    # column heading wraps at a space at most once (in Chinese not at all: a heading is one word).
    lines = dict(
        page.evaluate(
            """() => {
                const lines = el => {  // the distinct line boxes of an element's text
                    const bottoms = new Set(), walk = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
                    for (let t = walk.nextNode(); t; t = walk.nextNode()) {
                        const range = document.createRange();
                        range.selectNodeContents(t);
                        for (const r of range.getClientRects()) if (r.width > 0) bottoms.add(Math.round(r.bottom));
                    }
                    return bottoms.size;
                };
                const of = selector => [...document.querySelectorAll(selector)].map(el => [el.textContent.trim(), lines(el)]);
                return [["cells", of('table.kpi td.name, table.kpi td.num, .tile strong, .tile small.change span')],
                        ["headings", of('table.kpi th')]];
            }"""
        )
    )
    assert [c for c in lines["cells"] if c[1] > 1] == []
    assert [h for h in lines["headings"] if h[1] > (1 if locale.startswith("zh") else 2)] == []
    # ECharts speaks the page's language (its own Chinese locale in zh) and saves each picture as a PNG.
    title = page.evaluate(
        "echarts.getInstanceByDom(document.getElementById('chart-outlets')).getOption().toolbox[0].feature.saveAsImage.title"
    )
    assert title == ("保存为图片" if locale.startswith("zh") else "Save as Image")
    page.locator("#chart-outlets").scroll_into_view_if_needed()
    icon = page.evaluate(
        """() => {  // where ECharts drew the toolbox's icon (its view's first child), in the viewport
            const el = document.getElementById('chart-outlets'), r = el.getBoundingClientRect();
            const view = echarts.getInstanceByDom(el)._componentsViews.find(v => v.type === 'toolbox');
            const icon = view.group.childAt(0), box = icon.getBoundingRect().clone();
            box.applyTransform(icon.getComputedTransform());
            return [r.left + box.x + box.width / 2, r.top + box.y + box.height / 2];
        }"""
    )
    with page.expect_download() as saved:
        page.mouse.click(*icon)
    assert saved.value.suggested_filename == f"kpi-outlets-{MONTH}.png"
    if viewport is DESK:  # on a desk every column is in view, none behind a sideways scroll
        assert page.evaluate(
            "[...document.querySelectorAll('.table-scroll')].every(d => d.scrollWidth <= d.clientWidth + 1)"
        )
    # The pictures fit their cards: no chart is wider than the page.
    widths = page.evaluate("[...document.querySelectorAll('.chart canvas')].map(c => c.getBoundingClientRect().right)")
    assert widths and max(widths) <= viewport["width"], widths
    context.close()
    csp.check()
