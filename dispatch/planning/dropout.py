"""A technician drops out during the day (sick, vehicle broken, …): the dispatcher marks them
unavailable from now, and their orders not started yet are re-planned as a proposal with its
diff (`reoptimise.propose` with the technician released), applied like any other."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts import DISPATCH_ROLES, Actor
from core.audit import record_change
from core.db import unit_of_work, utcnow
from core.errors import NotFound, PermissionDenied, ValidationFailed
from dispatch.models import PlanProposal
from dispatch.permissions import can_assign_to, outlet_in_scope
from dispatch.planning.day import PlanningSettings
from dispatch.planning.reoptimise import propose
from technicians.availability import DROP_OUT_REASONS
from technicians.models import Technician


def drop_out(
    session: Session,
    tech_id: int,
    reason: str,
    actor: Actor,
    settings: PlanningSettings,
    *,
    time_limit_s: float | None = None,
    now: datetime | None = None,
) -> PlanProposal:
    """Mark the technician unavailable from `now` to the end of the day (commits, and the
    network's version moves on, so every cached day forgets them), then propose a plan for
    their unstarted orders (commits the proposal)."""
    now = now or utcnow()
    with unit_of_work(session):
        tech = session.scalar(select(Technician).where(Technician.id == tech_id).with_for_update(key_share=True))
        if tech is None:
            raise NotFound(f"technician {tech_id} not found")
        if actor.role not in DISPATCH_ROLES or not can_assign_to(actor, tech.outlet_id):
            raise PermissionDenied("only a dispatcher of the technician's outlet may mark them unavailable")
        if reason not in DROP_OUT_REASONS:
            raise ValidationFailed({"reason": "must be sick, vehicle or other"})
        record_change(
            session, actor.user_id, "technician", tech.id, "drop_out",
            {"unavailable_from": [None, now.isoformat()], "unavailable_reason": [tech.unavailable_reason, reason]},
        )  # fmt: skip
        tech.unavailable_from, tech.unavailable_reason = now, reason
    # The plan covers what the dispatcher covers: the whole city, or their own outlet.
    outlet_id = outlet_in_scope(actor, None)
    return propose(session, settings, actor, outlet_id=outlet_id, time_limit_s=time_limit_s, now=now, release=tech_id)
