"""Closed months: the month's figures frozen in a snapshot with the weights they were scored with."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.db import transactional
from core.errors import Conflict
from dispatch.kpis.facts import GROUPS
from dispatch.kpis.figures import composite, monthly
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
