"""Per-order facts for the monthly KPIs: which orders count in a month and, per order, what SQL
derives about it (docs/kpis.md has the definitions with examples)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import BindParameter, Interval, Select, and_, case, false, func, literal, or_, select, text
from sqlalchemy.orm import Session, aliased

from core.errors import ValidationFailed
from core.numbers import parse_int
from dispatch.lifecycle import Status
from dispatch.models import (
    AuthenticityVerdict,
    Callback,
    Photo,
    SlaClock,
    Survey,
    WorkOrder,
    WorkOrderEvent,
)

GROUPS = ("technician", "outlet", "all")
REPEAT_DAYS = 30  # a repair that comes back within this many days of its completion did not hold
# The completion KPI's window: the practice's 24-hour promise (DOMAIN.md). Fixed, not the
# configurable SLA_COMPLETION_HOURS, so that every month's figure measures the same promise.
COMPLETION_WINDOW = timedelta(hours=24)


# The months a user may ask for: wide enough for any history, far enough from the calendar's
# ends (years 1 and 9999) that a month's neighbours and its 12-month trend stay computable.
FIRST_YEAR, LAST_YEAR = 1900, 2199
MONTH_MESSAGE = "use YYYY-MM (years 1900-2199), e.g. 2026-11"


def parse_month(text: object) -> str | None:
    """`text` if it is a month users may ask for ('2026-11': ASCII digits, FIRST_YEAR to
    LAST_YEAR); otherwise None."""
    if not isinstance(text, str) or len(text) != 7 or text[4] != "-":
        return None
    if parse_int(text[:4], FIRST_YEAR, LAST_YEAR) is None or parse_int(text[5:], 1, 12) is None:
        return None
    return text


def year_and_month(month: str) -> tuple[int, int]:
    """The parts of a 'YYYY-MM' month (any year the calendar can step around); a month that
    is no such thing is the caller's bad input, never an arithmetic error."""
    year, _, mon = month.partition("-") if isinstance(month, str) else ("", "", "")
    parts = parse_int(year, 2, 9998), parse_int(mon, 1, 12)
    if parts[0] is None or parts[1] is None or len(month) != 7:
        raise ValidationFailed({"month": MONTH_MESSAGE})
    return parts[0], parts[1]


def month_bounds(month: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """'2026-11' → [start, end) as aware datetimes in the service area's time zone."""
    year, mon = year_and_month(month)
    start = datetime(year, mon, 1, tzinfo=tz)
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=tz)
    return start, end


def seconds_between(earlier: Any, later: Any, dialect: str) -> Any:
    """`later - earlier` in seconds, as SQL (timestamps are text on SQLite, timestamptz on PostgreSQL)."""
    if dialect == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 86400
    return func.extract("epoch", later - earlier)


def came_back(first: Any, later: Any, dialect: str) -> Any:
    """SQL: `later` is a repair of the same customer's same product category, asked for within
    REPEAT_DAYS of `first`'s completion (at or after it), and not cancelled."""
    if dialect == "sqlite":  # timestamps are text: compare them as Julian days
        window = and_(
            func.julianday(later.created_at) >= func.julianday(first.completed_at),
            func.julianday(later.created_at) < func.julianday(first.completed_at) + REPEAT_DAYS,
        )
    else:
        window = and_(
            later.created_at >= first.completed_at,
            later.created_at < first.completed_at + literal(timedelta(days=REPEAT_DAYS), Interval()),
        )
    return and_(
        later.customer_id == first.customer_id,
        later.product_category == first.product_category,
        later.id != first.id,
        later.issue_category == "repair",
        later.status != Status.CANCELLED.value,
        window,
    )


def completed_repair(order: Any) -> Any:
    """SQL: the order is a repair whose completion stood (it is completed or closed)."""
    return and_(
        order.issue_category == "repair",
        order.status.in_([Status.COMPLETED.value, Status.CLOSED.value]),
        order.completed_at.is_not(None),
    )


def pending_24h(open_: Any, intake_at: Any, at: Any, dialect: str) -> Any:
    """SQL: an open order (neither completed nor cancelled: a dispatcher's cancellation is
    decided, not done) still within its 24 hours at `at`."""
    return and_(open_, seconds_between(intake_at, at, dialect) <= COMPLETION_WINDOW.total_seconds())


def awaiting_score(completed: Any, score: Any, callback_due_at: Any, at: Any) -> Any:
    """SQL: the customer may still score the visit: the callback clock runs and is not yet due."""
    return and_(completed, score.is_(None), callback_due_at >= at)


def repeat_pending(repair: Any, repeated: Any, finished_at: Any, at: Any, dialect: str) -> Any:
    """SQL: a completed repair that has not come back, still within its REPEAT_DAYS."""
    return and_(repair, ~repeated, seconds_between(finished_at, at, dialect) < REPEAT_DAYS * 86400)


def chosen(
    intake_at: Any,
    technician: Any,
    outlet: Any,
    start: datetime | None,
    end: datetime | None,
    periods: list[tuple[datetime, datetime]] | None,
    technician_id: int | None,
    outlet_id: int | None,
) -> list[Any]:
    """SQL conditions: created in [start, end) (no bound without `start`), in one of `periods`
    if given, of the technician and the outlet if given."""
    where = [] if start is None else [intake_at >= start, intake_at < end]
    if periods is not None:
        where.append(or_(*(and_(intake_at >= a, intake_at < b) for a, b in periods)))
    if technician_id is not None:
        where.append(technician == technician_id)
    if outlet_id is not None:
        where.append(outlet == outlet_id)
    return where


def month_ids(session: Session, start: datetime, end: datetime) -> tuple[int, int] | None:
    """The lowest and highest id among the month's orders (None: no orders)."""
    # `id + 0`: otherwise PostgreSQL answers min/max by walking the primary key from one end
    # until a row falls in the month (hundreds of thousands of rows for an old month).
    low, high = session.execute(
        select(func.min(WorkOrder.id + 0), func.max(WorkOrder.id + 0)).where(
            WorkOrder.created_at >= start, WorkOrder.created_at < end
        )
    ).one()
    return None if low is None else (low, high)


def prepare_reads(session: Session) -> None:
    """PostgreSQL's JIT compiler spends more time compiling these reports than running them
    (≈0.3 s of a 1 s month table at 1M orders): off for the rest of this transaction."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))


def order_facts(
    start: datetime | None,
    end: datetime | None,
    dialect: str,
    ids: tuple[int, int] | None = None,
    *,
    technician_id: int | None = None,
    outlet_id: int | None = None,
    periods: list[tuple[datetime, datetime]] | None = None,
    now: datetime | None = None,
    order_ids: list[int] | BindParameter | None = None,
) -> Select:
    """One row per counted order with the facts every KPI is computed from.

    Each source is aggregated once over the month's orders and joined (hash joins), rather
    than asked per order: the cost follows the month, not the history. With `ids` (the
    month's lowest and highest order id, `month_ids`) each source reads that id range through
    its order_id index instead of every row it holds; the range may hold other months' orders
    too, which the outer joins onto the month's orders leave out — the figures are the same.
    For one technician or outlet (a drill-down) the sources read just that team's orders.
    With `periods` (months inside [start, end)) only orders created in one of them count:
    the 12-month trend reads all its open months at once.

    `now` (the caller's clock, bound as a parameter: never the database's) decides what is
    still *pending*: an open order within its 24 hours, a completed order awaiting its
    customer's score within its callback window, a completed repair within its REPEAT_DAYS.
    Without `now` nothing is pending (every window has passed).

    With `order_ids` (and no `start`/`end`): just those orders, whenever created — the rows
    `stored.refresh_facts` keeps (`open`, `callback_due_at`, `finished_at` are what `now` is
    compared with).
    """
    ev = WorkOrderEvent
    o = WorkOrder
    counted = chosen(o.created_at, o.technician_id, o.outlet_id, start, end, periods, technician_id, outlet_id)
    if order_ids is not None:
        counted.append(WorkOrder.id.in_(order_ids))
    in_month = select(WorkOrder.id).where(*counted)
    one_team = technician_id is not None or outlet_id is not None or order_ids is not None

    def of_month(column: Any) -> Any:
        return column.in_(in_month) if ids is None or one_team else column.between(*ids)

    events = (
        select(
            ev.order_id,
            func.max(case((ev.kind == "complete", ev.at))).label("completed_at"),
            func.sum(case((ev.kind == "return", 1), else_=0)).label("returns"),
            func.sum(case((and_(ev.kind == "arrive", ev.lat.is_not(None)), 1), else_=0)).label("checkins"),
        )
        .where(of_month(ev.order_id), ev.kind.in_(["complete", "return", "arrive"]))
        .group_by(ev.order_id)
    ).subquery()
    # An anti-join, not a filter on a joined count: PostgreSQL then estimates the month's
    # orders right and picks hash joins and a hash aggregate (a filter on a COALESCE it
    # cannot estimate made it guess 200 rows of 42,000 and loop through indexes).
    cancelled = aliased(WorkOrderEvent)
    by_customer = (
        select(cancelled.id)
        .where(cancelled.order_id == WorkOrder.id, of_month(cancelled.order_id))
        .where(cancelled.kind == "cancel", cancelled.actor_role == "customer")
        .exists()
    )
    surveys = (
        select(Survey.order_id, Survey.visit, func.max(Survey.score).label("score"))
        .where(of_month(Survey.order_id), Survey.flagged.is_(False))
        .group_by(Survey.order_id, Survey.visit)
    ).subquery()
    callbacks = (
        select(Callback.order_id, Callback.visit, func.max(Callback.score).label("score"))
        .where(of_month(Callback.order_id), Callback.score.is_not(None))
        .group_by(Callback.order_id, Callback.visit)
    ).subquery()
    photos = (
        select(Photo.order_id, Photo.visit).where(of_month(Photo.order_id)).group_by(Photo.order_id, Photo.visit)
    ).subquery()
    contacted = (
        select(SlaClock.order_id).where(
            of_month(SlaClock.order_id),
            SlaClock.clock == "contact",
            SlaClock.stopped_at.is_not(None),
            SlaClock.stopped_at <= SlaClock.due_at,
        )  # fmt: skip
    ).subquery()
    # Repeat repairs: the month's completed repairs whose product came back (a semi-join on
    # customer and product category against the orders created since the month began).
    first, later = aliased(WorkOrder), aliased(WorkOrder)
    comeback = [came_back(first, later, dialect)]
    if start is not None:
        comeback.append(later.created_at >= start)  # after a completion in the month
    if dialect != "sqlite":
        # ... and before the month's last completion + REPEAT_DAYS: with both bounds PostgreSQL reads
        # the later orders through ix_work_orders_created_at, not the whole table (1M rows).
        last = aliased(WorkOrder)
        latest = select(func.max(last.completed_at)).where(of_month(last.id), completed_repair(last))
        until = latest.scalar_subquery() + literal(timedelta(days=REPEAT_DAYS), Interval())
        comeback.append(later.created_at < until)
    repeated = (
        select(first.id.label("order_id"))
        .where(of_month(first.id), completed_repair(first))
        .where(select(later.id).where(*comeback).exists())
    ).subquery()
    callback_due = (
        select(SlaClock.order_id, SlaClock.due_at).where(
            of_month(SlaClock.order_id), SlaClock.clock == "callback", SlaClock.stopped_at.is_(None)
        )
    ).subquery()
    av = AuthenticityVerdict
    verdict = (select(av.order_id, av.status, av.review_decision).where(of_month(av.order_id))).subquery()
    completed = WorkOrder.status.in_([Status.COMPLETED.value, Status.CLOSED.value])
    proof_accepted = or_(
        verdict.c.order_id.is_(None),
        and_(verdict.c.status != "failed", func.coalesce(verdict.c.review_decision, "") != "rejected"),
        verdict.c.review_decision == "confirmed",
    )
    authentic = or_(verdict.c.status == "verified", verdict.c.review_decision == "confirmed")
    elapsed = seconds_between(WorkOrder.created_at, events.c.completed_at, dialect)
    within = and_(completed, elapsed <= COMPLETION_WINDOW.total_seconds(), proof_accepted)
    score = func.coalesce(surveys.c.score, callbacks.c.score)
    open_ = and_(~completed, WorkOrder.status != Status.CANCELLED.value)
    if now is None:
        pending, awaiting, repairing = false(), false(), false()
    else:
        at = literal(now, WorkOrder.created_at.type)
        pending = pending_24h(open_, WorkOrder.created_at, at, dialect)
        awaiting = awaiting_score(completed, score, callback_due.c.due_at, at)
        repairing = repeat_pending(
            completed_repair(WorkOrder), repeated.c.order_id.is_not(None), WorkOrder.completed_at, at, dialect
        )
    proof_ok = or_(photos.c.order_id.is_not(None), WorkOrder.proof_photos_required == 0)  # a job type may ask for none
    compliant = and_(
        completed, contacted.c.order_id.is_not(None), func.coalesce(events.c.checkins, 0) > 0, proof_ok,
        func.coalesce(events.c.returns, 0) == 0,
    )  # fmt: skip
    return (
        select(
            WorkOrder.id.label("order_id"),
            WorkOrder.technician_id,
            WorkOrder.outlet_id,
            case((completed, 1), else_=0).label("completed"),
            case((within, 1), else_=0).label("within_24h"),
            score.label("score"),
            case((compliant, 1), else_=0).label("compliant"),
            case((and_(completed, authentic), 1), else_=0).label("authentic"),
            case((and_(completed, func.coalesce(events.c.returns, 0) > 0), 1), else_=0).label("returned"),
            case((completed_repair(WorkOrder), 1), else_=0).label("repair"),
            case((repeated.c.order_id.is_not(None), 1), else_=0).label("repeated"),
            WorkOrder.created_at.label("intake_at"),
            case((pending, 1), else_=0).label("pending_24h"),
            case((awaiting, 1), else_=0).label("awaiting_score"),
            case((repairing, 1), else_=0).label("repeat_pending"),
            callback_due.c.due_at.label("callback_due_at"),  # when an awaited score stops being awaited
            WorkOrder.completed_at.label("finished_at"),  # REPEAT_DAYS on, a pending repair is decided
            case((open_, 1), else_=0).label("open"),  # 24 hours after intake, an open order is decided
        )
        .select_from(WorkOrder)
        .outerjoin(events, events.c.order_id == WorkOrder.id)
        .outerjoin(surveys, and_(surveys.c.order_id == WorkOrder.id, surveys.c.visit == WorkOrder.visit_count))
        .outerjoin(callbacks, and_(callbacks.c.order_id == WorkOrder.id, callbacks.c.visit == WorkOrder.visit_count))
        .outerjoin(photos, and_(photos.c.order_id == WorkOrder.id, photos.c.visit == WorkOrder.visit_count))
        .outerjoin(contacted, contacted.c.order_id == WorkOrder.id)
        .outerjoin(verdict, verdict.c.order_id == WorkOrder.id)
        .outerjoin(repeated, repeated.c.order_id == WorkOrder.id)
        .outerjoin(callback_due, callback_due.c.order_id == WorkOrder.id)
        .where(*counted)
        .where(~by_customer)
    )
