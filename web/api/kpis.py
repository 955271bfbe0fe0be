"""Monthly KPIs over JSON, with the orders behind every figure and exports."""

from __future__ import annotations

import csv
import io

from apiflask import Schema
from apiflask.validators import OneOf, Range, Regexp
from flask import Response, current_app, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook
from sqlalchemy import select

from core.db import utcnow
from dispatch import kpis
from technicians.models import Outlet, Technician
from web.api import strict_fields as fields
from web.api.base import SECURITY, bp
from web.auth import current_actor, roles_required
from web.extensions import db

VIEWERS = ("admin", "manager", "dispatcher")
MONTH = Regexp(r"^(19|20|21)\d{2}-(0[1-9]|1[0-2])$", error="use YYYY-MM (years 1900-2199), e.g. 2026-11")
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


class DrillRow(Schema):
    order_id = fields.Integer()
    number = fields.String()
    created_at = fields.DateTime()
    status = fields.String()
    technician_id = fields.Integer(allow_none=True)
    outlet_id = fields.Integer(allow_none=True)
    score = fields.Integer(allow_none=True)
    passed = fields.Boolean()
    reasons = fields.List(fields.String())


class DrillList(Schema):
    items = fields.List(fields.Nested(DrillRow))


# Figures added after some months were closed: their snapshots lack them (shown as none).
LATER_FIGURES = {"repairs": 0, "repeat_rate": None}


def table(month: str, by: str) -> list[dict]:
    """The month's rows with a display name and composite, scoped to the caller's outlet when
    they have one. A closed month comes from its snapshot, with the weights it was scored with."""
    actor = current_actor()
    frozen = kpis.snapshot(db.session, month, by)
    if frozen is not None:
        rows = [LATER_FIGURES | r | {"closed": True} for r in frozen[0]]
        if by == "all":
            rows = [r | {"key": None} for r in rows]
    else:
        _, weights = kpis.current_weights(db.session)
        rows = [
            r.as_dict() | {"composite": kpis.composite(r.as_dict(), weights), "closed": False}
            for r in kpis.monthly(db.session, month, by, current_app.config["TIMEZONE"])
        ]
    if by == "technician":
        techs = {
            t.id: t
            for t in db.session.execute(
                select(Technician.id, Technician.name, Technician.outlet_id).where(
                    Technician.id.in_([r["key"] for r in rows])
                )
            )
        }
        rows = [
            r | {"name": techs[r["key"]].name} for r in rows if actor.outlet_id in (None, techs[r["key"]].outlet_id)
        ]
    elif by == "outlet":
        names = {o.id: o.name for o in db.session.query(Outlet)}
        rows = [r | {"name": names.get(r["key"], "")} for r in rows if actor.outlet_id in (None, r["key"])]
    else:
        rows = [r | {"name": "all"} for r in rows]
    return rows


@bp.get("/kpis")
@roles_required(*VIEWERS)
@bp.input(KpiQuery, location="query", arg_name="args")
@bp.output(KpiTable)
@bp.doc(security=SECURITY)
def kpi_table(args: dict):
    """24-hour completion, satisfaction, compliance and authenticity for a month, per
    technician, per outlet, or overall, with the return and repeat-repair rates."""
    return {"month": args["month"], "by": args["by"], "items": table(args["month"], args["by"])}


@bp.get("/kpis/orders")
@roles_required(*VIEWERS)
@bp.input(DrillQuery, location="query", arg_name="args")
@bp.output(DrillList)
@bp.doc(security=SECURITY)
def kpi_orders(args: dict):
    """The orders behind one figure, each with whether it counted and why not."""
    actor = current_actor()
    outlet_id = args["outlet_id"] if actor.outlet_id is None else actor.outlet_id
    items = kpis.drill_down(
        db.session, args["month"], args["kpi"], current_app.config["TIMEZONE"],
        technician_id=args["technician_id"], outlet_id=outlet_id,
    )  # fmt: skip
    return {"items": items}


@bp.get("/kpis/export.csv")
@roles_required(*VIEWERS)
@bp.input(KpiQuery, location="query", arg_name="args")
@bp.doc(security=SECURITY, responses={200: {"description": "CSV", "content": {"text/csv": {}}}})
def kpi_csv(args: dict):
    """The KPI table as CSV."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(table(args["month"], args["by"]))
    name = f"kpis-{args['month']}-{args['by']}.csv"
    return Response(
        "\ufeff" + out.getvalue(),  # BOM: Excel opens UTF-8 Chinese names correctly
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={name}"},
    )


@bp.get("/kpis/export.xlsx")
@roles_required(*VIEWERS)
@bp.input(KpiQuery, location="query", arg_name="args")
@bp.doc(security=SECURITY, responses={200: {"description": "an Excel workbook"}})
def kpi_xlsx(args: dict):
    """The KPI table as an Excel workbook."""
    book = Workbook()
    sheet = book.active
    sheet.title = f"{args['month']} {args['by']}"
    sheet.append(list(COLUMNS))
    for row in table(args["month"], args["by"]):
        sheet.append([row.get(c) for c in COLUMNS])
    out = io.BytesIO()
    book.save(out)
    name = f"kpis-{args['month']}-{args['by']}.xlsx"
    return Response(
        out.getvalue(),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f"attachment; filename={name}"},
    )


class CloseIn(Schema):
    month = fields.String(required=True, validate=MONTH)


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
@roles_required("admin", "manager")
@bp.input(CloseIn, arg_name="body")
@bp.output(CloseOut, status_code=201)
@bp.doc(security=SECURITY, responses={409: "the month is closed already"})
def close_kpi_month(body: dict):
    """Publish a month: its figures are frozen with the current weights."""
    rows = kpis.close_month(db.session, body["month"], current_app.config["TIMEZONE"], actor_id=current_actor().user_id)
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

FIGURE_LABELS = {
    "completion_24h_rate": _l("24-hour completion"), "satisfaction_rate": _l("Satisfaction"),
    "compliance_rate": _l("Compliance"), "authenticity_rate": _l("Authenticity"), "return_rate": _l("Returns"),
    "repeat_rate": _l("Repeat repairs"),
}  # fmt: skip
# The drill-down that lists the orders behind each sign (returns show up as compliance failures).
DRILL_KPI = {
    "completion_24h_rate": "completion_24h", "satisfaction_rate": "satisfaction", "compliance_rate": "compliance",
    "authenticity_rate": "authenticity", "return_rate": "compliance", "repeat_rate": "repeat_repairs",
}  # fmt: skip


def _pct(value: float) -> str:
    return f"{100 * value:.0f}%"


class RiskWording:
    """Risk signs worded in the user's language and linked to the orders behind them.

    Made once per request: a month at 2,000 technicians can show ten thousand signs, and
    asking Babel and the URL map for each one took seconds.
    """

    def __init__(self, month: str) -> None:
        self.month = month
        self.drill = url_for("pages.kpi_orders_page")
        self.labels = {name: str(label) for name, label in FIGURE_LABELS.items()}
        self.templates = {
            "below": _("%(figure)s %(value)s, below %(limit)s"),
            "above": _("%(figure)s %(value)s, above %(limit)s"),
            "fell": _("%(figure)s fell %(points)s points since last month"),
            "rose": _("%(figure)s rose %(points)s points since last month"),
        }

    def describe(self, sign: kpis.RiskSign) -> str:
        return self.templates[sign.kind] % {
            "figure": self.labels[sign.figure], "value": _pct(sign.value), "limit": _pct(sign.limit),
            "points": f"{100 * sign.value:.0f}",
        }  # fmt: skip

    def reasons(self, row: dict, before: dict | None, thresholds: dict, by: str) -> list[dict]:
        """A team's risk signs, each worded and linked to its drill-down."""
        query = f"?month={self.month}&{by}_id={row['key']}&kpi="
        return [
            {"figure": sign.figure, "kind": sign.kind, "text": self.describe(sign),
             "url": self.drill + query + DRILL_KPI[sign.figure]}
            for sign in kpis.risk_signs(row, before, thresholds)
        ]  # fmt: skip


def current_month() -> str:
    return utcnow().astimezone(current_app.config["TIMEZONE"]).strftime("%Y-%m")


def overall_trend(months: list[str]) -> list[dict]:
    """The overall row of each month, as `table(month, "all")` gives it: closed months from
    their snapshots, the open ones together in one grouped query."""
    frozen = {m: kpis.snapshot(db.session, m, "all") for m in months}
    open_months = [m for m in months if frozen[m] is None]
    live = kpis.overall_by_month(db.session, open_months, current_app.config["TIMEZONE"])
    _, weights = kpis.current_weights(db.session)
    trend = []
    for m in months:
        if frozen[m] is not None:
            rows = [LATER_FIGURES | r | {"closed": True, "key": None, "name": "all"} for r in frozen[m][0]]
        else:
            figures = live[m].as_dict()
            rows = [figures | {"composite": kpis.composite(figures, weights), "closed": False, "name": "all"}]
        trend.append({"month": m, **(rows[0] if rows else {})})
    return trend


def risk_watch(month: str) -> dict:
    """Outlets and technicians flagged this month (within the caller's outlet), with reasons."""
    version, thresholds = kpis.current_risk_thresholds(db.session)
    previous = kpis.last_months(month, 2)[0]
    wording = RiskWording(month)
    items = []
    for by in ("outlet", "technician"):
        before = {r["key"]: r for r in table(previous, by)}
        for row in table(month, by):
            reasons = wording.reasons(row, before.get(row["key"]), thresholds, by)
            if reasons:
                items.append({"kind": by, "key": row["key"], "name": row["name"], "orders": row["orders"],
                              "reasons": reasons})  # fmt: skip
    return {"month": month, "thresholds_version": version, "items": items}


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
        metadata={"description": "teams with fewer orders are not flagged"},
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
    return risk_watch(args["month"] or current_month())


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
