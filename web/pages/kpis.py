"""The manager's monthly KPI page: the four numbers per outlet and technician, ranked, against
last month, a 12-month trend, and every number a link to the orders behind it."""

from __future__ import annotations

from flask import current_app, render_template, request

from core.db import utcnow
from core.errors import ValidationFailed
from core.numbers import parse_int
from dispatch import kpis
from web.api.kpis import FIGURE_LABELS, RiskWording, overall_trend, table
from web.auth import current_actor, roles_required
from web.extensions import db
from web.pages.base import bp


def _month_arg() -> str:
    """The month asked for (this month when none is); anything else is a 400 naming `month`."""
    month = request.args.get("month", "")
    if not month:
        return utcnow().astimezone(current_app.config["TIMEZONE"]).strftime("%Y-%m")
    if kpis.parse_month(month) is None:
        raise ValidationFailed({"month": kpis.MONTH_MESSAGE})
    return month


@bp.get("/kpis")
@roles_required("admin", "manager", "dispatcher")
def kpi_page():
    """The month's KPIs per outlet and per technician."""
    month = _month_arg()
    previous = kpis.last_months(month, 2)[0]
    version, thresholds = kpis.current_risk_thresholds(db.session)
    wording = RiskWording(month)
    before = {(r["key"]): r for r in table(previous, "technician")}
    technicians = sorted(table(month, "technician"), key=lambda r: -(r["completion_24h_rate"] or 0))
    for row in technicians:
        old = before.get(row["key"])
        row["change"] = round((row["completion_24h_rate"] or 0) - (old["completion_24h_rate"] or 0), 4) if old else None
        row["risks"] = wording.reasons(row, old, thresholds, "technician")
    outlets_before = {r["key"]: r for r in table(previous, "outlet")}
    outlets = table(month, "outlet")
    for row in outlets:
        row["risks"] = wording.reasons(row, outlets_before.get(row["key"]), thresholds, "outlet")
    overall = table(month, "all")
    # The eleven months before: snapshots for closed ones, one grouped query for the open ones.
    trend = [*overall_trend(kpis.last_months(month, 12)[:-1]), {"month": month, **(overall[0] if overall else {})}]
    return render_template(
        "kpis.html", month=month, previous=previous, outlets=outlets, technicians=technicians,
        overall=overall, trend=trend, scoped=current_actor().outlet_id is not None,
        thresholds=thresholds, thresholds_version=version, figure_labels=FIGURE_LABELS,
        can_set_thresholds=current_actor().role == "admin",
    )  # fmt: skip


@bp.get("/kpis/orders")
@roles_required("admin", "manager", "dispatcher")
def kpi_orders_page():
    """The orders behind one number, with the reason each failed."""
    month = _month_arg()
    kpi = request.args.get("kpi", "completion_24h")
    if kpi not in kpis.DRILLS:
        kpi = "completion_24h"
    tech = request.args.get("technician_id", "")
    outlet = request.args.get("outlet_id", "")
    actor = current_actor()
    rows = kpis.drill_down(
        db.session, month, kpi, current_app.config["TIMEZONE"],
        technician_id=parse_int(tech, 1),
        outlet_id=actor.outlet_id if actor.outlet_id is not None else parse_int(outlet, 1),
    )  # fmt: skip
    return render_template("kpi_orders.html", month=month, kpi=kpi, rows=rows)
