"""Re-optimisation over a planning horizon of days against the one-day planner, same orders.

    python -m bench.horizon --technicians 100 --orders 1500 --time-limit 30 [--url URL]

Builds a city (`bench.instant.build_city`: 09:00–18:00 shifts, 8 orders a day each, every
order new and unassigned, due within 24 hours) in a fresh database, at 08:00 local time, and
runs `planning.propose` twice on the same orders: with today alone (`--horizon 1`'s planner)
and with a horizon of `--days` days (a vehicle per technician-day). Prints the wall time
against the time limit (and its parts: reading the horizon, the solver's share of the limit),
orders served, km and lateness of each. A script that prints figures.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import datetime
from datetime import time as dtime
from pathlib import Path

from bench.instant import TZ, build_city
from core.accounts import Actor
from core.db import Database, normalise_url
from core.migrate import upgrade
from dispatch import planning
from dispatch.models import WorkOrder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--technicians", type=int, default=100)
    parser.add_argument("--orders", type=int, default=1500)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--time-limit", type=float, default=30.0)
    parser.add_argument("--url", help="an empty database to use instead of a temporary SQLite file")
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory()
    url = normalise_url(args.url) if args.url else f"sqlite:///{Path(tmp.name) / 'bench.db'}"
    upgrade(url)
    db = Database(url)
    today = datetime.now(TZ).date()
    now = datetime.combine(today, dtime(8, 0), tzinfo=TZ)
    build_city(db, args.technicians, args.orders, now, shift=(dtime(9), dtime(18)), capacity=8, assigned=False)
    print(f"city: {args.technicians} technicians (09:00–18:00, 8 orders a day), {args.orders} new orders due "
          f"within 24 h, at 08:00; time limit {args.time_limit:g} s; load {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"load {os.getloadavg()}")
    print(f"{'planner':<14}{'wall s':>8}{'read s':>8}{'search s':>10}{'served':>8}{'unserved':>10}{'km':>10}"
          f"{'late orders':>13}{'late h':>9}")  # fmt: skip
    for days in (1, args.days):
        settings = planning.PlanningSettings(timezone=TZ, horizon_days=days, time_limit_s=args.time_limit)
        with db.session_scope() as s:
            started = time.perf_counter()
            proposal = planning.propose(s, settings, Actor.system(), now=now)
            wall = time.perf_counter() - started
            payload = proposal.payload
        served = sum(len(r) for r in payload["routes"].values())
        late_h = _late_hours(payload, db)
        timing = payload["timing"]
        print(f"{f'{days} day(s)':<14}{wall:>8.1f}{timing['read_s']:>8.2f}{timing['search_s']:>10.1f}{served:>8}"
              f"{len(payload['unserved']):>10}"
              f"{payload['after']['km']:>10.0f}{payload['after']['late_orders']:>13}{late_h:>9.0f}")  # fmt: skip
    db.dispose()
    tmp.cleanup()


def _late_hours(payload: dict, db: Database) -> float:
    """Hours past the due time summed over the planned orders (from the plan's ETAs)."""
    with db.session_scope() as s:
        due = dict(s.query(WorkOrder.id, WorkOrder.due_at).all())
    late = 0.0
    for oid, eta in payload["etas"].items():
        delta = (datetime.fromisoformat(eta) - due[int(oid)]).total_seconds()
        late += max(0.0, delta) / 3600
    return late


if __name__ == "__main__":
    main()
