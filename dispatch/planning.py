"""The technicians' day as OR-Tools sees it, and the two ways plans reach the orders.

- `place_new_order`: the instant path. A new order goes to the cheapest feasible place
  across everyone's current route (skill, shift, capacity, windows; lateness priced).
- `propose` / `apply_proposal`: re-optimisation of the open, not-started orders, shown to
  the dispatcher as a diff and applied atomically, only to orders still as the plan saw them.

The database ↔ plain-data translation lives here; `routing` never sees a session.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from core.accounts import Actor
from core.db import utcnow
from core.errors import Conflict, NotFound
from dispatch.day_cache import DayCache, day_cache
from dispatch.lifecycle import OPEN, Status
from dispatch.models import PlanProposal, RouteStop, WorkOrder
from dispatch.services import Position, apply_move, check_version, get_order, raced, transition
from routing import InsertionIndex, Job, NoInsertion, Plan, Problem, Technician, diff, solve
from routing.evaluate import evaluate, time_route
from routing.insertion import Insertion, best_insertion
from technicians.availability import can_take_work, shift_bounds
from technicians.models import Outlet
from technicians.models import Technician as TechnicianRow

DEFAULT_SERVICE_MINUTES = {"repair": 45, "installation": 90, "maintenance": 40, "complaint": 30}
# Orders a plan may move: not yet accepted by their technician, and not held by a dispatcher.
MOVABLE = frozenset({Status.NEW, Status.ASSIGNED})
PLACEMENT_ATTEMPTS = 3


@dataclass(frozen=True)
class PlanningSettings:
    timezone: ZoneInfo
    service_minutes: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_SERVICE_MINUTES))
    time_limit_s: float = 5.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> PlanningSettings:
        return cls(
            timezone=config["TIMEZONE"],
            service_minutes={**DEFAULT_SERVICE_MINUTES, **config.get("SERVICE_MINUTES", {})},
            time_limit_s=float(config.get("REOPTIMIZE_TIME_LIMIT_S", 5.0)),
        )


@dataclass
class Day:
    """Today's problem: technicians on shift, open located orders, and the current routes."""

    t0: datetime
    technicians: list[Technician]
    jobs: dict[int, Job]
    orders: dict[int, Any]  # order id → row of ORDER_COLUMNS
    routes: dict[int, list[int]]
    unplannable: dict[int, str]

    def problem(self, exclude: int | None = None) -> Problem:
        return Problem(self.technicians, tuple(j for i, j in self.jobs.items() if i != exclude))

    def at(self, seconds: int) -> datetime:
        return self.t0 + timedelta(seconds=seconds)


ORDER_COLUMNS = (
    WorkOrder.id, WorkOrder.status, WorkOrder.version, WorkOrder.technician_id, WorkOrder.assignment_locked,
    WorkOrder.lat, WorkOrder.lon, WorkOrder.required_skill, WorkOrder.issue_category, WorkOrder.priority,
    WorkOrder.due_at, WorkOrder.appointment_start, WorkOrder.appointment_end,
)  # fmt: skip


def load_day(session: Session, settings: PlanningSettings, now: datetime, outlet_id: int | None = None) -> Day:
    """Read the technicians who can work now and the open orders, as plain routing data.

    Orders are read as plain rows, not ORM objects: this runs on every new order, and
    building thousands of tracked objects would cost more than the routing itself.
    """
    tz = settings.timezone
    today = now.astimezone(tz).date()
    tech_query = (
        select(TechnicianRow)
        .join(Outlet)
        .where(TechnicianRow.active.is_(True))
        .options(
            selectinload(TechnicianRow.skills), selectinload(TechnicianRow.leaves), selectinload(TechnicianRow.outlet)
        )
    )
    order_query = select(*ORDER_COLUMNS).where(WorkOrder.status.in_([s.value for s in OPEN]))
    if outlet_id is not None:
        tech_query = tech_query.where(TechnicianRow.outlet_id == outlet_id)
        order_query = order_query.where(WorkOrder.outlet_id == outlet_id)
    done_today = _completed_today(session, today, tz)
    technicians = []
    for row in session.scalars(tech_query):
        if not can_take_work(row, now, tz):
            continue
        start, end = shift_bounds(row, today, tz)
        fresh = row.last_seen_at is not None and row.last_seen_at.astimezone(tz).date() == today
        here = (row.last_lat, row.last_lon) if fresh and row.last_lat is not None else (row.home_lat, row.home_lon)
        technicians.append(
            Technician(
                id=row.id,
                start=here,
                end=(row.home_lat, row.home_lon),
                shift_start=max(0, _seconds(start - now)),
                shift_end=_seconds(end - now),
                skills=frozenset(row.skill_codes),
                max_jobs=max(0, row.daily_capacity - done_today.get(row.id, 0)),
                speed_kmh=row.outlet.speed_kmh,
                detour=row.outlet.detour_factor,
            )
        )
    orders: dict[int, Any] = {}
    jobs: dict[int, Job] = {}
    unplannable: dict[int, str] = {}
    routes: dict[int, list[int]] = {t.id: [] for t in technicians}
    for order in session.execute(order_query):
        orders[order.id] = order
        if order.lat is None or order.lon is None:
            unplannable[order.id] = "no_location"
            continue
        jobs[order.id] = _job(order, settings, now)
    planned = dict(
        session.execute(select(RouteStop.order_id, RouteStop.seq).where(RouteStop.order_id.in_(list(jobs)))).all()
    )
    assigned = sorted(
        (o for o in orders.values() if o.technician_id in routes and o.id in jobs),
        key=lambda o: route_sort_key(o, planned),
    )
    for order in assigned:
        routes[order.technician_id].append(order.id)
    return Day(now, technicians, jobs, orders, routes, unplannable)


def route_sort_key(order: Any, planned: Mapping[int, int]) -> tuple:
    """A technician's orders in visiting order: started work first, then the stored plan,
    then orders not planned yet by due time."""
    return (order.status not in (Status.ON_SITE, Status.EN_ROUTE), planned.get(order.id, 10**6), order.due_at)


def _job(order: Any, settings: PlanningSettings, now: datetime) -> Job:
    """A routing Job from an order row (needs the columns of ORDER_COLUMNS)."""
    window = None
    if order.appointment_start and order.appointment_end and order.appointment_end > now:
        window = (max(0, _seconds(order.appointment_start - now)), _seconds(order.appointment_end - now))
    locked = order.technician_id is not None and (order.status not in MOVABLE or order.assignment_locked)
    return Job(
        id=order.id,
        location=(order.lat, order.lon),
        skill=order.required_skill,
        service_s=60 * settings.service_minutes.get(order.issue_category, 45),
        window=window,
        due=max(0, _seconds(order.due_at - now)),
        priority=order.priority,
        locked_to=order.technician_id if locked else None,
        started=order.status in (Status.EN_ROUTE, Status.ON_SITE),
    )


def _completed_today(session: Session, today: date, tz: ZoneInfo) -> dict[int, int]:
    start = datetime.combine(today, datetime.min.time(), tzinfo=tz)
    rows = session.execute(
        select(WorkOrder.technician_id, func.count())
        .where(WorkOrder.completed_at >= start, WorkOrder.technician_id.is_not(None))
        .group_by(WorkOrder.technician_id)
    )
    return dict(rows.all())


def _seconds(delta: timedelta) -> int:
    return int(delta.total_seconds())


# --- the instant path ---------------------------------------------------------------


@dataclass(frozen=True)
class Suggestion:
    technician_id: int
    position: int
    eta: datetime
    extra_km: float
    late_minutes: int


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
    found: list[Suggestion] = []
    reason = "no_skill"
    for tech in day.technicians:
        if job.skill not in tech.skills:
            continue
        result = index.best(Job(**{**job.__dict__, "locked_to": tech.id, "started": False}))
        if isinstance(result, NoInsertion):
            reason = result.reason
            continue
        found.append(_suggestion(day, result))
    found.sort(key=lambda s: (s.late_minutes, s.extra_km))
    return found[:top], (None if found else reason)


def _suggestion(day: Day, insertion) -> Suggestion:
    return Suggestion(
        technician_id=int(insertion.tech_id),
        position=insertion.position,
        eta=day.at(insertion.arrival_s),
        extra_km=round(insertion.extra_distance_m / 1000, 2),
        late_minutes=insertion.late_s // 60,
    )


def place_new_order(
    session: Session, order_id: int, settings: PlanningSettings, now: datetime | None = None, *, cached: bool = True
) -> Suggestion | str:
    """Assign a new order to the cheapest feasible place in today's routes (by the system).

    Returns the placement, or the reason it stays unassigned (`no_skill`,
    `no_capacity_or_time`, `window_unreachable`, `no_location`). Commits. With `cached`
    (the default) today's routes come from this process's in-memory day, patched from the
    event log (dispatch/day_cache.py); without, they are read whole from the database.
    """
    now = now or utcnow()
    cache = day_cache(session) if cached else None
    for _attempt in range(PLACEMENT_ATTEMPTS):
        try:
            if cache is None:
                outcome = _place_once(session, order_id, settings, now)
            else:
                with cache.lock:
                    outcome = _place_from_cache(session, cache, order_id, settings, now)
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
    session: Session, cache: DayCache, order_id: int, settings: PlanningSettings, now: datetime
) -> Suggestion | str:
    try:
        live = cache.current(session, settings, now)
    except BaseException:
        session.rollback()
        raise
    return _place(session, live.day, live.index, order_id, settings, now, cache)


def _place_once(session: Session, order_id: int, settings: PlanningSettings, now: datetime) -> Suggestion | str:
    try:
        day = load_day(session, settings, now)
        index = InsertionIndex(day.technicians, evaluate(day.technicians, day.jobs, day.routes), day.jobs)
    except BaseException:
        session.rollback()
        raise
    return _place(session, day, index, order_id, settings, now)


def _place(
    session: Session,
    day: Day,
    index: InsertionIndex,
    order_id: int,
    settings: PlanningSettings,
    now: datetime,
    cache: DayCache | None = None,
) -> Suggestion | str:
    """Put the new order in its cheapest slot of `day` and write the technician's route."""
    try:
        row = day.orders.get(order_id)
        if row is None or row.status != Status.NEW:
            session.rollback()
            return "not_new"
        if order_id in day.unplannable:
            session.rollback()
            return day.unplannable[order_id]
        result = index.best(day.jobs[order_id])
        if isinstance(result, NoInsertion):
            session.rollback()
            return result.reason
        suggestion = _suggestion(day, result)
        tech_id = suggestion.technician_id
        route = list(day.routes.get(tech_id, ()))
        # One placement at a time per technician: the row lock is held to the commit, and
        # under it the technician's orders in the database must be exactly the ones this
        # day has on their route — otherwise another placement, a plan or a dispatcher got
        # there first (or the cached copy missed a change), and the route must not be
        # rewritten from it. Read the day afresh and try again.
        _lock_day(session, tech_id)
        if not _holds(session, day, tech_id, route):
            if cache is not None:
                cache.forget()
            session.rollback()
            return RETRY
        order = session.get(WorkOrder, order_id)
        if order is None or order.version != row.version:
            session.rollback()
            return "changed_meanwhile"
        apply_move(
            session, order, "assign", Actor.system(), technician_id=tech_id, timezone=settings.timezone, now=now,
            data={"eta": suggestion.eta.isoformat(), "extra_km": suggestion.extra_km, "by": "instant_insertion"},
        )  # fmt: skip
        route.insert(suggestion.position, order_id)
        tech = next(t for t in day.technicians if t.id == tech_id)
        _write_route(session, day, tech_id, route, Plan({tech_id: time_route(tech, day.jobs, route)[0]}))
        session.commit()
        return suggestion
    except StaleDataError:
        session.rollback()
        return "changed_meanwhile"
    except BaseException:
        session.rollback()
        raise


def _lock_day(session: Session, tech_id: int) -> None:
    """Take the technician's day for writing until the commit: their row, locked FOR NO KEY
    UPDATE, so placements, manual assignments and plans touching one technician queue, while
    an order UPDATE naming them elsewhere (whose foreign-key check takes KEY SHARE) is not
    held up by it: that wait, inside a plan being applied, was a deadlock."""
    _lock_days(session, [tech_id])


def _lock_days(session: Session, tech_ids: list[int]) -> None:
    """`_lock_day` for several technicians, in the order given (callers sort by id)."""
    session.execute(
        select(TechnicianRow.id)
        .where(TechnicianRow.id.in_(tech_ids))
        .order_by(TechnicianRow.id)
        .with_for_update(key_share=True)
    )


def _holds(session: Session, day: Day, tech_id: int, route: list[int], ignore: int | None = None) -> bool:
    """Whether `route` has exactly the technician's open, located orders in the database
    (less `ignore`, the order being moved)."""
    held = set(
        session.scalars(
            select(WorkOrder.id).where(
                WorkOrder.technician_id == tech_id, WorkOrder.status.in_([s.value for s in OPEN])
            )
        )
    )
    return held - set(day.unplannable) - {ignore} == set(route)


# --- a dispatcher's choice ------------------------------------------------------------


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
    now: datetime | None = None,
) -> WorkOrder:
    """One lifecycle move asked for by a person (`services.transition`), except that an
    assignment also gives the order its place in the technician's day (`assign`)."""
    if action == "assign" and technician_id is not None:
        return assign(session, order_id, technician_id, actor, settings, version=version, reason=reason, now=now)
    return transition(
        session, order_id, action, actor, version=version, reason=reason, technician_id=technician_id,
        position=position, timezone=settings.timezone, now=now,
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
    try:
        day = cache.current(session, settings, now).day
        order = get_order(session, order_id, actor)
        check_version(order, version)
        # As in `_place`: one writer of a technician's day at a time, and only from a day
        # that matches what the database holds for them.
        _lock_day(session, tech_id)
        route = [oid for oid in day.routes.get(tech_id, ()) if oid != order_id]
        if not _holds(session, day, tech_id, route, ignore=order_id):
            cache.forget()
            session.rollback()
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
            _write_route(session, day, tech_id, route, timed)
        session.commit()
        return order
    except StaleDataError:
        session.rollback()
        raise raced(session, order_id) from None
    except BaseException:
        session.rollback()
        raise


def _write_route(session: Session, day: Day, tech_id: int, route: list[int], timed: Plan) -> None:
    etas = {s.job_id: day.at(s.arrival_s) for s in timed.routes.get(tech_id, [])}
    replace_route(session, tech_id, [(oid, etas.get(oid)) for oid in route], day.t0)


def replace_route(session: Session, tech_id: int, stops: list[tuple[int, datetime | None]], now: datetime) -> None:
    """Make `stops` (order id, ETA; in visiting order) the technician's whole planned day.

    The technician's other stops belonged to an older plan and go, so no two orders ever
    share a slot. Delete-then-insert as two statements: a concurrent writer of the same day
    then collides on the route_stops keys (IntegrityError) instead of interleaving slots.
    """
    order_ids = [oid for oid, _ in stops]
    session.execute(
        delete(RouteStop).where(or_(RouteStop.technician_id == tech_id, RouteStop.order_id.in_(order_ids))),
        execution_options={"synchronize_session": False},
    )
    if stops:
        rows = [
            {"order_id": oid, "technician_id": tech_id, "seq": seq, "eta": eta, "planned_at": now}
            for seq, (oid, eta) in enumerate(stops)
        ]
        session.execute(insert(RouteStop), rows)


# --- re-optimisation ----------------------------------------------------------------


def propose(
    session: Session,
    settings: PlanningSettings,
    actor: Actor,
    *,
    outlet_id: int | None = None,
    time_limit_s: float | None = None,
    now: datetime | None = None,
) -> PlanProposal:
    """Re-plan today's open orders (warm-started from the current routes) and store the
    result as a proposal with its diff. Commits the proposal only; orders are untouched."""
    now = now or utcnow()
    day = load_day(session, settings, now, outlet_id)
    current = evaluate(day.technicians, day.jobs, day.routes)
    new = solve(day.problem(), time_limit_s=time_limit_s or settings.time_limit_s, initial=current)
    change = diff(current, new)
    payload = {
        "t0": now.isoformat(),
        "routes": {str(t): [s.job_id for s in stops] for t, stops in new.routes.items()},
        "etas": {str(s.job_id): day.at(s.arrival_s).isoformat() for stops in new.routes.values() for s in stops},
        "versions": {str(oid): o.version for oid, o in day.orders.items()},
        "unserved": [{"order_id": u.job_id, "reason": u.reason} for u in new.unserved]
        + [{"order_id": oid, "reason": r} for oid, r in day.unplannable.items()],
        "diff": {
            "moves": [
                {"order_id": m.job_id, "from": m.from_tech, "to": m.to_tech, "position": m.new_position,
                 "eta": day.at(m.new_eta).isoformat() if m.new_eta is not None else None}
                for m in change.moves
            ],
            "km_saved": round(change.distance_saved_m / 1000, 2),
            "lateness_avoided_min": change.lateness_avoided_s // 60,
            "newly_served": list(change.newly_served),
            "newly_unserved": list(change.newly_unserved),
        },
        "before": {"km": round(current.total_distance_m / 1000, 2), "late_orders": current.late_jobs},
        "after": {"km": round(new.total_distance_m / 1000, 2), "late_orders": new.late_jobs},
    }  # fmt: skip
    proposal = PlanProposal(created_by_id=actor.user_id, outlet_id=outlet_id, payload=payload, created_at=now)
    session.add(proposal)
    session.commit()
    return proposal


@dataclass
class ApplyResult:
    applied: list[int]
    skipped: dict[int, str]


def apply_proposal(
    session: Session, proposal_id: int, settings: PlanningSettings, actor: Actor, now: datetime | None = None
) -> ApplyResult:
    """Apply a proposal in one transaction, only to orders still as the proposal saw them.

    An order that someone changed since (another dispatcher, a technician's acceptance, an
    earlier plan) is skipped and reported; the rest apply together or not at all.
    """
    now = now or utcnow()
    proposal = session.get(PlanProposal, proposal_id, with_for_update=True)
    if proposal is None:
        raise NotFound(f"plan proposal {proposal_id} not found")
    if proposal.status != "proposed":
        raise Conflict(f"plan proposal {proposal_id} was {proposal.status} already")
    payload = proposal.payload
    versions = {int(k): v for k, v in payload["versions"].items()}
    # The optimiser's choice, approved by a person: recorded as theirs, but not a manual lock.
    system = Actor(user_id=actor.user_id, role="system")
    result = ApplyResult(applied=[], skipped={})
    days: dict[int, list[tuple[int, datetime | None]]] = {}
    try:
        # Lock every order the plan touches, in id order, before changing any: two plans
        # then queue instead of deadlocking. NO KEY UPDATE, the lock an ordinary UPDATE
        # takes, so a sweep inserting an event for one of these orders (a foreign-key check)
        # is not held up by it. The event counter is taken only at commit (dispatch/events.py).
        # Every technician's day first, in id order, as a placement or a dispatcher's
        # assignment takes one (day, then order): otherwise an assignment holding a moved
        # order's old stop and a plan holding the new technician's stops wait for each other.
        _lock_days(session, sorted(int(t) for t in payload["routes"]))
        ids = sorted({oid for order_ids in payload["routes"].values() for oid in order_ids})
        session.scalars(
            select(WorkOrder).where(WorkOrder.id.in_(ids)).order_by(WorkOrder.id).with_for_update(key_share=True)
        ).all()
        for tech_key, order_ids in payload["routes"].items():
            tech_id = int(tech_key)
            day = days.setdefault(tech_id, [])
            for oid in order_ids:
                order = session.get(WorkOrder, oid)
                if order is None or order.version != versions.get(oid):
                    result.skipped[oid] = "changed since the plan was made"
                    continue
                if order.technician_id != tech_id:
                    if order.status not in MOVABLE or order.assignment_locked:
                        result.skipped[oid] = f"{order.status}, kept with its technician"
                        continue
                    apply_move(
                        session, order, "assign", system, technician_id=tech_id, timezone=settings.timezone,
                        now=now, data={"by": "reoptimisation", "proposal_id": proposal.id},
                    )  # fmt: skip
                    result.applied.append(oid)
                eta = payload["etas"].get(str(oid))
                day.append((oid, datetime.fromisoformat(eta) if eta else None))
        # Each technician's day becomes the plan, then what they hold that the plan did not
        # place (skipped, or assigned since the plan was made) after it: no slot the plan
        # gave to another, and no order of theirs without one.
        for tech_id, stops in days.items():
            replace_route(session, tech_id, stops + _left_out(session, tech_id, stops), now)
        proposal.status, proposal.applied_at = "applied", now
        session.commit()
    except (StaleDataError, IntegrityError):
        session.rollback()
        raise Conflict("orders changed while the plan was being applied; run the optimisation again") from None
    except BaseException:
        session.rollback()
        raise
    return result


def _left_out(session: Session, tech_id: int, stops: list[tuple[int, datetime | None]]) -> list[tuple[int, None]]:
    """The technician's open orders not among `stops`, in their previous route order."""
    placed = {oid for oid, _ in stops}
    rows = session.execute(
        select(WorkOrder.id, WorkOrder.status, WorkOrder.due_at, RouteStop.seq)
        .outerjoin(RouteStop, RouteStop.order_id == WorkOrder.id)
        .where(WorkOrder.technician_id == tech_id, WorkOrder.status.in_([s.value for s in OPEN]))
    ).all()
    planned = {r.id: r.seq for r in rows if r.seq is not None}
    held = sorted((r for r in rows if r.id not in placed), key=lambda r: route_sort_key(r, planned))
    return [(r.id, None) for r in held]


def proposal_summary(proposal: PlanProposal) -> dict[str, Any]:
    return {"id": proposal.id, "status": proposal.status, "created_at": proposal.created_at, **proposal.payload}
