"""The four monthly KPIs, defined once (docs/kpis.md has the definitions with examples).

Which orders count: created in the calendar month (service-area time), not cancelled by the
customer. Per order, SQL derives the facts below; the figures are SQL aggregates of them, and
the drill-down lists the orders behind any figure with the reason each one failed.

- 24-hour completion: the completion that stood (the last `complete`, order now completed or
  closed) came within 24 h of intake, and its proof was accepted (authenticity not failed,
  unless a reviewer confirmed it, and not rejected by a reviewer).
- Satisfaction: the customer's score for the final visit, from the survey (flagged answers
  do not count) or else the callback; satisfied = 4 or 5; the mean is shown beside the share.
- Compliance (completed orders): customer contacted in time, checked in on site with a
  position, proof photo on the final visit, never returned as unqualified.
- Authenticity (completed orders): the verdict is verified, or a reviewer confirmed it.

Beside them, for the risk watch: returns (completed orders returned as unqualified) and repeat
repairs (completed repairs whose product came back for repair within 30 days).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Interval, Select, and_, case, func, literal, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from core.db import transactional
from core.errors import Conflict, ValidationFailed
from core.numbers import parse_int
from dispatch.lifecycle import Status
from dispatch.models import (
    AuthenticityVerdict,
    Callback,
    KpiRiskThresholds,
    KpiSnapshot,
    KpiWeights,
    Photo,
    SlaClock,
    Survey,
    WorkOrder,
    WorkOrderEvent,
)

GROUPS = ("technician", "outlet", "all")
REPEAT_DAYS = 30  # a repair that comes back within this many days of its completion did not hold


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


def _year_and_month(month: str) -> tuple[int, int]:
    """The parts of a 'YYYY-MM' month (any year the calendar can step around); a month that
    is no such thing is the caller's bad input, never an arithmetic error."""
    year, _, mon = month.partition("-") if isinstance(month, str) else ("", "", "")
    parts = parse_int(year, 2, 9998), parse_int(mon, 1, 12)
    if parts[0] is None or parts[1] is None or len(month) != 7:
        raise ValidationFailed({"month": MONTH_MESSAGE})
    return parts[0], parts[1]


def month_bounds(month: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """'2026-11' → [start, end) as aware datetimes in the service area's time zone."""
    year, mon = _year_and_month(month)
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
    start: datetime,
    end: datetime,
    dialect: str,
    ids: tuple[int, int] | None = None,
    *,
    technician_id: int | None = None,
    outlet_id: int | None = None,
    periods: list[tuple[datetime, datetime]] | None = None,
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
    """
    ev = WorkOrderEvent
    counted = [WorkOrder.created_at >= start, WorkOrder.created_at < end]
    if periods is not None:
        counted.append(or_(*(and_(WorkOrder.created_at >= a, WorkOrder.created_at < b) for a, b in periods)))
    if technician_id is not None:
        counted.append(WorkOrder.technician_id == technician_id)
    if outlet_id is not None:
        counted.append(WorkOrder.outlet_id == outlet_id)
    in_month = select(WorkOrder.id).where(*counted)
    one_team = technician_id is not None or outlet_id is not None

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
    comeback = [came_back(first, later, dialect), later.created_at >= start]  # after a completion in the month
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
    within = and_(completed, elapsed <= 24 * 3600, proof_accepted)
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
            func.coalesce(surveys.c.score, callbacks.c.score).label("score"),
            case((compliant, 1), else_=0).label("compliant"),
            case((and_(completed, authentic), 1), else_=0).label("authentic"),
            case((and_(completed, func.coalesce(events.c.returns, 0) > 0), 1), else_=0).label("returned"),
            case((completed_repair(WorkOrder), 1), else_=0).label("repair"),
            case((repeated.c.order_id.is_not(None), 1), else_=0).label("repeated"),
            WorkOrder.created_at.label("intake_at"),
        )
        .select_from(WorkOrder)
        .outerjoin(events, events.c.order_id == WorkOrder.id)
        .outerjoin(surveys, and_(surveys.c.order_id == WorkOrder.id, surveys.c.visit == WorkOrder.visit_count))
        .outerjoin(callbacks, and_(callbacks.c.order_id == WorkOrder.id, callbacks.c.visit == WorkOrder.visit_count))
        .outerjoin(photos, and_(photos.c.order_id == WorkOrder.id, photos.c.visit == WorkOrder.visit_count))
        .outerjoin(contacted, contacted.c.order_id == WorkOrder.id)
        .outerjoin(verdict, verdict.c.order_id == WorkOrder.id)
        .outerjoin(repeated, repeated.c.order_id == WorkOrder.id)
        .where(*counted)
        .where(~by_customer)
    )


@dataclass(frozen=True)
class KpiRow:
    key: int | None  # technician id, outlet id, or None for all
    orders: int
    completed: int
    completion_24h_rate: float | None
    satisfaction_rate: float | None
    satisfaction_mean: float | None
    rated: int
    compliance_rate: float | None
    authenticity_rate: float | None
    return_rate: float | None = None  # completed orders returned as unqualified at least once
    repairs: int = 0  # completed repairs
    repeat_rate: float | None = None  # completed repairs whose product came back within REPEAT_DAYS

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _rate(part: Any, whole: Any) -> float | None:
    return round(float(part) / float(whole), 4) if whole else None


def _figures(facts: Any) -> list[Any]:
    """The aggregate columns of a KpiRow over `order_facts` rows."""
    return [
        func.count().label("orders"),
        func.sum(facts.c.completed).label("completed"),
        func.sum(facts.c.within_24h).label("within"),
        func.count(facts.c.score).label("rated"),
        func.sum(case((facts.c.score >= 4, 1), else_=0)).label("satisfied"),
        func.avg(facts.c.score).label("mean"),
        func.sum(facts.c.compliant).label("compliant"),
        func.sum(facts.c.authentic).label("authentic"),
        func.sum(facts.c.returned).label("returned"),
        func.sum(facts.c.repair).label("repairs"),
        func.sum(facts.c.repeated).label("repeated"),
    ]


def _row(key: int | None, r: Any) -> KpiRow:
    return KpiRow(
        key=key,
        orders=r.orders,
        completed=int(r.completed or 0),
        completion_24h_rate=_rate(r.within or 0, r.orders),
        satisfaction_rate=_rate(r.satisfied or 0, r.rated),
        satisfaction_mean=round(float(r.mean), 2) if r.mean is not None else None,
        rated=r.rated,
        compliance_rate=_rate(r.compliant or 0, r.completed),
        authenticity_rate=_rate(r.authentic or 0, r.completed),
        return_rate=_rate(r.returned or 0, r.completed),
        repairs=int(r.repairs or 0),
        repeat_rate=_rate(r.repeated or 0, r.repairs),
    )


EMPTY = KpiRow(None, 0, 0, None, None, None, 0, None, None, None)  # overall, a month without orders


def monthly(session: Session, month: str, by: str, tz: ZoneInfo) -> list[KpiRow]:
    """The month's figures per technician, per outlet, or overall — aggregated in SQL."""
    if by not in GROUPS:
        raise ValueError(f"by must be one of {GROUPS}")
    start, end = month_bounds(month, tz)
    ids = month_ids(session, start, end)
    if ids is None:  # no orders: overall, one row of zeros (as the aggregate would give)
        return [EMPTY] if by == "all" else []
    prepare_reads(session)
    facts = order_facts(start, end, session.get_bind().dialect.name, ids).subquery()
    key = {"technician": facts.c.technician_id, "outlet": facts.c.outlet_id, "all": literal(None)}[by]
    query = select(key.label("key"), *_figures(facts))
    if by != "all":
        query = query.group_by(key).order_by(key)
    # Orders never assigned count overall, not for anyone in particular.
    return [_row(r.key, r) for r in session.execute(query) if by == "all" or r.key is not None]


def overall_by_month(session: Session, months: list[str], tz: ZoneInfo) -> dict[str, KpiRow]:
    """The overall figures of several months in one query grouped by month — the same numbers
    as `monthly(session, m, "all", tz)` for each (the KPI page's trend: one query, not twelve)."""
    if not months:
        return {}
    bounds = {m: month_bounds(m, tz) for m in months}
    start, end = min(a for a, _ in bounds.values()), max(b for _, b in bounds.values())
    ids = month_ids(session, start, end)
    out = dict.fromkeys(months, EMPTY)
    if ids is None:
        return out
    prepare_reads(session)
    dialect = session.get_bind().dialect.name
    facts = order_facts(start, end, dialect, ids, periods=list(bounds.values())).subquery()
    label = case(*((and_(facts.c.intake_at >= a, facts.c.intake_at < b), m) for m, (a, b) in bounds.items()))
    query = select(label.label("month"), *_figures(facts)).group_by(label)
    for r in session.execute(query):
        if r.month in out:
            out[r.month] = _row(None, r)
    return out


KPIS = ("completion_24h", "satisfaction", "compliance", "authenticity")
DRILLS = (*KPIS, "repeat_repairs")  # the figures with a drill-down (the composite weighs KPIS only)


def drill_down(
    session: Session,
    month: str,
    kpi: str,
    tz: ZoneInfo,
    *,
    technician_id: int | None = None,
    outlet_id: int | None = None,
) -> list[dict[str, Any]]:
    """The orders behind one figure, each with whether it counted for it and why not."""
    if kpi not in DRILLS:
        raise ValueError(f"kpi must be one of {DRILLS}")
    start, end = month_bounds(month, tz)
    ids = None
    if technician_id is None and outlet_id is None:  # one team's orders are looked up by id
        ids = month_ids(session, start, end)
        if ids is None:
            return []
    prepare_reads(session)
    facts = order_facts(
        start, end, session.get_bind().dialect.name, ids, technician_id=technician_id, outlet_id=outlet_id
    ).subquery()
    query = select(facts, WorkOrder.number, WorkOrder.created_at, WorkOrder.status, WorkOrder.visit_count).join(
        WorkOrder, WorkOrder.id == facts.c.order_id
    )
    if technician_id is not None:
        query = query.where(facts.c.technician_id == technician_id)
    if outlet_id is not None:
        query = query.where(facts.c.outlet_id == outlet_id)
    if kpi in ("compliance", "authenticity"):
        query = query.where(facts.c.completed == 1)
    if kpi == "satisfaction":
        query = query.where(facts.c.score.is_not(None))
    if kpi == "repeat_repairs":
        query = query.where(facts.c.repair == 1)
    rows = session.execute(query.order_by(WorkOrder.created_at)).all()
    if kpi == "repeat_repairs":
        reasons = comeback_reasons(session, [r.order_id for r in rows if r.repeated])
    else:
        reasons = _reasons(session, [r.order_id for r in rows], kpi) if rows else {}
    out = []
    for r in rows:
        passed = {
            "completion_24h": r.within_24h == 1, "satisfaction": (r.score or 0) >= 4,
            "compliance": r.compliant == 1, "authenticity": r.authentic == 1, "repeat_repairs": r.repeated == 0,
        }[kpi]  # fmt: skip
        out.append({
            "order_id": r.order_id, "number": r.number, "created_at": r.created_at, "status": r.status,
            "technician_id": r.technician_id, "outlet_id": r.outlet_id, "score": r.score, "passed": passed,
            "reasons": [] if passed else reasons.get(r.order_id, []),
        })  # fmt: skip
    return out


def comeback_reasons(session: Session, order_ids: list[int]) -> dict[int, list[str]]:
    """For each repair that came back: the later orders' numbers and how soon they came."""
    if not order_ids:
        return {}
    first, later = aliased(WorkOrder), aliased(WorkOrder)
    rows = session.execute(
        select(first.id, first.completed_at, later.number, later.created_at)
        .join(later, came_back(first, later, session.get_bind().dialect.name))
        .where(first.id.in_(order_ids))
        .order_by(first.id, later.created_at)
    )
    out: dict[int, list[str]] = {}
    for oid, completed_at, number, created_at in rows:
        days = (created_at - completed_at).days  # whole days: 29 days 23 h is "29 days"
        out.setdefault(oid, []).append(f"repaired again: {number}, {days} days after completion")
    return out


def _reasons(session: Session, order_ids: list[int], kpi: str) -> dict[int, list[str]]:
    """Why each order failed a KPI, read per order (a drill-down lists one team's month)."""
    orders = {o.id: o for o in session.scalars(select(WorkOrder).where(WorkOrder.id.in_(order_ids)))}
    events: dict[int, list[WorkOrderEvent]] = {}
    for e in session.scalars(
        select(WorkOrderEvent).where(WorkOrderEvent.order_id.in_(order_ids)).order_by(WorkOrderEvent.seq)
    ):
        events.setdefault(e.order_id, []).append(e)
    verdicts = {
        v.order_id: v
        for v in session.scalars(select(AuthenticityVerdict).where(AuthenticityVerdict.order_id.in_(order_ids)))
    }
    contact = {
        c.order_id: c
        for c in session.scalars(select(SlaClock).where(SlaClock.order_id.in_(order_ids), SlaClock.clock == "contact"))
    }
    photo_visits = {(p.order_id, p.visit) for p in session.scalars(select(Photo).where(Photo.order_id.in_(order_ids)))}
    out: dict[int, list[str]] = {}
    for oid, order in orders.items():
        evs = events.get(oid, [])
        v = verdicts.get(oid)
        why: list[str] = []
        completes = [e.at for e in evs if e.kind == "complete"]
        if kpi == "completion_24h":
            if order.status not in (Status.COMPLETED, Status.CLOSED):
                why.append(f"not completed ({order.status})")
            elif completes and completes[-1] - order.created_at > timedelta(hours=24):
                hours = (completes[-1] - order.created_at).total_seconds() / 3600
                why.append(f"completed after {hours:.1f} h")
            if v is not None and (
                v.review_decision == "rejected" or (v.status == "failed" and v.review_decision != "confirmed")
            ):
                why.append("proof not accepted")
        elif kpi == "satisfaction":
            why.append("customer not satisfied (score below 4)")
        elif kpi == "compliance":
            c = contact.get(oid)
            if c is None or c.stopped_at is None or c.stopped_at > c.due_at:
                why.append("customer not contacted in time")
            if not any(e.kind == "arrive" and e.lat is not None for e in evs):
                why.append("no on-site check-in with a position")
            if (oid, order.visit_count) not in photo_visits and order.proof_photos_required > 0:
                why.append("no proof photo")
            if any(e.kind == "return" for e in evs):
                why.append("returned as unqualified")
        elif kpi == "authenticity":
            if v is None:
                why.append("no verdict")
            else:
                why += [f"{r['code']} ({r['severity']})" for r in v.reasons] or [v.status]
                if v.review_decision == "rejected":
                    why.append("rejected by a reviewer")
        out[oid] = why
    return out


def last_months(month: str, n: int) -> list[str]:
    year, mon = _year_and_month(month)
    result = []
    for _ in range(n):
        result.append(f"{year:04d}-{mon:02d}")
        year, mon = (year - 1, 12) if mon == 1 else (year, mon - 1)
    return list(reversed(result))


# --- composite score and closed months ------------------------------------------------

DEFAULT_WEIGHTS = {"completion_24h": 0.4, "satisfaction": 0.3, "compliance": 0.15, "authenticity": 0.15}
RATE_OF = {
    "completion_24h": "completion_24h_rate", "satisfaction": "satisfaction_rate",
    "compliance": "compliance_rate", "authenticity": "authenticity_rate",
}  # fmt: skip


def current_weights(session: Session) -> tuple[int | None, dict[str, float]]:
    row = session.scalar(select(KpiWeights).order_by(KpiWeights.version.desc()).limit(1))
    return (row.version, dict(row.weights)) if row else (None, dict(DEFAULT_WEIGHTS))


@transactional
def set_weights(session: Session, weights: dict[str, float], *, actor_id: int | None) -> KpiWeights:
    """A new version of the composite's weights (past closed months keep theirs)."""
    errors = {}
    unknown = set(weights) - set(KPIS)
    if unknown:
        errors["weights"] = f"unknown KPI(s): {', '.join(sorted(unknown))}; use {', '.join(KPIS)}"
    elif any(not isinstance(w, (int, float)) or w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        errors["weights"] = "weights must be zero or more, and not all zero"
    if errors:
        raise ValidationFailed(errors)
    version = (session.scalar(select(func.max(KpiWeights.version))) or 0) + 1
    row = KpiWeights(version=version, weights={k: float(weights.get(k, 0)) for k in KPIS}, created_by_id=actor_id)
    session.add(row)
    return row


def composite(figures: dict[str, Any], weights: dict[str, float]) -> float | None:
    """Weighted mean of the rates that exist (a team nobody rated is not punished for it)."""
    parts = [(w, figures.get(RATE_OF[k])) for k, w in weights.items() if w > 0]
    parts = [(w, r) for w, r in parts if r is not None]
    total = sum(w for w, _ in parts)
    return round(sum(w * r for w, r in parts) / total, 4) if total else None


def snapshot(session: Session, month: str, by: str) -> tuple[list[dict[str, Any]], int | None] | None:
    """A closed month's frozen rows (and the weights version), or None if it is still open."""
    rows = list(
        session.scalars(
            select(KpiSnapshot).where(KpiSnapshot.month == month, KpiSnapshot.by == by).order_by(KpiSnapshot.key)
        )
    )
    if not rows and session.scalar(select(KpiSnapshot.id).where(KpiSnapshot.month == month).limit(1)) is None:
        return None
    return [r.figures for r in rows], (rows[0].weights_version if rows else None)


@transactional
def close_month(session: Session, month: str, tz: ZoneInfo, *, actor_id: int | None = None) -> int:
    """Freeze the month's figures (every grouping) with the current weights. Once only."""
    if session.scalar(select(KpiSnapshot.id).where(KpiSnapshot.month == month).limit(1)) is not None:
        raise Conflict(f"{month} is closed already")
    version, weights = current_weights(session)
    count = 0
    try:
        for by in GROUPS:
            for row in monthly(session, month, by, tz):
                figures = row.as_dict() | {"composite": composite(row.as_dict(), weights)}
                session.add(KpiSnapshot(month=month, by=by, key=row.key if row.key is not None else 0,
                                        figures=figures, weights_version=version))  # fmt: skip
                count += 1
        session.flush()
    except IntegrityError:
        # Two closes at once both pass the check above (PostgreSQL's READ COMMITTED); the
        # later one's rows meet the earlier one's on UNIQUE (month, by, key), at this flush or
        # at the autoflush of the next grouping's query.
        session.rollback()
        raise Conflict(f"{month} is closed already") from None
    return count


# --- risk watch ---------------------------------------------------------------------

# The practice's early-warning signs, each a figure against a threshold an admin can change
# (versioned like the weights). "min": flagged below the limit; "max": flagged above it.
RISK_FIGURES = {
    "completion_24h_rate": "min",  # late completions
    "satisfaction_rate": "min",  # unhappy customers
    "compliance_rate": "min",  # procedure slips
    "authenticity_rate": "min",  # doubtful proof
    "return_rate": "max",  # returns as unqualified
    "repeat_rate": "max",  # repeat repairs within REPEAT_DAYS
}
RISK_DEFAULTS: dict[str, float] = {
    "completion_24h_rate": 0.85,
    "satisfaction_rate": 0.8,
    "compliance_rate": 0.8,
    "authenticity_rate": 0.9,
    "return_rate": 0.1,
    "repeat_rate": 0.1,
    "change_points": 0.1,  # a figure that worsened by more than this since last month
    "min_orders": 0,  # teams with fewer counted orders are not flagged (too few to judge)
}
RISK_THRESHOLDS = {name: RISK_DEFAULTS[name] for name in RISK_FIGURES}  # the limits alone (older name)
RISK_RANGES = {name: (0.0, 1.0) for name in RISK_FIGURES} | {"change_points": (0.01, 1.0), "min_orders": (0, 10_000)}


@dataclass(frozen=True)
class RiskSign:
    figure: str  # a KpiRow rate, e.g. "return_rate"
    kind: str  # below, above, fell, rose
    value: float  # the figure now, or the change in points (0.25 = 25 points)
    limit: float

    @property
    def text(self) -> str:
        """Plain English for logs and tests; the web layer words it in the user's language."""
        if self.kind in ("below", "above"):
            return f"{self.figure} {self.kind} {self.limit:.0%}"
        return f"{self.figure} {self.kind} {100 * self.value:.0f} points"


def current_risk_thresholds(session: Session) -> tuple[int | None, dict[str, float]]:
    """The newest version of the thresholds, or the defaults (version None) if none was set."""
    row = session.scalar(select(KpiRiskThresholds).order_by(KpiRiskThresholds.version.desc()).limit(1))
    return (row.version, RISK_DEFAULTS | dict(row.thresholds)) if row else (None, dict(RISK_DEFAULTS))


def risk_threshold_errors(values: dict[str, Any]) -> dict[str, str]:
    """Each bad threshold named with what is wrong (unknown name, not a number, out of range)."""
    errors = {}
    for name, value in values.items():
        if name not in RISK_DEFAULTS:
            errors[name] = f"unknown threshold; use {', '.join(RISK_DEFAULTS)}"
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            errors[name] = "must be a number"
        elif name == "min_orders" and value != int(value):
            errors[name] = "must be a whole number"
        elif not RISK_RANGES[name][0] <= value <= RISK_RANGES[name][1]:
            low, high = RISK_RANGES[name]
            errors[name] = f"must be between {low:g} and {high:g}"
    return errors


@transactional
def set_risk_thresholds(session: Session, values: dict[str, Any], *, actor_id: int | None) -> KpiRiskThresholds:
    """A new version of the thresholds: the values given, the current ones for the rest.
    Every version is kept with who set it and when (the audit trail of the setting)."""
    errors = risk_threshold_errors(values)
    if not values:
        errors["thresholds"] = "give at least one threshold"
    if errors:
        raise ValidationFailed(errors)
    _, current = current_risk_thresholds(session)
    version = (session.scalar(select(func.max(KpiRiskThresholds.version))) or 0) + 1
    merged = current | {k: (int(v) if k == "min_orders" else float(v)) for k, v in values.items()}
    row = KpiRiskThresholds(version=version, thresholds=merged, created_by_id=actor_id)
    session.add(row)
    return row


def risk_signs(
    figures: dict[str, Any], previous: dict[str, Any] | None = None, thresholds: dict[str, float] | None = None
) -> list[RiskSign]:
    """The early-warning signs of a technician or outlet this month: late completions, unhappy
    customers, procedure slips, doubtful proof, returns, repeat repairs — each beyond its threshold — and any
    of those that worsened by more than `change_points` since last month."""
    limits = RISK_DEFAULTS | (thresholds or {})
    if (figures.get("orders") or 0) < limits["min_orders"]:
        return []
    signs = []
    for name, direction in RISK_FIGURES.items():
        value = figures.get(name)
        if value is None or name not in limits:
            continue
        if direction == "min" and value < limits[name]:
            signs.append(RiskSign(name, "below", value, limits[name]))
        elif direction == "max" and value > limits[name]:
            signs.append(RiskSign(name, "above", value, limits[name]))
    for name, direction in RISK_FIGURES.items():
        before, now = (previous or {}).get(name), figures.get(name)
        if before is None or now is None:
            continue
        worse = before - now if direction == "min" else now - before
        if worse > limits["change_points"] + 1e-9:
            signs.append(
                RiskSign(name, "fell" if direction == "min" else "rose", round(worse, 4), limits["change_points"])
            )
    return signs


def risk_flags(figures: dict[str, Any], previous: dict[str, Any] | None = None, thresholds=None) -> list[str]:
    """`risk_signs` as plain English lines."""
    return [sign.text for sign in risk_signs(figures, previous, thresholds)]
