"""Read models for lists, detail pages and the event feed (no writes here)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from core.accounts import Actor
from core.errors import NotFound
from core.pagination import Page, paginate
from dispatch.models import Callback, Customer, Survey, WorkOrder, WorkOrderEvent
from dispatch.permissions import scope_orders, sees_all_customers
from dispatch.visibility import EventView, visible_events


@dataclass(frozen=True)
class OrderFilter:
    status: list[str] | None = None
    outlet_id: int | None = None
    technician_id: int | None = None
    skill: str | None = None
    priority: str | None = None
    q: str | None = None  # order number, phone or address fragment


def list_orders(session: Session, actor: Actor, flt: OrderFilter, page: int = 1, per_page: int = 50) -> Page[WorkOrder]:
    query = scope_orders(select(WorkOrder), actor).options(selectinload(WorkOrder.technician))
    if flt.status:
        query = query.where(WorkOrder.status.in_(flt.status))
    if flt.outlet_id is not None:
        query = query.where(WorkOrder.outlet_id == flt.outlet_id)
    if flt.technician_id is not None:
        query = query.where(WorkOrder.technician_id == flt.technician_id)
    if flt.skill:
        query = query.where(WorkOrder.required_skill == flt.skill)
    if flt.priority:
        query = query.where(WorkOrder.priority == flt.priority)
    if flt.q:
        # Bound parameters only; LIKE wildcards in the user's text are escaped.
        needle = "%" + flt.q.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(
                WorkOrder.number.ilike(needle, escape="\\"),
                WorkOrder.contact_phone.like(needle, escape="\\"),
                WorkOrder.address.ilike(needle, escape="\\"),
            )
        )
    return paginate(session, query.order_by(WorkOrder.id.desc()), page, per_page)


def order_events(session: Session, order_id: int, actor: Actor) -> list[EventView]:
    """The order's event trail, oldest first, as `actor` may read it (dispatch/visibility.py)."""
    query = select(WorkOrderEvent).where(WorkOrderEvent.order_id == order_id).order_by(WorkOrderEvent.seq)
    return visible_events(list(session.scalars(query)), actor)


def events_after(session: Session, actor: Actor, after_seq: int, limit: int = 500) -> list[EventView]:
    """Events the actor may see with seq > after_seq, oldest first (the board's catch-up), each
    as the actor may read it (dispatch/visibility.py)."""
    visible = scope_orders(select(WorkOrder.id), actor)
    query = (
        select(WorkOrderEvent)
        .where(WorkOrderEvent.seq > after_seq, WorkOrderEvent.order_id.in_(visible))
        .order_by(WorkOrderEvent.seq)
        .limit(max(1, min(limit, 1000)))
    )
    return visible_events(list(session.scalars(query)), actor)


def customer_with_orders(session: Session, actor: Actor, customer_id: int, page: int = 1, per_page: int = 50):
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"customer {customer_id} not found")
    query = scope_orders(select(WorkOrder).where(WorkOrder.customer_id == customer_id), actor)
    orders = paginate(session, query.order_by(WorkOrder.id.desc()), page, per_page)
    if not orders.total and not sees_all_customers(actor):
        raise NotFound(f"customer {customer_id} not found")
    if orders.total == 0 and actor.role == "technician":
        raise NotFound(f"customer {customer_id} not found")
    return customer, orders


def find_customer_by_phone(session: Session, phone: str) -> Customer | None:
    return session.scalar(select(Customer).where(Customer.phone == phone))


@dataclass(frozen=True)
class CustomerFile:
    customer: Customer
    orders: list[WorkOrder]
    surveys: list
    callbacks: list
    repeat_repairs: dict[int, str]  # order id → "within 30 days" / "within 90 days" of an earlier repair


def customer_file(session: Session, actor: Actor, customer_id: int) -> CustomerFile:
    """Everything about one customer on one page: orders, surveys, callbacks, and repairs
    of the same product that came back within 30 or 90 days."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"customer {customer_id} not found")
    orders = list(
        session.scalars(
            scope_orders(select(WorkOrder).where(WorkOrder.customer_id == customer_id), actor).order_by(
                WorkOrder.created_at
            )
        )
    )
    if not orders and not sees_all_customers(actor):
        raise NotFound(f"customer {customer_id} not found")
    ids = [o.id for o in orders]
    surveys = list(session.scalars(select(Survey).where(Survey.order_id.in_(ids)).order_by(Survey.answered_at)))
    callbacks = list(session.scalars(select(Callback).where(Callback.order_id.in_(ids)).order_by(Callback.at)))
    repeats: dict[int, str] = {}
    repairs = [o for o in orders if o.issue_category == "repair" and o.status != "cancelled"]
    for i, later in enumerate(repairs):
        for earlier in repairs[:i]:
            if earlier.product_category != later.product_category or earlier.completed_at is None:
                continue
            gap = later.created_at - earlier.completed_at
            if gap.days < 30:
                repeats[later.id] = "within 30 days"
            elif gap.days < 90:
                repeats.setdefault(later.id, "within 90 days")
    return CustomerFile(customer, list(reversed(orders)), surveys, callbacks, repeats)
