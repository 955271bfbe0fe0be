"""Browser tests: Playwright driving Debian's Chromium against a live server.

The server is the real app on a real (SQLite file) database, served by Werkzeug in a
thread. Playwright never downloads a browser: it launches /usr/bin/chromium.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from technicians.models import Skill
from tests import clock as test_clock
from tests.conftest import Network, skip_or_fail
from web import create_app
from web.extensions import db

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# Where the tests' screenshots go: test-artifacts/screenshots (gitignored), so `make test` leaves
# the working tree as it found it; `make screenshots` points this at docs/screenshots.
SCREENSHOTS = Path(os.environ.get("SCREENSHOTS_DIR") or ARTIFACTS / "screenshots").resolve()
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    for candidate in (os.environ.get("CHROMIUM_PATH"), shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@pytest.fixture(scope="session")
def browser():
    path = chromium_path()
    if path is None:
        skip_or_fail("Debian's chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("the playwright package is not installed")
    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
    yield ClockedBrowser(browser)
    browser.close()
    playwright.stop()


class ClockedBrowser:
    """The browser, whose every new context's pages start their clock at the tests' time
    (tests/clock.py) and let it run: what a page computes from "now" (the now-line, "in 20
    min", today's date) agrees with the server's answers."""

    def __init__(self, browser) -> None:
        self._browser = browser

    def new_context(self, **options):
        context = self._browser.new_context(**options)
        if test_clock.OFFSET is not None:
            context.clock.install(time=test_clock.now())
        return context

    def __getattr__(self, name):
        return getattr(self._browser, name)


@contextmanager
def serve_app(tmp_path, sqlite_template, **config):
    """The app on its own SQLite file, served on a free port, with `config` on top of the
    tests' defaults (a tile server, a geocoder); yields (base_url, app)."""
    db_path = tmp_path / "live.db"
    shutil.copy(sqlite_template, db_path)
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{db_path}",
            "SECRET_KEY": "browser-test",
            "RATELIMIT_STORAGE_URI": "memory://",
            "GEOCODER_PROVIDER": "none",
            "REDIS_URL": None,
            "AUTO_ASSIGN_ON_INTAKE": False,
            "PROOF_PHOTOS_REQUIRED": 0,
            "PHOTO_STORAGE_DIR": str(tmp_path / "photos"),
            **config,
        }
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", app
    finally:
        server.shutdown()
        thread.join(timeout=5)
        app.extensions["database"].dispose()


@pytest.fixture
def live_server(tmp_path, sqlite_template):
    """The app on its own SQLite file, served on a free port; yields (base_url, app)."""
    with serve_app(tmp_path, sqlite_template) as served:
        yield served


def add_network(app) -> dict:
    """Skills, outlets and technicians (tests.conftest.Network) in a served app's database."""
    with app.app_context(), db.session_scope() as session:
        session.add_all(
            [
                Skill(code="water_heater", name_en="Water heater", name_zh="热水器"),
                Skill(code="air_conditioner", name_en="Air conditioner", name_zh="空调"),
                Skill(code="washing_machine", name_en="Washing machine", name_zh="洗衣机"),
            ]
        )
        session.commit()
        network = Network(session)
        return {"techs": [t.id for t in network.techs], "south": network.south.id}


@pytest.fixture
def live_network(live_server):
    return add_network(live_server[1])


class CspWatch:
    """Collects what Chromium reports as blocked by the Content-Security-Policy; a page
    that needs 'unsafe-inline' (or loads from elsewhere) fails its test."""

    def __init__(self, context) -> None:
        self.violations: list[str] = []
        context.on("console", self._console)

    def _console(self, message) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.violations.append(message.text)

    def check(self) -> None:
        assert not self.violations, "CSP violations:\n" + "\n".join(self.violations)


def _watched(browser, **options):
    context = browser.new_context(**options)
    return context, CspWatch(context)


@pytest.fixture
def page(browser):
    context, csp = _watched(browser, viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    yield page
    context.close()
    csp.check()


@pytest.fixture
def phone_page(browser):
    context, csp = _watched(
        browser,
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN",
    )  # fmt: skip
    page = context.new_page()
    yield page
    context.close()
    csp.check()


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def contexts():
    """Browser contexts a test opens itself (several boards, other viewports): closed after it."""
    opened = []
    yield opened
    for context in opened:
        context.close()


def demo_board(browser, contexts: list, base: str, locale: str, lang: str):
    """A 1440×900 page of the demo's dispatcher on the board, in `lang` ("en" or "zh"): the
    screenshot tests' common start (the demo is loaded by the caller)."""
    from dispatch.demo import DEMO_PASSWORD

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
        expect(page.locator("h1")).to_have_text("调度看板")
    return page
