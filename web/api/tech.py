"""The technician's phone app: today's route, replay-safe moves and photos, the completion report."""

from __future__ import annotations

from apiflask import Schema
from apiflask.validators import Length, OneOf, Range
from flask import current_app, request

from core import clock
from core.db import utcnow
from dispatch import moves, phone, phone_actions, tracking
from dispatch.photos import add_photo
from web.api import strict_fields as fields
from web.api.base import SECURITY, bp
from web.api.photos import UPLOAD_RESPONSES, PhotoIn, PhotoOut, photo_out
from web.api.presenters import order_out
from web.api.schemas import OrderOut
from web.auth import current_actor, name_the_owner, roles_required
from web.extensions import db
from web.wiring import photo_settings, sla_policy

IDEMPOTENCY_HEADER = "Idempotency-Key"
TECH_ACTIONS = ("accept", "reject", "contact", "depart", "arrive", "complete")


def checklists() -> dict[str, list[str]]:
    return current_app.config.get("TECH_CHECKLISTS") or phone_actions.DEFAULT_CHECKLISTS


class TechOrderList(Schema):
    technician_id = fields.Integer(allow_none=True)
    items = fields.List(fields.Dict())
    generated_at = fields.String()


class TechActionIn(Schema):
    action = fields.String(required=True, validate=OneOf(TECH_ACTIONS))
    version = fields.Integer(required=True, validate=Range(min=1))
    reason = fields.String(load_default=None, allow_none=True, validate=Length(max=500))
    lat = fields.Float(load_default=None, allow_none=True, validate=Range(-90, 90))
    lon = fields.Float(load_default=None, allow_none=True, validate=Range(-180, 180))
    accuracy_m = fields.Float(load_default=None, allow_none=True, validate=Range(0, 100_000))


class PartIn(Schema):
    name = fields.String(required=True, validate=Length(1, 100))
    qty = fields.Integer(load_default=1, validate=Range(1, 999))


class CompletionReportIn(Schema):
    checklist = fields.List(fields.String(validate=Length(1, 64)), load_default=list)
    parts = fields.List(fields.Nested(PartIn), load_default=list, validate=Length(max=phone_actions.MAX_PARTS))
    fee = fields.Float(load_default=0.0, validate=Range(0, phone_actions.MAX_FEE))
    fee_note = fields.String(load_default="", validate=Length(max=255))
    notes = fields.String(load_default="", validate=Length(max=2000))


class CompletionReportOut(Schema):
    order_id = fields.Integer()
    seq = fields.Integer()
    at = fields.String()
    replayed = fields.Boolean()
    data = fields.Dict()


def _key() -> str | None:
    return request.headers.get(IDEMPOTENCY_HEADER)


@bp.get("/tech/today")
@roles_required("technician")
@bp.output(TechOrderList)
@bp.doc(security=SECURITY)
def tech_today():
    """The calling technician's work for today in planned route order, with ETA, the
    customer's earlier orders at that address and, for returned orders, why."""
    actor = current_actor()
    tz = current_app.config["TIMEZONE"]
    items = phone.today_orders(db.session, actor, tz, checklists()) if actor.technician_id else []
    name_the_owner()  # before the rollback: afterwards the user would be read again
    db.session.rollback()  # end the read transaction promptly
    return {
        "technician_id": actor.technician_id,
        "items": items,
        "generated_at": clock.now().astimezone(tz).isoformat(),
    }


@bp.post("/tech/orders/<int:order_id>/actions")
@roles_required("technician")
@bp.input(TechActionIn, arg_name="body")
@bp.output(OrderOut)
@bp.doc(security=SECURITY, responses={409: "illegal move or stale version (the order changed meanwhile)"})
def tech_action(order_id: int, body: dict):
    """A lifecycle move from the phone. With an `Idempotency-Key` header a replay of a move
    that was already applied returns the order unchanged (200) instead of a conflict."""
    actor = current_actor()
    position = None
    if body["lat"] is not None and body["lon"] is not None:
        position = moves.Position(body["lat"], body["lon"], body["accuracy_m"])
    order, _replayed = phone_actions.apply_action(
        db.session, order_id, body["action"], actor, version=body["version"], key=_key(),
        reason=body["reason"], position=position, timezone=current_app.config["TIMEZONE"], sla=sla_policy(),
    )  # fmt: skip
    return order_out(order, actor)


@bp.post("/tech/orders/<int:order_id>/photos")
@roles_required("technician")
@bp.input(PhotoIn, location="form_and_files", arg_name="body")
@bp.output(PhotoOut, status_code=201)
@bp.doc(
    security=SECURITY,
    responses=UPLOAD_RESPONSES | {200: "the same file was already stored for this visit", 409: "not on site"},
)
def tech_photo(order_id: int, body: dict):
    """Upload a proof photo like `POST /api/orders/{id}/photos`, but a replay of the same
    file for the same visit returns the stored photo (200) instead of adding a copy."""
    actor = current_actor()
    data = body["photo"].read(current_app.config["MAX_CONTENT_LENGTH"] + 1)
    order = moves.get_order(db.session, order_id, actor)
    same = phone_actions.existing_photo(db.session, order, data)
    if same is not None:
        out = photo_out(same)
        db.session.rollback()
        return out, 200
    device = (
        (body["lat"], body["lon"], body["accuracy_m"]) if body["lat"] is not None and body["lon"] is not None else None
    )
    photo, near, exact = add_photo(
        db.session, order_id, data, actor, photo_settings(), source=body["source"], device=device
    )
    return photo_out(photo, near, exact)


@bp.post("/orders/<int:order_id>/completion-report")
@roles_required("technician")
@bp.input(CompletionReportIn, arg_name="body")
@bp.output(CompletionReportOut, status_code=201)
@bp.doc(
    security=SECURITY,
    responses={200: "a replay with the same Idempotency-Key", 409: "the order is not on site"},
)
def completion_report(order_id: int, body: dict):
    """Record the completion report (checklist by job type, parts used, fee, notes) as a
    `completion_report` event. Send `Idempotency-Key` to make retries safe."""
    report = phone_actions.CompletionReport(
        checklist=body["checklist"],
        parts=body["parts"],
        fee=body["fee"],
        fee_note=body["fee_note"],
        notes=body["notes"],
    )
    event, replayed = phone_actions.submit_report(
        db.session, order_id, report, current_actor(), checklists=checklists(), key=_key()
    )
    out = {"order_id": event.order_id, "seq": event.seq, "at": event.at.isoformat(), "replayed": replayed,
           "data": event.data}  # fmt: skip
    return out, 200 if replayed else 201


# --- the phone's position -------------------------------------------------------------


class PositionIn(Schema):
    lat = fields.Float(required=True, validate=Range(-90, 90), allow_nan=False)
    lon = fields.Float(required=True, validate=Range(-180, 180), allow_nan=False)
    accuracy_m = fields.Float(load_default=None, allow_none=True, validate=Range(0, 100_000), allow_nan=False)


class PositionOut(Schema):
    recorded_at = fields.DateTime()
    tracking_updates = fields.Integer(metadata={"description": "en-route orders whose customers were updated"})


@bp.post("/tech/position")
@roles_required("technician")
@bp.input(PositionIn, arg_name="body")
@bp.output(PositionOut)
@bp.doc(security=SECURITY)
def tech_position(body: dict):
    """The technician's phone reports where it is; customers of the orders the technician
    is driving to get a new ETA on their tracking page."""
    now = utcnow()
    order_ids = tracking.report_position(
        db.session, current_actor().technician_id, body["lat"], body["lon"], now, current_app.config["TIMEZONE"]
    )
    return {"recorded_at": now, "tracking_updates": len(order_ids)}
