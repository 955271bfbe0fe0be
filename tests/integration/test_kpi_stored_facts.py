"""Each counted order's KPI facts kept as a row (`order_kpi_facts`): on the hand-built months
of test_kpis.py the rows the changes wrote are exactly what the derivation from events,
clocks, photos, verdicts, surveys and callbacks gives, at any `now`; a change to an order
rewrites its row in the commit that makes it, and a rolled-back change does not."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch import customer, kpis
from dispatch.kpis.facts import order_facts
from dispatch.kpis.stored import FACTS, stored_facts
from dispatch.models import WorkOrder
from tests.integration.test_kpis import S0, T0, TZ, month, repeats  # noqa: F401  (fixtures)


def rows(session, query) -> dict[int, dict]:
    return {r["order_id"]: dict(r) for r in session.execute(query).mappings()}


def kept_and_derived(session, name: str, now) -> tuple[dict, dict]:
    start, end = kpis.month_bounds(name, TZ)
    dialect = session.get_bind().dialect.name
    derived = rows(session, order_facts(start, end, dialect, now=now))
    for row in derived.values():
        del row["open"]  # kept as the instant-free half of pending_24h
    return rows(session, stored_facts(start, end, dialect, now=now)), derived


def test_the_kept_rows_are_the_derivation_at_any_time(db_session, month):  # noqa: F811
    # Before the 24 hours, in the callback window, after everything: the same rows.
    for now in (None, T0 + timedelta(hours=2), T0 + timedelta(days=3), T0 + timedelta(days=60)):
        kept, derived = kept_and_derived(db_session, "2026-11", now)
        assert kept == derived, now
        assert set(kept) == {month[k] for k in "abdef"}  # c was cancelled by its customer: no row
    kept, _ = kept_and_derived(db_session, "2026-11", T0 + timedelta(hours=2))
    assert kept[month["e"]]["pending_24h"] == 1  # open and 2 h old
    kept, _ = kept_and_derived(db_session, "2026-11", T0 + timedelta(hours=25))
    assert kept[month["e"]]["pending_24h"] == 0 and kept[month["e"]]["within_24h"] == 0  # 25 h and open: failed
    # The backfill (the migration's) writes the same rows as the changes did.
    before = rows(db_session, select(FACTS))
    assert kpis.refresh_all(db_session) == len(before)
    assert rows(db_session, select(FACTS)) == before
    db_session.rollback()


def test_a_later_repair_makes_the_earlier_one_a_repeat_in_its_row(db_session, repeats):  # noqa: F811
    for now in (None, S0 + timedelta(days=10), S0 + timedelta(days=90)):
        kept, derived = kept_and_derived(db_session, "2026-09", now)
        assert kept == derived, now
    kept, _ = kept_and_derived(db_session, "2026-09", None)
    assert {oid for oid, r in kept.items() if r["repeated"]} == {repeats["p"], repeats["t"]}
    db_session.rollback()


def test_a_change_rewrites_the_row_in_its_commit_and_a_rollback_does_not(app, db_session, month):  # noqa: F811
    def seen_elsewhere(oid: int) -> dict:
        with Session(db_session.get_bind().engine) as other:  # another connection: committed rows only
            return dict(other.execute(select(FACTS).where(FACTS.c.order_id == oid)).mappings().one())

    e = month["e"]
    assert seen_elsewhere(e)["open"] == 1
    order = db_session.get(WorkOrder, e)
    order.status = "cancelled"  # a direct change through the ORM, rolled back
    db_session.flush()
    db_session.rollback()
    assert seen_elsewhere(e)["open"] == 1
    # The customer scores a: its row has the survey's score once that commits.
    b = month["b"]
    assert seen_elsewhere(b)["score"] is None
    token = customer.issue_tracking_token(db_session.get(WorkOrder, b))
    db_session.commit()
    customer.submit_survey(db_session, token, True, 2, "", now=T0 + timedelta(days=2))
    assert seen_elsewhere(b)["score"] == 2
    kept, derived = kept_and_derived(db_session, "2026-11", None)
    assert kept == derived
    (row,) = kpis.monthly(db_session, "2026-11", "technician", TZ)
    assert (row.rated, row.satisfaction_rate) == (3, round(1 / 3, 4))  # a: 5, f: 3, b: 2
    db_session.rollback()
