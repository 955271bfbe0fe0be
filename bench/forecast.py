"""Today's miss forecast (issue 21 item 6) at city size: one scheduler refresh and one what-if.

    python -m bench.forecast --technicians 200 --orders 2000 --seeds 50 [--url URL]

Builds a city (`bench.instant.build_city`: 08:30–17:30 shifts, orders round each technician's
home, due within 24 hours, each on its technician's route; every tenth order then taken off
its route, unassigned) in a fresh database at 08:00 local time, and times, wall and CPU:

- `refresh`: what the scheduler runs every FORECAST_EVERY_MINUTES (read the live state with
  `load_day`, simulate every seed, replace the stored forecast), over a 3-day horizon;
- `core`: the simulation alone (`routing.forecast.forecast` on the day already read);
- `what-if`: one reassignment, as `POST /api/forecast/what-if` computes it.

The target: well within one scheduler interval (5 minutes); aim for seconds. Prints the load
(`uptime`) beside the figures. A script that prints figures.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from datetime import datetime
from datetime import time as dtime
from pathlib import Path

from sqlalchemy import delete, func, select, update

from bench.instant import TZ, build_city
from core.db import Database, normalise_url
from core.migrate import upgrade
from dispatch.models import OrderForecast, RouteStop, WorkOrder
from dispatch.planning import PlanningSettings, load_day
from routing.forecast import forecast as simulate
from simulation import forecast


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--technicians", type=int, default=200)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--days", type=int, default=3, help="the planning horizon")
    parser.add_argument("--url", help="an empty database to use instead of a temporary SQLite file")
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory()
    url = normalise_url(args.url) if args.url else f"sqlite:///{Path(tmp.name) / 'bench.db'}"
    upgrade(url)
    db = Database(url)
    now = datetime.combine(datetime.now(TZ).date(), dtime(8, 0), tzinfo=TZ)
    build_city(db, args.technicians, args.orders, now, shift=(dtime(8, 30), dtime(17, 30)), capacity=12)
    with db.session_scope() as s:
        loose = list(s.scalars(select(WorkOrder.id).where(WorkOrder.id % 10 == 0)))
        s.execute(delete(RouteStop).where(RouteStop.order_id.in_(loose)))
        s.execute(update(WorkOrder).where(WorkOrder.id.in_(loose)).values(status="new", technician_id=None))
        s.commit()
    planning = PlanningSettings(timezone=TZ, horizon_days=args.days)
    settings = forecast.ForecastSettings(seeds=args.seeds)
    print(f"city: {args.technicians} technicians (08:30–17:30, {args.days}-day horizon), {args.orders} open orders "
          f"({len(loose)} unassigned), {args.seeds} seeds, at 08:00; {'PostgreSQL' if args.url else 'SQLite'}")  # fmt: skip

    count, wall, cpu = timed(lambda: forecast.refresh(db, planning, settings, now))
    print(f"refresh   wall {wall:6.2f} s  cpu {cpu:6.2f} s  ({count} orders forecast and stored)")
    with db.session_scope() as s:
        day = load_day(s, planning, now)
        p = dict(s.execute(select(OrderForecast.order_id, OrderForecast.p_miss)).all())
        likely = s.scalar(select(func.count()).select_from(OrderForecast).where(OrderForecast.p_miss >= 0.5))
    noise = forecast.lab_noise()
    _, wall, cpu = timed(lambda: simulate(day.technicians, day.jobs, day.routes, noise, seeds=args.seeds))
    print(f"core      wall {wall:6.2f} s  cpu {cpu:6.2f} s  ({len(day.technicians)} technician-days)")
    order_id = max(p, key=p.get)
    target = next(t for t in day.technicians if day.jobs[order_id].skill in t.skills)
    move = forecast.Reassign(order_id, target.id if not isinstance(target.id, tuple) else target.id[0])
    with db.session_scope() as s:
        (_, after, touched), wall, cpu = timed(lambda: forecast.what_if(s, planning, settings, move, now))
    print(f"what-if   wall {wall:6.2f} s  cpu {cpu:6.2f} s  ({len(touched)} orders touched)")
    print(f"forecast: mean miss chance {sum(p.values()) / max(1, len(p)):.1%}, {likely} orders at 50 % or more")
    print(
        "uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(), f"(cpus {os.cpu_count()})"
    )
    db.dispose()


if __name__ == "__main__":
    main()
