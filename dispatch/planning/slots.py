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

An order placed already (assigned, not accepted nor pinned) may change its slot: its slots are
ranked with the order taken out of its route, and booking one moves it to the place that keeps
the new window, its old and new technician-days written in one transaction (`rebook`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.accounts import Actor
from core.db import unit_of_work, utcnow
from core.errors import Conflict, NotFound, ValidationFailed
from dispatch.lifecycle import Status
from dispatch.models import WorkOrder
from dispatch.moves import apply_move
from dispatch.planning.day import (
    DEFAULT_SERVICE_MINUTES,
    PLACEMENT_ATTEMPTS,
    Day,
    PlanningSettings,
    load_day,
    offset_of,
    tech_of,
)
from dispatch.planning.instant import Suggestion, place_new_order, suggestion_from
from dispatch.planning.live_day import LiveDay, day_cache
from dispatch.planning.routes import holds, lock_days, write_route
from routing import InsertionIndex, Job, NoInsertion, Plan
from routing.evaluate import evaluate, time_route
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
    in-memory day of the horizon): a new order's, or a placed one's that may still move
    (ranked without its current place). None for an order its technician accepted, a pinned
    one or work under way: its time is agreed. Ends the read transaction."""
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
            if row.technician_id is None:
                return rank(live.day, live.index, job, row.due_at, settings)
            if not may_change_slot(row):
                return []
            day, index = _without(live, order_id)
            return rank(day, index, job, row.due_at, settings)
    finally:
        session.rollback()  # a read: end the transaction (SQLite's writers wait for it)


def may_change_slot(row: Any) -> bool:
    """Whether a placed order's time may still change by a slot: assigned by the plan, not yet
    accepted by its technician nor pinned by a dispatcher."""
    return row.status == Status.ASSIGNED and not row.assignment_locked


def _without(live: LiveDay, order_id: int) -> tuple[Day, InsertionIndex]:
    """The day with the order taken off its route (the other routes as they are) and its
    insertion index: where else it could go."""
    day = live.day
    routes = {v: [j for j in r if j != order_id] for v, r in day.routes.items()}
    plan = Plan(dict(live.plan.routes))
    techs = {t.id: t for t in day.technicians}
    for v, route in routes.items():
        if len(route) != len(day.routes[v]):
            plan.routes[v] = time_route(techs[v], day.jobs, route)[0]
    return replace(day, routes=routes), InsertionIndex(day.technicians, plan, day.jobs)


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
    order = session.get(WorkOrder, order_id)
    if order is not None and order.technician_id is not None:
        session.rollback()
        return rebook(session, order_id, chosen, settings, now)
    placed = place_new_order(session, order_id, settings, now, window=(chosen.start, chosen.end))
    if isinstance(placed, str):
        raise SlotTaken(slots_for_order(session, order_id, settings, now))
    return placed


def fresh_day(session: Session, settings: PlanningSettings, now: datetime) -> tuple[Day, InsertionIndex]:
    """The horizon read whole from the database (benchmarks compare it with the cached day)."""
    day = load_day(session, settings, now)
    return day, InsertionIndex(day.technicians, evaluate(day.technicians, day.jobs, day.routes), day.jobs)


def rebook(session: Session, order_id: int, chosen: Slot, settings: PlanningSettings, now: datetime) -> Suggestion:
    """Move a placed order to the slot `chosen` (from its list): the window becomes its
    appointment and the order goes to the cheapest place that keeps it, off its old place,
    under both technician-days' locks, in one transaction. Raises `SlotTaken` with the fresh
    list when the slot cannot be kept any more. Commits."""
    cache = day_cache(session)
    for _attempt in range(PLACEMENT_ATTEMPTS):
        try:
            with cache.lock:
                done = _rebook_once(session, cache, order_id, chosen, settings, now)
        except IntegrityError:
            session.rollback()  # another writer of one of these days got there first
            cache.forget()
            continue
        if done is not None:
            return done
    raise SlotTaken(slots_for_order(session, order_id, settings, now))


def _rebook_once(
    session: Session, cache: Any, order_id: int, chosen: Slot, settings: PlanningSettings, now: datetime
) -> Suggestion | None:
    live = cache.current(session, settings, now)
    row, job = live.day.orders.get(order_id), live.day.jobs.get(order_id)
    if row is None or job is None or not may_change_slot(row):
        session.rollback()
        raise SlotTaken([])
    day, index = _without(live, order_id)
    window = (int((chosen.start - day.t0).total_seconds()), int((chosen.end - day.t0).total_seconds()))
    job = replace(job, window=(max(0, window[0]), window[1]), locked_to=None, started=False)
    found = index.best(job)
    if isinstance(found, NoInsertion):
        session.rollback()
        raise SlotTaken(rank(day, index, job, row.due_at, settings))
    old_v, new_v = live.day.vehicle_of_order(order_id), found.tech_id
    old_tech, new_tech = row.technician_id, tech_of(new_v)
    with unit_of_work(session):
        lock_days(session, sorted({old_tech, new_tech}))
        for tech_id, v in ((old_tech, old_v), (new_tech, new_v)):
            # The cached days must be what the database holds under the locks, or read again.
            if v is not None and not holds(session, live.day, tech_id, live.day.routes.get(v, []), vehicle_id=v):
                cache.forget()
                session.rollback()
                return None
        order = session.get(WorkOrder, order_id)
        if order is None or order.version != row.version:
            cache.forget()
            session.rollback()
            return None
        order.appointment_start, order.appointment_end = chosen.start, chosen.end
        placed = suggestion_from(day, found, job, row.due_at)
        apply_move(
            session, order, "assign", Actor.system(), technician_id=new_tech,
            timezone=settings.timezone if offset_of(new_v) == 0 else None, now=now,
            data={"by": "slot", "eta": placed.eta.isoformat(), "slot": [chosen.start.isoformat(), chosen.end.isoformat()]},
        )  # fmt: skip
        jobs = {**day.jobs, order_id: job}
        techs = {t.id: t for t in day.technicians}
        if old_v is not None and old_tech != new_tech:
            left = day.routes[old_v]
            write_route(session, day, old_tech, left, Plan({old_v: time_route(techs[old_v], jobs, left)[0]}), old_v)
        route = list(day.routes[new_v])
        route.insert(found.position, order_id)
        write_route(session, day, new_tech, route, Plan({new_v: time_route(techs[new_v], jobs, route)[0]}), new_v)
    return placed
