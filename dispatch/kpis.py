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
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, case, func, literal, or_, select
from sqlalchemy.orm import Session

from core.db import transactional
from core.errors import Conflict, ValidationFailed
from dispatch.lifecycle import Status
from dispatch.models import (
    AuthenticityVerdict,
    Callback,
    KpiSnapshot,
    KpiWeights,
    Photo,
    SlaClock,
    Survey,
    WorkOrder,
    WorkOrderEvent,
)

GROUPS = ("technician", "outlet", "all")


def month_bounds(month: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """'2026-11' → [start, end) as aware datetimes in the service area's time zone."""
    year, mon = (int(x) for x in month.split("-"))
    start = datetime(year, mon, 1, tzinfo=tz)
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=tz)
    return start, end


def seconds_between(earlier: Any, later: Any, dialect: str) -> Any:
    """`later - earlier` in seconds, as SQL (timestamps are text on SQLite, timestamptz on PostgreSQL)."""
    if dialect == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 86400
    return func.extract("epoch", later - earlier)


def order_facts(start: datetime, end: datetime, dialect: str) -> Select:
    """One row per counted order with the facts every KPI is computed from.

    Each source is aggregated once over the month's orders and joined (hash joins), rather
    than asked per order: the cost follows the month, not the history.
    """
    ev = WorkOrderEvent
    in_month = select(WorkOrder.id).where(WorkOrder.created_at >= start, WorkOrder.created_at < end)
    events = (
        select(
            ev.order_id,
            func.max(case((ev.kind == "complete", ev.at))).label("completed_at"),
            func.sum(case((ev.kind == "return", 1), else_=0)).label("returns"),
            func.sum(case((and_(ev.kind == "arrive", ev.lat.is_not(None)), 1), else_=0)).label("checkins"),
            func.sum(case((and_(ev.kind == "cancel", ev.actor_role == "customer"), 1), else_=0)).label(
                "customer_cancels"
            ),
        )
        .where(ev.order_id.in_(in_month), ev.kind.in_(["complete", "return", "arrive", "cancel"]))
        .group_by(ev.order_id)
    ).subquery()
    surveys = (
        select(Survey.order_id, Survey.visit, func.max(Survey.score).label("score"))
        .where(Survey.order_id.in_(in_month), Survey.flagged.is_(False))
        .group_by(Survey.order_id, Survey.visit)
    ).subquery()
    callbacks = (
        select(Callback.order_id, Callback.visit, func.max(Callback.score).label("score"))
        .where(Callback.order_id.in_(in_month), Callback.score.is_not(None))
        .group_by(Callback.order_id, Callback.visit)
    ).subquery()
    photos = (
        select(Photo.order_id, Photo.visit).where(Photo.order_id.in_(in_month)).group_by(Photo.order_id, Photo.visit)
    ).subquery()
    contacted = (
        select(SlaClock.order_id).where(
            SlaClock.order_id.in_(in_month),
            SlaClock.clock == "contact",
            SlaClock.stopped_at.is_not(None),
            SlaClock.stopped_at <= SlaClock.due_at,
        )  # fmt: skip
    ).subquery()
    verdict = AuthenticityVerdict
    completed = WorkOrder.status.in_([Status.COMPLETED.value, Status.CLOSED.value])
    proof_accepted = or_(
        verdict.order_id.is_(None),
        and_(verdict.status != "failed", func.coalesce(verdict.review_decision, "") != "rejected"),
        verdict.review_decision == "confirmed",
    )
    authentic = or_(verdict.status == "verified", verdict.review_decision == "confirmed")
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
        )
        .select_from(WorkOrder)
        .outerjoin(events, events.c.order_id == WorkOrder.id)
        .outerjoin(surveys, and_(surveys.c.order_id == WorkOrder.id, surveys.c.visit == WorkOrder.visit_count))
        .outerjoin(callbacks, and_(callbacks.c.order_id == WorkOrder.id, callbacks.c.visit == WorkOrder.visit_count))
        .outerjoin(photos, and_(photos.c.order_id == WorkOrder.id, photos.c.visit == WorkOrder.visit_count))
        .outerjoin(contacted, contacted.c.order_id == WorkOrder.id)
        .outerjoin(verdict, verdict.order_id == WorkOrder.id)
        .where(WorkOrder.created_at >= start, WorkOrder.created_at < end)
        .where(func.coalesce(events.c.customer_cancels, 0) == 0)
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

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _rate(part: Any, whole: Any) -> float | None:
    return round(float(part) / float(whole), 4) if whole else None


def monthly(session: Session, month: str, by: str, tz: ZoneInfo) -> list[KpiRow]:
    """The month's figures per technician, per outlet, or overall — aggregated in SQL."""
    if by not in GROUPS:
        raise ValueError(f"by must be one of {GROUPS}")
    start, end = month_bounds(month, tz)
    facts = order_facts(start, end, session.get_bind().dialect.name).subquery()
    key = {"technician": facts.c.technician_id, "outlet": facts.c.outlet_id, "all": literal(None)}[by]
    rated = func.count(facts.c.score)
    query = select(
        key.label("key"),
        func.count().label("orders"),
        func.sum(facts.c.completed).label("completed"),
        func.sum(facts.c.within_24h).label("within"),
        rated.label("rated"),
        func.sum(case((facts.c.score >= 4, 1), else_=0)).label("satisfied"),
        func.avg(facts.c.score).label("mean"),
        func.sum(facts.c.compliant).label("compliant"),
        func.sum(facts.c.authentic).label("authentic"),
    )
    if by != "all":
        query = query.group_by(key).order_by(key)
    rows = []
    for r in session.execute(query):
        if by != "all" and r.key is None:
            continue  # orders never assigned count overall, not for anyone in particular
        rows.append(
            KpiRow(
                key=r.key,
                orders=r.orders,
                completed=int(r.completed or 0),
                completion_24h_rate=_rate(r.within or 0, r.orders),
                satisfaction_rate=_rate(r.satisfied or 0, r.rated),
                satisfaction_mean=round(float(r.mean), 2) if r.mean is not None else None,
                rated=r.rated,
                compliance_rate=_rate(r.compliant or 0, r.completed),
                authenticity_rate=_rate(r.authentic or 0, r.completed),
            )  # fmt: skip
        )
    return rows


KPIS = ("completion_24h", "satisfaction", "compliance", "authenticity")


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
    if kpi not in KPIS:
        raise ValueError(f"kpi must be one of {KPIS}")
    start, end = month_bounds(month, tz)
    facts = order_facts(start, end, session.get_bind().dialect.name).subquery()
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
    rows = session.execute(query.order_by(WorkOrder.created_at)).all()
    reasons = _reasons(session, [r.order_id for r in rows], kpi) if rows else {}
    out = []
    for r in rows:
        passed = {
            "completion_24h": r.within_24h == 1, "satisfaction": (r.score or 0) >= 4,
            "compliance": r.compliant == 1, "authenticity": r.authentic == 1,
        }[kpi]  # fmt: skip
        out.append({
            "order_id": r.order_id, "number": r.number, "created_at": r.created_at, "status": r.status,
            "technician_id": r.technician_id, "outlet_id": r.outlet_id, "score": r.score, "passed": passed,
            "reasons": [] if passed else reasons.get(r.order_id, []),
        })  # fmt: skip
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
    year, mon = (int(x) for x in month.split("-"))
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
    for by in GROUPS:
        for row in monthly(session, month, by, tz):
            figures = row.as_dict() | {"composite": composite(row.as_dict(), weights)}
            session.add(KpiSnapshot(month=month, by=by, key=row.key if row.key is not None else 0,
                                    figures=figures, weights_version=version))  # fmt: skip
            count += 1
    return count


# --- risk watch ---------------------------------------------------------------------

RISK_THRESHOLDS = {
    "completion_24h_rate": 0.85,
    "satisfaction_rate": 0.8,
    "compliance_rate": 0.8,
    "authenticity_rate": 0.9,
}


def risk_flags(figures: dict[str, Any], previous: dict[str, Any] | None = None, thresholds=None) -> list[str]:
    """The practice's early-warning signs for a technician or outlet this month: late
    completions, unhappy customers, procedure slips, doubtful proof — and a figure that fell
    by more than ten points since last month."""
    thresholds = thresholds or RISK_THRESHOLDS
    flags = [f"{name} below {limit:.0%}" for name, limit in thresholds.items()
             if figures.get(name) is not None and figures[name] < limit]  # fmt: skip
    if previous:
        flags += [f"{name} fell {100 * (previous[name] - figures[name]):.0f} points"
                  for name in thresholds
                  if figures.get(name) is not None and previous.get(name) is not None
                  and previous[name] - figures[name] > 0.10]  # fmt: skip
    return flags
