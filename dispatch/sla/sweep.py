"""The SLA sweep: record each warning and each breach exactly once.

Deadlines live in `sla_clocks`, not in per-order scheduler jobs, so a restart loses nothing:
a sweep after downtime catches up. Each kind is one conditional UPDATE … RETURNING (the
`warned_at IS NULL` / `breached_at IS NULL` condition is what makes it exactly once, however
many sweeps run or re-run), then one query for the orders and one batched insert of events,
whatever the number of orders: a handful of queries, not one per order.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.accounts import Actor
from core.db import unit_of_work
from dispatch.events import record_event
from dispatch.models import SlaClock, WorkOrder
from dispatch.notify import NotifySettings, enqueue, notices_for

KINDS = ("sla_warning", "sla_breach", "sla_escalation")


def _conditions(now: datetime, escalate_after: timedelta):
    """(kind, the column that marks it, when it is due) for each kind of notice."""
    return (
        ("sla_warning", SlaClock.warned_at, SlaClock.warn_at <= now),
        ("sla_breach", SlaClock.breached_at, SlaClock.due_at <= now),
        # Still open long after the completion deadline: the manager hears of it.
        ("sla_escalation", SlaClock.escalated_at,
         (SlaClock.clock == "completion") & (SlaClock.due_at <= now - escalate_after)),
    )  # fmt: skip


def sweep(session: Session, now: datetime, notify: NotifySettings | None = None) -> dict[str, int]:
    """Mark and record every warning, breach and escalation due by `now`, and queue their
    notices; returns counts by kind. Commits."""
    notify = notify or NotifySettings()
    with unit_of_work(session):
        marked: list[tuple[str, int, str, datetime]] = []
        for kind, mark, due_now in _conditions(now, notify.escalate_after):
            rows = session.execute(
                update(SlaClock)
                .where(mark.is_(None), SlaClock.stopped_at.is_(None), due_now)
                .values({mark: now})
                .returning(SlaClock.order_id, SlaClock.clock, SlaClock.due_at)
                .execution_options(synchronize_session=False)
            ).all()
            marked += [(kind, oid, clock, due) for oid, clock, due in rows]
        if marked:
            _record(session, marked, now)
            enqueue(session, notices_for(session, notify, marked), now)
    counts: dict[str, int] = defaultdict(int)
    for kind, *_ in marked:
        counts[kind] += 1
    return {kind: counts[kind] for kind in KINDS}


def _record(session: Session, marked: list[tuple[str, int, str, datetime]], now: datetime) -> None:
    orders = {o.id: o for o in session.scalars(select(WorkOrder).where(WorkOrder.id.in_({m[1] for m in marked})))}
    for kind, oid, clock, due in sorted(marked, key=lambda m: (m[1], m[0])):
        order = orders[oid]
        record_event(session, order, kind, Actor.system(), from_status=order.status, to_status=order.status,
                     data={"clock": clock, "due_at": due.isoformat()}, at=now, flush=False)  # fmt: skip
    session.flush()  # one batched INSERT for all of them
