"""The month's figures: SQL aggregates of the per-order facts, by technician, outlet or overall,
and the composite score that weighs them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, literal, null, select, tuple_, union_all
from sqlalchemy.orm import Session

from dispatch.kpis.facts import (
    COMPLETION_WINDOW,
    GROUPS,
    REPEAT_DAYS,
    month_bounds,
    month_ids,
    order_facts,
    prepare_reads,
    year_and_month,
)
from dispatch.kpis.settings import RATE_OF
from dispatch.kpis.stored import stored_facts


@dataclass(frozen=True)
class KpiRow:
    key: int | None  # technician id, outlet id, or None for all
    orders: int
    completed: int
    completion_24h_rate: float | None
    satisfaction_rate: float | None
    satisfaction_mean: float | None
    rated: int
    compliance_rate: float | None
    authenticity_rate: float | None
    return_rate: float | None = None  # completed orders returned as unqualified at least once
    repairs: int = 0  # completed repairs
    repeat_rate: float | None = None  # completed repairs whose product came back within REPEAT_DAYS
    # Still pending at the `now` asked about, left out of their rate's denominator:
    pending_24h: int = 0  # open orders still within their 24 hours
    awaiting_score: int = 0  # completed orders whose customer may still score them (callback window)
    repairs_pending: int = 0  # completed repairs still within REPEAT_DAYS that have not come back
    decided: int | None = None  # orders whose 24-hour decision is made (orders - pending_24h)

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _rate(part: Any, whole: Any) -> float | None:
    return round(float(part) / float(whole), 4) if whole else None


def _figures(facts: Any) -> list[Any]:
    """The aggregate columns of a KpiRow over `order_facts` rows."""
    return [
        func.count().label("orders"),
        func.sum(facts.c.completed).label("completed"),
        func.sum(facts.c.within_24h).label("within"),
        func.count(facts.c.score).label("rated"),
        func.sum(case((facts.c.score >= 4, 1), else_=0)).label("satisfied"),
        func.avg(facts.c.score).label("mean"),
        func.sum(facts.c.compliant).label("compliant"),
        func.sum(facts.c.authentic).label("authentic"),
        func.sum(facts.c.returned).label("returned"),
        func.sum(facts.c.repair).label("repairs"),
        func.sum(facts.c.repeated).label("repeated"),
        func.sum(facts.c.pending_24h).label("pending_24h"),
        func.sum(facts.c.awaiting_score).label("awaiting_score"),
        func.sum(facts.c.repeat_pending).label("repairs_pending"),
    ]


def _flips(facts: Any) -> list[Any]:
    """When the earliest pending order stops being pending (its 24 hours, callback window or
    REPEAT_DAYS end): the first instants after which the same data gives other figures."""
    return [
        func.min(case((facts.c.pending_24h == 1, facts.c.intake_at))).label("first_pending_intake"),
        func.min(case((facts.c.awaiting_score == 1, facts.c.callback_due_at))).label("first_callback_due"),
        func.min(case((facts.c.repeat_pending == 1, facts.c.finished_at))).label("first_pending_completion"),
    ]


def changes_at(r: Any) -> datetime | None:
    """The moment the figures of a row with `_flips` columns change by the clock alone (None:
    nothing is pending, only new events change them)."""
    times = [
        r.first_pending_intake and r.first_pending_intake + COMPLETION_WINDOW,
        r.first_callback_due,
        r.first_pending_completion and r.first_pending_completion + timedelta(days=REPEAT_DAYS),
    ]
    return min((t for t in times if t is not None), default=None)


def _row(key: int | None, r: Any) -> KpiRow:
    pending, repairs, repairs_pending = int(r.pending_24h or 0), int(r.repairs or 0), int(r.repairs_pending or 0)
    return KpiRow(
        key=key,
        orders=r.orders,
        completed=int(r.completed or 0),
        completion_24h_rate=_rate(r.within or 0, r.orders - pending),
        satisfaction_rate=_rate(r.satisfied or 0, r.rated),
        satisfaction_mean=round(float(r.mean), 2) if r.mean is not None else None,
        rated=r.rated,
        compliance_rate=_rate(r.compliant or 0, r.completed),
        authenticity_rate=_rate(r.authentic or 0, r.completed),
        return_rate=_rate(r.returned or 0, r.completed),
        repairs=repairs,
        repeat_rate=_rate(r.repeated or 0, repairs - repairs_pending),
        pending_24h=pending,
        awaiting_score=int(r.awaiting_score or 0),
        repairs_pending=repairs_pending,
        decided=r.orders - pending,
    )


EMPTY = KpiRow(None, 0, 0, None, None, None, 0, None, None, None, decided=0)  # overall, a month without orders


def monthly(session: Session, month: str, by: str, tz: ZoneInfo, now: datetime | None = None) -> list[KpiRow]:
    """The month's figures per technician, per outlet, or overall — aggregated in SQL; what is
    still pending at `now` is counted beside its figure, not in it (None: nothing pending)."""
    if by not in GROUPS:
        raise ValueError(f"by must be one of {GROUPS}")
    start, end = month_bounds(month, tz)
    ids = month_ids(session, start, end)
    if ids is None:  # no orders: overall, one row of zeros (as the aggregate would give)
        return [EMPTY] if by == "all" else []
    prepare_reads(session)
    facts = stored_facts(start, end, session.get_bind().dialect.name, now=now).subquery()
    key = {"technician": facts.c.technician_id, "outlet": facts.c.outlet_id, "all": literal(None)}[by]
    query = select(key.label("key"), *_figures(facts))
    if by != "all":
        query = query.group_by(key).order_by(key)
    # Orders never assigned count overall, not for anyone in particular.
    return [_row(r.key, r) for r in session.execute(query) if by == "all" or r.key is not None]


@dataclass(frozen=True)
class MonthFigures:
    """Every grouping of a month (`GROUPS` → rows, as `monthly` gives them) and when the clock
    alone changes them (`changes_at`, None: only new events do)."""

    rows: dict[str, list[KpiRow]]
    changes_at: datetime | None


def month_figures(session: Session, month: str, tz: ZoneInfo, now: datetime | None = None) -> MonthFigures:
    """The month's figures per technician, per outlet and overall in one query: GROUPING SETS
    on PostgreSQL (the facts are read once), a UNION ALL over one CTE on SQLite (which has no
    grouping sets and materialises a CTE read more than once). The same rows as `monthly`."""
    start, end = month_bounds(month, tz)
    ids = month_ids(session, start, end)
    if ids is None:
        return MonthFigures({"technician": [], "outlet": [], "all": [EMPTY]}, None)
    prepare_reads(session)
    dialect = session.get_bind().dialect.name
    facts = stored_facts(start, end, dialect, now=now)

    def columns(f: Any) -> list[Any]:
        return [*_figures(f), *_flips(f)]

    if dialect == "postgresql":
        f = facts.subquery()
        tech, outlet = f.c.technician_id, f.c.outlet_id
        # GROUPING(tech, outlet): 1 = grouped by technician, 2 = by outlet, 3 = overall.
        level = func.grouping(tech, outlet)
        query = select(level.label("level"), func.coalesce(tech, outlet).label("key"), *columns(f)).group_by(
            func.grouping_sets(tuple_(tech), tuple_(outlet), tuple_())
        )
    else:
        f = facts.cte("facts")
        query = union_all(
            select(literal(1).label("level"), f.c.technician_id.label("key"), *columns(f)).group_by(f.c.technician_id),
            select(literal(2), f.c.outlet_id, *columns(f)).group_by(f.c.outlet_id),
            select(literal(3), null(), *columns(f)),
        )
    rows: dict[str, list[KpiRow]] = {"technician": [], "outlet": [], "all": []}
    changes = None
    for r in session.execute(query):
        by = {1: "technician", 2: "outlet", 3: "all"}[r.level]
        if by == "all":
            changes = changes_at(r)
            rows[by].append(_row(None, r))
        elif r.key is not None:  # orders never assigned count overall, not for anyone in particular
            rows[by].append(_row(r.key, r))
    for by in ("technician", "outlet"):
        rows[by].sort(key=lambda row: row.key)
    return MonthFigures(rows, changes)


def overall_by_month(
    session: Session, months: list[str], tz: ZoneInfo, now: datetime | None = None
) -> dict[str, KpiRow]:
    """The overall figures of several months in one query grouped by month — the same numbers
    as `monthly(session, m, "all", tz)` for each (the KPI page's trend: one query, not twelve)."""
    return overall_by_month_until(session, months, tz, now)[0]


def overall_by_month_until(
    session: Session, months: list[str], tz: ZoneInfo, now: datetime | None = None
) -> tuple[dict[str, KpiRow], datetime | None]:
    """`overall_by_month`, and when the clock alone changes any of its months (None: only
    new events do)."""
    if not months:
        return {}, None
    bounds = {m: month_bounds(m, tz) for m in months}
    start, end = min(a for a, _ in bounds.values()), max(b for _, b in bounds.values())
    ids = month_ids(session, start, end)
    out = dict.fromkeys(months, EMPTY)
    if ids is None:
        return out, None
    prepare_reads(session)
    dialect = session.get_bind().dialect.name
    facts = stored_facts(start, end, dialect, periods=list(bounds.values()), now=now).subquery()
    label = case(*((and_(facts.c.intake_at >= a, facts.c.intake_at < b), m) for m, (a, b) in bounds.items()))
    query = select(label.label("month"), *_figures(facts), *_flips(facts)).group_by(label)
    changes = []
    for r in session.execute(query):
        if r.month in out:
            out[r.month] = _row(None, r)
            changes.append(changes_at(r))
    return out, min((c for c in changes if c is not None), default=None)


def last_months(month: str, n: int) -> list[str]:
    year, mon = year_and_month(month)
    result = []
    for _ in range(n):
        result.append(f"{year:04d}-{mon:02d}")
        year, mon = (year - 1, 12) if mon == 1 else (year, mon - 1)
    return list(reversed(result))


def composite(figures: dict[str, Any], weights: dict[str, float]) -> float | None:
    """Weighted mean of the rates that exist (a team nobody rated is not punished for it)."""
    parts = [(w, figures.get(RATE_OF[k])) for k, w in weights.items() if w > 0]
    parts = [(w, r) for w, r in parts if r is not None]
    total = sum(w for w, _ in parts)
    return round(sum(w * r for w, r in parts) / total, 4) if total else None


def period(session: Session, start: datetime, end: datetime, now: datetime | None = None) -> KpiRow:
    """The overall figures of the orders created in [start, end), any span (the policy lab's
    simulated weeks); the same aggregate as a month's overall row."""
    facts = order_facts(start, end, session.get_bind().dialect.name, now=now).subquery()
    r = session.execute(select(*_figures(facts))).one()
    return _row(None, r) if r.orders else EMPTY
