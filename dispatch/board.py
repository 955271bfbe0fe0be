"""The dispatcher's live board as data: which orders it shows, the queue each sits in, which
are at risk, each technician's load, and one consistent snapshot of it all.

The rules live here once. The snapshot carries them (`rules`) so that the browser sorts an
order an event brought in the same way, without a copy of its own (web/static/board.js).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from core.accounts import Actor
from core.db import utcnow
from dispatch.lifecycle import OPEN, Status
from dispatch.models import OrderForecast, WorkOrder, WorkOrderEvent
from dispatch.permissions import covers_outlet, scope_orders
from dispatch.privacy import mask_phone, sees_contact
from technicians.models import Technician
from technicians.network import list_outlets, list_skills

OPEN_STATUSES = tuple(sorted(s.value for s in OPEN))
# What the board shows: open orders, orders waiting for a part, and completed ones waiting
# for the customer callback.
BOARD_STATUSES = (*OPEN_STATUSES, Status.WAITING_PARTS.value, Status.COMPLETED.value)
# Statuses whose orders count towards a technician's load today.
LOAD_STATUSES = frozenset({"assigned", "accepted", "en_route", "on_site", "returned"})
# An open order the miss forecast gives at least this chance of missing its promise is at
# risk too, however far its due time (the board's at-risk queue; simulation/forecast.py).
FORECAST_RISK = 0.5


def queue_of(status: str, technician_id: int | None) -> str:
    """The one queue an order sits in (at-risk is a flag on top; see `is_at_risk`)."""
    if status in ("new", "returned") and technician_id is None:
        return "unassigned"
    if status == "returned":
        return "returned"
    if status == "completed":
        return "awaiting_callback"
    if status == "waiting_parts":
        return "waiting_parts"
    return "in_progress"


def is_at_risk(status: str, due_at: datetime, now: datetime, risk_hours: float) -> bool:
    """Open and due within `risk_hours` (or overdue); the board adds the orders the miss
    forecast gives `FORECAST_RISK` or more (`rules`)."""
    return status in OPEN_STATUSES and due_at <= now + timedelta(hours=risk_hours)


def rules(risk_hours: float) -> dict[str, Any]:
    """The board's rules as data for the browser: the queue of each status the board shows,
    with and without a technician (`queue_of` for each), the statuses an order may be at risk
    in (`is_at_risk`: those, due within `risk_hours`) and the ones counting as load."""
    return {
        "queues": {s: {"unassigned": queue_of(s, None), "assigned": queue_of(s, 0)} for s in BOARD_STATUSES},
        "open_statuses": list(OPEN_STATUSES),
        "load_statuses": sorted(LOAD_STATUSES),
        "risk_hours": risk_hours,
        "forecast_risk": FORECAST_RISK,
    }


BOARD_COLUMNS = (
    WorkOrder.id, WorkOrder.number, WorkOrder.status, WorkOrder.priority, WorkOrder.version,
    WorkOrder.required_skill, WorkOrder.outlet_id, WorkOrder.technician_id, WorkOrder.contact_name,
    WorkOrder.contact_phone, WorkOrder.address, WorkOrder.lat, WorkOrder.lon, WorkOrder.created_at,
    WorkOrder.due_at, WorkOrder.completed_at,
)  # fmt: skip


def snapshot(
    session: Session, actor: Actor, risk_hours: float, locale: str = "en", now: datetime | None = None
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
    outlets = [o for o in list_outlets(session) if covers_outlet(actor.outlet_id, o.id)]
    return {
        "generated_at": now,
        "last_seq": int(last_seq or 0),
        "risk_hours": risk_hours,
        "rules": rules(risk_hours),
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


def forecasts(session: Session, actor: Actor, order_ids: list[int] | None = None) -> list[Any]:
    """The stored miss forecast (simulation/forecast.py) of the open orders `actor` may see
    (of `order_ids` only, when given), the likeliest misses first: rows with order_id, number,
    p_miss, promise ("due" or "appointment"), computed_at."""
    query = scope_orders(
        select(
            OrderForecast.order_id, WorkOrder.number, OrderForecast.p_miss, OrderForecast.promise,
            OrderForecast.computed_at,
        ).join(WorkOrder, WorkOrder.id == OrderForecast.order_id),
        actor,
    ).where(WorkOrder.status.in_(OPEN_STATUSES))  # fmt: skip
    if order_ids is not None:
        query = query.where(OrderForecast.order_id.in_(order_ids))
    return list(session.execute(query.order_by(OrderForecast.p_miss.desc(), WorkOrder.due_at, WorkOrder.id)))


def visible_numbers(session: Session, actor: Actor, order_ids: list[int]) -> dict[int, str]:
    """Of `order_ids`, the ones `actor` may see, with their numbers."""
    query = scope_orders(select(WorkOrder.id, WorkOrder.number), actor).where(WorkOrder.id.in_(order_ids))
    return dict(session.execute(query).all())
