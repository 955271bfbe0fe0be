"""A dispatcher's choice: an assignment to the technician they picked, placed at once in the
cheapest place of that technician's route (`assign`), or at the place they dropped it on the
timeline (`place`: assign, reassign or re-sequence, refused with a reason when the technician
cannot take it); pinning an order where it is (`pin`). Every other move goes to
`dispatch.moves`."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.accounts import DISPATCH_ROLES, Actor
from core.db import unit_of_work, utcnow
from core.errors import Busy, Conflict, PermissionDenied, Refused, ValidationFailed
from dispatch.events import add_to_announcement, record_event
from dispatch.lifecycle import OPEN, Status, check_move
from dispatch.models import WorkOrder
from dispatch.moves import Position, apply_move, check_version, get_order, raced, transition
from dispatch.permissions import can_assign_to
from dispatch.planning.comeback import part_arrived_and_planned
from dispatch.planning.day import PLACEMENT_ATTEMPTS, Day, PlanningSettings, offset_of, tech_of, vehicle
from dispatch.planning.instant import Suggestion
from dispatch.planning.live_day import DayCache, day_cache
from dispatch.planning.routes import holds, lock_day, lock_days, write_route
from dispatch.sla.policy import SlaPolicy
from dispatch.timeline import technician_days
from routing import Job, Plan
from routing import Technician as RoutingTechnician
from routing.evaluate import time_route
from routing.insertion import Insertion, best_insertion
from technicians.availability import can_take_work, dropped_out, works_on
from technicians.models import Technician
from technicians.network import list_technicians

# An assignment to the order's own technician leaves an order in these statuses as it is.
KEPT_ON_SAME_CHOICE = frozenset({Status.ASSIGNED, Status.ACCEPTED})
# Work the technician has set off for stays first on their route: a drop cannot go before it.
UNDER_WAY = frozenset({Status.EN_ROUTE, Status.ON_SITE})


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
    if action == "part_arrived":
        return part_arrived_and_planned(session, order_id, actor, settings, version=version, sla=sla, now=now)[0]
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
    the order goes last. The technician it is already assigned to or accepted by: nothing
    changes. Commits; raises as `services.transition` does."""
    now = now or utcnow()
    order = get_order(session, order_id, actor)
    if order.technician_id == technician_id and order.status in KEPT_ON_SAME_CHOICE:
        # Choosing the technician who already has it changes nothing: no event, no new version,
        # and an order the technician accepted stays accepted (not sent back to "assigned").
        check_move("assign", order.status, actor.role)
        check_version(order, version)
        session.rollback()  # nothing to write: end the read transaction
        return order
    placed = _write_day_with_retries(
        session,
        lambda cache: _assign_once(session, cache, order_id, technician_id, actor, settings, version, reason, now),
    )
    if placed is not None:
        return placed
    # The day kept changing under us: the assignment alone, the next plan gives it a place.
    return transition(
        session, order_id, "assign", actor, version=version, reason=reason, technician_id=technician_id,
        timezone=settings.timezone, now=now,
    )  # fmt: skip


T = TypeVar("T")


def _write_day_with_retries(session: Session, attempt: Callable[[DayCache], T | None]) -> T | None:
    """Run `attempt` (one write of a technician's day, from this process's cached day) under the
    cache's lock, up to PLACEMENT_ATTEMPTS times: it answers None when the day it read no longer
    matches the database, and a concurrent writer of the same day shows as an IntegrityError.
    None when every attempt met a changed day.

    The caller's transaction ends first, as in `place_new_order`: on SQLite an open transaction
    holds the database's write lock, and waiting for the day while holding it would deadlock with
    a placement that holds the day and waits for the database."""
    cache = day_cache(session)
    session.commit()
    for _attempt in range(PLACEMENT_ATTEMPTS):
        try:
            with cache.lock:
                result = attempt(cache)
            if result is not None:
                return result
        except IntegrityError:  # another writer of this technician's day got there first
            session.rollback()
            cache.forget()
    return None


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
        # that matches what the database holds for them. The order goes on the technician's
        # first day in the horizon: today while their shift lasts, else their next working day
        # (an evening's assignment is tomorrow's work, not a refusal).
        lock_day(session, tech_id)
        vid = _assignment_day(day, tech_id, session.get(Technician, tech_id), settings, now)
        later = offset_of(vid) > 0
        route = [oid for oid in day.routes.get(vid, ()) if oid != order_id]
        if not holds(session, day, tech_id, route, ignore=order_id, vehicle_id=vid):
            cache.forget()
            session.rollback()  # nothing written: release the day's lock at once, the caller reads it again
            return None
        tech = next((t for t in day.technicians if t.id == vid), None)
        job = day.jobs.get(order_id)
        timed, data = None, {}
        if tech is not None and job is not None:  # on duty in the horizon, and the order has a location
            job = Job(**{**job.__dict__, "locked_to": tech_id, "started": False})
            jobs = {**day.jobs, order_id: job}
            found = best_insertion([tech], Plan({vid: time_route(tech, jobs, route)[0]}), jobs, job)
            route.insert(found.position if isinstance(found, Insertion) else len(route), order_id)
            timed = Plan({vid: time_route(tech, jobs, route)[0]})
            arrival = next(s.arrival_s for s in timed.routes[vid] if s.job_id == order_id)
            data = {"eta": day.at(arrival).isoformat(), "position": route.index(order_id)}
            if later:
                data["day"] = day.dates[offset_of(vid)].isoformat()
        apply_move(
            session, order, "assign", actor, technician_id=tech_id, reason=reason,
            timezone=None if later else settings.timezone, now=now, data=data,
        )  # fmt: skip
        if timed is not None:
            write_route(session, day, tech_id, route, timed, vehicle_id=vid)
            _announce_days(session, order_id, settings, [tech_id], now)
    return order


def _assignment_day(
    day: Day, tech_id: int, row: Technician | None, settings: PlanningSettings, now: datetime
) -> Hashable:
    """The route a dispatcher's choice goes on: today's while the technician's shift lasts;
    after it, tomorrow's when they worked today and work tomorrow (a technician on leave, off or
    dropped out today is refused, as before, rather than booked for a later day)."""
    on_duty = {t.id for t in day.technicians}
    if tech_id in on_duty:
        return tech_id
    tomorrow = vehicle(tech_id, 1)
    today = now.astimezone(settings.timezone).date()
    if (
        tomorrow in on_duty
        and row is not None
        and works_on(row, today)
        and not dropped_out(row, now, settings.timezone)
    ):
        return tomorrow
    return tech_id


def _announce_days(
    session: Session, order_id: int, settings: PlanningSettings, tech_ids: list[int], now: datetime
) -> None:
    """The technicians' rows as the move leaves them ride with its event, so that every open
    board redraws them at once instead of reading the whole timeline again."""
    add_to_announcement(session, order_id, timeline=technician_days(session, settings, tech_ids, now=now))


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


@dataclass(frozen=True)
class Placement:
    """A drop's outcome: the order as it is now, and the technician's day after it (order id,
    ETA; in visiting order)."""

    order: WorkOrder
    technician_id: int
    route: list[tuple[int, datetime | None]]


def place(
    session: Session,
    order_id: int,
    technician_id: int,
    actor: Actor,
    settings: PlanningSettings,
    *,
    version: int,
    before_order_id: int | None = None,
    day: date | None = None,
    now: datetime | None = None,
) -> Placement:
    """Put an order at a chosen place in a technician's day: before `before_order_id`, or last
    when that is None; on `day` (a local date of the planning horizon; None: today). An
    unassigned order is assigned, another technician's is reassigned, the technician's own is
    re-sequenced or moved to that day (its status stays). The technician must have the skill,
    be on duty that day, have room left and finish it within the shift; otherwise `Refused`
    names the reason and nothing changes. The order is pinned there (a re-optimisation leaves
    it). Commits; raises StaleWrite on a stale `version`, as every move does."""
    now = now or utcnow()
    placed = _write_day_with_retries(
        session,
        lambda cache: _place_once(
            session, cache, order_id, technician_id, actor, settings, version, before_order_id, day, now
        ),
    )
    if placed is not None:
        return placed
    raise Busy("the technician's day kept changing while placing the order; try again")


def _place_once(
    session: Session,
    cache: DayCache,
    order_id: int,
    tech_id: int,
    actor: Actor,
    settings: PlanningSettings,
    version: int,
    before_id: int | None,
    on_day: date | None,
    now: datetime,
) -> Placement | None:
    with unit_of_work(session, stale=lambda: raced(session, order_id)):
        day = cache.current(session, settings, now).day
        offset = _horizon_offset(day, settings, on_day, now)
        vid = vehicle(tech_id, offset)  # the technician's route on that day
        order = get_order(session, order_id, actor)
        if actor.role not in DISPATCH_ROLES:
            raise PermissionDenied(f"the {actor.role} role may not place orders on a technician's day")
        check_version(order, version)
        tech_row = session.get(Technician, tech_id)
        if tech_row is None:
            raise ValidationFailed({"technician_id": f"technician {tech_id} does not exist"})
        if not can_assign_to(actor, tech_row.outlet_id):
            raise PermissionDenied("you may assign orders only to technicians of your own outlet")
        same = order.technician_id == tech_id
        if not same:
            check_move("assign", order.status, actor.role)  # 409 with the allowed moves
        elif order.status in UNDER_WAY:
            raise Conflict("the technician is already on the way to this order; it stays first on the route")
        elif order.status not in OPEN:
            raise Conflict(f"a {order.status} order has no place on a route")
        was_on = day.vehicle_of_order(order_id)  # the route (technician and day) it is on now, if any
        tech = _refuse_unless_fit(order, tech_row, day, settings, now, vid, on_day, moved=was_on != vid)
        if tech is None:  # on duty by the database, not in the cached day: read the day again
            cache.forget()
            session.rollback()  # read the day again before any lock is taken
            return None
        # The day as it will be: the order off every route, then put on `vid`'s.
        left = replace(day, routes={v: [oid for oid in r if oid != order_id] for v, r in day.routes.items()})
        old_id = tech_of(was_on) if was_on is not None and tech_of(was_on) != tech_id else None
        lock_days(session, sorted({tech_id} | ({old_id} if old_id is not None else set())))
        route = list(left.routes.get(vid, ()))
        if not holds(session, day, tech_id, route, ignore=order_id, vehicle_id=vid) or (
            old_id is not None
            and not holds(session, day, old_id, left.routes[was_on], ignore=order_id, vehicle_id=was_on)
        ):
            cache.forget()
            session.rollback()  # release the days' locks before reading the day again
            return None
        route.insert(_drop_index(day, route, before_id), order_id)
        job = Job(**{**day.jobs[order_id].__dict__, "locked_to": tech_id, "started": False})
        jobs = {**day.jobs, order_id: job}
        stops = time_route(tech, jobs, route)[0]
        stop = next(s for s in stops if s.job_id == order_id)
        if stop.departure_s > tech.shift_end:
            raise Refused(
                "%(name)s's shift ends at %(end)s, before this order could be done there",
                "shift",
                params={
                    "name": tech_row.name,
                    "end": day.at(tech.shift_end).astimezone(settings.timezone).strftime("%H:%M"),
                },
            )
        data = {"eta": day.at(stop.arrival_s).isoformat(), "position": route.index(order_id)}
        if offset:
            data["day"] = day.dates[offset].isoformat()
        if same:
            order.assignment_locked = True
            order.updated_at = now  # a move like any other: the version moves on with its event
            record_event(
                session, order, "resequence", actor, from_status=order.status, to_status=order.status,
                data={**data, "technician_id": tech_id}, at=now,
            )  # fmt: skip
        else:
            # A later day's duty was checked above for that day (`_refuse_unless_fit`); the move's
            # own check is today's, which an evening drop on tomorrow must not meet.
            apply_move(
                session, order, "assign", actor, technician_id=tech_id,
                timezone=None if offset else settings.timezone, now=now, data=data,
            )  # fmt: skip
        write_route(session, left, tech_id, route, Plan({vid: stops}), vehicle_id=vid)
        if old_id is not None:  # the day it left closes up behind it
            old_tech = next(t for t in day.technicians if t.id == was_on)
            old_route = left.routes[was_on]
            write_route(
                session, left, old_id, old_route, Plan({was_on: time_route(old_tech, jobs, old_route)[0]}), was_on
            )
        _announce_days(session, order_id, settings, [tech_id] + ([old_id] if old_id is not None else []), now)
        etas = {s.job_id: day.at(s.arrival_s) for s in stops}
        return Placement(order, tech_id, [(oid, etas.get(oid)) for oid in route])


def _horizon_offset(day: Day, settings: PlanningSettings, on_day: date | None, now: datetime) -> int:
    """Which day of the planning horizon `on_day` is (0: today); a day outside it is refused."""
    if on_day is None:
        return 0
    today = day.dates[0] if day.dates else now.astimezone(settings.timezone).date()
    offset = (on_day - today).days
    horizon = max(1, len(day.dates))
    if not 0 <= offset < horizon:
        raise ValidationFailed({"day": f"must be today or one of the next {horizon - 1} days (the planning horizon)"})
    return offset


def _refuse_unless_fit(
    order: WorkOrder,
    tech_row: Technician,
    day: Day,
    settings: PlanningSettings,
    now: datetime,
    vid: Hashable,
    on_day: date | None,
    *,
    moved: bool,
) -> RoutingTechnician | None:
    """The technician's route on the day asked for (`vid`) as the day plans it, or `Refused`
    naming why they cannot take the order there (`moved`: it is not on that route yet)."""
    name = tech_row.name
    later = vid != tech_row.id
    if order.required_skill not in tech_row.skill_codes:
        raise Refused(
            "%(name)s lacks the skill %(skill)s", "skill", params={"name": name, "skill": order.required_skill}
        )
    if later and (not tech_row.active or not works_on(tech_row, on_day)):
        raise Refused("%(name)s is off duty or on leave that day", "off_duty", params={"name": name})
    if not later and (not tech_row.active or not can_take_work(tech_row, now, settings.timezone)):
        raise Refused("%(name)s is off duty or on leave today", "off_duty", params={"name": name})
    if order.id not in day.jobs:
        raise Refused(
            "%(number)s has no location yet, so it cannot be placed on a route",
            "no_location",
            params={"number": order.number},
        )
    tech = next((t for t in day.technicians if t.id == vid), None)
    if tech is None:
        return None
    if moved and len([oid for oid in day.routes.get(vid, ()) if oid != order.id]) >= tech.max_jobs:
        raise Refused(
            "%(name)s has no room left that day (daily capacity %(capacity)s)"
            if later
            else "%(name)s has no room left today (daily capacity %(capacity)s)",
            "capacity",
            params={"name": name, "capacity": tech_row.daily_capacity},
        )
    return tech


def _drop_index(day: Day, route: list[int], before_id: int | None) -> int:
    """Where in `route` a drop before `before_id` goes (None: last); never ahead of work the
    technician has already set off for."""
    if before_id is None:
        index = len(route)
    elif before_id in route:
        index = route.index(before_id)
    else:
        raise Conflict("the order it was dropped before is no longer on this technician's route; reload and try again")
    under_way = sum(1 for oid in route if day.orders[oid].status in UNDER_WAY)
    return max(index, under_way)


def pin(
    session: Session,
    order_id: int,
    pinned: bool,
    actor: Actor,
    *,
    version: int,
    settings: PlanningSettings | None = None,
    now: datetime | None = None,
) -> WorkOrder:
    """Pin an assigned order to its technician and place ("don't move": a re-optimisation
    leaves it), or release it to the optimiser. Recorded as a `pin` / `unpin` event, which
    carries the technician's row when `settings` are given."""
    now = now or utcnow()
    with unit_of_work(session, stale=lambda: raced(session, order_id)):
        order = get_order(session, order_id, actor)
        if actor.role not in DISPATCH_ROLES:
            raise PermissionDenied(f"the {actor.role} role may not pin orders")
        check_version(order, version)
        if order.technician_id is None or order.status not in OPEN:
            raise Conflict("only an open order with a technician can be pinned")
        order.assignment_locked = pinned
        order.updated_at = now
        record_event(
            session, order, "pin" if pinned else "unpin", actor, from_status=order.status, to_status=order.status,
            data={"technician_id": order.technician_id}, at=now,
        )  # fmt: skip
        if settings is not None:
            _announce_days(session, order_id, settings, [order.technician_id], now)
    return order
