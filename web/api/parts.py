"""Waiting for parts over JSON: the technician's part request from the phone, the
dispatcher's "the part arrived", and the board's waiting queue."""

from __future__ import annotations

from apiflask import Schema
from apiflask.validators import Length, Range
from flask import current_app, request

from core.accounts import DISPATCH_ROLES
from core.db import utcnow
from dispatch import moves, parts
from dispatch.planning.comeback import part_arrived_and_planned
from web.api import strict_fields as fields
from web.api.base import SECURITY, bp
from web.api.presenters import order_out
from web.api.schemas import OrderOut
from web.auth import STAFF, current_actor, roles_required
from web.extensions import db
from web.wiring import planning_settings, sla_policy


class PartRequestIn(Schema):
    version = fields.Integer(required=True, validate=Range(min=1))
    part = fields.String(required=True, validate=Length(1, parts.PART_LENGTH))
    quantity = fields.Integer(required=True, validate=Range(1, parts.MAX_QUANTITY))
    expected_on = fields.Date(required=True, metadata={"description": "the day the part is expected (not past)"})
    lat = fields.Float(load_default=None, allow_none=True, validate=Range(-90, 90), allow_nan=False)
    lon = fields.Float(load_default=None, allow_none=True, validate=Range(-180, 180), allow_nan=False)
    accuracy_m = fields.Float(load_default=None, allow_none=True, validate=Range(0, 100_000), allow_nan=False)


class PartArrivedIn(Schema):
    version = fields.Integer(required=True, validate=Range(min=1))


class PartArrivedOut(Schema):
    order = fields.Nested(OrderOut)
    placed = fields.Boolean(metadata={"description": "the follow-up visit found a place in a technician's day"})
    technician_id = fields.Integer(allow_none=True)
    eta = fields.DateTime(allow_none=True)
    reason = fields.String(allow_none=True, metadata={"description": "why it stays unassigned, when not placed"})


class WaitingItem(Schema):
    order_id = fields.Integer()
    number = fields.String()
    version = fields.Integer()
    address = fields.String()
    priority = fields.String()
    due_at = fields.DateTime()
    part = fields.String()
    quantity = fields.Integer()
    expected_on = fields.Date(allow_none=True)
    requested_at = fields.DateTime(allow_none=True)
    requested_by = fields.String()
    late = fields.Boolean(metadata={"description": "the expected day has passed"})


class WaitingList(Schema):
    items = fields.List(fields.Nested(WaitingItem))


@bp.post("/tech/orders/<int:order_id>/part-request")
@roles_required("technician")
@bp.input(PartRequestIn, arg_name="body")
@bp.output(OrderOut)
@bp.doc(security=SECURITY, responses={409: "not on site, or the order changed meanwhile"})
def tech_part_request(order_id: int, body: dict):
    """On site, a part is needed: the order waits for it, off the technician's route. With an
    `Idempotency-Key` header a replay returns the order unchanged."""
    actor = current_actor()
    position = None
    if body["lat"] is not None and body["lon"] is not None:
        position = moves.Position(body["lat"], body["lon"], body["accuracy_m"])
    need = parts.PartNeeded(body["part"], body["quantity"], body["expected_on"])
    order, _replayed = parts.request_part(
        db.session, order_id, actor, need, version=body["version"], timezone=current_app.config["TIMEZONE"],
        key=request.headers.get("Idempotency-Key"), position=position,
    )  # fmt: skip
    return order_out(order, actor)


@bp.post("/orders/<int:order_id>/part-arrived")
@roles_required(*DISPATCH_ROLES)
@bp.input(PartArrivedIn, arg_name="body")
@bp.output(PartArrivedOut)
@bp.doc(security=SECURITY, responses={409: "not waiting for a part, or the order changed meanwhile"})
def part_arrived(order_id: int, body: dict):
    """The part is here: the order is planned again (the instant path) for its follow-up visit."""
    actor = current_actor()
    order, outcome = part_arrived_and_planned(
        db.session, order_id, actor, planning_settings(), version=body["version"], sla=sla_policy(), now=utcnow()
    )
    placed = not isinstance(outcome, str)
    return {
        "order": order_out(order, actor), "placed": placed,
        "technician_id": outcome.technician_id if placed else None, "eta": outcome.eta if placed else None,
        "reason": None if placed else outcome,
    }  # fmt: skip


@bp.get("/parts/waiting")
@roles_required(*STAFF)
@bp.output(WaitingList)
@bp.doc(security=SECURITY)
def parts_waiting():
    """Orders waiting for a part that the caller may see, soonest expected first."""
    today = utcnow().astimezone(current_app.config["TIMEZONE"]).date()
    items = parts.waiting_queue(db.session, current_actor(), today)
    db.session.rollback()  # end the read transaction promptly
    return {"items": items}
