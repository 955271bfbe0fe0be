"""Work orders over JSON: intake, lists, detail, lifecycle moves, the event feed."""

from __future__ import annotations

from apiflask import Schema
from apiflask.validators import OneOf, Range
from flask import request

from core.accounts import DISPATCH_ROLES
from core.errors import ValidationFailed
from dispatch import intake, moves, planning, queries
from dispatch.catalog import PRIORITIES
from dispatch.events import event_dict
from dispatch.intake import OrderRequest
from web.api import strict_fields as fields
from web.api.base import SECURITY, bp
from web.api.presenters import order_out, page_out
from web.api.schemas import (
    EventList,
    EventQuery,
    OrderIn,
    OrderOut,
    OrderPage,
    OrderQuery,
    TransitionIn,
)
from web.auth import ANY_ROLE, STAFF, current_actor, roles_required
from web.extensions import db
from web.wiring import intake_settings, planning_settings, sla_policy

IDEMPOTENCY_HEADER = "Idempotency-Key"


@bp.post("/orders")
@roles_required(*DISPATCH_ROLES)
@bp.input(OrderIn, arg_name="body")
@bp.output(OrderOut, status_code=201)
@bp.doc(
    security=SECURITY,
    responses={200: "a retry with the same Idempotency-Key: the order created the first time", 422: "key reused"},
)
def create_order(body: dict):
    """Create a work order. Send an `Idempotency-Key` header to make retries safe."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is not None and not 1 <= len(key) <= 128:
        raise ValidationFailed({IDEMPOTENCY_HEADER: "must be 1-128 characters"})
    actor = current_actor()
    order, created = intake.submit_order(
        db.session, OrderRequest(**body), actor, intake_settings(), idempotency_key=key
    )
    return order_out(order, actor), 201 if created else 200


@bp.get("/orders")
@roles_required(*ANY_ROLE)
@bp.input(OrderQuery, location="query", arg_name="args")
@bp.output(OrderPage)
@bp.doc(security=SECURITY)
def list_orders(args: dict):
    """Orders the caller may see, newest first; filter by status, outlet, technician, skill,
    priority, or search `q` by number, phone or address."""
    actor = current_actor()
    flt = queries.OrderFilter(
        status=args["status"], outlet_id=args["outlet_id"], technician_id=args["technician_id"],
        skill=args["skill"], priority=args["priority"], q=args["q"],
    )  # fmt: skip
    page = queries.list_orders(db.session, actor, flt, args["page"], args["per_page"])
    return page_out(page, lambda o: order_out(o, actor))


@bp.get("/orders/<int:order_id>")
@roles_required(*ANY_ROLE)
@bp.output(OrderOut)
@bp.doc(security=SECURITY)
def get_order(order_id: int):
    """One order (404 when it does not exist or is not the caller's to see)."""
    actor = current_actor()
    return order_out(moves.get_order(db.session, order_id, actor), actor)


@bp.post("/orders/<int:order_id>/transitions")
@roles_required(*ANY_ROLE)
@bp.input(TransitionIn, arg_name="body")
@bp.output(OrderOut)
@bp.doc(security=SECURITY, responses={409: "illegal move (lists the allowed ones) or stale version"})
def transition(order_id: int, body: dict):
    """Move an order through its lifecycle: assign, accept, reject, contact, depart, arrive,
    complete, return, close, cancel. `version` is the version the caller last read."""
    actor = current_actor()
    position = None
    if body["lat"] is not None and body["lon"] is not None:
        position = moves.Position(body["lat"], body["lon"], body["accuracy_m"])
    order = planning.move(
        db.session, order_id, body["action"], actor, planning_settings(),
        version=body["version"], reason=body["reason"], technician_id=body["technician_id"], position=position,
        sla=sla_policy(),
    )  # fmt: skip
    return order_out(order, actor)


@bp.get("/orders/<int:order_id>/events")
@roles_required(*ANY_ROLE)
@bp.output(EventList)
@bp.doc(security=SECURITY)
def order_events(order_id: int):
    """The order's full event trail, oldest first."""
    actor = current_actor()
    moves.get_order(db.session, order_id, actor)
    events = queries.order_events(db.session, order_id, actor)
    return {"items": [event_dict(e) for e in events], "last_seq": events[-1].seq if events else 0}


@bp.get("/events")
@roles_required(*STAFF, "technician")
@bp.input(EventQuery, location="query", arg_name="args")
@bp.output(EventList)
@bp.doc(security=SECURITY)
def events_feed(args: dict):
    """Events after sequence number `after` that the caller may see: a board's catch-up."""
    events = queries.events_after(db.session, current_actor(), args["after"], args["limit"])
    return {"items": [event_dict(e) for e in events], "last_seq": events[-1].seq if events else args["after"]}


class PriorityIn(Schema):
    priority = fields.String(required=True, validate=OneOf(PRIORITIES))
    version = fields.Integer(required=True, validate=Range(min=1))


@bp.post("/orders/<int:order_id>/priority")
@roles_required(*DISPATCH_ROLES)
@bp.input(PriorityIn, arg_name="body")
@bp.output(OrderOut)
@bp.doc(security=SECURITY, responses={409: "stale version, or the order is no longer open"})
def set_priority(order_id: int, body: dict):
    """Change an open order's priority (normal, urgent, vip)."""
    actor = current_actor()
    order = moves.set_priority(db.session, order_id, body["priority"], actor, version=body["version"])
    return order_out(order, actor)
