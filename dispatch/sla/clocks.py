"""The SLA clocks in the database: started at intake, stopped by lifecycle moves, and the
admin-edited rules that set them."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.audit import apply_changes, record_change
from core.db import transactional
from core.errors import NotFound, ValidationFailed
from dispatch.catalog import CHANNELS, ISSUE_CATEGORIES, PRIORITIES
from dispatch.models import SlaClock, SlaRule, WorkOrder
from dispatch.sla.policy import (
    STOPPED_BY,
    BusinessHours,
    Deadline,
    SlaPolicy,
    callback_deadline,
    choose_rule,
    intake_deadlines,
)
from technicians.models import Outlet

RULE_FIELDS = (
    "name", "priority", "issue_category", "channel", "contact_minutes", "arrival_minutes",
    "completion_minutes", "callback_minutes", "warn_ratio", "pause_overnight", "active",
)  # fmt: skip


def active_rules(session: Session) -> list[SlaRule]:
    return list(session.scalars(select(SlaRule).where(SlaRule.active.is_(True)).order_by(SlaRule.id)))


def intake_clocks(session: Session, order: WorkOrder, policy: SlaPolicy, timezone: ZoneInfo) -> list[Deadline]:
    """The order's deadlines from the most specific rule, set before the order is stored: the
    completion deadline is its `due_at` (computed here and nowhere else), shown everywhere
    with a countdown. `start_intake_clocks` starts them once the order has its id."""
    rule = choose_rule(active_rules(session), order.priority, order.issue_category, order.channel)
    hours = None
    if rule is not None and rule.pause_overnight and order.outlet_id is not None:
        outlet = session.get(Outlet, order.outlet_id)
        if outlet is not None and outlet.opens_at is not None and outlet.closes_at is not None:
            hours = BusinessHours(outlet.opens_at, outlet.closes_at, timezone)
    deadlines = intake_deadlines(policy, rule, order.created_at, order.priority, order.issue_category, hours)
    order.due_at = next(d.due_at for d in deadlines if d.clock == "completion")
    return deadlines


def start_intake_clocks(session: Session, order: WorkOrder, deadlines: list[Deadline]) -> None:
    for d in deadlines:
        session.add(
            SlaClock(order_id=order.id, clock=d.clock, started_at=order.created_at, warn_at=d.warn_at, due_at=d.due_at)
        )


def stop_clocks(session: Session, order_id: int, action: str, now: datetime) -> None:
    """Stop the clocks this move satisfies (a cancellation stops them all)."""
    clocks = list(STOPPED_BY) if action == "cancel" else [c for c, moves in STOPPED_BY.items() if action in moves]
    if clocks:
        session.execute(
            update(SlaClock)
            .where(SlaClock.order_id == order_id, SlaClock.clock.in_(clocks), SlaClock.stopped_at.is_(None))
            .values(stopped_at=now)
            .execution_options(synchronize_session=False)
        )


def start_callback_clock(session: Session, order: WorkOrder, now: datetime, policy: SlaPolicy) -> None:
    """The callback clock starts when a visit is completed (a second visit restarts it), with
    the rule's limit and warning ratio, or the policy's where no rule applies."""
    rule = choose_rule(active_rules(session), order.priority, order.issue_category, order.channel)
    d = callback_deadline(policy, rule, now)
    if d is None:
        return
    clock = session.get(SlaClock, (order.id, "callback"))
    if clock is None:
        session.add(SlaClock(order_id=order.id, clock="callback", started_at=now, warn_at=d.warn_at, due_at=d.due_at))
    else:
        clock.started_at, clock.warn_at, clock.due_at = now, d.warn_at, d.due_at
        clock.stopped_at = clock.warned_at = clock.breached_at = clock.escalated_at = None


def order_clocks(session: Session, order_id: int) -> list[SlaClock]:
    return list(session.scalars(select(SlaClock).where(SlaClock.order_id == order_id).order_by(SlaClock.due_at)))


# --- rules (admin) ------------------------------------------------------------------


def _check_rule(values: dict[str, Any]) -> None:
    errors: dict[str, str] = {}
    for key, allowed in (("priority", PRIORITIES), ("issue_category", ISSUE_CATEGORIES), ("channel", CHANNELS)):
        if values.get(key) is not None and values[key] not in allowed:
            errors[key] = f"must be one of {', '.join(allowed)}, or empty for any"
    for key in ("contact_minutes", "arrival_minutes", "completion_minutes", "callback_minutes"):
        if values.get(key) is not None and not 1 <= values[key] <= 60 * 24 * 60:
            errors[key] = "must be between 1 minute and 60 days"
    if "warn_ratio" in values and not 0.1 <= values["warn_ratio"] <= 0.99:
        errors["warn_ratio"] = "must be between 0.1 and 0.99"
    if "name" in values and not (values["name"] or "").strip():
        errors["name"] = "is required"
    if errors:
        raise ValidationFailed(errors)


@transactional
def create_rule(session: Session, values: dict[str, Any], *, actor_id: int | None) -> SlaRule:
    values = {k: v for k, v in values.items() if k in RULE_FIELDS}
    _check_rule(values)
    rule = SlaRule(**values)
    session.add(rule)
    session.flush()
    record_change(session, actor_id, "sla_rule", rule.id, "create", {k: [None, v] for k, v in values.items()})
    return rule


@transactional
def update_rule(session: Session, rule_id: int, values: dict[str, Any], *, actor_id: int | None) -> SlaRule:
    rule = session.get(SlaRule, rule_id)
    if rule is None:
        raise NotFound(f"SLA rule {rule_id} not found")
    values = {k: v for k, v in values.items() if k in RULE_FIELDS}
    _check_rule(values)
    changes = apply_changes(rule, values)
    if changes:
        record_change(session, actor_id, "sla_rule", rule.id, "update", changes)
    return rule
