"""The technician's phone app in a phone-sized Chromium (390×844, touch, Chinese): a job from
acceptance to completion, the same job with the connection cut in the middle, live notices,
conflicts, and another technician's orders staying out of reach."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect
from sqlalchemy import delete

from dispatch.models import RouteStop
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_board import call, move, new_order, token
from tests.clock import now as suite_now
from tests.conftest import PASSWORD, skip_or_fail
from web.extensions import db

ROOT = Path(__file__).resolve().parents[2]
SITE = {"latitude": 34.2101, "longitude": 108.9502, "accuracy": 12}
STEPS = ["accept", "contact", "depart", "arrive", "photo", "completion_report", "complete"]


@pytest.fixture(autouse=True)
def _vendor_files():
    if not (ROOT / "web" / "static" / "vendor" / "socket.io.min.js").exists():
        skip_or_fail("web/static/vendor is missing: run `make setup` (npm ci copies the Socket.IO client)")


@pytest.fixture
def phone(browser):
    """A phone: 390×844, touch, Chinese, location allowed and on the customer's doorstep."""
    opened = []

    def open_phone(base: str, username: str = "tech2"):
        context = browser.new_context(
            viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True,
            locale="zh-CN", permissions=["geolocation"], geolocation=SITE,
        )  # fmt: skip
        opened.append(context)
        page = context.new_page()
        page.goto(f"{base}/login")
        page.locator("input[name=username]").fill(username)
        page.locator("input[name=password]").fill(PASSWORD)
        page.locator("form button[type=submit]").last.click()
        page.wait_for_url(re.compile(r"/tech$"))
        expect(page.locator("body")).to_have_attribute("data-ready", "1")
        expect(page.locator("body")).to_have_attribute("data-live", "1")
        return context, page

    yield open_phone
    for context in opened:
        context.close()


def jpeg(seed: int = 1) -> bytes:
    img = Image.new("RGB", (1200, 900), (40 + seed * 20, 120, 160))
    draw = ImageDraw.Draw(img)
    for i in range(12):
        draw.ellipse([60 * i, 40 * i, 60 * i + 200, 40 * i + 160], fill=(255 - 15 * i, 20 * i, 90 + seed * 30))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=88)
    return out.getvalue()


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"tech-{name}.png"))


def assigned_order(base: str, dispatcher: str, tech_id: int, phone: str, **extra) -> dict:
    order = new_order(base, dispatcher, phone, **extra)
    return move(base, dispatcher, order, "assign", technician_id=tech_id)


def kinds(base: str, tok: str, order_id: int) -> list[str]:
    status, body = call(base, "GET", f"/api/orders/{order_id}/events", tok)
    assert status == 200, body
    return [e["kind"] for e in body["items"] if e["kind"] in STEPS]


def tap_action(page, action: str) -> None:
    page.locator(f'#order-actions button[data-action="{action}"]').click()


def expect_status(page, status: str) -> None:
    expect(page.locator("#order-detail")).to_have_attribute("data-status", status)


def add_photo(page) -> None:
    page.locator("#photo-camera").set_input_files(
        files=[{"name": "proof.jpg", "mimeType": "image/jpeg", "buffer": jpeg()}]
    )


def test_a_job_from_acceptance_to_completion(browser, live_server, live_network, phone):
    base, app = live_server
    app.config["TECH_POSITION_EVERY_S"] = 1
    dispatcher = token(base, "dispatcher")
    me = live_network["techs"][1]
    # Yesterday's visit to the same customer at the same address: history on the phone.
    earlier = new_order(base, dispatcher, "13800138000", description="热水器不加热")
    first = assigned_order(base, dispatcher, me, "13800138000", description="热水器漏水")
    second = assigned_order(base, dispatcher, me, "13800138001", address="西安市碑林区南大街 2 号")
    with app.app_context(), db.session_scope() as session:
        soon = suite_now() + timedelta(minutes=40)
        session.execute(delete(RouteStop).where(RouteStop.technician_id == me))  # a plan of our own instead
        session.add_all([RouteStop(order_id=second["id"], technician_id=me, seq=1, eta=soon),
                         RouteStop(order_id=first["id"], technician_id=me, seq=2, eta=soon + timedelta(hours=1))])  # fmt: skip
        session.commit()

    context, page = phone(base)
    cards = page.locator("#order-list li")
    expect(cards).to_have_count(2)
    # Route order, with ETA, customer, address, due time, countdown, call and navigate.
    expect(cards.nth(0)).to_have_attribute("data-order-id", str(second["id"]))
    expect(cards.nth(1)).to_have_attribute("data-order-id", str(first["id"]))
    card = page.locator(f"#order-list li[data-order-id='{first['id']}']")
    expect(card).to_contain_text("张三")
    expect(card).to_contain_text("小寨东路")
    expect(card.locator(".countdown")).to_contain_text("剩余")
    expect(card.locator("a[data-role=call]")).to_have_attribute("href", re.compile(r"^tel:\+?86?13800138000$"))
    expect(card.locator("a[data-role=navigate]")).to_have_attribute(
        "href", re.compile(r"^https://uri\.amap\.com/navigation\?to=108\.95")
    )
    expect(page.locator("#notice")).to_be_hidden()
    shot(page, "list")

    # A new assignment arrives live, with a notice.
    third = assigned_order(base, dispatcher, me, "13800138002")
    expect(page.locator("#notice")).to_be_visible()
    expect(page.locator("#notice-text")).to_contain_text(third["number"])
    expect(cards).to_have_count(3)
    shot(page, "notice")
    page.locator("#notice-close").click()
    route = [int(i) for i in cards.evaluate_all("cards => cards.map(c => c.dataset.orderId)")]
    after_first = next(i for i in route if i != first["id"])  # where the phone should go next

    card.click()
    expect(page.locator("#order-number")).to_contain_text(first["number"])
    expect(page.locator("#history")).to_contain_text(earlier["number"])
    expect(page.locator("#history")).to_contain_text("热水器不加热")
    shot(page, "order")

    tap_action(page, "accept")
    expect_status(page, "accepted")
    tap_action(page, "contact")
    expect(page.locator('#order-actions button[data-action="contact"]')).to_contain_text("✓")
    # En route, the phone reports where it is (the customer's live ETA comes from it).
    with page.expect_request(lambda r: r.url.endswith("/api/tech/position") and r.method == "POST", timeout=15000):
        tap_action(page, "depart")
    expect_status(page, "en_route")
    tap_action(page, "arrive")
    expect_status(page, "on_site")

    form = page.locator("#complete-form")
    expect(form).to_be_visible()
    form.locator('#checklist input[value="diagnose"]').check()
    form.locator('#checklist input[value="test_run"]').check()
    page.locator("#add-part").click()
    page.locator(".part-name").fill("温控器")
    page.locator("#notes").fill("更换温控器，试机正常")
    page.locator("#complete-submit").click()
    expect(page.locator("#complete-error")).to_be_visible()  # no photo yet
    add_photo(page)
    expect(page.locator("#complete-error")).to_be_hidden()  # there is one now
    expect(page.locator('#photo-list li[data-state="ready"]')).to_have_count(1)  # sent with the report
    shot(page, "complete")
    page.locator("#complete-submit").click()
    # Straight on to the next stop of the route.
    expect(page.locator("#next-banner")).to_contain_text(first["number"])
    expect(page.locator("#order-detail")).to_have_attribute("data-order-id", str(after_first))
    expect(page.locator("#queue-status")).to_have_attribute("data-pending", "0")
    expect(page.locator(f'#order-list li[data-order-id="{first["id"]}"]')).to_have_attribute("data-status", "completed")
    shot(page, "completed")

    tech = token(base, "tech2")
    assert kinds(base, tech, first["id"]) == STEPS
    status, events = call(base, "GET", f"/api/orders/{first['id']}/events", tech)
    arrive = next(e for e in events["items"] if e["kind"] == "arrive")
    assert (arrive["lat"], arrive["lon"], arrive["accuracy_m"]) == (SITE["latitude"], SITE["longitude"], 12)
    report = next(e for e in events["items"] if e["kind"] == "completion_report")
    assert report["data"]["checklist"] == ["diagnose", "test_run"]
    assert report["data"]["parts"] == [{"name": "温控器", "qty": 1}]
    status, photos = call(base, "GET", f"/api/orders/{first['id']}/photos", tech)
    assert [p["source"] for p in photos["items"]] == ["camera"]


def test_a_job_done_offline_is_recorded_once_and_in_order_when_back_online(browser, live_server, live_network, phone):
    base, _ = live_server
    dispatcher = token(base, "dispatcher")
    order = assigned_order(base, dispatcher, live_network["techs"][1], "13800138000")
    context, page = phone(base)
    page.locator(f'#order-list li[data-order-id="{order["id"]}"]').click()
    tap_action(page, "accept")
    expect_status(page, "accepted")
    page.wait_for_function("() => !!navigator.serviceWorker && navigator.serviceWorker.controller !== null")

    context.set_offline(True)
    expect(page.locator("#net")).to_have_attribute("data-state", "offline")
    tap_action(page, "contact")
    tap_action(page, "depart")
    expect_status(page, "en_route")
    tap_action(page, "arrive")
    expect_status(page, "on_site")
    add_photo(page)
    expect(page.locator("#photo-list li.photo")).to_have_count(1)
    page.locator('#checklist input[value="diagnose"]').check()
    page.locator("#complete-submit").click()
    expect_status(page, "completed")
    expect(page.locator("#queue-status")).to_have_attribute("data-pending", "6")
    shot(page, "offline")

    # The app shell and the list survive a reload without a connection (service worker).
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    expect(page.locator(f'#order-list li[data-order-id="{order["id"]}"]')).to_have_attribute("data-status", "completed")
    expect(page.locator("#queue-status")).to_have_attribute("data-pending", "6")

    tech = token(base, "tech2")
    assert kinds(base, tech, order["id"]) == ["accept"]  # nothing reached the server yet

    context.set_offline(False)
    expect(page.locator("#queue-status")).to_have_attribute("data-pending", "0", timeout=20000)
    expect(page.locator(f'#order-list li[data-order-id="{order["id"]}"]')).to_have_attribute("data-status", "completed")
    assert kinds(base, tech, order["id"]) == STEPS
    status, current = call(base, "GET", f"/api/orders/{order['id']}", tech)
    assert current["status"] == "completed"


def test_an_order_reassigned_while_offline_shows_a_conflict(browser, live_server, live_network, phone):
    base, _ = live_server
    dispatcher = token(base, "dispatcher")
    order = assigned_order(base, dispatcher, live_network["techs"][1], "13800138000")
    context, page = phone(base)
    page.locator(f'#order-list li[data-order-id="{order["id"]}"]').click()
    tap_action(page, "accept")
    expect_status(page, "accepted")
    context.set_offline(True)
    expect(page.locator("#net")).to_have_attribute("data-state", "offline")
    tap_action(page, "depart")
    expect_status(page, "en_route")
    # Meanwhile the dispatcher gives the job to someone else.
    status, fresh = call(base, "GET", f"/api/orders/{order['id']}", dispatcher)
    move(base, dispatcher, fresh, "assign", technician_id=live_network["techs"][0])
    context.set_offline(False)
    expect(page.locator("#queue-status")).to_have_attribute("data-pending", "0", timeout=20000)
    expect(page.locator("#order-message")).to_be_visible()
    expect(page.locator("#order-message")).to_contain_text("不属于您")
    shot(page, "conflict")
    expect(page.locator(f'#order-list li[data-order-id="{order["id"]}"]')).to_have_count(0)
    status, events = call(base, "GET", f"/api/orders/{order['id']}/events", dispatcher)
    assert "depart" not in [e["kind"] for e in events["items"]]


def test_a_technician_cannot_see_or_act_on_anothers_order(browser, live_server, live_network, phone):
    base, _ = live_server
    dispatcher = token(base, "dispatcher")
    mine = assigned_order(base, dispatcher, live_network["techs"][1], "13800138000")
    theirs = assigned_order(base, dispatcher, live_network["techs"][0], "13800138001")
    context, page = phone(base)
    expect(page.locator("#order-list li")).to_have_count(1)
    expect(page.locator(f'#order-list li[data-order-id="{theirs["id"]}"]')).to_have_count(0)
    page.goto(f"{base}/tech#order-{theirs['id']}")
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    expect(page.locator("#order-message")).to_contain_text("不属于您")
    expect(page.locator("#order-actions button")).to_have_count(0)
    statuses = page.evaluate(
        """async ([id, version]) => {
            const csrf = document.querySelector('meta[name="csrf-token"]').content;
            const post = (url, body) => fetch(url, {method: "POST", credentials: "same-origin",
                headers: {"Content-Type": "application/json", "X-CSRFToken": csrf}, body: JSON.stringify(body)});
            const a = await post(`/api/tech/orders/${id}/actions`, {action: "accept", version});
            const b = await post(`/api/orders/${id}/transitions`, {action: "accept", version});
            const c = await post(`/api/orders/${id}/completion-report`, {checklist: []});
            const d = await fetch(`/api/orders/${id}`, {credentials: "same-origin"});
            return [a.status, b.status, c.status, d.status];
        }""",
        [theirs["id"], theirs["version"]],
    )
    assert statuses == [404, 404, 404, 404]
    status, current = call(base, "GET", f"/api/orders/{theirs['id']}", dispatcher)
    assert current["status"] == "assigned" and mine["id"] != theirs["id"]


def test_a_returned_order_shows_why_on_the_phone(browser, live_server, live_network, phone):
    base, _ = live_server
    dispatcher = token(base, "dispatcher")
    tech = token(base, "tech2")
    order = assigned_order(base, dispatcher, live_network["techs"][1], "13800138000")
    for step in ("accept", "depart", "arrive", "complete"):
        order = move(base, tech, order, step, lat=34.21, lon=108.95)
    move(base, dispatcher, order, "return", reason="客户反映仍然漏水")
    context, page = phone(base)
    card = page.locator(f'#order-list li[data-order-id="{order["id"]}"]')
    expect(card).to_have_attribute("data-status", "returned")
    expect(card.locator(".returned-flag")).to_be_visible()
    card.click()
    expect(page.locator("#return-info")).to_contain_text("客户反映仍然漏水")
    expect(page.locator('#order-actions button[data-action="depart"]')).to_be_visible()
    shot(page, "returned")


def test_a_big_gallery_photo_is_resized_on_the_phone_and_a_small_one_is_sent_as_taken(
    browser, live_server, live_network, phone
):
    base, _ = live_server
    dispatcher = token(base, "dispatcher")
    tech = token(base, "tech2")
    order = assigned_order(base, dispatcher, live_network["techs"][1], "13800138000")
    for step in ("accept", "depart", "arrive"):
        order = move(base, tech, order, step, lat=34.21, lon=108.95)
    noise = Image.effect_noise((3600, 2700), 120).convert("RGB")
    big = io.BytesIO()
    noise.save(big, "JPEG", quality=97)
    assert big.tell() > 4 * 1024 * 1024
    context, page = phone(base)
    page.locator(f'#order-list li[data-order-id="{order["id"]}"]').click()
    page.locator("#photo-gallery").set_input_files(
        files=[{"name": "big.jpg", "mimeType": "image/jpeg", "buffer": big.getvalue()}]
    )
    expect(page.locator('#photo-list li[data-state="ready"]')).to_have_count(1, timeout=20000)
    add_photo(page)  # 1200×900, well under 4 MB
    expect(page.locator('#photo-list li[data-state="ready"]')).to_have_count(2)
    page.locator("#complete-submit").click()  # the photos go with the report
    expect(page.locator("#list-message")).to_be_visible()  # that was the day's last job
    expect(page.locator("#queue-status")).to_have_attribute("data-pending", "0", timeout=20000)
    status, photos = call(base, "GET", f"/api/orders/{order['id']}/photos", tech)
    first, second = photos["items"]
    assert first["source"] == "gallery" and max(first["width"], first["height"]) == 2048
    assert second["source"] == "camera" and (second["width"], second["height"]) == (1200, 900)


def planned(app, tech_id: int, *stops: tuple[dict, timedelta]) -> None:
    """Make `stops` the technician's planned day, each with its ETA from now."""
    now = suite_now()
    with app.app_context(), db.session_scope() as session:
        session.execute(delete(RouteStop).where(RouteStop.technician_id == tech_id))
        session.add_all(
            [
                RouteStop(order_id=o["id"], technician_id=tech_id, seq=i, eta=now + ahead)
                for i, (o, ahead) in enumerate(stops)
            ]
        )
        session.commit()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_completing_a_stop_lands_on_the_next_one_with_its_eta_and_one_tap_sets_off(
    browser, live_server, live_network, phone, lang
):
    base, app = live_server
    dispatcher, tech = token(base, "dispatcher"), token(base, "tech2")
    me = live_network["techs"][1]
    here = assigned_order(base, dispatcher, me, "13800138000", description="热水器漏水", product_model="JSQ25-13")
    there = assigned_order(base, dispatcher, me, "13800138001", address="西安市碑林区南大街 2 号", description="不点火")
    for step in ("accept", "depart", "arrive"):
        here = move(base, tech, here, step, lat=34.21, lon=108.95)
    planned(app, me, (here, timedelta(0)), (there, timedelta(minutes=50)))

    context, page = phone(base)
    if lang == "en":
        page.locator(".tech-menu summary").click()
        with page.expect_navigation():
            page.locator(".tech-menu button", has_text="English").click()
        expect(page.locator("body")).to_have_attribute("data-ready", "1")
    words = {
        "zh": ("预计", "到场", "下一站", "随报告"),
        "en": ("ETA", "On site", "next stop", "with the report"),
    }[lang]
    page.locator(".tech-menu summary").click()
    expect(page.locator("#menu-name")).to_contain_text("Tech 2")  # the name, not the login
    page.locator(".tech-menu summary").click()
    # Every stop says when (or that the technician is there) and what to bring.
    next_card = page.locator(f'#order-list li[data-order-id="{there["id"]}"]')
    expect(next_card.locator(".eta")).to_contain_text(re.compile(words[0] + r".*\d\d:\d\d"))
    expect(next_card.locator(".job")).to_contain_text("热水器" if lang == "zh" else "Water heater")
    expect(next_card.locator(".fault")).to_contain_text("不点火")
    here_card = page.locator(f'#order-list li[data-order-id="{here["id"]}"]')
    expect(here_card.locator(".badge")).to_contain_text(words[1])
    expect(here_card.locator(".job")).to_contain_text("JSQ25-13")
    shot(page, f"list-{lang}")

    here_card.click()
    expect(page.locator("#order-detail")).to_contain_text("138 0013 8000")  # as people read it
    expect(page.locator("#order-actions button")).to_have_count(0)  # completing is the report's one button
    expect(page.locator("#complete-submit")).to_have_count(1)
    # A wrong photo goes before anything is sent.
    add_photo(page)
    expect(page.locator('#photo-list li[data-state="ready"]')).to_contain_text(words[3])
    page.locator('#photo-list [data-role="remove-photo"]').click()
    expect(page.locator("#photo-list li")).to_have_count(0)
    page.locator("#complete-submit").click()
    expect(page.locator("#complete-error")).to_be_visible()
    add_photo(page)
    expect(page.locator("#complete-error")).to_be_hidden()
    shot(page, f"complete-{lang}")
    page.locator("#complete-submit").click()

    expect(page.locator("#next-banner")).to_contain_text(here["number"])
    expect(page.locator("#next-banner")).to_contain_text(words[2])
    expect(page.locator("#order-number")).to_contain_text(there["number"])
    expect(page.locator("#order-detail dl.facts")).to_contain_text(re.compile(r"\d\d:\d\d"))
    expect(page.locator("#queue-status")).to_have_attribute("data-pending", "0")
    shot(page, f"next-stop-{lang}")
    page.locator('#order-actions button[data-action="set_off"]').click()
    expect_status(page, "en_route")
    expect(page.locator("#queue-status")).to_have_attribute("data-pending", "0")
    assert [k for k in kinds(base, tech, there["id"]) if k in ("accept", "depart")] == ["accept", "depart"]
    status, photos = call(base, "GET", f"/api/orders/{here['id']}/photos", tech)
    assert len(photos["items"]) == 1  # the removed one never left the phone
    status, done = call(base, "GET", f"/api/orders/{here['id']}", tech)
    assert done["status"] == "completed"


def test_a_check_in_without_a_position_says_so_and_records_nothing(browser, live_server, live_network, phone):
    base, _ = live_server
    dispatcher, tech = token(base, "dispatcher"), token(base, "tech2")
    order = assigned_order(base, dispatcher, live_network["techs"][1], "13800138000")
    for step in ("accept", "depart"):
        order = move(base, tech, order, step)
    context, page = phone(base)
    context.clear_permissions()  # location refused
    page.locator(f'#order-list li[data-order-id="{order["id"]}"]').click()
    tap_action(page, "arrive")
    expect(page.locator("#order-message")).to_contain_text("位置")
    expect_status(page, "en_route")
    assert "arrive" not in kinds(base, tech, order["id"])


def log_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(re.compile(r"/tech$"))
    expect(page.locator("body")).to_have_attribute("data-ready", "1")


def wait_for_the_service_worker(page) -> None:
    """Until the service worker controls the page (polled from here: the page's CSP forbids the
    eval that wait_for_function's polling needs once the answer is not there at once)."""
    for _ in range(100):
        if page.evaluate("navigator.serviceWorker.controller !== null"):
            return
        page.wait_for_timeout(100)
    raise AssertionError("no service worker controls the page after 10 s")


def settled_content(page) -> str:
    """The page's HTML once it has stopped navigating."""
    for _ in range(50):
        try:
            page.wait_for_load_state()
            return page.content()
        except PlaywrightError:  # still navigating (to the browser's error page)
            page.wait_for_timeout(100)
    raise AssertionError("the page kept navigating for 5 s")


def test_the_next_technician_on_a_shared_phone_never_sees_the_previous_ones_customers(
    browser, live_server, live_network, phone
):
    """tech1 uses the app until it works offline and logs out; offline, nothing of theirs is
    shown to whoever picks the phone up, and tech2 logging in on it sees only their own orders,
    online and offline (sw.js keeps one user's copies; logout sends Clear-Site-Data)."""
    base, _ = live_server
    dispatcher = token(base, "dispatcher")
    first = assigned_order(base, dispatcher, live_network["techs"][0], "13800138000", name="李四")
    second = assigned_order(base, dispatcher, live_network["techs"][1], "13900139000", name="王五")
    first_row, second_row = (f'#order-list li[data-order-id="{o["id"]}"]' for o in (first, second))
    context, page = phone(base, "tech1")
    wait_for_the_service_worker(page)
    page.reload()  # through the service worker: the page and today's list are kept for offline use
    expect(page.locator(first_row)).to_be_visible()
    context.set_offline(True)
    page.reload()
    expect(page.locator(first_row)).to_be_visible()  # tech1's phone works offline, as it should
    context.set_offline(False)
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "1")

    page.locator("header details summary").click()
    page.locator('header form[action$="/logout"] button').click()
    page.wait_for_url(re.compile(r"/login"))
    context.set_offline(True)
    try:
        page.goto(f"{base}/tech")
    except PlaywrightError:  # nothing kept for /tech: the browser's own offline error page follows
        page.wait_for_timeout(500)
    assert "李四" not in settled_content(page) and page.locator(first_row).count() == 0, "tech1's customer after logout"
    context.set_offline(False)

    log_in(page, base, "tech2")
    expect(page.locator(second_row)).to_be_visible()
    wait_for_the_service_worker(page)
    page.reload()
    expect(page.locator(second_row)).to_be_visible()
    context.set_offline(True)
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    expect(page.locator(second_row)).to_be_visible()
    assert "李四" not in settled_content(page) and page.locator(first_row).count() == 0, "tech1's customer to tech2"
    shot(page, "next-technician-offline")


def test_a_phone_whose_login_ended_without_a_logout_shows_nothing_of_it_offline(
    browser, live_server, live_network, phone
):
    """The login ended elsewhere (expired, revoked, cookies gone): the first answer saying so
    makes the service worker drop the personal copies it kept."""
    base, _ = live_server
    dispatcher = token(base, "dispatcher")
    order = assigned_order(base, dispatcher, live_network["techs"][0], "13800138000", name="李四")
    row = f'#order-list li[data-order-id="{order["id"]}"]'
    context, page = phone(base, "tech1")
    wait_for_the_service_worker(page)
    page.reload()
    expect(page.locator(row)).to_be_visible()

    context.clear_cookies()
    page.goto(f"{base}/tech")
    page.wait_for_url(re.compile(r"/login"))
    context.set_offline(True)
    try:
        page.goto(f"{base}/tech")
    except PlaywrightError:
        page.wait_for_timeout(500)
    assert "李四" not in settled_content(page) and page.locator(row).count() == 0
