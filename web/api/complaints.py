"""Complaints over JSON: open, escalate, hand over, milestones, compensation, the list."""

from __future__ import annotations

from typing import Any

from apiflask import Schema
from apiflask.validators import Length, OneOf, Range

from dispatch import complaints
from dispatch.models import Complaint
from web.api import strict_fields as fields
from web.api.base import SECURITY, bp
from web.api.schemas import PageMeta, PageQuery
from web.api.sla import ClockOut
from web.auth import STAFF, current_actor, roles_required
from web.extensions import db
from web.wiring import complaint_policy

TEXT = Length(max=complaints.MAX_TEXT)
REQUIRED_TEXT = Length(1, complaints.MAX_TEXT)


class ComplaintOpenIn(Schema):
    summary = fields.String(load_default="", validate=TEXT)


class EscalateIn(Schema):
    reason = fields.String(required=True, validate=REQUIRED_TEXT)
    level = fields.String(load_default=None, allow_none=True, validate=OneOf(complaints.LEVELS))


class TransferIn(Schema):
    to_user_id = fields.Integer(required=True, validate=Range(min=1))
    reason = fields.String(required=True, validate=REQUIRED_TEXT)


class MilestoneIn(Schema):
    milestone = fields.String(required=True, validate=OneOf(complaints.MILESTONES))
    note = fields.String(load_default="", validate=TEXT)


class CompensationIn(Schema):
    amount = fields.Decimal(
        required=True,
        as_string=True,
        # documented by hand: a Decimal field would print Range's bounds as strings
        metadata={
            "description": "CNY, > 0, at most 2 decimals, at most 100000",
            "exclusiveMinimum": 0,
            "maximum": 100_000,
            "multipleOf": 0.01,
        },
    )
    reason = fields.String(required=True, validate=Length(1, 1000))
    paid_first = fields.Boolean(load_default=False, metadata={"description": "先行赔付: the platform pays first"})
    approve = fields.Boolean(
        load_default=False,
        metadata={"description": "approve at once (dispatchers: while all dispatchers approved on the complaint "
                                 "stays at or under the small-claim limit)"},
    )  # fmt: skip


class PersonOut(Schema):
    id = fields.Integer()
    name = fields.String()


class CompensationOut(Schema):
    id = fields.Integer()
    amount = fields.String(metadata={"description": "CNY with two decimals"})
    currency = fields.String()
    reason = fields.String()
    paid_first = fields.Boolean()
    status = fields.String(metadata={"description": "pending or approved"})
    settled_with_outlet = fields.Boolean()
    created_by_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    approved_by_id = fields.Integer(allow_none=True)
    approved_at = fields.DateTime(allow_none=True)
    settled_at = fields.DateTime(allow_none=True)


class ComplaintOut(Schema):
    id = fields.Integer()
    order_id = fields.Integer()
    order_number = fields.String()
    outlet_id = fields.Integer(allow_none=True)
    source = fields.String(metadata={"description": "intake (a complaint order) or escalated"})
    summary = fields.String()
    owner = fields.Nested(PersonOut)
    opened_by_id = fields.Integer(allow_none=True)
    opened_at = fields.DateTime()
    level = fields.String(metadata={"description": "staff, outlet_manager or region"})
    status = fields.String()
    contacted_at = fields.DateTime(allow_none=True)
    plan_at = fields.DateTime(allow_none=True)
    agreed_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    small_claim_limit = fields.String()
    clocks = fields.List(fields.Nested(ClockOut))
    compensations = fields.List(fields.Nested(CompensationOut))


class ComplaintPage(Schema):
    items = fields.List(fields.Nested(ComplaintOut))
    meta = fields.Nested(PageMeta)


class ComplaintQuery(PageQuery):
    status = fields.String(load_default=None, validate=OneOf(complaints.STATUSES))
    level = fields.String(load_default=None, validate=OneOf(complaints.LEVELS))
    outlet_id = fields.Integer(load_default=None, validate=Range(min=1))


def complaint_out(c: Complaint, names: dict[int, str] | None = None) -> dict[str, Any]:
    names = names if names is not None else complaints.staff_names(db.session, {c.owner_id})
    return {
        "id": c.id,
        "order_id": c.order_id,
        "order_number": c.order.number,
        "outlet_id": c.order.outlet_id,
        "source": c.source,
        "summary": c.summary,
        "owner": {"id": c.owner_id, "name": names.get(c.owner_id, f"#{c.owner_id}")},
        "opened_by_id": c.opened_by_id,
        "opened_at": c.opened_at,
        "level": c.level,
        "status": c.status,
        "contacted_at": c.contacted_at,
        "plan_at": c.plan_at,
        "agreed_at": c.agreed_at,
        "closed_at": c.closed_at,
        "small_claim_limit": str(complaint_policy().small_claim_limit),
        "clocks": complaints.complaint_clocks(db.session, c.order_id),
        "compensations": [
            {
                **{k: getattr(m, k) for k in CompensationOut._declared_fields if k not in ("amount", "currency")},
                "amount": f"{m.amount:.2f}",
                "currency": "CNY",
            }
            for m in c.compensations
        ],  # fmt: skip
    }


@bp.get("/complaints")
@roles_required(*STAFF)
@bp.input(ComplaintQuery, location="query", arg_name="args")
@bp.output(ComplaintPage)
@bp.doc(security=SECURITY)
def list_complaints(args: dict):
    """Complaints on the orders the caller may see (an outlet's staff: that outlet's),
    open ones first, oldest first; filter by status, level and outlet."""
    page = complaints.list_complaints(
        db.session, current_actor(), status=args["status"], level=args["level"], outlet_id=args["outlet_id"],
        page=args["page"], per_page=args["per_page"],
    )  # fmt: skip
    names = complaints.staff_names(db.session, {c.owner_id for c in page.items})
    return {"items": [complaint_out(c, names) for c in page.items], "meta": page.meta()}


@bp.get("/orders/<int:order_id>/complaint")
@roles_required(*STAFF)
@bp.output(ComplaintOut)
@bp.doc(security=SECURITY, responses={404: "no such order, or it has no complaint"})
def get_complaint(order_id: int):
    """The order's complaint: owner, level, milestones, clocks, compensation."""
    return complaint_out(complaints.complaint_of(db.session, order_id, current_actor()))


@bp.post("/orders/<int:order_id>/complaint")
@roles_required(*STAFF)
@bp.input(ComplaintOpenIn, arg_name="body")
@bp.output(ComplaintOut, status_code=201)
@bp.doc(security=SECURITY, responses={409: "the order already has a complaint"})
def open_complaint(order_id: int, body: dict):
    """Take or open the order's complaint (首问负责). A complaint order taken in by staff is
    open from intake, owned by whoever took it in (409 here); one a customer sent in is
    owned by the first staff member who takes it, its clocks running since intake. Any
    other order is owned by whoever escalates it, its clocks starting now."""
    complaint = complaints.open_complaint(
        db.session, order_id, current_actor(), complaint_policy(), summary=body["summary"]
    )
    return complaint_out(complaint)


@bp.post("/orders/<int:order_id>/complaint/escalations")
@roles_required(*STAFF)
@bp.input(EscalateIn, arg_name="body")
@bp.output(ComplaintOut)
@bp.doc(security=SECURITY, responses={409: "closed, or already at the highest level"})
def escalate_complaint(order_id: int, body: dict):
    """Take the complaint up a level (staff → outlet_manager → region), with a reason."""
    actor = current_actor()
    return complaint_out(complaints.escalate(db.session, order_id, actor, reason=body["reason"], level=body["level"]))


@bp.post("/orders/<int:order_id>/complaint/transfers")
@roles_required(*STAFF)
@bp.input(TransferIn, arg_name="body")
@bp.output(ComplaintOut)
@bp.doc(security=SECURITY, responses={403: "neither the owner nor a manager"})
def transfer_complaint(order_id: int, body: dict):
    """Hand the complaint to another staff member (its owner or a manager only), with a reason."""
    complaint = complaints.transfer(
        db.session, order_id, current_actor(), to_user_id=body["to_user_id"], reason=body["reason"]
    )
    return complaint_out(complaint)


@bp.post("/orders/<int:order_id>/complaint/milestones")
@roles_required(*STAFF)
@bp.input(MilestoneIn, arg_name="body")
@bp.output(ComplaintOut)
@bp.doc(security=SECURITY, responses={409: "closed, or already past that milestone"})
def complaint_milestone(order_id: int, body: dict):
    """Record contacted / plan / agreement / closed; stops that clock (and earlier ones)."""
    complaint = complaints.record_milestone(
        db.session, order_id, current_actor(), milestone=body["milestone"], note=body["note"]
    )
    return complaint_out(complaint)


@bp.post("/orders/<int:order_id>/complaint/compensations")
@roles_required(*STAFF)
@bp.input(CompensationIn, arg_name="body")
@bp.output(ComplaintOut, status_code=201)
@bp.doc(security=SECURITY, responses={403: "approve=true above the caller's limit"})
def add_compensation(order_id: int, body: dict):
    """Record a compensation; with `approve`, approve it at once (dispatchers only at or
    under `COMPENSATION_SMALL_CLAIM_LIMIT`)."""
    comp = complaints.add_compensation(
        db.session, order_id, current_actor(), complaint_policy(),
        amount=body["amount"], reason=body["reason"], paid_first=body["paid_first"], approve=body["approve"],
    )  # fmt: skip
    return complaint_out(comp.complaint)


@bp.post("/compensations/<int:compensation_id>/approval")
@roles_required(*STAFF)
@bp.output(ComplaintOut)
@bp.doc(security=SECURITY, responses={403: "above the small-claim limit for a dispatcher", 409: "already approved"})
def approve_compensation(compensation_id: int):
    """Approve a pending compensation."""
    comp = complaints.approve_compensation(db.session, compensation_id, current_actor(), complaint_policy())
    return complaint_out(comp.complaint)


@bp.post("/compensations/<int:compensation_id>/settlement")
@roles_required(*STAFF)
@bp.output(ComplaintOut)
@bp.doc(security=SECURITY, responses={409: "not approved, not paid first, or already settled"})
def settle_compensation(compensation_id: int):
    """Mark a paid-first compensation as settled with the outlet."""
    comp = complaints.settle_compensation(db.session, compensation_id, current_actor())
    return complaint_out(comp.complaint)
