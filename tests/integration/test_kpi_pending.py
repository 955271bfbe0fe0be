"""Decided vs pending on a hand-built month with a controlled clock: an order still within its
24 hours is not a failure yet, the drill-down and its exports show the same orders as the
figures, and a month that is not final is closed only when that is confirmed."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook

from core.accounts import Actor
from core.db import utcnow
from dispatch import kpis
from dispatch.kpis import report
from dispatch.models import KpiSnapshot, WorkOrder
from dispatch.moves import Position, transition
from tests.integration.test_kpis import ADDRESS, TZ
from tests.integration.test_sla import intake_at

T = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # 10:00 in Xi'an
EARLY = T + timedelta(hours=26)  # the late order is done; the open one is 2 hours old
LATER = EARLY + timedelta(hours=23)  # the open one is 25 hours old and still open


class Walk:
    """Moves tech2's orders through their lifecycle at given times."""

    def __init__(self, app, headers, network, db_session):
        self.app, self.headers, self.session = app, headers, db_session
        self.tech = network.techs[1]
        self.me = Actor(self.tech.user_id, "technician", technician_id=self.tech.id)
        self.n = 0

    def new(self, when: datetime) -> int:
        self.n += 1
        return intake_at(self.app, self.headers, when, phone=f"1390017{self.n:04d}", lat=ADDRESS[0], lon=ADDRESS[1])

    def move(self, oid: int, action: str, at: datetime, actor=None, **kw) -> None:
        version = self.session.get(WorkOrder, oid).version
        transition(self.session, oid, action, actor or self.me, version=version, now=at, **kw)

    def assign(self, oid: int, at: datetime) -> None:
        self.move(oid, "assign", at + timedelta(minutes=1), Actor(None, "dispatcher"), technician_id=self.tech.id)

    def complete(self, oid: int, created: datetime, hours: float) -> None:
        self.assign(oid, created)
        self.move(oid, "accept", created + timedelta(minutes=2))
        self.move(oid, "contact", created + timedelta(minutes=10))
        done = created + timedelta(hours=hours)
        self.move(oid, "depart", done - timedelta(minutes=60))
        self.move(oid, "arrive", done - timedelta(minutes=45), position=Position(*ADDRESS, 10.0))
        self.move(oid, "complete", done)


@pytest.fixture
def orders(app, network, auth, db_session):
    """tech2's November: `fast` completed in 3 h, `late` in 25 h, `open` taken in 24 h after
    them and never completed. Nobody has scored a visit yet."""
    walk = Walk(app, auth.token("dispatcher"), network, db_session)
    fast, late = walk.new(T), walk.new(T)
    walk.complete(fast, T, 3)
    walk.complete(late, T, 25)
    opened = walk.new(T + timedelta(hours=24))
    walk.assign(opened, T + timedelta(hours=24))
    db_session.commit()
    return {"fast": fast, "late": late, "open": opened, "tech": walk.tech.id}


def test_an_order_two_hours_old_and_open_is_pending_not_failed(db_session, orders):
    (row,) = kpis.monthly(db_session, "2026-11", "technician", TZ, EARLY)
    assert (row.orders, row.pending_24h, row.decided) == (3, 1, 2)
    assert row.completion_24h_rate == 0.5  # fast of fast and late; the open order is not judged yet
    assert row.awaiting_score == 2  # both completed visits: their callback windows are open
    assert (row.repairs, row.repairs_pending, row.repeat_rate) == (2, 2, None)  # no repair's 30 days are over
    rows = {r["order_id"]: r for r in kpis.drill_down(db_session, "2026-11", "completion_24h", TZ, now=EARLY)}
    pending = rows[orders["open"]]
    assert (pending["passed"], pending["pending"], [w.code for w in pending["reasons"]]) == (None, True, ["within_24h"])
    assert pending["late_hours"] is None
    db_session.rollback()


def test_the_same_order_25_hours_old_and_still_open_is_failed(db_session, orders):
    (row,) = kpis.monthly(db_session, "2026-11", "technician", TZ, LATER)
    assert (row.orders, row.pending_24h, row.decided) == (3, 0, 3)
    assert row.completion_24h_rate == round(1 / 3, 4)
    rows = {r["order_id"]: r for r in kpis.drill_down(db_session, "2026-11", "completion_24h", TZ, now=LATER)}
    failed = rows[orders["open"]]
    assert (failed["passed"], failed["pending"]) == (False, False)
    assert [w.text for w in failed["reasons"]] == ["not completed (assigned)"]
    assert failed["late_hours"] == 1.0  # due at intake + 24 h, an hour ago
    db_session.rollback()


def test_an_order_a_dispatcher_cancelled_is_failed_at_once_not_pending(app, network, auth, db_session, orders):
    walk = Walk(app, auth.token("dispatcher"), network, db_session)
    cancelled = walk.new(T + timedelta(hours=24))
    walk.assign(cancelled, T + timedelta(hours=24))
    walk.move(cancelled, "cancel", T + timedelta(hours=25), Actor(None, "dispatcher"), reason="no parts")
    db_session.commit()
    (row,) = kpis.monthly(db_session, "2026-11", "technician", TZ, EARLY)  # it is 2 hours old
    assert (row.orders, row.pending_24h, row.decided) == (4, 1, 3)  # only the open order is pending
    rows = {r["order_id"]: r for r in kpis.drill_down(db_session, "2026-11", "completion_24h", TZ, now=EARLY)}
    assert (rows[cancelled]["passed"], [w.code for w in rows[cancelled]["reasons"]]) == (False, ["not_completed"])
    db_session.rollback()


def test_drill_down_rows_and_groups_agree_with_the_figures(db_session, orders):
    for now in (EARLY, LATER):
        (row,) = kpis.monthly(db_session, "2026-11", "all", TZ, now)
        found = kpis.drill_report(db_session, "2026-11", "completion_24h", TZ, now=now)
        decided = [r for r in found["rows"] if not r["pending"]]
        assert len(found["rows"]) == row.orders and len(decided) == row.decided
        assert sum(r["passed"] for r in decided) / len(decided) == pytest.approx(row.completion_24h_rate, abs=1e-4)
        groups = dict(found["groups"])
        assert groups.get("within_24h", 0) == row.pending_24h
        assert groups["completed_late"] == 1 and groups.get("not_completed", 0) == 1 - row.pending_24h
        late = kpis.drill_report(db_session, "2026-11", "completion_24h", TZ, reason_code="completed_late", now=now)
        assert [r["order_id"] for r in late["rows"]] == [orders["late"]]
        assert late["rows"][0]["late_hours"] == 1.0 and late["groups"] == found["groups"]
    scope = kpis.drill_report(db_session, "2026-11", "satisfaction", TZ, technician_id=orders["tech"], now=EARLY)
    assert scope["scope"]["technician"] == "Tech 2" and scope["scope"]["outlet"] is not None
    assert [r["pending"] for r in scope["rows"]] == [True, True]  # awaiting their customers' scores
    db_session.rollback()


def test_too_few_decided_orders_are_not_judged_by_default():
    bad = {"completion_24h_rate": 0.2, "orders": 9}
    assert kpis.RISK_DEFAULTS["min_orders"] == 5
    assert kpis.risk_signs(bad | {"decided": 4}) == []  # five still within their 24 hours
    assert [s.figure for s in kpis.risk_signs(bad | {"decided": 5})] == ["completion_24h_rate"]


def test_a_month_not_final_is_closed_only_when_confirmed(db_session, orders):
    state = report.month_report(db_session, "2026-11", TZ, now=EARLY)["state"]
    assert state == {
        "ended": False, "final": False, "closed": False,
        "pending": {"pending_24h": 1, "awaiting_score": 2, "repairs_pending": 2},
    }  # fmt: skip
    with pytest.raises(kpis.NotFinal) as refused:
        kpis.close_month(db_session, "2026-11", TZ, now=datetime(2026, 12, 2, tzinfo=UTC))
    assert refused.value.ended and refused.value.pending == {
        "pending_24h": 0,
        "awaiting_score": 0,
        "repairs_pending": 2,
    }
    assert "2 repairs still within their 30 days" in refused.value.message
    assert db_session.query(KpiSnapshot).count() == 0
    final = datetime(2027, 1, 1, tzinfo=UTC)  # every window has passed
    assert report.month_report(db_session, "2026-11", TZ, now=final)["state"]["final"]
    assert kpis.close_month(db_session, "2026-11", TZ, now=final) > 0


def test_the_api_and_page_show_an_order_two_hours_old_as_pending(app, client, auth, network, db_session, csrf_from):
    walk = Walk(app, auth.token("dispatcher"), network, db_session)
    created = utcnow() - timedelta(hours=2)
    oid = walk.new(created)
    walk.assign(oid, created)
    db_session.commit()
    month = report.current_month(TZ, created)
    manager = auth.token("manager")
    (overall,) = client.get(f"/api/kpis?month={month}&by=all", headers=manager).get_json()["items"]
    assert (overall["orders"], overall["pending_24h"], overall["decided"]) == (1, 1, 0)
    assert overall["completion_24h_rate"] is None  # nothing decided: no rate, not 0 %
    drill = client.get(f"/api/kpis/orders?month={month}&kpi=completion_24h", headers=manager).get_json()
    assert [(i["order_id"], i["passed"], i["pending"]) for i in drill["items"]] == [(oid, None, True)]
    assert drill["groups"] == [{"reason": "within_24h", "text": "still within its 24 hours", "orders": 1}]
    assert drill["items"][0]["technician"] == "Tech 2"

    refused = client.post("/api/kpis/close", json={"month": month}, headers=manager)
    assert refused.status_code == 409 and refused.get_json()["pending"]["pending_24h"] == 1

    auth.login("manager")
    page = client.get(f"/kpis?month={month}").get_data(as_text=True)
    assert "1 still within their 24 h" in page and "not final yet" in page
    zh = client.get(f"/kpis/orders?month={month}&kpi=completion_24h", headers={"Accept-Language": "zh-CN"})
    assert "仍在 24 小时内" in zh.get_data(as_text=True)
    token = csrf_from(page)
    confirm = client.post("/kpis/close", data={"month": month, "csrf_token": token})
    assert confirm.status_code == 200 and "1 orders still within their 24 hours" in confirm.get_data(as_text=True)
    closed = client.post("/kpis/close", data={"month": month, "confirm": "1", "csrf_token": csrf_from(confirm.text)})
    assert closed.status_code == 302 and db_session.query(KpiSnapshot).filter_by(month=month).count() > 0


def test_the_drill_down_export_has_the_api_rows(client, auth, orders):
    manager = auth.token("manager")
    query = f"month=2026-11&kpi=completion_24h&technician_id={orders['tech']}"
    api = client.get(f"/api/kpis/orders?{query}", headers=manager).get_json()["items"]
    expected = [[i["number"], "; ".join(i["reasons"])] for i in api]
    assert len(expected) == 3
    text = client.get(f"/api/kpis/orders/export.csv?{query}", headers=manager).get_data(as_text=True)
    header, *rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    number, why = header.index("Number"), header.index("Why not")
    assert [[r[number], r[why]] for r in rows] == expected
    book = client.get(f"/api/kpis/orders/export.xlsx?{query}", headers=manager)
    sheet = load_workbook(io.BytesIO(book.data)).active
    cells = [[c.value or "" for c in row] for row in sheet.iter_rows()]
    assert cells[0] == header and [[r[number], r[why]] for r in cells[1:]] == expected
    late = client.get(f"/api/kpis/orders/export.csv?{query}&reason=completed_late", headers=manager)
    assert len(list(csv.reader(io.StringIO(late.get_data(as_text=True).lstrip("\ufeff"))))) == 2  # header + 1
    zh = client.get(f"/api/kpis/orders/export.csv?{query}", headers=manager | {"Accept-Language": "zh-CN"})
    assert "未完工（已派单）" in zh.get_data(as_text=True)
