"""Assignment suggestions and re-optimisation over JSON."""

from __future__ import annotations

from apiflask import Schema
from apiflask.validators import Length, Range

from core.accounts import DISPATCH_ROLES
from core.errors import NotFound, PermissionDenied, ValidationFailed
from dispatch import moves, planning
from dispatch.models import PlanProposal
from dispatch.permissions import outlet_in_scope, reaches_outlet
from dispatch.planning import dropout
from technicians.availability import DROP_OUT_REASONS
from technicians.models import Outlet, Technician
from web.api import strict_fields as fields
from web.api.base import SECURITY, bp
from web.auth import STAFF, current_actor, roles_required
from web.extensions import db
from web.wiring import planning_settings


class SuggestionOut(Schema):
    technician_id = fields.Integer()
    name = fields.String()
    eta = fields.DateTime()
    extra_km = fields.Float()
    late_minutes = fields.Integer(metadata={"description": "how late the visit would start against the due time"})
    overdue_minutes = fields.Integer(metadata={"description": "how long the order is overdue already (0: not yet)"})
    current = fields.Boolean(metadata={"description": "the order's own technician: assigning them changes nothing"})


class SuggestionList(Schema):
    items = fields.List(fields.Nested(SuggestionOut))
    reason = fields.String(allow_none=True, metadata={"description": "why nobody fits, when the list is empty"})


class ProposalIn(Schema):
    outlet_id = fields.Integer(
        load_default=None,
        allow_none=True,
        metadata={"description": "an existing outlet (400 naming the field otherwise)"},
    )
    time_limit_s = fields.Float(load_default=None, allow_none=True, validate=Range(0.5, 60))


class ProposalOut(Schema):
    id = fields.Integer()
    status = fields.String()
    created_at = fields.DateTime()
    routes = fields.Dict(metadata={"description": "technician id → order ids in visiting order"})
    etas = fields.Dict()
    unserved = fields.List(fields.Dict())
    diff = fields.Dict(metadata={"description": "moves, km_saved, lateness_avoided_min, newly_served/unserved"})
    before = fields.Dict()
    after = fields.Dict()


class ApplyOut(Schema):
    applied = fields.List(fields.Integer())
    skipped = fields.Dict(metadata={"description": "order id → why it was left as it is"})


@bp.get("/orders/<int:order_id>/suggestions")
@roles_required(*DISPATCH_ROLES)
@bp.output(SuggestionList)
@bp.doc(security=SECURITY)
def suggestions(order_id: int):
    """Who should take this order: the cheapest insertions into today's routes, best first."""
    moves.get_order(db.session, order_id, current_actor())
    found, reason = planning.suggest(db.session, order_id, planning_settings())
    names = {
        t.id: t.name for t in db.session.query(Technician).filter(Technician.id.in_([s.technician_id for s in found]))
    }
    items = [{**s.__dict__, "name": names.get(s.technician_id, "")} for s in found]
    return {"items": items, "reason": reason}


@bp.post("/plans")
@roles_required(*DISPATCH_ROLES)
@bp.input(ProposalIn, arg_name="body")
@bp.output(ProposalOut, status_code=201)
@bp.doc(security=SECURITY)
def propose(body: dict):
    """Re-optimise today's open, not-started orders (of one outlet, or the whole city) and
    return the proposed changes; nothing changes until the proposal is applied."""
    actor = current_actor()
    outlet_id = outlet_in_scope(actor, body["outlet_id"])
    if outlet_id is not None and db.session.get(Outlet, outlet_id) is None:
        raise ValidationFailed({"outlet_id": "no such outlet"})
    proposal = planning.propose(
        db.session, planning_settings(), actor, outlet_id=outlet_id, time_limit_s=body["time_limit_s"]
    )
    return planning.proposal_summary(proposal)


class DropOutIn(Schema):
    reason = fields.String(
        required=True,
        validate=Length(1, 16),
        metadata={"description": ", ".join(DROP_OUT_REASONS) + " (400 otherwise)"},
    )
    time_limit_s = fields.Float(load_default=None, allow_none=True, validate=Range(0.5, 60))


@bp.post("/technicians/<int:tech_id>/drop-out")
@roles_required(*DISPATCH_ROLES)
@bp.input(DropOutIn, arg_name="body")
@bp.output(ProposalOut, status_code=201)
@bp.doc(security=SECURITY)
def drop_out(tech_id: int, body: dict):
    """The technician is unavailable from now to the end of the day: their orders not started
    yet are re-planned as a proposal (apply it with `POST /plans/{id}/apply`)."""
    proposal = dropout.drop_out(
        db.session, tech_id, body["reason"], current_actor(), planning_settings(), time_limit_s=body["time_limit_s"]
    )
    return planning.proposal_summary(proposal)


@bp.get("/plans/<int:proposal_id>")
@roles_required(*STAFF)
@bp.output(ProposalOut)
@bp.doc(security=SECURITY)
def get_proposal(proposal_id: int):
    """A stored proposal and its diff."""
    proposal = db.session.get(PlanProposal, proposal_id)
    if proposal is None or not reaches_outlet(current_actor(), proposal.outlet_id):
        raise NotFound(f"plan proposal {proposal_id} not found")
    return planning.proposal_summary(proposal)


@bp.post("/plans/<int:proposal_id>/apply")
@roles_required(*DISPATCH_ROLES)
@bp.output(ApplyOut)
@bp.doc(security=SECURITY, responses={409: "already applied, or orders changed while applying"})
def apply(proposal_id: int):
    """Apply a proposal to the orders nobody changed since it was made; report the others."""
    actor = current_actor()
    proposal = db.session.get(PlanProposal, proposal_id)
    if proposal is not None and not reaches_outlet(actor, proposal.outlet_id):
        raise PermissionDenied("this plan covers more than your outlet")
    result = planning.apply_proposal(db.session, proposal_id, planning_settings(), actor)
    return {"applied": result.applied, "skipped": {str(k): v for k, v in result.skipped.items()}}
