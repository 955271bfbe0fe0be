"""A customer's file: who they are and their orders."""

from __future__ import annotations

from apiflask.validators import Length

from core.errors import NotFound, ValidationFailed
from core.phones import normalize_phone
from dispatch import privacy, queries
from web.api import strict_fields as fields
from web.api.base import SECURITY, bp
from web.api.presenters import order_out
from web.api.schemas import PHONE_DOC, CustomerOut, PageQuery
from web.auth import STAFF, current_actor, roles_required
from web.extensions import db


class CustomerQuery(PageQuery):
    phone = fields.String(required=True, validate=Length(1, 32), metadata=PHONE_DOC)


def _customer_out(customer, orders, actor) -> dict:
    """A customer's full file; every look at one is audited (dispatch/privacy.py)."""
    privacy.record_customer_view(db.session, actor, customer.id, "api")
    return {
        "id": customer.id,
        "name": customer.name,
        "phone": customer.phone if privacy.sees_contact(actor) else privacy.mask_phone(customer.phone),
        "address": customer.address,
        "lat": customer.lat,
        "lon": customer.lon,
        "orders": [order_out(o, actor) for o in orders.items],
        "meta": orders.meta(),
    }


@bp.get("/customers/<int:customer_id>")
@roles_required(*STAFF)
@bp.input(PageQuery, location="query", arg_name="args")
@bp.output(CustomerOut)
@bp.doc(security=SECURITY)
def get_customer(customer_id: int, args: dict):
    """A customer with their orders, newest first."""
    actor = current_actor()
    customer, orders = queries.customer_with_orders(db.session, actor, customer_id, args["page"], args["per_page"])
    return _customer_out(customer, orders, actor)


@bp.get("/customers")
@roles_required(*STAFF)
@bp.input(CustomerQuery, location="query", arg_name="args")
@bp.output(CustomerOut)
@bp.doc(security=SECURITY, responses={404: "no customer with that phone number"})
def find_customer(args: dict):
    """Look a customer up by phone number."""
    try:
        phone = normalize_phone(args["phone"], mobile_only=False)
    except ValueError as exc:
        raise ValidationFailed({"phone": str(exc)}) from None
    customer = queries.find_customer_by_phone(db.session, phone)
    if customer is None:
        raise NotFound("no customer with that phone number")
    actor = current_actor()
    customer, orders = queries.customer_with_orders(db.session, actor, customer.id, args["page"], args["per_page"])
    return _customer_out(customer, orders, actor)
