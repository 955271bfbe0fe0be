"""The orders behind a figure, each with the reason it failed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, any_, func, literal, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, aliased

from core.db import utcnow
from dispatch.kpis.facts import (
    COMPLETION_WINDOW,
    REPEAT_DAYS,
    came_back,
    month_bounds,
    prepare_reads,
)
from dispatch.kpis.stored import stored_facts
from dispatch.lifecycle import Status
from dispatch.models import (
    AuthenticityVerdict,
    Photo,
    SlaClock,
    WorkOrder,
    WorkOrderEvent,
)
from technicians.models import Outlet, Technician

KPIS = ("completion_24h", "satisfaction", "compliance", "authenticity")
DRILLS = (*KPIS, "repeat_repairs")  # the figures with a drill-down (the composite weighs KPIS only)

# Why an order failed a figure, or why it is not decided yet: a code with its values. The
# English is for logs, tests and the API's `reasons`; the web words each code in the user's
# language (web/kpi_wording.py). Authenticity reasons are the engine's codes, `auth:<code>`.
REASON_TEXT = {
    "not_completed": "not completed (%(status)s)",
    "completed_late": "completed after %(hours).1f h",
    "proof_not_accepted": "proof not accepted",
    "not_satisfied": "customer not satisfied (score below 4)",
    "not_contacted_in_time": "customer not contacted in time",
    "no_checkin_position": "no on-site check-in with a position",
    "no_proof_photo": "no proof photo",
    "returned": "returned as unqualified",
    "no_verdict": "no verdict",
    "verdict": "verdict: %(status)s",
    "rejected_by_reviewer": "rejected by a reviewer",
    "repaired_again": "repaired again: %(number)s, %(days)s days after completion",
    "within_24h": "still within its 24 hours",
    "awaiting_score": "awaiting the customer's score",
    "repair_pending": "still within its %(days)s days",
    "waited_for_parts": "waited %(hours).1f h for a part",
}
PENDING_REASONS = ("within_24h", "awaiting_score", "repair_pending")
REASON_CHUNK = 5000  # failing orders whose reasons are read by one set of queries
# The drill-down's `outcome` filter: each order's `passed` (None while it is pending).
OUTCOMES = {"failed": False, "pending": None, "passed": True}


@dataclass(frozen=True)
class Reason:
    code: str  # a REASON_TEXT key, or "auth:<engine code>"
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def values(self) -> dict[str, Any]:
        return dict(self.params)

    @property
    def text(self) -> str:
        """Plain English (the web words it in the user's language)."""
        if self.code.startswith("auth:"):
            return f"{self.code[5:]} ({self.values['severity']})"
        return REASON_TEXT[self.code] % self.values


def reason(code: str, **params: Any) -> Reason:
    return Reason(code, tuple(sorted(params.items())))


def drill_down(
    session: Session,
    month: str,
    kpi: str,
    tz: ZoneInfo,
    *,
    technician_id: int | None = None,
    outlet_id: int | None = None,
    now: datetime | None = None,
    failing_only: bool = False,
) -> list[dict[str, Any]]:
    """The orders behind one figure, each with whether it counted for it (`passed`: True,
    False, or None while it is still pending at `now`) and why not (`reasons`, `Reason`s).
    `failing_only`: only the orders that failed it (`passed` False), chosen in SQL."""
    if kpi not in DRILLS:
        raise ValueError(f"kpi must be one of {DRILLS}")
    now = now or utcnow()
    start, end = month_bounds(month, tz)
    prepare_reads(session)
    facts = stored_facts(
        start, end, session.get_bind().dialect.name, technician_id=technician_id, outlet_id=outlet_id, now=now
    ).subquery()
    query = (
        select(
            facts,
            WorkOrder.number,
            WorkOrder.created_at,
            WorkOrder.status,
            WorkOrder.visit_count,
            WorkOrder.completed_at,
            Technician.name.label("technician"),
            Outlet.name.label("outlet"),
        )  # fmt: skip
        .join(WorkOrder, WorkOrder.id == facts.c.order_id)
        .outerjoin(Technician, Technician.id == facts.c.technician_id)
        .outerjoin(Outlet, Outlet.id == facts.c.outlet_id)
    )
    if technician_id is not None:
        query = query.where(facts.c.technician_id == technician_id)
    if outlet_id is not None:
        query = query.where(facts.c.outlet_id == outlet_id)
    if kpi in ("compliance", "authenticity"):
        query = query.where(facts.c.completed == 1)
    if kpi == "satisfaction":
        query = query.where(or_(facts.c.score.is_not(None), facts.c.awaiting_score == 1))
    if kpi == "repeat_repairs":
        query = query.where(facts.c.repair == 1)
    if failing_only:
        query = query.where(*FAILING[kpi](facts.c))
    rows = session.execute(query.order_by(WorkOrder.created_at, WorkOrder.id)).all()
    judged = []
    for r in rows:
        pending = {
            "completion_24h": r.pending_24h == 1, "satisfaction": r.awaiting_score == 1,
            "repeat_repairs": r.repeat_pending == 1,
        }.get(kpi, False)  # fmt: skip
        passed = None if pending else {
            "completion_24h": r.within_24h == 1, "satisfaction": (r.score or 0) >= 4,
            "compliance": r.compliant == 1, "authenticity": r.authentic == 1, "repeat_repairs": r.repeated == 0,
        }[kpi]  # fmt: skip
        judged.append((r, pending, passed))
    # Reasons are read for the failing orders only: a month-wide list (the monthly report) has
    # tens of thousands of orders, most of which passed.
    failing = [r.order_id for r, _, passed in judged if passed is False]
    # In chunks: a driver takes at most 65,535 bound values in one statement (psycopg).
    read = comeback_reasons if kpi == "repeat_repairs" else lambda s, ids: _reasons(s, ids, kpi)
    reasons: dict[int, list[Reason]] = {}
    for at in range(0, len(failing), REASON_CHUNK):
        reasons |= read(session, failing[at : at + REASON_CHUNK])
    out = []
    for r, pending, passed in judged:
        why = [PENDING_OF[kpi]] if pending else [] if passed else reasons.get(r.order_id, [])
        due = r.created_at + COMPLETION_WINDOW
        late = ((r.completed_at or now) - due).total_seconds() / 3600
        row = {
            "order_id": r.order_id, "number": r.number, "created_at": r.created_at, "status": r.status,
            "technician_id": r.technician_id, "technician": r.technician, "outlet_id": r.outlet_id,
            "outlet": r.outlet, "due_at": due, "completed_at": r.completed_at,
            "late_hours": round(late, 1) if late > 0 else None,
            "score": r.score, "passed": passed, "pending": pending, "reasons": why,
        }  # fmt: skip
        out.append(row)
    return out


def _no(column: Any) -> Any:
    return func.coalesce(column, 0) == 0


# An order that failed a figure (the complement of `passed`, pending orders left out), in SQL.
FAILING = {
    "completion_24h": lambda c: (_no(c.pending_24h), _no(c.within_24h)),
    "satisfaction": lambda c: (_no(c.awaiting_score), c.score.is_not(None), c.score < 4),
    "compliance": lambda c: (_no(c.compliant),),
    "authenticity": lambda c: (_no(c.authentic),),
    "repeat_repairs": lambda c: (_no(c.repeat_pending), func.coalesce(c.repeated, 0) != 0),
}


PENDING_OF = {
    "completion_24h": reason("within_24h"), "satisfaction": reason("awaiting_score"),
    "repeat_repairs": reason("repair_pending", days=REPEAT_DAYS),
}  # fmt: skip


def reason_groups(rows: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """The reasons of a drill-down's orders with how many orders have each, most first (an
    order with two reasons counts under both; pending orders under their pending reason)."""
    counts: dict[str, int] = {}
    for row in rows:
        for code in dict.fromkeys(w.code for w in row["reasons"]):
            counts[code] = counts.get(code, 0) + 1
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def drill_scope(session: Session, technician_id: int | None, outlet_id: int | None) -> dict[str, Any]:
    """Whose orders a drill-down shows: the technician's and the outlet's names (the
    technician's outlet when only the technician is given), for its heading and breadcrumbs."""
    tech = session.get(Technician, technician_id) if technician_id is not None else None
    outlet_id = outlet_id if outlet_id is not None else (tech.outlet_id if tech is not None else None)
    outlet = session.get(Outlet, outlet_id) if outlet_id is not None else None
    return {
        "technician_id": technician_id, "technician": tech.name if tech is not None else None,
        "outlet_id": outlet_id, "outlet": outlet.name if outlet is not None else None,
    }  # fmt: skip


def drill_report(
    session: Session,
    month: str,
    kpi: str,
    tz: ZoneInfo,
    *,
    technician_id: int | None = None,
    outlet_id: int | None = None,
    reason_code: str | None = None,
    outcome: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A drill-down as its page, API and exports show it: whose orders (`scope`), the orders
    (`rows`, filtered by `reason_code` and by `outcome`: "failed", "pending" or "passed"), and
    the failing and pending orders by reason (`groups`, always over the unfiltered list, so
    every reason stays choosable)."""
    if outcome is not None and outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {tuple(OUTCOMES)}")
    rows = drill_down(
        session, month, kpi, tz, technician_id=technician_id, outlet_id=outlet_id, now=now or utcnow()
    )  # fmt: skip
    shown = rows if reason_code is None else [r for r in rows if any(w.code == reason_code for w in r["reasons"])]
    if outcome is not None:
        shown = [r for r in shown if r["passed"] is OUTCOMES[outcome]]
    scope = drill_scope(session, technician_id, outlet_id) | {
        "month": month, "kpi": kpi, "reason": reason_code, "outcome": outcome,
    }  # fmt: skip
    return {"scope": scope, "rows": shown, "groups": reason_groups(rows)}


def one_of(session: Session, column: Any, ids: list[int]) -> Any:
    """SQL: `column` is one of `ids`. On PostgreSQL one array parameter (`= ANY`), not thousands
    of placeholders: the driver spent ~1 s splitting the monthly report's queries' text."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(literal(list(ids), ARRAY(Integer)))
    return column.in_(ids)


def comeback_reasons(session: Session, order_ids: list[int]) -> dict[int, list[Reason]]:
    """For each repair that came back: the later orders' numbers and how soon they came."""
    if not order_ids:
        return {}
    first, later = aliased(WorkOrder), aliased(WorkOrder)
    rows = session.execute(
        select(first.id, first.completed_at, later.number, later.created_at)
        .join(later, came_back(first, later, session.get_bind().dialect.name))
        .where(one_of(session, first.id, order_ids))
        .order_by(first.id, later.created_at)
    )
    out: dict[int, list[str]] = {}
    for oid, completed_at, number, created_at in rows:
        days = (created_at - completed_at).days  # whole days: 29 days 23 h is "29 days"
        out.setdefault(oid, []).append(reason("repaired_again", number=number, days=days))
    return out


def _waited_for_parts(events: list[WorkOrderEvent]) -> float:
    """Seconds the order spent waiting for parts (a wait not over yet counts to its last event)."""
    total, since = 0.0, None
    for e in events:
        if e.kind == "need_part":
            since = e.at
        elif e.kind in ("part_arrived", "cancel") and since is not None:
            total += (e.at - since).total_seconds()
            since = None
    if since is not None:
        total += (max(e.at for e in events) - since).total_seconds()
    return total


def _reasons(session: Session, order_ids: list[int], kpi: str) -> dict[int, list[Reason]]:
    """Why each order failed a KPI. Only the columns and rows the KPI's reasons need are read
    (no ORM objects): the monthly report asks this for every failing order of a month."""
    if kpi == "satisfaction":  # the score is the whole reason
        return {oid: [reason("not_satisfied")] for oid in order_ids}
    orders = {
        r.id: r
        for r in session.execute(
            select(
                WorkOrder.id, WorkOrder.status, WorkOrder.created_at, WorkOrder.visit_count,
                WorkOrder.proof_photos_required,
            ).where(one_of(session, WorkOrder.id, order_ids))
        )
    }  # fmt: skip
    kinds = {"completion_24h": ("complete",), "compliance": ("arrive", "return")}.get(kpi, ())
    events: dict[int, list[Any]] = {}
    if kinds:
        for e in session.execute(
            select(WorkOrderEvent.order_id, WorkOrderEvent.kind, WorkOrderEvent.at, WorkOrderEvent.lat)
            .where(one_of(session, WorkOrderEvent.order_id, order_ids), WorkOrderEvent.kind.in_(kinds))
            .order_by(WorkOrderEvent.seq)
        ):
            events.setdefault(e.order_id, []).append(e)
    verdicts = {}
    if kpi in ("completion_24h", "authenticity"):
        verdicts = {
            v.order_id: v
            for v in session.execute(
                select(
                    AuthenticityVerdict.order_id, AuthenticityVerdict.status, AuthenticityVerdict.review_decision,
                    AuthenticityVerdict.reasons,
                ).where(one_of(session, AuthenticityVerdict.order_id, order_ids))
            )
        }  # fmt: skip
    contact, photo_visits = {}, set()
    if kpi == "compliance":
        contact = {
            c.order_id: c
            for c in session.execute(
                select(SlaClock.order_id, SlaClock.stopped_at, SlaClock.due_at).where(
                    one_of(session, SlaClock.order_id, order_ids), SlaClock.clock == "contact"
                )
            )
        }
        photo_visits = {
            (p.order_id, p.visit)
            for p in session.execute(
                select(Photo.order_id, Photo.visit).where(one_of(session, Photo.order_id, order_ids)).distinct()
            )
        }
    out: dict[int, list[Reason]] = {}
    for oid, order in orders.items():
        evs = events.get(oid, [])
        v = verdicts.get(oid)
        why: list[Reason] = []
        if kpi == "completion_24h":
            completes = [e.at for e in evs if e.kind == "complete"]
            if order.status not in (Status.COMPLETED, Status.CLOSED):
                why.append(reason("not_completed", status=str(order.status)))
            elif completes and completes[-1] - order.created_at > COMPLETION_WINDOW:
                hours = (completes[-1] - order.created_at).total_seconds() / 3600
                why.append(reason("completed_late", hours=round(hours, 1)))
            if why and any(e.kind == "need_part" for e in evs):
                why.append(reason("waited_for_parts", hours=round(_waited_for_parts(evs) / 3600, 1)))
            if v is not None and (
                v.review_decision == "rejected" or (v.status == "failed" and v.review_decision != "confirmed")
            ):
                why.append(reason("proof_not_accepted"))
        elif kpi == "compliance":
            c = contact.get(oid)
            if c is None or c.stopped_at is None or c.stopped_at > c.due_at:
                why.append(reason("not_contacted_in_time"))
            if not any(e.kind == "arrive" and e.lat is not None for e in evs):
                why.append(reason("no_checkin_position"))
            if (oid, order.visit_count) not in photo_visits and order.proof_photos_required > 0:
                why.append(reason("no_proof_photo"))
            if any(e.kind == "return" for e in evs):
                why.append(reason("returned"))
        elif kpi == "authenticity":
            if v is None:
                why.append(reason("no_verdict"))
            else:
                why += [reason("auth:" + r["code"], severity=r["severity"]) for r in v.reasons] or [
                    reason("verdict", status=v.status)
                ]
                if v.review_decision == "rejected":
                    why.append(reason("rejected_by_reviewer"))
        out[oid] = why
    return out
