"""The instant path: a new order goes to the cheapest feasible place across everyone's current
route (skill, shift, capacity, windows; lateness priced); and the dispatcher's suggestions,
from the same insertion index."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.accounts import Actor
from core.db import unit_of_work, utcnow
from core.errors import NotFound, StaleWrite
from dispatch.lifecycle import Status
from dispatch.models import WorkOrder
from dispatch.moves import apply_move
from dispatch.planning.day import PLACEMENT_ATTEMPTS, Day, PlanningSettings, load_day, offset_of, tech_of
from dispatch.planning.live_day import DayCache, day_cache
from dispatch.planning.routes import holds, lock_day, write_route
from routing import InsertionIndex, Job, NoInsertion, Plan
from routing.evaluate import evaluate, time_route


@dataclass(frozen=True)
class Suggestion:
    technician_id: int
    position: int
    eta: datetime
    extra_km: float
    late_minutes: int  # how late the visit would start against the order's due time
    overdue_minutes: int = 0  # how long the order has been overdue already (0: not yet due)
    current: bool = False  # the order's own technician: choosing them changes nothing


def suggest(session: Session, order_id: int, settings: PlanningSettings, now: datetime | None = None, top: int = 3):
    """The best technicians for one order (cheapest insertion each), best first; or a reason."""
    now = now or utcnow()
    day = load_day(session, settings, now)
    if order_id in day.unplannable:
        return [], day.unplannable[order_id]
    job = day.jobs.get(order_id)
    if job is None:
        raise NotFound(f"work order {order_id} is not open")
    routes = {t: [j for j in r if j != order_id] for t, r in day.routes.items()}
    current = evaluate(day.technicians, day.jobs, routes)
    index = InsertionIndex(day.technicians, current, day.jobs)
    row = day.orders[order_id]
    best: dict[int, Suggestion] = {}  # per technician, their best day
    reason = no_skill_reason(day, job.skill)
    for tech in day.technicians:
        if job.skill not in tech.skills:
            continue
        result = index.best(Job(**{**job.__dict__, "locked_to": tech.id, "started": False}))
        if isinstance(result, NoInsertion):
            reason = result.reason
            continue
        found = suggestion_from(day, result, job, row.due_at, current=tech_of(tech.id) == row.technician_id)
        kept = best.get(found.technician_id)
        if kept is None or (found.late_minutes, found.extra_km) < (kept.late_minutes, kept.extra_km):
            best[found.technician_id] = found
    ranked = sorted(best.values(), key=lambda s: (s.late_minutes, s.extra_km))
    return ranked[:top], (None if ranked else reason)


def no_skill_reason(day: Day, skill: str) -> str:
    """Why nobody in the horizon has the skill: nobody has it at all (`no_skill`), or those
    who have it have no working day in the horizon (`no_shift`)."""
    return "no_shift" if skill in day.skills_on_staff else "no_skill"


def suggestion_from(day: Day, insertion, job: Job, due_at: datetime, *, current: bool = False) -> Suggestion:
    """The insertion in a dispatcher's terms. Lateness is measured against the order's due
    time: the routing model counts an overdue order's deadline as now (it cannot lie in the
    past), which would make an order overdue for days read "67 minutes late"."""
    due_s = int((due_at - day.t0).total_seconds())  # negative: overdue already
    start_s = job.due + insertion.late_s if insertion.late_s > 0 else insertion.arrival_s
    return Suggestion(
        technician_id=tech_of(insertion.tech_id),
        position=insertion.position,
        eta=day.at(insertion.arrival_s),
        extra_km=round(insertion.extra_distance_m / 1000, 2),
        late_minutes=max(0, start_s - due_s) // 60,
        overdue_minutes=max(0, -due_s) // 60,
        current=current,
    )


def place_new_order(
    session: Session,
    order_id: int,
    settings: PlanningSettings,
    now: datetime | None = None,
    *,
    cached: bool = True,
    window: tuple[datetime, datetime] | None = None,
) -> Suggestion | str:
    """Assign a new order to the cheapest feasible place in the horizon's routes (by the
    system): every technician-day on duty from today to `settings.horizon_days`, lateness
    against the due time priced across days. With `window` (a booked slot's start and end)
    only a place within it, which becomes the order's appointment.

    Returns the placement, or the reason it stays unassigned (`no_skill`, `no_shift`,
    `no_capacity_or_time`, `window_unreachable`, `no_location`). Commits. With `cached`
    (the default) today's routes come from this process's in-memory day, patched from the
    event log (dispatch/planning/live_day.py); without, they are read whole from the database.
    """
    now = now or utcnow()
    cache = day_cache(session) if cached else None
    for _attempt in range(PLACEMENT_ATTEMPTS):
        try:
            if cache is None:
                outcome = _place_once(session, order_id, settings, now, window)
            else:
                with cache.lock:
                    outcome = _place_from_cache(session, cache, order_id, settings, now, window)
            if outcome != RETRY:
                return outcome
        except IntegrityError:
            # Another placement or plan wrote this technician's day at the same moment (the
            # route_stops keys refused the second writer): read the day again and retry.
            session.rollback()
            if cache is not None:
                cache.forget()
    return "changed_meanwhile"


RETRY = "retry"


def _place_from_cache(
    session: Session,
    cache: DayCache,
    order_id: int,
    settings: PlanningSettings,
    now: datetime,
    window: tuple[datetime, datetime] | None = None,
) -> Suggestion | str:
    try:
        live = cache.current(session, settings, now)
    except BaseException:
        session.rollback()  # reading the day failed: leave no transaction open behind it
        raise
    return _place(session, live.day, live.index, order_id, settings, now, cache, window)


def _place_once(
    session: Session,
    order_id: int,
    settings: PlanningSettings,
    now: datetime,
    window: tuple[datetime, datetime] | None = None,
) -> Suggestion | str:
    try:
        day = load_day(session, settings, now)
        index = InsertionIndex(day.technicians, evaluate(day.technicians, day.jobs, day.routes), day.jobs)
    except BaseException:
        session.rollback()  # reading the day failed: leave no transaction open behind it
        raise
    return _place(session, day, index, order_id, settings, now, window=window)


def _place(
    session: Session,
    day: Day,
    index: InsertionIndex,
    order_id: int,
    settings: PlanningSettings,
    now: datetime,
    cache: DayCache | None = None,
    window: tuple[datetime, datetime] | None = None,
) -> Suggestion | str:
    """Put the new order in its cheapest slot of `day` (within `window` when a slot is being
    booked: it becomes the order's appointment) and write the technician's days."""
    try:
        with unit_of_work(session):
            row = day.orders.get(order_id)
            if row is None or row.status != Status.NEW:
                session.rollback()  # nothing to write: end the read transaction at once
                return "not_new"
            if order_id in day.unplannable:
                session.rollback()  # nothing to write: end the read transaction at once
                return day.unplannable[order_id]
            job = day.jobs[order_id]
            if window is not None:
                job = replace(job, window=(max(0, _s(window[0] - day.t0)), _s(window[1] - day.t0)))
            result = index.best(job)
            if isinstance(result, NoInsertion):
                session.rollback()  # nothing to write: end the read transaction at once
                return no_skill_reason(day, job.skill) if result.reason == "no_skill" else result.reason
            suggestion = suggestion_from(day, result, job, day.orders[order_id].due_at)
            tech_id, vehicle_id = suggestion.technician_id, result.tech_id
            route = list(day.routes.get(vehicle_id, ()))
            # One placement at a time per technician: the row lock is held to the commit, and
            # under it the technician's orders in the database must be exactly the ones this
            # day has on their route — otherwise another placement, a plan or a dispatcher got
            # there first (or the cached copy missed a change), and the route must not be
            # rewritten from it. Read the day afresh and try again.
            lock_day(session, tech_id)
            if not holds(session, day, tech_id, route, vehicle_id=vehicle_id):
                if cache is not None:
                    cache.forget()
                session.rollback()  # release the day's lock before reading the day again
                return RETRY
            order = session.get(WorkOrder, order_id)
            if order is None or order.version != row.version:
                session.rollback()  # changed since the day was read: write nothing
                return "changed_meanwhile"
            if window is not None:  # a booked slot: the customer's choice becomes the hard window
                order.appointment_start, order.appointment_end = window
            # The move's on-duty check is about today; a later day's vehicle exists only for a
            # technician who works that day (load_day), so that check is the planner's there.
            on_duty_today = settings.timezone if offset_of(vehicle_id) == 0 else None
            apply_move(
                session, order, "assign", Actor.system(), technician_id=tech_id, timezone=on_duty_today, now=now,
                data={"eta": suggestion.eta.isoformat(), "extra_km": suggestion.extra_km, "by": "instant_insertion"},
            )  # fmt: skip
            route.insert(suggestion.position, order_id)
            tech = next(t for t in day.technicians if t.id == vehicle_id)
            jobs = {**day.jobs, order_id: job}
            write_route(session, day, tech_id, route, Plan({vehicle_id: time_route(tech, jobs, route)[0]}), vehicle_id)
        return suggestion
    except StaleWrite:
        return "changed_meanwhile"


def _s(delta) -> int:
    return int(delta.total_seconds())
