"""The demo city tells a true story: its KPIs look like an outlet's month, not like a disaster."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from dispatch.demo import seed_demo
from dispatch.kpis import report
from dispatch.models import WorkOrderEvent

NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # the demo's 30 days: most of November, a week of December
MONTH = "2026-11"


def test_the_demos_risk_watch_flags_a_few_technicians_and_its_rates_are_believable(app, db_session):
    tz = app.config["TIMEZONE"]
    seed_demo(db_session, timezone=tz, now=NOW)

    (overall,) = report.table(db_session, MONTH, "all", tz, now=NOW)
    technicians = report.table(db_session, MONTH, "technician", tz, now=NOW)
    watch = report.risk_watch(db_session, MONTH, tz, now=NOW)
    # The use cases committed to savepoints: their events still got their final numbers, 1 … n.
    count, first, last = db_session.execute(
        select(func.count(), func.min(WorkOrderEvent.seq), func.max(WorkOrderEvent.seq))
    ).one()
    db_session.rollback()
    assert (first, last) == (1, count)

    # Most technicians call the customer within the contact promise and finish within 24 hours.
    assert 0.75 <= overall["compliance_rate"] <= 0.97
    assert 0.75 <= overall["completion_24h_rate"] <= 0.97
    assert 0.8 <= overall["satisfaction_rate"] <= 0.98
    assert overall["return_rate"] <= 0.08
    judged = [t for t in technicians if t["decided"] >= 5]
    flagged = [item for item in watch["items"] if item["kind"] == "technician"]
    assert len(judged) >= 15
    assert 1 <= len(flagged) <= len(judged) // 2, [(i["name"], [s.text for s in i["signs"]]) for i in flagged]
