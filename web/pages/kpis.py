"""The manager's monthly KPI page: the four numbers per outlet and technician, ranked, against
last month, a 12-month trend, and every number a link to the orders behind it."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from core.accounts import STAFF_ROLES
from core.errors import ValidationFailed
from core.numbers import parse_int
from dispatch import kpis
from dispatch.kpis import pictures, report
from dispatch.kpis.handin import monthly_report
from dispatch.permissions import outlet_in_scope
from technicians import network
from web.auth import current_actor, roles_required
from web.extensions import db
from web.kpi_drill import worded_drill
from web.kpi_report import report_response
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


def _technician_order() -> tuple[str, bool, int]:
    """The technician table's `sort`, `dir` (asc/desc) and `page`; anything else is a 400 naming it."""
    sort, direction = request.args.get("sort", "rank"), request.args.get("dir", "asc")
    page = parse_int(request.args.get("page", "1"), 1)
    errors = {}
    if sort not in report.TECHNICIAN_SORTS:
        errors["sort"] = "one of " + ", ".join(report.TECHNICIAN_SORTS)
    if direction not in ("asc", "desc"):
        errors["dir"] = "asc or desc"
    if page is None:
        errors["page"] = "a whole number from 1"
    if errors:
        raise ValidationFailed(errors)
    return sort, direction == "desc", page or 1


@bp.get("/kpis")
@roles_required(*STAFF_ROLES)
def kpi_page():
    """The month's KPIs per outlet and per technician."""
    month = _month_arg()
    actor = current_actor()
    month_report = report.month_report(db.session, month, current_app.config["TIMEZONE"], actor.outlet_id)
    sort, descending, page = _technician_order()
    technicians = report.technician_page(month_report["technicians"], sort, descending, page)
    wording = RiskWording(month)  # worded for the rows shown: 50 technicians, not thousands
    for by, rows in (("technician", technicians.items), ("outlet", month_report["outlets"])):
        for row in rows:
            row["risks"] = wording.reasons(row["key"], row["signs"], by)
    overall = month_report["overall"][0] if month_report["overall"] else None
    ranking = pictures.ranking(month_report["technicians"])
    months = report.months_with_orders(db.session, current_app.config["TIMEZONE"])
    return render_template(
        "kpis.html", **month_report, months=sorted({*months, month}, reverse=True), technician_page=technicians,
        sort=sort, descending=descending, scoped=actor.outlet_id is not None, figure_labels=FIGURE_LABELS,
        can_set_thresholds=actor.role == "admin", can_close=actor.role in ("admin", "manager"),
        changes=pictures.tile_changes(db.session, month, current_app.config["TIMEZONE"], overall, actor.outlet_id),
        ranking=ranking, charts={
            "outlets": pictures.picked(month_report["outlets"]), "ranking": pictures.picked(ranking["items"]),
            "trend": pictures.picked(pictures.months_with_data(month_report["trend"])),
        },
    )  # fmt: skip


@bp.get("/kpis/orders")
@roles_required(*STAFF_ROLES)
def kpi_orders_page():
    """The orders behind one number: whose they are, the reason each failed or is pending,
    grouped by reason, with filters and the same list as CSV or Excel."""
    month = _month_arg()
    kpi = request.args.get("kpi", "completion_24h")
    if kpi not in kpis.DRILLS:
        kpi = "completion_24h"
    actor = current_actor()
    tech = parse_int(request.args.get("technician_id", ""), 1)
    outlet = outlet_in_scope(actor, parse_int(request.args.get("outlet_id", ""), 1))
    reason = request.args.get("reason") or None
    outcome = request.args.get("outcome") or None
    if outcome is not None and outcome not in kpis.OUTCOMES:
        raise ValidationFailed({"outcome": _("use one of: %(values)s", values=", ".join(kpis.OUTCOMES))})
    found = worded_drill(
        kpis.drill_report(
            db.session, month, kpi, current_app.config["TIMEZONE"], technician_id=tech, outlet_id=outlet,
            reason_code=reason, outcome=outcome,
        )
    )  # fmt: skip
    filters = {
        k: v for k, v in {"technician_id": tech, "outlet_id": outlet, "reason": reason, "outcome": outcome}.items() if v
    }  # fmt: skip
    return render_template(
        "kpi_orders.html", month=month, kpi=kpi, rows=found["items"], groups=found["groups"], scope=found["scope"],
        filters=filters, scoped=actor.outlet_id is not None, pending_reasons=kpis.PENDING_REASONS,
        outcome_labels={"failed": _("only the failing ones"), "pending": _("only the pending ones"), "passed": _("only the counted ones")},
        outlets=[] if actor.outlet_id is not None else network.list_outlets(db.session),
        technicians=network.list_technicians(db.session, outlet_id=found["scope"]["outlet_id"]),
    )  # fmt: skip


@bp.post("/kpis/close")
@roles_required("admin", "manager")
def kpi_close_page():
    """Close a month; one not final yet first shows what is still pending and asks again."""
    month = request.form.get("month", "")
    if kpis.parse_month(month) is None:
        raise ValidationFailed({"month": kpis.MONTH_MESSAGE})
    try:
        kpis.close_month(
            db.session, month, current_app.config["TIMEZONE"], actor_id=current_actor().user_id,
            confirm=request.form.get("confirm") == "1",
        )  # fmt: skip
    except kpis.NotFinal as not_final:
        return render_template("kpi_close.html", month=month, pending=not_final.pending, ended=not_final.ended)
    flash(_("%(month)s is closed: its figures are frozen.", month=month), "info")
    return redirect(url_for("pages.kpi_page", month=month))


def monthly_report_file(extension: str):
    """The month's report (Excel or PDF) for the caller's outlet scope, in their language."""
    found = monthly_report(db.session, _month_arg(), current_app.config["TIMEZONE"], current_actor().outlet_id)
    return report_response(found, extension)


@bp.get("/kpis/report.xlsx")
@roles_required(*STAFF_ROLES)
def kpi_report_xlsx_page():
    """The month's report as an Excel workbook (summary, outlets, technicians, failures)."""
    return monthly_report_file("xlsx")


@bp.get("/kpis/report.pdf")
@roles_required(*STAFF_ROLES)
def kpi_report_pdf_page():
    """The month's report as a printable PDF (tiles, charts, tables)."""
    return monthly_report_file("pdf")
