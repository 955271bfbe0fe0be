"""The dispatcher's live board in a real browser: live updates, catching up after a cut,
acting from the board, and two dispatchers racing on one order."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS
from tests.conftest import PASSWORD, skip_or_fail

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _vendor_files():
    if not (ROOT / "web" / "static" / "vendor" / "leaflet.js").exists():
        skip_or_fail("web/static/vendor is missing: run `make setup` (npm ci copies Leaflet and Socket.IO)")


# --- helpers ---------------------------------------------------------------------------


def call(base: str, method: str, path: str, token: str | None = None, body: dict | None = None) -> tuple[int, dict]:
    """The JSON API with a bearer token, outside any browser."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{base}{path}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def token(base: str, username: str, password: str = PASSWORD) -> str:
    status, body = call(base, "POST", "/api/auth/login", body={"username": username, "password": password})
    assert status == 200, body
    return body["token"]


def new_order(base: str, tok: str, phone: str, **extra) -> dict:
    body = {"name": "张三", "phone": phone, "address": "西安市雁塔区小寨东路 1 号", "product_category": "water_heater",
            "lat": 34.21, "lon": 108.95, **extra}  # fmt: skip
    status, order = call(base, "POST", "/api/orders", tok, body)
    assert status == 201, order
    return order


def move(base: str, tok: str, order: dict, action: str, **extra) -> dict:
    status, body = call(base, "POST", f"/api/orders/{order['id']}/transitions", tok,
                        {"action": action, "version": order["version"], **extra})  # fmt: skip
    assert status == 200, body
    return body


def open_board(browser, base: str, username: str = "dispatcher", locale: str = "en-US", size=(1280, 800), routes=None):
    context = browser.new_context(viewport={"width": size[0], "height": size[1]}, locale=locale)
    for pattern, handler in (routes or {}).items():
        context.route(pattern, handler)
    page = context.new_page()
    page.goto(f"{base}/login")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(re.compile(r"/(board|orders)$"))  # the login's own redirect has landed
    if not page.url.endswith("/board"):
        page.goto(f"{base}/board")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    page.evaluate("window.__notReloaded = true")
    return context, page


def order_item(page, order_id: int):
    return page.locator(f'#queue-list li[data-order-id="{order_id}"]')


def show_queue(page, queue: str):
    page.locator(f'.queue-tab[data-queue="{queue}"]').click()


def assert_not_reloaded(page):
    assert page.evaluate("window.__notReloaded === true")


# --- (a) live updates ----------------------------------------------------------------------


def test_the_board_shows_a_new_order_and_a_technicians_moves_without_reloading(
    browser, live_server, live_network, contexts
):
    base, _ = live_server
    context, page = open_board(browser, base)
    contexts.append(context)
    expect(page.locator('.queue-tab[data-queue="unassigned"] .count')).to_have_text("0")

    dispatcher = token(base, "dispatcher")
    order = new_order(base, dispatcher, "13800138000", lat=34.20, lon=108.95)
    expect(order_item(page, order["id"])).to_contain_text(order["number"])
    expect(page.locator('.queue-tab[data-queue="unassigned"] .count')).to_have_text("1")
    # A marker for it on the map, too (and one per technician); clicking it opens the order.
    expect(page.locator("#board-map .order-marker.status-new")).to_have_count(1)
    expect(page.locator("#board-map path.tech-marker")).to_have_count(3)
    page.locator("#board-map .order-marker").click()
    expect(page.locator("#panel-number")).to_have_text(order["number"])
    page.locator("#order-panel .panel-close").click()

    south_tech = live_network["techs"][1]
    order = move(base, dispatcher, order, "assign", technician_id=south_tech)
    tech = token(base, "tech2")
    order = move(base, tech, order, "accept")
    show_queue(page, "in_progress")
    item = order_item(page, order["id"])
    expect(item).to_have_attribute("data-status", "accepted")
    expect(item).to_contain_text("Tech 2")
    expect(page.locator(f'#tech-list tr[data-tech-id="{south_tech}"] .load-text')).to_have_text(re.compile(r"^1 / "))

    order = move(base, tech, order, "depart", lat=34.205, lon=108.951)
    expect(item).to_have_attribute("data-status", "en_route")
    # The technician's phone reported where they set off from: their position time shows.
    expect(page.locator(f'#tech-list tr[data-tech-id="{south_tech}"] .seen')).not_to_have_text("home base")
    expect(page.locator('.queue-tab[data-queue="unassigned"] .count')).to_have_text("0")
    assert_not_reloaded(page)


def test_orders_near_their_deadline_are_flagged_at_risk(browser, live_server, live_network, contexts):
    base, app = live_server
    app.config["BOARD_RISK_HOURS"] = 48  # the 24-hour promise falls inside it
    context, page = open_board(browser, base)
    contexts.append(context)
    order = new_order(base, token(base, "dispatcher"), "13800138000")
    expect(page.locator('.queue-tab[data-queue="at_risk"] .count')).to_have_text("1")
    expect(order_item(page, order["id"])).to_have_class(re.compile(r"(^|\s)at-risk(\s|$)"))
    expect(page.locator("#board-map .order-marker.at-risk")).to_have_count(1)
    show_queue(page, "at_risk")
    row = order_item(page, order["id"])
    expect(row).to_be_visible()
    # Flagged by its red edge, laid out like every other row: as wide as the list (the KPI
    # pages' `.risk` badge style once shrank it to its text).
    # Read in one go from the list as it stands: an event may redraw the list between finding the
    # row and measuring it, which once left the measured row detached (no parent).
    layout = page.wait_for_function(
        """id => { const li = document.querySelector(`#queue-list li[data-order-id="${id}"]`);
                   if (!li || !li.parentElement) return null;
                   const s = getComputedStyle(li);
                   return [s.display, s.borderLeftWidth, li.getBoundingClientRect().width >= li.parentElement.clientWidth - 1]; }""",
        arg=order["id"],
    ).json_value()
    assert layout == ["list-item", "4px", True], layout


def test_the_board_sorts_orders_by_the_rules_its_snapshot_carries(browser, live_server, live_network, contexts):
    """board.js keeps no copy of the queue and at-risk rules (dispatch/board.py): bend them in
    the snapshot, and an order an event brings is sorted by the bent ones."""

    def bent_rules(route):
        response = route.fetch()
        snapshot = response.json()
        snapshot["rules"]["risk_hours"] = 48  # the 24-hour promise falls inside it
        snapshot["rules"]["queues"]["new"]["unassigned"] = "returned"
        route.fulfill(response=response, json=snapshot)

    base, _ = live_server
    context, page = open_board(browser, base, routes={"**/api/board": bent_rules})
    contexts.append(context)
    order = new_order(base, token(base, "dispatcher"), "13800138000")
    expect(page.locator('.queue-tab[data-queue="returned"] .count')).to_have_text("1")
    expect(page.locator('.queue-tab[data-queue="unassigned"] .count')).to_have_text("0")
    expect(page.locator('.queue-tab[data-queue="at_risk"] .count')).to_have_text("1")
    show_queue(page, "returned")
    expect(order_item(page, order["id"])).to_have_class(re.compile(r"(^|\s)at-risk(\s|$)"))


# --- (b) catching up after a cut --------------------------------------------------------------


def test_a_board_cut_off_catches_up_on_what_it_missed(browser, live_server, live_network, contexts):
    base, _ = live_server
    context, page = open_board(browser, base)
    contexts.append(context)
    dispatcher = token(base, "dispatcher")
    first = new_order(base, dispatcher, "13800138000")
    expect(order_item(page, first["id"])).to_be_visible()

    context.set_offline(True)  # Chromium drops the board's WebSocket too
    expect(page.locator("#connection")).to_have_attribute("data-state", "offline")

    missed = [new_order(base, dispatcher, f"1380013800{i}") for i in (1, 2)]
    move(base, dispatcher, first, "assign", technician_id=live_network["techs"][1])
    page.wait_for_timeout(500)
    for order in missed:
        expect(order_item(page, order["id"])).to_have_count(0)

    context.set_offline(False)
    expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=15000)
    for order in missed:
        expect(order_item(page, order["id"])).to_be_visible()
    expect(order_item(page, first["id"])).to_have_count(0)  # assigned meanwhile: no longer unassigned
    show_queue(page, "in_progress")
    expect(order_item(page, first["id"])).to_have_attribute("data-status", "assigned")
    assert_not_reloaded(page)


def test_a_board_too_far_behind_reloads_its_snapshot(browser, live_server, live_network, contexts):
    base, app = live_server
    app.config["BOARD_FEED_LIMIT"] = 2
    context, page = open_board(browser, base)
    contexts.append(context)
    snapshots = []
    page.on("request", lambda r: snapshots.append(r.url) if r.url.endswith("/api/board") else None)
    dispatcher = token(base, "dispatcher")
    context.set_offline(True)
    expect(page.locator("#connection")).to_have_attribute("data-state", "offline")
    missed = [new_order(base, dispatcher, f"1380013800{i}") for i in range(3)]
    context.set_offline(False)
    for order in missed:
        expect(order_item(page, order["id"])).to_be_visible()
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    assert len(snapshots) == 1  # the feed's page was full: one fresh snapshot instead
    assert page.evaluate("window.dispatchBoard.state.lastSeq") == 3
    assert_not_reloaded(page)


def test_a_dropped_message_is_noticed_at_the_next_one_and_fetched(browser, live_server, live_network, contexts):
    base, _ = live_server
    context, page = open_board(browser, base)
    contexts.append(context)
    dispatcher = token(base, "dispatcher")
    # Lose the next message on the way in, as a flaky network would.
    page.evaluate(
        """() => {
            const socket = window.dispatchBoard.socket();
            const handler = socket.listeners('order_event')[0];
            let drop = 1;
            socket.off('order_event');
            socket.on('order_event', (msg) => { if (drop-- > 0) return; handler(msg); });
        }"""
    )
    lost = new_order(base, dispatcher, "13800138001")
    page.wait_for_timeout(500)
    expect(order_item(page, lost["id"])).to_have_count(0)
    seen = new_order(base, dispatcher, "13800138002")  # its seq reveals the gap
    expect(order_item(page, seen["id"])).to_be_visible()
    expect(order_item(page, lost["id"])).to_be_visible()
    assert page.evaluate("window.dispatchBoard.state.lastSeq") == 2


def test_an_outlet_board_shows_its_outlet_only_and_skips_other_outlets_events_quietly(
    browser, live_server, live_network, contexts
):
    base, _ = live_server
    context, page = open_board(browser, base, "south_dispatcher")
    contexts.append(context)
    feed_calls = []
    page.on("request", lambda r: feed_calls.append(r.url) if "/api/events?" in r.url else None)
    dispatcher = token(base, "dispatcher")
    north = new_order(base, dispatcher, "13800138001", lat=34.34, lon=108.94)
    south = new_order(base, dispatcher, "13800138002", lat=34.19, lon=108.95)
    expect(order_item(page, south["id"])).to_be_visible()
    page.wait_for_timeout(500)
    expect(order_item(page, north["id"])).to_have_count(0)
    # The North event leaves a hole in the sequence; one look at the feed settles it.
    assert page.evaluate("window.dispatchBoard.state.lastSeq") == 2
    assert len(feed_calls) <= 2
    expect(page.locator("#filter-outlet option")).to_have_count(2)  # "any" and South
    expect(page.locator(f'#tech-list tr[data-tech-id="{live_network["techs"][0]}"]')).to_have_count(0)


def test_filters_and_search_narrow_the_queues_and_user_text_stays_text(browser, live_server, live_network, contexts):
    base, _ = live_server
    dispatcher = token(base, "dispatcher")
    hostile = new_order(base, dispatcher, "13800138001", name="<img src=x onerror=alert(1)>", lat=34.19, lon=108.95)
    urgent = new_order(base, dispatcher, "13900139002", priority="urgent", product_category="washing_machine",
                       address="西安市长安区韦曲街道 8 号", lat=34.19, lon=108.96)  # fmt: skip
    north = new_order(base, dispatcher, "13700137003", lat=34.34, lon=108.94)
    context, page = open_board(browser, base)
    contexts.append(context)
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    expect(page.locator("#queue-list li[data-order-id]")).to_have_count(3)
    expect(order_item(page, hostile["id"])).to_contain_text("<img src=x onerror=alert(1)>")
    assert page.locator("#queue-list img").count() == 0 and dialogs == []

    page.locator("#filter-priority").select_option("urgent")
    expect(page.locator("#queue-list li[data-order-id]")).to_have_count(1)
    expect(order_item(page, urgent["id"])).to_be_visible()
    page.locator("#filter-priority").select_option("")
    page.locator("#filter-skill").select_option("washing_machine")
    expect(page.locator("#queue-list li[data-order-id]")).to_have_count(1)
    page.locator("#filter-skill").select_option("")
    page.locator("#filter-outlet").select_option(label="North")
    expect(page.locator("#queue-list li[data-order-id]")).to_have_count(1)
    expect(order_item(page, north["id"])).to_be_visible()
    page.locator("#filter-outlet").select_option("")
    for needle, expected in (("139 0013 9002", urgent), ("韦曲", urgent), (north["number"], north)):
        page.locator("#board-search").fill(needle)
        expect(page.locator("#queue-list li[data-order-id]")).to_have_count(1)
        expect(order_item(page, expected["id"])).to_be_visible()
    page.locator("#board-search").fill("")
    expect(page.locator("#queue-list li[data-order-id]")).to_have_count(3)


# --- (c) acting from the board ------------------------------------------------------------------


def test_an_assignment_made_on_one_board_is_seen_on_another(browser, live_server, live_network, contexts):
    base, app = live_server
    dispatcher = token(base, "dispatcher")
    order = new_order(base, dispatcher, "13800138000", lat=34.20, lon=108.95)
    ctx_a, board_a = open_board(browser, base, "dispatcher")
    ctx_b, board_b = open_board(browser, base, "admin")
    contexts.extend([ctx_a, ctx_b])

    order_item(board_a, order["id"]).click()
    expect(board_a.locator("#panel-number")).to_have_text(order["number"])
    expect(board_a.locator("#panel-events li")).to_have_count(1)  # created
    board_a.locator("#assign-row button").click()
    suggestion = board_a.locator(".suggestions li").first
    expect(suggestion).to_contain_text("Tech 2")  # the nearest with the skill: South
    expect(suggestion).to_contain_text("extra km")
    suggestion.locator("button").click()
    expect(board_a.locator("#panel-status")).to_have_text("Assigned")
    expect(board_a.locator("#panel-technician")).to_have_text("Tech 2")
    expect(board_a.locator("#panel-events li")).to_have_count(2)

    show_queue(board_b, "in_progress")
    expect(order_item(board_b, order["id"])).to_have_attribute("data-status", "assigned")
    expect(order_item(board_b, order["id"])).to_contain_text("Tech 2")
    expect(board_b.locator('.queue-tab[data-queue="unassigned"] .count')).to_have_text("0")

    from dispatch.models import WorkOrder
    from web.extensions import db

    with app.app_context(), db.session_scope() as session:
        row = session.get(WorkOrder, order["id"])
        assert (row.status, row.technician_id) == ("assigned", live_network["techs"][1])


def test_priority_and_cancel_from_the_board(browser, live_server, live_network, contexts):
    base, _ = live_server
    dispatcher = token(base, "dispatcher")
    order = new_order(base, dispatcher, "13800138000")
    context, page = open_board(browser, base)
    contexts.append(context)
    order_item(page, order["id"]).click()
    page.locator("#priority-select").select_option("urgent")
    page.get_by_role("button", name="Set priority").click()
    expect(order_item(page, order["id"])).to_contain_text("Urgent")
    page.get_by_role("button", name="Cancel order").click()
    expect(page.locator("#panel-message")).to_have_text("A reason is required.")
    page.locator("#cancel-reason").fill("客户已自行修好 <b>x</b>")
    page.get_by_role("button", name="Cancel order").click()
    expect(order_item(page, order["id"])).to_have_count(0)
    expect(page.locator("#panel-status")).to_have_text("Cancelled")  # the panel keeps its end state
    expect(page.locator("#panel-actions button")).to_have_count(0)
    expect(page.locator("#panel-events li").first).to_contain_text("客户已自行修好 <b>x</b>")  # shown as text


def test_a_manager_watches_the_board_without_buttons(browser, live_server, live_network, contexts):
    base, _ = live_server
    order = new_order(base, token(base, "dispatcher"), "13800138000")
    context, page = open_board(browser, base, "manager")
    contexts.append(context)
    # A live update may redraw the queue between focus and key press (the row is replaced);
    # a person would press again, and so does the test, at most three times.
    for attempt in range(3):
        order_item(page, order["id"]).focus()
        page.keyboard.press("Enter")
        try:
            expect(page.locator("#panel-number")).to_have_text(order["number"], timeout=3000)
            break
        except AssertionError:
            if attempt == 2:
                raise
    expect(page.locator("#panel-actions button")).to_have_count(0)
    expect(page.locator("#reoptimise")).to_have_count(0)


def test_reoptimisation_shows_its_diff_before_applying(browser, live_server, live_network, contexts):
    base, app = live_server
    from core.accounts import Actor
    from dispatch.models import WorkOrder
    from dispatch.moves import transition
    from web.extensions import db

    dispatcher = token(base, "dispatcher")
    north, south = live_network["techs"][0], live_network["techs"][1]
    # North jobs given (by the system, not a dispatcher's lock) to the South technician.
    orders = [new_order(base, dispatcher, f"1380013800{i}", lat=34.34, lon=108.94 + i / 100) for i in (1, 2)]
    with app.app_context(), db.session_scope() as session:
        for order in orders:
            version = session.get(WorkOrder, order["id"]).version
            transition(session, order["id"], "assign", Actor.system(), version=version, technician_id=south)
    context, page = open_board(browser, base)
    contexts.append(context)
    page.get_by_role("button", name="Re-optimise").click()
    expect(page.locator("#plan-summary")).to_contain_text("Saves", timeout=30000)
    expect(page.locator("#plan-moves tr")).to_have_count(2)
    for order in orders:
        row = page.locator(f'#plan-moves tr[data-order-id="{order["id"]}"]')
        expect(row).to_contain_text(order["number"])
        expect(row.locator("td").nth(2)).to_have_text("Tech 2")
        expect(row.locator("td").nth(3)).to_have_text("Tech 1")
    show_queue(page, "in_progress")
    for order in orders:  # nothing changed yet
        expect(order_item(page, order["id"])).to_contain_text("Tech 2")
    page.get_by_role("button", name="Apply the ticked moves").click()
    expect(page.locator("#plan-result")).to_contain_text("Applied: 2 moved")
    for order in orders:
        expect(order_item(page, order["id"])).to_contain_text("Tech 1")
    expect(page.locator(f'#tech-list tr[data-tech-id="{north}"] .load-text')).to_have_text(re.compile(r"^2 / "))
    expect(page.locator(f'#tech-list tr[data-tech-id="{south}"] .load-text')).to_have_text(re.compile(r"^0 / "))


# --- (d) two boards, one order -----------------------------------------------------------------


def test_two_boards_acting_on_one_order_one_wins_the_other_sees_why(browser, live_server, live_network, contexts):
    base, app = live_server
    dispatcher = token(base, "dispatcher")
    order = new_order(base, dispatcher, "13800138000", lat=34.20, lon=108.95)
    ctx_a, board_a = open_board(browser, base, "dispatcher")
    ctx_b, board_b = open_board(browser, base, "admin")
    contexts.extend([ctx_a, ctx_b])
    for board in (board_a, board_b):
        order_item(board, order["id"]).click()
        expect(board.locator("#panel-status")).to_have_text("New")

    # B sends its cancel first, but it is held on the wire until A's assignment has landed:
    # both acted on the same version, as two people clicking at the same moment would.
    held = []
    board_b.route("**/api/orders/*/transitions", lambda route: held.append(route))
    board_b.locator("#cancel-reason").fill("duplicate")
    board_b.get_by_role("button", name="Cancel order").click()
    board_b.wait_for_timeout(200)
    assert len(held) == 1

    board_a.locator("#assign-row button").click()
    board_a.locator(".suggestions li").first.locator("button").click()
    expect(board_a.locator("#panel-status")).to_have_text("Assigned")

    held[0].continue_()
    board_b.unroute("**/api/orders/*/transitions")
    expect(board_b.locator("#panel-message")).to_contain_text("Someone else changed this order first")
    expect(board_b.locator("#panel-status")).to_have_text("Assigned")
    expect(board_b.locator("#panel-technician")).to_have_text("Tech 2")
    expect(board_a.locator("#panel-message")).to_have_text("Done.")

    from dispatch.models import WorkOrder
    from web.extensions import db

    with app.app_context(), db.session_scope() as session:
        assert session.get(WorkOrder, order["id"]).status == "assigned"


# --- screenshots ----------------------------------------------------------------------------------


def test_screenshots_of_the_board_with_demo_data(browser, live_server, contexts):
    base, app = live_server
    from dispatch.demo import DEMO_PASSWORD, seed_demo
    from web.extensions import db

    with app.app_context(), db.session_scope() as session:
        seed_demo(session, orders=150, timezone=app.config["TIMEZONE"])
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for locale, lang, name in (("en-US", "en", "board-en"), ("zh-CN", "zh", "board-zh")):
        context = browser.new_context(viewport={"width": 1280, "height": 800}, locale=locale)
        contexts.append(context)
        page = context.new_page()
        page.goto(f"{base}/login")
        page.locator("input[name=username]").fill("dispatcher")
        page.locator("input[name=password]").fill(DEMO_PASSWORD)
        page.locator("form button[type=submit]").last.click()
        page.wait_for_url(re.compile(r"/board$"))
        if lang == "zh":
            page.locator("form[action$='/lang/zh'] button").click()
            expect(page.locator("h1")).to_have_text("调度看板")
        expect(page.locator("#connection")).to_have_attribute("data-state", "live")
        show_queue(page, "in_progress")
        expect(page.locator("#queue-list li[data-order-id]").first).to_be_visible()
        page.wait_for_timeout(300)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
        page.locator("#queue-list li[data-order-id]").nth(2).click()
        expect(page.locator("#panel-events li").first).to_be_visible()
        page.wait_for_timeout(300)
        page.screenshot(path=str(SCREENSHOTS / f"{name}-order.png"))


# --- (e) keyboard focus survives redraws ------------------------------------------------------


def test_a_focused_row_keeps_its_order_through_a_redraw_and_enter_opens_it(
    browser, live_server, live_network, contexts
):
    base, _ = live_server
    dispatcher = token(base, "dispatcher")
    first = new_order(base, dispatcher, "13800138000")
    second = new_order(base, dispatcher, "13800138001")
    context, page = open_board(browser, base)
    contexts.append(context)
    row = order_item(page, first["id"])
    row.focus()
    page.evaluate("document.activeElement.dataset.before = 'redraw'")  # marks the node focused now
    # An event about the focused order redraws the queue: its row is a new node.
    status, first = call(base, "POST", f"/api/orders/{first['id']}/priority", dispatcher,
                         {"priority": "urgent", "version": first["version"]})  # fmt: skip
    assert status == 200, first
    expect(row).to_contain_text("Urgent")
    expect(page.locator('#queue-list li[data-before="redraw"]')).to_have_count(0)
    assert page.evaluate("document.activeElement.dataset.orderId") == str(first["id"])
    page.keyboard.press("Enter")
    expect(page.locator("#panel-number")).to_have_text(first["number"])
    expect(page.locator("#priority-select")).to_have_value("urgent")  # the panel reads the current data

    # The focused order leaves the queue (assigned elsewhere): Enter opens nothing — in
    # particular not the order that moved up into its place.
    page.locator("#order-panel .panel-close").click()
    order_item(page, first["id"]).focus()
    move(base, dispatcher, first, "assign", technician_id=live_network["techs"][1])
    expect(order_item(page, first["id"])).to_have_count(0)
    page.keyboard.press("Enter")
    page.wait_for_timeout(300)
    expect(page.locator("#order-panel")).to_be_hidden()
    # Focus is on the list, so the keyboard goes on from there: Tab reaches the next row.
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator("#panel-number")).to_have_text(second["number"])


# --- (f) the risk watch -------------------------------------------------------------------------


def decided_not_done(base: str, dispatcher: str, order: dict, technician_id: int) -> None:
    """This month: one order of the technician's, cancelled by the dispatcher, so decided and not
    done in 24 h (an open order within its 24 h would be pending, not failed); and a risk watch
    that judges teams from one decided order on (the default waits for five)."""
    order = move(base, dispatcher, order, "assign", technician_id=technician_id)
    move(base, dispatcher, order, "cancel", reason="duplicate request")
    status, body = call(base, "POST", "/api/kpi-risk-thresholds", token(base, "admin"), {"min_orders": 0})
    assert status == 201, body


def test_the_board_lists_teams_on_the_risk_watch_with_links_to_the_orders_behind(
    browser, live_server, live_network, contexts
):
    base, _ = live_server
    dispatcher = token(base, "dispatcher")
    order = new_order(base, dispatcher, "13800138000")
    south_tech = live_network["techs"][1]
    decided_not_done(base, dispatcher, order, south_tech)
    context, page = open_board(browser, base)
    contexts.append(context)
    watched = []
    page.on("request", lambda r: watched.append(r.url) if "/api/kpis/risk-watch" in r.url else None)
    item = page.locator(f'#risk-watch li[data-kind="technician"][data-key="{south_tech}"]')
    expect(item).to_contain_text("Tech 2")
    reason = item.locator('a.risk-reason[data-figure="completion_24h_rate"]')
    expect(reason).to_have_text("24-hour completion 0%, below 85%")
    href = reason.get_attribute("href")
    assert f"technician_id={south_tech}&kpi=completion_24h" in href
    expect(page.locator('#risk-watch li[data-kind="outlet"]')).to_have_count(1)
    # Events keep the queues current but do not reload the monthly watch.
    second = new_order(base, dispatcher, "13800138001")
    expect(order_item(page, second["id"])).to_be_visible()
    assert watched == []
    page.goto(base + href)
    expect(page.locator("body")).to_contain_text(order["number"])


def test_an_admin_changes_a_risk_threshold_on_the_kpi_page_and_the_watch_follows(
    browser, live_server, live_network, contexts
):
    base, _ = live_server
    dispatcher = token(base, "dispatcher")
    order = new_order(base, dispatcher, "13800138000")
    decided_not_done(base, dispatcher, order, live_network["techs"][1])
    context, page = open_board(browser, base, username="admin")
    contexts.append(context)
    page.goto(f"{base}/kpis")
    risks = page.locator("#technician-kpis td.risks")
    expect(risks).to_contain_text("24-hour completion 0%, below 85%")
    page.locator("#risk-completion_24h_rate").fill("0")  # percent on the form
    page.locator("#risk-min_orders").fill("1")
    page.get_by_role("button", name="Save thresholds").click()
    expect(page.locator("#risk-thresholds")).to_contain_text("Version 2.")
    expect(page.locator("#risk-completion_24h_rate")).to_have_value("0")
    expect(risks).not_to_contain_text("24-hour completion")
    status, body = call(base, "GET", "/api/kpi-risk-thresholds", dispatcher)
    assert status == 200 and body["thresholds"]["completion_24h_rate"] == 0 and body["thresholds"]["min_orders"] == 1
