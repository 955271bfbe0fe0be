"""The orders behind a figure, each with the reason it failed."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from dispatch.kpis.facts import COMPLETION_WINDOW, came_back, month_bounds, month_ids, order_facts, prepare_reads
from dispatch.lifecycle import Status
from dispatch.models import (
    AuthenticityVerdict,
    Photo,
    SlaClock,
    WorkOrder,
    WorkOrderEvent,
)

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
            elif completes and completes[-1] - order.created_at > COMPLETION_WINDOW:
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
