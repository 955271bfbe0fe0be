"""Waiting for parts (待件): on site the technician records the part a repair needs; the order
leaves the route and waits; when the part arrives it is planned again, and the follow-up is
a visit like a second one (`visit_count` moves on).

Plain use cases (no Flask); each commits once. The waiting queue for the board is a read model.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts import Actor
from core.db import unit_of_work, utcnow
from core.errors import ValidationFailed
from dispatch.lifecycle import Status
from dispatch.models import PartsRequest, SlaClock, WorkOrder
from dispatch.moves import Position, apply_move, check_version, get_order, raced
from dispatch.permissions import scope_orders
from dispatch.phone_actions import event_with_key
from dispatch.sla.policy import SlaPolicy
from technicians.models import Technician

MAX_QUANTITY = 999
PART_LENGTH = 200


@dataclass(frozen=True)
class PartNeeded:
    """What the technician records: the part, how many, and the day it is expected."""

    part: str
    quantity: int
    expected_on: date


def check_part(need: PartNeeded, today: date) -> PartNeeded:
    """The request as it will be stored, or ValidationFailed naming each bad field."""
    errors = {}
    part = (need.part or "").strip()
    if not part:
        errors["part"] = "say which part is needed"
    elif len(part) > PART_LENGTH:
        errors["part"] = "must be at most 200 characters"
    if isinstance(need.quantity, bool) or not isinstance(need.quantity, int) or not 1 <= need.quantity <= MAX_QUANTITY:
        errors["quantity"] = "must be a whole number from 1 to 999"
    if not isinstance(need.expected_on, date):
        errors["expected_on"] = "must be a date"
    elif need.expected_on < today:
        errors["expected_on"] = "cannot be in the past"
    elif (need.expected_on - today).days > 366:
        errors["expected_on"] = "must be within a year"
    if errors:
        raise ValidationFailed(errors)
    return PartNeeded(part, need.quantity, need.expected_on)


def request_part(
    session: Session,
    order_id: int,
    actor: Actor,
    need: PartNeeded,
    *,
    version: int,
    timezone: ZoneInfo,
    key: str | None = None,
    position: Position | None = None,
    now: datetime | None = None,
) -> tuple[WorkOrder, bool]:
    """Record that the order waits for a part: it leaves its technician's day (status
    `waiting_parts`, no technician, no route stop). Returns (order, replayed).

    Replay-safe like every phone action: the key is kept in the event, and a replay by the
    same person returns the order (which the technician can no longer see otherwise)."""
    now = now or utcnow()
    if key is not None:
        earlier = event_with_key(session, order_id, key, ("need_part",))
        if earlier is not None and earlier.actor_id == actor.user_id:
            order = session.get(WorkOrder, order_id)
            session.rollback()  # a replay writes nothing: end the read transaction at once
            return order, True
    with unit_of_work(session, stale=lambda: raced(session, order_id)):
        order = get_order(session, order_id, actor, lock=True)
        need = check_part(need, now.astimezone(timezone).date())
        check_version(order, version)
        visit = order.visit_count
        data: dict[str, Any] = {
            "part": need.part,
            "quantity": need.quantity,
            "expected_on": need.expected_on.isoformat(),
        }
        if key is not None:
            data["idempotency_key"] = key
        apply_move(session, order, "need_part", actor, position=position, timezone=timezone, now=now, data=data)
        session.add(
            PartsRequest(
                order_id=order.id, visit=visit, part=need.part, quantity=need.quantity,
                expected_on=need.expected_on, requested_at=now, requested_by_id=actor.user_id,
            )
        )  # fmt: skip
    return order, False


def part_arrived(
    session: Session,
    order_id: int,
    actor: Actor,
    *,
    version: int,
    sla: SlaPolicy | None = None,
    now: datetime | None = None,
) -> WorkOrder:
    """The part is here: the order is new again (a follow-up visit) and goes back into
    planning (the caller places it, as intake does, after this commit).

    With the policy `parts_pause_clock` the completion clock (and the order's due time) moves
    on by the time spent waiting; by default it does not, and the KPI names the wait."""
    now = now or utcnow()
    sla = sla or SlaPolicy()
    with unit_of_work(session, stale=lambda: raced(session, order_id)):
        order = get_order(session, order_id, actor, lock=True)
        check_version(order, version)
        waiting = list(
            session.scalars(
                select(PartsRequest).where(PartsRequest.order_id == order.id, PartsRequest.arrived_at.is_(None))
            )
        )
        waited = now - min((r.requested_at for r in waiting), default=now)
        data: dict[str, Any] = {"parts": [r.part for r in waiting], "waited_minutes": int(waited.total_seconds() // 60)}
        if sla.parts_pause_clock and waited.total_seconds() > 0:
            data["clock_paused_minutes"] = data["waited_minutes"]
            _pause_completion(session, order, waited)
        apply_move(session, order, "part_arrived", actor, now=now, data=data)
        for r in waiting:
            r.arrived_at, r.arrived_by_id = now, actor.user_id
    return order


def _pause_completion(session: Session, order: WorkOrder, waited) -> None:
    """The policy that waiting pauses the clock: the running completion deadline moves on."""
    order.due_at = order.due_at + waited
    clock = session.get(SlaClock, (order.id, "completion"))
    if clock is not None and clock.stopped_at is None and clock.breached_at is None:
        clock.due_at += waited
        clock.warn_at += waited


def waiting_for(session: Session, order_ids: list[int]) -> dict[int, PartsRequest]:
    """Each order's latest part request (what the tracking page and the phone say)."""
    out: dict[int, PartsRequest] = {}
    if order_ids:
        for r in session.scalars(
            select(PartsRequest).where(PartsRequest.order_id.in_(order_ids)).order_by(PartsRequest.id)
        ):
            out[r.order_id] = r
    return out


def waiting_queue(session: Session, actor: Actor, today: date, *, limit: int = 200) -> list[dict[str, Any]]:
    """The board's "waiting for parts" queue: orders the actor may see, soonest expected first;
    `late` when the expected day has passed."""
    query = scope_orders(select(WorkOrder).where(WorkOrder.status == Status.WAITING_PARTS.value), actor).order_by(
        WorkOrder.id
    )
    orders = list(session.scalars(query.limit(limit)))
    requests = waiting_for(session, [o.id for o in orders])
    tech_ids = {r.requested_by_id for r in requests.values()}
    names = dict(
        session.execute(select(Technician.user_id, Technician.name).where(Technician.user_id.in_(tech_ids))).all()
    )
    rows = []
    for o in orders:
        r = requests.get(o.id)
        rows.append(
            {
                "order_id": o.id, "number": o.number, "version": o.version, "address": o.address,
                "priority": o.priority, "due_at": o.due_at,
                "part": r.part if r else "", "quantity": r.quantity if r else 0,
                "expected_on": r.expected_on if r else None, "requested_at": r.requested_at if r else None,
                "requested_by": names.get(r.requested_by_id, "") if r else "",
                "late": bool(r and r.expected_on < today),
            }
        )  # fmt: skip
    rows.sort(key=lambda row: (row["expected_on"] or date.max, row["order_id"]))
    return rows
