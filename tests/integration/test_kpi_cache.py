"""The month's figures in one query, kept until an event or the clock changes them: on the
hand-built month of test_kpi_pending (fast, late, and an open order taken 24 h after them)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event

from dispatch import kpis
from dispatch.kpis import report
from dispatch.kpis.figures import month_figures
from dispatch.moves import Position
from tests.integration.test_kpi_pending import EARLY, LATER, T, Walk, orders  # noqa: F401 - the fixture
from tests.integration.test_kpis import ADDRESS, TZ


def test_every_grouping_from_one_query_equals_each_grouping_asked_alone(db_session, orders):  # noqa: F811
    for now in (EARLY, LATER, None):
        together = month_figures(db_session, "2026-11", TZ, now).rows
        for by in kpis.GROUPS:
            assert together[by] == kpis.monthly(db_session, "2026-11", by, TZ, now), (by, now)
    empty = month_figures(db_session, "2026-10", TZ, EARLY).rows
    assert empty == {by: kpis.monthly(db_session, "2026-10", by, TZ, EARLY) for by in kpis.GROUPS}
    db_session.rollback()


def _statements(db_session) -> list[str]:
    """The SQL statements the session's engine runs from now on (a list that fills)."""
    seen: list[str] = []
    engine = db_session.get_bind()
    event.listen(engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    return seen


def test_a_second_read_with_nothing_changed_does_not_compute_the_month_again(db_session, orders):  # noqa: F811
    first = report.month_report(db_session, "2026-11", TZ, now=EARLY)
    seen = _statements(db_session)
    again = report.month_report(db_session, "2026-11", TZ, now=EARLY)
    watch = report.risk_watch(db_session, "2026-11", TZ, now=EARLY)
    db_session.rollback()
    assert again == first
    assert watch["month"] == "2026-11"
    # Only the version, snapshots, settings and names are read: no month's facts.
    assert not [s for s in seen if "sla_clocks" in s], seen


def test_an_event_that_changes_the_months_figures_makes_the_next_read_fresh(
    app,
    network,
    auth,
    db_session,
    orders,  # noqa: F811
):
    (before,) = report.table(db_session, "2026-11", "technician", TZ, now=EARLY)
    trend_before = report.month_report(db_session, "2026-12", TZ, now=EARLY)["trend"][-2]
    db_session.rollback()
    assert (before["completed"], before["pending_24h"]) == (2, 1)
    walk = Walk(app, auth.token("dispatcher"), network, db_session)
    opened, at = orders["open"], T + timedelta(hours=25)  # done an hour after it was taken
    walk.move(opened, "accept", at - timedelta(minutes=50))
    walk.move(opened, "contact", at - timedelta(minutes=45))
    walk.move(opened, "depart", at - timedelta(minutes=40))
    walk.move(opened, "arrive", at - timedelta(minutes=20), position=Position(*ADDRESS, 10.0))
    walk.move(opened, "complete", at)
    db_session.commit()
    (after,) = report.table(db_session, "2026-11", "technician", TZ, now=EARLY)
    trend_after = report.month_report(db_session, "2026-12", TZ, now=EARLY)["trend"][-2]
    db_session.rollback()
    assert (after["completed"], after["pending_24h"], after["completion_24h_rate"]) == (3, 0, round(2 / 3, 4))
    assert trend_before["month"] == trend_after["month"] == "2026-11"
    assert (trend_before["completed"], trend_after["completed"]) == (2, 3)


def test_a_cached_open_order_is_failed_once_its_24_hours_pass_without_any_event(db_session, orders):  # noqa: F811
    (early,) = report.table(db_session, "2026-11", "technician", TZ, now=EARLY)
    (later,) = report.table(db_session, "2026-11", "technician", TZ, now=LATER)  # no event in between
    trend = report.month_report(db_session, "2026-12", TZ, now=LATER)["trend"][-2]
    db_session.rollback()
    assert (early["pending_24h"], early["completion_24h_rate"]) == (1, 0.5)
    assert (later["pending_24h"], later["completion_24h_rate"]) == (0, round(1 / 3, 4))
    assert (trend["month"], trend["pending_24h"]) == ("2026-11", 0)
