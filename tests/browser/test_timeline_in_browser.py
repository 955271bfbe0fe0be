"""The board's timeline in a real browser (Chromium, 1440×900): dragging an unassigned order
onto a technician's row, moving a visit within a row, a refusal for a technician without the
skill, a conflict when another board moved the order first, and the screenshots."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_board import ROOT, call, move, new_order, open_board, order_item, token
from tests.conftest import skip_or_fail

SIZE = (1440, 900)


@pytest.fixture(autouse=True)
def _vendor_files():
    if not (ROOT / "web" / "static" / "vendor" / "vis-timeline-graph2d.min.js").exists():
        skip_or_fail("web/static/vendor has no vis-timeline: run `make setup` (npm ci copies it)")


def board(browser, base, contexts, **options):
    context, page = open_board(browser, base, size=SIZE, **options)
    contexts.append(context)
    page.wait_for_selector(".board-timeline[data-ready]")
    # Settled: the timeline has read the days as of the board's last event (a drag begun while a
    # late event's re-read redraws the rows is lost, as it would be under a dispatcher's mouse).
    page.wait_for_function(
        "() => document.getElementById('timeline').dataset.loadedSeq === String(window.dispatchBoard.state.lastSeq)"
    )
    page.wait_for_timeout(300)
    return page


def row_label(page, tech_id: int):
    return page.locator(f'#timeline .tl-row[data-tech-id="{tech_id}"]')


def block(page, order: dict):
    return page.locator(f'#timeline .vis-item.tl-stop:has(.tl-label[data-order-id="{order["id"]}"])')


def drop_point(page, tech_id: int, x_fraction: float) -> dict:
    """A point in `tech_id`'s row of the timeline, `x_fraction` across the visible time."""
    centre = page.locator("#timeline .vis-panel.vis-center").bounding_box()
    label = (
        row_label(page, tech_id)
        .locator("xpath=ancestor::div[contains(concat(' ', @class, ' '), ' vis-label ')][1]")
        .bounding_box()
    )
    return {"x": centre["width"] * x_fraction, "y": label["y"] + label["height"] / 2 - centre["y"]}


def drag_block(page, order: dict, to_x: float, to_y: float):
    """Drag a visit with the mouse (vis-timeline moves items on pointer events, not HTML5 drag)."""
    box = block(page, order).bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    steps = 12
    x0, y0 = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    for i in range(1, steps + 1):
        page.mouse.move(x0 + (to_x - x0) * i / steps, y0 + (to_y - y0) * i / steps)
    page.mouse.up()


def stop_of(page, order_id: int):
    return page.evaluate("(id) => window.dispatchTimeline.data.byOrder[id] || null", order_id)


def wait_for_stop(page, order_id: int, technician_id: int):
    page.wait_for_function(
        "([id, tech]) => (window.dispatchTimeline.data.byOrder[id] || {}).technician_id === tech",
        arg=[order_id, technician_id],
        timeout=10000,
    )


def test_an_unassigned_order_dropped_on_a_technicians_row_is_assigned_there_and_seen_on_another_board(
    browser, live_server, live_network, contexts
):
    base, _ = live_server
    south = live_network["techs"][1]
    dispatcher = token(base, "dispatcher")
    order = new_order(base, dispatcher, "13800138000", lat=34.20, lon=108.95)
    first, second = board(browser, base, contexts), board(browser, base, contexts)
    source = order_item(first, order["id"])
    expect(source).to_have_attribute("draggable", "true")

    source.drag_to(first.locator("#timeline .vis-panel.vis-center"), target_position=drop_point(first, south, 0.5))

    expect(first.locator("#timeline-message")).to_contain_text(f"{order['number']} is now visit 1 of Tech 2's day")
    expect(block(first, order)).to_be_visible()
    wait_for_stop(second, order["id"], south)
    expect(block(second, order)).to_be_visible()
    expect(order_item(second, order["id"])).to_have_count(0)  # it left the unassigned queue
    status, fresh = call(base, "GET", f"/api/orders/{order['id']}", dispatcher)
    assert (fresh["status"], fresh["technician"]["id"], fresh["assignment_locked"]) == ("assigned", south, True)


def test_a_drop_on_one_board_redraws_the_row_on_another_from_the_event_without_reading_the_timeline(
    browser, live_server, live_network, contexts
):
    base, _ = live_server
    south = live_network["techs"][1]
    dispatcher = token(base, "dispatcher")
    order = new_order(base, dispatcher, "13800138000", lat=34.20, lon=108.95)
    first, second = board(browser, base, contexts), board(browser, base, contexts)
    reads = []
    second.on("request", lambda r: reads.append(r.url) if "/api/timeline" in r.url else None)

    order_item(first, order["id"]).drag_to(
        first.locator("#timeline .vis-panel.vis-center"), target_position=drop_point(first, south, 0.5)
    )

    wait_for_stop(second, order["id"], south)
    expect(block(second, order)).to_be_visible()
    second.wait_for_timeout(600)  # past the board's 250 ms debounce: a fallback read would have started
    assert reads == [], "the row came with the drop's event"
    status, day = call(base, "GET", "/api/timeline", dispatcher)
    (planned,) = [s for s in day["stops"] if s["order_id"] == order["id"]]
    shown = stop_of(second, order["id"])
    at = datetime.fromisoformat
    assert (at(shown["start"]), at(shown["end"]), shown["technician_id"]) == (
        at(planned["start"]),
        at(planned["end"]),
        south,
    )
    row = row_label(second, south).locator("xpath=ancestor::div[contains(concat(' ', @class, ' '), ' vis-label ')][1]")
    row_box, block_box = row.bounding_box(), block(second, order).bounding_box()
    assert row_box["y"] <= block_box["y"] + block_box["height"] / 2 <= row_box["y"] + row_box["height"], (
        "in Tech 2's row"
    )
    item = second.evaluate(
        "(id) => { const i = window.dispatchTimeline.items.get('o' + id); "
        "return {start: new Date(i.start).toISOString(), group: i.group}; }",
        order["id"],
    )
    drawn_at = abs((at(item["start"]) - at(planned["start"])).total_seconds())
    assert drawn_at < 0.001 and item["group"] == south, "the block at its planned time (to the millisecond)"


def test_an_order_dropped_on_tomorrow_in_a_row_goes_on_that_days_route(browser, live_server, live_network, contexts):
    base, _ = live_server
    south = live_network["techs"][1]
    dispatcher = token(base, "dispatcher")
    # A day shift: with the test network's 00:00–23:59 one, tomorrow's first visit starts at midnight.
    status, _ = call(base, "PATCH", f"/api/technicians/{south}", token(base, "admin"),
                     {"shift_start": "08:00", "shift_end": "20:00"})  # fmt: skip
    assert status == 200
    order = new_order(base, dispatcher, "13800138000", lat=34.20, lon=108.95)
    page = board(browser, base, contexts)
    # Tomorrow from 08:00 to 20:00 in the service area's zone, as the "3 days" view and a scroll would show it.
    tomorrow = page.evaluate(
        """() => { const D = window.dispatchTimelineDays, t = window.dispatchTimeline.timeline;
          const day = D.localDay(new Date(Date.now() + D.DAY)), start = D.dayStart(day).getTime();
          t.setWindow(new Date(start + 8 * D.HOUR), new Date(start + 20 * D.HOUR), {animation: false});
          return day; }"""
    )
    page.wait_for_function("(day) => window.dispatchTimeline.data.start <= day", arg=tomorrow)
    page.wait_for_timeout(400)

    order_item(page, order["id"]).drag_to(
        page.locator("#timeline .vis-panel.vis-center"), target_position=drop_point(page, south, 0.3)
    )

    expect(page.locator("#timeline-message")).to_contain_text(f"{order['number']} is now visit 1 of Tech 2's day")
    wait_for_stop(page, order["id"], south)
    expect(block(page, order)).to_be_visible()
    status, day = call(base, "GET", f"/api/timeline?date={tomorrow}", dispatcher)
    assert [s["order_id"] for s in day["stops"]] == [order["id"]], "on tomorrow's route"


def test_a_visit_dragged_before_another_in_its_row_is_re_sequenced(browser, live_server, live_network, contexts):
    base, _ = live_server
    south = live_network["techs"][1]
    dispatcher = token(base, "dispatcher")
    one = move(base, dispatcher, new_order(base, dispatcher, "13800138001", lat=34.21, lon=108.95), "assign",
               technician_id=south)  # fmt: skip
    two = move(base, dispatcher, new_order(base, dispatcher, "13800138002", lat=34.26, lon=108.95), "assign",
               technician_id=south)  # fmt: skip
    page = board(browser, base, contexts)
    head, tail = sorted((one, two), key=lambda o: stop_of(page, o["id"])["seq"])
    first_box = block(page, head).bounding_box()

    drag_block(page, tail, first_box["x"] - 40, first_box["y"] + first_box["height"] / 2)

    expect(page.locator("#timeline-message")).to_contain_text(f"Moved: {tail['number']} is now visit 1 of Tech 2's day")
    page.wait_for_function("(id) => window.dispatchTimeline.data.byOrder[id].seq === 0", arg=tail["id"])
    status, day = call(base, "GET", "/api/timeline", dispatcher)
    assert [s["order_id"] for s in day["stops"] if s["technician_id"] == south] == [tail["id"], head["id"]]


def test_a_drop_on_a_technician_without_the_skill_is_refused_and_the_order_stays(
    browser, live_server, live_network, contexts
):
    base, _ = live_server
    washing_machines_only = live_network["techs"][2]
    dispatcher = token(base, "dispatcher")
    order = new_order(base, dispatcher, "13800138000", lat=34.20, lon=108.95)
    page = board(browser, base, contexts)

    order_item(page, order["id"]).drag_to(
        page.locator("#timeline .vis-panel.vis-center"), target_position=drop_point(page, washing_machines_only, 0.5)
    )

    message = page.locator("#timeline-message")
    expect(message).to_have_attribute("data-kind", "refused")
    expect(message).to_contain_text("Tech 3 lacks the skill Water heater")
    expect(order_item(page, order["id"])).to_be_visible()
    status, fresh = call(base, "GET", f"/api/orders/{order['id']}", dispatcher)
    assert (fresh["status"], fresh["technician"]) == ("new", None)


def test_a_drop_after_another_board_moved_the_order_is_a_conflict_and_redraws_the_fresh_state(
    browser, live_server, live_network, contexts
):
    base, _ = live_server
    north, south = live_network["techs"][0], live_network["techs"][1]
    dispatcher = token(base, "dispatcher")
    order = new_order(base, dispatcher, "13800138000", lat=34.20, lon=108.95)
    page = board(browser, base, contexts)
    page.evaluate("window.dispatchBoard.socket().disconnect()")  # this board misses the other's move
    move(base, dispatcher, order, "assign", technician_id=north)

    order_item(page, order["id"]).drag_to(
        page.locator("#timeline .vis-panel.vis-center"), target_position=drop_point(page, south, 0.5)
    )

    message = page.locator("#timeline-message")
    expect(message).to_have_attribute("data-kind", "conflict")
    expect(message).to_contain_text("Someone else changed this order first")
    wait_for_stop(page, order["id"], north)
    expect(order_item(page, order["id"])).to_have_count(0)


def test_screenshots_of_the_board_with_its_timeline(browser, live_server, contexts):
    base, app = live_server
    from dispatch.demo import DEMO_PASSWORD, seed_demo
    from web.extensions import db

    with app.app_context(), db.session_scope() as session:
        seed_demo(session, orders=150, timezone=app.config["TIMEZONE"])
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for locale, lang, name in (("en-US", "en", "board-timeline-en"), ("zh-CN", "zh", "board-timeline-zh")):
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
            expect(page.locator("#timeline-title")).to_have_text("时间线")
        page.wait_for_selector(".board-timeline[data-ready]")
        expect(page.locator("#timeline .vis-item.tl-stop").first).to_be_visible()
        page.wait_for_timeout(300)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
