"""Re-optimisation: the open, not-started orders re-planned with OR-Tools (warm-started from
the current routes), shown to the dispatcher as a diff and applied atomically, only to orders
still as the plan saw them."""

from __future__ import annotations

from dataclasses import dataclass, replace
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
from dispatch.planning.day import MOVABLE, Day, PlanningSettings, load_day
from dispatch.planning.routes import left_out, lock_days, replace_route
from routing import diff, solve
from routing.evaluate import evaluate


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
    """Re-plan today's open orders (warm-started from the current routes) and store the
    result as a proposal with its diff. Commits the proposal only; orders are untouched.

    `release`: a technician who dropped out (dispatch.planning.dropout): their orders not
    started yet are re-planned like unassigned ones, even accepted or pinned ones."""
    now = now or utcnow()
    day = load_day(session, settings, now, outlet_id)
    released = release_orders(day, release) if release is not None else []
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
        "released": released,
        "dropped_technician_id": release,
        "diff": {
            "moves": [
                {"order_id": m.job_id, "from": release if m.job_id in released else m.from_tech, "to": m.to_tech,
                 "position": m.new_position,
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
    with unit_of_work(session):
        session.add(proposal)
    return proposal


def release_orders(day: Day, tech_id: int) -> list[int]:
    """Free a dropped-out technician's orders in `day` for the plan: the ones not started
    lose their lock to them; started ones (under way) are left out of the plan."""
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
    released = set(payload.get("released", []))
    # The optimiser's choice, approved by a person: recorded as theirs, but not a manual lock.
    system = Actor(user_id=actor.user_id, role="system")
    result = ApplyResult(applied=[], skipped={})
    days: dict[int, list[tuple[int, datetime | None]]] = {}
    try:
        with unit_of_work(session, stale=_changed_meanwhile):
            # Lock every order the plan touches, in id order, before changing any: two plans
            # then queue instead of deadlocking. NO KEY UPDATE, the lock an ordinary UPDATE
            # takes, so a sweep inserting an event for one of these orders (a foreign-key check)
            # is not held up by it. The event counter is taken only at commit (dispatch/events.py).
            # Every technician's day first, in id order, as a placement or a dispatcher's
            # assignment takes one (day, then order): otherwise an assignment holding a moved
            # order's old stop and a plan holding the new technician's stops wait for each other.
            lock_days(session, sorted(int(t) for t in payload["routes"]))
            ids = sorted({oid for order_ids in payload["routes"].values() for oid in order_ids} | released)
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
                        if (order.status not in MOVABLE or order.assignment_locked) and oid not in released:
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
                replace_route(session, tech_id, stops + left_out(session, tech_id, stops), now)
            _unassign_left_behind(session, proposal, released - set(result.applied), versions, actor, now, result)
            proposal.status, proposal.applied_at = "applied", now
    except IntegrityError:
        raise _changed_meanwhile() from None
    return result


def _unassign_left_behind(session, proposal, ids, versions, actor, now, result) -> None:
    """A dropped-out technician's orders the plan could place nowhere go back to the
    dispatcher's queue of new orders instead of staying with someone who cannot come."""
    dropped = proposal.payload.get("dropped_technician_id")
    for oid in sorted(ids):
        order = session.get(WorkOrder, oid)
        if order is None or order.technician_id != dropped or order.status not in MOVABLE | {Status.ACCEPTED}:
            continue
        if order.version != versions.get(oid):
            result.skipped[oid] = "changed since the plan was made"
            continue
        apply_move(session, order, "unassign", actor, now=now, data={"by": "drop_out", "proposal_id": proposal.id})
        result.applied.append(oid)


def _changed_meanwhile() -> Conflict:
    return Conflict("orders changed while the plan was being applied; run the optimisation again")


def proposal_summary(proposal: PlanProposal) -> dict[str, Any]:
    return {"id": proposal.id, "status": proposal.status, "created_at": proposal.created_at, **proposal.payload}
