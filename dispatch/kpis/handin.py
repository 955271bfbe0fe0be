"""The month a manager hands in (the monthly XLSX and PDF reports): the KPI page's read model
(`report.month_report`: tiles, outlets, technicians, trend, risk signs, what is pending) with,
for each figure, the orders that failed it and their reasons grouped, all within the caller's
outlet scope and judged at one `now`. Plain data; the web words it and lays it out."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import utcnow
from dispatch.kpis.drilldown import DRILLS, drill_down, drill_scope, reason_groups
from dispatch.kpis.report import month_report
from technicians.models import Outlet


def monthly_report(
    session: Session, month: str, tz: ZoneInfo, outlet_id: int | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """`month_report` (the page's figures) plus `failures`: per drill-down figure (`DRILLS`),
    the failing orders (`rows`, as `drill_down` gives them; pending orders are not failures) and
    their reasons with counts (`groups`); `scope` names the outlet (None: every outlet),
    `outlet_names` maps outlet ids to names, `generated_at` is `now`."""
    now = now or utcnow()
    report = month_report(session, month, tz, outlet_id, now)
    failures = {}
    for kpi in DRILLS:
        failing = drill_down(session, month, kpi, tz, outlet_id=outlet_id, now=now, failing_only=True)
        failures[kpi] = {"rows": failing, "groups": reason_groups(failing)}
    outlet_names = {o.id: o.name for o in session.execute(select(Outlet.id, Outlet.name))}
    scope = drill_scope(session, None, outlet_id)
    return report | {"failures": failures, "scope": scope, "outlet_names": outlet_names, "generated_at": now}


HANDED_IN_PER_OUTLET = 5  # the PDF names each outlet's best and worst this many technicians


def best_and_worst(
    technicians: list[dict[str, Any]], n: int = HANDED_IN_PER_OUTLET
) -> dict[int | None, dict[str, list[dict[str, Any]]]]:
    """Per outlet id, its `best` n and `worst` n technicians by 24-hour completion (the
    technicians as `month_report` ranks them, best first); a technician is in one list only,
    so an outlet of fewer than 2n technicians shows each once. Technicians with no decided
    order (no rate) are in neither: nothing can be said of them yet. The PDF a manager hands
    in carries these; the workbook carries every technician."""
    by_outlet: dict[int | None, list[dict[str, Any]]] = {}
    for row in technicians:
        if row.get("completion_24h_rate") is not None:
            by_outlet.setdefault(row.get("outlet_id"), []).append(row)
    out = {}
    for outlet, rows in by_outlet.items():
        ranked = sorted(rows, key=lambda r: (-r["completion_24h_rate"], r["name"]))
        best = ranked[:n]
        worst = list(reversed(ranked[len(best) :]))[:n]
        out[outlet] = {"best": best, "worst": worst}
    return out
