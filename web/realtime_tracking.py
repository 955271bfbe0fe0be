"""The customer's live tracking over Socket.IO, without a login.

The tracking page connects to the `/track` namespace presenting its link token; the server
checks the token (as the page does) and puts the socket in the order's room, which only
ever receives `tracking` messages built by `dispatch.tracking.public_update`.

Updates go out after commit: when an event changes what the customer sees (a status move,
an assignment, a new appointment), and when the technician, en route, reports a position
(`POST /api/tech/position`; dispatch/tracking.py publishes those as `tracking`).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app
from flask_socketio import join_room
from sqlalchemy.exc import OperationalError

from core.errors import NotFound
from dispatch import customer
from dispatch.models import WorkOrder
from dispatch.tracking import public_update, room_for, shows_customer
from web.extensions import db, socketio

NAMESPACE = "/track"


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
        if name == "tracking":  # dispatch/tracking.py: for the /track namespace only
            for room in rooms:
                _emit(room, payload)
            return
        if inner is not None:
            inner(name, payload, rooms)
        if name != "order_event" or not shows_customer(payload["event"]):
            return
        try:
            _push_order(app, payload["order"]["id"])
        except OperationalError as error:  # the database went away after the commit: no stack trace
            app.logger.warning("tracking update for order %s skipped: %s", payload["order"]["id"], error.orig or error)
        except Exception:  # noqa: BLE001 - the customer's page must never break the writer
            app.logger.exception("tracking update for order %s failed", payload["order"]["id"])

    db.publisher = publish
