"""Support for the infrastructure-failure tests: a board client in Python that follows the same
rules as web/static/board.js, the database's view of the board to compare it with, seeding a
private database, a stream of dispatcher changes over HTTP, and which gunicorn worker holds which
socket.

`BoardClient` mirrors board.js: one snapshot (GET /api/board) + every `order_event` applied in
sequence order; a gap, a (re)connect or a periodic check fetches GET /api/events?after=last_seq
(a full page means too far behind: reload the snapshot), and each order the feed names is
refreshed from GET /api/orders/<id>. Messages that arrive while a catch-up runs wait in
`pending`. Nothing is simplified that could hide a lost event: the state is only what those
three endpoints and the socket said.
"""

from __future__ import annotations

import glob
import os
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import requests
import socketio
from sqlalchemy import create_engine, select, text

from core.db import normalise_url
from dispatch.board import BOARD_STATUSES
from tests.integration.helpers import VALID_ORDER
from tests.reliability.stack import Api

# The statuses the board shows (board.js takes them from the snapshot's rules).
ON_BOARD = frozenset(BOARD_STATUSES)
COMPARED = ("status", "version", "technician_id", "priority")


def wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.1) -> float | None:
    """Seconds until `predicate()` held, or None if it did not within `timeout`."""
    start = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            return None
        time.sleep(step)


class BoardClient:
    """A dispatcher's board, in Python, with board.js's rules (see the module docstring)."""

    def __init__(self, base_url: str, token: str, feed_limit: int = 500, check_every_s: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.feed_limit = feed_limit
        self.check_every_s = check_every_s
        self.http = requests.Session()
        self.http.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json"})
        self.lock = threading.RLock()
        self.orders: dict[int, dict[str, Any]] = {}
        self.seen: dict[int, int] = {}
        self.last_seq = 0
        self.loaded = False
        self.catching_up = False
        self.pending: list[dict[str, Any]] = []
        self.connects = 0
        self.disconnects = 0
        self.disconnected_at: float | None = None
        self.sid: str | None = None
        self.closed = False
        self.sio = socketio.Client(reconnection=True, reconnection_delay=0.5, reconnection_delay_max=3)
        self.sio.on("connect", self._on_connect)
        self.sio.on("disconnect", self._on_disconnect)
        self.sio.on("order_event", self._on_order_event)
        self._ticker = threading.Thread(target=self._periodic_check, daemon=True)

    # --- lifecycle ------------------------------------------------------------------------
    def start(self) -> BoardClient:
        self.load_snapshot()
        self.sio.connect(
            self.base_url, headers={"Authorization": f"Bearer {self.token}"}, transports=["websocket"], wait_timeout=10
        )
        self._ticker.start()
        return self

    def close(self) -> None:
        self.closed = True
        try:
            self.sio.disconnect()
        except Exception:  # noqa: BLE001 - closing a client that may already be gone
            pass
        self.http.close()

    # --- HTTP -------------------------------------------------------------------------------
    def _get(self, path: str) -> requests.Response:
        return self.http.get(f"{self.base_url}{path}", timeout=10)

    # --- the order model (board.js upsert) -------------------------------------------------------
    def _upsert(self, o: dict[str, Any]) -> None:
        o = dict(o)
        if isinstance(o.get("technician"), dict):
            o["technician_id"] = o["technician"]["id"]
        elif "technician" in o and o["technician"] is None:
            o["technician_id"] = None
        oid = o["id"]
        # `seen` outlives an order's removal, so a late, older message cannot bring it back.
        if oid in self.seen and o["version"] < self.seen[oid]:
            return
        self.seen[oid] = o["version"]
        if o["status"] not in ON_BOARD:
            self.orders.pop(oid, None)
            return
        merged = dict(self.orders.get(oid, {}))
        merged.update({k: v for k, v in o.items() if k not in ("customer", "technician")})
        self.orders[oid] = merged

    def _apply(self, msg: dict[str, Any]) -> None:
        if msg.get("order"):
            self._upsert(msg["order"])

    # --- events: sequence, gaps, catch-up (board.js onOrderEvent / catchUp) ----------------------
    def _on_order_event(self, msg: dict[str, Any]) -> None:
        with self.lock:
            self._handle(msg)

    def _handle(self, msg: dict[str, Any]) -> None:
        if not self.loaded or self.catching_up:
            self.pending.append(msg)
            return
        seq = msg["event"]["seq"]
        if seq <= self.last_seq:
            return
        if seq == self.last_seq + 1:
            self._apply(msg)
            self.last_seq = seq
            return
        self.pending.append(msg)  # a gap: something was missed
        self.catch_up()

    def _drain_pending(self) -> None:
        queued = sorted(self.pending, key=lambda m: m["event"]["seq"])
        self.pending = []
        for msg in queued:
            self._handle(msg)

    def catch_up(self) -> None:
        """Start a catch-up in the background (board.js's promise chain), unless one runs."""
        with self.lock:
            if not self.loaded or self.catching_up:
                return
            self.catching_up = True
        threading.Thread(target=self._catch_up, daemon=True).start()

    def _catch_up(self) -> None:
        with self.lock:
            after = self.last_seq
            # Messages already here were committed before this request starts, and so was
            # every event numbered below them: the feed answers for all of those.
            covered = max((m["event"]["seq"] for m in self.pending), default=0)
        try:
            r = self._get(f"/api/events?after={after}&limit={self.feed_limit}")
            r.raise_for_status()
            feed = r.json()
            if len(feed["items"]) >= self.feed_limit:
                with self.lock:
                    self.catching_up = False
                self.load_snapshot()
                return
            ids = sorted({ev["order_id"] for ev in feed["items"]})
            fresh = {}
            gone = set()
            for oid in ids:
                # board.js refreshOrder: a 404 removes the order; any other failure is ignored.
                try:
                    ro = self._get(f"/api/orders/{oid}")
                except requests.RequestException:
                    continue
                if ro.status_code == 404:
                    gone.add(oid)
                elif ro.ok:
                    fresh[oid] = ro.json()
        except (requests.RequestException, ValueError, KeyError):
            with self.lock:
                self.catching_up = False
            threading.Timer(3.0, self.catch_up).start()
            return
        with self.lock:
            for ev in feed["items"]:
                self.last_seq = max(self.last_seq, ev["seq"])
            self.last_seq = max(self.last_seq, feed["last_seq"])
            for full in fresh.values():
                self._upsert(full)
            for oid in gone:
                self.orders.pop(oid, None)
            for msg in self.pending:
                if msg["event"]["seq"] <= covered:
                    self._apply(msg)
            self.last_seq = max(self.last_seq, covered)
            self.catching_up = False
            self._drain_pending()

    def load_snapshot(self) -> None:
        with self.lock:
            self.loaded = False  # events arriving meanwhile wait in `pending`
        try:
            r = self._get("/api/board")
            r.raise_for_status()
            snap = r.json()
        except (requests.RequestException, ValueError):
            if not self.closed:
                threading.Timer(5.0, self.load_snapshot).start()
            return
        with self.lock:
            self.orders = {o["id"]: dict(o) for o in snap["orders"]}
            for o in snap["orders"]:
                self.seen[o["id"]] = o["version"]
            self.last_seq = snap["last_seq"]
            self.loaded = True
            self._drain_pending()

    # --- connection -----------------------------------------------------------------------------
    def _on_connect(self) -> None:
        with self.lock:
            self.connects += 1
            self.sid = self.sio.get_sid()
        self.catch_up()

    def _on_disconnect(self, *_: Any) -> None:
        with self.lock:
            self.disconnects += 1
            self.disconnected_at = time.monotonic()

    def _periodic_check(self) -> None:
        # Convergence even when the last message of a burst was lost (no later seq reveals the gap).
        while not self.closed:
            time.sleep(self.check_every_s)
            if self.sio.connected:
                self.catch_up()

    # --- what the test compares ---------------------------------------------------------------
    def view(self) -> dict[int, tuple]:
        with self.lock:
            return {oid: tuple(o.get(k) for k in COMPARED) for oid, o in self.orders.items()}


class BoardTruth:
    """What every unscoped board should show, read straight from the database."""

    def __init__(self, database_url: str) -> None:
        self.engine = create_engine(normalise_url(database_url), pool_pre_ping=True)

    def view(self) -> dict[int, tuple]:
        from dispatch.models import WorkOrder

        query = select(WorkOrder.id, *(getattr(WorkOrder, k) for k in COMPARED)).where(WorkOrder.status.in_(ON_BOARD))
        with self.engine.connect() as conn:
            return {row[0]: tuple(row[1:]) for row in conn.execute(query)}

    def last_seq(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(text("SELECT coalesce(max(seq), 0) FROM work_order_events")).scalar_one()

    def dispose(self) -> None:
        self.engine.dispose()


def differences(board: dict[int, tuple], truth: dict[int, tuple]) -> dict[int, tuple]:
    """{order id: (board's, database's)} for every order on which they disagree."""
    return {
        oid: (board.get(oid), truth.get(oid)) for oid in board.keys() | truth.keys() if board.get(oid) != truth.get(oid)
    }


# --- arranging a private database -------------------------------------------------------------


def seed_network(database_url: str) -> dict[str, Any]:
    """The integration tests' network (tests/conftest.py `Network`: two outlets, three
    technicians, one account per role), written into a migrated private database."""
    from core.db import Database
    from technicians.models import Skill
    from tests.conftest import Network

    database = Database(database_url)
    try:
        with database.session_scope() as session:
            session.add_all(
                [
                    Skill(code="water_heater", name_en="Water heater", name_zh="热水器"),
                    Skill(code="air_conditioner", name_en="Air conditioner", name_zh="空调"),
                    Skill(code="washing_machine", name_en="Washing machine", name_zh="洗衣机"),
                ]
            )
            session.commit()
            network = Network(session)
            return {"techs": [t.id for t in network.techs], "south": network.south.id, "north": network.north.id}
    finally:
        database.dispose()


# --- a stream of dispatcher changes over HTTP ----------------------------------------------------


class ChangeStream(threading.Thread):
    """One dispatcher creating, assigning, unassigning, re-prioritising and cancelling orders
    over HTTP as fast as the server answers, until `stop()`. `pause()`/`resume()` let a test
    look at a quiet system; every request's outcome is counted."""

    def __init__(self, base_url: str, token: str, tech_id: int, phone_base: int, seed: int = 1) -> None:
        super().__init__(daemon=True)
        self.api = Api(base_url, token=token, timeout=10)
        self.tech_id = tech_id
        self.phone_base = phone_base
        self.random = random.Random(seed)
        self.orders: dict[int, dict[str, Any]] = {}
        self.created = 0
        self.ok = 0
        self.failed: list[tuple[str, Any]] = []
        self._stopping = threading.Event()
        self._run_ok = threading.Event()
        self._run_ok.set()
        self._idle = threading.Event()

    def stop(self) -> None:
        self._stopping.set()
        self._run_ok.set()
        self.join(30)
        self.api.close()

    def pause(self) -> None:
        """Stop issuing requests; returns once the request in flight has been answered."""
        self._idle.clear()
        self._run_ok.clear()
        self._idle.wait(15)

    def resume(self) -> None:
        self._run_ok.set()

    def run(self) -> None:
        while not self._stopping.is_set():
            if not self._run_ok.is_set():
                self._idle.set()
                self._run_ok.wait()
                continue
            try:
                self._step()
            except Exception as exc:  # noqa: BLE001 - a dropped connection is an outcome to count
                self.failed.append(("exception", repr(exc)))
                time.sleep(0.05)
        self._idle.set()

    def _record(self, status: int, body: Any, what: str) -> bool:
        if 200 <= status < 300:
            self.ok += 1
            if isinstance(body, dict) and "id" in body and "status" in body:
                if body["status"] in ("cancelled", "closed"):
                    self.orders.pop(body["id"], None)
                else:
                    self.orders[body["id"]] = body
            return True
        if status == 409 and isinstance(body, dict):
            # Stale version (someone else moved it): re-read, as a dispatcher's screen would.
            self.ok += 1
            return False
        self.failed.append((what, (status, body)))
        return False

    def _step(self) -> None:
        if len(self.orders) < 8 or self.random.random() < 0.25:
            self.created += 1
            body = {**VALID_ORDER, "phone": f"139{self.phone_base + self.created:08d}"}
            status, out = self.api.post(
                "/api/orders", body, headers={"Idempotency-Key": f"s{self.phone_base}-{self.created}"}
            )
            self._record(status, out, "create")
            return
        oid = self.random.choice(list(self.orders))
        order = self.orders[oid]
        choice = self.random.random()
        if choice < 0.15:
            prio = self.random.choice([p for p in ("normal", "urgent", "vip") if p != order["priority"]])
            status, out = self.api.post(f"/api/orders/{oid}/priority", {"priority": prio, "version": order["version"]})
            what = "priority"
        elif choice < 0.25:
            status, out = self.api.post(
                f"/api/orders/{oid}/transitions", {"action": "cancel", "version": order["version"], "reason": "test"}
            )
            what = "cancel"
        elif order["status"] == "new":
            status, out = self.api.post(
                f"/api/orders/{oid}/transitions",
                {"action": "assign", "version": order["version"], "technician_id": self.tech_id},
            )
            what = "assign"
        else:
            status, out = self.api.post(
                f"/api/orders/{oid}/transitions", {"action": "unassign", "version": order["version"]}
            )
            what = "unassign"
        if not self._record(status, out, what) and status == 409:
            status, out = self.api.get(f"/api/orders/{oid}")
            self._record(status, out, "reread")
        # A new connection for each change, as many dispatchers would make: the changes land on
        # every worker, not on the one a keep-alive connection happens to be tied to.
        self.api.close()


# --- which gunicorn worker holds which socket -------------------------------------------------------


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in glob.glob(f"/proc/{pid}/fd/*"):
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def worker_of_client_ports(worker_pids: list[int], server_port: int) -> dict[int, int]:
    """{client's local port: pid of the worker holding the server end of that connection}."""
    owner = {inode: pid for pid in worker_pids for inode in _socket_inodes(pid)}
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            local_port = int(cols[1].rsplit(":", 1)[1], 16)
            remote_port = int(cols[2].rsplit(":", 1)[1], 16)
            if local_port == server_port and cols[9] in owner:
                found[remote_port] = owner[cols[9]]
    return found


def board_socket_port(board: BoardClient) -> int | None:
    """The local TCP port of a board's websocket (None while it is not connected)."""
    try:
        return board.sio.eio.ws.sock.getsockname()[1]
    except Exception:  # noqa: BLE001 - not connected right now
        return None
