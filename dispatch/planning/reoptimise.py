"""Re-optimisation: the open, not-started orders re-planned with OR-Tools (warm-started from
the current routes), shown to the dispatcher as a diff only when it is better than today's
plan, and applied move by move (the ones the dispatcher ticked), each re-checked first."""

from __future__ import annotations

import time
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.accounts import Actor
from core.db import unit_of_work, utcnow
from core.errors import Conflict, NotFound
from dispatch.lifecycle import Status
from dispatch.models import PlanProposal, WorkOrder
from dispatch.moves import apply_move
from dispatch.planning.day import (
    MOVABLE,
    Day,
    PlanningSettings,
    load_day,
    offset_of,
    tech_of,
    vehicle_from_key,
    vehicle_key,
)
from dispatch.planning.routes import left_out, lock_days, one_after_another, replace_route
from routing import Job, SolverOptions, diff, solve
from routing import Technician as RoutingTechnician
from routing.diff import improves
from routing.evaluate import evaluate, time_route
from routing.problem import LATE_COST_PER_S, Plan
from technicians.availability import can_take_work
from technicians.models import Technician

# The least search a re-optimisation gets, however long reading its horizon took.
MIN_SEARCH_S = 0.2
# Kept back from the search for what follows it: the solver stopping after its limit, the diff
# and the proposal's commit (0.1-0.2 s at 100 technicians x 1,500 orders over 3 days).
FINISH_S, FINISH_SHARE = 0.3, 0.02


def propose(
    session: Session,
    settings: PlanningSettings,
    actor: Actor,
    *,
    outlet_id: int | None = None,
    time_limit_s: float | None = None,
    now: datetime | None = None,
    release: int | None = None,
) -> PlanProposal:
    """Re-plan the horizon's open orders over every technician-day on duty (warm-started from
    the current routes) and store the result as a proposal with its diff. Commits the proposal
    only; orders are untouched. Routes are keyed by technician-day ("12" today, "12@1"
    tomorrow: `dispatch.planning.day.vehicle_key`); a move names the technicians and the days.

    Both plans are timed the same way (`evaluate`) and weighed as the solver weighs them
    (`routing.diff.improves`). A plan no better than today's is stored with `improves` false,
    no moves and today's routes: the search found nothing worth a change, and it says so.

    `release`: a technician who dropped out (dispatch.planning.dropout): their orders not
    started yet are re-planned like unassigned ones, even accepted or pinned ones; such a plan
    is always offered (applying it at least hands back what nobody else can take)."""
    begun = time.perf_counter()
    now = now or utcnow()
    limit = time_limit_s or settings.time_limit_s
    day = load_day(session, settings, now, outlet_id)
    released = release_orders(day, release) if release is not None else []
    timed = time.perf_counter()
    current = evaluate(day.technicians, day.jobs, day.routes)
    evaluated = time.perf_counter()
    search = search_budget(limit, evaluated - begun, evaluated - timed)
    options = SolverOptions(stall_iterations=settings.stall_steps)
    solved = solve(day.problem(), time_limit_s=search, initial=current, options=options)
    new = evaluate(day.technicians, day.jobs, {t: [s.job_id for s in stops] for t, stops in solved.routes.items()})
    better = improves(current, new, day.jobs) or bool(released)
    chosen = new if better else current
    change = diff(current, chosen)
    # The solver weighs lateness from each order's target (its margin before the due time); the
    # dispatcher reads it against the promise, and the margin won or lost as its own figure.
    was, now_ = promise(day, current, settings), promise(day, chosen, settings)
    found = promise(day, new, settings)
    # A move gives an order to another technician (a dropped-out one's orders always move); one
    # that only shifts a technician's own visit to another of their days is not offered: it
    # would change their route without a move of the order (no event, no new version).
    offered = [
        m
        for m in change.moves
        if m.to_tech is not None and (m.job_id in released or _tech(m.from_tech) != _tech(m.to_tech))
    ]
    payload = {
        "t0": now.isoformat(),
        "improves": better,
        "routes": {vehicle_key(t): [s.job_id for s in stops] for t, stops in chosen.routes.items()},
        "etas": {str(s.job_id): day.at(s.arrival_s).isoformat() for stops in chosen.routes.values() for s in stops},
        "versions": {str(oid): o.version for oid, o in day.orders.items()},
        "unserved": [{"order_id": u.job_id, "reason": u.reason} for u in (solved.unserved if better else [])]
        + [{"order_id": oid, "reason": r} for oid, r in day.unplannable.items()],
        "released": released,
        "dropped_technician_id": release,
        "diff": {
            # Only orders that change technician or day are moves; a technician's own visits in
            # a new order are `resequenced`, summarised apart.
            "moves": [
                {"order_id": m.job_id, "from": release if m.job_id in released else _tech(m.from_tech),
                 "to": _tech(m.to_tech), "position": m.new_position,
                 "from_vehicle": None if m.from_tech is None else vehicle_key(m.from_tech),
                 "to_vehicle": vehicle_key(m.to_tech),
                 "version": day.orders[m.job_id].version,
                 "eta": day.at(m.new_eta).isoformat() if m.new_eta is not None else None,
                 "until": _visit_end(day, m.job_id, m.new_eta)}
                for m in offered
            ],
            "resequenced": [{"technician_id": tech_of(t), "vehicle": vehicle_key(t), "orders": ids}
                            for t, ids in change.resequenced.items()],
            "km_saved": round(change.distance_saved_m / 1000, 2),
            "lateness_avoided_min": (was.late_s - now_.late_s) // 60,
            "late_orders_avoided": was.late_orders - now_.late_orders,
            "margin_orders_gained": was.short_of_margin - now_.short_of_margin,
            "newly_served": list(change.newly_served),
            "newly_unserved": list(change.newly_unserved),
            # What the search found, even when it is not offered: the words can say how far off it was.
            "found": {"km_saved": round((current.total_distance_m - new.total_distance_m) / 1000, 2),
                      "lateness_avoided_min": (was.late_s - found.late_s) // 60},
        },
        # The call keeps `time_limit_s` as a whole: the solver got what reading the horizon and
        # timing the plans (before, and again after) leave of it (`search_budget`).
        "timing": {"limit_s": limit, "read_s": round(evaluated - begun, 3), "search_s": round(search, 3),
                   "wall_s": round(time.perf_counter() - begun, 3)},
        "before": {"km": round(current.total_distance_m / 1000, 2), "late_orders": was.late_orders},
        "after": {"km": round(chosen.total_distance_m / 1000, 2), "late_orders": now_.late_orders},
    }  # fmt: skip
    proposal = PlanProposal(created_by_id=actor.user_id, outlet_id=outlet_id, payload=payload, created_at=now)
    with unit_of_work(session):
        session.add(proposal)
    return proposal


@dataclass(frozen=True)
class Promise:
    """A plan against the orders' due times: orders late and seconds late in all, and orders on
    time but inside their margin (done less than `due_margin_minutes` before they are due)."""

    late_orders: int = 0
    late_s: int = 0
    short_of_margin: int = 0


def promise(day: Day, plan: Plan, settings: PlanningSettings) -> Promise:
    """`plan` measured against each order's due time rather than the planner's target. An order
    due already counts from now, as the routing model counts it."""
    late_orders = late_s = short = 0
    margin = 60 * settings.due_margin_minutes
    for stops in plan.routes.values():
        for stop in stops:
            order = day.orders.get(stop.job_id)
            if order is None:
                continue
            due_s = max(0, int((order.due_at - day.t0).total_seconds()))
            late = max(0, stop.start_s - due_s)
            late_orders += late > 0
            late_s += late
            short += late == 0 and stop.start_s > due_s - margin
    return Promise(late_orders, late_s, short)


def search_budget(limit_s: float, spent_s: float, evaluate_s: float) -> float:
    """The solver's share of a re-optimisation asked to finish within `limit_s` seconds:
    what reading the horizon and timing today's plan took (`spent_s`) is gone, and the found
    plan must be timed the same way after the search (`evaluate_s` again, once for the
    solver's own schedule and once for the diff). `routing.solve` counts its own model
    building (the matrices, the first routes) against what it is given. Never below
    `MIN_SEARCH_S`: a plan that took longer to read than its limit still gets a first solution.
    What follows the search (`FINISH_S`, at most `FINISH_SHARE` of a short limit) is kept back."""
    finish = min(FINISH_S, FINISH_SHARE * limit_s)
    return max(MIN_SEARCH_S, limit_s - spent_s - 2 * evaluate_s - finish)


def release_orders(day: Day, tech_id: int) -> list[int]:
    """Free a dropped-out technician's orders in `day` for the plan: the ones not started
    lose their lock to them; started ones (under way) are left out of the plan. The
    technician leaves this plan on every day of the horizon: nobody knows yet when they are
    back (the morning re-plan counts them again once they are), so their orders are planned
    as if unassigned, not kept for their tomorrow."""
    day.technicians = [t for t in day.technicians if tech_of(t.id) != tech_id]
    for v in [v for v in day.routes if tech_of(v) == tech_id]:
        del day.routes[v]
    released = []
    for oid, row in day.orders.items():
        if row.technician_id != tech_id or oid not in day.jobs:
            continue
        if row.status in (Status.EN_ROUTE, Status.ON_SITE):
            del day.jobs[oid]
            continue
        day.jobs[oid] = replace(day.jobs[oid], locked_to=None, started=False)
        released.append(oid)
    return sorted(released)


def _visit_end(day: Day, order_id: int, eta: int | None) -> str | None:
    if eta is None:
        return None
    return day.at(eta + day.jobs[order_id].service_s).isoformat()


@dataclass(frozen=True)
class Refusal:
    """Why a ticked move was not applied: a stable code, and the words (an English template
    and its values, translated where it is shown)."""

    reason: str
    message: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class ApplyResult:
    applied: list[int]
    skipped: dict[int, Refusal]
    resequenced: list[int] = field(default_factory=list)


def apply_proposal(
    session: Session,
    proposal_id: int,
    settings: PlanningSettings,
    actor: Actor,
    now: datetime | None = None,
    *,
    chosen: Mapping[int, int] | None = None,
    resequence: bool = True,
) -> ApplyResult:
    """Apply the moves of a proposal the dispatcher chose, in one transaction.

    `chosen` maps each chosen order to the version the dispatcher saw (None: every move, at
    the versions the proposal saw). Each move is checked again against the day as it is now:
    the order unchanged since the plan and since the dispatcher looked, still movable (not
    pinned, not accepted), and the new technician with the skill, on duty, with room left and
    time before the shift ends. A move that fails is refused with its reason and the others
    still apply. `resequence` also puts the plan's visiting order on the technicians whose own
    visits it only re-orders. A proposal applies once.
    """
    now = now or utcnow()
    proposal = session.get(PlanProposal, proposal_id, with_for_update=True)
    if proposal is None:
        raise NotFound(f"plan proposal {proposal_id} not found")
    if proposal.status != "proposed":
        raise Conflict(f"plan proposal {proposal_id} was {proposal.status} already")
    payload = proposal.payload
    if not payload.get("improves", True):
        raise Conflict("this plan is no better than today's, so there is nothing to apply")
    versions = {int(k): v for k, v in payload["versions"].items()}
    released = set(payload.get("released", []))
    offered = {int(m["order_id"]): m for m in payload["diff"]["moves"]}
    wanted = dict(chosen) if chosen is not None else {oid: versions[oid] for oid in offered}
    plan_routes = {vehicle_from_key(k): ids for k, ids in payload["routes"].items()}
    reordered = (
        {vehicle_from_key(r.get("vehicle", str(r["technician_id"]))) for r in payload["diff"].get("resequenced", [])}
        if resequence
        else set()
    )
    # The optimiser's choice, approved by a person: recorded as theirs, but not a manual lock.
    system = Actor(user_id=actor.user_id, role="system")
    result = ApplyResult(applied=[], skipped={})
    try:
        with unit_of_work(session, stale=_changed_meanwhile):
            touched = {tech_of(v) for v in reordered}
            for oid in wanted:
                if oid in offered:
                    touched |= {t for t in (offered[oid]["from"], offered[oid]["to"]) if t is not None}
            # Every technician's day first, in id order, as a placement or a dispatcher's
            # assignment takes one (day, then order), then the orders in id order: two plans
            # queue instead of deadlocking. NO KEY UPDATE, the lock an ordinary UPDATE takes,
            # so a sweep inserting an event for one of these orders is not held up by it.
            lock_days(session, sorted(touched))
            ids = sorted((set(wanted) & set(offered)) | released)
            orders = {
                o.id: o
                for o in session.scalars(
                    select(WorkOrder)
                    .where(WorkOrder.id.in_(ids))
                    .order_by(WorkOrder.id)
                    .with_for_update(key_share=True)
                )
            }
            day = load_day(session, settings, now, proposal.outlet_id)  # the day as it is now, under the locks
            techs = {t.id: t for t in day.technicians}  # by technician-day
            routes = {v: list(r) for v, r in day.routes.items() if tech_of(v) in touched}
            numbers = dict(
                session.execute(select(WorkOrder.id, WorkOrder.number).where(WorkOrder.id.in_(wanted))).all()
            )
            for oid in sorted(wanted, key=lambda o: (o not in offered, o)):
                move = offered.get(oid)
                number = numbers.get(oid, str(oid))
                if move is None:
                    result.skipped[oid] = Refusal(
                        "not_in_plan", "%(number)s is not a move of this plan", {"number": number}
                    )
                    continue
                order = orders.get(oid)
                refusal = _refusal(
                    session,
                    order,
                    number,
                    wanted[oid],
                    versions.get(oid),
                    move,
                    day,
                    techs,
                    routes,
                    now,
                    settings,
                    released=oid in released,
                )
                to = _to_vehicle(move)
                if refusal is None:
                    route = _with(plan_routes.get(to, []), routes.get(to, []), oid, techs[to], day.jobs, resequence)
                    stops = time_route(techs[to], day.jobs, route)[0]
                    stop = next(s for s in stops if s.job_id == oid)
                    if stop.departure_s > techs[to].shift_end:
                        refusal = Refusal("shift", "%(name)s's shift ends at %(end)s, before this order could be done there",
                                          {"name": _name(session, tech_of(to)), "end": day.at(techs[to].shift_end).astimezone(settings.timezone).strftime("%H:%M")})  # fmt: skip
                if refusal is not None:
                    result.skipped[oid] = refusal
                    continue
                for v in routes:  # off the day it was on (any technician's, any day)
                    routes[v] = [x for x in routes[v] if x != oid]
                routes[to] = route
                if order.technician_id != tech_of(to):
                    # A later day: no on-duty-today check, the plan gave a day the technician works.
                    apply_move(
                        session, order, "assign", system, technician_id=tech_of(to),
                        timezone=settings.timezone if offset_of(to) == 0 else None, now=now,
                        data={"by": "reoptimisation", "proposal_id": proposal.id, "eta": day.at(stop.arrival_s).isoformat(),
                              "position": route.index(oid)},
                    )  # fmt: skip
                result.applied.append(oid)
            # Each technician's days in day order: their stops' sequence runs on across days.
            for tech_id in sorted(touched):
                timed: list[tuple[int, datetime | None]] = []
                mine = sorted((v for v in routes if tech_of(v) == tech_id), key=offset_of)
                if not mine:
                    continue  # off duty in the whole horizon now: their route is not ours to write
                for v in mine:
                    route = routes[v]
                    if v in reordered:
                        route = _in_plan_order(plan_routes.get(v, []), route)
                        if route != routes[v] and tech_id not in result.resequenced:
                            result.resequenced.append(tech_id)
                    stops = time_route(techs[v], day.jobs, route)[0]
                    etas = {s.job_id: day.at(s.arrival_s) for s in stops}
                    timed += [(oid, etas.get(oid)) for oid in route]
                timed = one_after_another(timed, day)
                replace_route(session, tech_id, timed + left_out(session, tech_id, timed), now)
            left = released - set(result.applied) - set(result.skipped)
            _unassign_left_behind(session, proposal, left, versions, actor, now, result)
            proposal.status, proposal.applied_at = "applied", now
    except IntegrityError:
        raise _changed_meanwhile() from None
    return result


def _refusal(
    session: Session,
    order: WorkOrder | None,
    number: str,
    seen_version: int,
    plan_version: int | None,
    move: Mapping[str, Any],
    day: Day,
    techs: Mapping[Hashable, RoutingTechnician],
    routes: Mapping[Hashable, list[int]],
    now: datetime,
    settings: PlanningSettings,
    *,
    released: bool = False,
) -> Refusal | None:
    """Why this move cannot be applied now, or None when it can (a dropped-out technician's
    order, `released`, moves even when accepted or pinned)."""
    if order is None or order.version != seen_version or order.version != plan_version:
        return Refusal("changed", "%(number)s changed since the plan was made", {"number": number})
    if (order.status not in MOVABLE or order.assignment_locked) and not released:
        return Refusal("kept", "%(number)s is pinned or accepted; it stays with its technician", {"number": number})
    to = _to_vehicle(move)
    if order.technician_id != (int(move["from"]) if move["from"] is not None else None):
        return Refusal("changed", "%(number)s changed since the plan was made", {"number": number})
    row = session.get(Technician, tech_of(to))
    name = row.name if row is not None else str(to)
    if row is None or order.required_skill not in row.skill_codes:
        skill = order.required_skill
        return Refusal("skill", "%(name)s lacks the skill %(skill)s", {"name": name, "skill": skill})
    today_off = offset_of(to) == 0 and not can_take_work(row, now, settings.timezone)
    if not row.active or today_off or to not in techs:
        return Refusal("off_duty", "%(name)s is off duty or on leave that day", {"name": name})
    if order.id not in day.jobs:
        return Refusal(
            "no_location", "%(number)s has no location yet, so it cannot be placed on a route", {"number": number}
        )
    if len(routes.get(to, [])) >= techs[to].max_jobs:
        return Refusal("capacity", "%(name)s has no room left today (daily capacity %(capacity)s)",
                       {"name": name, "capacity": row.daily_capacity})  # fmt: skip
    return None


def _tech(vehicle_id: Any) -> int | None:
    return None if vehicle_id is None else tech_of(vehicle_id)


def _to_vehicle(move: Mapping[str, Any]) -> Hashable:
    """The technician-day a move goes to (a proposal from before the horizon names only today's)."""
    return vehicle_from_key(str(move.get("to_vehicle") or move["to"]))


def _name(session: Session, tech_id: int) -> str:
    row = session.get(Technician, tech_id)
    return row.name if row is not None else str(tech_id)


def _in_plan_order(plan_route: Sequence[int], route: Sequence[int]) -> list[int]:
    """`route`'s orders in the plan's order; those the plan did not place keep their place after."""
    members = set(route)
    return [oid for oid in plan_route if oid in members] + [oid for oid in route if oid not in set(plan_route)]


def _with(
    plan_route: Sequence[int],
    route: Sequence[int],
    oid: int,
    tech: RoutingTechnician,
    jobs: Mapping[Hashable, Job],
    resequence: bool,
) -> list[int]:
    """The technician's route with `oid` added: in the plan's order when the plan's visiting
    order is wanted, otherwise at the cheapest place of their route as it is (never ahead of
    work under way, which `load_day` puts first)."""
    if resequence:
        return _in_plan_order(plan_route, [*route, oid])
    started = sum(1 for j in route if jobs[j].started)
    best, best_cost = None, None
    for i in range(started, len(route) + 1):
        candidate = [*route[:i], oid, *route[i:]]
        stops, metres = time_route(tech, jobs, candidate)
        price = metres + LATE_COST_PER_S * sum(s.late_s for s in stops)
        if best_cost is None or price < best_cost:
            best, best_cost = candidate, price
    return best or [*route, oid]


def _unassign_left_behind(
    session: Session,
    proposal: PlanProposal,
    ids: set[int],
    versions: Mapping[int, int],
    actor: Actor,
    now: datetime,
    result: ApplyResult,
) -> None:
    """A dropped-out technician's orders the plan could place nowhere go back to the
    dispatcher's queue of new orders instead of staying with someone who cannot come."""
    dropped = proposal.payload.get("dropped_technician_id")
    for oid in sorted(ids):
        order = session.get(WorkOrder, oid)
        if order is None or order.technician_id != dropped or order.status not in MOVABLE | {Status.ACCEPTED}:
            continue
        if order.version != versions.get(oid):
            result.skipped[oid] = Refusal(
                "changed", "%(number)s changed since the plan was made", {"number": order.number}
            )
            continue
        apply_move(session, order, "unassign", actor, now=now, data={"by": "drop_out", "proposal_id": proposal.id})
        result.applied.append(oid)


def _changed_meanwhile() -> Conflict:
    return Conflict("orders changed while the plan was being applied; run the optimisation again")


def proposal_summary(proposal: PlanProposal) -> dict[str, Any]:
    return {"id": proposal.id, "status": proposal.status, "created_at": proposal.created_at, **proposal.payload}
