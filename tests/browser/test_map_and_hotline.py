"""The board's map and the hotline form in Chromium: a marker on the right street under Chinese
(GCJ-02) tiles from a local fake tile server, markers updated in place, a technician's route,
the hotline's address search and caller lookup, a pick on the map stored in WGS-84."""

from __future__ import annotations

import io
import math
import re
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import expect

from dispatch.geocoding import to_wgs84
from tests.browser.conftest import SCREENSHOTS, add_network, serve_app
from tests.browser.test_board import call, new_order, open_board, token
from tests.conftest import PASSWORD, skip_or_fail
from tests.fakes.geo_server import FakeGeoServer
from tests.fakes.tile_server import STREET, FakeTileServer, global_pixel

ROOT = Path(__file__).resolve().parents[2]
BELL_TOWER = (34.2610, 108.9423)  # WGS-84; AMap draws it about 500 m east-south-east


@pytest.fixture(autouse=True)
def _vendor_files():
    if not (ROOT / "web" / "static" / "vendor" / "leaflet.markercluster.js").exists():
        skip_or_fail("web/static/vendor is missing leaflet.markercluster: run `make setup`")


def marker_centre(page, order_id: int) -> tuple[float, float]:
    box = page.evaluate(
        """id => { const m = window.dispatchBoard.map().markers().get(id).marker.getElement();
                   const r = m.getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; }""",
        order_id,
    )
    return box[0], box[1]


def wait_until_still(page) -> int:
    """The map has finished moving; returns its zoom."""
    page.wait_for_function(
        "() => { const m = window.dispatchBoard.map().map; return !m._animatingZoom && !m._panAnim?._inProgress; }"
    )
    page.wait_for_timeout(400)
    return page.evaluate("window.dispatchBoard.map().map.getZoom()")


def test_with_gcj02_tiles_a_marker_lands_on_its_street(browser, tmp_path, sqlite_template, contexts):
    with (
        FakeTileServer([BELL_TOWER], datum="gcj02") as tiles,
        serve_app(tmp_path, sqlite_template, MAP_TILE_URL=tiles.url_template, MAP_TILE_CRS="gcj02") as (base, app),
    ):
        add_network(app)
        order = new_order(base, token(base, "dispatcher"), "13800138000", lat=BELL_TOWER[0], lon=BELL_TOWER[1])
        context, page = open_board(browser, base, size=(1440, 900))
        contexts.append(context)
        page.evaluate("id => window.dispatchBoard.openOrder(id)", order["id"])  # selecting pans and zooms to it
        # The cluster opens first, then the map zooms in: wait for the zoom itself, not a pause.
        page.wait_for_function("() => window.dispatchBoard.map().map.getZoom() >= 15")
        zoom = wait_until_still(page)
        assert zoom >= 15
        tx, ty, px, py = tiles.pixel_of(*BELL_TOWER, zoom=zoom)
        tile = page.locator(f"#board-map img.leaflet-tile[src$='/{zoom}/{tx}/{ty}.png']")
        expect(tile).to_have_count(1)
        page.wait_for_function("img => img.complete && img.naturalWidth === 256", arg=tile.element_handle())
        # The fake's tile (the same one the browser drew) really has the street at that pixel.
        image_pixel = Image.open(io.BytesIO(tiles.tile(zoom, tx, ty))).getpixel((px, py))
        assert tuple(image_pixel) == STREET
        box = tile.bounding_box()
        street = (box["x"] + px + 0.5, box["y"] + py + 0.5)
        marker = marker_centre(page, order["id"])
        assert math.dist(marker, street) <= 3, f"marker at {marker}, street at {street}"
        # Without the conversion the marker would sit far off the street (the test can fail).
        raw = global_pixel(*BELL_TOWER, zoom)
        shifted = global_pixel(*tiles.drawn_at(*BELL_TOWER), zoom)
        assert math.dist(raw, shifted) > 50


def test_markers_are_updated_in_place_and_filtered_without_redrawing(browser, live_server, live_network, contexts):
    base, _ = live_server
    dispatcher = token(base, "dispatcher")
    first = new_order(base, dispatcher, "13800138000")
    second = new_order(base, dispatcher, "13800138001", lat=34.30, lon=108.90)
    context, page = open_board(browser, base, size=(1440, 900))
    contexts.append(context)
    expect(page.locator("#board-map .order-marker")).to_have_count(2)
    page.evaluate(
        """() => { for (const [id, e] of window.dispatchBoard.map().markers()) e.marker.getElement().__probe = id; }"""
    )
    status, _ = call(base, "POST", f"/api/orders/{first['id']}/transitions", dispatcher,
                     {"action": "assign", "version": first["version"], "technician_id": live_network["techs"][1]})  # fmt: skip
    assert status == 200
    expect(page.locator("#board-map .order-marker.status-assigned")).to_have_count(1)
    probes = page.evaluate(
        "() => Array.from(document.querySelectorAll('#board-map .order-marker')).map(m => m.__probe || null).sort()"
    )
    assert probes == sorted([first["id"], second["id"]]), "the markers are the same nodes, changed in place"
    page.evaluate("() => { for (const e of window.dispatchBoard.map().markers().values()) e.marker.__kept = true; }")
    page.locator("#board-search").fill(second["number"])
    expect(page.locator("#board-map .order-marker")).to_have_count(1)
    page.locator("#board-search").fill("")
    expect(page.locator("#board-map .order-marker")).to_have_count(2)
    # Filtering takes the same marker objects out of the cluster group and puts them back.
    assert page.evaluate(
        """() => { const b = window.dispatchBoard.map(); return Array.from(b.markers().values())
                     .every(e => e.marker.__kept && b.cluster.hasLayer(e.marker)); }"""
    )
    # The technician's route: from where they are through their stops, in order.
    page.locator(f"#tech-list tr[data-tech-id='{live_network['techs'][1]}']").click()
    expect(page.locator("#board-map path.tech-route")).to_have_count(1)
    expect(page.locator("#board-map path.route-stop")).to_have_count(1)


def login(page, base: str, lang: str = "en") -> None:
    page.goto(f"{base}/login")
    page.locator("input[name=username]").fill("dispatcher")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(re.compile(r"/(board|orders)$"))
    if lang == "zh":
        page.locator("form[action$='/lang/zh'] button").click()


def test_the_hotline_finds_the_caller_and_the_address(browser, tmp_path, sqlite_template, contexts):
    places = {"西安市雁塔区小寨东路 1 号": (34.2245, 108.9475), "西安市雁塔区小寨西路 8 号": (34.2240, 108.9400)}
    with (
        FakeGeoServer(places) as geo,
        serve_app(
            tmp_path, sqlite_template, GEOCODER_PROVIDER="nominatim", GEOCODER_URL=geo.url, GEOCODER_TIMEOUT=2
        ) as (base, app),
    ):
        add_network(app)
        dispatcher = token(base, "dispatcher")
        earlier = new_order(base, dispatcher, "13800138000", address="西安市碑林区南大街 2 号", lat=34.25, lon=108.94)
        context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-US")
        contexts.append(context)
        page = context.new_page()
        login(page, base)
        page.goto(f"{base}/hotline")
        expect(page.locator("#location-picker")).to_have_attribute("data-ready", "1")
        assert page.locator("input[name=lat]").get_attribute("type") == "hidden"
        page.locator("input[name=phone]").fill("138 0013 8000")
        page.locator("#caller-lookup").click()
        expect(page.locator("#caller-history tbody tr")).to_have_count(1)
        expect(page.locator("#caller-history")).to_contain_text(earlier["number"])
        expect(page.locator("input[name=name]")).to_have_value("张三")
        expect(page.locator("input[name=address]")).to_have_value("西安市碑林区南大街 2 号")
        assert float(page.locator("input[name=lat]").input_value()) == pytest.approx(34.25)
        # This time the customer calls from somewhere else: search the new address.
        page.locator("input[name=address]").fill("小寨")
        page.locator("#address-search").click()
        expect(page.locator("#address-candidates .candidate")).to_have_count(2)
        page.locator("#address-candidates .candidate", has_text="小寨西路").click()
        expect(page.locator("input[name=address]")).to_have_value("西安市雁塔区小寨西路 8 号")
        assert float(page.locator("input[name=lon]").input_value()) == pytest.approx(108.94)
        page.locator("select[name=product_category]").select_option("water_heater")
        page.locator("#hotline-form button[type=submit]").click()
        page.wait_for_url(re.compile(r"/orders/\d+$"))
        order_id = int(page.url.rsplit("/", 1)[1])
        status, stored = call(base, "GET", f"/api/orders/{order_id}", dispatcher)
        assert status == 200
        assert (stored["lat"], stored["lon"]) == pytest.approx((34.2240, 108.9400))
        assert stored["address"] == "西安市雁塔区小寨西路 8 号"


def test_without_a_geocoder_a_pick_on_an_amap_map_is_stored_in_wgs84(browser, tmp_path, sqlite_template, contexts):
    with (
        FakeTileServer([BELL_TOWER], datum="gcj02") as tiles,
        serve_app(tmp_path, sqlite_template, MAP_TILE_URL=tiles.url_template, MAP_TILE_CRS="gcj02") as (base, app),
    ):
        add_network(app)
        context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
        contexts.append(context)
        page = context.new_page()
        login(page, base, "zh")
        page.goto(f"{base}/hotline")
        expect(page.locator("#address-search")).to_have_count(0)
        expect(page.locator("#pick-status")).to_contain_text("请在地图上点击客户所在位置")
        page.locator("input[name=phone]").fill("13900139000")
        page.locator("input[name=name]").fill("李四")
        page.locator("input[name=address]").fill("西安市钟楼附近")
        page.locator("#pick-map").click(position={"x": 300, "y": 120})
        expect(page.locator("input[name=coord_datum]")).to_have_value("gcj02")
        picked = (
            float(page.locator("input[name=lat]").input_value()),
            float(page.locator("input[name=lon]").input_value()),
        )
        page.locator("#hotline-form button[type=submit]").click()
        page.wait_for_url(re.compile(r"/orders/\d+$"))
        order_id = int(page.url.rsplit("/", 1)[1])
        status, stored = call(base, "GET", f"/api/orders/{order_id}", token(base, "dispatcher"))
        assert (stored["lat"], stored["lon"]) == pytest.approx(to_wgs84(*picked, "gcj02"), abs=1e-6)
        assert abs(stored["lon"] - picked[1]) > 0.003, "the GCJ-02 pick was converted back"


def test_screenshots_of_the_map_and_the_hotline(browser, tmp_path, sqlite_template, contexts):
    from dispatch.demo import DEMO_PASSWORD, seed_demo
    from web.extensions import db

    with (
        FakeTileServer([BELL_TOWER], datum="wgs84") as tiles,
        serve_app(tmp_path, sqlite_template, MAP_TILE_URL=tiles.url_template) as (base, app),
    ):
        with app.app_context(), db.session_scope() as session:
            seed_demo(session, orders=150, timezone=app.config["TIMEZONE"])
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        _, listed = call(base, "GET", "/api/orders?per_page=1", token(base, "dispatcher", DEMO_PASSWORD))
        caller = listed["items"][0]["customer"]["phone"]  # a returning customer: their history shows
        for locale, lang in (("en-US", "en"), ("zh-CN", "zh")):
            context = browser.new_context(viewport={"width": 1440, "height": 900}, locale=locale)
            contexts.append(context)
            page = context.new_page()
            page.goto(f"{base}/login")
            page.locator("input[name=username]").fill("dispatcher")
            page.locator("input[name=password]").fill(DEMO_PASSWORD)
            page.locator("form button[type=submit]").last.click()
            page.wait_for_url(re.compile(r"/board$"))
            if lang == "zh":
                page.locator("form[action$='/lang/zh'] button").click()
            expect(page.locator("#connection")).to_have_attribute("data-state", "live")
            expect(page.locator("#board-map .marker-cluster").first).to_be_visible()
            page.locator("#tech-list tr[data-tech-id]").first.click()
            expect(page.locator("#board-map path.tech-route")).to_have_count(1)
            page.wait_for_timeout(600)
            page.locator(".board-map-wrap").screenshot(path=str(SCREENSHOTS / f"board-map-{lang}.png"))
            page.goto(f"{base}/hotline")
            page.locator("input[name=phone]").fill(caller)
            page.locator("#caller-lookup").click()
            expect(page.locator("#caller-history tbody tr").first).to_be_visible()
            page.wait_for_timeout(800)
            page.screenshot(path=str(SCREENSHOTS / f"hotline-{lang}.png"), full_page=True)
            page.goto(f"{base}/orders/{listed['items'][0]['id']}")
            page.locator("#correct-location summary").click()
            expect(page.locator("#location-picker")).to_have_attribute("data-ready", "1")
            page.wait_for_timeout(500)
            page.screenshot(path=str(SCREENSHOTS / f"order-correct-location-{lang}.png"))
