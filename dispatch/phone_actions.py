"""What a technician does from the phone: replay-safe moves and the completion report (the
phone's read model, what it shows, is `dispatch.phone`).

Plain Python use cases (no Flask); each commits once. A phone that lost its connection
replays queued actions with the `Idempotency-Key` it made when the technician tapped; the key
is stored in the event the action wrote, so a replay of an action that was already applied
returns the order as it is instead of failing or applying twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts import Actor
from core.db import unit_of_work
from core.errors import Conflict, DomainError, PermissionDenied, ValidationFailed
from dispatch.events import record_event
from dispatch.lifecycle import Status
from dispatch.models import Photo, WorkOrder, WorkOrderEvent
from dispatch.moves import Position, apply_move, check_version, get_order, raced
from dispatch.sla.policy import SlaPolicy

# What a technician ticks off before completing, per issue category (config TECH_CHECKLISTS
# replaces this; each item is a code, labelled in web/labels.py or shown as written).
DEFAULT_CHECKLISTS: dict[str, list[str]] = {
    "repair": ["diagnose", "replace_parts", "test_run", "explain_to_customer", "clean_up"],
    "installation": ["check_site", "mount", "connect", "test_run", "explain_to_customer", "clean_up"],
    "maintenance": ["inspect", "clean", "test_run", "explain_to_customer"],
    "complaint": ["listen", "inspect", "resolve", "explain_to_customer"],
}
REPORT_STATUSES = frozenset({Status.ON_SITE, Status.COMPLETED})
MAX_PARTS = 30
MAX_FEE = 100_000


def checklist_for(checklists: dict[str, list[str]] | None, issue_category: str) -> list[str]:
    table = checklists or DEFAULT_CHECKLISTS
    return list(table.get(issue_category) or DEFAULT_CHECKLISTS.get(issue_category) or [])


def _event_with_key(session: Session, order_id: int, key: str, kinds: tuple[str, ...]) -> WorkOrderEvent | None:
    """The order's event written by the action with this key (an order has few events)."""
    events = session.scalars(
        select(WorkOrderEvent).where(WorkOrderEvent.order_id == order_id, WorkOrderEvent.kind.in_(kinds))
    )
    for event in events:
        if (event.data or {}).get("idempotency_key") == key:
            return event
    return None


event_with_key = _event_with_key  # for the other replay-safe phone actions (dispatch.parts)


def _check_key(key: str | None) -> None:
    if key is not None and not 1 <= len(key) <= 128:
        raise ValidationFailed({"Idempotency-Key": "must be 1-128 characters"})


def apply_action(
    session: Session,
    order_id: int,
    action: str,
    actor: Actor,
    *,
    version: int,
    key: str | None,
    reason: str | None = None,
    position: Position | None = None,
    timezone: ZoneInfo | None = None,
    sla: SlaPolicy | None = None,
    now: datetime | None = None,
) -> tuple[WorkOrder, bool]:
    """Apply one lifecycle move once per key; returns (order, replayed).

    A replay (the key is already in the order's trail) changes nothing and returns the order;
    otherwise it is `dispatch.moves.transition` with the key kept in the event.
    """
    _check_key(key)

    def stale() -> DomainError:
        fresh = session.get(WorkOrder, order_id)
        if fresh is not None and key is not None and _event_with_key(session, order_id, key, (action,)):
            session.rollback()
            return _SameMoveWon(fresh)  # the same action, sent twice at once: the other one won
        session.rollback()
        return raced(session, order_id)

    try:
        with unit_of_work(session, stale=stale):
            order = get_order(session, order_id, actor)
            if key is not None and _event_with_key(session, order_id, key, (action,)) is not None:
                session.rollback()  # a replay writes nothing: end the read transaction (SQLite holds writers otherwise)
                return order, True
            check_version(order, version)
            apply_move(
                session, order, action, actor, reason=reason, position=position, timezone=timezone, sla=sla, now=now,
                data={"idempotency_key": key} if key else None,
            )  # fmt: skip
    except _SameMoveWon as won:
        return won.order, True
    return order, False


class _SameMoveWon(DomainError):
    """Not an error for the caller: a concurrent copy of this very move (same key) committed first."""

    def __init__(self, order: WorkOrder) -> None:
        super().__init__("the same move was applied by a concurrent request")
        self.order = order


def existing_photo(session: Session, order: WorkOrder, data: bytes) -> Photo | None:
    """The same file already stored on this visit of this order (a replayed upload)."""
    digest = hashlib.sha256(data).hexdigest()
    return session.scalar(
        select(Photo).where(Photo.order_id == order.id, Photo.visit == order.visit_count, Photo.sha256 == digest)
    )


@dataclass
class CompletionReport:
    """What the technician records with a completion: checklist, parts, fee, notes."""

    checklist: list[str] = field(default_factory=list)
    parts: list[dict[str, Any]] = field(default_factory=list)
    fee: float = 0.0
    fee_note: str = ""
    notes: str = ""


def validate_report(report: CompletionReport, order: WorkOrder, allowed_items: list[str]) -> dict[str, Any]:
    """Check a report against the order's job type; return the data to store."""
    errors: dict[str, str] = {}
    unknown = [c for c in report.checklist if c not in allowed_items]
    if unknown:
        errors["checklist"] = f"unknown checklist items: {', '.join(unknown)}"
    elif len(set(report.checklist)) != len(report.checklist):
        errors["checklist"] = "an item is listed twice"
    parts = []
    if len(report.parts) > MAX_PARTS:
        errors["parts"] = f"at most {MAX_PARTS} parts"
    for part in report.parts[:MAX_PARTS]:
        name = str(part.get("name") or "").strip()
        qty = part.get("qty", 1)
        if not name or len(name) > 100:
            errors["parts"] = "every part needs a name of at most 100 characters"
        elif not isinstance(qty, int) or isinstance(qty, bool) or not 1 <= qty <= 999:
            errors["parts"] = "a part's quantity must be a whole number from 1 to 999"
        else:
            parts.append({"name": name, "qty": qty})
    if not 0 <= report.fee <= MAX_FEE:
        errors["fee"] = f"must be between 0 and {MAX_FEE}"
    fee_note = (report.fee_note or "").strip()
    if order.in_warranty and report.fee > 0 and not fee_note:
        errors["fee_note"] = "say why an in-warranty job is charged"
    if len(fee_note) > 255:
        errors["fee_note"] = "must be at most 255 characters"
    notes = (report.notes or "").strip()
    if len(notes) > 2000:
        errors["notes"] = "must be at most 2000 characters"
    if errors:
        raise ValidationFailed(errors)
    return {
        "visit": order.visit_count,
        "checklist": list(report.checklist),
        "checklist_items": list(allowed_items),
        "parts": parts,
        "fee": round(float(report.fee), 2),
        "fee_note": fee_note,
        "in_warranty": order.in_warranty,
        "notes": notes,
    }


def submit_report(
    session: Session,
    order_id: int,
    report: CompletionReport,
    actor: Actor,
    *,
    checklists: dict[str, list[str]] | None = None,
    key: str | None = None,
) -> tuple[WorkOrderEvent, bool]:
    """Record the completion report as a `completion_report` event; returns (event, replayed).

    Only the order's own technician, on site (or just completed), reports. A later report for
    the same visit supersedes the earlier one (both stay in the trail).
    """
    _check_key(key)
    with unit_of_work(session):
        order = get_order(session, order_id, actor)
        if actor.role != "technician" or actor.technician_id != order.technician_id:
            raise PermissionDenied("only the technician assigned to this order may do that")
        if key is not None:
            earlier = _event_with_key(session, order_id, key, ("completion_report",))
            if earlier is not None:
                session.rollback()  # a replay writes nothing: end the read transaction at once
                return earlier, True
        if order.status not in REPORT_STATUSES:
            raise Conflict(f"a completion report is written on site; this order is {order.status}")
        data = validate_report(report, order, checklist_for(checklists, order.issue_category))
        if key is not None:
            data["idempotency_key"] = key
        event = record_event(
            session, order, "completion_report", actor, from_status=order.status, to_status=order.status, data=data
        )
    return event, False
