"""Writing the event trail, and announcing each event once its transaction commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from core.accounts import Actor
from core.db import next_value, on_commit, utcnow
from dispatch.models import WorkOrder, WorkOrderEvent

EVENT_SEQUENCE = "work_order_events"


def record_event(
    session: Session,
    order: WorkOrder,
    kind: str,
    actor: Actor,
    *,
    from_status: str | None = None,
    to_status: str | None = None,
    data: dict[str, Any] | None = None,
    location: tuple[float, float, float | None] | None = None,
    at: datetime | None = None,
) -> WorkOrderEvent:
    """Append one event for `order` and queue its broadcast for after the commit."""
    lat, lon, accuracy = location if location else (None, None, None)
    event = WorkOrderEvent(
        seq=next_value(session, EVENT_SEQUENCE),
        order_id=order.id,
        at=at or utcnow(),
        actor_id=actor.user_id,
        actor_role=actor.role,
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        data=data or {},
        lat=lat,
        lon=lon,
        accuracy_m=accuracy,
    )
    session.add(event)
    session.flush()
    payload = {"event": event_dict(event), "order": order_summary(order)}
    rooms = ["dispatch", f"outlet:{order.outlet_id}" if order.outlet_id is not None else "unplaced"]
    if order.technician_id is not None:
        rooms.append(f"technician:{order.technician_id}")
    previous = (data or {}).get("previous_technician_id")
    if previous is not None:
        rooms.append(f"technician:{previous}")
    database = session.info.get("database")
    if database is not None:
        on_commit(session, lambda: database.publish("order_event", payload, rooms))
    return event


def event_dict(event: WorkOrderEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "order_id": event.order_id,
        "at": event.at.isoformat(),
        "actor_id": event.actor_id,
        "actor_role": event.actor_role,
        "kind": event.kind,
        "from_status": event.from_status,
        "to_status": event.to_status,
        "data": event.data,
        "lat": event.lat,
        "lon": event.lon,
        "accuracy_m": event.accuracy_m,
    }


def order_summary(order: WorkOrder) -> dict[str, Any]:
    """What a board needs to redraw one order, without another query."""
    return {
        "id": order.id,
        "number": order.number,
        "status": order.status,
        "priority": order.priority,
        "required_skill": order.required_skill,
        "outlet_id": order.outlet_id,
        "technician_id": order.technician_id,
        "lat": order.lat,
        "lon": order.lon,
        "due_at": order.due_at.isoformat(),
        "version": order.version,
    }
