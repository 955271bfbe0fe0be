"""The manager's monthly KPI page: the four numbers per outlet and technician, ranked, against
last month, a 12-month trend, and every number a link to the orders behind it."""

from __future__ import annotations

from flask import current_app, render_template, request

from core.accounts import STAFF_ROLES
from core.db import utcnow
from dispatch import kpis
from dispatch.permissions import outlet_in_scope
from web.api.kpis import FIGURE_LABELS, RiskWording, overall_trend, table
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
@roles_required(*STAFF_ROLES)
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
@roles_required(*STAFF_ROLES)
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
        technician_id=int(tech) if tech.isdigit() else None,
        outlet_id=outlet_in_scope(actor, int(outlet) if outlet.isdigit() else None),
    )  # fmt: skip
    return render_template("kpi_orders.html", month=month, kpi=kpi, rows=rows)
