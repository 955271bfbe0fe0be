"""The policy lab over JSON: start a simulation run, follow its progress, read its report."""

from __future__ import annotations

from apiflask import Schema
from apiflask.validators import Length, OneOf, Range, Regexp

from web.api import strict_fields as fields
from web.api.base import SECURITY, bp
from web.auth import current_actor, roles_required
from web.extensions import db
from web.lab_runs import (
    MAX_DAYS,
    MAX_ORDERS_PER_DAY,
    MAX_SEEDS,
    MAX_TECHNICIANS,
    POLICY_CHOICES,
    lab_runs,
    request_from,
)

LAB_ROLES = ("admin", "manager")


class LabRunIn(Schema):
    days = fields.Integer(required=True, validate=Range(1, MAX_DAYS))
    policies = fields.List(
        fields.String(validate=OneOf(POLICY_CHOICES)), required=True, validate=Length(1, 4),
        metadata={"description": "each policy once (400 naming the field otherwise)"},
    )  # fmt: skip
    seed = fields.Integer(load_default=1, validate=Range(1, 1_000_000))
    seeds = fields.Integer(load_default=1, validate=Range(1, MAX_SEEDS))
    technicians = fields.Integer(
        load_default=None, allow_none=True, validate=Range(1, MAX_TECHNICIANS),
        metadata={"description": "what if: technicians per outlet (default: the outlet model's); generated orders "
                  "only: with `from` a 400 naming the field"},
    )  # fmt: skip
    orders_per_day = fields.Integer(
        load_default=None, allow_none=True, validate=Range(1, MAX_ORDERS_PER_DAY),
        metadata={"description": "what if: demand per outlet and day; generated orders only: with `from` a 400 "
                  "naming the field"},
    )  # fmt: skip
    shift = fields.String(
        load_default=None, allow_none=True, validate=Regexp(r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$"),
        metadata={"description": "what if: shift hours, HH:MM-HH:MM, ending after it starts (400 naming the field otherwise)"},
    )  # fmt: skip
    promise_hours = fields.Integer(load_default=None, allow_none=True, validate=Range(1, 240))
    horizon_days = fields.Integer(
        load_default=None, allow_none=True, validate=Range(1, 7),
        metadata={"description": "what if: the planner's horizon in days (default PLANNING_HORIZON_DAYS' 3)"},
    )  # fmt: skip
    from_day = fields.Date(
        data_key="from", load_default=None, allow_none=True,
        metadata={"description": "replay the orders of a real period from this local date (`days` long; your "
                  "outlet's only if you belong to one) instead of generated orders; `technicians` and "
                  "`orders_per_day` do not apply (400 naming the field otherwise); a period with no located "
                  "order in it is a 400 naming `from`"},
    )  # fmt: skip


class LabRunOut(Schema):
    id = fields.Integer()
    status = fields.String(metadata={"description": "running, done or failed"})
    progress = fields.Float(metadata={"description": "share done, 0 to 1"})
    step = fields.Dict(metadata={"description": "what runs now: policy (or hindsight) and seed"})
    started_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)
    days = fields.Integer()
    seeds = fields.List(fields.Integer())
    policies = fields.List(fields.String())
    report = fields.Dict(allow_none=True, metadata={"description": "per policy: each figure's mean, 95 % interval and n; the hindsight bound"})  # fmt: skip


@bp.post("/lab/runs")
@roles_required(*LAB_ROLES)
@bp.input(LabRunIn, arg_name="body")
@bp.output(LabRunOut, status_code=202)
@bp.doc(security=SECURITY, responses={409: "a run is in progress already"})
def start_lab_run(body: dict):
    """Start a policy-lab simulation in the background (one at a time); follow it at its URL."""
    actor = current_actor()
    body["from"] = body.pop("from_day", None)
    run = lab_runs().start(request_from(body, db.session, actor.outlet_id), actor.user_id)
    return run.as_dict()


@bp.get("/lab/runs/<int:run_id>")
@roles_required(*LAB_ROLES)
@bp.output(LabRunOut)
@bp.doc(security=SECURITY)
def lab_run(run_id: int):
    """A run's progress, and its report once done."""
    return lab_runs().get(run_id).as_dict()
