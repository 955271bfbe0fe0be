"""Every page, as every role, in Chinese: the visible text holds no internal code, no English
sentence, no Python repr and no ISO timestamp.

The demo city (dispatch/demo.py, small) gives orders in every state with their full event trail,
callbacks, returns and leave. Each role logs in with Accept-Language: zh and follows every GET
link reachable from its pages (a few of each shape: /orders/<n> is crawled for a handful of
orders, not all), plus the customer's public pages and a bad tracking link.
"""

from __future__ import annotations

import re
from collections import deque
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from core.accounts import ALL_ROLES
from core.db import unit_of_work, utcnow
from dispatch.customer import issue_tracking_token
from dispatch.demo import DEMO_PASSWORD, SKILLS, seed_demo
from dispatch.kpis.drilldown import DRILLS
from dispatch.lifecycle import MOVES, Status
from dispatch.models import WorkOrder
from web.labels import AUTHENTICITY_REASONS

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}

# Internal codes that are single words (snake_case codes are caught by their underscore).
CODES = (
    {s.value for s in Status}
    | set(ALL_ROLES)
    | set(MOVES)
    | {code for code, *_ in SKILLS}
    | set(DRILLS)
    | set(AUTHENTICITY_REASONS)
    | {"system", "customer", "hotline", "web", "wechat", "app", "email", "normal", "urgent", "vip"}
)
# Real names that are English words in a Chinese interface: the language switcher's own name for
# English, the brand of the mini-program, the API documentation tool, and technical abbreviations
# that Chinese users read as they are.
NAMES = {"English", "WeChat", "Swagger", "UI", "ETA", "SLA", "KPI", "KPIs", "API", "ID", "GPS", "QR", "CSV", "TOTP"}

CHECKS = {
    "snake_case code": re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b"),
    "English words": re.compile(r"\b[A-Za-z][A-Za-z']+(?:[,.:;]?\s+[A-Za-z][A-Za-z']+)+\b"),
    "Python repr": re.compile(r"\b(?:None|True|False)\b|\['|\{'|\bdatetime\(|\bDecimal\("),
    "ISO timestamp": re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}"),
    "English unit": re.compile(r"\d\s?(?:d|h|min|s|km|m)\b(?![\w.])"),
}


class _Visible(HTMLParser):
    """The text a reader sees: no tags, attributes, scripts, styles or templates, nothing inside
    a closed <details> but its summary (the admin's raw data behind a toggle), and nothing the
    page marks translate="no" (a login name or a code a person types, never a sentence)."""

    HIDDEN = {"script", "style", "template", "noscript"}
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.links: list[str] = []
        self._stack: list[tuple[str, bool]] = []  # (tag, hides its content)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag in self.VOID:
            return
        hides = tag in self.HIDDEN or attrs.get("translate") == "no" or (tag == "details" and "open" not in attrs)
        self._stack.append((tag, hides))

    def handle_endtag(self, tag):
        for i in range(len(self._stack) - 1, -1, -1):
            if self._stack[i][0] == tag:
                del self._stack[i:]
                return

    def handle_data(self, data):
        if not data.strip():
            return
        # A closed <details> hides everything but its <summary>.
        inside = self._stack
        if len(inside) > 1 and inside[-1][0] == "summary" and inside[-2][0] == "details":
            inside = inside[:-2]
        if not any(hides for _, hides in inside):
            self.parts.append(data.strip())


def findings_in(html: str) -> tuple[list[str], list[str]]:
    parser = _Visible()
    parser.feed(html)
    found = []
    for part in parser.parts:
        for what, pattern in CHECKS.items():
            for match in pattern.finditer(part):
                text = match.group(0)
                if what == "English words" and all(w in NAMES for w in re.findall(r"[A-Za-z']+", text)):
                    continue
                found.append(f"{what}: {text!r} in {part[:80]!r}")
        for word in re.findall(r"\b[a-z]+\b", part):
            if word in CODES:
                found.append(f"internal code: {word!r} in {part[:80]!r}")
    return found, parser.links


def shape(path: str) -> str:
    return re.sub(r"\d+", "N", path)


SKIP = ("/logout", "/static/", "/api/", "/tech/sw.js", "/tech/manifest", "/reviews/N/photos/")


def crawl(client, starts: list[str], per_shape: int = 3) -> dict[str, list[str]]:
    """GET every same-site link from the start pages (at most `per_shape` of each URL shape);
    returns the findings by page."""
    seen: set[str] = set()
    shapes: dict[str, int] = {}
    queue = deque(starts)
    report: dict[str, list[str]] = {}
    while queue:
        url = queue.popleft()
        parts = urlsplit(url)
        if parts.netloc or not parts.path.startswith("/") or url in seen:
            continue
        key = shape(parts.path)
        if any(key.startswith(s) or parts.path.startswith(s) for s in SKIP) or shapes.get(key, 0) >= per_shape:
            continue
        seen.add(url)
        shapes[key] = shapes.get(key, 0) + 1
        response = client.get(url, headers=ZH)
        assert response.status_code < 500, url
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        found, links = findings_in(response.get_data(as_text=True))
        if found:
            report[url] = found
        queue.extend(link.split("#")[0] for link in links if link.split("#")[0])
    return report


@pytest.fixture
def city(app, db_session):
    seed_demo(db_session, timezone=app.config["TIMEZONE"], orders=40, technicians=12, now=utcnow())
    order_ids = db_session.scalars(select(WorkOrder.id).order_by(WorkOrder.id)).all()
    # A tracking link for an open, a completed and a closed order (the customer's pages).
    tokens = []
    with unit_of_work(db_session):
        for status in ("on_site", "completed", "closed"):
            order = db_session.scalar(select(WorkOrder).where(WorkOrder.status == status).limit(1))
            if order is not None:
                tokens.append(issue_tracking_token(order))
    db_session.rollback()
    return {"orders": order_ids, "tokens": tokens}


def login(client, csrf_from, username: str) -> None:
    client.get("/logout")
    page = client.get("/login", headers=ZH).get_data(as_text=True)
    response = client.post(
        "/login", data={"username": username, "password": DEMO_PASSWORD, "csrf_token": csrf_from(page)}, headers=ZH
    )
    assert response.status_code == 302, username


def render(report: dict[str, list[str]]) -> str:
    return "\n".join(f"{url}\n  " + "\n  ".join(sorted(set(found))) for url, found in report.items())


@pytest.mark.parametrize("username", ["admin", "dispatcher", "manager", "tech01"])
def test_every_page_a_role_reaches_speaks_chinese_without_codes_or_reprs(app, client, city, csrf_from, username):
    login(client, csrf_from, username)
    orders = city["orders"]
    starts = ["/", "/orders", "/board", "/tech", "/kpis", "/reviews", "/callbacks", "/account/security"]
    # Detail pages of orders in every state, even those not linked from the first list page.
    starts += [f"/orders/{i}" for i in orders[:: max(1, len(orders) // 12)]]
    report = crawl(client, starts, per_shape=14)
    assert not report, f"{sum(len(v) for v in report.values())} findings:\n{render(report)}"


def test_the_customers_pages_speak_chinese_without_codes_or_reprs(app, client, city):
    starts = ["/request", *(f"/t/{token}" for token in city["tokens"]), "/t/not-a-real-link", "/no-such-page"]
    report = {}
    for url in starts:
        response = client.get(url, headers=ZH)
        assert response.status_code < 500, url
        found, _ = findings_in(response.get_data(as_text=True))
        if found:
            report[url] = found
    assert not report, f"{sum(len(v) for v in report.values())} findings:\n{render(report)}"


def test_the_checks_catch_what_the_issue_saw():
    samples = [
        "剩余 6 d 23 h",
        "(2 d 21 h 前)",
        "callback: customer says it is not fixed",
        "username: None → admin",
        "skills: None → ['water_heater']",
        "2026-12-01T08:15:00.123456+00:00",
        "技能 water_heater",
        "角色 dispatcher",
    ]
    for sample in samples:
        found, _ = findings_in(f"<p>{sample}</p>")
        assert found, sample
    assert findings_in("<p>剩余 6 天 23 小时</p><script>var x = 'a_b';</script>")[0] == []
