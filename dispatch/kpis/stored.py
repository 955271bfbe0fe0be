"""Each counted order's KPI facts kept as a row (`order_kpi_facts`), so that a month's figures
read one row per order instead of re-deriving every order from its events, clocks, photos,
verdicts, surveys and callbacks (≈0.4 s of database CPU per open month at 1,000,000 orders).

One definition: a row is what `facts.order_facts` derives for the order (`refresh_facts` runs
that same SQL for the orders a transaction touched), and `stored_facts` reads the rows back
with the same columns, comparing the kept instants with the caller's `now` for what is still
pending — so no job ever has to flip a row when a window ends.

When. Every change that moves a KPI goes through the ORM (the order, its events, clocks,
photos, verdicts, surveys, callbacks; the KPI cache relies on the same: each writes an event).
A `before_flush` hook notes the orders such rows belong to, and a `before_commit` hook, run
before the events are numbered (dispatch/events.py takes the event counter last), rewrites
their rows in the same transaction: a reader never sees an order's change without its facts.
A new repair can turn the same customer's earlier repair into a repeat: the customer's
completed repairs are rewritten with it. Rows written by plain SQL (a bulk load, the
benchmark's generator) are refreshed by calling `refresh_all`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, bindparam, case, delete, false, func, insert, literal, select
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from dispatch.kpis.facts import (
    awaiting_score,
    chosen,
    month_bounds,
    month_ids,
    order_facts,
    pending_24h,
    repeat_pending,
)
from dispatch.models import (
    AuthenticityVerdict,
    Callback,
    OrderKpiFacts,
    Photo,
    SlaClock,
    Survey,
    WorkOrder,
    WorkOrderEvent,
)

FACTS = OrderKpiFacts.__table__
COLUMNS = [c.name for c in FACTS.columns]  # order_id first, then what order_facts derives
CHUNK = 5000  # orders rewritten by one statement (a driver takes at most 65,535 bound values)
_TOUCHED = "kpi_facts_touched"
# Rows whose change moves an order's facts, and the attribute naming their order.
SOURCES = {
    WorkOrder: "id", WorkOrderEvent: "order_id", SlaClock: "order_id", Photo: "order_id",
    AuthenticityVerdict: "order_id", Survey: "order_id", Callback: "order_id",
}  # fmt: skip


_DERIVED: dict[str, Select] = {}


def derived(session: Session) -> Select:
    """The facts `order_facts` derives for the orders bound as `order_ids`, in the table's
    columns. Built once per dialect: building the statement took ≈20 ms of Python, paid by
    every commit that touches an order (the demo's 2,200 commits: 45 s)."""
    dialect = session.get_bind().dialect.name
    if dialect not in _DERIVED:
        ids = bindparam("order_ids", expanding=True)
        f = order_facts(None, None, dialect, order_ids=ids).subquery()
        _DERIVED[dialect] = select(*(f.c[name] for name in COLUMNS))
    return _DERIVED[dialect]


def _with_their_repairs(session: Session, order_ids: Iterable[int]) -> list[int]:
    """The orders and their customers' completed repairs (which a new repair of the same
    product makes a repeat, and its cancellation no longer)."""
    ids = sorted(set(order_ids))
    customers = select(WorkOrder.customer_id).where(WorkOrder.id.in_(ids))
    earlier = session.scalars(
        select(WorkOrder.id).where(
            WorkOrder.customer_id.in_(customers),
            WorkOrder.issue_category == "repair",
            WorkOrder.completed_at.is_not(None),
        )
    )
    return sorted({*ids, *earlier})


_UPSERT: dict[str, Any] = {}


def _upsert(session: Session, rows: list[dict[str, Any]]) -> None:
    dialect = session.get_bind().dialect.name
    if dialect not in _UPSERT:  # built once, like `derived`
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as upsert
        else:
            from sqlalchemy.dialects.sqlite import insert as upsert
        statement = upsert(FACTS)
        _UPSERT[dialect] = statement.on_conflict_do_update(
            index_elements=[FACTS.c.order_id], set_={name: statement.excluded[name] for name in COLUMNS[1:]}
        )
    session.execute(_UPSERT[dialect], rows)


def refresh_facts(session: Session, order_ids: Iterable[int]) -> None:
    """Rewrite these orders' rows (and their customers' completed repairs') from the same SQL
    the figures were derived with; an order no longer counted (cancelled by its customer) loses
    its row. An upsert, not delete-then-insert: two transactions rewriting one order never
    both insert it."""
    ids = _with_their_repairs(session, order_ids)
    for at in range(0, len(ids), CHUNK):
        chunk = ids[at : at + CHUNK]
        rows = [dict(r._mapping) for r in session.execute(derived(session), {"order_ids": chunk})]
        if rows:
            _upsert(session, rows)
        kept = [r["order_id"] for r in rows]
        session.execute(delete(FACTS).where(FACTS.c.order_id.in_(chunk), FACTS.c.order_id.not_in(kept)))


def refresh_all(session: Session) -> int:
    """Rewrite every order's row, a month of orders at a time (the migration's backfill, a
    bulk load's): `order_facts` over one month reads each source once, by hash joins."""
    session.execute(delete(FACTS))
    first, last = session.execute(select(func.min(WorkOrder.created_at), func.max(WorkOrder.created_at))).one()
    if first is None:
        return 0
    dialect = session.get_bind().dialect.name
    year, mon = first.year, first.month
    while (year, mon) <= (last.year, last.month):
        start, end = month_bounds(f"{year:04d}-{mon:02d}", UTC)
        ids = month_ids(session, start, end)
        if ids is not None:
            f = order_facts(start, end, dialect, ids).subquery()
            session.execute(insert(FACTS).from_select(COLUMNS, select(*(f.c[name] for name in COLUMNS))))
        year, mon = (year + 1, 1) if mon == 12 else (year, mon + 1)
    return session.scalar(select(func.count()).select_from(FACTS)) or 0


def stored_facts(
    start: datetime,
    end: datetime,
    dialect: str,
    *,
    periods: list[tuple[datetime, datetime]] | None = None,
    now: datetime | None = None,
    technician_id: int | None = None,
    outlet_id: int | None = None,
) -> Select:
    """The counted orders created in [start, end) (and in one of `periods`, if given) with the
    columns `order_facts` gives, read from their rows; what is pending is judged at `now`
    (None: nothing is)."""
    t = FACTS.c
    where = chosen(t.intake_at, t.technician_id, t.outlet_id, start, end, periods, technician_id, outlet_id)
    if now is None:
        pending, awaiting, repairing = false(), false(), false()
    else:
        at = literal(now, t.intake_at.type)
        pending = pending_24h(t.open == 1, t.intake_at, at, dialect)
        awaiting = awaiting_score(t.completed == 1, t.score, t.callback_due_at, at)
        repairing = repeat_pending(t.repair == 1, t.repeated == 1, t.finished_at, at, dialect)
    return select(
        *(c for c in FACTS.columns if c.name != "open"),
        case((pending, 1), else_=0).label("pending_24h"),
        case((awaiting, 1), else_=0).label("awaiting_score"),
        case((repairing, 1), else_=0).label("repeat_pending"),
    ).where(*where)


# --- keeping the rows with the changes ------------------------------------------------------


@sa_event.listens_for(Session, "before_flush")
def _note_touched(session: Session, _context: Any, _instances: Any) -> None:
    """Note the orders whose facts this flush may change."""
    touched = session.info.setdefault(_TOUCHED, set())
    for obj in (*session.new, *session.dirty, *session.deleted):
        attribute = SOURCES.get(type(obj))
        if attribute is not None:
            touched.add(obj)


def _rewrite_touched(session: Session) -> None:
    """Before the commit (and before the events are numbered): rewrite the touched orders' rows."""
    if session.in_nested_transaction() or not session.info.get(_TOUCHED):
        return
    session.flush()  # the last changes, and the ids of orders created in this transaction
    touched = session.info.pop(_TOUCHED, set())
    ids = {getattr(obj, SOURCES[type(obj)]) for obj in touched}
    ids.discard(None)
    if ids:
        refresh_facts(session, ids)


def _forget_touched(session: Session, previous: Any) -> None:
    """A rolled-back transaction's orders need no rewrite (a savepoint's: the rest of the
    transaction's still do, and rewriting one more order is harmless)."""
    if not previous.nested:
        session.info.pop(_TOUCHED, None)


# First among the before_commit hooks: the events' numbering must stay the last step.
sa_event.listen(Session, "before_commit", _rewrite_touched, insert=True)
sa_event.listen(Session, "after_soft_rollback", _forget_touched)
