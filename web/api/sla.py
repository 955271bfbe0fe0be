"""SLA rules (admin) and an order's clocks."""

from __future__ import annotations

from apiflask import Schema
from apiflask.validators import Length, OneOf, Range

from dispatch import moves
from dispatch.catalog import CHANNELS, ISSUE_CATEGORIES, PRIORITIES
from dispatch.models import SlaRule
from dispatch.sla import clocks
from dispatch.sla.policy import WARN_RATIO
from web.api import strict_fields as fields
from web.api.base import SECURITY, bp
from web.auth import ANY_ROLE, STAFF, current_actor, roles_required
from web.extensions import db

MINUTES = Range(1, 60 * 24 * 60)


class SlaRuleIn(Schema):
    name = fields.String(required=True, validate=Length(1, 100))
    priority = fields.String(load_default=None, allow_none=True, validate=OneOf(PRIORITIES))
    issue_category = fields.String(load_default=None, allow_none=True, validate=OneOf(ISSUE_CATEGORIES))
    channel = fields.String(load_default=None, allow_none=True, validate=OneOf(CHANNELS))
    contact_minutes = fields.Integer(load_default=None, allow_none=True, validate=MINUTES)
    arrival_minutes = fields.Integer(load_default=None, allow_none=True, validate=MINUTES)
    completion_minutes = fields.Integer(load_default=None, allow_none=True, validate=MINUTES)
    callback_minutes = fields.Integer(load_default=None, allow_none=True, validate=MINUTES)
    warn_ratio = fields.Float(load_default=WARN_RATIO, validate=Range(0.1, 0.99))
    pause_overnight = fields.Boolean(load_default=False)
    active = fields.Boolean(load_default=True)


class SlaRulePatch(Schema):
    name = fields.String(validate=Length(1, 100))
    priority = fields.String(allow_none=True, validate=OneOf(PRIORITIES))
    issue_category = fields.String(allow_none=True, validate=OneOf(ISSUE_CATEGORIES))
    channel = fields.String(allow_none=True, validate=OneOf(CHANNELS))
    contact_minutes = fields.Integer(allow_none=True, validate=MINUTES)
    arrival_minutes = fields.Integer(allow_none=True, validate=MINUTES)
    completion_minutes = fields.Integer(allow_none=True, validate=MINUTES)
    callback_minutes = fields.Integer(allow_none=True, validate=MINUTES)
    warn_ratio = fields.Float(validate=Range(0.1, 0.99))
    pause_overnight = fields.Boolean()
    active = fields.Boolean()


class SlaRuleOut(SlaRuleIn):
    id = fields.Integer()


class SlaRuleList(Schema):
    items = fields.List(fields.Nested(SlaRuleOut))


class ClockOut(Schema):
    clock = fields.String()
    started_at = fields.DateTime()
    warn_at = fields.DateTime()
    due_at = fields.DateTime()
    stopped_at = fields.DateTime(allow_none=True)
    warned_at = fields.DateTime(allow_none=True)
    breached_at = fields.DateTime(allow_none=True)


class ClockList(Schema):
    items = fields.List(fields.Nested(ClockOut))


@bp.get("/sla-rules")
@roles_required(*STAFF)
@bp.output(SlaRuleList)
@bp.doc(security=SECURITY)
def list_sla_rules():
    """All SLA rules, active or not."""
    return {"items": db.session.query(SlaRule).order_by(SlaRule.id).all()}


@bp.post("/sla-rules")
@roles_required("admin")
@bp.input(SlaRuleIn, arg_name="body")
@bp.output(SlaRuleOut, status_code=201)
@bp.doc(security=SECURITY)
def create_sla_rule(body: dict):
    """Add a rule; it applies to orders taken in from now on (deadlines are fixed at intake)."""
    return clocks.create_rule(db.session, body, actor_id=current_actor().user_id)


@bp.patch("/sla-rules/<int:rule_id>")
@roles_required("admin")
@bp.input(SlaRulePatch, arg_name="body")
@bp.output(SlaRuleOut)
@bp.doc(security=SECURITY)
def update_sla_rule(rule_id: int, body: dict):
    """Change or deactivate a rule."""
    return clocks.update_rule(db.session, rule_id, body, actor_id=current_actor().user_id)


@bp.get("/orders/<int:order_id>/sla")
@roles_required(*ANY_ROLE)
@bp.output(ClockList)
@bp.doc(security=SECURITY)
def order_sla(order_id: int):
    """The order's SLA clocks: when each warns, falls due, stopped, warned, breached."""
    moves.get_order(db.session, order_id, current_actor())
    return {"items": clocks.order_clocks(db.session, order_id)}
