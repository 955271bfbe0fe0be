"""The back office in Chromium: a reviewer opens a doubtful order, sees its photo beside the
earlier photo it resembles and the map, and accepts it; a clerk records a callback "not
solved" and the order shows as returned on the dispatcher's live board and the technician's
phone."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from core.db import utcnow
from dispatch.models import WorkOrder
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_board import call, move, new_order, open_board, order_item, show_queue, token
from tests.conftest import PASSWORD, skip_or_fail
from web.extensions import db

ROOT = Path(__file__).resolve().parents[2]
SITE = (34.2101, 108.9502)


@pytest.fixture(autouse=True)
def _vendor_files():
    if not (ROOT / "web" / "static" / "vendor" / "leaflet.js").exists():
        skip_or_fail("web/static/vendor is missing: run `make setup` (npm ci copies Leaflet)")


def site_photo(quality: int = 92) -> bytes:
    """A photo-like picture with the site's GPS in its EXIF; a lower quality gives a near copy."""
    img = Image.new("RGB", (1200, 900), (70, 120, 160))
    draw = ImageDraw.Draw(img)
    for i in range(14):
        draw.ellipse([70 * i, 50 * i, 70 * i + 260, 50 * i + 200], fill=(255 - 14 * i, 18 * i, 120 + 6 * i))
    exif = Image.Exif()

    def dms(v: float):
        d = int(v)
        m = int((v - d) * 60)
        return (d, m, round(((v - d) * 60 - m) * 60, 4))

    exif.get_ifd(0x8825).update({1: "N", 2: dms(SITE[0]), 3: "E", 4: dms(SITE[1])})
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality, exif=exif)
    return out.getvalue()


def done_with_photo(base: str, dispatcher: str, tech: str, tech_id: int, phone: str, photo: bytes) -> dict:
    order = move(base, dispatcher, new_order(base, dispatcher, phone), "assign", technician_id=tech_id)
    for step in ("accept", "depart"):
        order = move(base, tech, order, step)
    order = move(base, tech, order, "arrive", lat=SITE[0], lon=SITE[1] - 0.0001, accuracy_m=10)
    sent = requests.post(
        f"{base}/api/orders/{order['id']}/photos", headers={"Authorization": f"Bearer {tech}"}, timeout=30,
        files={"photo": ("proof.jpg", photo, "image/jpeg")}, data={"source": "camera", "lat": SITE[0], "lon": SITE[1], "accuracy_m": 9},
    )  # fmt: skip
    assert sent.status_code == 201, sent.text
    status, order = call(base, "GET", f"/api/orders/{order['id']}", tech)
    return move(base, tech, order, "complete")


def log_in(browser, base: str, username: str):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    page.goto(f"{base}/login")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(re.compile(r"/(board|orders|tech)$"))
    return context, page


def test_a_reviewer_accepts_a_doubtful_order_and_a_clerks_callback_returns_another(browser, live_server, live_network):
    base, app = live_server
    dispatcher, tech = token(base, "dispatcher"), token(base, "tech2")
    tech_id = live_network["techs"][1]
    earlier = done_with_photo(base, dispatcher, tech, tech_id, "13800000001", site_photo(92))
    doubtful = done_with_photo(base, dispatcher, tech, tech_id, "13800000002", site_photo(60))  # a near copy
    status, verdict = call(base, "GET", f"/api/orders/{doubtful['id']}/authenticity", dispatcher)
    assert (verdict["status"], [r["code"] for r in verdict["reasons"]]) == (
        "doubtful",
        ["photo_similar_to_other_order"],
    )

    contexts = []
    try:
        # --- the reviewer -----------------------------------------------------------------
        context, page = log_in(browser, base, "manager")
        contexts.append(context)
        page.locator("header nav a", has_text="Reviews").click()
        queue = page.locator("#review-queue")
        expect(queue.locator(f'tr[data-order-id="{doubtful["id"]}"]')).to_contain_text(
            "Photo looks like one on another order"
        )
        queue.locator("a", has_text=doubtful["number"]).click()
        pair = page.locator(".photo-pair").first
        expect(pair.locator("img")).to_have_count(2)
        expect(pair.locator(".match-photo figcaption")).to_contain_text(earlier["number"])
        page.wait_for_function(  # a function, not an expression: Playwright evals expressions, which the CSP forbids
            "() => [...document.querySelectorAll('.photo-pair img')].every(i => i.complete && i.naturalWidth > 0)"
        )
        widths = pair.locator("img").evaluate_all("imgs => imgs.map(i => i.getBoundingClientRect().left)")
        assert widths[1] > widths[0] + 200  # side by side, not stacked
        expect(page.locator("#review-map")).to_have_attribute("data-markers", "3")  # address, check-in, photo GPS
        expect(page.locator("#review-map .marker-photo")).to_have_count(1)
        page.screenshot(path=str(SCREENSHOTS / "backoffice-review.png"), full_page=True)
        page.locator("input[name=decision][value=confirmed]").check()
        page.locator("textarea[name=note]").fill("Same kitchen, customer confirmed by phone")
        page.locator("#review-form button[type=submit]").click()
        page.wait_for_url(re.compile(r"/reviews$"))
        expect(page.locator(".flash.info")).to_contain_text(f"Decision recorded for {doubtful['number']}")
        expect(page.locator(f'#review-queue tr[data-order-id="{doubtful["id"]}"]')).to_have_count(0)
        status, events = call(base, "GET", f"/api/orders/{doubtful['id']}/events", dispatcher)
        assert events["items"][-1]["kind"] == "authenticity_review"
        assert events["items"][-1]["data"]["decision"] == "confirmed"

        # --- the clerk, with the dispatcher's board open --------------------------------------
        with app.app_context(), db.session_scope() as session:
            session.get(WorkOrder, earlier["id"]).completed_at = utcnow() - timedelta(days=4)
            session.commit()
        board_context, board = open_board(browser, base)
        contexts.append(board_context)
        show_queue(board, "awaiting_callback")
        expect(order_item(board, earlier["id"])).to_have_count(1)

        page.locator("header nav a", has_text="Callbacks").click()
        page.locator("#callback-queue a", has_text=earlier["number"]).click()
        expect(page.locator("#callback-script")).to_contain_text("Did our technician come to your home?")
        expect(page.locator("#customer-orders")).to_contain_text(earlier["number"])
        page.locator("input[name=reached][value=yes]").check()
        page.locator("select[name=resolved]").select_option("no")
        page.locator("select[name=score]").select_option("2")
        page.locator("input[name=problems][value=no_service_card]").check()
        page.locator("textarea[name=note]").fill("Still leaks under the tank")
        page.screenshot(path=str(SCREENSHOTS / "backoffice-callback.png"), full_page=True)
        page.locator("#callback-form button[type=submit]").click()
        page.wait_for_url(re.compile(r"/callbacks$"))
        expect(page.locator(".flash.info")).to_contain_text("goes back to the technician for a second visit")

        show_queue(board, "returned")
        expect(order_item(board, earlier["id"])).to_have_count(1)  # live, without a reload
        status, today = call(base, "GET", "/api/tech/today", tech)
        (item,) = [i for i in today["items"] if i["id"] == earlier["id"]]
        assert item["status"] == "returned" and item["visit_count"] == 2
        assert item["return_info"]["reason"] == "callback: customer says it is not fixed; no_service_card"
    finally:
        for context in contexts:
            context.close()
