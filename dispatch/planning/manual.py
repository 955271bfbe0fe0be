"""A dispatcher's choice: an assignment to the technician they picked, placed at once in the
cheapest place of that technician's route; every other move goes to `dispatch.moves`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.accounts import Actor
from core.db import unit_of_work, utcnow
from dispatch.models import WorkOrder
from dispatch.moves import Position, apply_move, check_version, get_order, raced, transition
from dispatch.permissions import can_assign_to
from dispatch.planning.day import PLACEMENT_ATTEMPTS, PlanningSettings
from dispatch.planning.instant import Suggestion
from dispatch.planning.live_day import DayCache, day_cache
from dispatch.planning.routes import holds, lock_day, write_route
from dispatch.sla.policy import SlaPolicy
from routing import Job, Plan
from routing.evaluate import time_route
from routing.insertion import Insertion, best_insertion
from technicians.models import Technician
from technicians.network import list_technicians


def move(
    session: Session,
    order_id: int,
    action: str,
    actor: Actor,
    settings: PlanningSettings,
    *,
    version: int,
    reason: str | None = None,
    technician_id: int | None = None,
    position: Position | None = None,
    sla: SlaPolicy | None = None,
    now: datetime | None = None,
) -> WorkOrder:
    """One lifecycle move asked for by a person (`services.transition`), except that an
    assignment also gives the order its place in the technician's day (`assign`)."""
    if action == "assign" and technician_id is not None:
        return assign(session, order_id, technician_id, actor, settings, version=version, reason=reason, now=now)
    return transition(
        session, order_id, action, actor, version=version, reason=reason, technician_id=technician_id,
        position=position, timezone=settings.timezone, sla=sla, now=now,
    )  # fmt: skip


def assign(
    session: Session,
    order_id: int,
    technician_id: int,
    actor: Actor,
    settings: PlanningSettings,
    *,
    version: int,
    reason: str | None = None,
    now: datetime | None = None,
) -> WorkOrder:
    """Assign (or reassign) an order to the technician a dispatcher chose, and put it in the
    cheapest place of that technician's route in the same transaction: their phone's list
    and the customer's ETA follow at once, instead of waiting for the next plan. Where the
    route cannot take it (shift, capacity, window) the dispatcher's choice still stands and
    the order goes last. Commits; raises as `services.transition` does."""
    now = now or utcnow()
    cache = day_cache(session)
    # The caller's transaction ends before the day's lock is taken, as in `place_new_order`:
    # on SQLite an open transaction holds the database's write lock, and waiting for the
    # day while holding it would deadlock with a placement that holds the day and waits for
    # the database.
    session.commit()
    for _attempt in range(PLACEMENT_ATTEMPTS):
        try:
            with cache.lock:
                order = _assign_once(session, cache, order_id, technician_id, actor, settings, version, reason, now)
            if order is not None:
                return order
        except IntegrityError:  # another writer of this technician's day got there first
            session.rollback()
            cache.forget()
    # The day kept changing under us: the assignment alone, the next plan gives it a place.
    return transition(
        session, order_id, "assign", actor, version=version, reason=reason, technician_id=technician_id,
        timezone=settings.timezone, now=now,
    )  # fmt: skip


def _assign_once(
    session: Session,
    cache: DayCache,
    order_id: int,
    tech_id: int,
    actor: Actor,
    settings: PlanningSettings,
    version: int,
    reason: str | None,
    now: datetime,
) -> WorkOrder | None:
    with unit_of_work(session, stale=lambda: raced(session, order_id)):
        day = cache.current(session, settings, now).day
        order = get_order(session, order_id, actor)
        check_version(order, version)
        # As in `_place`: one writer of a technician's day at a time, and only from a day
        # that matches what the database holds for them.
        lock_day(session, tech_id)
        route = [oid for oid in day.routes.get(tech_id, ()) if oid != order_id]
        if not holds(session, day, tech_id, route, ignore=order_id):
            cache.forget()
            session.rollback()  # nothing written: release the day's lock at once, the caller reads it again
            return None
        tech = next((t for t in day.technicians if t.id == tech_id), None)
        job = day.jobs.get(order_id)
        timed, data = None, {}
        if tech is not None and job is not None:  # on shift now, and the order has a location
            job = Job(**{**job.__dict__, "locked_to": tech_id, "started": False})
            jobs = {**day.jobs, order_id: job}
            found = best_insertion([tech], Plan({tech_id: time_route(tech, jobs, route)[0]}), jobs, job)
            route.insert(found.position if isinstance(found, Insertion) else len(route), order_id)
            timed = Plan({tech_id: time_route(tech, jobs, route)[0]})
            arrival = next(s.arrival_s for s in timed.routes[tech_id] if s.job_id == order_id)
            data = {"eta": day.at(arrival).isoformat(), "position": route.index(order_id)}
        apply_move(
            session, order, "assign", actor, technician_id=tech_id, reason=reason, timezone=settings.timezone,
            now=now, data=data,
        )  # fmt: skip
        if timed is not None:
            write_route(session, day, tech_id, route, timed)
    return order


def assignable_technicians(
    session: Session, order: WorkOrder, actor: Actor, suggestions: Sequence[Suggestion] = ()
) -> list[Technician]:
    """Who `actor` may assign `order` to: active technicians with its skill, within the actor's
    reach (`can_assign_to`); the system's `suggestions` first, best first, then everyone else."""
    technicians = [
        t
        for t in list_technicians(session, skill=order.required_skill, active=True)
        if can_assign_to(actor, t.outlet_id)
    ]
    rank = {s.technician_id: i for i, s in enumerate(suggestions)}
    technicians.sort(key=lambda t: rank.get(t.id, len(rank)))
    return technicians
