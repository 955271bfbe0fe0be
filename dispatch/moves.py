"""A work order's lifecycle moves as use cases: `transition` (a move someone asked for, checked
against the lifecycle table and committed), `apply_move` (the same inside a caller's transaction),
`set_priority`, and the order lookup and version check every move starts with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.accounts import DISPATCH_ROLES, Actor
from core.db import unit_of_work, utcnow
from core.errors import Conflict, NotFound, PermissionDenied, StaleWrite, ValidationFailed
from dispatch import proof
from dispatch.authenticity import recompute
from dispatch.catalog import PRIORITIES
from dispatch.events import record_event
from dispatch.lifecycle import UNFINISHED, check_move
from dispatch.models import RouteStop, WorkOrder
from dispatch.permissions import can_assign_to, can_view_order, is_own_technician
from dispatch.sla.clocks import start_callback_clock, stop_clocks
from dispatch.sla.policy import SlaPolicy
from routing.geo import haversine_m
from technicians.availability import can_take_work
from technicians.models import Technician
from technicians.network import record_position

# A customer's tracking link keeps working this long after the order ended (closed or
# cancelled): long enough to answer the survey or see the cancellation, then it stops.
TRACKING_GRACE = timedelta(days=30)


def end_tracking(order: WorkOrder, now: datetime) -> None:
    """The order has ended: its tracking link stops working after the grace period."""
    order.tracking_expires_at = now + TRACKING_GRACE


@dataclass(frozen=True)
class Position:
    """Where the actor was when acting (browser geolocation), WGS-84."""

    lat: float
    lon: float
    accuracy_m: float | None = None


def get_order(session: Session, order_id: int, actor: Actor, *, lock: bool = False) -> WorkOrder:
    """The order, if it exists and `actor` may see it; otherwise NotFound (no existence leak).
    `lock=True` reads it afresh and holds its row until the commit (FOR NO KEY UPDATE, the lock
    an ordinary UPDATE takes; SQLite's transactions are serial anyway)."""
    if lock:
        order = session.scalar(
            select(WorkOrder)
            .where(WorkOrder.id == order_id)
            .with_for_update(key_share=True)
            .execution_options(populate_existing=True)
        )
    else:
        order = session.get(WorkOrder, order_id)
    if order is None or not can_view_order(actor, order):
        raise NotFound(f"work order {order_id} not found")
    return order


def check_version(order: WorkOrder, version: int) -> None:
    """Refuse a write based on an out-of-date read of the order (optimistic locking)."""
    if order.version != version:
        raise StaleWrite(
            f"work order {order.number} was changed by someone else (version {order.version}, "
            f"you had {version}); reload it and try again",
            current_version=order.version,
        )


def raced(session: Session, order_id: int) -> StaleWrite:
    """The error for a concurrent writer that won between our read and our write (the
    session must already be rolled back)."""
    fresh = session.get(WorkOrder, order_id)
    return StaleWrite(
        "the work order was changed by someone else at the same moment; reload it and try again",
        current_version=fresh.version if fresh else -1,
    )


def transition(
    session: Session,
    order_id: int,
    action: str,
    actor: Actor,
    *,
    version: int,
    reason: str | None = None,
    technician_id: int | None = None,
    position: Position | None = None,
    timezone: ZoneInfo | None = None,
    sla: SlaPolicy | None = None,
    now: datetime | None = None,
) -> WorkOrder:
    """Apply one lifecycle move to an order the caller read at `version`, and commit.

    Raises NotFound, PermissionDenied, InvalidTransition (status does not allow the move),
    StaleWrite (someone changed the order since `version`) or ValidationFailed. The order
    change and its event are one transaction.
    """
    with unit_of_work(session, stale=lambda: raced(session, order_id)):
        order = get_order(session, order_id, actor)
        check_version(order, version)
        apply_move(
            session, order, action, actor,
            reason=reason, technician_id=technician_id, position=position, timezone=timezone, sla=sla, now=now,
        )  # fmt: skip
    return order


def apply_move(
    session: Session,
    order: WorkOrder,
    action: str,
    actor: Actor,
    *,
    reason: str | None = None,
    technician_id: int | None = None,
    position: Position | None = None,
    timezone: ZoneInfo | None = None,
    sla: SlaPolicy | None = None,
    now: datetime | None = None,
    data: dict | None = None,
) -> WorkOrder:
    """Check and apply one move inside the caller's transaction (no commit). `sla` (the
    configured defaults; the built-in ones when not given) sets a completion's callback clock.

    The order's UPDATE carries its version, so a concurrent writer makes the flush fail
    rather than overwrite (StaleDataError, which the caller's unit of work turns into StaleWrite).
    """
    now = now or utcnow()
    move = check_move(action, order.status, actor.role, is_own_technician=is_own_technician(actor, order))
    reason = (reason or "").strip() or None
    if "reason" in move.requires and not reason:
        raise ValidationFailed({"reason": f"a reason is required to {action} an order"})
    data = dict(data or {})
    if reason:
        data["reason"] = reason
    previous_status, previous_technician = order.status, order.technician_id

    if "technician" in move.requires:
        tech = _assignable_technician(session, order, technician_id, actor, timezone, now)
        if order.technician_id is not None and order.technician_id != tech.id:
            data["previous_technician_id"] = order.technician_id
        order.technician_id = tech.id
        order.outlet_id = tech.outlet_id
        order.assignment_locked = actor.role != "system"
        data["technician_id"] = tech.id
    if "proof" in move.requires:
        proof.check_completion(session, order)

    if "part" in move.requires and not data.get("part"):
        raise ValidationFailed({"part": "is required: the part needed, its quantity and expected date"})

    if action in ("unassign", "reject", "need_part"):
        data["previous_technician_id"] = order.technician_id
        order.technician_id = None
        order.assignment_locked = False
    elif action == "contact":
        order.contacted_at = now
    elif action == "complete":
        order.completed_at = now
    elif action == "close":
        order.closed_at = now
        end_tracking(order, now)
    elif action == "cancel":
        end_tracking(order, now)
    elif action == "return":
        order.visit_count += 1
        order.completed_at = None
    elif action == "part_arrived":
        order.visit_count += 1  # the follow-up visit, like a second one

    if position is not None:
        data.update(_position_data(order, position))
        if action == "arrive" and is_own_technician(actor, order):
            _check_in_position(session, order, position, now)
    if move.target is not None:
        order.status = move.target.value
    order.updated_at = now  # every move is a write: the version always moves on with its event
    if order.technician_id != previous_technician:
        # Its planned slot was in the previous technician's day: left there, it would share
        # that slot with whatever the next plan puts in it. A planner writes a new stop.
        session.execute(delete(RouteStop).where(RouteStop.order_id == order.id))
    stop_clocks(session, order.id, action, now)
    record_event(
        session, order, action, actor,
        from_status=previous_status, to_status=order.status, data=data,
        location=(position.lat, position.lon, position.accuracy_m) if position else None, at=now,
    )  # fmt: skip
    if action == "complete":
        recompute(session, order, now)
        start_callback_clock(session, order, now, sla or SlaPolicy())
    return order


def set_priority(
    session: Session, order_id: int, priority: str, actor: Actor, *, version: int, now: datetime | None = None
) -> WorkOrder:
    """Change an open order's priority (dispatchers); recorded as a `priority` event."""
    now = now or utcnow()
    with unit_of_work(session, stale=lambda: raced(session, order_id)):
        order = get_order(session, order_id, actor)
        if actor.role not in DISPATCH_ROLES:
            raise PermissionDenied(f"the {actor.role} role may not change an order's priority")
        if priority not in PRIORITIES:
            raise ValidationFailed({"priority": f"must be one of {', '.join(PRIORITIES)}"})
        check_version(order, version)
        if order.status not in UNFINISHED:
            raise Conflict(f"the priority of a {order.status} order cannot change")
        previous, order.priority, order.updated_at = order.priority, priority, now
        record_event(session, order, "priority", actor, from_status=order.status, to_status=order.status,
                     data={"from": previous, "to": priority}, at=now)  # fmt: skip
    return order


def _assignable_technician(
    session: Session, order: WorkOrder, technician_id: int | None, actor: Actor, tz: ZoneInfo | None, now: datetime
) -> Technician:
    if technician_id is None:
        raise ValidationFailed({"technician_id": "is required to assign an order"})
    tech = session.get(Technician, technician_id)
    if tech is None:
        raise ValidationFailed({"technician_id": f"technician {technician_id} does not exist"})
    if not can_assign_to(actor, tech.outlet_id):
        raise PermissionDenied("you may assign orders only to technicians of your own outlet")
    problems = []
    if order.required_skill not in tech.skill_codes:
        problems.append(f"lacks the skill '{order.required_skill}'")
    if not tech.active:
        problems.append("is not active")
    elif tz is not None and not can_take_work(tech, now, tz):
        problems.append("is off duty or on leave today")
    if problems:
        raise ValidationFailed({"technician_id": f"{tech.name} " + " and ".join(problems)})
    return tech


def _check_in_position(session: Session, order: WorkOrder, position: Position, now: datetime) -> None:
    """The check-in's position is where the technician is now, as an en-route ping would say
    (planning starts their day there; the next customer's live ETA drives from there). A
    check-in replayed late from an offline phone never replaces a newer position."""
    tech = session.get(Technician, order.technician_id)
    if tech is not None and (tech.last_seen_at is None or tech.last_seen_at <= now):
        record_position(session, tech, position.lat, position.lon, now)


def _position_data(order: WorkOrder, position: Position) -> dict:
    errors = {}
    if not -90 <= position.lat <= 90:
        errors["lat"] = "must be a latitude between -90 and 90"
    if not -180 <= position.lon <= 180:
        errors["lon"] = "must be a longitude between -180 and 180"
    if errors:
        raise ValidationFailed(errors)
    if order.lat is None or order.lon is None:
        return {}
    distance = float(haversine_m([(position.lat, position.lon)], [(order.lat, order.lon)])[0, 0])
    return {"distance_to_address_m": round(distance)}
