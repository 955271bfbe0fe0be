"""The technician's phone as a read model: today's orders in route order, each with what the
technician needs at the door (ETA, checklist, the customer's earlier orders at the address,
why a returned order came back, this visit's photos and report).

The ETA is the one the customer's tracking page shows (`dispatch.tracking.expected_arrival`):
live while driving there with a fresh position, otherwise the planned route stop's.

The whole day is read in a fixed handful of queries, however many orders it holds: the
orders with their route stops, then the earlier orders, the events, the callbacks and the
photos of all of them at once (the phone polls this list; it used to cost five queries an order).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, joinedload

from core import clock
from core.accounts import Actor
from core.phones import display_phone
from dispatch.lifecycle import OPEN, Status, allowed_actions
from dispatch.models import Callback, Photo, RouteStop, WorkOrder, WorkOrderEvent
from dispatch.phone_actions import checklist_for
from dispatch.planning.horizon import visit_window
from dispatch.tracking import expected_arrival
from technicians.models import Technician

HISTORY_LIMIT = 5  # earlier orders shown per order
HISTORY_COLUMNS = (
    WorkOrder.id, WorkOrder.customer_id, WorkOrder.address, WorkOrder.number, WorkOrder.created_at, WorkOrder.status,
    WorkOrder.product_category, WorkOrder.product_model, WorkOrder.issue_category, WorkOrder.description,
)  # fmt: skip


def navigate_url(order: WorkOrder) -> str:
    """A maps link for the phone (AMap's URI API opens the app or its web page)."""
    if order.lat is not None and order.lon is not None:
        return (
            f"https://uri.amap.com/navigation?to={order.lon:.6f},{order.lat:.6f},{quote(order.address)}"
            "&mode=car&coordinate=wgs84&callnative=1"
        )
    return f"https://uri.amap.com/search?keyword={quote(order.address)}"


def today_orders(
    session: Session, actor: Actor, tz: ZoneInfo, checklists: dict[str, list[str]] | None = None
) -> list[dict[str, Any]]:
    """The technician's open orders and those finished today, in planned route order."""
    start = datetime.combine(clock.now().astimezone(tz).date(), time(0), tzinfo=tz)
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

    rows = sorted(rows, key=key)
    orders = [order for order, _ in rows]
    if any(order.status == Status.EN_ROUTE for order in orders):
        # Read once with its outlet (speed, detour): the live ETAs below all need it.
        session.get(Technician, actor.technician_id, options=[joinedload(Technician.outlet)])
    history = _histories(session, orders)
    returns = _return_infos(session, orders)
    visits = _visit_states(session, orders)
    shown = [
        tech_order(order, stop, actor, checklists, history[order.id], returns.get(order.id), visits[order.id])
        for order, stop in rows
    ]
    for item, (order, stop) in zip(shown, rows, strict=True):
        # The day and window the visit is planned in (a later day of the horizon reads
        # "tomorrow, 09:00–11:00" on the phone), as the customer's tracking page says it.
        appointment = (order.appointment_start, order.appointment_end) if order.appointment_start else None
        planned = order.status in (Status.ASSIGNED, Status.ACCEPTED)
        window = visit_window(appointment, stop.eta if stop else None, tz) if planned else None
        item["visit_day"] = window[0].date().isoformat() if window else None
        item["visit_from"] = window[0].strftime("%H:%M") if window else None
        item["visit_to"] = window[1].strftime("%H:%M") if window else None
    return shown


def tech_order(
    order: WorkOrder,
    stop: RouteStop | None,
    actor: Actor,
    checklists: dict[str, list[str]] | None,
    history: list[dict[str, Any]],
    return_info: dict[str, Any] | None,
    visit_state: dict[str, Any],
) -> dict[str, Any]:
    """One order as the phone shows it."""
    eta, live = expected_arrival(order, stop.eta if stop else None)
    return {
        "id": order.id,
        "number": order.number,
        "status": order.status,
        "version": order.version,
        "priority": order.priority,
        "customer": {
            "name": order.contact_name,
            "phone": order.contact_phone,
            "phone_display": display_phone(order.contact_phone) if order.contact_phone else "",
        },
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
        "eta": eta.isoformat() if eta and order.status != Status.ON_SITE else None,
        "eta_live": live,
        "visit_count": order.visit_count,
        "contacted_at": order.contacted_at.isoformat() if order.contacted_at else None,
        "proof_photos_required": order.proof_photos_required,
        "checklist": checklist_for(checklists, order.issue_category),
        "allowed_actions": allowed_actions(order.status, actor.role, is_own_technician=True),
        "return_info": return_info,
        "history": history,
        **visit_state,
    }


def _histories(session: Session, orders: list[WorkOrder]) -> dict[int, list[dict[str, Any]]]:
    """Per order: the customer's up to HISTORY_LIMIT latest earlier orders at the same address."""
    out: dict[int, list[dict[str, Any]]] = {o.id: [] for o in orders}
    if not orders:
        return out
    by_place: dict[tuple[int, str], list[Any]] = defaultdict(list)
    candidates = session.execute(
        select(*HISTORY_COLUMNS).where(
            WorkOrder.customer_id.in_({o.customer_id for o in orders}),
            WorkOrder.address.in_({o.address for o in orders}),
        )
    )
    for row in candidates:
        by_place[(row.customer_id, row.address)].append(row)
    for place in by_place.values():
        place.sort(key=lambda r: (r.created_at, r.id), reverse=True)
    for order in orders:
        earlier = [
            r for r in by_place.get((order.customer_id, order.address), ())
            if r.id != order.id and r.created_at <= order.created_at
        ][:HISTORY_LIMIT]  # fmt: skip
        out[order.id] = [
            {"number": r.number, "created_at": r.created_at.isoformat(), "status": r.status,
             "product_category": r.product_category, "product_model": r.product_model,
             "issue_category": r.issue_category, "description": (r.description or "")[:200]}
            for r in earlier
        ]  # fmt: skip
    return out


def _events(session: Session, order_ids: list[int], kinds: tuple[str, ...]) -> list[WorkOrderEvent]:
    if not order_ids:
        return []
    return list(
        session.scalars(
            select(WorkOrderEvent)
            .where(WorkOrderEvent.order_id.in_(order_ids), WorkOrderEvent.kind.in_(kinds))
            .order_by(WorkOrderEvent.seq)
        )
    )


def _return_infos(session: Session, orders: list[WorkOrder]) -> dict[int, dict[str, Any]]:
    """Per order on a second (or later) visit: why the last visit did not count, and what the
    customer or the callback said (the latest return event and the latest callback)."""
    again = {o.id: o for o in orders if o.visit_count > 1}
    if not again:
        return {}
    last_return = {e.order_id: e for e in _events(session, list(again), ("return",))}  # seq order: the last wins
    last_callback = {
        c.order_id: c
        for c in session.scalars(select(Callback).where(Callback.order_id.in_(list(again))).order_by(Callback.id))
    }
    out = {}
    for order_id, order in again.items():
        event, callback = last_return.get(order_id), last_callback.get(order_id)
        out[order_id] = {
            "reason": (event.data or {}).get("reason") if event else None,
            "at": event.at.isoformat() if event else None,
            "problems": list(callback.problems or []) if callback else [],
            "callback_note": callback.note if callback else "",
            "visit": order.visit_count,
        }
    return out


def _visit_states(session: Session, orders: list[WorkOrder]) -> dict[int, dict[str, Any]]:
    """Per order: this visit's photo ids and whether its completion report is in."""
    ids = [o.id for o in orders]
    visit = {o.id: o.visit_count for o in orders}
    photos: dict[int, list[int]] = defaultdict(list)
    if ids:
        for photo_id, order_id, photo_visit in session.execute(
            select(Photo.id, Photo.order_id, Photo.visit).where(Photo.order_id.in_(ids)).order_by(Photo.id)
        ):
            if photo_visit == visit[order_id]:
                photos[order_id].append(photo_id)
    reported = {
        e.order_id
        for e in _events(session, ids, ("completion_report",))
        if (e.data or {}).get("visit") == visit[e.order_id]
    }
    return {i: {"photo_ids": photos[i], "report_submitted": i in reported} for i in ids}
