"""What a customer's tracking link shows, live: the public update and the live ETA.

A `tracking` update carries the order number, its status, the technician's family name and
an ETA: never coordinates, phone numbers or addresses. Updates are published after commit
(`Database.publish("tracking", update, [room])`; the web layer sends them to the order's
room of the `/track` Socket.IO namespace) when the technician, en route, reports a position,
and the web layer pushes one when an event changes what the customer sees (`shows_customer`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import on_commit, unit_of_work, utcnow
from core.errors import NotFound
from dispatch import customer
from dispatch.lifecycle import Status
from dispatch.models import WorkOrder
from routing.geo import haversine_m
from technicians.models import Technician
from technicians.network import record_position

# A position older than this no longer says where the technician is: fall back to the plan.
FRESH_POSITION = timedelta(minutes=30)
# Events that change what the tracking page shows (besides any status change).
VISIBLE_KINDS = frozenset({"assign", "unassign", "reject", "rescheduled"})


def room_for(order: WorkOrder) -> str:
    """Keyed by the link's digest: a reissued link's old sockets stop hearing anything."""
    return f"track:{order.tracking_digest}"


def shows_customer(event: dict[str, Any]) -> bool:
    """Whether an event (as broadcast) changes what the order's tracking page shows."""
    return event["from_status"] != event["to_status"] or event["kind"] in VISIBLE_KINDS


def live_eta(order: WorkOrder, now: datetime | None = None) -> datetime | None:
    """En route with a fresh position: when the technician reported it plus the drive from
    there (great-circle × the outlet's detour factor at its average speed)."""
    tech = order.technician
    if order.status != Status.EN_ROUTE or tech is None or order.lat is None or order.lon is None:
        return None
    if tech.last_lat is None or tech.last_lon is None or tech.last_seen_at is None:
        return None
    if (now or utcnow()) - tech.last_seen_at > FRESH_POSITION:
        return None
    metres = float(haversine_m([(tech.last_lat, tech.last_lon)], [(order.lat, order.lon)])[0, 0])
    outlet = tech.outlet
    detour, speed_kmh = (outlet.detour_factor, outlet.speed_kmh) if outlet is not None else (1.3, 30.0)
    seconds = metres * detour / (max(speed_kmh, 1.0) / 3.6)
    return tech.last_seen_at + timedelta(seconds=round(seconds / 60) * 60)


def expected_arrival(
    order: WorkOrder, planned: datetime | None, now: datetime | None = None
) -> tuple[datetime | None, bool]:
    """When the technician should reach the order, and whether that is live: the live ETA
    while driving there with a fresh position, otherwise `planned` (the route stop's ETA).
    The customer's tracking page and the technician's phone both ask this, so they agree."""
    live = live_eta(order, now)
    return (live, True) if live is not None else (planned, False)


def public_update(session: Session, order: WorkOrder, tz: ZoneInfo) -> dict[str, Any]:
    """Everything a `tracking` message carries: the customer's own view, nothing more."""
    view = customer.customer_view(session, order, tz)
    eta, live = expected_arrival(order, view.eta)
    visit = view.visit if not live else None
    return {
        "number": view.number,
        "status": view.status,
        "technician": view.technician,
        "eta": eta.isoformat() if eta else None,
        "eta_local": eta.astimezone(tz).strftime("%H:%M") if eta else None,
        "live": live,
        # The planned day and window, worded by the page ("tomorrow, 09:00–11:00"): the local
        # date and the window's two ends.
        "visit_day": visit[0].date().isoformat() if visit else None,
        "visit_from": visit[0].strftime("%H:%M") if visit else None,
        "visit_to": visit[1].strftime("%H:%M") if visit else None,
        "can_reschedule": view.can_reschedule,
        "can_cancel": view.can_cancel,
        "survey_open": view.survey_open,
    }


def report_position(
    session: Session, technician_id: int | None, lat: float, lon: float, now: datetime, tz: ZoneInfo
) -> list[int]:
    """Store the technician's position, and publish after commit a tracking update for each
    order they are en route to (its live ETA moved). Returns those orders' ids. Commits."""
    with unit_of_work(session):
        tech = session.get(Technician, technician_id) if technician_id is not None else None
        if tech is None:
            raise NotFound("this account has no technician record")
        record_position(session, tech, lat, lon, now)
        session.flush()
        orders = session.scalars(
            select(WorkOrder).where(WorkOrder.technician_id == tech.id, WorkOrder.status == Status.EN_ROUTE)
        ).all()
        database = session.info.get("database")
        for order in orders:
            if order.tracking_digest is not None and database is not None:
                update, room = public_update(session, order, tz), room_for(order)
                on_commit(session, lambda u=update, r=room: database.publish("tracking", u, [r]))
    return [o.id for o in orders]
