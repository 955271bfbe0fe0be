"""Benchmark of the live board: event latency to connected boards, and the board's first load.

    python -m bench.board latency --boards 1,100,500 --events 100 --mode single,workers2
    python -m bench.board firstload --orders 2000 --technicians 200 --runs 5

`latency`: N Socket.IO clients (python-socketio's asyncio client, websocket transport) log in
as a dispatcher (bearer token on the handshake) and join the `dispatch` room; a driver changes
order priorities over HTTP (each change commits one event). Latency per (event, board) =
the moment the board's client received the event − the event's own `at` (the server's clock,
taken in `record_event` inside the transaction, i.e. *before* the commit, so the figure
includes the commit itself; client and server share this machine's clock).
Modes: `single` = one `flask run` process (threading Socket.IO, as `make run`); `workers2` =
gunicorn with 2 gthread workers and the Redis message queue; clients connect to whichever
worker the kernel hands them to (the split is printed).

`firstload`: seeds the orders and technicians, opens /board in headless Chromium as the
dispatcher and times navigation start → `performance.mark("board-ready")`, which board.js sets
once the first snapshot's queue and map markers are drawn.

A script that prints figures (docs/benchmarks.md), not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

from sqlalchemy import insert, text

import dispatch.tables  # noqa: F401  (every table, for the ORM)
from bench.sweep import ensure_database
from core.accounts import User, issue_token
from core.db import Database, normalise_url
from core.migrate import upgrade
from core.security import hash_password
from dispatch.demo import DEMO_PASSWORD, OUTLETS, SKILLS
from dispatch.models import Customer, WorkOrder
from technicians.models import Outlet, Skill, Technician, technician_skills

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/bench_live"
DEFAULT_REDIS = "redis://127.0.0.1:6379/8"
OPEN_MIX = [("new", 35), ("assigned", 30), ("accepted", 15), ("en_route", 10), ("on_site", 10)]


# --- data -----------------------------------------------------------------------------------


def seed(
    url: str, *, orders: int, technicians: int, tech_users: int = 0, assigned_per_tech: int = 0, seed: int = 7
) -> dict:
    """Empty the database and bulk-insert a city: `orders` open orders in a realistic mix,
    `technicians` technicians (the first `tech_users` with logins and `assigned_per_tech`
    more orders assigned to each), a dispatcher. Returns bearer tokens and ids."""
    rnd = random.Random(seed)
    ensure_database(url)
    db = Database(url)
    with db.engine.begin() as conn:  # a throwaway database: rebuilt from the migrations every run
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    upgrade(url)
    now = datetime.now(UTC)
    pw = hash_password(DEMO_PASSWORD)
    with db.session_scope() as s:
        s.execute(insert(Skill), [{"code": c, "name_en": en, "name_zh": zh, "active": True} for c, en, zh in SKILLS])
        s.execute(
            insert(Outlet),
            [{"code": c, "name": n, "area": a, "address": ad, "lat": la, "lon": lo} for c, n, a, ad, la, lo in OUTLETS],
        )
        users = [
            {"username": "dispatcher", "password_hash": pw, "role": "dispatcher", "display_name": "bench"},
            *({"username": f"tech{i + 1:03d}", "password_hash": pw, "role": "technician"} for i in range(tech_users)),
        ]
        s.execute(insert(User), users)
        s.execute(
            insert(Technician),
            [
                {"outlet_id": 1 + i % 3, "user_id": i + 2 if i < tech_users else None, "name": f"技师{i + 1:03d}",
                 "phone": "+8613800000000", "home_lat": OUTLETS[i % 3][4] + rnd.uniform(-0.06, 0.06),
                 "home_lon": OUTLETS[i % 3][5] + rnd.uniform(-0.07, 0.07), "shift_start": dtime(0, 0),
                 "shift_end": dtime(23, 59), "work_days": "1234567", "daily_capacity": 10, "active": True}
                for i in range(technicians)
            ],
        )  # fmt: skip
        codes = [c for c, _, _ in SKILLS]
        s.execute(
            insert(technician_skills),
            [{"technician_id": t + 1, "skill_code": c} for t in range(technicians) for c in codes],
        )
        plan = []  # (status, technician_id)
        statuses = [st for st, w in OPEN_MIX for _ in range(w)]
        for _ in range(orders):
            st = rnd.choice(statuses)
            plan.append((st, None if st == "new" else 1 + rnd.randrange(technicians)))
        for t in range(tech_users):
            plan += [("assigned", t + 1)] * assigned_per_tech
        n = len(plan)
        s.execute(insert(Customer), [{"phone": f"+86139{i:08d}", "name": f"客户{i}"} for i in range(n)])
        rows = []
        for i, (st, tech) in enumerate(plan):
            outlet = OUTLETS[(tech - 1) % 3 if tech else rnd.randrange(3)]
            created = now - timedelta(minutes=rnd.randint(0, 20 * 60))
            rows.append(
                {"id": i + 1, "number": f"B{i + 1:08d}", "channel": "hotline", "customer_id": i + 1,
                 "contact_name": f"客户{i}", "contact_phone": f"+86139{i:08d}",
                 "address": f"西安市长安南路{rnd.randint(1, 300)}号", "lat": outlet[4] + rnd.uniform(-0.07, 0.07),
                 "lon": outlet[5] + rnd.uniform(-0.08, 0.08), "geocode_status": "ok",
                 "product_category": rnd.choice(codes), "product_model": "", "issue_category": "repair",
                 "description": "不出热水", "required_skill": rnd.choice(codes), "priority": "normal",
                 "in_warranty": False, "created_at": created, "due_at": created + timedelta(hours=24), "status": st,
                 "outlet_id": 1 + (tech - 1) % 3 if tech else 1 + rnd.randrange(3), "technician_id": tech,
                 "assignment_locked": False, "visit_count": 1, "version": 1, "updated_at": created,
                 "proof_photos_required": 0}
            )  # fmt: skip
        s.execute(insert(WorkOrder), rows)
        s.execute(text("SELECT setval(pg_get_serial_sequence('work_orders', 'id'), :n)"), {"n": n})
        s.execute(text("SELECT setval(pg_get_serial_sequence('customers', 'id'), :n)"), {"n": n})
        s.commit()
        dispatcher = s.get(User, 1)
        token, _ = issue_token(s, dispatcher)
        tech_tokens = []
        for t in range(tech_users):
            tok, _ = issue_token(s, s.get(User, t + 2))
            tech_tokens.append(tok)
        s.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    db.dispose()
    new_ids = [i + 1 for i, (st, _) in enumerate(plan) if st == "new"]
    mine = {t + 1: [i + 1 for i, p in enumerate(plan) if p == ("assigned", t + 1)] for t in range(tech_users)}
    return {"dispatcher_token": token, "tech_tokens": tech_tokens, "new_order_ids": new_ids, "tech_orders": mine}


# --- servers ----------------------------------------------------------------------------------


def app_env(url: str, redis_url: str | None, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": "bench-live-secret",
        "GEOCODER_PROVIDER": "none",
        "PROOF_PHOTOS_REQUIRED": "0",
        "SCHEDULER_IN_PROCESS": "0",
        "LOGIN_LIMIT": "10000 per minute",
        "PUBLIC_INTAKE_LIMIT": "100000 per minute",
        "RATELIMIT_STORAGE_URI": "memory://",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
        env["RATELIMIT_STORAGE_URI"] = redis_url
    env.update(extra or {})
    return env


class Server:
    """`single`: `flask run` (one process, threading Socket.IO, as `make run`);
    `workers2`: gunicorn, 2 gthread workers, Redis message queue."""

    def __init__(self, mode: str, url: str, redis_url: str, threads: int = 64, extra: dict[str, str] | None = None):
        self.mode = mode
        # BENCH_PORT: a port of one's own on a machine shared with other servers; else any free one.
        self.port = int(os.environ.get("BENCH_PORT") or 0) or _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix=f"bench-{mode}-", suffix=".log", delete=False)  # noqa: SIM115 - open for the server's life
        py = sys.executable
        if mode == "single":
            args = [py, "-m", "flask", "--app", "wsgi", "run", "--port", str(self.port), "--no-reload", "--no-debugger"]
            env = app_env(url, None, extra)
        elif mode == "workers2":
            args = [py, "-m", "gunicorn", "wsgi:app", "--bind", f"127.0.0.1:{self.port}", "--workers", "2",
                    "--worker-class", "gthread", "--threads", str(threads), "--timeout", "120",
                    "--keep-alive", "30"]  # fmt: skip
            env = app_env(url, redis_url, extra)
        else:
            raise ValueError(mode)
        self.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self._wait()

    def _wait(self, timeout: float = 60) -> None:
        import urllib.error
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {Path(self.log.name).read_text()[-3000:]}")
            try:
                urllib.request.urlopen(self.base_url + "/api/me", timeout=2)
            except urllib.error.HTTPError:
                if self.mode == "single" or len(self.pids) >= 3:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise TimeoutError("server did not start")

    @property
    def pids(self) -> list[int]:
        """The master and its workers."""
        return [self.proc.pid, *_children(self.proc.pid)]

    def cpu_seconds(self) -> float:
        return sum(_cpu(p) for p in self.pids)

    def sockets_per_worker(self) -> list[int]:
        """Established TCP sockets each worker holds (how the kernel spread the clients)."""
        return (
            [_tcp_count(p) for p in _children(self.proc.pid)]
            if self.mode == "workers2"
            else [_tcp_count(self.proc.pid)]
        )

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def _cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def _tcp_count(pid: int) -> int:
    try:
        return sum(
            1 for fd in os.listdir(f"/proc/{pid}/fd") if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
        )
    except OSError:
        return 0


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(q / 100 * len(values) + 0.5) - 1))]


def load1() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


# --- boards -----------------------------------------------------------------------------------


class Boards:
    """`n` connected Socket.IO boards in this process's event loop, recording each
    order_event's arrival (latency from the event's `at`)."""

    def __init__(self, base_urls: list[str], token: str, n: int):
        self.base_urls, self.token, self.n = base_urls, token, n
        self.clients: list = []
        self.latency: dict[int, list[float]] = defaultdict(list)  # seq → per-board seconds
        self.failed = 0

    async def connect(self, batch: int = 25) -> None:
        import socketio

        async def one(i: int) -> None:
            sio = socketio.AsyncClient(reconnection=False)

            @sio.on("order_event")
            async def on_event(msg) -> None:
                now = time.time()
                at = datetime.fromisoformat(msg["event"]["at"]).timestamp()
                self.latency[msg["event"]["seq"]].append(now - at)

            try:
                await sio.connect(
                    self.base_urls[i % len(self.base_urls)],
                    headers={"Authorization": f"Bearer {self.token}"},
                    transports=["websocket"],
                    wait_timeout=30,
                )
                self.clients.append(sio)
            except Exception:  # noqa: BLE001 - counted and reported
                self.failed += 1

        for start in range(0, self.n, batch):
            await asyncio.gather(*(one(i) for i in range(start, min(self.n, start + batch))))

    async def close(self) -> None:
        await asyncio.gather(*(c.disconnect() for c in self.clients), return_exceptions=True)


async def drive_priorities(
    base_url: str, token: str, order_ids: list[int], events: int, rate: float, versions: dict[int, int]
) -> list[float]:
    """Change priorities at `rate` per second; returns each request's duration (s)."""
    import aiohttp

    for oid in order_ids:
        versions.setdefault(oid, 1)
    durations = []
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        start = time.perf_counter()
        for i in range(events):
            oid = order_ids[i % len(order_ids)]
            body = {"priority": "urgent" if versions[oid] % 2 else "normal", "version": versions[oid]}
            t0 = time.perf_counter()
            async with http.post(f"{base_url}/api/orders/{oid}/priority", json=body) as r:
                data = await r.json()
                if r.status != 200:
                    raise RuntimeError(f"priority change failed: {r.status} {data}")
                versions[oid] = data["version"]
            durations.append(time.perf_counter() - t0)
            await asyncio.sleep(max(0.0, start + (i + 1) / rate - time.perf_counter()))
    return durations


async def measure_latency(server: Server, info: dict, n_boards: int, events: int, rate: float) -> dict:
    boards = Boards([server.base_url], info["dispatcher_token"], n_boards)
    t0 = time.perf_counter()
    await boards.connect()
    connect_s = time.perf_counter() - t0
    await asyncio.sleep(1.0)
    split = server.sockets_per_worker()
    cpu_client0, cpu_server0, wall0 = time.process_time(), server.cpu_seconds(), time.perf_counter()
    durations = await drive_priorities(
        server.base_url,
        info["dispatcher_token"],
        info["new_order_ids"][:50],
        events,
        rate,
        info.setdefault("versions", {}),
    )
    expected = events * len(boards.clients)
    deadline = time.perf_counter() + 10
    while sum(len(v) for v in boards.latency.values()) < expected and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    wall = time.perf_counter() - wall0
    client_cpu = (time.process_time() - cpu_client0) / wall
    server_cpu = (server.cpu_seconds() - cpu_server0) / wall
    await boards.close()
    everything = [x for v in boards.latency.values() for x in v]
    last = [max(v) for v in boards.latency.values()]
    got = len(everything)
    return {
        "mode": server.mode, "boards": len(boards.clients), "failed": boards.failed, "connect_s": connect_s,
        "split": split, "events": events, "rate": rate, "delivered": f"{got}/{expected}",
        "p50": pct(everything, 50), "p99": pct(everything, 99), "max": max(everything, default=float("nan")),
        "last_p50": pct(last, 50), "last_p99": pct(last, 99), "http_p50": pct(durations, 50),
        "client_cpu": client_cpu, "server_cpu": server_cpu, "load1": load1(),
    }  # fmt: skip


def cmd_latency(args: argparse.Namespace) -> None:
    url = normalise_url(args.url)
    info = seed(url, orders=args.orders, technicians=args.technicians)
    counts = [int(x) for x in args.boards.split(",")]
    print(
        f"# board event latency: {args.events} priority changes at {args.rate}/s per row; latency = client receipt − event.at"
    )
    print("| mode | boards | p50 ms | p99 ms | max ms | last board p50/p99 ms | delivered | HTTP p50 ms "
          "| client CPU | server CPU | load1 | sockets per server process |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for mode in args.mode.split(","):
        threads = max(counts) + 40
        with Server(mode, url, args.redis, threads=threads) as server:
            for n in counts:
                r = asyncio.run(measure_latency(server, info, n, args.events, args.rate))
                failed = f" ({r['failed']} failed)" if r["failed"] else ""
                print(
                    f"| {r['mode']} | {r['boards']}{failed} "
                    f"| {1000 * r['p50']:.1f} | {1000 * r['p99']:.1f} | {1000 * r['max']:.0f} "
                    f"| {1000 * r['last_p50']:.1f} / {1000 * r['last_p99']:.1f} | {r['delivered']} "
                    f"| {1000 * r['http_p50']:.1f} | {100 * r['client_cpu']:.0f} % | {100 * r['server_cpu']:.0f} % "
                    f"| {r['load1']} | {'/'.join(map(str, r['split']))} |",
                    flush=True,
                )


# --- first load -------------------------------------------------------------------------------


def chromium(playwright):
    return playwright.chromium.launch(
        executable_path=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"),
        headless=True,
        args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
              "--disable-component-update", "--disable-sync"],
    )  # fmt: skip


def login(page, base_url: str, username: str) -> None:
    page.goto(base_url + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    with page.expect_navigation():
        page.press("input[name=password]", "Enter")
    if "/login" in page.url:
        raise RuntimeError(f"login as {username} failed")


READY_JS = "() => performance.getEntriesByName('board-ready').length > 0"
TIMES_JS = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const ready = performance.getEntriesByName('board-ready')[0].startTime;
  const snap = performance.getEntriesByType('resource').filter(e => e.name.endsWith('/api/board'))[0];
  return {ready: ready, dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd,
          snap_start: snap.requestStart, snap_first_byte: snap.responseStart, snap_end: snap.responseEnd,
          orders: Object.keys(window.dispatchBoard.state.orders).length,
          markers: document.querySelectorAll('.order-marker').length,
          rows: document.querySelectorAll('#queue-list li').length};
}"""


def cmd_firstload(args: argparse.Namespace) -> None:
    from playwright.sync_api import sync_playwright

    url = normalise_url(args.url)
    seed(url, orders=args.orders, technicians=args.technicians)
    with Server("single", url, args.redis) as server, sync_playwright() as pw:
        browser = chromium(pw)
        context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
        page = context.new_page()
        login(page, server.base_url, "dispatcher")
        # The snapshot's size on the wire (what a board downloads first).
        snap = page.request.get(server.base_url + "/api/board")
        snap_kb = len(snap.body()) / 1024
        results = []
        for _ in range(args.runs):  # the first run has a cold cache for the board's scripts
            page.goto(server.base_url + "/board", wait_until="commit")
            page.wait_for_function(READY_JS, timeout=60_000)
            results.append(page.evaluate(TIMES_JS))
        browser.close()
    ready = [r["ready"] for r in results]
    print(f"# board first load: {args.orders} open orders, {args.technicians} technicians, snapshot {snap_kb:.0f} KiB, "
          f"load1 {load1()}")  # fmt: skip
    print("| run | usable ms (nav start → board-ready) | DOMContentLoaded ms | /api/board asked at ms "
          "| its server time ms | its last byte ms | drawing ms | orders | map markers | queue rows |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for i, r in enumerate(results):
        print(f"| {i + 1}{' (cold cache)' if i == 0 else ''} | {r['ready']:.0f} | {r['dcl']:.0f} | {r['snap_start']:.0f} "
              f"| {r['snap_first_byte'] - r['snap_start']:.0f} | {r['snap_end']:.0f} | {r['ready'] - r['snap_end']:.0f} "
              f"| {r['orders']} | {r['markers']} | {r['rows']} |")  # fmt: skip
    print(f"median usable: {statistics.median(ready):.0f} ms; worst {max(ready):.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=DEFAULT_URL, help="PostgreSQL database (emptied and reseeded)")
    parser.add_argument("--redis", default=DEFAULT_REDIS)
    sub = parser.add_subparsers(dest="cmd", required=True)
    lat = sub.add_parser("latency")
    lat.add_argument("--boards", default="1,100,500")
    lat.add_argument("--events", type=int, default=100)
    lat.add_argument("--rate", type=float, default=5.0, help="order changes per second")
    lat.add_argument("--mode", default="single,workers2")
    lat.add_argument("--orders", type=int, default=500)
    lat.add_argument("--technicians", type=int, default=50)
    fl = sub.add_parser("firstload")
    fl.add_argument("--orders", type=int, default=2000)
    fl.add_argument("--technicians", type=int, default=200)
    fl.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    {"latency": cmd_latency, "firstload": cmd_firstload}[args.cmd](args)


if __name__ == "__main__":
    main()
