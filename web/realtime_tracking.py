"""The customer's live tracking over Socket.IO, without a login.

The tracking page connects to the `/track` namespace presenting its link token; the server
checks the token (as the page does) and puts the socket in the order's room, which only
ever receives `tracking` messages built by `public_update`: the order number, its status,
the technician's family name and an ETA. Never coordinates, phone numbers or addresses.

Updates go out after commit: when an event changes what the customer sees (a status move,
an assignment, a new appointment), and when the technician, en route, reports a position
(`POST /api/tech/position`), which moves the live ETA.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apiflask import Schema, fields
from apiflask.validators import Range
from flask import Flask, current_app
from flask_socketio import join_room
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import on_commit, utcnow
from core.errors import NotFound
from dispatch import customer
from dispatch.lifecycle import Status
from dispatch.models import WorkOrder
from routing.geo import haversine_m
from technicians.services import record_position
from web.api.base import SECURITY, bp
from web.auth import current_actor, roles_required
from web.extensions import db, socketio

NAMESPACE = "/track"
# A position older than this no longer says where the technician is: fall back to the plan.
FRESH_POSITION = timedelta(minutes=30)
# Events that change what the tracking page shows (besides any status change).
VISIBLE_KINDS = frozenset({"assign", "unassign", "reject", "rescheduled"})


def room_for(order: WorkOrder) -> str:
    """Keyed by the link's digest: a reissued link's old sockets stop hearing anything."""
    return f"track:{order.tracking_digest}"


def live_eta(order: WorkOrder) -> datetime | None:
    """En route with a fresh position: when the technician reported it plus the drive from
    there (great-circle × the outlet's detour factor at its average speed)."""
    tech = order.technician
    if order.status != Status.EN_ROUTE or tech is None or order.lat is None or order.lon is None:
        return None
    if tech.last_lat is None or tech.last_lon is None or tech.last_seen_at is None:
        return None
    if utcnow() - tech.last_seen_at > FRESH_POSITION:
        return None
    metres = float(haversine_m([(tech.last_lat, tech.last_lon)], [(order.lat, order.lon)])[0, 0])
    outlet = tech.outlet
    detour, speed_kmh = (outlet.detour_factor, outlet.speed_kmh) if outlet is not None else (1.3, 30.0)
    seconds = metres * detour / (max(speed_kmh, 1.0) / 3.6)
    return tech.last_seen_at + timedelta(seconds=round(seconds / 60) * 60)


def public_update(session: Session, order: WorkOrder, tz: ZoneInfo) -> dict[str, Any]:
    """Everything a `tracking` message carries: the customer's own view, nothing more."""
    view = customer.customer_view(session, order)
    eta = live_eta(order) or view.eta
    return {
        "number": view.number,
        "status": view.status,
        "technician": view.technician,
        "eta": eta.isoformat() if eta else None,
        "eta_local": eta.astimezone(tz).strftime("%H:%M") if eta else None,
        "live": live_eta(order) is not None,
        "can_reschedule": view.can_reschedule,
        "can_cancel": view.can_cancel,
        "survey_open": view.survey_open,
    }


def _emit(room: str, update: dict[str, Any]) -> None:
    socketio.emit("tracking", update, to=room, namespace=NAMESPACE)


@socketio.on("connect", namespace=NAMESPACE)
def on_track_connect(auth: Any = None) -> bool:
    """A tracking page joins its order's room by presenting the link token; a bad or
    expired token is refused (Socket.IO's same-origin default still applies)."""
    token = auth.get("token") if isinstance(auth, dict) else None
    try:
        order = customer.order_for_token(db.session, token if isinstance(token, str) else "")
    except NotFound as exc:  # LinkExpired is a NotFound too
        db.session.rollback()
        raise ConnectionRefusedError(exc.message) from None
    join_room(room_for(order), namespace=NAMESPACE)
    db.session.rollback()  # end the read transaction promptly (SQLite takes a write lock)
    return True


@socketio.on("refresh", namespace=NAMESPACE)
def on_track_refresh(token: Any = None) -> dict[str, Any] | None:
    """The page's current state (as its acknowledgement), asked for right after connecting
    so that nothing committed between the page load and the join is missed."""
    try:
        order = customer.order_for_token(db.session, token if isinstance(token, str) else "")
        return public_update(db.session, order, current_app.config["TIMEZONE"])
    except NotFound:
        return None
    finally:
        db.session.rollback()


# --- the technician's position --------------------------------------------------------


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
    actor = current_actor()
    session, now = db.session, utcnow()
    tz = current_app.config["TIMEZONE"]
    try:
        order_ids = report_position(session, actor.technician_id, body["lat"], body["lon"], now, tz)
    except BaseException:
        session.rollback()
        raise
    return {"recorded_at": now, "tracking_updates": len(order_ids)}


def report_position(
    session: Session, technician_id: int | None, lat: float, lon: float, now: datetime, tz: ZoneInfo
) -> list[int]:
    """Store the position, and queue a tracking update (sent after commit) for each order
    the technician is en route to. Commits."""
    from technicians.models import Technician

    tech = session.get(Technician, technician_id) if technician_id is not None else None
    if tech is None:
        raise NotFound("this account has no technician record")
    record_position(session, tech, lat, lon, now)
    session.flush()
    orders = session.scalars(
        select(WorkOrder).where(WorkOrder.technician_id == tech.id, WorkOrder.status == Status.EN_ROUTE)
    ).all()
    for order in orders:
        if order.tracking_digest is not None:
            update = public_update(session, order, tz)
            on_commit(session, lambda r=room_for(order), u=update: _emit(r, u))
    session.commit()
    return [o.id for o in orders]


# --- events ---------------------------------------------------------------------------


def _push_order(app: Flask, order_id: int) -> None:
    with app.app_context(), db.session_scope() as session:
        order = session.get(WorkOrder, order_id)
        if order is None or order.tracking_digest is None:
            return
        update, room = public_update(session, order, app.config["TIMEZONE"]), room_for(order)
    _emit(room, update)


def register(app: Flask) -> None:
    """Follow committed events: the ones a customer would see go to the order's room too."""
    inner = db.publisher

    def publish(name: str, payload: dict[str, Any], rooms: list[str]) -> None:
        if inner is not None:
            inner(name, payload, rooms)
        if name != "order_event":
            return
        event = payload["event"]
        if event["from_status"] == event["to_status"] and event["kind"] not in VISIBLE_KINDS:
            return
        try:
            _push_order(app, payload["order"]["id"])
        except Exception:  # noqa: BLE001 - the customer's page must never break the writer
            app.logger.exception("tracking update for order %s failed", payload["order"]["id"])

    db.publisher = publish
