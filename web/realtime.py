"""Socket.IO: who joins which rooms, and how committed events reach them.

Rooms: `dispatch` (staff of every outlet), `outlet:<id>` and `unplaced` (staff tied to one
outlet: theirs and the orders no outlet has yet), `technician:<id>` (one technician's phone).
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_login import current_user
from flask_socketio import join_room

from web.auth import current_actor
from web.extensions import db, socketio


def rooms_for_current_user() -> list[str]:
    actor = current_actor()
    if actor.role == "technician":
        return [f"technician:{actor.technician_id}"] if actor.technician_id else []
    if actor.role in ("admin", "dispatcher", "manager"):
        return ["dispatch"] if actor.outlet_id is None else [f"outlet:{actor.outlet_id}", "unplaced"]
    return []


@socketio.on("connect")
def on_connect(auth: Any = None) -> bool:
    """Only logged-in users connect (the page's own session cookie); foreign origins are
    refused by Socket.IO's same-origin default."""
    if not current_user.is_authenticated:
        return False
    for room in rooms_for_current_user():
        join_room(room)
    return True


def register(app: Flask) -> None:
    def publish(name: str, payload: dict[str, Any], rooms: list[str]) -> None:
        socketio.emit(name, payload, to=rooms)

    db.publisher = publish
