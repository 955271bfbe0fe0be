"""Domain objects as the API's JSON (dicts matching web.api.schemas)."""

from __future__ import annotations

from typing import Any

from flask import url_for

from core.accounts import Actor, User
from core.pagination import Page
from dispatch.lifecycle import allowed_actions
from dispatch.models import WorkOrder
from dispatch.permissions import is_own_technician
from dispatch.privacy import mask_phone, sees_contact
from technicians.models import Technician


def contact_phone(order: WorkOrder, actor: Actor) -> str | None:
    """Full for those who call customers, masked for the others (dispatch/privacy.py)."""
    return order.contact_phone if sees_contact(actor, order) else mask_phone(order.contact_phone)


def order_out(order: WorkOrder, actor: Actor) -> dict[str, Any]:
    tech = order.technician
    return {
        "id": order.id,
        "number": order.number,
        "status": order.status,
        "version": order.version,
        "channel": order.channel,
        "customer": {"id": order.customer_id, "name": order.contact_name, "phone": contact_phone(order, actor)},
        "address": order.address,
        "lat": order.lat,
        "lon": order.lon,
        "geocode_status": order.geocode_status,
        "product_category": order.product_category,
        "product_model": order.product_model,
        "issue_category": order.issue_category,
        "description": order.description,
        "required_skill": order.required_skill,
        "priority": order.priority,
        "appointment_start": order.appointment_start,
        "appointment_end": order.appointment_end,
        "in_warranty": order.in_warranty,
        "created_at": order.created_at,
        "due_at": order.due_at,
        "outlet_id": order.outlet_id,
        "technician": {"id": tech.id, "name": tech.name, "phone": tech.phone} if tech else None,
        "assignment_locked": order.assignment_locked,
        "contacted_at": order.contacted_at,
        "completed_at": order.completed_at,
        "closed_at": order.closed_at,
        "visit_count": order.visit_count,
        "allowed_actions": allowed_actions(order.status, actor.role, is_own_technician=is_own_technician(actor, order)),
        # Only in the answer that created the order: the link is stored as a digest.
        "tracking_url": url_for("pages.track", token=order.tracking_token, _external=True)
        if getattr(order, "tracking_token", None)
        else None,
    }


def page_out(page: Page, present) -> dict[str, Any]:
    return {"items": [present(item) for item in page.items], "meta": page.meta()}


def technician_out(tech: Technician) -> dict[str, Any]:
    return {
        "id": tech.id,
        "outlet_id": tech.outlet_id,
        "user_id": tech.user_id,
        "name": tech.name,
        "phone": tech.phone,
        "home_lat": tech.home_lat,
        "home_lon": tech.home_lon,
        "shift_start": tech.shift_start,
        "shift_end": tech.shift_end,
        "work_days": tech.work_days,
        "daily_capacity": tech.daily_capacity,
        "active": tech.active,
        "skills": tech.skill_codes,
        "leaves": [
            {"id": lv.id, "start_date": lv.start_date, "end_date": lv.end_date, "reason": lv.reason}
            for lv in tech.leaves
        ],
        "last_lat": tech.last_lat,
        "last_lon": tech.last_lon,
        "last_seen_at": tech.last_seen_at,
    }


def user_out(user: User, technician_id: int | None = None) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "outlet_id": user.outlet_id,
        "technician_id": technician_id,
        "active": user.active,
        "locale": user.locale,
        "email": user.email,
        "phone": user.phone,
    }
