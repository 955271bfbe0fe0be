"""The customer loop over JSON: the public tracking view, reissuing a link, callbacks."""

from __future__ import annotations

from apiflask import Schema, abort
from apiflask.validators import Length, OneOf, Range
from marshmallow import ValidationError, validates_schema

from core.accounts import DISPATCH_ROLES
from core.db import utcnow
from dispatch import customer
from web.api import strict_fields as fields
from web.api.base import SECURITY, bp
from web.api.presenters import order_out, page_out
from web.api.schemas import OrderOut, OrderPage, PageQuery
from web.auth import CLERKS, current_actor, roles_required
from web.extensions import db, limiter
from web.wiring import notify_settings, tracking_url


class TrackOut(Schema):
    number = fields.String()
    status = fields.String()
    technician = fields.String(allow_none=True, metadata={"description": "family name only"})
    appointment = fields.List(fields.DateTime(), allow_none=True)
    eta = fields.DateTime(allow_none=True)
    due_at = fields.DateTime()
    can_cancel = fields.Boolean()
    can_reschedule = fields.Boolean()
    survey_open = fields.Boolean()
    completed_at = fields.DateTime(allow_none=True, metadata={"description": "when the job was done"})
    survey_answered = fields.Boolean()


class LinkOut(Schema):
    tracking_url = fields.String()


class CallbackIn(Schema):
    version = fields.Integer(required=True, validate=Range(min=1))
    reached = fields.Boolean(required=True)
    resolved = fields.Boolean(
        load_default=None, allow_none=True, metadata={"description": "required when reached is true"}
    )
    score = fields.Integer(load_default=None, allow_none=True, validate=Range(1, 5))
    problems = fields.List(fields.String(validate=OneOf(customer.PROBLEMS)), load_default=list)
    note = fields.String(load_default="", validate=Length(max=2000))
    retry_at = fields.AwareDateTime(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "only with reached: false; when to try again (RFC 3339 with an offset), in the future and at most "
            "7 days ahead; default in 4 hours"
        },
    )

    @validates_schema
    def _retry_only_when_not_reached(self, data: dict, **kwargs) -> None:
        if data.get("retry_at") is not None and data.get("reached"):
            raise ValidationError("only when the customer was not reached (reached: false)", "retry_at")


class CallbackQuery(PageQuery):
    after_days = fields.Float(load_default=3, validate=Range(0, 30))


@bp.get("/track/<token>")
@limiter.limit("30 per minute")
@bp.output(TrackOut)
@bp.doc(responses={404: "no such link", 410: "the link has expired"})
def track(token: str):
    """The customer's view of their order (no login: the link is the key)."""
    try:
        order = customer.order_for_token(db.session, token)
    except customer.LinkExpired:
        abort(410, "this tracking link has expired")
    return customer.customer_view(db.session, order).__dict__


@bp.post("/orders/<int:order_id>/tracking-link")
@roles_required(*DISPATCH_ROLES)
@bp.output(LinkOut, status_code=201)
@bp.doc(security=SECURITY)
def reissue_link(order_id: int):
    """A new tracking link for the customer (the old one stops working)."""
    token, _sent = customer.reissue_tracking_link(
        db.session, order_id, current_actor(), notify=notify_settings(), link_for=tracking_url
    )
    return {"tracking_url": tracking_url(token)}


@bp.get("/callbacks")
@roles_required(*CLERKS)
@bp.input(CallbackQuery, location="query", arg_name="args")
@bp.output(OrderPage)
@bp.doc(security=SECURITY)
def callback_queue(args: dict):
    """Completed orders waiting for a callback: completed `after_days` ago (3 by default)
    without a counted survey answer, and no retry pending."""
    actor = current_actor()
    page = customer.callback_queue(
        db.session, utcnow(), args["after_days"], args["page"], args["per_page"], actor=actor
    )
    return page_out(page, lambda o: order_out(o, actor))


@bp.post("/orders/<int:order_id>/callbacks")
@roles_required(*CLERKS)
@bp.input(CallbackIn, arg_name="body")
@bp.output(OrderOut)
@bp.doc(security=SECURITY, responses={409: "not completed, or changed since read"})
def record_callback(order_id: int, body: dict):
    """Record a callback: resolved → closed; not resolved or a procedure problem → returned
    for a second visit; not reached → retried at `retry_at` (in 4 hours by default)."""
    actor = current_actor()
    _, order = customer.record_callback(db.session, order_id, actor, **body)
    return order_out(order, actor)
