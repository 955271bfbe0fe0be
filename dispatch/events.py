"""Writing the event trail, and announcing each event once its transaction commits.

Numbering. An event's `seq` is global and follows commit order, which the `work_order_events`
counter guarantees by staying row-locked from the moment a transaction takes numbers until
it commits. The numbers are therefore taken as the very last step of a commit (the
`before_commit` hook below), after every other row the transaction writes is locked: a
transaction that holds the counter then waits for nothing, and no two transactions can
deadlock over it (a plan being applied used to take the counter at its first event and then
wait for route stops that a dispatcher's move held while waiting for the counter). Until
then an event carries a provisional number above `PROVISIONAL`, increasing within a process,
so reads inside the transaction still see its events in the order they were recorded.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from core.accounts import Actor
from core.db import next_value, on_commit, utcnow
from dispatch.models import WorkOrder, WorkOrderEvent
from dispatch.visibility import EventView, event_rooms

EVENT_SEQUENCE = "work_order_events"
# Provisional numbers: 2**62 + a nanosecond clock (about 2**61 until the year 2500), so they
# fit a BIGINT, never meet a real number, and stay unique across processes in practice.
PROVISIONAL = 1 << 62
_UNNUMBERED = "events_unnumbered"
_ANNOUNCEMENTS = "events_announcements"  # order id -> the payload of its latest event in this transaction
_last_provisional = 0
_provisional_lock = threading.Lock()


def _provisional_seq() -> int:
    global _last_provisional
    with _provisional_lock:
        _last_provisional = max(_last_provisional + 1, time.time_ns())
        return PROVISIONAL + _last_provisional


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
    flush: bool = True,
) -> WorkOrderEvent:
    """Append one event for `order` and queue its broadcast for after the commit (its final
    `seq` is given at commit; see the module's docstring). `flush=False` leaves the INSERT to
    the caller's next flush, for callers that record many events at once."""
    lat, lon, accuracy = location if location else (None, None, None)
    event = WorkOrderEvent(
        seq=_provisional_seq(),
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
    session.info[_UNNUMBERED] = True
    if flush:
        session.flush()
    summary = order_summary(order)
    technicians = [t for t in (order.technician_id, (data or {}).get("previous_technician_id")) if t is not None]
    # Each room then gets what its members may read (dispatch/visibility.py views_by_room).
    rooms = event_rooms(order.outlet_id, technicians)
    database = session.info.get("database")
    if database is not None:
        payload: dict[str, Any] = {"order": summary}
        session.info.setdefault(_ANNOUNCEMENTS, {})[order.id] = payload
        on_commit(session, lambda: database.publish("order_event", {"event": event_dict(event), **payload}, rooms))
    return event


def add_to_announcement(session: Session, order_id: int, **extra: Any) -> None:
    """Send `extra` along with the latest event recorded for the order in this transaction
    (after the commit, as the event itself): what the boards need besides the order's summary,
    such as the timeline rows a placement changed. Nothing when no event was recorded."""
    payload = session.info.get(_ANNOUNCEMENTS, {}).get(order_id)
    if payload is not None:
        payload.update(extra)


@sa_event.listens_for(Session, "after_commit")
@sa_event.listens_for(Session, "after_rollback")
@sa_event.listens_for(Session, "after_soft_rollback")
def _forget_announcements(session: Session, *_: Any) -> None:
    session.info.pop(_ANNOUNCEMENTS, None)


@sa_event.listens_for(Session, "before_commit")
def _number_events(session: Session) -> None:
    """Give this transaction's events their final numbers, last thing before the commit."""
    if session.in_nested_transaction() or not session.info.pop(_UNNUMBERED, False):
        return
    session.flush()  # every other row this transaction writes is locked before the counter is
    pending = session.execute(
        select(WorkOrderEvent.id, WorkOrderEvent.seq)
        .where(WorkOrderEvent.seq >= PROVISIONAL)
        .order_by(WorkOrderEvent.seq)
    ).all()
    if not pending:
        return
    last = next_value(session, EVENT_SEQUENCE, len(pending))
    final = {event_id: last - len(pending) + 1 + i for i, (event_id, _) in enumerate(pending)}
    session.execute(update(WorkOrderEvent), [{"id": event_id, "seq": seq} for event_id, seq in final.items()])
    for obj in list(session.identity_map.values()):
        if isinstance(obj, WorkOrderEvent) and obj.id in final:
            set_committed_value(obj, "seq", final[obj.id])


def event_dict(event: WorkOrderEvent | EventView) -> dict[str, Any]:
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
