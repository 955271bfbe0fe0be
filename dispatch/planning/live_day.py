"""Today's routes kept in memory between new orders, brought up to date from the event log.

Reading the whole day (200 technicians, 2,000 open orders) costs far more than choosing a
slot, and nearly all of it is unchanged since the previous order. So each process keeps the
day it read last, with its evaluated routes and its insertion index, and on every new order
asks the event log what happened since (`seq` > the last one it applied). Only the orders
named there are read again, and only their technicians' routes are re-timed and re-indexed.

The day is read afresh when the network changed (technicians, skills, leaves, outlets: the
`network` counter that technicians.models advances on every such change), when it is older
than `max_age_s` (shifts begin and end, positions move), when too many events arrived to
patch, or when the local date changed. A stale day can only make a slot choice less good, never a wrong write: the
placement still checks the order's version, and the technician's stored route is compared
with the cached one before it is replaced (`dispatch.planning.instant`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db import Counter
from dispatch.lifecycle import OPEN
from dispatch.models import RouteStop, WorkOrder, WorkOrderEvent
from dispatch.planning.day import ORDER_COLUMNS, Day, job_from_row, load_day, place_on_vehicles, tech_of
from routing import InsertionIndex, Plan
from routing.evaluate import evaluate, time_route
from technicians.models import NETWORK_COUNTER

OPEN_VALUES = frozenset(s.value for s in OPEN)


@dataclass
class LiveDay:
    """One process's copy of today: the `Day` of `dispatch.planning.day` plus what is derived."""

    day: Day
    plan: Plan
    index: InsertionIndex
    seq: int
    built_at: datetime
    anchor_at: datetime | None  # when event `seq` happened: tells this database from another
    network: int  # technicians/outlets/skills/leaves version (technicians.models)


class DayCache:
    def __init__(self, settings: Any = None, max_age_s: float = 60.0, max_events: int = 500) -> None:
        self.settings = settings
        self.max_age_s = max_age_s
        self.max_events = max_events
        self.live: LiveDay | None = None
        self.lock = threading.Lock()
        self.rebuilds = 0
        self.patches = 0

    def current(self, session: Session, settings: Any, now: datetime) -> LiveDay:
        """Today as of the latest committed event. Call with `self.lock` held."""
        latest = session.scalar(select(func.max(WorkOrderEvent.seq))) or 0
        network = _network_version(session)
        live = self.live
        if (
            live is None
            or settings != self.settings
            or network != live.network
            or self._stale(session, live, now, latest)
        ):
            self.settings = settings
            return self._rebuild(session, now, latest, network)
        if latest > live.seq:
            self._patch(session, live, latest)
        return live

    def _stale(self, session: Session, live: LiveDay, now: datetime, latest: int) -> bool:
        tz = self.settings.timezone
        if (
            abs((now - live.built_at).total_seconds()) > self.max_age_s
            or now.astimezone(tz).date() != live.built_at.astimezone(tz).date()
            or not live.seq <= latest <= live.seq + self.max_events
        ):
            return True
        # The event we last applied must still be there as we saw it: otherwise this is
        # another database (a restore, or a test's fresh schema) that reached the same seq.
        return _event_at(session, live.seq) != live.anchor_at

    def forget(self) -> None:
        self.live = None

    def _rebuild(self, session: Session, now: datetime, latest: int, network: int) -> LiveDay:
        day = load_day(session, self.settings, now)
        plan = evaluate(day.technicians, day.jobs, day.routes)
        index = InsertionIndex(day.technicians, plan, day.jobs)
        self.live = LiveDay(day, plan, index, latest, now, _event_at(session, latest), network)
        self.rebuilds += 1
        return self.live

    def _patch(self, session: Session, live: LiveDay, latest: int) -> None:
        """Apply the events after `live.seq`: re-read their orders and re-time the routes
        of every technician they left or joined."""
        day = live.day
        changed = set(
            session.scalars(
                select(WorkOrderEvent.order_id).where(WorkOrderEvent.seq > live.seq, WorkOrderEvent.seq <= latest)
            )
        )
        touched: set[int] = set()
        vehicles = {}
        for v in day.routes:
            vehicles.setdefault(tech_of(v), []).append(v)
        for order_id in changed:
            old = day.orders.pop(order_id, None)
            day.jobs.pop(order_id, None)
            day.unplannable.pop(order_id, None)
            if old is not None and old.technician_id in vehicles:
                touched.add(old.technician_id)
        for row in session.execute(select(*ORDER_COLUMNS).where(WorkOrder.id.in_(changed))):
            if row.status not in OPEN_VALUES:
                continue
            day.orders[row.id] = row
            if row.lat is None or row.lon is None:
                day.unplannable[row.id] = "no_location"
                continue
            day.jobs[row.id] = job_from_row(row, self.settings, day.t0)
            if row.technician_id in vehicles:
                touched.add(row.technician_id)
        if touched:
            planned = {
                r.order_id: (r.seq, r.eta)
                for r in session.execute(
                    select(RouteStop.order_id, RouteStop.seq, RouteStop.eta).where(RouteStop.technician_id.in_(touched))
                )
            }
            techs = {t.id: t for t in day.technicians}
            mine = []
            for tech_id in touched:
                for v in vehicles[tech_id]:
                    day.routes[v] = []
            for o in day.orders.values():
                if o.technician_id in touched and o.id in day.jobs:
                    day.jobs[o.id] = job_from_row(o, self.settings, day.t0)  # its lock follows its new day
                    mine.append(o)
            place_on_vehicles(day, mine, planned, self.settings)
            changes = []
            for tech_id in touched:
                for v in vehicles[tech_id]:
                    stops, _ = time_route(techs[v], day.jobs, day.routes[v])
                    live.plan.routes[v] = stops
                    changes.append((techs[v], stops))
            live.index.update(changes, day.jobs)
        live.seq = latest
        live.anchor_at = _event_at(session, latest)
        self.patches += 1


def _network_version(session: Session) -> int:
    return session.scalar(select(Counter.value).where(Counter.name == NETWORK_COUNTER)) or 0


def _event_at(session: Session, seq: int) -> datetime | None:
    return session.scalar(select(WorkOrderEvent.at).where(WorkOrderEvent.seq == seq)) if seq else None


_caches: dict[Any, DayCache] = {}
_caches_lock = threading.Lock()


def day_cache(session: Session) -> DayCache:
    """This process's cache for the database behind `session`."""
    key = id(session.get_bind())
    with _caches_lock:
        cache = _caches.get(key)
        if cache is None:
            cache = _caches[key] = DayCache()
        return cache
