"""The dispatcher's live board: one snapshot of everything open, then events keep it current.

A board loads `GET /api/board`, remembers `last_seq`, then applies each `order_event` from
Socket.IO in sequence order; on a gap or a reconnect it asks `GET /api/events?after=last_seq`.
"""

from __future__ import annotations

from apiflask import Schema
from flask import current_app
from flask_babel import get_locale

from core.phones import display_phone
from dispatch import moves, queries
from dispatch.board import forecasts, snapshot
from dispatch.privacy import mask_phone, sees_contact
from dispatch.sla import clocks
from web.api import strict_fields as fields
from web.api.base import SECURITY, bp
from web.api.forecast import ForecastItem, forecast_item
from web.auth import STAFF, current_actor, roles_required
from web.event_wording import EventWording
from web.extensions import db
from web.filters import skill_name
from web.labels import CLOCK, ISSUE


class BoardOrder(Schema):
    id = fields.Integer()
    number = fields.String()
    status = fields.String()
    priority = fields.String()
    version = fields.Integer()
    required_skill = fields.String()
    outlet_id = fields.Integer(allow_none=True)
    technician_id = fields.Integer(allow_none=True)
    contact_name = fields.String()
    contact_phone = fields.String()
    address = fields.String()
    lat = fields.Float(allow_none=True)
    lon = fields.Float(allow_none=True)
    created_at = fields.DateTime()
    due_at = fields.DateTime()
    completed_at = fields.DateTime(allow_none=True)
    queue = fields.String(metadata={"description": "unassigned, in_progress, awaiting_callback or returned"})
    at_risk = fields.Boolean(metadata={"description": "open and due within BOARD_RISK_HOURS, or overdue"})


class BoardTechnician(Schema):
    id = fields.Integer()
    name = fields.String()
    outlet_id = fields.Integer()
    outlet_name = fields.String()
    skills = fields.List(fields.String())
    daily_capacity = fields.Integer()
    load = fields.Integer(metadata={"description": "open orders assigned to the technician"})
    lat = fields.Float(metadata={"description": "last known position, else home"})
    lon = fields.Float()
    position = fields.String(metadata={"description": "'last' (reported by the phone) or 'home'"})
    last_seen_at = fields.DateTime(allow_none=True)


class BoardRef(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()


class BoardSkill(Schema):
    code = fields.String()
    name = fields.String()


class QueueOf(Schema):
    unassigned = fields.String(metadata={"description": "the queue of an order in this status with no technician"})
    assigned = fields.String(metadata={"description": "the queue of an order in this status with a technician"})


class BoardRules(Schema):
    queues = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(QueueOf),
        metadata={"description": "every status the board shows, and the queue an order in it sits in"},
    )
    open_statuses = fields.List(fields.String(), metadata={"description": "an order may be at risk in these"})
    load_statuses = fields.List(fields.String(), metadata={"description": "these count towards a technician's load"})
    risk_hours = fields.Float(metadata={"description": "at risk: open and due within this many hours, or overdue"})
    forecast_risk = fields.Float(
        metadata={"description": "at risk too: open with at least this forecast chance of a miss (GET /api/forecast)"}
    )


class BoardOut(Schema):
    generated_at = fields.DateTime()
    last_seq = fields.Integer(metadata={"description": "the newest event seq this snapshot already reflects"})
    risk_hours = fields.Float()
    rules = fields.Nested(BoardRules, metadata={"description": "the queue and at-risk rules, for orders events bring"})
    orders = fields.List(fields.Nested(BoardOrder))
    technicians = fields.List(fields.Nested(BoardTechnician))
    outlets = fields.List(fields.Nested(BoardRef))
    skills = fields.List(fields.Nested(BoardSkill))


@bp.get("/board")
@roles_required(*STAFF)
@bp.output(BoardOut)
@bp.doc(security=SECURITY)
def board():
    """The live board's snapshot: open orders (and completed ones awaiting the callback) the
    caller may see, with their queue and at-risk flag; active technicians with today's load
    and position; `last_seq`, from which to follow `GET /api/events?after=`; and the queue
    and at-risk rules (`rules`), by which to sort the orders those events bring."""
    risk_hours = current_app.config["BOARD_RISK_HOURS"]
    return snapshot(db.session, current_actor(), risk_hours, str(get_locale()))


class PanelClock(Schema):
    clock = fields.String()
    label = fields.String(metadata={"description": "what the clock asks for, in the user's language"})
    due_at = fields.DateTime()
    stopped_at = fields.DateTime(allow_none=True, metadata={"description": "met (or stopped) at"})
    breached_at = fields.DateTime(allow_none=True)


class PanelLine(Schema):
    at = fields.String(metadata={"description": "local time, formatted for the user"})
    who = fields.String()
    what = fields.String()
    status = fields.String(metadata={"description": "old → new status in words, or empty"})
    details = fields.List(fields.String())


class PanelOut(Schema):
    id = fields.Integer()
    product = fields.String(metadata={"description": "the product in the user's language"})
    model = fields.String()
    fault = fields.String(metadata={"description": "the kind of job in the user's language"})
    description = fields.String()
    in_warranty = fields.Boolean()
    phone = fields.String(metadata={"description": "national format, masked for roles that do not call customers"})
    tel = fields.String(allow_none=True, metadata={"description": "tel: link, when the caller may call"})
    clocks = fields.List(fields.Nested(PanelClock))
    history = fields.List(fields.Nested(PanelLine), metadata={"description": "newest first, in sentences"})
    forecast = fields.Nested(
        ForecastItem, allow_none=True, metadata={"description": "its miss forecast (GET /api/forecast); null: none"}
    )


@bp.get("/board/orders/<int:order_id>")
@roles_required(*STAFF)
@bp.output(PanelOut)
@bp.doc(security=SECURITY)
def board_order_panel(order_id: int):
    """What the board's order panel shows: product, fault, the phone to call, the SLA clocks and
    the history in sentences, in the caller's language."""
    actor = current_actor()
    order = moves.get_order(db.session, order_id, actor)
    calls = sees_contact(actor, order)
    lines = EventWording(db.session, current_app.config["TIMEZONE"]).lines(
        queries.order_events(db.session, order_id, actor)
    )
    predicted = forecasts(db.session, actor, [order.id])
    return {
        "id": order.id,
        "forecast": forecast_item(predicted[0]) if predicted else None,
        "product": skill_name(order.product_category),
        "model": order.product_model or "",
        "fault": str(ISSUE.get(order.issue_category, order.issue_category)),
        "description": order.description or "",
        "in_warranty": bool(order.in_warranty),
        "phone": display_phone(order.contact_phone) if calls else (mask_phone(order.contact_phone) or ""),
        "tel": f"tel:{order.contact_phone}" if calls and order.contact_phone else None,
        "clocks": [
            {
                "clock": c.clock,
                "label": str(CLOCK.get(c.clock, c.clock)),
                "due_at": c.due_at,
                "stopped_at": c.stopped_at,
                "breached_at": c.breached_at,
            }
            for c in clocks.order_clocks(db.session, order_id)
        ],
        "history": [
            {"at": line.at, "who": line.who, "what": line.what, "status": line.status, "details": line.details}
            for line in reversed(lines)
        ],
    }
