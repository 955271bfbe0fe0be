"""An order back from waiting for a part: marked arrived (dispatch.parts), then placed like a
new order (the instant path), its follow-up visit in whichever day serves it best."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from core.accounts import Actor
from core.db import utcnow
from dispatch.models import WorkOrder
from dispatch.parts import part_arrived
from dispatch.planning.day import PlanningSettings
from dispatch.planning.instant import Suggestion, place_new_order
from dispatch.sla.policy import SlaPolicy

log = logging.getLogger(__name__)


def part_arrived_and_planned(
    session: Session,
    order_id: int,
    actor: Actor,
    settings: PlanningSettings,
    *,
    version: int,
    sla: SlaPolicy | None = None,
    now: datetime | None = None,
) -> tuple[WorkOrder, Suggestion | str]:
    """Mark the part arrived (commits), then place the order; returns the order and where it
    went (or why it stays unassigned: the dispatcher sees it in the queue of new orders)."""
    now = now or utcnow()
    order = part_arrived(session, order_id, actor, version=version, sla=sla, now=now)
    try:
        outcome = place_new_order(session, order_id, settings, now)
    except Exception:
        log.exception("placing order %s after its part arrived failed; it stays unassigned", order_id)
        session.rollback()  # the arrival is stored already: only the failed placement is undone
        outcome = "placement_failed"
    session.refresh(order)
    return order, outcome
