"""Socket.IO: who joins which rooms, and how committed events reach them.

Rooms: `dispatch` (staff of every outlet), `outlet:<id>` and `unplaced` (staff tied to one
outlet: theirs and the orders no outlet has yet), `technician:<id>` (one technician's phone).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from flask import Flask, current_app, g, request
from flask_login import current_user
from flask_socketio import join_room
from socketio import RedisManager

from core.accounts import ended_logins
from dispatch.visibility import views_by_room
from web import observability
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
    if "login_id" in g:  # a browser login (bearer-token sockets end with their token)
        login_watch(current_app).add(request.sid, g.login_id, current_app._get_current_object())
    observability.socket_connected()
    return True


@socketio.on("disconnect")
def on_disconnect(*_args: Any) -> None:
    # Socket.IO calls this only for connections on_connect accepted: the gauge stays balanced.
    observability.socket_disconnected()
    login_watch(current_app).discard(request.sid)


class LoginWatch:
    """Drops the sockets of logins that ended (logout, password change, deactivation, idle).

    Each process checks its own sockets every few seconds with one query; nothing has to
    cross processes, so it works the same with one worker or many behind Redis."""

    def __init__(self, every_s: float = 2.0) -> None:
        self.every_s = every_s
        self._sockets: dict[str, int] = {}
        self._lock = threading.Lock()
        self._started = False

    def add(self, sid: str, login_id: int, app: Flask) -> None:
        with self._lock:
            self._sockets[sid] = login_id
            if not self._started:
                self._started = True
                socketio.start_background_task(self._run, app)

    def discard(self, sid: str) -> None:
        with self._lock:
            self._sockets.pop(sid, None)

    def sweep(self) -> int:
        """Disconnect the sockets whose login has ended; how many were dropped."""
        with self._lock:
            sockets = dict(self._sockets)
        if not sockets:
            return 0
        session = db.new_session()
        try:
            ended = ended_logins(session, sorted(set(sockets.values())))
        finally:
            session.close()
        dropped = [sid for sid, login_id in sockets.items() if login_id in ended]
        for sid in dropped:
            socketio.server.disconnect(sid, namespace="/")
            self.discard(sid)
        return len(dropped)

    def _run(self, app: Flask) -> None:
        while True:
            socketio.sleep(self.every_s)
            try:
                with app.app_context():
                    self.sweep()
            except Exception:  # noqa: BLE001 - a database hiccup must not kill the watch
                app.logger.exception("login watch sweep failed")


def login_watch(app: Flask) -> LoginWatch:
    return app.extensions.setdefault("login_watch", LoginWatch(app.config.get("LOGIN_WATCH_EVERY_S", 2.0)))


class PromptRedisManager(RedisManager):
    """python-socketio's Redis queue, but re-subscribing every second while Redis is away.

    The stock listener doubles its wait after each failed attempt (1, 2, 4 … 60 s), so after a
    10 s outage a worker heard nothing for 5 more seconds, after a longer one for up to a
    minute, and its boards saw no new event to reveal the gap. (What was published while Redis
    was down is lost either way; boards fetch it by seq, see web/static/board.js.) Tested in
    tests/reliability/test_infra_board_convergence.py.
    """

    def _redis_listen_with_retries(self):  # the parent's loop, with a fixed 1 s pause
        while True:
            try:
                self._redis_connect()
                self.pubsub.subscribe(self.channel)
                yield from self.pubsub.listen()
            except Exception as exc:  # noqa: BLE001 - any Redis failure: try again shortly
                self._get_logger().error(
                    "Cannot receive from redis... retrying in 1 sec", extra={"redis_exception": str(exc)}
                )
                time.sleep(1)


def register(app: Flask) -> None:
    if app.config.get("REDIS_URL") and type(socketio.server.manager) is RedisManager:
        # Before the first connection initialises it (python-socketio does that lazily).
        stock = socketio.server.manager
        manager = PromptRedisManager(
            stock.redis_url, channel=stock.channel, write_only=stock.write_only, redis_options=stock.redis_options
        )
        manager.set_server(socketio.server)
        socketio.server.manager = manager

    def publish(name: str, payload: dict[str, Any], rooms: list[str]) -> None:
        if name != "order_event":
            socketio.emit(name, payload, to=rooms)
            return
        for view, view_rooms in views_by_room(payload, rooms):  # one rule with the feeds
            socketio.emit(name, view, to=view_rooms)

    db.publisher = publish
