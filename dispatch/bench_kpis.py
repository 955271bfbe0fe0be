"""Benchmark of the monthly KPIs over a long history, on PostgreSQL.

    python -m dispatch.bench_kpis --orders 1000000 --technicians 2000 --months 24 \
        [--url postgresql://postgres@127.0.0.1:5432/dispatch_kpi_bench]

Generates the history with bulk inserts (orders, their complete/arrive/return events, SLA
contact clocks, photos, surveys, verdicts), then times a month's table by technician, by
outlet and overall, and a drill-down for one technician. A script that prints figures.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert, text

from core.db import Database, normalise_url
from core.migrate import upgrade
from dispatch import kpis
from dispatch.bench_sweep import ensure_database
from dispatch.models import AuthenticityVerdict, Customer, Photo, SlaClock, Survey, WorkOrder, WorkOrderEvent
from technicians.models import Outlet, Skill, Technician

TZ = ZoneInfo("Asia/Shanghai")


def fill(db: Database, n_orders: int, n_techs: int, months: int, end: datetime) -> None:
    rnd = random.Random(9)
    with db.session_scope() as s:
        tables = ", ".join(f'"{t}"' for t in ("work_order_events", "sla_clocks", "photos", "surveys", "authenticity_verdicts",
                                             "work_orders", "customers", "technician_skills", "technicians", "outlets",
                                             "skills", "counters"))  # fmt: skip
        s.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        s.add(Skill(code="water_heater", name_en="Water heater", name_zh="热水器"))
        s.add_all(Outlet(code=f"O{i}", name=f"Outlet {i}", lat=34.2, lon=108.9) for i in range(20))
        s.add(Customer(phone="+8613900000000", name="bench"))
        s.flush()
        s.execute(insert(Technician), [
            {"outlet_id": 1 + i % 20, "name": f"T{i}", "phone": "+8613800000000", "home_lat": 34.2, "home_lon": 108.9,
             "work_days": "1234567", "daily_capacity": 8, "active": True}
            for i in range(n_techs)
        ])  # fmt: skip
        s.commit()
        span = timedelta(days=30 * months)
        seq = 0
        chunk = 20_000
        for base in range(0, n_orders, chunk):
            orders, events, clocks, photos, surveys, verdicts = [], [], [], [], [], []
            for n in range(base, min(n_orders, base + chunk)):
                oid = n + 1
                created = end - span * rnd.random()
                tech = 1 + rnd.randrange(n_techs)
                done = rnd.random() < 0.9
                hours = rnd.uniform(2, 30)
                status = "closed" if done else "assigned"
                orders.append({
                    "id": oid, "number": f"K{oid:08d}", "channel": "api", "customer_id": 1, "contact_name": "b",
                    "contact_phone": "+8613900000000", "address": "b", "lat": 34.2, "lon": 108.9, "geocode_status": "ok",
                    "product_category": "water_heater", "product_model": "", "issue_category": "repair", "description": "",
                    "required_skill": "water_heater", "priority": "normal", "in_warranty": False, "created_at": created,
                    "due_at": created + timedelta(hours=24), "status": status, "outlet_id": 1 + (tech - 1) % 20,
                    "technician_id": tech, "assignment_locked": False, "visit_count": 1, "version": 3,
                    "updated_at": created, "proof_photos_required": 1,
                })  # fmt: skip
                clocks.append({"order_id": oid, "clock": "contact", "started_at": created,
                               "warn_at": created + timedelta(minutes=24), "due_at": created + timedelta(minutes=30),
                               "stopped_at": created + timedelta(minutes=rnd.uniform(5, 45))})  # fmt: skip
                if done:
                    for kind, at, lat in (("arrive", created + timedelta(hours=hours - 1), 34.2 if rnd.random() < 0.95 else None),
                                          ("complete", created + timedelta(hours=hours), None)):  # fmt: skip
                        seq += 1
                        events.append({"seq": seq, "order_id": oid, "at": at, "actor_id": None, "actor_role": "technician",
                                       "kind": kind, "from_status": None, "to_status": None, "data": {}, "lat": lat,
                                       "lon": 108.9 if lat else None, "accuracy_m": None})  # fmt: skip
                    if rnd.random() < 0.05:
                        seq += 1
                        events.append({"seq": seq, "order_id": oid, "at": created, "actor_id": None, "actor_role": "dispatcher",
                                       "kind": "return", "from_status": None, "to_status": None, "data": {}, "lat": None,
                                       "lon": None, "accuracy_m": None})  # fmt: skip
                    photos.append({"order_id": oid, "visit": 1, "uploaded_at": created, "sha256": f"{oid:064x}",
                                   "phash": rnd.getrandbits(63), "image_format": "JPEG", "width": 1, "height": 1,
                                   "size_bytes": 1, "source": "camera", "original_key": "k", "view_key": "k",
                                   "thumb_key": "k"})  # fmt: skip
                    verdicts.append({"order_id": oid, "visit": 1, "status": rnd.choice(["verified"] * 9 + ["doubtful"]),
                                     "reasons": [], "computed_at": created})  # fmt: skip
                    if rnd.random() < 0.6:
                        surveys.append({"order_id": oid, "visit": 1, "fixed": True, "score": rnd.choice([3, 4, 5, 5]),
                                        "comment": "", "answered_at": created, "flagged": False})  # fmt: skip
            for model, rows in ((WorkOrder, orders), (WorkOrderEvent, events), (SlaClock, clocks), (Photo, photos),
                                (AuthenticityVerdict, verdicts), (Survey, surveys)):  # fmt: skip
                if rows:
                    s.execute(insert(model), rows)
            s.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--technicians", type=int, default=2000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/dispatch_kpi_bench")
    parser.add_argument("--keep", action="store_true", help="reuse the data of an earlier run")
    args = parser.parse_args()
    url = normalise_url(args.url)
    ensure_database(url)
    upgrade(url)
    db = Database(url)
    end = datetime(2026, 11, 1, tzinfo=UTC)
    if not args.keep:
        t0 = time.perf_counter()
        fill(db, args.orders, args.technicians, args.months, end)
        print(f"history: {args.orders:,} orders, {args.technicians} technicians, {args.months} months "
              f"({time.perf_counter() - t0:.0f} s to generate)")  # fmt: skip
    month = "2026-06"
    for by in ("technician", "outlet", "all"):
        with db.session_scope() as s:
            t0 = time.perf_counter()
            rows = kpis.monthly(s, month, by, TZ)
            print(f"month {month} by {by}: {len(rows)} rows in {(time.perf_counter() - t0) * 1000:.0f} ms")
    with db.session_scope() as s:
        t0 = time.perf_counter()
        drill = kpis.drill_down(s, month, "compliance", TZ, technician_id=7)
        print(
            f"drill-down (compliance, one technician): {len(drill)} orders in {(time.perf_counter() - t0) * 1000:.0f} ms"
        )
    db.dispose()


if __name__ == "__main__":
    main()
