"""Benchmark of one SLA sweep over a large backlog.

    python -m bench.sweep --orders 100000 --due 2000 [--url postgresql://postgres@127.0.0.1:5432/dispatch_bench]

Fills a database (created if missing; its tables are emptied) with open orders whose SLA
clocks mostly lie in the future and `--due` orders whose contact and completion clocks have
passed, then times one sweep and counts the SQL statements it sent. A script that prints
figures, not a test.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, event, insert, text
from sqlalchemy.engine import make_url

from core.db import Database, normalise_url
from core.migrate import upgrade
from dispatch.models import Customer, SlaClock, WorkOrder
from dispatch.sla.sweep import sweep
from dispatch.tables import metadata
from technicians.models import Skill

ROOT = Path(__file__).resolve().parent.parent


def ensure_database(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database}).scalar()
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


def fill(db: Database, orders: int, due: int, now: datetime) -> None:
    with db.session_scope() as s:
        tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables if t.name != "alembic_version")
        if db.engine.dialect.name == "postgresql":
            s.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        s.add(Skill(code="water_heater", name_en="Water heater", name_zh="热水器"))
        s.add(Customer(phone="+8613900000000", name="bench"))
        s.commit()
        chunk = 10_000
        for start in range(0, orders, chunk):
            rows, clocks = [], []
            for n in range(start, min(orders, start + chunk)):
                late = n < due
                created = now - timedelta(hours=25) if late else now - timedelta(minutes=5)
                rows.append({
                    "id": n + 1, "number": f"B-{n:07d}", "channel": "api", "customer_id": 1, "contact_name": "bench",
                    "contact_phone": "+8613900000000", "address": "bench", "lat": 34.2, "lon": 108.9,
                    "geocode_status": "ok", "product_category": "water_heater", "product_model": "",
                    "issue_category": "repair", "description": "", "required_skill": "water_heater",
                    "priority": "normal", "in_warranty": False, "created_at": created,
                    "due_at": created + timedelta(hours=24), "status": "new", "assignment_locked": False,
                    "visit_count": 1, "version": 1, "updated_at": created,
                })  # fmt: skip
                for clock, minutes in (("contact", 30), ("completion", 24 * 60)):
                    limit = timedelta(minutes=minutes)
                    clocks.append({
                        "order_id": n + 1, "clock": clock, "started_at": created, "warn_at": created + 0.8 * limit,
                        "due_at": created + limit,
                    })  # fmt: skip
            s.execute(insert(WorkOrder), rows)
            s.execute(insert(SlaClock), clocks)
            s.commit()
        if db.engine.dialect.name == "postgresql":
            s.execute(text(f"SELECT setval('work_orders_id_seq', {orders})"))
            s.commit()
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE sla_clocks"))
                conn.execute(text("VACUUM ANALYZE work_orders"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=2_000)
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/dispatch_bench")
    args = parser.parse_args()
    url = normalise_url(args.url)
    ensure_database(url)
    upgrade(url)
    db = Database(url)
    now = datetime.now(UTC)
    started = time.perf_counter()
    fill(db, args.orders, args.due, now)
    print(f"{args.orders} open orders ({2 * args.orders} clocks), {args.due} of them past both deadlines; "
          f"filled in {time.perf_counter() - started:.1f} s on {db.engine.dialect.name}")  # fmt: skip

    statements = []
    event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2].split()[0]))
    for label, at in (("first sweep", now), ("second sweep (nothing new)", now + timedelta(seconds=30))):
        statements.clear()
        with db.session_scope() as s:
            t0 = time.perf_counter()
            counts = sweep(s, at)
            elapsed = time.perf_counter() - t0
        print(
            f"{label}: {counts} in {elapsed * 1000:.0f} ms, {len(statements)} SQL statements ({', '.join(statements)})"
        )
    db.dispose()


if __name__ == "__main__":
    main()
