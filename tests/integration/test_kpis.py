"""The four KPIs on a hand-built month whose right answers are known by hand."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from core.accounts import Actor
from dispatch import customer, kpis
from dispatch.models import WorkOrder
from dispatch.photos import HashIndex, LocalStore, PhotoSettings, add_photo
from dispatch.services import Position, transition
from tests.integration.test_sla import intake_at

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)
ADDRESS = (34.2100, 108.9500)
FAR = (34.3000, 108.9500)  # 10 km north


def jpeg(seed: int) -> bytes:
    img = Image.new("RGB", (320, 240), ((seed * 40) % 256, (seed * 90) % 256, (seed * 150) % 256))
    for x in range(0, 320, 16 + seed):
        for y in range(0, 240, 10 + seed):
            img.putpixel((x, y), (255, 255, 255))
    out = io.BytesIO()
    img.save(out, "JPEG")
    return out.getvalue()


class Month:
    """Walks orders of tech2 (South) through their month with a controlled clock."""

    def __init__(self, app, headers, network, db_session, tmp_path):
        self.app, self.headers, self.session = app, headers, db_session
        self.tech = network.techs[1]
        self.me = Actor(network.techs[1].user_id, "technician", technician_id=network.techs[1].id)
        self.clerk = Actor(network.manager.id, "manager")
        self.photos = PhotoSettings(LocalStore(tmp_path / "kpi-photos"), TZ, HashIndex())
        self.n = 0

    def new(self) -> int:
        self.n += 1
        return intake_at(self.app, self.headers, T0, phone=f"1390013{self.n:04d}", lat=ADDRESS[0], lon=ADDRESS[1])

    def step(self, oid: int, action: str, minutes: float, actor=None, **kw) -> None:
        order = self.session.get(WorkOrder, oid)
        transition(
            self.session,
            oid,
            action,
            actor or self.me,
            version=order.version,
            now=T0 + timedelta(minutes=minutes),
            **kw,
        )

    def visit(
        self, oid: int, done_at_minutes: float, *, where=ADDRESS, photo: int | None = None, first: bool = True
    ) -> None:
        if first:
            self.step(oid, "assign", 1, Actor(None, "dispatcher"), technician_id=self.tech.id)
            self.step(oid, "accept", 2)
            self.step(oid, "contact", 10)
        self.step(oid, "depart", done_at_minutes - 60)
        self.step(oid, "arrive", done_at_minutes - 45, position=Position(*where, 10.0))
        if photo is not None:
            add_photo(self.session, oid, jpeg(photo), self.me, self.photos, source="camera", device=(*where, 10.0))
        self.step(oid, "complete", done_at_minutes)

    def survey(self, oid: int, score: int) -> None:
        order = self.session.get(WorkOrder, oid)
        token = customer.issue_tracking_token(order)
        self.session.commit()
        customer.submit_survey(self.session, token, True, score, "", now=T0 + timedelta(days=2))


@pytest.fixture
def month(app, network, auth, db_session, tmp_path):
    m = Month(app, auth.token("dispatcher"), network, db_session, tmp_path)
    a = m.new()  # completed at 23 h 59 m, surveyed 5, everything by the book
    m.visit(a, 23 * 60 + 59, photo=1)
    m.survey(a, 5)
    b = m.new()  # completed at 24 h 01 m, otherwise by the book
    m.visit(b, 24 * 60 + 1, photo=2)
    c = m.new()  # cancelled by the customer: not counted at all
    order = db_session.get(WorkOrder, c)
    token = customer.issue_tracking_token(order)
    db_session.commit()
    customer.cancel_by_customer(db_session, token, "changed my mind", now=T0 + timedelta(minutes=5))
    d = m.new()  # returned as unqualified, then completed within 24 h
    m.visit(d, 120, photo=3)
    m.step(d, "return", 180, Actor(None, "dispatcher"), reason="still leaking")
    m.visit(d, 600, photo=4, first=False)
    e = m.new()  # still open, no callback
    m.step(e, "assign", 1, Actor(None, "dispatcher"), technician_id=m.tech.id)
    f = m.new()  # completed in time but checked in 10 km away (its job type asks no photo); callback score 3
    m.visit(f, 300, where=FAR)
    order = db_session.get(WorkOrder, f)
    customer.record_callback(db_session, f, m.clerk, version=order.version, reached=True, resolved=True, score=3,
                             now=T0 + timedelta(days=4))  # fmt: skip
    db_session.rollback()
    return {"a": a, "b": b, "c": c, "d": d, "e": e, "f": f, "tech": m.tech.id}


def test_the_four_kpis_of_a_hand_built_month(db_session, month):
    (row,) = kpis.monthly(db_session, "2026-11", "technician", TZ)
    assert row.key == month["tech"]
    assert row.orders == 5  # a, b, d, e, f — c was cancelled by the customer
    assert row.completed == 4  # a, b, d, f
    # a (23:59) and d count; not b (24:01), not e (open), not f: its proof failed authenticity.
    assert row.completion_24h_rate == 0.4
    assert (row.rated, row.satisfaction_rate, row.satisfaction_mean) == (2, 0.5, 4.0)  # a: 5, f: 3
    assert row.compliance_rate == 0.75  # a, b, f — d was returned
    assert row.authenticity_rate == 0.75  # f checked in 10 km away
    (everyone,) = kpis.monthly(db_session, "2026-11", "all", TZ)
    assert everyone.orders == 5
    assert kpis.monthly(db_session, "2026-10", "technician", TZ) == []
    db_session.rollback()


def test_every_figure_traces_to_its_orders_and_reasons(db_session, month):
    rows = {
        r["order_id"]: r
        for r in kpis.drill_down(db_session, "2026-11", "completion_24h", TZ, technician_id=month["tech"])
    }
    assert set(rows) == {month[k] for k in "abdef"}
    assert rows[month["a"]]["passed"] and rows[month["d"]]["passed"]
    assert rows[month["b"]]["reasons"] == ["completed after 24.0 h"]
    assert rows[month["e"]]["reasons"] == ["not completed (assigned)"]
    assert rows[month["f"]]["reasons"] == ["proof not accepted"]
    compliance = {
        r["order_id"]: r for r in kpis.drill_down(db_session, "2026-11", "compliance", TZ, technician_id=month["tech"])
    }
    assert compliance[month["d"]]["reasons"] == ["returned as unqualified"]
    assert compliance[month["f"]]["passed"]
    authenticity = {r["order_id"]: r for r in kpis.drill_down(db_session, "2026-11", "authenticity", TZ)}
    assert authenticity[month["f"]]["reasons"] == ["checkin_far (fail)"]
    satisfaction = kpis.drill_down(db_session, "2026-11", "satisfaction", TZ)
    assert [(r["order_id"], r["score"], r["passed"]) for r in satisfaction] == [
        (month["a"], 5, True),
        (month["f"], 3, False),
    ]
    db_session.rollback()


def test_the_api_gives_the_same_numbers(client, auth, month, db_session):
    manager = auth.token("manager")
    body = client.get("/api/kpis?month=2026-11&by=technician", headers=manager).get_json()
    assert body["items"][0]["completion_24h_rate"] == 0.4 and body["items"][0]["orders"] == 5
    assert client.get("/api/kpis?month=2026-13&by=technician", headers=manager).status_code == 400
    assert client.get("/api/kpis?month=2026-11&by=team", headers=manager).status_code == 400
    assert client.get("/api/kpis?month=2026-11", headers=auth.token("tech1")).status_code == 403
    orders = client.get(
        f"/api/kpis/orders?month=2026-11&kpi=compliance&technician_id={month['tech']}", headers=manager
    ).get_json()
    assert {o["order_id"] for o in orders["items"] if not o["passed"]} == {month["d"]}
    csv = client.get("/api/kpis/export.csv?month=2026-11&by=technician", headers=manager)
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert "0.4" in csv.get_data(as_text=True).splitlines()[1]


def test_the_page_and_its_chart_data_show_the_api_numbers(client, auth, month):
    import json
    import re

    auth.login("manager")
    html = client.get("/kpis?month=2026-11").get_data(as_text=True)
    assert (
        "40.0 %" in html and "50.0 %" in html and "75.0 %" in html
    )  # completion, satisfaction/compliance, authenticity
    data = json.loads(re.search(r'<script type="application/json" id="trend-data">(.*?)</script>', html, re.S).group(1))
    november = next(m for m in data["trend"] if m["month"] == "2026-11")
    assert (november["completion_24h_rate"], november["authenticity_rate"]) == (0.4, 0.75)
    drill = client.get(f"/kpis/orders?month=2026-11&kpi=compliance&technician_id={month['tech']}").get_data(
        as_text=True
    )
    assert "returned as unqualified" in drill
    xlsx = client.get("/api/kpis/export.xlsx?month=2026-11&by=technician")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"


def test_a_closed_month_does_not_change_when_old_orders_do(client, auth, month, db_session):
    from datetime import UTC, datetime

    manager, admin = auth.token("manager"), auth.token("admin")
    live = client.get("/api/kpis?month=2026-11&by=technician", headers=manager).get_json()["items"][0]
    assert live["composite"] == round((0.4 * 0.4 + 0.3 * 0.5 + 0.15 * 0.75 + 0.15 * 0.75) / 1.0, 4)
    assert client.post("/api/kpis/close", json={"month": "2026-11"}, headers=manager).status_code == 201
    assert client.post("/api/kpis/close", json={"month": "2026-11"}, headers=manager).status_code == 409
    # Later: an old order's survey arrives, and an admin changes the weights.
    e = db_session.get(WorkOrder, month["e"])
    e.status, e.completed_at = "completed", datetime(2026, 11, 10, 3, tzinfo=UTC)
    db_session.commit()
    assert client.post("/api/kpi-weights", json={"weights": {"completion_24h": 1}}, headers=admin).status_code == 201
    frozen = client.get("/api/kpis?month=2026-11&by=technician", headers=manager).get_json()["items"][0]
    assert frozen["closed"] and frozen["completion_24h_rate"] == 0.4 and frozen["composite"] == live["composite"]
    bad = client.post("/api/kpi-weights", json={"weights": {"speed": 1}}, headers=admin)
    assert bad.status_code == 400
    assert client.post("/api/kpi-weights", json={"weights": {"completion_24h": 1}}, headers=manager).status_code == 403


def test_the_page_flags_teams_at_risk(client, auth, month):
    auth.login("manager")
    html = client.get("/kpis?month=2026-11").get_data(as_text=True)
    assert "completion_24h_rate below 85%" in html and "authenticity_rate below 90%" in html
