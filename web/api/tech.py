"""The technician's phone app: today's route, replay-safe moves and photos, the completion report."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import quote

from apiflask import Schema
from apiflask.validators import Length, OneOf, Range
from flask import current_app, request
from sqlalchemy import and_, or_, select

from core.db import utcnow
from dispatch import completion, services, tracking
from dispatch.lifecycle import OPEN, allowed_actions
from dispatch.models import Callback, Photo, RouteStop, WorkOrder, WorkOrderEvent
from dispatch.photos import add_photo
from web.api import strict_fields as fields
from web.api.base import SECURITY, bp
from web.api.photos import PhotoIn, PhotoOut, photo_out
from web.api.presenters import order_out
from web.api.schemas import OrderOut
from web.auth import current_actor, roles_required
from web.extensions import db
from web.wiring import photo_settings

IDEMPOTENCY_HEADER = "Idempotency-Key"
TECH_ACTIONS = ("accept", "reject", "contact", "depart", "arrive", "complete")
HISTORY_LIMIT = 5


def checklists() -> dict[str, list[str]]:
    return current_app.config.get("TECH_CHECKLISTS") or completion.DEFAULT_CHECKLISTS


def navigate_url(order: WorkOrder) -> str:
    """A maps link for the phone (AMap's URI API opens the app or its web page)."""
    if order.lat is not None and order.lon is not None:
        return (
            f"https://uri.amap.com/navigation?to={order.lon:.6f},{order.lat:.6f},{quote(order.address)}"
            "&mode=car&coordinate=wgs84&callnative=1"
        )
    return f"https://uri.amap.com/search?keyword={quote(order.address)}"


def _history(session, order: WorkOrder) -> list[dict[str, Any]]:
    earlier = session.scalars(
        select(WorkOrder)
        .where(WorkOrder.customer_id == order.customer_id, WorkOrder.address == order.address, WorkOrder.id != order.id)
        .where(WorkOrder.created_at <= order.created_at)
        .order_by(WorkOrder.created_at.desc())
        .limit(HISTORY_LIMIT)
    )
    return [
        {"number": o.number, "created_at": o.created_at.isoformat(), "status": o.status,
         "product_category": o.product_category, "product_model": o.product_model,
         "issue_category": o.issue_category, "description": (o.description or "")[:200]}
        for o in earlier
    ]  # fmt: skip


def _return_info(session, order: WorkOrder) -> dict[str, Any] | None:
    """Why the last visit did not count, and what the customer or the callback said."""
    if order.visit_count <= 1:
        return None
    event = session.scalar(
        select(WorkOrderEvent)
        .where(WorkOrderEvent.order_id == order.id, WorkOrderEvent.kind == "return")
        .order_by(WorkOrderEvent.seq.desc())
        .limit(1)
    )
    callback = session.scalar(
        select(Callback).where(Callback.order_id == order.id).order_by(Callback.id.desc()).limit(1)
    )
    return {
        "reason": (event.data or {}).get("reason") if event else None,
        "at": event.at.isoformat() if event else None,
        "problems": list(callback.problems or []) if callback else [],
        "callback_note": callback.note if callback else "",
        "visit": order.visit_count,
    }


def _visit_state(session, order: WorkOrder) -> dict[str, Any]:
    photos = session.scalars(
        select(Photo.id).where(Photo.order_id == order.id, Photo.visit == order.visit_count).order_by(Photo.id)
    ).all()
    reported = False
    for event in session.scalars(
        select(WorkOrderEvent).where(WorkOrderEvent.order_id == order.id, WorkOrderEvent.kind == "completion_report")
    ):
        reported = reported or (event.data or {}).get("visit") == order.visit_count
    return {"photo_ids": list(photos), "report_submitted": reported}


def tech_order(session, order: WorkOrder, stop: RouteStop | None, actor) -> dict[str, Any]:
    return {
        "id": order.id,
        "number": order.number,
        "status": order.status,
        "version": order.version,
        "priority": order.priority,
        "customer": {"name": order.contact_name, "phone": order.contact_phone},
        "address": order.address,
        "lat": order.lat,
        "lon": order.lon,
        "navigate_url": navigate_url(order),
        "product_category": order.product_category,
        "product_model": order.product_model,
        "issue_category": order.issue_category,
        "description": order.description,
        "in_warranty": order.in_warranty,
        "due_at": order.due_at.isoformat(),
        "appointment_start": order.appointment_start.isoformat() if order.appointment_start else None,
        "appointment_end": order.appointment_end.isoformat() if order.appointment_end else None,
        "route_seq": stop.seq if stop else None,
        "eta": stop.eta.isoformat() if stop and stop.eta else None,
        "visit_count": order.visit_count,
        "contacted_at": order.contacted_at.isoformat() if order.contacted_at else None,
        "proof_photos_required": order.proof_photos_required,
        "checklist": completion.checklist_for(checklists(), order.issue_category),
        "allowed_actions": allowed_actions(order.status, actor.role, is_own_technician=True),
        "return_info": _return_info(session, order),
        "history": _history(session, order),
        **_visit_state(session, order),
    }


def today_orders(session, actor, tz) -> list[dict[str, Any]]:
    """The technician's open orders and those finished today, in planned route order."""
    start = datetime.combine(datetime.now(tz).date(), time(0), tzinfo=tz)
    rows = session.execute(
        select(WorkOrder, RouteStop)
        .outerjoin(
            RouteStop, and_(RouteStop.order_id == WorkOrder.id, RouteStop.technician_id == WorkOrder.technician_id)
        )
        .where(WorkOrder.technician_id == actor.technician_id)
        .where(or_(WorkOrder.status.in_([s.value for s in OPEN]), WorkOrder.completed_at >= start))
    ).all()
    far = datetime.max.replace(tzinfo=tz) - timedelta(days=1)

    def key(row):
        order, stop = row
        return (0 if order.status in OPEN else 1, stop is None, stop.seq if stop else 0, order.due_at or far, order.id)

    return [tech_order(session, order, stop, actor) for order, stop in sorted(rows, key=key)]


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
    parts = fields.List(fields.Nested(PartIn), load_default=list, validate=Length(max=completion.MAX_PARTS))
    fee = fields.Float(load_default=0.0, validate=Range(0, completion.MAX_FEE))
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
    items = today_orders(db.session, actor, tz) if actor.technician_id else []
    db.session.rollback()  # end the read transaction promptly
    return {"technician_id": actor.technician_id, "items": items, "generated_at": datetime.now(tz).isoformat()}


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
        position = services.Position(body["lat"], body["lon"], body["accuracy_m"])
    order, _replayed = completion.apply_action(
        db.session, order_id, body["action"], actor, version=body["version"], key=_key(),
        reason=body["reason"], position=position, timezone=current_app.config["TIMEZONE"],
    )  # fmt: skip
    return order_out(order, actor)


@bp.post("/tech/orders/<int:order_id>/photos")
@roles_required("technician")
@bp.input(PhotoIn, location="form_and_files", arg_name="body")
@bp.output(PhotoOut, status_code=201)
@bp.doc(security=SECURITY, responses={200: "the same file was already stored for this visit", 409: "not on site"})
def tech_photo(order_id: int, body: dict):
    """Upload a proof photo like `POST /api/orders/{id}/photos`, but a replay of the same
    file for the same visit returns the stored photo (200) instead of adding a copy."""
    actor = current_actor()
    data = body["photo"].read(current_app.config["MAX_CONTENT_LENGTH"] + 1)
    order = services.get_order(db.session, order_id, actor)
    same = completion.existing_photo(db.session, order, data)
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
    report = completion.CompletionReport(
        checklist=body["checklist"],
        parts=body["parts"],
        fee=body["fee"],
        fee_note=body["fee_note"],
        notes=body["notes"],
    )
    event, replayed = completion.submit_report(
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
