"""Benchmarks of the board's timeline (issue 17): its first draw at city size, and a drop's
way to every open board.

    python -m bench.timeline firstdraw --technicians 200 --stops 2000 --runs 5
    python -m bench.timeline drop --boards 50 --pages 3 --drops 40

`firstdraw`: seeds `technicians` technicians and `stops` planned visits today (assigned orders
with their route_stops rows, ETAs spread over the shift), opens /board in headless Chromium
(1440×900) as the dispatcher and times navigation start → `performance.mark("timeline-drawn")`,
which timeline.js sets at vis-timeline's first `changed` event after the first data went in
(`timeline-ready`, the data handed over, is printed beside it).

`drop`: the same city; `boards` Socket.IO clients (python-socketio, websocket) join as
dispatchers and `pages` Chromium pages open /board; a driver drops unassigned orders onto
technicians' rows, one `POST /api/orders/<id>/placement` each (what the timeline's drop
sends), one after another. Per drop and board: the drop's request start → the Socket.IO
client received the order's event; for each page: → the page's timeline holds the order in
its new row and the next animation frame has passed (the board applied the event and read
/api/timeline again). Client and server share this machine's clock.

A script that prints figures (docs/benchmarks.md), not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import threading
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, text

from bench.board import DEFAULT_REDIS, DEFAULT_URL, Server, chromium, load1, login, pct, seed
from core.db import Database, normalise_url
from dispatch.demo import OUTLETS, SKILLS
from dispatch.models import Customer, RouteStop, WorkOrder

SIZE = {"width": 1440, "height": 900}


def seed_days(url: str, *, technicians: int, stops: int, unassigned: int = 0, capacity: int = 30) -> dict:
    """`bench.board.seed` (one open order, the technicians, a dispatcher), then `stops` assigned
    orders spread over the technicians, each planned today (route_stops: seq, ETA every 40 min
    from 08:00 Beijing time or from now, whichever is later), and `unassigned` new located orders."""
    info = seed(url, orders=1, technicians=technicians)
    rnd = random.Random(11)
    now = datetime.now(UTC)
    local_eight = now.replace(hour=0, minute=0, second=0, microsecond=0)  # 08:00 in UTC+8
    start = max(local_eight, now - timedelta(hours=1))
    codes = [c for c, _, _ in SKILLS]
    db = Database(url)
    with db.session_scope() as s:
        s.execute(text("UPDATE technicians SET daily_capacity = :c"), {"c": capacity})
        first = 2
        n = stops + unassigned
        s.execute(insert(Customer), [{"phone": f"+86137{i:08d}", "name": f"客户{i}"} for i in range(first, first + n)])
        rows, plan = [], []
        for k in range(n):
            oid = first + k
            tech = 1 + k % technicians if k < stops else None
            outlet = OUTLETS[(tech - 1) % 3 if tech else rnd.randrange(3)]
            created = now - timedelta(minutes=rnd.randint(0, 600))
            rows.append(
                {"id": oid, "number": f"T{oid:08d}", "channel": "hotline", "customer_id": oid,
                 "contact_name": f"客户{oid}", "contact_phone": f"+86137{oid:08d}",
                 "address": f"西安市长安南路{rnd.randint(1, 300)}号", "lat": outlet[4] + rnd.uniform(-0.07, 0.07),
                 "lon": outlet[5] + rnd.uniform(-0.08, 0.08), "geocode_status": "ok",
                 "product_category": rnd.choice(codes), "product_model": "", "issue_category": "repair",
                 "description": "不出热水", "required_skill": rnd.choice(codes), "priority": "normal",
                 "in_warranty": False, "created_at": created, "due_at": created + timedelta(hours=24),
                 "status": "assigned" if tech else "new", "outlet_id": 1 + (tech - 1) % 3 if tech else 1 + rnd.randrange(3),
                 "technician_id": tech, "assignment_locked": False, "visit_count": 1, "version": 1,
                 "updated_at": created, "proof_photos_required": 0}
            )  # fmt: skip
            if tech:
                seq = k // technicians
                plan.append({"order_id": oid, "technician_id": tech, "seq": seq,
                             "eta": start + timedelta(minutes=40 * seq), "planned_at": now})  # fmt: skip
        s.execute(insert(WorkOrder), rows)
        s.execute(insert(RouteStop), plan)
        s.execute(text("SELECT setval(pg_get_serial_sequence('work_orders', 'id'), :n)"), {"n": first + n - 1})
        s.execute(text("SELECT setval(pg_get_serial_sequence('customers', 'id'), :n)"), {"n": first + n - 1})
        s.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    db.dispose()
    info["unassigned_ids"] = list(range(first + stops, first + n))
    return info


# --- first draw --------------------------------------------------------------------------------

DRAWN_JS = "() => performance.getEntriesByName('timeline-drawn').length > 0"
TIMES_JS = """() => {
  const mark = (name) => (performance.getEntriesByName(name)[0] || {}).startTime;
  const tl = performance.getEntriesByType('resource').filter(e => e.name.indexOf('/api/timeline') >= 0)[0];
  return {drawn: mark('timeline-drawn'), ready: mark('timeline-ready'), board: mark('board-ready'),
          tl_start: tl.requestStart, tl_server: tl.responseStart - tl.requestStart, tl_end: tl.responseEnd,
          kib: tl.encodedBodySize / 1024,
          rows: window.dispatchTimeline.data.rows.length, stops: window.dispatchTimeline.data.stops.length,
          blocks: document.querySelectorAll('#timeline .vis-item.tl-stop').length};
}"""


def cmd_firstdraw(args: argparse.Namespace) -> None:
    from playwright.sync_api import sync_playwright

    url = normalise_url(args.url)
    seed_days(url, technicians=args.technicians, stops=args.stops)
    with Server("single", url, args.redis) as server, sync_playwright() as pw:
        browser = chromium(pw)
        page = browser.new_context(viewport=SIZE, locale="zh-CN").new_page()
        login(page, server.base_url, "dispatcher")
        results = []
        for _ in range(args.runs):  # the first run has a cold cache for the scripts
            page.goto(server.base_url + "/board", wait_until="commit")
            page.wait_for_function(DRAWN_JS, timeout=120_000)
            # The timeline no longer waits for the board's snapshot: wait for it too, to print when it was in.
            page.wait_for_function("() => performance.getEntriesByName('board-ready').length > 0", timeout=120_000)
            results.append(page.evaluate(TIMES_JS))
        browser.close()
    print(f"# timeline first draw: {args.technicians} technicians, {args.stops} planned visits today, "
          f"Chromium {SIZE['width']}×{SIZE['height']}, load1 {load1()}")  # fmt: skip
    print(
        "| run | drawn ms (nav start → first `changed`) | data in ms (`timeline-ready`) | board ready ms "
        "| /api/timeline asked at ms | its server time ms | its last byte ms | KiB | rows | visits | blocks in the DOM |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for i, r in enumerate(results):
        print(f"| {i + 1}{' (cold cache)' if i == 0 else ''} | {r['drawn']:.0f} | {r['ready']:.0f} | {r['board']:.0f} "
              f"| {r['tl_start']:.0f} | {r['tl_server']:.0f} | {r['tl_end']:.0f} | {r['kib']:.0f} | {r['rows']} "
              f"| {r['stops']} | {r['blocks']} |")  # fmt: skip
    drawn = [r["drawn"] for r in results]
    print(f"median drawn: {statistics.median(drawn):.0f} ms; worst {max(drawn):.0f} ms")


# --- a drop to every board ---------------------------------------------------------------------

WATCH_JS = """([id, tech]) => new Promise((resolve) => {
  const look = () => {
    const s = window.dispatchTimeline.data.byOrder[id];
    if (s && s.technician_id === tech) requestAnimationFrame(() => resolve(performance.timeOrigin + performance.now()));
    else requestAnimationFrame(look);
  };
  look();
})"""


class Pages:
    """Chromium pages with the board open, each watching for a drop in its own thread (Playwright's
    sync API is per thread)."""

    def __init__(self, base_url: str, n: int):
        self.base_url, self.n = base_url, n
        self.jobs: list = []
        self.results: list[list[float]] = [[] for _ in range(n)]
        self.ready = threading.Barrier(n + 1) if n else None
        self.go = [threading.Event() for _ in range(n)]
        self.done = [threading.Event() for _ in range(n)]
        self.target: tuple[int, int] | None = None
        self.stop = False
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(n)]

    def start(self) -> None:
        for t in self.threads:
            t.start()
        if self.ready:
            self.ready.wait(timeout=300)

    def _run(self, i: int) -> None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = chromium(pw)
            page = browser.new_context(viewport=SIZE, locale="zh-CN").new_page()
            login(page, self.base_url, "dispatcher")
            page.goto(self.base_url + "/board")
            page.wait_for_function(DRAWN_JS, timeout=120_000)
            page.wait_for_function("() => document.getElementById('connection').dataset.state === 'live'")
            self.ready.wait(timeout=300)
            while True:
                self.go[i].wait()
                self.go[i].clear()
                if self.stop:
                    break
                at = page.evaluate(WATCH_JS, list(self.target))
                self.results[i].append(at / 1000)
                self.done[i].set()
            browser.close()

    def watch(self, order_id: int, tech_id: int) -> None:
        self.target = (order_id, tech_id)
        for e in self.go:
            e.set()

    def wait(self, timeout: float = 30) -> None:
        for e in self.done:
            e.wait(timeout)
            e.clear()

    def close(self) -> None:
        self.stop = True
        for e in self.go:
            e.set()
        for t in self.threads:
            t.join(timeout=30)


async def drive_drops(server: Server, info: dict, args: argparse.Namespace, pages: Pages) -> dict:
    import aiohttp
    import socketio

    received: dict[int, list[float]] = {}

    async def one_board(i: int):
        sio = socketio.AsyncClient(reconnection=False)

        @sio.on("order_event")
        async def on_event(msg) -> None:
            if msg["event"]["kind"] == "assign":
                received.setdefault(msg["event"]["order_id"], []).append(time.time())

        await sio.connect(server.base_url, headers={"Authorization": f"Bearer {info['dispatcher_token']}"},
                          transports=["websocket"], wait_timeout=30)  # fmt: skip
        return sio

    clients = []
    for start in range(0, args.boards, 25):
        clients += await asyncio.gather(*(one_board(i) for i in range(start, min(args.boards, start + 25))))
    await asyncio.sleep(1.0)
    rnd = random.Random(5)
    socket_lat, page_lat, http = [], [], []
    sent: dict[int, float] = {}
    cpu0, wall0 = server.cpu_seconds(), time.perf_counter()
    headers = {"Authorization": f"Bearer {info['dispatcher_token']}"}
    # A technician not dropped on before each time: two drops on one row could push the second
    # past the shift's end in an evening run (the placement refuses it).
    techs = rnd.sample(range(1, args.technicians + 1), min(args.drops, args.technicians))
    async with aiohttp.ClientSession(headers=headers) as session:
        for i, oid in enumerate(info["unassigned_ids"][: args.drops]):
            tech = techs[i % len(techs)]
            if pages.n:
                pages.watch(oid, tech)
                await asyncio.sleep(0.05)  # the pages' watchers are in place
            t0 = time.time()
            sent[oid] = t0
            async with session.post(f"{server.base_url}/api/orders/{oid}/placement",
                                    json={"technician_id": tech, "before_order_id": None, "version": 1}) as r:  # fmt: skip
                body = await r.json()
                if r.status != 200:
                    raise RuntimeError(f"drop of {oid} on {tech} failed: {r.status} {body}")
            http.append(time.time() - t0)
            if pages.n:
                await asyncio.get_running_loop().run_in_executor(None, pages.wait)
                page_lat += [res[-1] - t0 for res in pages.results if res]
            await asyncio.sleep(max(0.0, 1.0 / args.rate - (time.time() - t0)))
    deadline = time.time() + 10
    while sum(len(received.get(o, [])) for o in sent) < len(sent) * len(clients) and time.time() < deadline:
        await asyncio.sleep(0.05)
    wall = time.perf_counter() - wall0
    server_cpu = (server.cpu_seconds() - cpu0) / wall
    for oid, t0 in sent.items():
        socket_lat += [t - t0 for t in received.get(oid, [])]
    await asyncio.gather(*(c.disconnect() for c in clients), return_exceptions=True)
    return {"socket": socket_lat, "pages": page_lat, "http": http, "delivered": len(socket_lat),
            "expected": len(sent) * len(clients), "server_cpu": server_cpu}  # fmt: skip


def cmd_drop(args: argparse.Namespace) -> None:
    url = normalise_url(args.url)
    info = seed_days(url, technicians=args.technicians, stops=args.stops, unassigned=args.drops)
    with Server(args.mode, url, args.redis, threads=args.boards + args.pages * 4 + 40) as server:
        pages = Pages(server.base_url, args.pages)
        pages.start()
        try:
            r = asyncio.run(drive_drops(server, info, args, pages))
        finally:
            pages.close()
    print(f"# a drop to every open board: {args.drops} drops (POST /api/orders/<id>/placement) one after another, "
          f"{args.boards} Socket.IO boards + {args.pages} Chromium boards, {args.technicians} technicians, "
          f"{args.stops} visits, mode {args.mode}, load1 {load1()}")  # fmt: skip
    print("| what | n | p50 ms | p95 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|---|")
    for name, values in (("drop request (answer received)", r["http"]),
                         ("drop → Socket.IO board has the event", r["socket"]),
                         ("drop → Chromium board's timeline redrawn", r["pages"])):  # fmt: skip
        if values:
            print(f"| {name} | {len(values)} | {1000 * pct(values, 50):.0f} | {1000 * pct(values, 95):.0f} "
                  f"| {1000 * pct(values, 99):.0f} | {1000 * max(values):.0f} |")  # fmt: skip
    print(f"delivered {r['delivered']}/{r['expected']}; server CPU {100 * r['server_cpu']:.0f} % of one core")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=DEFAULT_URL, help="PostgreSQL database (emptied and reseeded)")
    parser.add_argument("--redis", default=DEFAULT_REDIS)
    sub = parser.add_subparsers(dest="cmd", required=True)
    fd = sub.add_parser("firstdraw")
    fd.add_argument("--technicians", type=int, default=200)
    fd.add_argument("--stops", type=int, default=2000)
    fd.add_argument("--runs", type=int, default=5)
    dr = sub.add_parser("drop")
    dr.add_argument("--technicians", type=int, default=200)
    dr.add_argument("--stops", type=int, default=2000)
    dr.add_argument("--boards", type=int, default=50)
    dr.add_argument("--pages", type=int, default=3)
    dr.add_argument("--drops", type=int, default=40)
    dr.add_argument("--rate", type=float, default=1.0, help="drops per second at most")
    dr.add_argument("--mode", default="single", help="single (flask run) or workers2 (gunicorn ×2 + Redis)")
    args = parser.parse_args()
    {"firstdraw": cmd_firstdraw, "drop": cmd_drop}[args.cmd](args)


if __name__ == "__main__":
    main()
