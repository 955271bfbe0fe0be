"""The SLA sweep: record each warning and each breach exactly once.

Deadlines live in `sla_clocks`, not in per-order scheduler jobs, so a restart loses nothing:
a sweep after downtime catches up. Each kind is one conditional UPDATE … RETURNING (the
`warned_at IS NULL` / `breached_at IS NULL` condition is what makes it exactly once, however
many sweeps run or re-run), then one query for the orders and one bulk insert of events,
whatever the number of orders: a handful of queries, not one per order.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from core.db import next_value, on_commit
from dispatch.events import EVENT_SEQUENCE, event_dict, order_summary
from dispatch.models import SlaClock, WorkOrder, WorkOrderEvent

KINDS = (
    ("sla_warning", SlaClock.warned_at, SlaClock.warn_at),
    ("sla_breach", SlaClock.breached_at, SlaClock.due_at),
)


def sweep(session: Session, now: datetime) -> dict[str, int]:
    """Mark and record every warning and breach due by `now`; returns counts by kind. Commits."""
    try:
        marked: list[tuple[str, int, str, datetime]] = []
        for kind, mark, threshold in KINDS:
            rows = session.execute(
                update(SlaClock)
                .where(mark.is_(None), SlaClock.stopped_at.is_(None), threshold <= now)
                .values({mark: now})
                .returning(SlaClock.order_id, SlaClock.clock, SlaClock.due_at)
                .execution_options(synchronize_session=False)
            ).all()
            marked += [(kind, oid, clock, due) for oid, clock, due in rows]
        if marked:
            _record(session, marked, now)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    counts: dict[str, int] = defaultdict(int)
    for kind, *_ in marked:
        counts[kind] += 1
    return {kind: counts[kind] for kind, *_ in KINDS}


def _record(session: Session, marked: list[tuple[str, int, str, datetime]], now: datetime) -> None:
    orders = {o.id: o for o in session.scalars(select(WorkOrder).where(WorkOrder.id.in_({m[1] for m in marked})))}
    last = next_value(session, EVENT_SEQUENCE, len(marked))
    first = last - len(marked) + 1
    rows = [
        {
            "seq": first + i, "order_id": oid, "at": now, "actor_id": None, "actor_role": "system", "kind": kind,
            "from_status": orders[oid].status, "to_status": orders[oid].status,
            "data": {"clock": clock, "due_at": due.isoformat()}, "lat": None, "lon": None, "accuracy_m": None,
        }
        for i, (kind, oid, clock, due) in enumerate(sorted(marked, key=lambda m: (m[1], m[0])))
    ]  # fmt: skip
    session.execute(insert(WorkOrderEvent), rows)
    database = session.info.get("database")
    if database is None:
        return
    for row in rows:
        order = orders[row["order_id"]]
        payload = {"event": event_dict(WorkOrderEvent(**row)), "order": order_summary(order)}
        rooms = ["dispatch", f"outlet:{order.outlet_id}" if order.outlet_id is not None else "unplaced"]
        if order.technician_id is not None:
            rooms.append(f"technician:{order.technician_id}")
        on_commit(session, lambda p=payload, r=rooms: database.publish("order_event", p, r))
