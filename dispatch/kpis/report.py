"""The KPI report as a read model: the month's table per team, its trend, the change since
last month and the risk watch, as plain data for the KPI page, the API and the exports.

Every function takes the session, the service area's time zone and the caller's outlet scope
(`outlet_id`: None sees every team; an outlet's staff see that outlet and its technicians).
Closed months come from their snapshots, scored with the weights they were closed with; open
months are computed live and scored with the current weights. Wording is the web's business:
a risk sign leaves here as a `RiskSign`, with the drill-down that lists its orders.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db import utcnow
from core.pagination import Page
from dispatch.kpis.cache import cached
from dispatch.kpis.closing import month_state, snapshot
from dispatch.kpis.facts import year_and_month
from dispatch.kpis.figures import EMPTY, KpiRow, composite, last_months, month_figures, overall_by_month_until
from dispatch.kpis.risk import risk_signs
from dispatch.kpis.settings import current_risk_thresholds, current_weights
from dispatch.models import WorkOrder
from dispatch.permissions import covers_outlet
from technicians.models import Outlet, Technician

# Figures added after some months were closed: their snapshots lack them (shown as none).
LATER_FIGURES = {"repairs": 0, "repeat_rate": None, "pending_24h": 0, "awaiting_score": 0, "repairs_pending": 0}
# The drill-down that lists the orders behind each risk sign (returns show up as compliance failures).
DRILL_OF = {
    "completion_24h_rate": "completion_24h", "satisfaction_rate": "satisfaction", "compliance_rate": "compliance",
    "authenticity_rate": "authenticity", "return_rate": "compliance", "repeat_rate": "repeat_repairs",
}  # fmt: skip
TEAMS = ("outlet", "technician")  # the groupings the risk watch looks at


def current_month(tz: ZoneInfo, now: datetime | None = None) -> str:
    """This month in the service area, as YYYY-MM."""
    return (now or utcnow()).astimezone(tz).strftime("%Y-%m")


# The technician table's sort keys (the page shows TECHNICIANS_PER_PAGE of up to thousands).
TECHNICIAN_SORTS = (
    "rank", "orders", "completion_24h_rate", "change", "satisfaction_rate", "compliance_rate",
    "authenticity_rate", "repeat_rate", "composite",
)  # fmt: skip
TECHNICIANS_PER_PAGE = 50


def technician_page(
    technicians: list[dict[str, Any]],
    sort: str = "rank",
    descending: bool = False,
    page: int = 1,
    per_page: int = TECHNICIANS_PER_PAGE,
) -> Page[dict[str, Any]]:
    """One page of the month's technicians (as `month_report` ranks them, each given its
    `rank`), sorted by one of `TECHNICIAN_SORTS`; a technician without the figure comes last
    either way, ties keep the ranking's order. A page past the last is the last."""
    if sort not in TECHNICIAN_SORTS:
        raise ValueError(f"sort must be one of {TECHNICIAN_SORTS}")
    rows = [r | {"rank": i} for i, r in enumerate(technicians, start=1)]
    have = [r for r in rows if r.get(sort) is not None]
    have.sort(key=lambda r: r[sort], reverse=descending)
    rows = have + [r for r in rows if r.get(sort) is None]
    pages = max(1, -(-len(rows) // per_page))
    page = min(max(page, 1), pages)
    return Page(rows[(page - 1) * per_page : page * per_page], page, per_page, len(rows))


def months_with_orders(session: Session, tz: ZoneInfo, now: datetime | None = None) -> list[str]:
    """The months a user can pick, latest first: from this month (or the last order's, if
    later) back to the first order's month (two index lookups, not a scan of the orders)."""
    first, last = session.execute(select(func.min(WorkOrder.created_at), func.max(WorkOrder.created_at))).one()
    latest = current_month(tz, now)
    if first is None:
        return [latest]
    latest = max(latest, last.astimezone(tz).strftime("%Y-%m"))
    earliest = first.astimezone(tz).strftime("%Y-%m")
    year, mon = year_and_month(latest)
    months = []
    while f"{year:04d}-{mon:02d}" >= earliest:
        months.append(f"{year:04d}-{mon:02d}")
        year, mon = (year - 1, 12) if mon == 1 else (year, mon - 1)
    return months


def _frozen(row: dict[str, Any]) -> dict[str, Any]:
    """A snapshot row with the figures added since it was frozen (nothing was pending then
    unless it says so: `decided` defaults to its orders)."""
    return {"decided": row.get("orders")} | LATER_FIGURES | row | {"closed": True}


def live_rows(session: Session, month: str, by: str, tz: ZoneInfo, now: datetime) -> list[KpiRow]:
    """An open month's rows of one grouping: every grouping is computed together (one query)
    and kept until an event commits or a pending window ends (`cache`)."""

    def compute() -> tuple[dict[str, list[KpiRow]], datetime | None]:
        figures = month_figures(session, month, tz, now)
        return figures.rows, figures.changes_at

    return cached(session, ("month", month, str(tz)), now, compute)[by]


def table(
    session: Session, month: str, by: str, tz: ZoneInfo, outlet_id: int | None = None, now: datetime | None = None
) -> list[dict[str, Any]]:
    """The month's rows with a display name and composite, within the caller's outlet scope.
    A closed month comes from its snapshot, with the weights it was scored with; an open one
    is computed with what is still pending at `now` (default: the clock) counted beside."""
    frozen = snapshot(session, month, by)
    if frozen is not None:
        rows = [_frozen(r) for r in frozen[0]]
        if by == "all":
            rows = [r | {"key": None} for r in rows]
    else:
        _, weights = current_weights(session)
        rows = [
            r.as_dict() | {"composite": composite(r.as_dict(), weights), "closed": False}
            for r in live_rows(session, month, by, tz, now or utcnow())
        ]
    if by == "technician":
        techs = {
            t.id: t
            for t in session.execute(
                select(Technician.id, Technician.name, Technician.outlet_id).where(
                    Technician.id.in_([r["key"] for r in rows])
                )
            )
        }
        rows = [
            r | {"name": techs[r["key"]].name, "outlet_id": techs[r["key"]].outlet_id}
            for r in rows
            if covers_outlet(outlet_id, techs[r["key"]].outlet_id)
        ]
    elif by == "outlet":
        names = {o.id: o.name for o in session.execute(select(Outlet.id, Outlet.name))}
        rows = [r | {"name": names.get(r["key"], "")} for r in rows if covers_outlet(outlet_id, r["key"])]
    else:
        rows = [r | {"name": "all"} for r in rows]
    return rows


def overall_trend(
    session: Session, months: list[str], tz: ZoneInfo, now: datetime | None = None, computed: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """The overall row of each month, as `table(session, month, "all", tz)` gives it: closed
    months from their snapshots, the open ones together in one grouped query — except the
    `computed` ones, whose every grouping the caller reads anyway (the page's last month): their
    overall row comes from that same cached computation instead of being read twice."""
    now = now or utcnow()
    frozen = {m: snapshot(session, m, "all") for m in months}
    open_months = [m for m in months if frozen[m] is None and m not in computed]
    live = cached(
        session,
        ("trend", tuple(open_months), str(tz)),
        now,
        lambda: overall_by_month_until(session, open_months, tz, now),
    )
    _, weights = current_weights(session)
    trend = []
    for m in months:
        if frozen[m] is not None:
            rows = [_frozen(r) | {"key": None, "name": "all"} for r in frozen[m][0]]
        else:
            row = live[m] if m in live else next(iter(live_rows(session, m, "all", tz, now)), EMPTY)
            figures = row.as_dict()
            rows = [figures | {"composite": composite(figures, weights), "closed": False, "name": "all"}]
        trend.append({"month": m, **(rows[0] if rows else {})})
    return trend


def completion_change(row: dict[str, Any], before: dict[str, Any] | None) -> float | None:
    """The 24-hour completion rate's change since last month (0.05 = 5 points up); None for a
    team that had no row last month."""
    if before is None:
        return None
    return round((row["completion_24h_rate"] or 0) - (before["completion_24h_rate"] or 0), 4)


def _with_signs(
    session: Session,
    month: str,
    by: str,
    tz: ZoneInfo,
    outlet_id: int | None,
    thresholds: dict[str, float],
    now: datetime,
) -> list[dict[str, Any]]:
    """The month's rows, each with its risk `signs` and its `completion_change` since last month."""
    before = {r["key"]: r for r in table(session, last_months(month, 2)[0], by, tz, outlet_id, now)}
    return [
        row | {"signs": risk_signs(row, old, thresholds), "change": completion_change(row, old)}
        for row in table(session, month, by, tz, outlet_id, now)
        for old in [before.get(row["key"])]
    ]


def risk_watch(
    session: Session, month: str, tz: ZoneInfo, outlet_id: int | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Outlets and technicians flagged this month (within the caller's scope), each with its
    risk signs (`RiskSign`, worded by the caller). Teams with fewer decided orders than the
    `min_orders` threshold are not judged."""
    version, thresholds = current_risk_thresholds(session)
    now = now or utcnow()
    items = [
        {
            "kind": by,
            "key": row["key"],
            "name": row["name"],
            "orders": row["orders"],
            "decided": row["decided"],
            "signs": row["signs"],
        }
        for by in TEAMS
        for row in _with_signs(session, month, by, tz, outlet_id, thresholds, now)
        if row["signs"]
    ]
    return {"month": month, "thresholds_version": version, "items": items}


def month_report(
    session: Session, month: str, tz: ZoneInfo, outlet_id: int | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """The KPI page's month: outlets, technicians ranked by 24-hour completion with the change
    since last month, each team with its risk `signs`; the overall row; the 12-month trend
    (the eleven months before from snapshots or one grouped query, then this one); and the
    risk thresholds in force; and whether the month is final, or what is still pending (`state`)."""
    version, thresholds = current_risk_thresholds(session)
    now = now or utcnow()
    technicians = sorted(
        _with_signs(session, month, "technician", tz, outlet_id, thresholds, now),
        key=lambda r: -(r["completion_24h_rate"] or 0),
    )
    outlets = _with_signs(session, month, "outlet", tz, outlet_id, thresholds, now)
    overall = table(session, month, "all", tz, outlet_id, now)
    trend = [
        *overall_trend(session, last_months(month, 12)[:-1], tz, now, computed=(last_months(month, 2)[0],)),
        {"month": month, **(overall[0] if overall else {})},
    ]
    return {
        "month": month, "previous": last_months(month, 2)[0], "technicians": technicians, "outlets": outlets,
        "overall": overall, "trend": trend, "thresholds": thresholds, "thresholds_version": version,
        "state": month_state(month, tz, overall[0] if overall else None, now),
    }  # fmt: skip
