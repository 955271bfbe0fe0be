"""Benchmark of the monthly KPIs over a long history, on PostgreSQL.

    python -m bench.kpis --orders 1000000 --technicians 2000 --months 24 \
        [--url postgresql://postgres@127.0.0.1:5432/bench_kpis] [--keep] [--close-history]
    python -m bench.kpis --demo [--url sqlite:////tmp/bench_kpis_demo.db] [--keep]

Generates the history inside PostgreSQL (orders of 400,000 customers, their complete/arrive/
return events, SLA contact clocks, photos, surveys, verdicts), then times a month's table by technician, by
outlet and overall, the drill-down (query and HTML page), the API table, the KPI page, the
board's risk watch, the 12-month trend (one grouped query against one query per month) and the
month-close snapshot; with --close-history also closes the eleven
months before and times the KPI page reading them from snapshots. Each web request is timed
with the KPI cache emptied first (cold) and again with nothing changed since (warm).

With --demo: loads the demo city (`flask seed-demo`'s 300 orders, timed) and times the /kpis
page and the risk watch at that size, cold and warm, and after an event that invalidates the
month. A script that prints figures.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, text

from bench.sweep import ensure_database
from core.db import Database, normalise_url
from core.migrate import upgrade
from dispatch import kpis
from dispatch.models import Customer
from technicians.models import Outlet, Skill, Technician

TZ = ZoneInfo("Asia/Shanghai")


# The history is generated inside PostgreSQL (generate_series, one INSERT … SELECT per table):
# 1,000,000 orders and their rows take minutes, not the half hour row-by-row inserts from Python did.
# `bench_orders` holds each order's dice (setseed: the same history every run).
GENERATE = [
    "SELECT setseed(0.9)",
    # Ids follow creation time, as they do when orders arrive one by one: a month's orders
    # and their rows sit together on disk (the KPI queries rely on it for speed, not for results).
    """CREATE UNLOGGED TABLE bench_orders AS
       SELECT row_number() OVER (ORDER BY created)::int AS id, dice.*
       FROM (SELECT :end - (random() * :span_days) * interval '1 day' AS created,
                    1 + floor(random() * :techs)::int AS tech, random() < 0.9 AS done,
                    2 + random() * 28 AS hours, random() AS r_checkin, random() AS r_return,
                    random() AS r_verdict, random() AS r_survey, random() AS r_score,
                    5 + random() * 40 AS contact_min
             FROM generate_series(1, :orders)) AS dice
       ORDER BY created""",
    """INSERT INTO work_orders (id, number, channel, customer_id, contact_name, contact_phone, address, lat, lon,
           geocode_status, product_category, product_model, issue_category, description, required_skill, priority,
           in_warranty, created_at, due_at, status, outlet_id, technician_id, assignment_locked, visit_count, version,
           updated_at, proof_photos_required, completed_at)
       SELECT id, 'K' || lpad(id::text, 8, '0'), 'api', 1 + abs(hashint4(id)) % :customers, 'b', '+8613900000000', 'b', 34.2, 108.9, 'ok',
              'water_heater', '', 'repair', '', 'water_heater', 'normal', false, created,
              created + interval '24 hours', CASE WHEN done THEN 'closed' ELSE 'assigned' END, 1 + (tech - 1) % 20,
              tech, false, 1, 3, created, 1, CASE WHEN done THEN created + hours * interval '1 hour' END
       FROM bench_orders""",
    """INSERT INTO sla_clocks (order_id, clock, started_at, warn_at, due_at, stopped_at)
       SELECT id, 'contact', created, created + interval '24 minutes', created + interval '30 minutes',
              created + contact_min * interval '1 minute'
       FROM bench_orders""",
    """INSERT INTO work_order_events (seq, order_id, at, actor_role, kind, data, lat, lon)
       SELECT row_number() OVER (ORDER BY e.at, e.order_id, e.kind), e.order_id, e.at, e.role, e.kind, '{}', e.lat,
              e.lon
       FROM (
         SELECT id AS order_id, created + (hours - 1) * interval '1 hour' AS at, 'technician' AS role,
                'arrive' AS kind, CASE WHEN r_checkin < 0.95 THEN 34.2 END AS lat,
                CASE WHEN r_checkin < 0.95 THEN 108.9 END AS lon
         FROM bench_orders WHERE done
         UNION ALL
         SELECT id, created + hours * interval '1 hour', 'technician', 'complete', NULL, NULL
         FROM bench_orders WHERE done
         UNION ALL
         SELECT id, created, 'dispatcher', 'return', NULL, NULL FROM bench_orders WHERE done AND r_return < 0.05
       ) AS e""",
    """INSERT INTO photos (order_id, visit, uploaded_at, sha256, phash, image_format, width, height, size_bytes,
           source, original_key, view_key, thumb_key)
       SELECT id, 1, created, lpad(to_hex(id), 64, '0'), id::bigint * 7919, 'JPEG', 1, 1, 1, 'camera', 'k', 'k', 'k'
       FROM bench_orders WHERE done""",
    """INSERT INTO authenticity_verdicts (order_id, visit, status, reasons, computed_at)
       SELECT id, 1, CASE WHEN r_verdict < 0.9 THEN 'verified' ELSE 'doubtful' END, '[]', created
       FROM bench_orders WHERE done""",
    """INSERT INTO surveys (order_id, visit, fixed, score, comment, answered_at, flagged)
       SELECT id, 1, true, (ARRAY[3, 4, 5, 5])[1 + floor(r_score * 4)::int], '', created, false
       FROM bench_orders WHERE done AND r_survey < 0.6""",
    "DROP TABLE bench_orders",
]


CUSTOMERS = 400_000


# PostgreSQL's integer hash of the order id picks the customer: the same spread every run, and
# a customer's orders fall at unrelated times (a multiplier modulo the count would space them
# evenly, ~290 days apart, and no repair would ever come back).
CUSTOMER_OF = "1 + abs(hashint4(id)) % :n"


def add_customers(session) -> None:
    """400,000 customers: about 2.5 orders each over two years, so some repairs come back
    within 30 days and the repeat-repair figure has something to find."""
    session.execute(
        text("""INSERT INTO customers (id, phone, name, address, created_at)
                SELECT n, '+8613' || lpad(n::text, 9, '0'), 'bench', '', now()
                FROM generate_series(2, :n) AS n ON CONFLICT DO NOTHING"""),
        {"n": CUSTOMERS},
    )
    session.execute(text("SELECT setval(pg_get_serial_sequence('customers', 'id'), :n)"), {"n": CUSTOMERS})


def spread_customers(session) -> None:
    """A history generated with one customer for every order: spread over the 400,000."""
    t0 = time.perf_counter()
    add_customers(session)
    session.execute(text(f"UPDATE work_orders SET customer_id = {CUSTOMER_OF}"), {"n": CUSTOMERS})
    print(f"  customers: {CUSTOMERS:,} ({time.perf_counter() - t0:.1f} s)")


def fill(db: Database, n_orders: int, n_techs: int, months: int, end: datetime) -> None:
    """Empty the benchmark database and generate the history in SQL."""
    with db.session_scope() as s:
        tables = ", ".join(f'"{t}"' for t in ("work_order_events", "sla_clocks", "photos", "surveys", "authenticity_verdicts",
                                             "kpi_snapshots", "kpi_weights", "work_orders", "customers",
                                             "technician_skills", "technicians", "outlets", "skills", "counters"))  # fmt: skip
        s.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        s.execute(text("DROP TABLE IF EXISTS bench_orders"))
        s.add(Skill(code="water_heater", name_en="Water heater", name_zh="热水器"))
        s.add_all(Outlet(code=f"O{i}", name=f"Outlet {i}", lat=34.2, lon=108.9) for i in range(20))
        s.add(Customer(phone="+8613900000000", name="bench"))
        s.flush()
        add_customers(s)
        s.execute(insert(Technician), [
            {"outlet_id": 1 + i % 20, "name": f"T{i}", "phone": "+8613800000000", "home_lat": 34.2, "home_lon": 108.9,
             "work_days": "1234567", "daily_capacity": 8, "active": True}
            for i in range(n_techs)
        ])  # fmt: skip
        params = {"end": end, "span_days": 30 * months, "techs": n_techs, "orders": n_orders, "customers": CUSTOMERS}
        for statement in GENERATE:
            t0 = time.perf_counter()
            s.execute(text(statement), params)
            print(f"  {' '.join(statement.split()[:3])[:40]}: {time.perf_counter() - t0:.1f} s")
        s.execute(text("SELECT setval(pg_get_serial_sequence('work_orders', 'id'), :n)"), {"n": n_orders})
        s.execute(text("ANALYZE"))  # the facts' backfill reads the generated tables by hash joins
        t0 = time.perf_counter()  # generated in SQL, past the ORM hooks: each order's KPI facts
        print(f"  order_kpi_facts: {kpis.refresh_all(s):,} rows, {time.perf_counter() - t0:.1f} s")
        s.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


def backend_cpu_s(session) -> float | None:
    """CPU seconds the session's PostgreSQL backend has used (None if the server is not local)."""
    pid = session.execute(text("SELECT pg_backend_pid()")).scalar()
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pid_cpu_s(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_meter(db: Database):
    """CPU seconds used so far by this process and by every PostgreSQL backend on the benchmark
    database (the web app's pooled connections included): what a page costs, whatever the load."""
    with db.engine.connect() as conn:
        pids = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")).scalars()
        pids = list(pids)

    def read() -> tuple[float, float]:
        return time.process_time(), sum(pid_cpu_s(p) for p in pids)

    return read


def timed_page(label: str, fn, db: Database):
    """One run of a web request: wall time, the app's own CPU and the database backends' CPU."""
    fn()  # warm: connections opened, so the meter sees them
    read = cpu_meter(db)
    app0, db0 = read()
    t0 = time.perf_counter()
    result = fn()
    wall = (time.perf_counter() - t0) * 1000
    app1, db1 = read()
    print(
        f"{label}: {wall:.0f} ms wall, app CPU {(app1 - app0) * 1000:.0f} ms, database CPU {(db1 - db0) * 1000:.0f} ms"
    )
    return result


def timed(label: str, fn, repeat: int = 3, session=None):
    """Run `fn` `repeat` times; print the best and the first (cold) wall time in ms, and with a
    session the database backend's CPU time per run (the machine is shared: wall times wait
    for a core, CPU time does not); return the last result."""
    times, result = [], None
    cpu0 = backend_cpu_s(session) if session is not None else None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1000)
    cpu = ""
    if cpu0 is not None:
        cpu = f", database CPU {(backend_cpu_s(session) - cpu0) * 1000 / repeat:.0f} ms a run"
    print(f"{label}: best {min(times):.0f} ms (first {times[0]:.0f} ms){cpu}")
    return result


def page_client(url: str):
    """The web app on the benchmark database, with a manager's bearer token."""
    from core.accounts import User, create_user, issue_token
    from web import create_app

    logging.getLogger("dispatch.access").setLevel(logging.WARNING)  # one line per request otherwise
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "RATELIMIT_STORAGE_URI": "memory://",
                      "REDIS_URL": None, "APP_TIMEZONE": str(TZ)})  # fmt: skip
    db = app.extensions["database"]
    with db.session_scope() as s:
        user = s.scalar(select(User).where(User.username == "benchmanager"))
        if user is None:
            user = create_user(s, "benchmanager", "bench-pass-2026-long", "manager")
        token, _ = issue_token(s, user)
        s.commit()
    return app, app.test_client(), {"Authorization": f"Bearer {token}"}


def forget_figures(app) -> None:
    """Empty the KPI cache of the app's database: the next request computes its months."""
    try:
        from dispatch.kpis.cache import cache_for
    except ImportError:  # a checkout from before the cache (comparing before and after)
        return

    with app.extensions["database"].session_scope() as s:
        cache_for(s).clear()


def timed_cold_and_warm(label: str, app, fn, repeat: int = 3):
    """`fn` (a request) timed with the KPI cache emptied before each run, then warm."""

    def cold():
        forget_figures(app)
        return fn()

    timed(f"{label}, cold (months computed)", cold, repeat)
    return timed(f"{label}, warm (cached, nothing changed)", fn, repeat)


def demo(url: str, keep: bool) -> None:
    """The demo city's size: what a newcomer's first `make run` serves."""
    from dispatch.demo import database_is_empty, seed_demo
    from dispatch.kpis.report import current_month

    if not keep and url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
    ensure_database(url)
    upgrade(url)
    from web import create_app

    logging.getLogger("dispatch.access").setLevel(logging.WARNING)  # one line per request otherwise
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "RATELIMIT_STORAGE_URI": "memory://",
                      "REDIS_URL": None, "APP_TIMEZONE": str(TZ), "AUTO_ASSIGN_ON_INTAKE": False})  # fmt: skip
    db = app.extensions["database"]
    with db.session_scope() as s:
        if database_is_empty(s):
            t0 = time.perf_counter()
            print(seed_demo(s, timezone=TZ))
            print(f"demo loaded in {time.perf_counter() - t0:.1f} s")
    if url.startswith("postgres"):
        # What autovacuum does a minute after the load: without statistics PostgreSQL guesses
        # two rows a table and loops where it should hash (a cold page took 0.3 s, not 0.13).
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    db.dispose()
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    app, client, headers = page_client(url)
    month = current_month(TZ)
    previous = kpis.last_months(month, 2)[0]
    for m in (month, previous):
        response = timed_cold_and_warm(f"KPI page /kpis?month={m}", app,
                                       lambda m=m: client.get(f"/kpis?month={m}", headers=headers))  # fmt: skip
        assert response.status_code == 200, response.status_code
        response = timed_cold_and_warm(f"risk watch GET /api/kpis/risk-watch?month={m}", app,
                                       lambda m=m: client.get(f"/api/kpis/risk-watch?month={m}", headers=headers))  # fmt: skip
        assert response.status_code == 200, response.status_code
        print(f"  {len(response.get_json()['items'])} teams on the watch")
        response = timed_cold_and_warm(f"the page's pictures GET /api/kpis/pictures?month={m}", app,
                                       lambda m=m: client.get(f"/api/kpis/pictures?month={m}", headers=headers))  # fmt: skip
        assert response.status_code == 200, response.status_code
    # An event (a customer's survey would do; a note on the tracking link is the cheapest
    # real one): the next read computes the month again, once.
    from core.accounts import Actor
    from dispatch.events import record_event
    from dispatch.models import WorkOrder

    with app.extensions["database"].session_scope() as s:
        order = s.scalar(select(WorkOrder).order_by(WorkOrder.id.desc()).limit(1))
        record_event(s, order, "note", Actor(None, "dispatcher"), from_status=order.status, to_status=order.status)
        s.commit()
    timed(f"KPI page /kpis?month={month} after an event (first: recomputed)",
          lambda: client.get(f"/kpis?month={month}", headers=headers), 2)  # fmt: skip
    app.extensions["database"].dispose()


def open_months_and_reports(url: str, db: Database, month: str) -> None:
    """Issue 18's targets on the kept 1M history: the KPI page and the risk watch with three
    open months (`month` and the two before; the months before them closed, as a manager closes
    each month when it ends), then the month's XLSX and PDF reports (every technician)."""
    trend = kpis.last_months(month, 12)
    with db.session_scope() as s:
        s.execute(text("DELETE FROM kpi_snapshots"))
        s.commit()
        t0 = time.perf_counter()
        for earlier in trend[:-3]:
            kpis.close_month(s, earlier, TZ, confirm=True)
        print(f"closed {trend[0]} … {trend[-4]} in {time.perf_counter() - t0:.0f} s; open: {', '.join(trend[-3:])}")
        counted = s.scalar(
            select(func.count()).select_from(kpis.order_facts(*kpis.month_bounds(month, TZ), "postgresql").subquery())
        )
        print(f"month {month}: {counted:,} counted orders")
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    os.environ["PGOPTIONS"] = "-c max_parallel_workers_per_gather=0"  # all database work in metered backends
    app, client, headers = page_client(url)

    def cold(path: str):
        forget_figures(app)
        return client.get(path, headers=headers)

    for label, path in (
        (f"KPI page /kpis?month={month}", f"/kpis?month={month}"),
        (f"risk watch GET /api/kpis/risk-watch?month={month}", f"/api/kpis/risk-watch?month={month}"),
    ):
        response = timed_page(f"{label}, cold (3 open months computed)", lambda p=path: cold(p), db)
        assert response.status_code == 200, response.status_code
        timed(f"{label}, warm", lambda p=path: client.get(p, headers=headers), 3)
    t0 = time.perf_counter()
    cold(f"/kpis?month={month}")
    client.get(f"/api/kpis/risk-watch?month={month}", headers=headers)
    print(f"KPI page (cold) then the risk watch: {(time.perf_counter() - t0) * 1000:.0f} ms together")
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    for kind in ("xlsx", "pdf"):
        path = f"/api/kpis/report.{kind}?month={month}"
        response = timed_page(f"monthly report {path}, cold", lambda p=path: cold(p), db)
        assert response.status_code == 200, response.status_code
        print(f"  {len(response.data) / 1e6:.1f} MB")
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    app.extensions["database"].dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--technicians", type=int, default=2000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--url", help="default: postgresql://postgres@127.0.0.1:5432/bench_kpis, "
                        "with --demo sqlite:////tmp/bench_kpis_demo.db")  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="reuse the data of an earlier run")
    parser.add_argument(
        "--close-history", action="store_true", help="also close the 11 earlier months and time the page"
    )
    parser.add_argument("--demo", action="store_true", help="time /kpis and the risk watch on the demo city")
    parser.add_argument("--fill-only", action="store_true", help="generate the history and stop")
    parser.add_argument(
        "--report", action="store_true",
        help="on a kept history: 3 open months (earlier ones closed), time /kpis, the risk watch and the monthly "
        "XLSX and PDF reports of the last month",
    )  # fmt: skip
    args = parser.parse_args()
    if args.demo:
        demo(args.url or "sqlite:////tmp/bench_kpis_demo.db", args.keep)
        return
    url = normalise_url(args.url or "postgresql://postgres@127.0.0.1:5432/bench_kpis")
    ensure_database(url)
    upgrade(url)
    db = Database(url)
    end = datetime(2026, 11, 1, tzinfo=UTC)
    if args.report:
        open_months_and_reports(url, db, "2026-10")
        return
    if not args.keep:
        t0 = time.perf_counter()
        fill(db, args.orders, args.technicians, args.months, end)
        print(f"history: {args.orders:,} orders, {args.technicians} technicians, {args.months} months "
              f"({time.perf_counter() - t0:.0f} s to generate)")  # fmt: skip
        if args.fill_only:
            return
    else:
        with db.session_scope() as s:
            if s.scalar(select(func.count()).select_from(Customer)) < CUSTOMERS:
                spread_customers(s)
                s.commit()
            if s.scalar(text("SELECT count(*) FROM work_orders WHERE status = 'closed' AND completed_at IS NULL")):
                # A history generated before completion times were written: take them from the events.
                t0 = time.perf_counter()
                s.execute(
                    text("""UPDATE work_orders w SET completed_at = e.at FROM work_order_events e
                                  WHERE e.order_id = w.id AND e.kind = 'complete' AND w.completed_at IS NULL""")
                )
                s.commit()
                print(f"  completion times: {time.perf_counter() - t0:.1f} s")
                with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(text("VACUUM ANALYZE work_orders"))
                with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(text("VACUUM ANALYZE work_orders, customers"))
    month = "2026-06"
    with db.session_scope() as s:
        s.execute(text("DELETE FROM kpi_snapshots"))  # every month open again (a --keep run closed some)
        s.commit()
        counted = s.scalar(
            select(func.count()).select_from(kpis.order_facts(*kpis.month_bounds(month, TZ), "postgresql").subquery())
        )
        print(f"month {month}: {counted:,} counted orders")
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    for by in ("technician", "outlet", "all"):
        with db.session_scope() as s:
            rows = timed(f"month {month} by {by}", lambda by=by: kpis.monthly(s, month, by, TZ))
            print(f"  {len(rows)} rows")
    with db.session_scope() as s:
        s.execute(text("SET max_parallel_workers_per_gather = 0"))  # all the work in the one backend
        timed(f"month {month} by technician, one process", lambda: kpis.monthly(s, month, "technician", TZ), 3, s)
    with db.session_scope() as s:
        drill = timed("drill-down query (compliance, one technician)",
                      lambda: kpis.drill_down(s, month, "compliance", TZ, technician_id=7), 3, s)  # fmt: skip
        print(f"  {len(drill)} orders")
        drill = timed("drill-down query (compliance, one outlet)",
                      lambda: kpis.drill_down(s, month, "compliance", TZ, outlet_id=3), 3, s)  # fmt: skip
        print(f"  {len(drill)} orders")
        drill = timed("drill-down query (repeat repairs, one outlet)",
                      lambda: kpis.drill_down(s, month, "repeat_repairs", TZ, outlet_id=3), 3, s)  # fmt: skip
        print(f"  {len(drill)} repairs, {sum(not r['passed'] for r in drill)} came back within 30 days")
    with db.session_scope() as s:
        (overall,) = kpis.monthly(s, month, "all", TZ)
        print(f"month {month} overall: repeat rate {overall.repeat_rate} of {overall.repairs:,} completed repairs")
        months = kpis.last_months(month, 12)[:-1]
        s.execute(text("SET max_parallel_workers_per_gather = 0"))
        grouped = timed("trend of the 11 months before (one grouped query)",
                        lambda: kpis.overall_by_month(s, months, TZ), 1, s)  # fmt: skip
        each = timed("trend of the 11 months before (one query per month)",
                     lambda: {m: kpis.monthly(s, m, "all", TZ)[0] for m in months}, 1, s)  # fmt: skip
        assert grouped == each, "the grouped trend differs from the month-by-month figures"
    # The web app's connections without parallel workers: all of a request's database work is
    # then in the backends the CPU meter reads (a parallel worker's CPU would be missed).
    os.environ["PGOPTIONS"] = "-c max_parallel_workers_per_gather=0"
    app, client, headers = page_client(url)
    page = f"/kpis/orders?month={month}&kpi=compliance&technician_id=7"
    response = timed("drill-down page (HTML, one technician)", lambda: client.get(page, headers=headers))
    assert response.status_code == 200, response.status_code
    response = timed(f"API table GET /api/kpis?month={month}&by=technician",
                     lambda: client.get(f"/api/kpis?month={month}&by=technician", headers=headers))  # fmt: skip
    assert response.status_code == 200, response.status_code
    forget_figures(app)
    response = timed_page(
        "KPI page (every month open; timed after one warm-up request, so its months are cached)",
        lambda: client.get(f"/kpis?month={month}", headers=headers), db,
    )  # fmt: skip
    assert response.status_code == 200, response.status_code
    response = timed_cold_and_warm(f"risk watch GET /api/kpis/risk-watch?month={month}", app,
                                   lambda: client.get(f"/api/kpis/risk-watch?month={month}", headers=headers), 1)  # fmt: skip
    assert response.status_code == 200, response.status_code
    timed_cold_and_warm(f"KPI page /kpis?month={month}", app,
                        lambda: client.get(f"/kpis?month={month}", headers=headers), 1)  # fmt: skip
    print(f"  {len(response.get_json()['items'])} teams on the watch")
    with db.session_scope() as s:
        t0 = time.perf_counter()
        count = kpis.close_month(s, month, TZ, confirm=True)
        print(f"month-close snapshot of {month}: {count} rows in {time.perf_counter() - t0:.1f} s")
    timed("API table of the closed month (snapshot)",
          lambda: client.get(f"/api/kpis?month={month}&by=technician", headers=headers))  # fmt: skip
    if args.close_history:
        with db.session_scope() as s:
            t0 = time.perf_counter()
            for earlier in kpis.last_months(month, 12)[:-1]:
                kpis.close_month(s, earlier, TZ, confirm=True)
            print(f"closed the 11 months before {month} in {time.perf_counter() - t0:.0f} s")
        next_month = kpis.last_months("2026-07", 1)[0]
        response = timed_page(f"KPI page of {next_month} (earlier months closed: trend from snapshots)",
                              lambda: client.get(f"/kpis?month={next_month}", headers=headers), db)  # fmt: skip
        assert response.status_code == 200, response.status_code
    app.extensions["database"].dispose()
    db.dispose()


if __name__ == "__main__":
    main()
