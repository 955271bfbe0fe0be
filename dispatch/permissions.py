"""Who may see which orders. Every object-level check goes through these helpers."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, or_

from core.accounts import DISPATCH_ROLES, STAFF_ROLES, SYSTEM, Actor, Role, User
from dispatch.models import WorkOrder

# Reach every outlet whatever their own: an admin, and the system's jobs.
EVERYWHERE = frozenset({Role.ADMIN, SYSTEM})


def covers_outlet(actor_outlet_id: int | None, outlet_id: int | None) -> bool:
    """The outlet-scope rule, the one place it is written: someone tied to no outlet covers
    every outlet; someone tied to one covers that outlet only."""
    return actor_outlet_id is None or actor_outlet_id == outlet_id


def covering_users(outlet_id: int | None) -> ColumnElement[bool]:
    """`covers_outlet` as SQL over users: those tied to `outlet_id` or to none."""
    return or_(User.outlet_id.is_(None), User.outlet_id == outlet_id)


def can_view_order(actor: Actor, order: WorkOrder) -> bool:
    """Staff see their outlet's orders (all of them when tied to none, plus orders not yet
    placed in any outlet); a technician sees only the orders assigned to them."""
    if actor.role == SYSTEM:
        return True
    if actor.role == Role.TECHNICIAN:
        return actor.technician_id is not None and order.technician_id == actor.technician_id
    if actor.role in STAFF_ROLES:
        return order.outlet_id is None or covers_outlet(actor.outlet_id, order.outlet_id)
    return False


def scope_orders(query: Select, actor: Actor) -> Select:
    """Restrict a SELECT over WorkOrder to what `actor` may see."""
    if actor.role == SYSTEM:
        return query
    if actor.role == Role.TECHNICIAN:
        return query.where(WorkOrder.technician_id == (actor.technician_id or -1))
    if actor.role in STAFF_ROLES:
        if actor.outlet_id is None:
            return query
        return query.where(or_(WorkOrder.outlet_id == actor.outlet_id, WorkOrder.outlet_id.is_(None)))
    return query.where(False)


def sees_all_customers(actor: Actor) -> bool:
    """Staff tied to no outlet see every customer; others only customers with an order they
    may see (a customer's name, phone and address are not shared across outlets)."""
    return actor.role in EVERYWHERE or (actor.role in STAFF_ROLES and actor.outlet_id is None)


def is_own_technician(actor: Actor, order: WorkOrder) -> bool:
    return (
        actor.role == Role.TECHNICIAN and actor.technician_id is not None and order.technician_id == actor.technician_id
    )


def reaches_outlet(actor: Actor, outlet_id: int | None) -> bool:
    """Whether something belonging to `outlet_id` (a plan; None: the whole city) is within the
    actor's reach: staff tied to no outlet reach every outlet, the others only their own."""
    return actor.role == SYSTEM or (actor.role in STAFF_ROLES and covers_outlet(actor.outlet_id, outlet_id))


def outlet_in_scope(actor: Actor, asked: int | None) -> int | None:
    """The outlet a report or a plan is about: what was asked for by someone who covers every
    outlet, and always their own outlet for someone tied to one."""
    return asked if actor.outlet_id is None else actor.outlet_id


def can_manage_roster(actor: Actor, outlet_id: int) -> bool:
    """Admins change any technician; a dispatcher only those of their outlet (all when tied to none)."""
    return actor.role in EVERYWHERE or (actor.role in DISPATCH_ROLES and covers_outlet(actor.outlet_id, outlet_id))


def can_assign_to(actor: Actor, technician_outlet_id: int) -> bool:
    """A dispatcher tied to an outlet assigns only to that outlet's technicians."""
    return actor.role in EVERYWHERE or covers_outlet(actor.outlet_id, technician_outlet_id)
