"""The manager's monthly KPI page: the four numbers per outlet and technician, ranked, against
last month, a 12-month trend, and every number a link to the orders behind it."""

from __future__ import annotations

from flask import current_app, render_template, request

from core.db import utcnow
from dispatch import kpis
from web.api.kpis import table
from web.auth import current_actor, roles_required
from web.extensions import db
from web.pages.base import bp


def _month_arg() -> str:
    month = request.args.get("month", "")
    if (
        len(month) == 7
        and month[4] == "-"
        and month[:4].isdigit()
        and month[5:].isdigit()
        and 1 <= int(month[5:]) <= 12
    ):
        return month
    return utcnow().astimezone(current_app.config["TIMEZONE"]).strftime("%Y-%m")


@bp.get("/kpis")
@roles_required("admin", "manager", "dispatcher")
def kpi_page():
    """The month's KPIs per outlet and per technician."""
    month = _month_arg()
    previous = kpis.last_months(month, 2)[0]
    before = {(r["key"]): r for r in table(previous, "technician")}
    technicians = sorted(table(month, "technician"), key=lambda r: -(r["completion_24h_rate"] or 0))
    for row in technicians:
        old = before.get(row["key"])
        row["change"] = round((row["completion_24h_rate"] or 0) - (old["completion_24h_rate"] or 0), 4) if old else None
        row["risks"] = kpis.risk_flags(row, old)
    outlets_before = {r["key"]: r for r in table(previous, "outlet")}
    outlets = table(month, "outlet")
    for row in outlets:
        row["risks"] = kpis.risk_flags(row, outlets_before.get(row["key"]))
    tz = current_app.config["TIMEZONE"]
    trend = []
    for m in kpis.last_months(month, 12):
        (overall,) = kpis.monthly(db.session, m, "all", tz) or [None]
        trend.append({"month": m, **(overall.as_dict() if overall else {})})
    return render_template(
        "kpis.html", month=month, previous=previous, outlets=outlets, technicians=technicians,
        overall=table(month, "all"), trend=trend, scoped=current_actor().outlet_id is not None,
    )  # fmt: skip


@bp.get("/kpis/orders")
@roles_required("admin", "manager", "dispatcher")
def kpi_orders_page():
    """The orders behind one number, with the reason each failed."""
    month = _month_arg()
    kpi = request.args.get("kpi", "completion_24h")
    if kpi not in kpis.KPIS:
        kpi = "completion_24h"
    tech = request.args.get("technician_id", "")
    outlet = request.args.get("outlet_id", "")
    actor = current_actor()
    rows = kpis.drill_down(
        db.session, month, kpi, current_app.config["TIMEZONE"],
        technician_id=int(tech) if tech.isdigit() else None,
        outlet_id=actor.outlet_id if actor.outlet_id is not None else (int(outlet) if outlet.isdigit() else None),
    )  # fmt: skip
    return render_template("kpi_orders.html", month=month, kpi=kpi, rows=rows)
