"""Closed months: the month's figures frozen in a snapshot with the weights they were scored with.

A month is *final* once it has ended and nothing in it is pending any more: every open order's
24 hours, every completed order's callback window and every completed repair's REPEAT_DAYS have
passed. Closing it before then freezes figures that could still change, so it takes a
confirmation, and the refusal says what is still pending.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.db import transactional, utcnow
from core.errors import Conflict
from dispatch.kpis.facts import GROUPS, month_bounds
from dispatch.kpis.figures import EMPTY, composite, month_figures
from dispatch.kpis.settings import current_weights
from dispatch.models import (
    KpiSnapshot,
)


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


PENDING = ("pending_24h", "awaiting_score", "repairs_pending")  # the counts that keep a month from final


class NotFinal(Conflict):
    """Closing a month that is not final yet, without `confirm`; `pending` says what is."""

    def __init__(self, message: str, params: dict[str, Any], pending: dict[str, int], ended: bool) -> None:
        super().__init__(message, params=params, pending=pending)
        self.pending, self.ended = pending, ended


def month_state(month: str, tz: ZoneInfo, overall: dict[str, Any] | None, now: datetime) -> dict[str, Any]:
    """Whether the month has ended, is final (ended, nothing pending) or closed, and what of
    its overall row (`overall`, as the report gives it) is still pending at `now`."""
    ended = month_bounds(month, tz)[1] <= now
    closed = bool(overall and overall.get("closed"))
    pending = {k: int((overall or {}).get(k) or 0) for k in PENDING}
    return {"ended": ended, "final": ended and not any(pending.values()), "closed": closed, "pending": pending}


@transactional
def close_month(
    session: Session,
    month: str,
    tz: ZoneInfo,
    *,
    actor_id: int | None = None,
    now: datetime | None = None,
    confirm: bool = False,
) -> int:
    """Freeze the month's figures (every grouping) with the current weights, as they stand at
    `now`. Once only. A month that is not final yet is closed only with `confirm`."""
    if session.scalar(select(KpiSnapshot.id).where(KpiSnapshot.month == month).limit(1)) is not None:
        raise Conflict(f"{month} is closed already")
    now = now or utcnow()
    groupings = month_figures(session, month, tz, now).rows  # every grouping in one query, fresh
    (overall,) = groupings["all"] or [EMPTY]
    state = month_state(month, tz, overall.as_dict(), now)
    if not state["final"] and not confirm:
        pending = state["pending"]
        if not state["ended"]:
            template = "%(month)s has not ended yet; confirm to close it now"
        else:
            template = (
                "%(month)s is not final yet: %(pending_24h)s orders still within their 24 hours, "
                "%(awaiting_score)s awaiting the customer's score, %(repairs_pending)s repairs still within "
                "their 30 days; confirm to close it now"
            )
        raise NotFinal(template, {"month": month, **pending}, pending, state["ended"])
    version, weights = current_weights(session)
    count = 0
    try:
        for by in GROUPS:
            for row in groupings[by]:
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
