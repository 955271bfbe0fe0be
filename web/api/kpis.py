"""Monthly KPIs over JSON, with the orders behind every figure and exports."""

from __future__ import annotations

import csv
import io

from apiflask import Schema, fields
from apiflask.validators import OneOf, Regexp
from flask import Response, current_app
from openpyxl import Workbook

from dispatch import kpis
from technicians.models import Outlet, Technician
from web.api.base import SECURITY, bp
from web.auth import current_actor, roles_required
from web.extensions import db

VIEWERS = ("admin", "manager", "dispatcher")
MONTH = Regexp(r"^\d{4}-(0[1-9]|1[0-2])$", error="use YYYY-MM, e.g. 2026-11")
COLUMNS = (
    "key", "name", "orders", "completed", "completion_24h_rate", "satisfaction_rate", "satisfaction_mean",
    "rated", "compliance_rate", "authenticity_rate", "composite",
)  # fmt: skip


class KpiQuery(Schema):
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
    composite = fields.Float(allow_none=True, metadata={"description": "weighted mean of the four rates"})
    closed = fields.Boolean(metadata={"description": "from the month-close snapshot"})


class KpiTable(Schema):
    month = fields.String()
    by = fields.String()
    items = fields.List(fields.Nested(KpiRowOut))


class DrillQuery(Schema):
    month = fields.String(required=True, validate=MONTH)
    kpi = fields.String(required=True, validate=OneOf(kpis.KPIS))
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


def table(month: str, by: str) -> list[dict]:
    """The month's rows with a display name and composite, scoped to the caller's outlet when
    they have one. A closed month comes from its snapshot, with the weights it was scored with."""
    actor = current_actor()
    frozen = kpis.snapshot(db.session, month, by)
    if frozen is not None:
        rows = [r | {"closed": True} for r in frozen[0]]
        if by == "all":
            rows = [r | {"key": None} for r in rows]
    else:
        _, weights = kpis.current_weights(db.session)
        rows = [
            r.as_dict() | {"composite": kpis.composite(r.as_dict(), weights), "closed": False}
            for r in kpis.monthly(db.session, month, by, current_app.config["TIMEZONE"])
        ]
    if by == "technician":
        techs = {t.id: t for t in db.session.query(Technician).filter(Technician.id.in_([r["key"] for r in rows]))}
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
    technician, per outlet, or overall."""
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
    weights = fields.Dict(keys=fields.String(validate=OneOf(kpis.KPIS)), values=fields.Float(), required=True)


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
