"""Appointment slots the plan can keep: the next days' windows (`PlanningSettings.slot_minutes`,
2 hours by default) in which some technician-day of the horizon can take the order, ranked by
what each costs the plan (the insertion's extra metres plus its lateness, priced as the
solver prices it), and booking one, re-checked under the technician-day's lock.

A slot is offered only when the plan can honour it: a technician with the skill works that day
(shift, work days, leave), has room left on that day's route, reaches the order inside the
window and starts it before the order is due. Booking one makes it the order's hard window
(`appointment_start`, `appointment_end`) and places the order in the same transaction as the
instant path does (`place_new_order` with a window): two customers asking for the last place
of a day queue on the technician's day, and the second one gets `SlotTaken` with a fresh list.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from core.db import utcnow
from core.errors import Conflict, NotFound, ValidationFailed
from dispatch.planning.day import DEFAULT_SERVICE_MINUTES, Day, PlanningSettings, load_day
from dispatch.planning.instant import Suggestion, place_new_order
from dispatch.planning.live_day import day_cache
from routing import InsertionIndex, Job, NoInsertion
from routing.evaluate import evaluate
from routing.problem import LATE_COST_PER_S

# How a slot's cost compares with the cheapest one (metres of extra driving, lateness priced):
# within 1 km of it is "best", within 5 km "good", anything dearer "possible".
BEST_WITHIN_M = 1_000
GOOD_WITHIN_M = 5_000


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime
    cost_m: int  # what the plan pays: extra metres driven plus lateness in metres
    label: str  # best, good, possible
    technician_id: int  # who would come (not shown to a customer)


class SlotTaken(Conflict):
    """The slot asked for cannot be kept any more (another booking took the last place, or the
    day changed); `slots` is the fresh list."""

    def __init__(self, slots: list[Slot]) -> None:
        super().__init__("this slot is no longer available; please pick another")
        self.slots = slots


def windows(day: Day, settings: PlanningSettings, skill: str) -> list[tuple[int, int]]:
    """Candidate windows (seconds from the day's t0): for each technician-day with the skill,
    its shift cut into `slot_minutes` from the shift's start, each wholly inside the shift and
    not begun yet. Technicians of one outlet share their shift hours, so their windows coincide."""
    step = settings.slot_minutes * 60
    found: set[tuple[int, int]] = set()
    for tech in day.technicians:
        if skill not in tech.skills:
            continue
        start = day.shift_starts.get(tech.id, tech.shift_start)
        while start + step <= tech.shift_end:
            if start >= 0:
                found.add((start, start + step))
            start += step
    return sorted(found)


def rank(day: Day, index: InsertionIndex, job: Job, due_at: datetime | None, settings: PlanningSettings) -> list[Slot]:
    """The slots the plan can keep for `job`, cheapest first, each labelled."""
    offered: list[tuple[int, int, int, Any]] = []
    for start, end in windows(day, settings, job.skill):
        found = index.best(replace(job, window=(start, end), locked_to=None, started=False))
        if isinstance(found, NoInsertion):
            continue
        begins = max(found.arrival_s, start)
        if due_at is not None and day.at(begins) > due_at:
            continue  # the order would be late: a promise the 24-hour rule cannot keep
        offered.append((found.extra_distance_m + LATE_COST_PER_S * found.late_s, start, end, found.tech_id))
    offered.sort()
    if not offered:
        return []
    cheapest = offered[0][0]
    return [
        Slot(_minute(day.at(s)), _minute(day.at(e)), int(cost), _label(cost - cheapest), _tech(v))
        for cost, s, e, v in offered
    ]


def _minute(at: datetime) -> datetime:
    """On the minute: the day's t0 is now, to the microsecond, and a slot is 09:00, not 08:59:59.53."""
    return (at + timedelta(seconds=30)).replace(second=0, microsecond=0)


def _label(dearer_m: float) -> str:
    return "best" if dearer_m <= BEST_WITHIN_M else "good" if dearer_m <= GOOD_WITHIN_M else "possible"


def _tech(vehicle_id: Any) -> int:
    return vehicle_id[0] if isinstance(vehicle_id, tuple) else vehicle_id


def slots_for_order(
    session: Session, order_id: int, settings: PlanningSettings, now: datetime | None = None
) -> list[Slot]:
    """The slots an existing open, located order could be booked in (from this process's
    in-memory day of the horizon). Ends the read transaction."""
    now = now or utcnow()
    cache = day_cache(session)
    try:
        with cache.lock:
            live = cache.current(session, settings, now)
            job = live.day.jobs.get(order_id)
            row = live.day.orders.get(order_id)
            if row is None:
                raise NotFound(f"work order {order_id} is not open")
            if job is None:
                return []  # no location yet: nothing can be promised
            return rank(live.day, live.index, job, row.due_at, settings)
    finally:
        session.rollback()  # a read: end the transaction (SQLite's writers wait for it)


def slots_for_draft(
    session: Session,
    settings: PlanningSettings,
    *,
    lat: float,
    lon: float,
    skill: str,
    category: str = "repair",
    priority: str = "normal",
    due_at: datetime | None = None,
    now: datetime | None = None,
) -> list[Slot]:
    """The slots a request not yet sent could be booked in: the same list an order with that
    place, skill and category would get."""
    now = now or utcnow()
    if category not in DEFAULT_SERVICE_MINUTES and category not in settings.service_minutes:
        raise ValidationFailed({"category": f"unknown issue category {category!r}"})
    cache = day_cache(session)
    try:
        with cache.lock:
            live = cache.current(session, settings, now)
            job = Job(
                id=-1,
                location=(lat, lon),
                skill=skill,
                service_s=60 * settings.service_minutes.get(category, 45),
                due=None if due_at is None else max(0, int((due_at - live.day.t0).total_seconds())),
                priority=priority,
            )
            return rank(live.day, live.index, job, due_at, settings)
    finally:
        session.rollback()


def book(
    session: Session, order_id: int, start: datetime, settings: PlanningSettings, now: datetime | None = None
) -> Suggestion:
    """Book the slot beginning at `start` for a new order: it becomes the order's hard window
    and the order takes its place on a technician's day, both in one transaction (the instant
    path's, under the technician-day's lock). Raises `SlotTaken` with the fresh list when the
    slot is not (or no longer) on offer. Commits."""
    now = now or utcnow()
    offered = slots_for_order(session, order_id, settings, now)
    chosen = next((s for s in offered if s.start == start), None)
    if chosen is None:
        raise SlotTaken(offered)
    placed = place_new_order(session, order_id, settings, now, window=(chosen.start, chosen.end))
    if isinstance(placed, str):
        raise SlotTaken(slots_for_order(session, order_id, settings, now))
    return placed


def fresh_day(session: Session, settings: PlanningSettings, now: datetime) -> tuple[Day, InsertionIndex]:
    """The horizon read whole from the database (benchmarks compare it with the cached day)."""
    day = load_day(session, settings, now)
    return day, InsertionIndex(day.technicians, evaluate(day.technicians, day.jobs, day.routes), day.jobs)
