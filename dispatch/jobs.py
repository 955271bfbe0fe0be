"""Scheduled job bodies: plain functions over a Database, run by the one scheduler process."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import select

from core.accounts import Actor
from core.db import Database, unit_of_work, utcnow
from core.leases import SingletonLock
from dispatch.notify import NotifySettings, deliver, senders_from
from dispatch.photos import LocalStore, S3Store
from dispatch.planning import PlanningSettings, apply_proposal, propose
from dispatch.privacy import anonymize_stale_customers
from dispatch.sla.sweep import sweep
from technicians.models import Outlet

log = logging.getLogger(__name__)
SCHEDULER_LOCK = "scheduler"


def sla_sweep(database: Database, now: datetime | None = None, notify: NotifySettings | None = None) -> dict[str, int]:
    with database.session_scope() as session:
        counts = sweep(session, now or utcnow(), notify)
    if any(counts.values()):
        log.info("SLA sweep: %s", counts)
    return counts


def deliver_notices(database: Database, notify: NotifySettings, now: datetime | None = None) -> dict[str, int]:
    senders = senders_from(notify)
    with database.session_scope() as session:
        counts = deliver(session, senders, now or utcnow())
    if any(counts.values()):
        log.info("notifications: %s", counts)
    return counts


def auto_dispatch(database: Database, planning: PlanningSettings, now: datetime | None = None) -> dict[int, int]:
    """For each outlet that opted in: re-optimise its open, unstarted orders and apply the
    plan at once, as the system (a dispatcher's manual choices are kept)."""
    now = now or utcnow()
    applied: dict[int, int] = {}
    with database.session_scope() as session:
        outlet_ids = list(
            session.scalars(select(Outlet.id).where(Outlet.active.is_(True), Outlet.auto_dispatch.is_(True)))
        )
        for outlet_id in outlet_ids:
            proposal = propose(session, planning, Actor.system(), outlet_id=outlet_id, now=now)
            if not proposal.payload["improves"]:  # no better plan found: nothing to apply
                with unit_of_work(session):
                    proposal.status = "superseded"
                continue
            result = apply_proposal(session, proposal.id, planning, Actor.system(), now=now)
            applied[outlet_id] = len(result.applied)
    if applied:
        log.info("auto-dispatch: %s", applied)
    return applied


def replan_horizon(database: Database, planning: PlanningSettings, now: datetime | None = None) -> int:
    """Each morning: the days after today were planned provisionally, with yesterday's
    knowledge (leave, new orders, who finished what); re-plan the whole horizon (today's open
    orders and the days ahead, across outlets as the instant path places them) and apply it as
    the system. A dispatcher's pins and accepted or started work stay where they are (the plan
    may not move them, and applying skips what changed since). Returns the orders moved."""
    now = now or utcnow()
    with database.session_scope() as session:
        proposal = propose(session, planning, Actor.system(), now=now)
        # Applied even without moves between technicians: orders change days and ETAs.
        result = apply_proposal(session, proposal.id, planning, Actor.system(), now=now)
    log.info("horizon re-planned: %s orders moved, %s skipped", len(result.applied), len(result.skipped))
    return len(result.applied)


class GuardedJobs:
    """Runs each job only while this process holds the scheduler lock, so a second scheduler
    started by mistake stays idle, and takes over within one tick if the first one dies."""

    def __init__(
        self,
        database: Database,
        interval_s: float,
        clock: Callable[[], datetime] = utcnow,
        notify: NotifySettings | None = None,
        planning: PlanningSettings | None = None,
        auto_dispatch_every_s: float = 900,
        retention_months: int = 0,
        photo_store: LocalStore | S3Store | None = None,
        forecast: Callable[[datetime], object] | None = None,
        forecast_every_s: float = 300,
    ) -> None:
        if retention_months > 0 and photo_store is None:
            raise ValueError("retention needs the photo store: anonymizing a customer rewrites their photos")
        self.database = database
        self.clock = clock
        self.notify = notify or NotifySettings()
        self.planning = planning
        self.auto_dispatch_every_s = auto_dispatch_every_s
        self.retention_months = retention_months
        self.photo_store = photo_store
        # The miss forecast (simulation/forecast.py `refresh`, a layer above: handed in by web/).
        self.forecast = forecast
        self.forecast_every_s = forecast_every_s
        self.lock = SingletonLock(database, SCHEDULER_LOCK, ttl=timedelta(seconds=max(3 * interval_s, 5)))

    def tick(self) -> dict[str, int] | None:
        """One round: None when another process holds the lock."""
        if not self.lock.acquire(self.clock()):
            return None
        counts = sla_sweep(self.database, self.clock(), self.notify)
        deliver_notices(self.database, self.notify, self.clock())
        return counts

    def dispatch_tick(self) -> dict[int, int] | None:
        if self.planning is None or not self.lock.acquire(self.clock()):
            return None
        return auto_dispatch(self.database, self.planning, self.clock())

    def replan_tick(self) -> int | None:
        if self.planning is None or not self.lock.acquire(self.clock()):
            return None
        return replan_horizon(self.database, self.planning, self.clock())

    def forecast_tick(self) -> object | None:
        if self.forecast is None or not self.lock.acquire(self.clock()):
            return None
        return self.forecast(self.clock())

    def retention_tick(self) -> int | None:
        """Anonymize customers past the retention period, a batch at a time until none is left."""
        if self.retention_months <= 0 or not self.lock.acquire(self.clock()):
            return None
        total = 0
        while True:
            with self.database.session_scope() as session:
                result = anonymize_stale_customers(session, self.retention_months, self.clock(), store=self.photo_store)
            total += result.customers
            if result.customers == 0:
                return total

    def install(self, scheduler: BaseScheduler, interval_s: float) -> None:
        scheduler.add_job(
            self.tick, "interval", seconds=interval_s, id="sla_sweep", max_instances=1, coalesce=True,
            next_run_time=utcnow(),
        )  # fmt: skip
        if self.retention_months > 0:
            scheduler.add_job(
                self.retention_tick, "interval", hours=24, id="retention", max_instances=1, coalesce=True,
            )  # fmt: skip
        if self.planning is not None:
            scheduler.add_job(
                self.dispatch_tick, "interval", seconds=self.auto_dispatch_every_s, id="auto_dispatch",
                max_instances=1, coalesce=True,
            )  # fmt: skip
        if self.forecast is not None:
            scheduler.add_job(
                self.forecast_tick, "interval", seconds=self.forecast_every_s, id="forecast", max_instances=1,
                coalesce=True, next_run_time=utcnow(),
            )  # fmt: skip
        if self.planning is not None and self.planning.horizon_days > 1:
            at = self.planning.replan_at
            scheduler.add_job(
                self.replan_tick, "cron", hour=at.hour, minute=at.minute, timezone=self.planning.timezone,
                id="replan_horizon", max_instances=1, coalesce=True,
            )  # fmt: skip
