"""Monthly KPIs over JSON, with the orders behind every figure and exports."""

from __future__ import annotations

from apiflask import Schema
from apiflask.validators import Length, OneOf, Range, Regexp
from flask import current_app
from marshmallow import ValidationError

from core.accounts import SENIOR_ROLES, STAFF_ROLES
from dispatch import kpis
from dispatch.kpis import report
from dispatch.kpis.handin import monthly_report
from dispatch.kpis.pictures import month_pictures
from dispatch.permissions import outlet_in_scope
from web.api import strict_fields as fields
from web.api.base import SECURITY, bp
from web.auth import current_actor, roles_required
from web.exports import XLSX_TYPE, csv_response, xlsx_response
from web.extensions import db
from web.kpi_drill import drill_cells, drill_file_name, drill_headers, worded_drill
from web.kpi_report import report_response
from web.kpi_wording import ReasonWording, RiskWording

VIEWERS = STAFF_ROLES


def _kpi_month(value: str) -> None:
    if kpis.parse_month(value) is None:  # the one month rule: ASCII digits, no trailing newline
        raise ValidationError(kpis.MONTH_MESSAGE)


# The pattern documents the format ([0-9], not \d: a str pattern's \d matches '٢' too);
# `_kpi_month` is the rule (a pattern's `$` would also let "2026-11\n" through).
MONTH = [Regexp(r"^(19|20|21)[0-9]{2}-(0[1-9]|1[0-2])$", error=kpis.MONTH_MESSAGE), _kpi_month]
COLUMNS = (
    "key", "name", "orders", "completed", "completion_24h_rate", "satisfaction_rate", "satisfaction_mean",
    "rated", "compliance_rate", "authenticity_rate", "return_rate", "repairs", "repeat_rate", "composite",
)  # fmt: skip


class KpiQuery(Schema):
    TEXT_INPUT = True  # query string / form: every value arrives as text (strict_fields)
    month = fields.String(required=True, validate=MONTH)
    by = fields.String(load_default="technician", validate=OneOf(kpis.GROUPS))


class KpiRowOut(Schema):
    key = fields.Integer(allow_none=True)
    name = fields.String()
    orders = fields.Integer()
    completed = fields.Integer()
    completion_24h_rate = fields.Float(allow_none=True)
    satisfaction_rate = fields.Float(allow_none=True)
    satisfaction_mean = fields.Float(allow_none=True)
    rated = fields.Integer()
    compliance_rate = fields.Float(allow_none=True)
    authenticity_rate = fields.Float(allow_none=True)
    return_rate = fields.Float(allow_none=True, metadata={"description": "completed orders returned as unqualified"})
    repairs = fields.Integer(metadata={"description": "completed repairs (the repeat rate's denominator)"})
    repeat_rate = fields.Float(
        allow_none=True,
        metadata={"description": "completed repairs whose product came back for repair within 30 days"},
    )
    composite = fields.Float(allow_none=True, metadata={"description": "weighted mean of the four rates"})
    closed = fields.Boolean(metadata={"description": "from the month-close snapshot"})
    decided = fields.Integer(
        allow_none=True, metadata={"description": "orders whose 24-hour decision is made (the rate's denominator)"}
    )
    pending_24h = fields.Integer(
        metadata={"description": "open orders still within their 24 hours: not in the 24-hour rate yet"}
    )
    awaiting_score = fields.Integer(
        metadata={"description": "completed orders whose customer may still score them (callback window open)"}
    )
    repairs_pending = fields.Integer(
        metadata={"description": "completed repairs within their 30 days, not back yet: not in the repeat rate"}
    )


class KpiTable(Schema):
    month = fields.String()
    by = fields.String()
    items = fields.List(fields.Nested(KpiRowOut))


class DrillQuery(Schema):
    TEXT_INPUT = True  # query string / form: every value arrives as text (strict_fields)
    month = fields.String(required=True, validate=MONTH)
    kpi = fields.String(required=True, validate=OneOf(kpis.DRILLS))
    technician_id = fields.Integer(load_default=None)
    outlet_id = fields.Integer(load_default=None)
    reason = fields.String(
        load_default=None, validate=Length(max=64), metadata={"description": "only the orders with this reason code"}
    )
    outcome = fields.String(
        load_default=None, validate=OneOf(tuple(kpis.OUTCOMES)),
        metadata={"description": "only the failing, pending or passing orders"},
    )  # fmt: skip


class DrillRow(Schema):
    order_id = fields.Integer()
    number = fields.String()
    created_at = fields.DateTime()
    due_at = fields.DateTime(metadata={"description": "intake + 24 h: the 24-hour figure's deadline"})
    completed_at = fields.DateTime(allow_none=True)
    late_hours = fields.Float(allow_none=True, metadata={"description": "hours past due_at (completed, or now)"})
    status = fields.String()
    technician_id = fields.Integer(allow_none=True)
    technician = fields.String(allow_none=True)
    outlet_id = fields.Integer(allow_none=True)
    outlet = fields.String(allow_none=True)
    score = fields.Integer(allow_none=True)
    passed = fields.Boolean(allow_none=True, metadata={"description": "null while the order is still pending"})
    pending = fields.Boolean()
    reasons = fields.List(fields.String(), metadata={"description": "in the user's language"})
    reason_codes = fields.List(fields.String())


class DrillGroup(Schema):
    reason = fields.String(metadata={"description": "a reason code (the `reason` filter)"})
    text = fields.String()
    orders = fields.Integer()


class DrillScope(Schema):
    month = fields.String()
    kpi = fields.String()
    technician_id = fields.Integer(allow_none=True)
    technician = fields.String(allow_none=True)
    outlet_id = fields.Integer(allow_none=True)
    outlet = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True)


class DrillList(Schema):
    scope = fields.Nested(DrillScope)
    groups = fields.List(fields.Nested(DrillGroup), metadata={"description": "failing and pending orders by reason"})
    items = fields.List(fields.Nested(DrillRow))


def table(month: str, by: str) -> list[dict]:
    """The month's rows for the caller's outlet scope (dispatch.kpis.report.table)."""
    return report.table(db.session, month, by, current_app.config["TIMEZONE"], current_actor().outlet_id)


@bp.get("/kpis")
@roles_required(*VIEWERS)
@bp.input(KpiQuery, location="query", arg_name="args")
@bp.output(KpiTable)
@bp.doc(security=SECURITY)
def kpi_table(args: dict):
    """24-hour completion, satisfaction, compliance and authenticity for a month, per
    technician, per outlet, or overall, with the return and repeat-repair rates."""
    return {"month": args["month"], "by": args["by"], "items": table(args["month"], args["by"])}


def drill(args: dict) -> dict:
    """The drill-down asked for, within the caller's outlet, worded (dispatch.kpis.drill_report)."""
    actor = current_actor()
    outlet_id = outlet_in_scope(actor, args["outlet_id"])
    found = kpis.drill_report(
        db.session, args["month"], args["kpi"], current_app.config["TIMEZONE"],
        technician_id=args["technician_id"], outlet_id=outlet_id, reason_code=args["reason"], outcome=args["outcome"],
    )  # fmt: skip
    return worded_drill(found)


@bp.get("/kpis/orders")
@roles_required(*VIEWERS)
@bp.input(DrillQuery, location="query", arg_name="args")
@bp.output(DrillList)
@bp.doc(security=SECURITY)
def kpi_orders(args: dict):
    """The orders behind one figure, each with whether it counted and why not (pending: not
    decided yet), grouped by reason; filter by technician, outlet and reason."""
    return drill(args)


class PicturesQuery(Schema):
    TEXT_INPUT = True  # query string: every value arrives as text (strict_fields)
    month = fields.String(required=True, validate=MONTH)


class DailyPoint(Schema):
    day = fields.String(metadata={"description": "YYYY-MM-DD, the orders' intake day in the service area"})
    orders = fields.Integer()
    completion_24h_rate = fields.Float(allow_none=True)
    satisfaction_rate = fields.Float(allow_none=True)
    compliance_rate = fields.Float(allow_none=True)
    authenticity_rate = fields.Float(allow_none=True)


class ReasonCount(Schema):
    kpi = fields.String()
    reason = fields.String(metadata={"description": "a reason code (the drill-down's `reason` filter)"})
    text = fields.String(metadata={"description": "in the user's language"})
    orders = fields.Integer()


class Pictures(Schema):
    month = fields.String()
    daily = fields.List(fields.Nested(DailyPoint))
    reasons = fields.List(fields.Nested(ReasonCount), metadata={"description": "failing orders by KPI and reason"})


@bp.get("/kpis/pictures")
@roles_required(*VIEWERS)
@bp.input(PicturesQuery, location="query", arg_name="args")
@bp.output(Pictures)
@bp.doc(security=SECURITY)
def kpi_pictures(args: dict):
    """The KPI page's pictures that read every order of the month: the daily trend (overall)
    and the failing orders by KPI and reason, within the caller's outlet."""
    found = month_pictures(db.session, args["month"], current_app.config["TIMEZONE"], current_actor().outlet_id)
    wording = ReasonWording()
    reasons = [
        {"kpi": kpi, "reason": code, "text": wording.group(code), "orders": n}
        for kpi, groups in found["reasons"].items()
        for code, n in groups
    ]
    return {"month": args["month"], "daily": found["daily"], "reasons": reasons}


@bp.get("/kpis/orders/export.csv")
@roles_required(*VIEWERS)
@bp.input(DrillQuery, location="query", arg_name="args")
@bp.doc(security=SECURITY, responses={200: {"description": "CSV", "content": {"text/csv": {}}}})
def kpi_orders_csv(args: dict):
    """The drill-down's orders as CSV (the same rows as `GET /kpis/orders`)."""
    found = drill(args)
    return csv_response(drill_headers(), drill_cells(found["items"]), f"{drill_file_name(args)}.csv")


@bp.get("/kpis/orders/export.xlsx")
@roles_required(*VIEWERS)
@bp.input(DrillQuery, location="query", arg_name="args")
@bp.doc(security=SECURITY, responses={200: {"description": "an Excel workbook"}})
def kpi_orders_xlsx(args: dict):
    """The drill-down's orders as an Excel workbook (the same rows as `GET /kpis/orders`)."""
    found = drill(args)
    return xlsx_response(
        f"{args['month']} {args['kpi']}", drill_headers(), drill_cells(found["items"]),
        f"{drill_file_name(args)}.xlsx", freeze_header=True,
    )  # fmt: skip


@bp.get("/kpis/export.csv")
@roles_required(*VIEWERS)
@bp.input(KpiQuery, location="query", arg_name="args")
@bp.doc(security=SECURITY, responses={200: {"description": "CSV", "content": {"text/csv": {}}}})
def kpi_csv(args: dict):
    """The KPI table as CSV."""
    rows = ((row.get(c) for c in COLUMNS) for row in table(args["month"], args["by"]))
    return csv_response(COLUMNS, rows, f"kpis-{args['month']}-{args['by']}.csv")


@bp.get("/kpis/export.xlsx")
@roles_required(*VIEWERS)
@bp.input(KpiQuery, location="query", arg_name="args")
@bp.doc(security=SECURITY, responses={200: {"description": "an Excel workbook"}})
def kpi_xlsx(args: dict):
    """The KPI table as an Excel workbook."""
    rows = ((row.get(c) for c in COLUMNS) for row in table(args["month"], args["by"]))
    return xlsx_response(f"{args['month']} {args['by']}", COLUMNS, rows, f"kpis-{args['month']}-{args['by']}.xlsx")


class ReportQuery(Schema):
    TEXT_INPUT = True  # query string / form: every value arrives as text (strict_fields)
    month = fields.String(required=True, validate=MONTH)


def monthly_report_file(month: str, extension: str):
    """The month's report for the caller's outlet scope, in the caller's language."""
    found = monthly_report(db.session, month, current_app.config["TIMEZONE"], current_actor().outlet_id)
    return report_response(found, extension)


@bp.get("/kpis/report.xlsx")
@roles_required(*VIEWERS)
@bp.input(ReportQuery, location="query", arg_name="args")
@bp.doc(
    security=SECURITY,
    responses={200: {"description": "an Excel workbook", "content": {XLSX_TYPE: {}}}},
)
def kpi_report_xlsx(args: dict):
    """The monthly report as an Excel workbook: summary, outlets, technicians, failures by
    reason and the orders behind each failure (headers in the caller's language, rates as
    percentages; an outlet's staff get their outlet)."""
    return monthly_report_file(args["month"], "xlsx")


@bp.get("/kpis/report.pdf")
@roles_required(*VIEWERS)
@bp.input(ReportQuery, location="query", arg_name="args")
@bp.doc(security=SECURITY, responses={200: {"description": "a PDF (A4)", "content": {"application/pdf": {}}}})
def kpi_report_pdf(args: dict):
    """The monthly report as a printable PDF: the tiles, charts and tables of the month, in
    the caller's language, the outlet, month and time of generation in each page's header."""
    return monthly_report_file(args["month"], "pdf")


class CloseIn(Schema):
    month = fields.String(required=True, validate=MONTH)
    confirm = fields.Boolean(
        load_default=False, metadata={"description": "close a month that is not final yet (something still pending)"}
    )


class CloseOut(Schema):
    month = fields.String()
    rows = fields.Integer()


class WeightsIn(Schema):
    weights = fields.Dict(
        keys=fields.String(validate=OneOf(kpis.KPIS)),
        values=fields.Float(validate=Range(min=0)),
        required=True,
        metadata={"description": "not all zero (checked by the API, 400 naming `weights`)"},
    )


class WeightsOut(Schema):
    version = fields.Integer(allow_none=True)
    weights = fields.Dict()


@bp.post("/kpis/close")
@roles_required(*SENIOR_ROLES)
@bp.input(CloseIn, arg_name="body")
@bp.output(CloseOut, status_code=201)
@bp.doc(
    security=SECURITY,
    responses={409: "the month is closed already, or not final yet without `confirm` (`pending` says what is)"},
)
def close_kpi_month(body: dict):
    """Publish a month: its figures are frozen with the current weights. A month not final
    yet (orders within their 24 hours, scores or repeat repairs still to come) needs `confirm`."""
    rows = kpis.close_month(
        db.session, body["month"], current_app.config["TIMEZONE"], actor_id=current_actor().user_id,
        confirm=body["confirm"],
    )  # fmt: skip
    return {"month": body["month"], "rows": rows}


@bp.get("/kpi-weights")
@roles_required(*VIEWERS)
@bp.output(WeightsOut)
@bp.doc(security=SECURITY)
def get_kpi_weights():
    """The composite score's current weights."""
    version, weights = kpis.current_weights(db.session)
    return {"version": version, "weights": weights}


@bp.post("/kpi-weights")
@roles_required("admin")
@bp.input(WeightsIn, arg_name="body")
@bp.output(WeightsOut, status_code=201)
@bp.doc(security=SECURITY)
def set_kpi_weights(body: dict):
    """New weights for the composite (a new version; closed months keep theirs)."""
    row = kpis.set_weights(db.session, body["weights"], actor_id=current_actor().user_id)
    return {"version": row.version, "weights": row.weights}


# --- risk watch -------------------------------------------------------------------------


def risk_watch(month: str) -> dict:
    """Outlets and technicians flagged this month (within the caller's outlet), with reasons."""
    watch = report.risk_watch(db.session, month, current_app.config["TIMEZONE"], current_actor().outlet_id)
    wording = RiskWording(month)
    items = [
        {k: v for k, v in item.items() if k != "signs"}
        | {"reasons": wording.reasons(item["key"], item["signs"], item["kind"])}
        for item in watch["items"]
    ]
    return watch | {"items": items}


class RiskWatchQuery(Schema):
    TEXT_INPUT = True  # query string / form: every value arrives as text (strict_fields)
    month = fields.String(load_default=None, validate=MONTH, metadata={"description": "default: this month"})


class RiskReason(Schema):
    figure = fields.String()
    kind = fields.String(metadata={"description": "below, above, fell or rose"})
    text = fields.String()
    url = fields.String(metadata={"description": "the KPI drill-down page behind this sign"})


class RiskItem(Schema):
    kind = fields.String(metadata={"description": "outlet or technician"})
    key = fields.Integer()
    name = fields.String()
    orders = fields.Integer()
    decided = fields.Integer(metadata={"description": "orders whose 24-hour decision is made"})
    reasons = fields.List(fields.Nested(RiskReason))


class RiskWatchOut(Schema):
    month = fields.String()
    thresholds_version = fields.Integer(allow_none=True)
    items = fields.List(fields.Nested(RiskItem))


def risk_range(name: str) -> Range:
    """dispatch.kpis' bound for a threshold, with its message, stated in the document."""
    low, high = kpis.RISK_RANGES[name]
    return Range(low, high, error=f"must be between {low:g} and {high:g}")


class RiskThresholdsIn(Schema):
    completion_24h_rate = fields.Float(
        validate=risk_range("completion_24h_rate"),
        metadata={"description": "flag below this share (0–1)"},
    )
    satisfaction_rate = fields.Float(
        validate=risk_range("satisfaction_rate"), metadata={"description": "flag below this share (0–1)"}
    )
    compliance_rate = fields.Float(
        validate=risk_range("compliance_rate"), metadata={"description": "flag below this share (0–1)"}
    )
    authenticity_rate = fields.Float(
        validate=risk_range("authenticity_rate"), metadata={"description": "flag below this share (0–1)"}
    )
    return_rate = fields.Float(
        validate=risk_range("return_rate"), metadata={"description": "flag above this share (0–1)"}
    )
    repeat_rate = fields.Float(
        validate=risk_range("repeat_rate"),
        metadata={"description": "flag above this share of repairs repeated (0–1)"},
    )
    change_points = fields.Float(
        validate=risk_range("change_points"),
        metadata={"description": "flag a figure that worsened by more (0.01–1)"},
    )
    min_orders = fields.Integer(
        validate=risk_range("min_orders"),
        metadata={"description": "teams with fewer decided orders are not flagged"},
    )


class RiskThresholdsOut(Schema):
    version = fields.Integer(allow_none=True, metadata={"description": "none: the defaults were never changed"})
    thresholds = fields.Dict()
    defaults = fields.Dict()


@bp.get("/kpis/risk-watch")
@roles_required(*VIEWERS)
@bp.input(RiskWatchQuery, location="query", arg_name="args")
@bp.output(RiskWatchOut)
@bp.doc(security=SECURITY)
def kpi_risk_watch(args: dict):
    """Technicians and outlets whose month crosses a risk threshold, each reason linked to
    the orders behind it (the board's risk-watch panel)."""
    return risk_watch(args["month"] or report.current_month(current_app.config["TIMEZONE"]))


@bp.get("/kpi-risk-thresholds")
@roles_required(*VIEWERS)
@bp.output(RiskThresholdsOut)
@bp.doc(security=SECURITY)
def get_kpi_risk_thresholds():
    """The risk watch's current thresholds."""
    version, thresholds = kpis.current_risk_thresholds(db.session)
    return {"version": version, "thresholds": thresholds, "defaults": kpis.RISK_DEFAULTS}


@bp.post("/kpi-risk-thresholds")
@roles_required("admin")
@bp.input(RiskThresholdsIn, arg_name="body")
@bp.output(RiskThresholdsOut, status_code=201)
@bp.doc(security=SECURITY)
def set_kpi_risk_thresholds(body: dict):
    """New risk-watch thresholds (a new version; the ones not given keep their value)."""
    row = kpis.set_risk_thresholds(db.session, body, actor_id=current_actor().user_id)
    return {"version": row.version, "thresholds": row.thresholds, "defaults": kpis.RISK_DEFAULTS}
