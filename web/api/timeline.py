"""The board's timeline over JSON: the technicians' days, a drop on them, and pinning."""

from __future__ import annotations

from apiflask import Schema
from apiflask.validators import Range
from flask_babel import get_locale
from marshmallow import ValidationError

from core.dates import OUT_OF_RANGE, within_range
from core.db import utcnow
from core.errors import Refused
from dispatch import planning
from dispatch.timeline import MAX_DAYS, timeline
from technicians.models import Skill
from web.api import strict_fields as fields
from web.api.base import SECURITY, bp
from web.api.presenters import order_out
from web.api.schemas import OrderOut
from web.auth import STAFF, current_actor, roles_required
from web.extensions import db
from web.wiring import planning_settings


def _in_calendar(value) -> None:
    if not within_range(value):
        raise ValidationError(OUT_OF_RANGE)


class TimelineQuery(Schema):
    TEXT_INPUT = True  # query string: every value arrives as text (strict_fields)
    date = fields.Date(
        load_default=None,
        validate=_in_calendar,
        metadata={"description": "first local day (default: today); years 2000 to 2099"},
    )
    days = fields.Integer(load_default=1, validate=Range(1, MAX_DAYS))


class TimelineShift(Schema):
    start = fields.DateTime()
    end = fields.DateTime()


class TimelineBreak(Schema):
    start = fields.DateTime()
    end = fields.DateTime()
    minutes = fields.Integer(metadata={"description": "the break's length, placed somewhere in the window by the plan"})


class TimelineRow(Schema):
    id = fields.Integer()
    name = fields.String()
    outlet_id = fields.Integer()
    outlet_name = fields.String()
    skills = fields.List(fields.String())
    daily_capacity = fields.Integer()
    shifts = fields.List(fields.Nested(TimelineShift))
    breaks = fields.List(fields.Nested(TimelineBreak), metadata={"description": "each working day's break window"})
    leave_days = fields.List(fields.String(), metadata={"description": "local dates on leave"})
    unplanned = fields.List(fields.Integer(), metadata={"description": "assigned open orders with no planned time"})


class TimelineStop(Schema):
    order_id = fields.Integer()
    number = fields.String()
    technician_id = fields.Integer()
    seq = fields.Integer()
    status = fields.String()
    priority = fields.String()
    version = fields.Integer()
    address = fields.String()
    arrival = fields.DateTime(metadata={"description": "planned arrival (route_stops.eta)"})
    travel_start = fields.DateTime(metadata={"description": "when the technician sets off for it"})
    start = fields.DateTime(metadata={"description": "service start: arrival, or the appointment's opening"})
    end = fields.DateTime(metadata={"description": "service end: start + the category's service minutes"})
    due_at = fields.DateTime()
    late = fields.Boolean(metadata={"description": "service starts after the order is due"})
    pinned = fields.Boolean(metadata={"description": "held where it is: a re-optimisation leaves it"})


class TimelineOut(Schema):
    generated_at = fields.DateTime()
    last_seq = fields.Integer(metadata={"description": "the newest event seq these days already reflect"})
    start = fields.DateTime()
    end = fields.DateTime()
    rows = fields.List(fields.Nested(TimelineRow))
    stops = fields.List(fields.Nested(TimelineStop))


class PlacementIn(Schema):
    technician_id = fields.Integer(required=True, validate=Range(min=1))
    before_order_id = fields.Integer(
        load_default=None,
        allow_none=True,
        validate=Range(min=1),
        metadata={"description": "the stop it goes before; null: last"},
    )
    version = fields.Integer(required=True, validate=Range(min=1))
    day = fields.Date(
        load_default=None,
        allow_none=True,
        validate=_in_calendar,
        metadata={"description": "the local day of the planning horizon it goes on (default: today)"},
    )


class RouteStopOut(Schema):
    order_id = fields.Integer()
    seq = fields.Integer()
    eta = fields.DateTime(allow_none=True)


class PlacementOut(Schema):
    order = fields.Nested(OrderOut)
    technician_id = fields.Integer()
    route = fields.List(fields.Nested(RouteStopOut), metadata={"description": "the technician's day after the drop"})


class PinIn(Schema):
    pinned = fields.Boolean(required=True)
    version = fields.Integer(required=True, validate=Range(min=1))


@bp.get("/timeline")
@roles_required(*STAFF)
@bp.input(TimelineQuery, location="query", arg_name="args")
@bp.output(TimelineOut)
@bp.doc(security=SECURITY)
def get_timeline(args: dict):
    """The technicians of the caller's scope with their shifts and planned stops, from `date`
    (local, default today) for `days` days (at most 7)."""
    settings = planning_settings()
    first = args["date"] or utcnow().astimezone(settings.timezone).date()
    return timeline(db.session, current_actor(), settings, first_day=first, days=args["days"])


@bp.post("/orders/<int:order_id>/placement")
@roles_required("admin", "dispatcher")
@bp.input(PlacementIn, arg_name="body")
@bp.output(PlacementOut)
@bp.doc(
    security=SECURITY,
    responses={
        409: "stale version, a move the order's status does not allow, or the route changed meanwhile",
        422: "the technician cannot take it: `reason` is skill, off_duty, capacity, shift or no_location",
    },
)
def place(order_id: int, body: dict):
    """Put an order at a place in a technician's day (a drop on the timeline): before
    `before_order_id`, or last, on `day` of the planning horizon (default today). Assigns,
    reassigns, re-sequences or moves it to that day; the order is pinned there."""
    actor = current_actor()
    try:
        placed = planning.place(
            db.session, order_id, body["technician_id"], actor, planning_settings(),
            version=body["version"], before_order_id=body["before_order_id"], day=body["day"],
        )  # fmt: skip
    except Refused as refusal:
        if refusal.reason == "skill":  # the skill in the user's language, not its code
            skill = db.session.get(Skill, refusal.params["skill"])
            if skill is not None:
                refusal.params["skill"] = skill.name(str(get_locale()))
        raise
    return {
        "order": order_out(placed.order, actor),
        "technician_id": placed.technician_id,
        "route": [{"order_id": oid, "seq": seq, "eta": eta} for seq, (oid, eta) in enumerate(placed.route)],
    }


@bp.post("/orders/<int:order_id>/pin")
@roles_required("admin", "dispatcher")
@bp.input(PinIn, arg_name="body")
@bp.output(OrderOut)
@bp.doc(security=SECURITY, responses={409: "stale version, or the order has no technician"})
def pin(order_id: int, body: dict):
    """Pin an assigned order where it is ("don't move": re-optimisation leaves it), or release it."""
    actor = current_actor()
    order = planning.pin(
        db.session, order_id, body["pinned"], actor, version=body["version"], settings=planning_settings()
    )
    return order_out(order, actor)
