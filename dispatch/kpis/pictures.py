"""The KPI page's pictures as plain data: the tiles' change since last month, the month's daily
trend, the failing orders by reason, the technicians' ranking and the trend over the months
that have orders. The web draws them (web/static/kpis.js) and words them; the numbers come
from the same reads as the tables (`report`) and the drill-down (`drilldown`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, select
from sqlalchemy.orm import Session

from core.db import utcnow
from dispatch.kpis.cache import cached
from dispatch.kpis.drilldown import KPIS, drill_down, reason_groups
from dispatch.kpis.facts import month_bounds, month_ids, prepare_reads
from dispatch.kpis.figures import _figures, _flips, _row, changes_at, last_months
from dispatch.kpis.report import table
from dispatch.kpis.stored import stored_facts

FIGURES = ("completion_24h_rate", "satisfaction_rate", "compliance_rate", "authenticity_rate")
RANKED = 20  # the ranking picture shows all technicians up to twice this, else the best and the worst this many


def tile_changes(
    session: Session,
    month: str,
    tz: ZoneInfo,
    overall: dict[str, Any] | None,
    outlet_id: int | None = None,
    now: datetime | None = None,
) -> dict[str, float | None]:
    """Each of the four figures' change since last month, in shares (0.052 = 5.2 points up);
    None where either month has no such figure. Last month's overall row comes from its
    snapshot or the open months' cache (the page already read it for the risk watch)."""
    before = table(session, last_months(month, 2)[0], "all", tz, outlet_id, now)
    old = before[0] if before and before[0].get("orders") else None
    return {
        f: None if old is None or overall is None or overall.get(f) is None or old.get(f) is None
        else round(overall[f] - old[f], 4)
        for f in FIGURES
    }  # fmt: skip


def picked(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a picture needs of each row (the page embeds it as JSON): whose or which month,
    the orders and the four figures."""
    keep = ("key", "name", "month", "orders", *FIGURES)
    return [{k: r[k] for k in keep if k in r} for r in rows]


def months_with_data(trend: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The trend's months that have orders (a year's line is not ten empty months and two points)."""
    return [m for m in trend if m.get("orders")]


def ranking(technicians: list[dict[str, Any]], n: int = RANKED) -> dict[str, Any]:
    """The technicians ranked by 24-hour completion, worst last (as the table ranks them);
    with more than 2n, the n best and the n worst (`cut`: how many are left out between)."""
    ranked = [t for t in technicians if t.get("completion_24h_rate") is not None]
    if len(ranked) <= 2 * n:
        return {"items": ranked, "cut": 0}
    return {"items": ranked[:n] + ranked[-n:], "cut": len(ranked) - 2 * n}


def _days(month: str, tz: ZoneInfo, now: datetime) -> list[tuple[str, datetime, datetime]]:
    """The month's days in the service area's time zone, up to today for the running month."""
    start, end = month_bounds(month, tz)
    days, day = [], start
    while day < end and day <= now:
        following = (day + timedelta(days=1)).replace(hour=0)  # wall-clock midnight, whatever the offset
        days.append((day.date().isoformat(), day, following))
        day = following
    return days


def _daily(session: Session, month: str, tz: ZoneInfo, now: datetime) -> tuple[list[dict[str, Any]], datetime | None]:
    """The month's overall figures day by day, and when the clock alone changes them."""
    days = _days(month, tz, now)
    start, end = month_bounds(month, tz)
    ids = month_ids(session, start, end)
    found: dict[str, Any] = {}
    changes = None
    if ids is not None and days:
        prepare_reads(session)
        facts = stored_facts(start, end, session.get_bind().dialect.name, now=now).subquery()
        label = case(*((and_(facts.c.intake_at >= a, facts.c.intake_at < b), d) for d, a, b in days))
        rows = list(session.execute(select(label.label("day"), *_figures(facts), *_flips(facts)).group_by(label)))
        found = {r.day: _row(None, r).as_dict() for r in rows if r.day is not None}
        changes = min((c for c in map(changes_at, rows) if c is not None), default=None)
    empty = {"orders": 0, **dict.fromkeys(FIGURES)}
    return [{"day": d, **found.get(d, empty)} for d, _, _ in days], changes


def failure_reasons(
    session: Session, month: str, tz: ZoneInfo, outlet_id: int | None = None, now: datetime | None = None
) -> dict[str, list[tuple[str, int]]]:
    """Per KPI, the month's failing orders by reason: `reason_groups` of the drill-down's
    failing rows (a pending order is no failure), within the caller's outlet scope."""
    out = {}
    for kpi in KPIS:
        rows = drill_down(session, month, kpi, tz, outlet_id=outlet_id, now=now or utcnow())
        out[kpi] = reason_groups([r for r in rows if r["passed"] is False])
    return out


def month_pictures(
    session: Session, month: str, tz: ZoneInfo, outlet_id: int | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """The pictures the page loads after it is shown (they read every order of the month, not
    one row per team): the daily trend (overall: by intake day, up to today; a day without
    orders has `orders` 0 and no rates) and the failing orders by reason per KPI. Kept like
    the month's figures (`cache`): until an event commits or a pending window ends."""
    now = now or utcnow()

    def compute() -> tuple[dict[str, Any], datetime | None]:
        days, changes = _daily(session, month, tz, now)
        return {"daily": days, "reasons": failure_reasons(session, month, tz, outlet_id, now)}, changes

    return cached(session, ("pictures", month, str(tz), outlet_id), now, compute)
