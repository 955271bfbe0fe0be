"""The dispatcher's live board: one snapshot of everything open, then events keep it current.

A board loads `GET /api/board`, remembers `last_seq`, then applies each `order_event` from
Socket.IO in sequence order; on a gap or a reconnect it asks `GET /api/events?after=last_seq`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from apiflask import Schema
from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from core.accounts import Actor
from core.db import utcnow
from dispatch.lifecycle import OPEN, Status
from dispatch.models import WorkOrder, WorkOrderEvent
from dispatch.permissions import scope_orders
from dispatch.privacy import mask_phone, sees_contact
from technicians.models import Technician
from technicians.services import list_outlets, list_skills
from web.api import strict_fields as fields
from web.api.base import SECURITY, bp
from web.auth import STAFF, current_actor, roles_required
from web.extensions import db

# What the board shows: open orders, and completed ones waiting for the customer callback.
BOARD_STATUSES = tuple(s.value for s in OPEN) + (Status.COMPLETED.value,)
IN_PROGRESS = frozenset({"assigned", "accepted", "en_route", "on_site"})
# Statuses whose orders count towards a technician's load today.
LOAD_STATUSES = frozenset({"assigned", "accepted", "en_route", "on_site", "returned"})
QUEUES = ("unassigned", "at_risk", "in_progress", "awaiting_callback", "returned")


def queue_of(status: str, technician_id: int | None) -> str:
    """The one queue an order sits in (at-risk is a flag on top; see `is_at_risk`)."""
    if status in ("new", "returned") and technician_id is None:
        return "unassigned"
    if status == "returned":
        return "returned"
    if status == "completed":
        return "awaiting_callback"
    return "in_progress"


def is_at_risk(status: str, due_at: datetime, now: datetime, risk_hours: float) -> bool:
    """Open and due within `risk_hours` (or overdue)."""
    return status in {s.value for s in OPEN} and due_at <= now + timedelta(hours=risk_hours)


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


class BoardOut(Schema):
    generated_at = fields.DateTime()
    last_seq = fields.Integer(metadata={"description": "the newest event seq this snapshot already reflects"})
    risk_hours = fields.Float()
    orders = fields.List(fields.Nested(BoardOrder))
    technicians = fields.List(fields.Nested(BoardTechnician))
    outlets = fields.List(fields.Nested(BoardRef))
    skills = fields.List(fields.Nested(BoardSkill))


BOARD_COLUMNS = (
    WorkOrder.id, WorkOrder.number, WorkOrder.status, WorkOrder.priority, WorkOrder.version,
    WorkOrder.required_skill, WorkOrder.outlet_id, WorkOrder.technician_id, WorkOrder.contact_name,
    WorkOrder.contact_phone, WorkOrder.address, WorkOrder.lat, WorkOrder.lon, WorkOrder.created_at,
    WorkOrder.due_at, WorkOrder.completed_at,
)  # fmt: skip


def snapshot(
    session, actor: Actor, risk_hours: float, locale: str = "en", now: datetime | None = None
) -> dict[str, Any]:
    """The board's state as one consistent read.

    `last_seq` is read first, in the same transaction as the orders. Event numbers are handed
    out under a row lock in commit order, so every event up to `last_seq` is already visible
    to the order query that follows; an event committed in between (PostgreSQL's READ
    COMMITTED) may show in the orders *and* arrive later on the feed, which the board applies
    harmlessly (it keeps the higher order version).
    """
    now = now or utcnow()
    last_seq = session.scalar(select(func.coalesce(func.max(WorkOrderEvent.seq), 0)))
    # Plain rows, not ORM objects: a city's board is thousands of orders, read on every load.
    orders = session.execute(
        scope_orders(select(*BOARD_COLUMNS), actor)
        .where(WorkOrder.status.in_(BOARD_STATUSES))
        .order_by(WorkOrder.due_at, WorkOrder.id)
    ).all()
    techs_query = (
        select(Technician)
        .options(selectinload(Technician.skills), selectinload(Technician.outlet))
        .where(Technician.active.is_(True))
        .order_by(Technician.outlet_id, Technician.name)
    )
    if actor.outlet_id is not None:
        techs_query = techs_query.where(Technician.outlet_id == actor.outlet_id)
    techs = list(session.scalars(techs_query))
    load: dict[int, int] = {}
    for o in orders:
        if o.technician_id is not None and o.status in LOAD_STATUSES:
            load[o.technician_id] = load.get(o.technician_id, 0) + 1
    outlets = [o for o in list_outlets(session) if actor.outlet_id in (None, o.id)]
    return {
        "generated_at": now,
        "last_seq": int(last_seq or 0),
        "risk_hours": risk_hours,
        "orders": [
            {
                "id": o.id,
                "number": o.number,
                "status": o.status,
                "priority": o.priority,
                "version": o.version,
                "required_skill": o.required_skill,
                "outlet_id": o.outlet_id,
                "technician_id": o.technician_id,
                "contact_name": o.contact_name,
                "contact_phone": o.contact_phone if sees_contact(actor, o) else mask_phone(o.contact_phone),
                "address": o.address,
                "lat": o.lat,
                "lon": o.lon,
                "created_at": o.created_at,
                "due_at": o.due_at,
                "completed_at": o.completed_at,
                "queue": queue_of(o.status, o.technician_id),
                "at_risk": is_at_risk(o.status, o.due_at, now, risk_hours),
            }
            for o in orders
        ],
        "technicians": [
            {
                "id": t.id,
                "name": t.name,
                "outlet_id": t.outlet_id,
                "outlet_name": t.outlet.name if t.outlet else "",
                "skills": t.skill_codes,
                "daily_capacity": t.daily_capacity,
                "load": load.get(t.id, 0),
                "lat": t.last_lat if t.last_lat is not None else t.home_lat,
                "lon": t.last_lon if t.last_lon is not None else t.home_lon,
                "position": "last" if t.last_lat is not None else "home",
                "last_seen_at": t.last_seen_at,
            }
            for t in techs
        ],
        "outlets": [{"id": o.id, "code": o.code, "name": o.name} for o in outlets],
        "skills": [{"code": s.code, "name": s.name(locale)} for s in list_skills(session)],
    }


@bp.get("/board")
@roles_required(*STAFF)
@bp.output(BoardOut)
@bp.doc(security=SECURITY)
def board():
    """The live board's snapshot: open orders (and completed ones awaiting the callback) the
    caller may see, with their queue and at-risk flag; active technicians with today's load
    and position; and `last_seq`, from which to follow `GET /api/events?after=`."""
    from flask_babel import get_locale

    risk_hours = current_app.config["BOARD_RISK_HOURS"]
    return snapshot(db.session, current_actor(), risk_hours, str(get_locale()))
