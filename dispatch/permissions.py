"""Who may see which orders. Every object-level check goes through these helpers."""

from __future__ import annotations

from sqlalchemy import Select, or_

from core.accounts import Actor
from dispatch.models import WorkOrder

STAFF = frozenset({"admin", "dispatcher", "manager"})


def can_view_order(actor: Actor, order: WorkOrder) -> bool:
    """Staff see their outlet's orders (all of them when tied to none, plus orders not yet
    placed in any outlet); a technician sees only the orders assigned to them."""
    if actor.role == "system":
        return True
    if actor.role == "technician":
        return actor.technician_id is not None and order.technician_id == actor.technician_id
    if actor.role in STAFF:
        return actor.outlet_id is None or order.outlet_id in (None, actor.outlet_id)
    return False


def scope_orders(query: Select, actor: Actor) -> Select:
    """Restrict a SELECT over WorkOrder to what `actor` may see."""
    if actor.role == "system":
        return query
    if actor.role == "technician":
        return query.where(WorkOrder.technician_id == (actor.technician_id or -1))
    if actor.role in STAFF:
        if actor.outlet_id is None:
            return query
        return query.where(or_(WorkOrder.outlet_id == actor.outlet_id, WorkOrder.outlet_id.is_(None)))
    return query.where(False)


def sees_all_customers(actor: Actor) -> bool:
    """Staff tied to no outlet see every customer; others only customers with an order they
    may see (a customer's name, phone and address are not shared across outlets)."""
    return actor.role in ("admin", "system") or (actor.role in STAFF and actor.outlet_id is None)


def is_own_technician(actor: Actor, order: WorkOrder) -> bool:
    return actor.role == "technician" and actor.technician_id is not None and order.technician_id == actor.technician_id


def can_manage_network(actor: Actor) -> bool:
    return actor.role == "admin"


def reaches_outlet(actor: Actor, outlet_id: int | None) -> bool:
    """Whether something belonging to `outlet_id` (a plan; None: the whole city) is within the
    actor's reach: staff tied to no outlet reach every outlet, the others only their own."""
    return actor.role == "system" or (actor.role in STAFF and actor.outlet_id in (None, outlet_id))


def can_manage_roster(actor: Actor, outlet_id: int) -> bool:
    """Admins change any technician; a dispatcher only those of their outlet (all when tied to none)."""
    return actor.role in ("admin", "system") or (actor.role == "dispatcher" and actor.outlet_id in (None, outlet_id))


def can_assign_to(actor: Actor, technician_outlet_id: int) -> bool:
    """A dispatcher tied to an outlet assigns only to that outlet's technicians."""
    return actor.role in ("admin", "system") or actor.outlet_id in (None, technician_outlet_id)
