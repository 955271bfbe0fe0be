"""The manager's monthly KPI page: the four numbers per outlet and technician, ranked, against
last month, a 12-month trend, and every number a link to the orders behind it."""

from __future__ import annotations

from flask import current_app, render_template, request

from core.accounts import STAFF_ROLES
from core.errors import ValidationFailed
from core.numbers import parse_int
from dispatch import kpis
from dispatch.kpis import report
from dispatch.permissions import outlet_in_scope
from web.auth import current_actor, roles_required
from web.extensions import db
from web.kpi_wording import FIGURE_LABELS, RiskWording
from web.pages.base import bp


def _month_arg() -> str:
    """The month asked for (this month when none is); anything else is a 400 naming `month`."""
    month = request.args.get("month", "")
    if not month:
        return report.current_month(current_app.config["TIMEZONE"])
    if kpis.parse_month(month) is None:
        raise ValidationFailed({"month": kpis.MONTH_MESSAGE})
    return month


@bp.get("/kpis")
@roles_required(*STAFF_ROLES)
def kpi_page():
    """The month's KPIs per outlet and per technician."""
    month = _month_arg()
    actor = current_actor()
    month_report = report.month_report(db.session, month, current_app.config["TIMEZONE"], actor.outlet_id)
    wording = RiskWording(month)
    for by in ("technician", "outlet"):
        for row in month_report[by + "s"]:
            row["risks"] = wording.reasons(row["key"], row.pop("signs"), by)
    return render_template(
        "kpis.html", **month_report, scoped=actor.outlet_id is not None, figure_labels=FIGURE_LABELS,
        can_set_thresholds=actor.role == "admin",
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
        technician_id=parse_int(tech, 1),
        outlet_id=outlet_in_scope(actor, parse_int(outlet, 1)),
    )  # fmt: skip
    return render_template("kpi_orders.html", month=month, kpi=kpi, rows=rows)
