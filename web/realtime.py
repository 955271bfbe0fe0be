"""Socket.IO: who joins which rooms, how committed events reach them, and how a socket loses
what its user lost.

Rooms (dispatch/visibility.py): `dispatch` (staff of every outlet), `outlet:<id>` and `unplaced`
(staff tied to one outlet: theirs and the orders no outlet has yet), `technician:<id>` (one
technician's phone).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from typing import Any

from flask import Flask, current_app, g, request
from flask_login import current_user
from flask_socketio import join_room
from socketio import RedisManager

from core.accounts import ended_logins, live_tokens
from dispatch.visibility import rooms_for, views_by_room
from technicians.network import actors_now
from web import observability
from web.auth import current_actor
from web.extensions import db, socketio


@socketio.on("connect")
def on_connect(auth: Any = None) -> bool:
    """Only logged-in users connect (the page's own session cookie, or an API client's bearer
    token); foreign origins are refused by Socket.IO's same-origin default."""
    if not current_user.is_authenticated:
        return False
    actor = current_actor()
    rooms = rooms_for(actor)
    for room in rooms:
        join_room(room)
    grant = Grant(actor.user_id, rooms, login_id=g.get("login_id"), token_digest=g.get("token_digest"))
    rights_watch(current_app).add(request.sid, grant, current_app._get_current_object())
    observability.socket_connected()
    return True


@socketio.on("disconnect")
def on_disconnect(*_args: Any) -> None:
    # Socket.IO calls this only for connections on_connect accepted: the gauge stays balanced.
    observability.socket_disconnected()
    rights_watch(current_app).discard(request.sid)


@dataclass(frozen=True)
class Grant:
    """What one socket was given when it connected: whose it is, on which credential, and the
    rooms their rights gave them then."""

    user_id: int
    rooms: frozenset[str]
    login_id: int | None = None  # a browser login (login_sessions)
    token_digest: str | None = None  # a bearer token (api_tokens)


class RightsWatch:
    """Makes every open socket follow its user's rights as they are now.

    The login or token it was opened with ended (logout, password change, revocation, idle), or
    the user is gone or deactivated: the socket is disconnected (and Socket.IO clients do not
    reconnect after a server's disconnect). The user's rights give other rooms now (a new role,
    another outlet, a technician record moved to or from the account): the socket leaves the
    rooms it lost, joins the ones it gained and gets a `rights_changed` event, on which the
    pages reload themselves.

    One mechanism for every such change, whichever process or tool made it: each process
    compares its own sockets with the database every few seconds (three queries for all of
    them). Nothing has to cross processes, so it holds the same with one worker or many behind
    Redis, and a Redis outage cannot make a worker miss a change."""

    def __init__(self, every_s: float = 2.0) -> None:
        self.every_s = every_s
        self._sockets: dict[str, Grant] = {}
        self._lock = threading.Lock()
        self._started = False
        self._stopped = False
        self._task: Any = None

    def add(self, sid: str, grant: Grant, app: Flask) -> None:
        with self._lock:
            self._sockets[sid] = grant
            if not self._started and not self._stopped:
                self._started = True
                self._task = socketio.start_background_task(self._run, app)

    def stop(self) -> None:
        """End the watch and wait for a sweep under way (before the database is disposed)."""
        with self._lock:
            self._stopped = True
            task = self._task
        if task is not None:
            task.join(timeout=self.every_s + 10)

    def discard(self, sid: str) -> None:
        with self._lock:
            self._sockets.pop(sid, None)

    def sweep(self) -> int:
        """Bring every socket in line with its user's rights; how many were dropped or moved."""
        with self._lock:
            sockets = dict(self._sockets)
        if not sockets:
            return 0
        grants = sockets.values()
        session = db.new_session()
        try:
            ended = ended_logins(session, sorted({g.login_id for g in grants if g.login_id is not None}))
            tokens = live_tokens(session, sorted({g.token_digest for g in grants if g.token_digest is not None}))
            actors = actors_now(session, sorted({g.user_id for g in grants}))
        finally:
            session.close()

        changed = 0
        for sid, grant in sockets.items():
            actor = actors.get(grant.user_id)
            if (
                actor is None
                or grant.login_id in ended
                or (grant.token_digest is not None and grant.token_digest not in tokens)
            ):
                socketio.server.disconnect(sid, namespace="/")
                self.discard(sid)
                changed += 1
            elif (rooms := rooms_for(actor)) != grant.rooms:
                self._move(sid, grant, rooms)
                changed += 1
        return changed

    def _move(self, sid: str, grant: Grant, rooms: frozenset[str]) -> None:
        with self._lock:
            if sid not in self._sockets:  # it closed meanwhile
                return
            self._sockets[sid] = replace(grant, rooms=rooms)
        for room in grant.rooms - rooms:
            socketio.server.leave_room(sid, room, namespace="/")
        for room in rooms - grant.rooms:
            socketio.server.enter_room(sid, room, namespace="/")
        socketio.emit("rights_changed", {}, to=sid)

    def _run(self, app: Flask) -> None:
        while True:
            socketio.sleep(self.every_s)
            with self._lock:
                if self._stopped or not self._sockets:  # idle: the next connection starts it again
                    self._started = False
                    return
            try:
                with app.app_context():
                    self.sweep()
            except Exception:  # noqa: BLE001 - a database hiccup must not kill the watch
                app.logger.exception("socket rights sweep failed")


def rights_watch(app: Flask) -> RightsWatch:
    return app.extensions.setdefault("rights_watch", RightsWatch(app.config.get("SOCKET_RIGHTS_EVERY_S", 2.0)))


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
