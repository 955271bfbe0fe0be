"""Benchmark of the instant path with the database in the loop.

    python -m bench.instant --technicians 200 --orders 2000 --new 100 [--horizon 3] [--url URL]

Builds a city (outlets, technicians on shift, open orders already on their routes) in a
fresh database (a temporary SQLite file unless --url names an empty PostgreSQL database),
then places --new orders one by one with `planning.place_new_order`, exactly as intake
does, over a planning horizon of --horizon days (a vehicle per technician-day), and prints
the latency of each phase, and of listing each new order's appointment slots
(`planning.slots_for_order`, from the in-memory day) before it is placed. A script that
prints figures, not a test.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import text

from core.accounts import Actor
from core.db import Database, normalise_url
from core.migrate import upgrade
from dispatch import planning
from dispatch.events import record_event
from dispatch.models import Customer, RouteStop, WorkOrder
from routing import InsertionIndex
from routing.evaluate import evaluate
from technicians.models import Outlet, Skill, Technician

SKILLS = ["water_heater", "air_conditioner", "washing_machine", "refrigerator", "kitchen", "tv"]
TZ = ZoneInfo("Asia/Shanghai")
ROOT = Path(__file__).resolve().parent.parent


def build_city(
    db: Database,
    n_techs: int,
    n_orders: int,
    now: datetime,
    seed: int = 1,
    *,
    shift: tuple[dtime, dtime] = (dtime(0, 0), dtime(23, 59)),
    capacity: int = 30,
    assigned: bool = True,
) -> None:
    rnd = random.Random(seed)
    with db.session_scope() as s:
        s.add_all(Skill(code=c, name_en=c, name_zh=c) for c in SKILLS)
        outlets = [
            Outlet(code=f"O{i}", name=f"Outlet {i}", lat=34.15 + 0.1 * i, lon=108.85 + 0.1 * i) for i in range(3)
        ]
        s.add_all(outlets)
        s.flush()
        skills = {sk.code: sk for sk in s.query(Skill)}
        techs = []
        for i in range(n_techs):
            t = Technician(
                outlet_id=outlets[i % 3].id, name=f"T{i}", phone="+8613800000000",
                home_lat=rnd.uniform(34.10, 34.45), home_lon=rnd.uniform(108.75, 109.15),
                shift_start=shift[0], shift_end=shift[1], work_days="1234567", daily_capacity=capacity,
            )  # fmt: skip
            t.skills = [skills[c] for c in rnd.sample(SKILLS, 3)]
            techs.append(t)
        s.add_all(techs)
        customer = Customer(phone="+8613900000000", name="bench")
        s.add(customer)
        s.flush()
        per_tech: dict[int, int] = {}
        for n in range(n_orders):
            tech = techs[n % n_techs]
            skill = rnd.choice([sk.code for sk in tech.skills])
            order = WorkOrder(
                number=f"B-{n:06d}", channel="api", customer_id=customer.id, contact_name="bench",
                contact_phone=customer.phone, address="bench", lat=tech.home_lat + rnd.uniform(-0.04, 0.04),
                lon=tech.home_lon + rnd.uniform(-0.05, 0.05), product_category=skill, issue_category="repair",
                required_skill=skill, created_at=now, due_at=now + timedelta(hours=24),
                status="assigned" if assigned else "new", outlet_id=tech.outlet_id,
                technician_id=tech.id if assigned else None,
            )  # fmt: skip
            s.add(order)
            s.flush()
            if not assigned:
                continue
            seq = per_tech.get(tech.id, 0)
            per_tech[tech.id] = seq + 1
            s.add(RouteStop(order_id=order.id, technician_id=tech.id, seq=seq, eta=None))
        s.commit()


def new_order(db: Database, rnd: random.Random, now: datetime, n: int) -> int:
    with db.session_scope() as s:
        customer_id = s.execute(text("SELECT min(id) FROM customers")).scalar_one()
        skill = rnd.choice(SKILLS)
        order = WorkOrder(
            number=f"N-{n:06d}", channel="api", customer_id=customer_id, contact_name="bench",
            contact_phone="+8613900000000", address="bench", lat=rnd.uniform(34.10, 34.45),
            lon=rnd.uniform(108.75, 109.15), product_category=skill, issue_category="repair", required_skill=skill,
            created_at=now, due_at=now + timedelta(hours=24), status="new",
        )  # fmt: skip
        s.add(order)
        s.flush()
        record_event(s, order, "created", Actor.system(), to_status="new")  # as intake does
        s.commit()
        return order.id


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--technicians", type=int, default=200)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--new", type=int, default=100)
    parser.add_argument("--horizon", type=int, default=3, help="planning horizon in days, today included")
    parser.add_argument("--url", help="an empty database to use instead of a temporary SQLite file")
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory()
    url = normalise_url(args.url) if args.url else f"sqlite:///{Path(tmp.name) / 'bench.db'}"
    upgrade(url)
    db = Database(url)
    now = datetime.now(UTC).replace(microsecond=0)
    started = time.perf_counter()
    build_city(db, args.technicians, args.orders, now)
    print(f"city: {args.technicians} technicians, {args.orders} open orders on routes "
          f"({time.perf_counter() - started:.1f} s to build) on {url.split(':')[0]}")  # fmt: skip

    settings = planning.PlanningSettings(timezone=TZ, horizon_days=args.horizon)
    print(f"horizon: {args.horizon} day(s)")
    rnd = random.Random(7)
    keys = (
        "load_day", "evaluate", "index", "best", "place (read whole day)", "place (in-memory day)", "slots",
        "place (in-memory day) CPU", "slots CPU",
    )  # fmt: skip
    offered: list[int] = []
    phases: dict[str, list[float]] = {k: [] for k in keys}
    placed = 0
    reasons: dict[str, int] = {}
    for n in range(args.new):
        order_id = new_order(db, rnd, now, n)
        with db.session_scope() as s:  # the phases, measured apart (read-only)
            t0 = time.perf_counter()
            day = planning.load_day(s, settings, now)
            t1 = time.perf_counter()
            current = evaluate(day.technicians, day.jobs, day.routes)
            t2 = time.perf_counter()
            index = InsertionIndex(day.technicians, current, day.jobs)
            t3 = time.perf_counter()
            index.best(day.jobs[order_id])
            t4 = time.perf_counter()
        for key, value in zip(phases, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=False):
            phases[key].append(value * 1000)
        # The real thing: read, choose, assign, commit — alternately reading the whole day
        # and patching this process's in-memory day from the event log (what intake does).
        cached = n % 2 == 1
        with db.session_scope() as s:  # the customer's list of slots, as the request form asks it
            t0, c0 = time.perf_counter(), time.process_time()
            offered.append(len(planning.slots_for_order(s, order_id, settings, now)))
            phases["slots"].append((time.perf_counter() - t0) * 1000)
            # CPU time of this process (the database's own work on PostgreSQL is not in it): what
            # the wall time would be on an idle machine, near enough, when the machine is not.
            phases["slots CPU"].append((time.process_time() - c0) * 1000)
        with db.session_scope() as s:
            t0, c0 = time.perf_counter(), time.process_time()
            outcome = planning.place_new_order(s, order_id, settings, now, cached=cached)
            key = "place (in-memory day)" if cached else "place (read whole day)"
            phases[key].append((time.perf_counter() - t0) * 1000)
            if cached:
                phases["place (in-memory day) CPU"].append((time.process_time() - c0) * 1000)
        placed += not isinstance(outcome, str)
        if isinstance(outcome, str):
            reasons[outcome] = reasons.get(outcome, 0) + 1
    print(f"placed {placed} of {args.new} new orders; not placed: {reasons or 'none'}; "
          f"slots offered per order: median {statistics.median(offered):.0f}")  # fmt: skip
    print(f"{'phase':<28}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}")
    for key, values in phases.items():
        if not values:
            continue
        print(f"{key:<28}{statistics.median(values):>10.1f}{pct(values, 0.95):>10.1f}{max(values):>10.1f}")
    db.dispose()
    tmp.cleanup()


if __name__ == "__main__":
    main()
