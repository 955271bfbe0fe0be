"""Assignment suggestions and re-optimisation over JSON."""

from __future__ import annotations

from datetime import timedelta

from apiflask import Schema
from apiflask.validators import Length, OneOf, Range
from flask import jsonify
from flask_babel import get_locale

from core.accounts import DISPATCH_ROLES
from core.db import utcnow
from core.errors import NotFound, PermissionDenied, ValidationFailed
from dispatch import moves, planning
from dispatch.catalog import ISSUE_CATEGORIES
from dispatch.models import PlanProposal, WorkOrder
from dispatch.permissions import outlet_in_scope, reaches_outlet
from dispatch.planning import dropout
from technicians.availability import DROP_OUT_REASONS
from technicians.models import Outlet, Skill, Technician
from web import plan_wording
from web.api import strict_fields as fields
from web.api.base import SECURITY, bp
from web.auth import STAFF, current_actor, roles_required
from web.errors import error_body, translated
from web.extensions import db, limiter
from web.wiring import intake_settings, planning_settings


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
    improves = fields.Boolean(
        metadata={"description": "better than today's plan; false: no better plan found, nothing to apply"}
    )
    summary = fields.String(metadata={"description": "the net effect in words, in the user's language"})
    routes = fields.Dict(metadata={"description": "technician id → order ids in visiting order"})
    etas = fields.Dict()
    unserved = fields.List(fields.Dict())
    diff = fields.Dict(
        metadata={
            "description": "moves (orders that change technician, each with its version), resequenced "
            "(technicians whose own visits only change order), km_saved, lateness_avoided_min, "
            "late_orders_avoided, newly_served/unserved"
        }
    )
    before = fields.Dict()
    after = fields.Dict()
    released = fields.List(
        fields.Integer(), metadata={"description": "a dropped-out technician's orders the plan re-places"}
    )
    dropped_technician_id = fields.Integer(
        allow_none=True, metadata={"description": "the technician who dropped out (a drop-out's plan), else null"}
    )
    timing = fields.Dict(
        metadata={
            "description": "seconds: limit_s asked for, read_s reading the horizon and timing today's plan, "
            "search_s given to the solver (the limit less the read and the timing of the plans), wall_s the whole call"
        }
    )


class ChosenMove(Schema):
    order_id = fields.Integer(required=True, validate=Range(1))
    version = fields.Integer(
        required=True, validate=Range(1), metadata={"description": "the version the dispatcher saw"}
    )


class ApplyIn(Schema):
    moves = fields.List(
        fields.Nested(ChosenMove),
        load_default=None,
        allow_none=True,
        validate=Length(max=5000),
        metadata={"description": "the moves to apply (default: all of the plan's, at the versions it saw)"},
    )
    resequence = fields.Boolean(
        load_default=True, metadata={"description": "also put the plan's visiting order on the technicians' days"}
    )


class AppliedMove(Schema):
    order_id = fields.Integer()
    number = fields.String()
    technician_id = fields.Integer()
    technician = fields.String()


class RefusedMove(Schema):
    order_id = fields.Integer()
    number = fields.String(allow_none=True)
    reason = fields.String(
        metadata={"description": "changed, kept, skill, off_duty, capacity, shift, no_location, not_in_plan"}
    )
    message = fields.String(metadata={"description": "the reason in words, in the user's language"})


class ApplyOut(Schema):
    applied = fields.List(fields.Integer())
    skipped = fields.Dict(metadata={"description": "order id → why it was left as it is, in words"})
    moved = fields.List(fields.Nested(AppliedMove))
    refused = fields.List(fields.Nested(RefusedMove))
    resequenced = fields.List(fields.String(), metadata={"description": "technicians whose visits were re-ordered"})


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
    return _proposal_out(proposal)


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
    return _proposal_out(proposal)


@bp.get("/plans/<int:proposal_id>")
@roles_required(*STAFF)
@bp.output(ProposalOut)
@bp.doc(security=SECURITY)
def get_proposal(proposal_id: int):
    """A stored proposal and its diff."""
    proposal = db.session.get(PlanProposal, proposal_id)
    if proposal is None or not reaches_outlet(current_actor(), proposal.outlet_id):
        raise NotFound(f"plan proposal {proposal_id} not found")
    return _proposal_out(proposal)


@bp.post("/plans/<int:proposal_id>/apply")
@roles_required(*DISPATCH_ROLES)
@bp.input(ApplyIn, arg_name="body")
@bp.output(ApplyOut)
@bp.doc(
    security=SECURITY,
    responses={409: "already applied, no better than today's plan, or orders changed while applying"},
)
def apply(proposal_id: int, body: dict):
    """Apply the chosen moves of a proposal (each with the version the dispatcher saw), each
    checked again; answers with what was applied and what was refused, and why."""
    actor = current_actor()
    proposal = db.session.get(PlanProposal, proposal_id)
    if proposal is not None and not reaches_outlet(actor, proposal.outlet_id):
        raise PermissionDenied("this plan covers more than your outlet")
    chosen = None if body["moves"] is None else {m["order_id"]: m["version"] for m in body["moves"]}
    result = planning.apply_proposal(
        db.session, proposal_id, planning_settings(), actor, chosen=chosen, resequence=body["resequence"]
    )
    return _apply_out(result)


def _proposal_out(proposal: PlanProposal) -> dict:
    return {**planning.proposal_summary(proposal), "summary": plan_wording.summary(proposal.payload)}


def _apply_out(result: planning.ApplyResult) -> dict:
    ids = set(result.applied) | set(result.skipped)
    orders = {o.id: o for o in db.session.query(WorkOrder).filter(WorkOrder.id.in_(ids))} if ids else {}
    tech_ids = {o.technician_id for o in orders.values() if o.technician_id} | set(result.resequenced)
    names = {t.id: t.name for t in db.session.query(Technician).filter(Technician.id.in_(tech_ids))} if tech_ids else {}
    locale = str(get_locale())
    for refusal in result.skipped.values():
        if refusal.reason == "skill":  # the skill in the user's language, not its code
            skill = db.session.get(Skill, refusal.params["skill"])
            if skill is not None:
                refusal.params["skill"] = skill.name(locale)
    refused = [
        {
            "order_id": oid,
            "number": orders[oid].number if oid in orders else None,
            "reason": r.reason,
            "message": plan_wording.refusal(r),
        }
        for oid, r in result.skipped.items()
    ]
    moved = [
        {
            "order_id": oid,
            "number": orders[oid].number,
            "technician_id": orders[oid].technician_id,
            "technician": names.get(orders[oid].technician_id, ""),
        }
        for oid in result.applied
    ]
    return {
        "applied": result.applied,
        "skipped": {str(r["order_id"]): r["message"] for r in refused},
        "moved": moved,
        "refused": refused,
        "resequenced": [names.get(t, "") for t in result.resequenced],
    }


class SlotOut(Schema):
    start = fields.DateTime()
    end = fields.DateTime()
    label = fields.String(metadata={"description": "best, good or possible: what the slot costs the plan"})
    cost_km = fields.Float(metadata={"description": "extra driving plus lateness, in km, for the plan"})


class SlotList(Schema):
    items = fields.List(fields.Nested(SlotOut), metadata={"description": "cheapest for the plan first"})


class DraftSlotsIn(Schema):
    lat = fields.Float(required=True, validate=Range(-90, 90))
    lon = fields.Float(required=True, validate=Range(-180, 180))
    skill = fields.String(required=True, validate=Length(1, 64), metadata={"description": "the product's skill code"})
    category = fields.String(load_default="repair", validate=OneOf(ISSUE_CATEGORIES))


class BookIn(Schema):
    start = fields.DateTime(required=True, metadata={"description": "the start of a slot from the list"})


class BookedOut(Schema):
    technician_id = fields.Integer()
    eta = fields.DateTime()


def _slots(found) -> dict:
    """The slots in the service area's local time (a page words them as they read)."""
    tz = planning_settings().timezone
    items = [
        {
            "start": s.start.astimezone(tz),
            "end": s.end.astimezone(tz),
            "label": s.label,
            "cost_km": round(s.cost_m / 1000, 2),
        }
        for s in found
    ]
    return {"items": items}


@bp.get("/orders/<int:order_id>/slots")
@roles_required(*DISPATCH_ROLES)
@bp.output(SlotList)
@bp.doc(security=SECURITY)
def order_slots(order_id: int):
    """The appointment slots of the coming days this order could be booked in, cheapest for the plan first."""
    moves.get_order(db.session, order_id, current_actor())
    return _slots(planning.slots_for_order(db.session, order_id, planning_settings()))


@bp.post("/orders/<int:order_id>/slots")
@roles_required(*DISPATCH_ROLES)
@bp.input(BookIn, arg_name="body")
@bp.output(BookedOut)
@bp.doc(security=SECURITY, responses={409: "the slot was taken meanwhile: the body's `slots` is the fresh list"})
def book_slot(order_id: int, body: dict):
    """Book a slot for a new order: it becomes the order's appointment and the order takes its place on a route."""
    moves.get_order(db.session, order_id, current_actor())
    try:
        placed = planning.book_slot(db.session, order_id, body["start"], planning_settings())
    except planning.SlotTaken as taken:
        # The fresh list beside the error (the output schema is for a booking, so answered as is).
        fresh = [
            {**s, "start": s["start"].isoformat(), "end": s["end"].isoformat()} for s in _slots(taken.slots)["items"]
        ]
        response = jsonify({**error_body(409, translated(taken)), "slots": fresh})
        response.status_code = 409
        return response
    return {"technician_id": placed.technician_id, "eta": placed.eta}


@bp.post("/slots")
@limiter.limit("30 per minute")
@bp.input(DraftSlotsIn, arg_name="body")
@bp.output(SlotList)
def draft_slots(body: dict):
    """The slots a request not sent yet could be booked in (the public request form asks before sending)."""
    if db.session.get(Skill, body["skill"]) is None:
        raise ValidationFailed({"skill": "is not a skill we know"})
    settings = planning_settings()
    # As the order would be due if sent now: only slots that keep that promise are offered.
    due = utcnow() + timedelta(hours=intake_settings().policy.completion_hours("normal", body["category"]))
    found = planning.slots_for_draft(
        db.session, settings, lat=body["lat"], lon=body["lon"], skill=body["skill"], category=body["category"],
        due_at=due,
    )  # fmt: skip
    return _slots(found)
