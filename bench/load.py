"""Load figures on loopback: 2 gunicorn workers (gthread) + Redis + PostgreSQL.

    python -m bench.load intake --concurrency 4,16 --duration 30
    python -m bench.load techs --technicians 50 --boards 20 --duration 60 --think 2
    python -m bench.load fanout --boards 500 --events 100

A bounded asyncio script (aiohttp + python-socketio's asyncio client) rather than locust: every
figure comes from this file, with no extra runner to install.

`intake`: C concurrent API clients (a dispatcher's bearer token) post new orders with
coordinates for `--duration` seconds, as fast as answers come back. Instant assignment is on
(`AUTO_ASSIGN_ON_INTAKE=1`, the default): every order is placed on a technician's route before
the answer. Throughput, p50/p95/p99 and errors.

`techs`: 50 technicians (each with a bearer token) walk their assigned orders from the phone's
API — accept, contact, depart, arrive, each move carrying the phone's position — with
`--think` seconds between moves (± 50 %), while 20 boards (dispatchers on Socket.IO) load the
snapshot and watch. Per-request p50/p95/p99 and the error rate (any answer but 200, or no
answer); the boards' event latency too.

`fanout`: Socket.IO fan-out to 500 boards through Redis (bench.board's latency measure,
2 workers).

A script that prints figures (docs/benchmarks.md), not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time

from bench.board import DEFAULT_REDIS, DEFAULT_URL, Boards, Server, load1, measure_latency, pct, seed
from core.db import normalise_url


def _row(name: str, durations: list[float], errors: int, wall: float, extra: str = "") -> str:
    n = len(durations) + errors
    return (
        f"| {name} | {n} | {len(durations) / wall:.1f} | {1000 * pct(durations, 50):.0f} | {1000 * pct(durations, 95):.0f} "
        f"| {1000 * pct(durations, 99):.0f} | {errors} ({100 * errors / max(1, n):.2f} %) |{extra}"
    )


# --- intake ------------------------------------------------------------------------------------


async def intake_run(
    base_url: str, token: str, concurrency: int, duration: float
) -> tuple[list[float], int, float, dict]:
    import aiohttp

    durations: list[float] = []
    errors = 0
    statuses: dict[str, int] = {}
    codes = ["water_heater", "air_conditioner", "washing_machine", "refrigerator", "kitchen", "tv"]
    counter = iter(range(10**9))
    stop = time.perf_counter() + duration

    async def client(http: aiohttp.ClientSession, rnd: random.Random) -> None:
        nonlocal errors
        while time.perf_counter() < stop:
            i = next(counter)
            body = {"name": f"压测{i}", "phone": f"138{concurrency:02d}{i:06d}", "address": f"西安市长安南路{i % 300}号",
                    "product_category": rnd.choice(codes), "lat": 34.26 + rnd.uniform(-0.1, 0.1),
                    "lon": 108.94 + rnd.uniform(-0.1, 0.1), "channel": "hotline"}  # fmt: skip
            t0 = time.perf_counter()
            try:
                async with http.post(f"{base_url}/api/orders", json=body) as r:
                    data = await r.json()
                    ok = r.status == 201
                    if ok:
                        statuses[data.get("status", "?")] = statuses.get(data.get("status", "?"), 0) + 1
            except (TimeoutError, aiohttp.ClientError):
                ok = False
            if ok:
                durations.append(time.perf_counter() - t0)
            else:
                errors += 1

    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}, timeout=timeout) as http:
        t0 = time.perf_counter()
        await asyncio.gather(*(client(http, random.Random(k)) for k in range(concurrency)))
        wall = time.perf_counter() - t0
    return durations, errors, wall, statuses


def cmd_intake(args: argparse.Namespace) -> None:
    url = normalise_url(args.url)
    info = seed(url, orders=args.orders, technicians=args.technicians)
    print(f"# intake on 2 workers: {args.technicians} technicians on shift, {args.orders} open orders at the start, "
          f"instant assignment {'off' if args.no_assign else 'on'}, {args.duration:.0f} s per row")  # fmt: skip
    print(
        "| concurrency | requests | orders/s | p50 ms | p95 ms | p99 ms | errors | new orders' status | server CPU "
        "| app CPU ms per order | load1 |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    extra = {"AUTO_ASSIGN_ON_INTAKE": "0" if args.no_assign else "1"}
    with Server("workers2", url, args.redis, extra=extra) as server:
        for c in [int(x) for x in args.concurrency.split(",")]:
            cpu0, w0 = server.cpu_seconds(), time.perf_counter()
            durations, errors, wall, statuses = asyncio.run(
                intake_run(server.base_url, info["dispatcher_token"], c, args.duration)
            )
            spent = server.cpu_seconds() - cpu0
            cpu = spent / (time.perf_counter() - w0)
            st = ", ".join(f"{k} {v}" for k, v in sorted(statuses.items()))
            per = 1000 * spent / max(1, len(durations) + errors)
            print(
                _row(str(c), durations, errors, wall, f" {st} | {100 * cpu:.0f} % | {per:.0f} | {load1()} |"),
                flush=True,
            )


# --- technicians and boards --------------------------------------------------------------------

MOVES = ("accept", "contact", "depart", "arrive")


async def techs_run(server: Server, info: dict, boards_n: int, duration: float, think: float) -> dict:
    import aiohttp

    boards = Boards([server.base_url], info["dispatcher_token"], boards_n)
    await boards.connect()
    snapshot_s: list[float] = []
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {info['dispatcher_token']}"}) as http:

        async def snapshot() -> None:
            t0 = time.perf_counter()
            async with http.get(f"{server.base_url}/api/board") as r:
                await r.read()
                if r.status == 200:
                    snapshot_s.append(time.perf_counter() - t0)

        await asyncio.gather(*(snapshot() for _ in range(boards_n)))
    durations: list[float] = []
    errors: dict[str, int] = {}
    stop = time.perf_counter() + duration

    async def technician(token: str, orders: list[int], rnd: random.Random) -> None:
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}, timeout=timeout) as http:
            await asyncio.sleep(rnd.uniform(0, think))  # not all in step
            for oid in orders:
                version = 1
                for move in MOVES:
                    if time.perf_counter() >= stop:
                        return
                    body = {"action": move, "version": version, "lat": 34.26 + rnd.uniform(-0.1, 0.1),
                            "lon": 108.94 + rnd.uniform(-0.1, 0.1), "accuracy_m": 12}  # fmt: skip
                    t0 = time.perf_counter()
                    try:
                        async with http.post(f"{server.base_url}/api/tech/orders/{oid}/actions", json=body) as r:
                            data = await r.json()
                            if r.status == 200:
                                durations.append(time.perf_counter() - t0)
                                version = data["version"]
                            else:
                                errors[str(r.status)] = errors.get(str(r.status), 0) + 1
                    except (TimeoutError, aiohttp.ClientError) as exc:
                        errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                    await asyncio.sleep(think * rnd.uniform(0.5, 1.5))

    cpu0, cpu_client0, w0 = server.cpu_seconds(), time.process_time(), time.perf_counter()
    await asyncio.gather(
        *(technician(tok, info["tech_orders"][t + 1], random.Random(t)) for t, tok in enumerate(info["tech_tokens"]))
    )
    wall = time.perf_counter() - w0
    await asyncio.sleep(2)
    cpu = (server.cpu_seconds() - cpu0) / wall
    client_cpu = (time.process_time() - cpu_client0) / wall
    await boards.close()
    lat = [x for v in boards.latency.values() for x in v]
    return {"durations": durations, "errors": errors, "wall": wall, "cpu": cpu, "client_cpu": client_cpu,
            "event_latency": lat, "events": len(boards.latency), "boards": len(boards.clients),
            "snapshot": snapshot_s}  # fmt: skip


def cmd_techs(args: argparse.Namespace) -> None:
    url = normalise_url(args.url)
    per_tech = int(args.duration / args.think / len(MOVES)) + 3
    info = seed(url, orders=args.orders, technicians=args.technicians, tech_users=args.technicians,
                assigned_per_tech=per_tech)  # fmt: skip
    with Server("workers2", url, args.redis, threads=args.boards + 64) as server:
        r = asyncio.run(techs_run(server, info, args.boards, args.duration, args.think))
    n_err = sum(r["errors"].values())
    print(f"# {args.technicians} technicians (a move every {args.think:g} s ± 50 %, with position) while "
          f"{r['boards']} boards watch; 2 workers + Redis; {args.duration:.0f} s; load1 {load1()}")  # fmt: skip
    print("| what | requests | per s | p50 ms | p95 ms | p99 ms | errors |")
    print("|---|---|---|---|---|---|---|")
    print(_row("technician moves", r["durations"], n_err, r["wall"]))
    ev = r["event_latency"]
    per = 1000 * r["cpu"] * r["wall"] / max(1, len(r["durations"]) + n_err)
    print(f"errors by kind: {r['errors'] or 'none'}; server CPU {100 * r['cpu']:.0f} % ({per:.0f} ms of app CPU per move, "
          f"boards' share included), this script's CPU {100 * r['client_cpu']:.0f} %")  # fmt: skip
    print(f"boards: {r['events']} events, {len(ev)} deliveries; latency p50 {1000 * pct(ev, 50):.0f} ms, "
          f"p95 {1000 * pct(ev, 95):.0f} ms, p99 {1000 * pct(ev, 99):.0f} ms; snapshot GET /api/board "
          f"p50 {1000 * pct(r['snapshot'], 50):.0f} ms (20 at once at the start)")  # fmt: skip


# --- fan-out ------------------------------------------------------------------------------------


def cmd_fanout(args: argparse.Namespace) -> None:
    url = normalise_url(args.url)
    info = seed(url, orders=500, technicians=50)
    with Server("workers2", url, args.redis, threads=args.boards + 40) as server:
        r = asyncio.run(measure_latency(server, info, args.boards, args.events, args.rate))
    print(
        f"# Socket.IO fan-out through Redis, 2 workers: {r['boards']} boards, {args.events} events at {args.rate:g}/s"
    )
    print(f"per delivery p50 {1000 * r['p50']:.0f} ms, p99 {1000 * r['p99']:.0f} ms, max {1000 * r['max']:.0f} ms; "
          f"last board per event p50 {1000 * r['last_p50']:.0f} ms, p99 {1000 * r['last_p99']:.0f} ms; "
          f"delivered {r['delivered']}; client CPU {100 * r['client_cpu']:.0f} %, server CPU {100 * r['server_cpu']:.0f} %; "
          f"sockets per worker {r['split']}; load1 {r['load1']}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=DEFAULT_URL, help="PostgreSQL database (emptied and reseeded)")
    parser.add_argument("--redis", default=DEFAULT_REDIS)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("intake")
    p.add_argument("--concurrency", default="4,16")
    p.add_argument("--duration", type=float, default=30)
    p.add_argument("--orders", type=int, default=500)
    p.add_argument("--technicians", type=int, default=200)
    p.add_argument(
        "--no-assign", action="store_true", help="AUTO_ASSIGN_ON_INTAKE=0: intake without instant assignment"
    )
    p = sub.add_parser("techs")
    p.add_argument("--technicians", type=int, default=50)
    p.add_argument("--boards", type=int, default=20)
    p.add_argument("--duration", type=float, default=60)
    p.add_argument("--think", type=float, default=2.0, help="seconds between one technician's moves")
    p.add_argument("--orders", type=int, default=500)
    p = sub.add_parser("fanout")
    p.add_argument("--boards", type=int, default=500)
    p.add_argument("--events", type=int, default=100)
    p.add_argument("--rate", type=float, default=5.0)
    args = parser.parse_args()
    {"intake": cmd_intake, "techs": cmd_techs, "fanout": cmd_fanout}[args.cmd](args)


if __name__ == "__main__":
    main()
